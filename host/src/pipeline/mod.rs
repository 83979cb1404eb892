//! The pipeline: moves one stream of one connection to one stream of another,
//! generic over connectors (nothing here knows Procurify or PeopleSoft):
//!
//! `read page -> map -> dedup -> write (with retry) -> record -> checkpoint`
//!
//! - every document has a ledger row per (tenant, flow, key) with the hash of
//!   its content; an unchanged delivered document is never written again;
//! - a write is recorded `pending` before it is sent; a pending (or failed
//!   with unknown outcome) document is resolved with the sink's `lookup`
//!   before anything is re-posted, so a crash or a timeout after the remote
//!   side committed never makes a duplicate;
//! - records are processed concurrently (up to the flow's `concurrency` writes
//!   in flight) across page boundaries, but the source cursor advances only
//!   past a page whose records, and every earlier page's, are settled;
//! - two records with one output key are never handled at once, and a run's
//!   writes go one at a time until the first succeeds (a target that is not
//!   set up sees one attempt, not one per concurrent record);
//! - `unauthorized`, `not-enabled` and `config` failures halt the flow after
//!   one attempt with the operator's to-do; `rejected` makes a dead letter;
//!   transient failures back off and retry, then wait for the next run.

mod journal;
mod retry;
mod run;

pub use journal::{Counters, FlowEvent, Journal};
pub use retry::RetryPolicy;

use crate::clock::Clock;
use crate::mapping::Mapping;
use crate::runtime::{Connection, Connector, Sandbox};
use crate::store::{LedgerEntry, RecordState, Store, StoreError};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One connection as the pipeline uses it: the loaded component, its sandbox
/// and the connection value passed to every call.
#[derive(Debug, Clone)]
pub struct ConnectionHandle {
    /// Connection name (from the manifest).
    pub name: String,
    /// The connector component.
    pub connector: Connector,
    /// The sandbox its instances run in.
    pub sandbox: Sandbox,
    /// Base URL and connector settings.
    pub connection: Connection,
}

/// One side of a flow.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The connection.
    pub connection: Arc<ConnectionHandle>,
    /// The stream on it.
    pub stream: String,
}

/// What to do when a delivered document changes at the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnChange {
    /// Keep the target as it is; record the change in the audit log.
    Ignore,
    /// Write the new version (the sink must treat it as an update).
    Rewrite,
    /// Put the new version in the dead letters for an operator to review.
    DeadLetter,
}

impl OnChange {
    /// The policy's manifest name.
    pub fn as_str(self) -> &'static str {
        match self {
            OnChange::Ignore => "ignore",
            OnChange::Rewrite => "rewrite",
            OnChange::DeadLetter => "dead-letter",
        }
    }
}

/// A flow, resolved and ready to run.
#[derive(Debug, Clone)]
pub struct Flow {
    /// Tenant.
    pub tenant: String,
    /// Flow name.
    pub name: String,
    /// Where records come from.
    pub source: Endpoint,
    /// Where documents go.
    pub sink: Endpoint,
    /// The mapping program.
    pub mapping: Arc<Mapping>,
    /// `$config` of the mapping.
    pub config: serde_json::Value,
    /// Policy for changed documents.
    pub on_change: OnChange,
    /// Retry policy of writes.
    pub retry: RetryPolicy,
    /// Records processed at once (sink instances).
    pub concurrency: usize,
    /// Flows that must run first in a cycle.
    pub requires: Vec<String>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every page read, every record settled.
    Completed,
    /// Stopped for the operator: the message says what to do.
    Halted(String),
    /// The source could not be read in this run (transient); nothing lost.
    Incomplete(String),
}

/// Counts of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunCounts {
    /// Source records read (including parked ones mapped again).
    pub read: u64,
    /// Documents written.
    pub delivered: u64,
    /// Documents found already in the target (no write).
    pub linked: u64,
    /// Documents already delivered with the same content.
    pub unchanged: u64,
    /// Records parked.
    pub parked: u64,
    /// Records or documents dead-lettered.
    pub dead: u64,
    /// Documents skipped.
    pub skipped: u64,
    /// Documents left for the next run after their attempts.
    pub deferred: u64,
    /// Write retries.
    pub retries: u64,
    /// Unreadable source records.
    pub unreadable: u64,
}

/// The result of one flow run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// Tenant.
    pub tenant: String,
    /// Flow.
    pub flow: String,
    /// How it ended.
    pub outcome: RunOutcome,
    /// What it did.
    pub counts: RunCounts,
}

/// Errors that stop a run without a verdict on its records (nothing is lost:
/// the ledger and the cursor are as the last settled record left them).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Flow definitions are inconsistent.
    #[error("flows of tenant {tenant}: {detail}")]
    Flows {
        /// Tenant.
        tenant: String,
        /// What is wrong.
        detail: String,
    },
    /// Processing a record panicked (a bug); the run stopped starting records.
    #[error("processing source record {key} panicked: {message}")]
    RecordPanicked {
        /// Source record key.
        key: String,
        /// The panic's message.
        message: String,
    },
    /// A test asked the pipeline to stop abruptly here (crash simulation).
    #[error("simulated crash after write {0}")]
    SimulatedCrash(u64),
}

/// Deliberate faults for crash tests.
#[derive(Debug, Clone, Default)]
pub struct TestFaults {
    /// Stop abruptly right after the n-th successful write of the process,
    /// before it is recorded (a crash between write and record).
    pub crash_after_writes: Option<u64>,
}

/// The pipeline of one host process: a cheap handle (clones share the store,
/// the journal and the stop flag), so a run can hand it to the tasks that
/// process its records on every worker thread.
#[derive(Debug, Clone)]
pub struct Pipeline {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    store: Arc<dyn Store>,
    journal: Arc<Journal>,
    clock: Arc<dyn Clock>,
    faults: TestFaults,
    writes: std::sync::atomic::AtomicU64,
    stopping: std::sync::atomic::AtomicBool,
}

