//! `ml-connector secrets`: stores secrets in the encrypted vault. Values are
//! prompted for without echo when stdin is a terminal (typed twice), read
//! from stdin otherwise; never taken from arguments (shell history, process
//! lists) and never printed: `list` shows names only.

use super::{ManifestArg, Outcome, UsageError};
use anyhow::{Context, bail};
use mlc_host::app::vault_key;
use mlc_host::credentials::{Credentials, Secret, Setting};
use mlc_host::manifest::Manifest;
use mlc_host::store::Store;
use mlc_host::vault::Vault;
use std::io::{IsTerminal, Read};
use std::sync::Arc;

/// `secrets` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Store (or replace) a secret; prompted for, or read from stdin.
    Set {
        #[command(flatten)]
        manifest: ManifestArg,
        /// Tenant.
        tenant: String,
        /// Secret name, as the manifest references it (`secret:<name>`).
        name: String,
    },
    /// Replace an existing secret with a new value (prompted for, or read from stdin).
    Rotate {
        #[command(flatten)]
        manifest: ManifestArg,
        /// Tenant.
        tenant: String,
        /// Secret name.
        name: String,
    },
    /// List a tenant's secret names (never values) and the names the manifest still needs.
    List {
        #[command(flatten)]
        manifest: ManifestArg,
        /// Tenant.
        tenant: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn open(manifest: &ManifestArg) -> anyhow::Result<(Manifest, Vault)> {
    let m = Manifest::load(&manifest.manifest)?;
    let key = vault_key(&m)?;
    let store = Arc::new(super::open_store(&m)?);
    Ok((m, Vault::new(key, store as Arc<dyn Store>)))
}

/// The secret names a tenant's connections reference (`secret:<name>`).
fn referenced(m: &Manifest, tenant: &str) -> Vec<String> {
    let mut names = Vec::new();
    let Some(t) = m.tenants.get(tenant) else {
        return names;
    };
    let setting = |s: &Setting| match s {
        Setting::Secret(r) => Some(r.name().to_string()),
        Setting::Plain(_) => None,
    };
    for c in t.connections.values() {
        match &c.credentials {
            Credentials::None => {}
            Credentials::Basic { username, password }
            | Credentials::Wsse { username, password } => {
                names.extend(setting(username));
                names.push(password.name().to_string());
            }
            Credentials::Bearer { token } => names.push(token.name().to_string()),
            Credentials::OAuth2ClientCredentials {
                client_id,
                client_secret,
                ..
            } => {
                names.extend(setting(client_id));
                names.push(client_secret.name().to_string());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

fn read_value(tenant: &str, name: &str) -> anyhow::Result<Secret> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!(
            "value of {name} for tenant {tenant} (not shown): "
        ))
        .context("reading the secret from the terminal")?;
        if first.is_empty() {
            bail!("no value typed; nothing stored");
        }
        let again = rpassword::prompt_password("again, to confirm: ")
            .context("reading the secret from the terminal")?;
        if again != first {
            bail!("the two values differ; nothing stored");
        }
        return Ok(Secret::new(first));
    }
    let mut value = String::new();
    std::io::stdin()
        .read_to_string(&mut value)
        .context("reading the secret from stdin")?;
    let value = value.strip_suffix('\n').unwrap_or(&value);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.is_empty() {
        bail!(
            "no value on stdin; pipe it in, e.g. `printf %s \"$VALUE\" | ml-connector secrets set <tenant> <name>`, or run it in a terminal to be prompted"
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
        } => {
            let (m, vault) = open(&manifest)?;
            super::pick_tenant(&m, Some(&tenant))?;
            if !referenced(&m, &tenant).contains(&name) {
                eprintln!(
                    "warning: {} references no secret:{name}; the value is stored but unused until a connection names it",
                    m.file.display()
                );
            }
            let value = read_value(&tenant, &name)?;
            vault.set(&tenant, &name, &value)?;
            println!("secret {name} of tenant {tenant} stored (encrypted)");
        }
        Command::Rotate {
            manifest,
            tenant,
            name,
        } => {
            let (m, vault) = open(&manifest)?;
            super::pick_tenant(&m, Some(&tenant))?;
            // Exclusive per tenant: two rotations never interleave their
            // check and write.
            let store: Arc<dyn Store> = Arc::new(super::open_store(&m)?);
            let coordination = mlc_host::coordination::Coordination::new(m.lease_ttl);
            let lock = match mlc_host::coordination::FlowLease::acquire(
                &store,
                &tenant,
                mlc_host::coordination::SECRETS_LOCK,
                &coordination,
            )? {
                Ok((lock, _)) => lock,
                Err(held) => bail!(
                    "another process is changing tenant {tenant}'s secrets: {}; try again when it is done",
                    mlc_host::coordination::describe(&held)
                ),
            };
            if !vault.names(&tenant)?.contains(&name) {
                return Err(UsageError(format!(
                    "tenant {tenant} has no secret {name:?} to rotate; store it first with `ml-connector secrets set {tenant} {name}`"
                ))
                .into());
            }
            let value = read_value(&tenant, &name)?;
            vault.set(&tenant, &name, &value)?;
            lock.release()?;
            println!(
                "secret {name} of tenant {tenant} replaced (encrypted); runs from now on use the new value"
            );
        }
        Command::List {
            manifest,
            tenant,
            json,
        } => {
            let (m, vault) = open(&manifest)?;
            super::pick_tenant(&m, Some(&tenant))?;
            let stored = vault.names(&tenant)?;
            let missing: Vec<String> = referenced(&m, &tenant)
                .into_iter()
                .filter(|n| !stored.contains(n))
                .collect();
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "tenant": tenant, "stored": stored, "missing": missing })
                );
            } else {
                for name in &stored {
                    println!("{name}");
                }
                for name in &missing {
                    println!(
                        "{name}  (MISSING: set it with `ml-connector secrets set {tenant} {name}`)"
                    );
                }
            }
        }
    }
    Ok(Outcome::Ok)
}
