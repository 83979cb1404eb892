//! `ml-connector demo`: the whole product against the built-in sandbox in one
//! command. Starts both sandbox systems in-process (seeded), writes the
//! shipped manifest and mappings into a working folder with the sandbox's
//! addresses, creates a vault key, a store and the demo secrets, runs every
//! enabled flow once (a progress bar per tenant on a terminal, one line per
//! flow otherwise, on stderr), and prints what happened and where to look next.

use super::{Outcome, progress, report};
use anyhow::{Context, bail};
use mlc_host::app::{App, AppOptions};
use mlc_host::audit::{self, Verification};
use mlc_host::bundled;
use mlc_host::bundled::DEMO_SECRETS;
use mlc_host::pipeline::RunReport;
use mlc_host::store::{RecordState, Store};
use mlc_sandbox::peoplesoft::{PeopleSoftConfig, PeopleSoftSandbox};
use mlc_sandbox::procurify::{ProcurifyConfig, ProcurifySandbox};
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of Procurify requisitions the sandbox generates.
    #[arg(long, default_value_t = 300)]
    size: usize,
    /// Seed of the sandbox data.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Working folder for the manifest, mappings, store and key (default: a new temporary folder).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print the run reports as JSON instead of tables.
    #[arg(long)]
    json: bool,
}

fn count(reports: &[RunReport], flow: &str, f: impl Fn(&RunReport) -> u64) -> u64 {
    reports.iter().filter(|r| r.flow == flow).map(f).sum()
}

pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let procurify = ProcurifySandbox::start(ProcurifyConfig {
        seed: args.seed,
        requisitions: args.size,
        ..ProcurifyConfig::default()
    })
    .await
    .context("starting the Procurify sandbox")?;
    let peoplesoft = PeopleSoftSandbox::start(PeopleSoftConfig {
        seed: args.seed,
        ..PeopleSoftConfig::default()
    })
    .await
    .context("starting the PeopleSoft sandbox")?;
    let dir = match args.dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("ml-connector-demo-{}", std::process::id())),
    };
    if dir.join("ml-connector.db").exists() {
        bail!(
            "{} already holds a demo store; pass another --dir or remove it",
            dir.display()
        );
    }
    let manifest_path =
        bundled::write_deployment(&dir, &procurify.base_url(), &peoplesoft.base_url(), |m| m)?;
    println!("Sandbox systems (seed {}):", args.seed);
    println!(
        "  Procurify   {} ({} requisitions)",
        procurify.base_url(),
        args.size
    );
    println!("  PeopleSoft  {}", peoplesoft.listener_url());
    println!("Deployment in {}", dir.display());

    // init: key file, store, the sandbox's demo secrets (encrypted).
    bundled::init_vault(&dir, "sandbox", DEMO_SECRETS)?;

    let app = App::open(&manifest_path, AppOptions::default()).await?;
    println!(
        "Running {} flows once, in dependency order...",
        app.deployment
            .tenants
            .values()
            .map(|t| t.flows.len())
            .sum::<usize>()
    );
    let selection: Vec<_> = app
        .deployment
        .tenants
        .values()
        .map(|t| (t.name.clone(), t.flows.clone()))
        .collect();
    let reports = progress::run_flows(&app, &selection, None).await?.reports;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report::json(&reports))?);
    } else {
        println!();
        print!("{}", report::table(&reports));
    }

    let po_count = peoplesoft.purchase_orders().len();
    // Ledger rows in `state`, over every flow of every tenant.
    let in_state = |state: RecordState| -> u64 {
        app.deployment
            .tenants
            .values()
            .flat_map(|t| t.flows.iter().map(move |f| (&t.name, &f.name)))
            .map(|(t, f)| {
                app.store
                    .ledger_counts(t, f)
                    .map(|c| c.get(&state).copied().unwrap_or(0))
                    .unwrap_or(0)
            })
            .sum()
    };
    let (dead, parked) = (in_state(RecordState::Dead), in_state(RecordState::Parked));
    let moved = |flow: &str| count(&reports, flow, |r| r.counts.delivered + r.counts.linked);
    // From the counters, not the ring of recent events, which forgets.
    let tokens: u64 = app.events.counters().token_refreshes.values().sum();
    let verification = audit::verify(app.store.as_ref())?;

    println!();
    println!("Summary");
    println!(
        "  vendors PeopleSoft -> Procurify      {:>6}",
        moved("vendors-to-procurify")
    );
    println!(
        "  vendors Procurify -> PeopleSoft      {:>6}",
        moved("vendors-to-peoplesoft")
    );
    println!(
        "  GL accounts aligned (both ways)      {:>6}",
        moved("accounts-to-procurify") + moved("accounts-to-peoplesoft")
    );
    println!(
        "  cost centers aligned (both ways)     {:>6}",
        moved("departments-to-procurify") + moved("departments-to-peoplesoft")
    );
    println!(
        "  requisitions -> PeopleSoft POs       {:>6}  (POs now in PeopleSoft: {po_count})",
        count(&reports, "requisitions-to-purchase-orders", |r| r
            .counts
            .delivered)
    );
    println!("  parked (waiting for a reference)     {parked:>6}");
    println!("  dead letters                         {dead:>6}");
    println!("  OAuth2 tokens fetched by the host    {tokens:>6}");
    match &verification {
        Verification::Verified { rows, .. } => println!("  audit: verified ({rows} rows)"),
        Verification::Broken { seq, reason } => println!("  audit: BROKEN at row {seq}: {reason}"),
    }
    println!("Done in {:.1?}.", started.elapsed());
    println!();
    println!("Next (the store stays; the sandbox systems stopped with this command):");
    for command in ["status", "audit list", "audit verify", "dead-letters list"] {
        println!(
            "  ml-connector {command:<17} --manifest {}",
            manifest_path.display()
        );
    }
    println!(
        "  ml-connector sandbox            (emulators on :8701/:8702 for manifest.toml in this repository;"
    );
    println!(
        "                                   then `init --demo-secrets`, `check`, `sync`, `run` with it)"
    );
    if !matches!(verification, Verification::Verified { .. }) {
        bail!("the audit chain does not verify");
    }
    if po_count == 0 {
        bail!("no purchase order reached PeopleSoft; see the table above");
    }
    Ok(if report::any_halted(&reports) {
        Outcome::Halted
    } else {
        Outcome::Ok
    })
}
