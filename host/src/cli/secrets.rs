//! `ml-connector secrets`: stores secrets in the encrypted vault. Values are
//! read from standard input, never from arguments (shell history, process
//! lists) and never printed; `list` shows names only.

use super::{ManifestArg, Outcome};
use anyhow::{Context, bail};
use mlc_host::app::vault_key;
use mlc_host::credentials::Secret;
use mlc_host::manifest::Manifest;
use mlc_host::store::{SqliteStore, Store};
use mlc_host::vault::Vault;
use std::io::Read;
use std::sync::Arc;

/// `secrets` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Store (or replace) a secret; the value is read from stdin.
    Set {
        #[command(flatten)]
        manifest: ManifestArg,
        /// Tenant.
        tenant: String,
        /// Secret name, as the manifest references it (`secret:<name>`).
        name: String,
    },
    /// Replace a secret with a new value read from stdin (same as set, for rotation).
    Rotate {
        #[command(flatten)]
        manifest: ManifestArg,
        /// Tenant.
        tenant: String,
        /// Secret name.
        name: String,
    },
    /// List a tenant's secret names (never values).
    List {
        #[command(flatten)]
        manifest: ManifestArg,
        /// Tenant.
        tenant: String,
    },
}

fn open(manifest: &ManifestArg) -> anyhow::Result<(Manifest, Vault)> {
    let m = Manifest::load(&manifest.manifest)?;
    let key = vault_key(&m)?;
    let store = Arc::new(SqliteStore::open(&m.store_path)?);
    Ok((m, Vault::new(key, store as Arc<dyn Store>)))
}

fn read_value() -> anyhow::Result<Secret> {
    let mut value = String::new();
    std::io::stdin()
        .read_to_string(&mut value)
        .context("reading the secret from stdin")?;
    let value = value.strip_suffix('\n').unwrap_or(&value);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.is_empty() {
        bail!(
            "no value on stdin; pipe it in, e.g. `printf %s \"$VALUE\" | ml-connector secrets set <tenant> <name>`"
        );
    }
    Ok(Secret::new(value))
}

pub async fn run(cmd: Command) -> anyhow::Result<Outcome> {
    match cmd {
        Command::Set {
            manifest,
            tenant,
            name,
        }
        | Command::Rotate {
            manifest,
            tenant,
            name,
        } => {
            let (m, vault) = open(&manifest)?;
            if !m.tenants.contains_key(&tenant) {
                bail!("no tenant {tenant:?} in {}", m.file.display());
            }
            let value = read_value()?;
            vault.set(&tenant, &name, &value)?;
            println!("secret {name} of tenant {tenant} stored (encrypted)");
        }
        Command::List { manifest, tenant } => {
            let (_, vault) = open(&manifest)?;
            for name in vault.names(&tenant)? {
                println!("{name}");
            }
        }
    }
    Ok(Outcome::Ok)
}
