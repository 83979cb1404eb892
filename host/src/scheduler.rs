//! The daemon's scheduler: each tenant has its own loop, so one tenant's
//! slowness or failure never delays another; within a tenant, due flows run
//! with the flows they require, in dependency order, one at a time, so a flow
//! never overlaps itself. A shutdown signal lets in-flight writes finish.

use crate::app::App;
use crate::deployment::TenantRuntime;
use crate::pipeline::{Flow, RunReport, order_by_requirements};
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
pub fn due_flows<'a>(
    tenant: &'a TenantRuntime,
    last_start: &BTreeMap<String, u64>,
    now_ms: u64,
) -> Vec<&'a Flow> {
    let by_name: BTreeMap<&str, &Flow> =
        tenant.flows.iter().map(|f| (f.name.as_str(), f)).collect();
    let mut selected: BTreeSet<&str> = BTreeSet::new();
    let mut stack: Vec<&str> = tenant
        .flows
        .iter()
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
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = app.clock.now_ms();
        for flow in due_flows(&tenant, &last_start, now) {
            if *shutdown.borrow() {
                return;
            }
            last_start.insert(flow.name.clone(), app.clock.now_ms());
            match app.pipeline.run_flow(flow).await {
                Ok(report) => on_report(&report),
                Err(e) => {
                    tracing::error!(tenant = %tenant.name, flow = %flow.name, error = %e, "flow run failed; retried at its next slot")
                }
            }
        }
        let now = app.clock.now_ms();
        let next = tenant
            .flows
            .iter()
            .filter_map(|f| {
                tenant
                    .schedules
                    .get(&f.name)?
                    .next_run_ms(last_start.get(&f.name).copied(), now)
            })
            .min();
        let wait = next
            .map(|n| Duration::from_millis(n.saturating_sub(now)))
            .unwrap_or(MAX_IDLE)
            .min(MAX_IDLE)
            .max(Duration::from_millis(50));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
}