impl Pipeline {
    /// A pipeline over `store`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Pipeline {
        Pipeline::with_faults(store, clock, TestFaults::default())
    }

    fn with_faults(store: Arc<dyn Store>, clock: Arc<dyn Clock>, faults: TestFaults) -> Pipeline {
        Pipeline {
            shared: Arc::new(Shared {
                journal: Arc::new(Journal::new(store.clone(), clock.clone())),
                store,
                clock,
                faults,
                writes: std::sync::atomic::AtomicU64::new(0),
                stopping: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// A new pipeline over the same store with deliberate faults (tests only).
    pub fn with_test_faults(self, faults: TestFaults) -> Pipeline {
        Pipeline::with_faults(self.shared.store.clone(), self.shared.clock.clone(), faults)
    }

    /// Asks running flows to stop: writes already in flight finish and are
    /// recorded, no new record or page is started, cursors stay at the last
    /// settled page.
    pub fn request_stop(&self) {
        self.shared
            .stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// True once a stop was requested.
    pub fn is_stopping(&self) -> bool {
        self.shared
            .stopping
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The journal (counters, audit).
    pub fn journal(&self) -> &Arc<Journal> {
        &self.shared.journal
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// Runs one flow once.
    pub async fn run_flow(&self, flow: &Flow) -> Result<RunReport, PipelineError> {
        run::FlowRun::new(self.clone(), flow.clone()).run().await
    }

    /// Runs flows of one tenant once each, every flow after the flows it
    /// requires.
    pub async fn run_cycle(&self, flows: &[Flow]) -> Result<Vec<RunReport>, PipelineError> {
        let mut reports = Vec::new();
        for flow in order_by_requirements(flows)? {
            reports.push(self.run_flow(flow).await?);
        }
        Ok(reports)
    }

    /// Dead letters of a flow.
    pub fn dead_letters(
        &self,
        tenant: &str,
        flow: &str,
    ) -> Result<Vec<LedgerEntry>, PipelineError> {
        Ok(self
            .shared
            .store
            .ledger_in_state(tenant, flow, RecordState::Dead, usize::MAX >> 1)?)
    }

    /// Puts a dead letter back: a document is written again (after a lookup)
    /// in the next run; a source record that did not map is mapped again.
    pub fn replay_dead_letter(
        &self,
        tenant: &str,
        flow: &str,
        key: &str,
    ) -> Result<bool, PipelineError> {
        self.handle_dead_letter(tenant, flow, key, "replayed", |entry| {
            entry.state = if entry.body.is_some() {
                RecordState::Retrying
            } else {
                RecordState::Parked
            };
            entry.attempts = 0;
            entry.reason = Some("replayed by the operator".into());
        })
    }

    /// Drops a dead letter for good (kept in the ledger as skipped).
    pub fn discard_dead_letter(
        &self,
        tenant: &str,
        flow: &str,
        key: &str,
    ) -> Result<bool, PipelineError> {
        self.handle_dead_letter(tenant, flow, key, "discarded", |entry| {
            entry.state = RecordState::Skipped;
            entry.reason = Some("discarded by the operator".into());
            entry.body = None;
        })
    }

    /// Applies an operator's decision to dead letter `key` and audits it;
    /// false when `key` is not a dead letter.
    fn handle_dead_letter(
        &self,
        tenant: &str,
        flow: &str,
        key: &str,
        action: &'static str,
        decide: impl FnOnce(&mut LedgerEntry),
    ) -> Result<bool, PipelineError> {
        let store = &self.shared.store;
        let Some(mut entry) = store.ledger_get(tenant, flow, key)? else {
            return Ok(false);
        };
        if entry.state != RecordState::Dead {
            return Ok(false);
        }
        decide(&mut entry);
        entry.updated_ms = self.shared.clock.now_ms();
        store.ledger_put(&entry)?;
        self.shared.journal.record(
            tenant,
            flow,
            FlowEvent::DeadLetterHandled {
                key: key.to_string(),
                action,
            },
        )?;
        Ok(true)
    }
}

/// Orders flows so each comes after the flows it requires (stable otherwise).
pub fn order_by_requirements(flows: &[Flow]) -> Result<Vec<&Flow>, PipelineError> {
    let by_name: BTreeMap<&str, &Flow> = flows.iter().map(|f| (f.name.as_str(), f)).collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::new();
    fn visit<'a>(
        flow: &'a Flow,
        by_name: &BTreeMap<&str, &'a Flow>,
        done: &mut BTreeSet<&'a str>,
        path: &mut Vec<&'a str>,
        order: &mut Vec<&'a Flow>,
    ) -> Result<(), PipelineError> {
        if done.contains(flow.name.as_str()) {
            return Ok(());
        }
        if path.contains(&flow.name.as_str()) {
            return Err(PipelineError::Flows {
                tenant: flow.tenant.clone(),
                detail: format!(
                    "requirements form a cycle: {} -> {}",
                    path.join(" -> "),
                    flow.name
                ),
            });
        }
        path.push(&flow.name);
        for required in &flow.requires {
            // Requirements outside this set (another tenant's, or not selected) are not run here.
            if let Some(r) = by_name.get(required.as_str()) {
                visit(r, by_name, done, path, order)?;
            }
        }
        path.pop();
        done.insert(&flow.name);
        order.push(flow);
        Ok(())
    }
    for flow in flows {
        visit(flow, &by_name, &mut done, &mut Vec::new(), &mut order)?;
    }
    Ok(order)
}
