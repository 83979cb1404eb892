//! `ml-connector init`: creates the vault key file (0600, never overwritten)
//! and the store a manifest names; with `--demo-secrets` (builds with the
//! `sandbox` feature only), stores the sandbox systems' demo credentials for
//! the tenants of the shipped manifest.

use super::{ManifestArg, Outcome};
use mlc_host::manifest::{Manifest, VaultKeySource};
use mlc_host::store::SqliteStore;
use mlc_host::vault::VaultKey;
use std::sync::Arc;

/// Arguments of `init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestArg,
    /// Also store the sandbox systems' demo credentials for every tenant.
    #[cfg(feature = "sandbox")]
    #[arg(long)]
    demo_secrets: bool,
}

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
    #[cfg(feature = "sandbox")]
    if args.demo_secrets {
        store_demo_secrets(&manifest, key, store)?;
    }
    // Without the sandbox there is nothing more to store: the key and the
    // store were opened (or created) to prove they work.
    #[cfg(not(feature = "sandbox"))]
    drop((key, store));
    Ok(Outcome::Ok)
}

/// Stores the sandbox systems' demo credentials for every tenant.
#[cfg(feature = "sandbox")]
fn store_demo_secrets(
    manifest: &Manifest,
    key: VaultKey,
    store: Arc<SqliteStore>,
) -> anyhow::Result<()> {
    use mlc_host::credentials::Secret;
    use mlc_host::store::Store;
    use mlc_host::vault::Vault;
    let vault = Vault::new(key, store as Arc<dyn Store>);
    for tenant in manifest.tenants.keys() {
        for (name, value) in mlc_host::bundled::DEMO_SECRETS {
            vault.set(tenant, name, &Secret::new(*value))?;
        }
        println!("secrets: demo credentials stored for tenant {tenant}");
    }
    Ok(())
}
