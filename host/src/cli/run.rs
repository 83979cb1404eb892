//! `ml-connector run`: the daemon. Every flow on its schedule, each tenant
//! independently; Ctrl-C (or SIGTERM) stops it gracefully: writes in flight
//! finish and are recorded, cursors stay at the last settled page.

use super::{ManifestArg, Outcome, report};
use mlc_host::app::{App, AppOptions};
use mlc_host::pipeline::RunReport;
use std::sync::Arc;

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestArg,
}

pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let app = Arc::new(App::open(&args.manifest.manifest, AppOptions::default()).await?);
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        eprintln!("stopping: letting writes in flight finish");
        let _ = stop.send(true);
    });
    let on_report: Arc<dyn Fn(&RunReport) + Send + Sync> =
        Arc::new(|r: &RunReport| print!("{}", report::table(std::slice::from_ref(r))));
    eprintln!(
        "ml-connector running {} tenant(s) from {}; Ctrl-C stops",
        app.deployment.tenants.len(),
        app.manifest.file.display()
    );
    mlc_host::scheduler::run(app, shutdown, on_report).await;
    Ok(Outcome::Ok)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
