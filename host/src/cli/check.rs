//! `ml-connector check`: validates the manifest, builds the deployment
//! (connectors loaded, settings checked against their schemas, mappings
//! compiled), proves the vault key opens the stored secrets, then calls every
//! connection's `check`. What the remote side lacks (PeopleSoft service
//! operations, permissions, queries; credentials) comes out as a to-do list
//! and exit code 3; an unreachable system is a failure (exit 1).

use super::{ManifestArg, Outcome};
use mlc_host::app::{App, AppOptions};
use mlc_host::runtime::{CallError, Failure};
use serde::Serialize;

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestArg,
    /// Only this tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The verdict on one connection.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionCheck {
    /// Tenant.
    pub tenant: String,
    /// Connection name.
    pub connection: String,
    /// Connector name.
    pub connector: String,
    /// Base URL.
    pub base_url: String,
    /// `ok`, `todo` (set-up missing), `unreachable` or `error`.
    pub status: &'static str,
    /// What to set up, one item each.
    pub todo: Vec<String>,
    /// The failure, for `unreachable` and `error`.
    pub message: Option<String>,
}

fn classify(error: &CallError) -> (&'static str, Vec<String>, Option<String>) {
    match error.failure() {
        Some(Failure::NotEnabled(m)) => ("todo", mlc_host::daemon::status::todo_items(m), None),
        Some(Failure::Unauthorized(m)) => ("todo", vec![format!("fix the credentials: {m}")], None),
        Some(Failure::Config(m)) => (
            "todo",
            vec![format!("fix the connection settings: {m}")],
            None,
        ),
        Some(Failure::Transient(m)) if m.contains("connection failed") => {
            ("unreachable", Vec::new(), Some(m.clone()))
        }
        _ => ("error", Vec::new(), Some(error.to_string())),
    }
}

pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let app = App::open(&args.manifest.manifest, AppOptions::default()).await?;
    if let Some(t) = &args.tenant {
        super::pick_tenant(&app.manifest, Some(t))?;
    }
    super::verify_vault_key(&app)?;
    let mut checks = Vec::new();
    for tenant in app.deployment.tenants.values() {
        if args.tenant.as_deref().is_some_and(|t| t != tenant.name) {
            continue;
        }
        for (name, handle) in &tenant.connections {
            let result = match handle.connector.instantiate(&handle.sandbox).await {
                Ok(mut instance) => instance.check(&handle.connection).await,
                Err(e) => Err(e),
            };
            let (status, todo, message) = match &result {
                Ok(()) => ("ok", Vec::new(), None),
                Err(e) => classify(e),
            };
            checks.push(ConnectionCheck {
                tenant: tenant.name.clone(),
                connection: name.clone(),
                connector: handle.connector.name().to_string(),
                base_url: handle.connection.base_url.clone(),
                status,
                todo,
                message,
            });
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "manifest": app.manifest.file.display().to_string(),
                "connections": checks,
            }))?
        );
    } else {
        println!(
            "manifest {}: valid; connectors, settings and mappings load",
            app.manifest.file.display()
        );
        for c in &checks {
            let verdict = match c.status {
                "ok" => "ok".to_string(),
                "todo" => format!("{} to-do(s)", c.todo.len()),
                other => format!("{other}: {}", c.message.as_deref().unwrap_or_default()),
            };
            println!(
                "  {}/{:<12} {:<32} {verdict}",
                c.tenant, c.connection, c.base_url
            );
        }
        for c in checks.iter().filter(|c| !c.todo.is_empty()) {
            println!();
            println!("To do for {}/{} ({}):", c.tenant, c.connection, c.connector);
            for item in &c.todo {
                println!("  [ ] {item}");
            }
        }
        if !checks.iter().any(|c| c.status != "ok") {
            println!("All connections answered: ready to `ml-connector sync`.");
        }
    }
    if let Some(c) = checks
        .iter()
        .find(|c| c.status == "unreachable" || c.status == "error")
    {
        anyhow::bail!(
            "connection {} of tenant {} ({}): {}",
            c.connection,
            c.tenant,
            c.base_url,
            c.message.as_deref().unwrap_or_default()
        );
    }
    Ok(if checks.iter().any(|c| c.status == "todo") {
        Outcome::Halted
    } else {
        Outcome::Ok
    })
}
