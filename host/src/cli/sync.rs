//! `ml-connector sync`: runs flows once (all enabled ones, or one) with
//! progress, and prints what each did; `--dry-run` reads and maps only (see
//! [`super::dry_run`]). Exit code 3 when a flow halted for the operator.

use super::{ManifestArg, Outcome, UsageError, dry_run, progress, report};
use mlc_host::app::{App, AppOptions};
use mlc_host::pipeline::Flow;

/// Arguments of `sync`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestArg,
    /// Only this tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// Only this flow (the flows it requires are not run).
    #[arg(long)]
    flow: Option<String>,
    /// Read and map only: show what would be written or parked; write
    /// nothing, move no cursor.
    #[arg(long)]
    dry_run: bool,
    /// With --dry-run: how many documents of each kind to show per flow.
    #[arg(long, default_value_t = 5)]
    show: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The enabled flows to run, per tenant, from `--tenant` and `--flow`.
pub fn select(
    app: &App,
    tenant: Option<&str>,
    flow: Option<&str>,
) -> anyhow::Result<Vec<(String, Vec<Flow>)>> {
    if let Some(t) = tenant {
        super::pick_tenant(&app.manifest, Some(t))?;
    }
    let mut selection = Vec::new();
    for t in app.deployment.tenants.values() {
        if tenant.is_some_and(|name| name != t.name) {
            continue;
        }
        let flows: Vec<Flow> = t
            .flows
            .iter()
            .filter(|f| flow.is_none_or(|name| f.name == name))
            .cloned()
            .collect();
        if !flows.is_empty() {
            selection.push((t.name.clone(), flows));
        }
    }
    if let Some(name) = flow
        && selection.is_empty()
    {
        let disabled = app.manifest.tenants.values().find(|t| {
            tenant.is_none_or(|n| n == t.name) && t.flows.get(name).is_some_and(|f| !f.enabled)
        });
        if let Some(t) = disabled {
            return Err(UsageError(format!(
                "flow {name:?} of tenant {} is disabled; set enabled = true in [tenants.{}.flows.{name}] of {} to run it",
                t.name,
                t.name,
                app.manifest.file.display()
            ))
            .into());
        }
        let known: Vec<&str> = app
            .deployment
            .tenants
            .values()
            .flat_map(|t| t.flows.iter().map(|f| f.name.as_str()))
            .collect();
        return Err(UsageError(format!(
            "no enabled flow {name:?} in {}; flows are {known:?}",
            app.manifest.file.display()
        ))
        .into());
    }
    Ok(selection)
}

pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let app = App::open(&args.manifest.manifest, AppOptions::default()).await?;
    let selection = select(&app, args.tenant.as_deref(), args.flow.as_deref())?;
    super::verify_vault_key(&app)?;
    if args.dry_run {
        return dry_run::run(&app, &selection, args.show, args.json).await;
    }
    let reports = progress::run_flows(&app, &selection).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report::json(&reports))?);
    } else {
        print!("{}", report::table(&reports));
    }
    Ok(if report::any_halted(&reports) {
        Outcome::Halted
    } else {
        Outcome::Ok
    })
}
