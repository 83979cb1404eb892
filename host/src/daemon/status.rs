//! Where every flow stands, computed from the manifest and the store alone:
//! last run, ledger counts, cursor, next run, halted reason with its to-do,
//! run history and dead letters. `ml-connector status` and the status page
//! (`/api/status`) print the same snapshot.

use crate::manifest::{Manifest, Schedule};
use crate::store::{FlowRun, LeaseInfo, RecordState, Store, StoreError};
use serde::Serialize;
use std::collections::BTreeMap;

/// How much history a snapshot carries.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotLimits {
    /// Runs kept per flow for the chart.
    pub runs_per_flow: usize,
    /// Dead letters listed per flow.
    pub dead_letters_per_flow: usize,
}

impl Default for SnapshotLimits {
    fn default() -> Self {
        SnapshotLimits {
            runs_per_flow: 50,
            dead_letters_per_flow: 100,
        }
    }
}

/// Everything the status page and `status` show.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// When the snapshot was taken, ms since the epoch.
    pub generated_ms: u64,
    /// The manifest file.
    pub manifest: String,
    /// Every flow of every tenant, enabled or not.
    pub flows: Vec<FlowStatus>,
    /// Recent runs of all flows, oldest first (the chart's data).
    pub history: Vec<FlowRun>,
    /// Dead letters, oldest change first.
    pub dead_letters: Vec<DeadLetter>,
}

/// One flow's standing.
#[derive(Debug, Clone, Serialize)]
pub struct FlowStatus {
    /// Tenant.
    pub tenant: String,
    /// Flow.
    pub flow: String,
    /// `connection.stream` it reads.
    pub from: String,
    /// `connection.stream` it writes.
    pub to: String,
    /// Whether the manifest enables it.
    pub enabled: bool,
    /// The schedule in words (`every 5m`, `cron 0 * * * *`, `on demand`).
    pub schedule: String,
    /// `disabled`, `never-run`, `ok`, `halted`, `incomplete` (the last run's outcome).
    pub state: String,
    /// The last finished run.
    pub last_run: Option<FlowRun>,
    /// Ledger rows per state (`delivered`, `parked`, `dead`, ...).
    pub ledger: BTreeMap<String, u64>,
    /// The saved source cursor.
    pub cursor: Option<String>,
    /// When the schedule runs it next (ms since the epoch), counted from the
    /// last run's start; `None` for on-demand or disabled flows.
    pub next_run_ms: Option<u64>,
    /// Why it halted, when its last run halted.
    pub halted: Option<String>,
    /// The operator's to-do when halted, one item per line.
    pub todo: Vec<String>,
    /// Who runs the flow right now (its lease), if anyone: process,
    /// host, since when and until when the lease lasts without renewal.
    pub running: Option<LeaseInfo>,
    /// Whether that lease lapsed (its holder died or hangs; the next
    /// process to look takes the flow over).
    pub lease_lapsed: bool,
}

/// A record an operator must look at.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// Tenant.
    pub tenant: String,
    /// Flow.
    pub flow: String,
    /// Ledger key (`dead-letters replay` takes it).
    pub key: String,
    /// The source record's key.
    pub source_key: String,
    /// Why it is dead.
    pub reason: String,
    /// Write attempts made.
    pub attempts: u32,
    /// Last change, ms since the epoch.
    pub updated_ms: u64,
}

/// A schedule in words.
pub fn schedule_text(schedule: &Schedule) -> String {
    match schedule {
        Schedule::OnDemand => "on demand".into(),
        Schedule::Every(d) => {
            let s = d.as_secs();
            if s % 86_400 == 0 {
                format!("every {}d", s / 86_400)
            } else if s % 3600 == 0 {
                format!("every {}h", s / 3600)
            } else if s % 60 == 0 {
                format!("every {}m", s / 60)
            } else {
                format!("every {s}s")
            }
        }
        Schedule::Cron { pattern, .. } => format!("cron {pattern} (UTC)"),
    }
}

