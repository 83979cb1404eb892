//! The daemon's scheduler: each tenant has its own loop, so one tenant's
//! slowness or failure never delays another; within a tenant, due flows run
//! with the flows they require, in dependency order, one at a time, so a flow
//! never overlaps itself. A shutdown signal lets in-flight writes finish.
//!
//! Several daemons may share one store: a flow whose lease another process
//! holds is skipped and looked at again when that lease would lapse (so a
//! dead daemon's flows move within the lease time), and a flow's last start
//! is read from the store's run history too, so a run done elsewhere counts
//! for everyone's schedule.

use crate::app::App;
use crate::clock::{Clock, SystemClock};
use crate::deployment::TenantRuntime;
use crate::pipeline::{Flow, PipelineError, RunReport, order_by_requirements};
use crate::store::Store;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Longest sleep between two looks at the schedule.
const MAX_IDLE: Duration = Duration::from_secs(30);

/// Runs every tenant's flows on their schedules until `shutdown` turns true.
/// `on_report` sees every finished run (metrics, status page).
pub async fn run(
    app: Arc<App>,
    shutdown: watch::Receiver<bool>,
    on_report: Arc<dyn Fn(&RunReport) + Send + Sync>,
) {
    let tasks: Vec<_> = app
        .deployment
        .tenants
        .values()
        .cloned()
        .map(|tenant| {
            let app = app.clone();
            let shutdown = shutdown.clone();
            let on_report = on_report.clone();
            tokio::spawn(async move { tenant_loop(app, tenant, shutdown, on_report).await })
        })
        .collect();
    let mut watcher = shutdown.clone();
    let _ = watcher.wait_for(|stop| *stop).await;
    app.pipeline.request_stop();
    for task in tasks {
        let _ = task.await;
    }
}

/// The flows due at `now_ms`, with everything they require, in run order.
/// Flows in `elsewhere` (another process holds them) are not due here, and
/// pull none of their requirements in.
pub fn due_flows<'a>(
    tenant: &'a TenantRuntime,
    last_start: &BTreeMap<String, u64>,
    elsewhere: &BTreeSet<String>,
    now_ms: u64,
) -> Vec<&'a Flow> {
    let by_name: BTreeMap<&str, &Flow> =
        tenant.flows.iter().map(|f| (f.name.as_str(), f)).collect();
    let mut selected: BTreeSet<&str> = BTreeSet::new();
    let mut stack: Vec<&str> = tenant
        .flows
        .iter()
        .filter(|f| !elsewhere.contains(&f.name))
        .filter(|f| {
            tenant
                .schedules
                .get(&f.name)
                .and_then(|s| s.next_run_ms(last_start.get(&f.name).copied(), now_ms))
                .is_some_and(|next| next <= now_ms)
        })
        .map(|f| f.name.as_str())
        .collect();
    while let Some(name) = stack.pop() {
        if selected.insert(name)
            && let Some(flow) = by_name.get(name)
        {
            stack.extend(flow.requires.iter().map(String::as_str));
        }
    }
    let subset: Vec<Flow> = tenant
        .flows
        .iter()
        .filter(|f| selected.contains(f.name.as_str()))
        .cloned()
        .collect();
    let names: Vec<String> = order_by_requirements(&subset)
        .map(|flows| flows.into_iter().map(|f| f.name.clone()).collect())
        .unwrap_or_default();
    names
        .iter()
        .filter_map(|n| by_name.get(n.as_str()).copied())
        .collect()
}

async fn tenant_loop(
    app: Arc<App>,
    tenant: TenantRuntime,
    mut shutdown: watch::Receiver<bool>,
    on_report: Arc<dyn Fn(&RunReport) + Send + Sync>,
) {
    let mut last_start: BTreeMap<String, u64> = BTreeMap::new();
    let daemon_started = app.clock.now_ms();
    // Flow -> wall-clock ms when another process's lease on it lapses.
    let mut held_until: BTreeMap<String, u64> = BTreeMap::new();
    loop {
        if *shutdown.borrow() {
            return;
        }
        merge_stored_starts(&app, &tenant, daemon_started, &mut last_start);
        let wall = SystemClock.now_ms();
        held_until.retain(|_, until| *until > wall);
        let elsewhere: BTreeSet<String> = held_until.keys().cloned().collect();
        let now = app.clock.now_ms();
        for flow in due_flows(&tenant, &last_start, &elsewhere, now) {
            if *shutdown.borrow() {
                return;
            }
            if held_until
                .get(&flow.name)
                .is_some_and(|t| *t > SystemClock.now_ms())
            {
                // Taken elsewhere during this cycle (a required flow).
                continue;
            }
            let started = app.clock.now_ms();
            match app.pipeline.run_flow(flow).await {
                Ok(report) => {
                    held_until.remove(&flow.name);
                    last_start.insert(flow.name.clone(), started);
                    on_report(&report)
                }
                Err(PipelineError::LeaseHeld(lease)) => {
                    tracing::debug!(tenant = %tenant.name, flow = %flow.name, holder = %lease.holder, "flow runs elsewhere; looked at again when its lease would lapse");
                    held_until.insert(flow.name.clone(), lease.expires_ms + 50);
                }
                Err(e) => {
                    last_start.insert(flow.name.clone(), started);
                    tracing::error!(tenant = %tenant.name, flow = %flow.name, error = %e, "flow run failed; retried at its next slot")
                }
            }
        }
        let now = app.clock.now_ms();
        let next = tenant
            .flows
            .iter()
            .filter(|f| !held_until.contains_key(&f.name))
            .filter_map(|f| {
                tenant
                    .schedules
                    .get(&f.name)?
                    .next_run_ms(last_start.get(&f.name).copied(), now)
            })
            .min();
        let wall = SystemClock.now_ms();
        let next_lapse = held_until
            .values()
            .map(|t| Duration::from_millis(t.saturating_sub(wall)))
            .min();
        let wait = next
            .map(|n| Duration::from_millis(n.saturating_sub(now)))
            .unwrap_or(MAX_IDLE)
            .min(next_lapse.unwrap_or(MAX_IDLE))
            .min(MAX_IDLE)
            .max(Duration::from_millis(50));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Takes each flow's latest start from the store's run history when another
/// process ran the flow since this daemon started (every flow is due once
/// at start, as before any run here).
fn merge_stored_starts(
    app: &App,
    tenant: &TenantRuntime,
    since_ms: u64,
    last_start: &mut BTreeMap<String, u64>,
) {
    for flow in &tenant.flows {
        match app.store.runs(&tenant.name, &flow.name, 1) {
            Ok(runs) => {
                if let Some(run) = runs.first().filter(|r| r.started_ms >= since_ms) {
                    let known = last_start.entry(flow.name.clone()).or_insert(0);
                    *known = (*known).max(run.started_ms);
                }
            }
            Err(e) => {
                tracing::warn!(tenant = %tenant.name, flow = %flow.name, error = %e, "cannot read the flow's run history; its schedule counts from this process's runs")
            }
        }
    }
}
