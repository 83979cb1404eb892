//! `ml-connector init`: creates the vault key file (0600, never overwritten)
//! and the store a manifest names; with `--demo-secrets`, stores the sandbox
//! systems' demo credentials for the tenants of the shipped manifest.

use super::{ManifestArg, Outcome};
use mlc_host::credentials::Secret;
use mlc_host::manifest::{Manifest, VaultKeySource};
use mlc_host::store::{SqliteStore, Store};
use mlc_host::vault::{Vault, VaultKey};
use std::sync::Arc;

/// Arguments of `init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestArg,
    /// Also store the sandbox systems' demo credentials for every tenant.
    #[arg(long)]
    demo_secrets: bool,
}

pub use mlc_host::bundled::DEMO_SECRETS;

pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let manifest = Manifest::load(&args.manifest.manifest)?;
    let key = match &manifest.vault_key {
        VaultKeySource::File(path) if path.exists() => {
            println!("vault key: {} (exists, kept)", path.display());
            VaultKey::from_file(path)?
        }
        VaultKeySource::File(path) => {
            let key = VaultKey::create_file(path)?;
            println!(
                "vault key: {} (created, mode 0600; back it up apart from the store)",
                path.display()
            );
            key
        }
        VaultKeySource::Env(var) => {
            println!("vault key: from ${var}");
            VaultKey::from_env(var)?
        }
    };
    let store = Arc::new(SqliteStore::open(&manifest.store_path)?);
    println!("store: {}", manifest.store_path.display());
    if args.demo_secrets {
        let vault = Vault::new(key, store as Arc<dyn Store>);
        for tenant in manifest.tenants.keys() {
            for (name, value) in DEMO_SECRETS {
                vault.set(tenant, name, &Secret::new(*value))?;
            }
            println!("secrets: demo credentials stored for tenant {tenant}");
        }
    }
    Ok(Outcome::Ok)
}
