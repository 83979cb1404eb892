//! Runs flows once with progress: on a terminal, one indicatif bar per tenant
//! whose message shows the running flow's live counts (from the pipeline
//! journal); otherwise one plain line per finished flow. Both go to stderr,
//! so stdout keeps only the command's result (table or JSON).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use mlc_host::app::App;
use mlc_host::pipeline::{Flow, PipelineError, RunOutcome, RunReport, order_by_requirements};
use mlc_host::store::LeaseInfo;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How often the live counts are refreshed.
const TICK: Duration = Duration::from_millis(150);

/// Journal events shown live, with their label.
const LIVE: [(&str, &str); 5] = [
    ("record_delivered", "delivered"),
    ("record_linked", "linked"),
    ("record_parked", "parked"),
    ("record_dead", "dead"),
    ("write_retried", "retries"),
];

fn live_counts(app: &App, flow: &Flow) -> [u64; LIVE.len()] {
    let counters = app.pipeline.journal().counters();
    LIVE.map(|(event, _)| {
        counters
            .get(&(flow.tenant.clone(), flow.name.clone(), event))
            .copied()
            .unwrap_or(0)
    })
}

fn live_message(flow: &Flow, base: &[u64; LIVE.len()], now: &[u64; LIVE.len()]) -> String {
    let parts: Vec<String> = LIVE
        .iter()
        .zip(base.iter().zip(now))
        .filter(|(_, (b, n))| *n > *b)
        .map(|((_, label), (b, n))| format!("{} {label}", n - b))
        .collect();
    if parts.is_empty() {
        flow.name.clone()
    } else {
        format!("{}: {}", flow.name, parts.join(", "))
    }
}

/// One plain line for a finished run.
pub fn plain_line(step: usize, of: usize, report: &RunReport, took: Duration) -> String {
    let c = &report.counts;
    let outcome = match &report.outcome {
        RunOutcome::Completed => "ok".to_string(),
        RunOutcome::Halted(m) => format!("HALTED: {m}"),
        RunOutcome::Incomplete(m) => format!("incomplete: {m}"),
    };
    format!(
        "[{step}/{of}] {}/{}: read {}, delivered {}, linked {}, unchanged {}, parked {}, dead {} in {:.1?}: {outcome}",
        report.tenant,
        report.flow,
        c.read,
        c.delivered,
        c.linked,
        c.unchanged,
        c.parked,
        c.dead,
        took
    )
}

/// What a `sync` did: the runs, and the flows it left because another
/// process was running them.
#[derive(Debug, Default)]
pub struct Ran {
    /// One report per flow run.
    pub reports: Vec<RunReport>,
    /// Flows not run here, each with the lease that kept it: its own (it
    /// runs elsewhere) or that of a flow it is exclusive with.
    pub busy: Vec<(String, LeaseInfo)>,
}

/// Runs each tenant's `flows` once in dependency order (tenants
/// concurrently), showing progress. A flow another process runs is left
/// (listed in [`Ran::busy`]) unless `wait` gives it time to finish there.
pub async fn run_flows(
    app: &App,
    selection: &[(String, Vec<Flow>)],
    wait: Option<Duration>,
) -> anyhow::Result<Ran> {
    let tty = std::io::stderr().is_terminal();
    let multi = MultiProgress::with_draw_target(if tty {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let style = ProgressStyle::with_template(
        "{spinner:.cyan} {prefix:.bold} [{bar:24.cyan/blue}] {pos}/{len} {elapsed:>4} {wide_msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let runs = selection.iter().map(|(tenant, flows)| {
        let bar = tty.then(|| {
            let bar = multi.add(ProgressBar::new(flows.len() as u64));
            bar.set_style(style.clone());
            bar.set_prefix(tenant.clone());
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        async move {
            let ordered = order_by_requirements(flows)?;
            let mut ran = Ran::default();
            for (i, flow) in ordered.iter().enumerate() {
                let started = Instant::now();
                let base = live_counts(app, flow);
                if let Some(bar) = &bar {
                    bar.set_message(flow.name.clone());
                }
                let run = async {
                    match wait {
                        Some(wait) => app.pipeline.run_flow_waiting(flow, wait).await,
                        None => app.pipeline.run_flow(flow).await,
                    }
                };
                tokio::pin!(run);
                let result = loop {
                    tokio::select! {
                        result = &mut run => break result,
                        _ = tokio::time::sleep(TICK) => {
                            if let Some(bar) = &bar {
                                bar.set_message(live_message(flow, &base, &live_counts(app, flow)));
                            }
                        }
                    }
                };
                let report = match result {
                    Err(PipelineError::LeaseHeld(lease)) => {
                        let line = format!(
                            "[{}/{}] {}/{}: not run: {}",
                            i + 1,
                            ordered.len(),
                            flow.tenant,
                            flow.name,
                            mlc_host::pipeline::PipelineError::LeaseHeld(lease.clone())
                        );
                        match &bar {
                            Some(bar) => {
                                bar.println(line);
                                bar.inc(1);
                            }
                            None => eprintln!("{line}"),
                        }
                        ran.busy.push((flow.name.clone(), *lease));
                        continue;
                    }
                    other => other?,
                };
                let line = plain_line(i + 1, ordered.len(), &report, started.elapsed());
                match &bar {
                    Some(bar) => {
                        bar.println(line);
                        bar.inc(1);
                    }
                    None => eprintln!("{line}"),
                }
                ran.reports.push(report);
            }
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            anyhow::Ok(ran)
        }
    });
    let mut all = Ran::default();
    for result in futures::future::join_all(runs).await {
        let ran = result?;
        all.reports.extend(ran.reports);
        all.busy.extend(ran.busy);
    }
    Ok(all)
}
