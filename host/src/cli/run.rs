//! `ml-connector run`: the daemon. Every flow on its schedule, each tenant
//! independently, with the status page, `/metrics` and `/healthz` on the
//! manifest's `daemon.listen` (loopback). Ctrl-C (or SIGTERM) stops it
//! gracefully: writes in flight finish and are recorded, cursors stay at the
//! last settled page.

use super::{ManifestArg, Outcome, report};
use anyhow::Context;
use mlc_host::app::{App, AppOptions};
use mlc_host::daemon::{Monitor, serve};
use mlc_host::pipeline::RunReport;
use std::net::SocketAddr;
use std::sync::Arc;

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestArg,
    /// Serve the status page here instead of the manifest's daemon.listen
    /// (loopback only; port 0 picks a free one).
    #[arg(long)]
    listen: Option<SocketAddr>,
}

pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let app = Arc::new(App::open(&args.manifest.manifest, AppOptions::default()).await?);
    super::verify_vault_key(&app)?;
    let addr: SocketAddr = match args.listen {
        Some(a) => a,
        None => app.manifest.listen.parse().with_context(|| {
            format!(
                "{}: daemon.listen {:?} is not an address",
                app.manifest.file.display(),
                app.manifest.listen
            )
        })?,
    };
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let monitor = Monitor::new(app.clone());
    let bound = serve(monitor.clone(), addr, shutdown.clone()).await?;
    tokio::spawn(async move {
        wait_for_signal().await;
        eprintln!("stopping: letting writes in flight finish");
        let _ = stop.send(true);
    });
    let record = monitor.on_report();
    let on_report: Arc<dyn Fn(&RunReport) + Send + Sync> = Arc::new(move |r: &RunReport| {
        record(r);
        print!("{}", report::table(std::slice::from_ref(r)));
    });
    eprintln!(
        "ml-connector running {} tenant(s) from {}",
        app.deployment.tenants.len(),
        app.manifest.file.display()
    );
    eprintln!(
        "status page http://{bound}/  metrics http://{bound}/metrics  health http://{bound}/healthz"
    );
    eprintln!("Ctrl-C stops");
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
