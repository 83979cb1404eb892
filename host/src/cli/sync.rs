//! `ml-connector sync`: runs flows once (all enabled ones, or one) with
//! progress, and prints what each did; `--dry-run` reads and maps only (see
//! [`super::dry_run`]). Exit code 3 when a flow halted for the operator, or
//! when a flow was not run because another process (the daemon, another
//! `sync`) runs it now: the output names the holder; `--wait` waits for it
//! instead. There is never a second writer of a flow.

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
    /// When another process (the daemon, another sync) runs a flow, wait
    /// up to this long for it to finish there (`30s`, `5m`, `1h`; default
    /// 10m), then run it here; without --wait such a flow is left and
    /// named, with exit code 3.
    #[arg(long, value_name = "TIMEOUT", num_args = 0..=1, default_missing_value = "10m", value_parser = parse_wait)]
    wait: Option<std::time::Duration>,
}

/// Parses `--wait`'s timeout: a number with `s`, `m` or `h`.
fn parse_wait(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; use e.g. 30s, 5m or 1h"))?;
    let secs = match unit {
        "s" | "" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("{text:?}: unit must be s, m or h")),
    };
    Ok(std::time::Duration::from_secs(secs))
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
    let ran = progress::run_flows(&app, &selection, args.wait).await?;
    if args.json {
        let mut json = report::json(&ran.reports);
        if let Some(runs) = json.as_array_mut() {
            runs.extend(ran.busy.iter().map(|(flow, lease)| {
                serde_json::json!({
                    "tenant": lease.tenant, "flow": flow, "outcome": "running-elsewhere",
                    "running": lease.flow,
                    "message": mlc_host::coordination::describe(lease),
                    "holder": lease.holder, "since_ms": lease.acquired_ms, "expires_ms": lease.expires_ms,
                })
            }));
        }
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", report::table(&ran.reports));
        for (flow, lease) in &ran.busy {
            let running = if *flow == lease.flow {
                "it runs".to_string()
            } else {
                format!("{} (linked to it by `requires`) runs", lease.flow)
            };
            println!(
                "{}/{flow}: not run here: {running} in {}; wait for it with `ml-connector sync --flow {flow} --wait`",
                lease.tenant,
                mlc_host::coordination::describe(lease),
            );
        }
    }
    Ok(
        if report::any_halted(&ran.reports) || !ran.busy.is_empty() {
            Outcome::Halted
        } else {
            Outcome::Ok
        },
    )
}