/// The to-do items of a halt message: the connectors join several with "; ".
pub fn todo_items(message: &str) -> Vec<String> {
    message
        .split("; ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Takes the snapshot.
pub fn snapshot(
    manifest: &Manifest,
    store: &dyn Store,
    now_ms: u64,
    limits: SnapshotLimits,
) -> Result<Status, StoreError> {
    let leases: BTreeMap<(String, String), LeaseInfo> = store
        .leases()?
        .into_iter()
        .map(|l| ((l.tenant.clone(), l.flow.clone()), l))
        .collect();
    let mut flows = Vec::new();
    let mut history = Vec::new();
    let mut dead_letters = Vec::new();
    for (tname, tenant) in &manifest.tenants {
        for (fname, spec) in &tenant.flows {
            let runs = store.runs(tname, fname, limits.runs_per_flow.max(1))?;
            let last_run = runs.first().cloned();
            history.extend(runs);
            let ledger = store
                .ledger_counts(tname, fname)?
                .into_iter()
                .map(|(state, n)| (state.as_str().to_string(), n))
                .collect();
            let halted = last_run
                .as_ref()
                .filter(|r| r.outcome == "halted")
                .map(|r| r.message.clone().unwrap_or_default());
            let state = if !spec.enabled {
                "disabled".to_string()
            } else {
                last_run
                    .as_ref()
                    .map(|r| r.outcome.clone())
                    .unwrap_or_else(|| "never-run".into())
            };
            let next_run_ms = spec
                .enabled
                .then(|| {
                    spec.schedule
                        .next_run_ms(last_run.as_ref().map(|r| r.started_ms), now_ms)
                })
                .flatten();
            for entry in store.ledger_in_state(
                tname,
                fname,
                RecordState::Dead,
                limits.dead_letters_per_flow,
            )? {
                dead_letters.push(DeadLetter {
                    tenant: entry.tenant,
                    flow: entry.flow,
                    key: entry.key,
                    source_key: entry.source_key,
                    reason: entry.reason.unwrap_or_default(),
                    attempts: entry.attempts,
                    updated_ms: entry.updated_ms,
                });
            }
            let running = leases.get(&(tname.clone(), fname.clone())).cloned();
            flows.push(FlowStatus {
                lease_lapsed: running.as_ref().is_some_and(|l| {
                    l.expires_ms <= crate::clock::Clock::now_ms(&crate::clock::SystemClock)
                }),
                running,
                tenant: tname.clone(),
                flow: fname.clone(),
                from: format!("{}.{}", spec.from.0, spec.from.1),
                to: format!("{}.{}", spec.to.0, spec.to.1),
                enabled: spec.enabled,
                schedule: schedule_text(&spec.schedule),
                state,
                last_run,
                ledger,
                cursor: store.cursor(tname, fname)?,
                next_run_ms,
                todo: halted.as_deref().map(todo_items).unwrap_or_default(),
                halted,
            });
        }
    }
    history.sort_by_key(|r| (r.started_ms, r.finished_ms));
    dead_letters.sort_by_key(|d| d.updated_ms);
    Ok(Status {
        generated_ms: now_ms,
        manifest: manifest.file.display().to_string(),
        flows,
        history,
        dead_letters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn schedules_read_in_their_largest_whole_unit() {
        assert_eq!(
            schedule_text(&Schedule::Every(Duration::from_secs(300))),
            "every 5m"
        );
        assert_eq!(
            schedule_text(&Schedule::Every(Duration::from_secs(7200))),
            "every 2h"
        );
        assert_eq!(
            schedule_text(&Schedule::Every(Duration::from_secs(90))),
            "every 90s"
        );
        assert_eq!(schedule_text(&Schedule::OnDemand), "on demand");
    }

    #[test]
    fn a_halt_message_with_several_to_dos_splits_into_items() {
        assert_eq!(
            todo_items("not enabled: activate A; grant B; "),
            vec!["not enabled: activate A", "grant B"]
        );
    }
}
