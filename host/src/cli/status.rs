//! `ml-connector status`: per flow, the last run, ledger counts, cursor,
//! next scheduled run and, for a halted flow, what to do. Reads the manifest
//! and the store only (no connector is loaded, no system is called). Exit
//! code 3 when a flow's last run halted.

use super::{ManifestArg, Outcome, time_text};
use mlc_host::daemon::status::{SnapshotLimits, Status, snapshot};
use mlc_host::manifest::Manifest;

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestArg,
    /// Only this tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// Only this flow.
    #[arg(long)]
    flow: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn human(status: &Status) -> String {
    let mut out = format!(
        "{:<44} {:<10} {:<23} {:>6} {:>9} {:>6} {:>5}  {:<12} next run\n",
        "flow", "state", "last run", "read", "delivered", "parked", "dead", "schedule"
    );
    for f in &status.flows {
        let (last, read, delivered) = match &f.last_run {
            Some(r) => (
                time_text(r.finished_ms),
                r.read.to_string(),
                r.delivered.to_string(),
            ),
            None => ("never".to_string(), "-".into(), "-".into()),
        };
        let ledger = |s: &str| f.ledger.get(s).copied().unwrap_or(0);
        let next = match f.next_run_ms {
            _ if !f.enabled => "-".to_string(),
            None => "on demand".to_string(),
            Some(ms) if ms <= status.generated_ms => "due now".to_string(),
            Some(ms) => time_text(ms),
        };
        out.push_str(&format!(
            "{:<44} {:<10} {:<23} {:>6} {:>9} {:>6} {:>5}  {:<12} {next}\n",
            format!("{}/{}", f.tenant, f.flow),
            f.state,
            last,
            read,
            delivered,
            ledger("parked"),
            ledger("dead"),
            f.schedule.trim_start_matches("every ")
        ));
    }
    out.push_str("(read and delivered: last run; parked and dead: in the ledger now)\n");
    for f in &status.flows {
        if let Some(r) = &f.last_run {
            out.push_str(&format!(
                "last run {}/{}: {}\n",
                f.tenant,
                f.flow,
                run_counts(r)
            ));
        }
    }
    for f in status.flows.iter().filter(|f| f.enabled) {
        if let Some(cursor) = &f.cursor {
            out.push_str(&format!(
                "cursor {}/{}: {}\n",
                f.tenant,
                f.flow,
                mlc_host::excerpt(cursor, 100)
            ));
        }
    }
    for f in &status.flows {
        if let Some(lease) = &f.running {
            let what = if f.lease_lapsed {
                "lease lapsed (its holder died or hangs; the next run takes it over)"
            } else {
                "running in"
            };
            out.push_str(&format!(
                "{}/{}: {what} {}\n",
                f.tenant,
                f.flow,
                mlc_host::coordination::describe(lease)
            ));
        }
    }
    for f in status.flows.iter().filter(|f| f.halted.is_some()) {
        out.push_str(&format!("\n{}/{} HALTED; to do:\n", f.tenant, f.flow));
        for item in &f.todo {
            out.push_str(&format!("  [ ] {item}\n"));
        }
        out.push_str(&format!(
            "  then: ml-connector sync --flow {} --wait (waits while another process runs it)\n",
            f.flow
        ));
    }
    if !status.dead_letters.is_empty() {
        out.push_str(&format!(
            "\n{} dead letter(s): `ml-connector dead-letters list`\n",
            status.dead_letters.len()
        ));
    }
    out
}

/// Every count of a run, in the order a record moves through a flow.
fn run_counts(r: &mlc_host::store::FlowRun) -> String {
    format!(
        "read {}, unreadable {}, delivered {}, linked {}, unchanged {}, parked {}, dead {}, skipped {}, deferred {}, retries {}",
        r.read,
        r.unreadable,
        r.delivered,
        r.linked,
        r.unchanged,
        r.parked,
        r.dead,
        r.skipped,
        r.deferred,
        r.retries
    )
}

pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let manifest = Manifest::load(&args.manifest.manifest)?;
    if let Some(t) = &args.tenant {
        super::pick_tenant(&manifest, Some(t))?;
    }
    if let Some(flow) = &args.flow {
        let tenant = super::pick_tenant(&manifest, args.tenant.as_deref())?;
        super::check_flow(&manifest, &tenant, flow)?;
    }
    let store = super::open_store(&manifest)?;
    let now = mlc_host::clock::Clock::now_ms(&mlc_host::clock::SystemClock);
    let mut status = snapshot(&manifest, &store, now, SnapshotLimits::default())?;
    status.flows.retain(|f| {
        args.tenant.as_deref().is_none_or(|t| t == f.tenant)
            && args.flow.as_deref().is_none_or(|n| n == f.flow)
    });
    status.history.retain(|r| {
        args.tenant.as_deref().is_none_or(|t| t == r.tenant)
            && args.flow.as_deref().is_none_or(|n| n == r.flow)
    });
    status.dead_letters.retain(|d| {
        args.tenant.as_deref().is_none_or(|t| t == d.tenant)
            && args.flow.as_deref().is_none_or(|n| n == d.flow)
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", human(&status));
    }
    Ok(if status.flows.iter().any(|f| f.halted.is_some()) {
        Outcome::Halted
    } else {
        Outcome::Ok
    })
}
