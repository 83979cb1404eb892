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
//!   transient failures back off and retry, then wait for the next run;
//! - a run holds its flow's lease ([`crate::coordination`]) from before it
//!   reads anything until it ends, writes the store only through a view
//!   fenced by the lease's token, and sends no remote write once it may have
//!   lost the lease: wherever other processes share the store, each flow has
//!   one writer.
//!
//! Modules: [`decide`] (the dedup and change policy, pure, shared with the
//! dry run), [`verdict`] (what a failed call means), [`trail`] (cursor
//! checkpoints and the stuck-cursor guard), `concurrency` (key locks, write
//! gate, sink pool, first error), `run` (one run by phase: `read`, `record`,
//! `deliver`), `journal` (events to audit rows), `retry` (backoff).

mod concurrency;
pub mod decide;
mod journal;
mod retry;
mod run;
pub mod trail;
pub mod verdict;

pub use journal::{Counters, FlowEvent, Journal};
pub use retry::RetryPolicy;

use crate::clock::Clock;
use crate::coordination::{self, Coordination, FlowLease};
use crate::mapping::Mapping;
use crate::runtime::{Connection, Connector, Sandbox};
use crate::store::{LeaseInfo, LedgerEntry, LedgerKind, RecordState, Store, StoreError};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
    /// Flows that never run at the same time as this one, in any process:
    /// those connected to it by `requires` (transitively, either way). They
    /// share crosswalks, and a run reads the crosswalks once at its start:
    /// vendors synchronized both ways by two processes at once would each
    /// miss the other's fresh links and create every new vendor back.
    pub exclusive_with: Vec<String>,
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
    /// An invariant of the run broke (a task panicked holding a lock, a page
    /// the run's bookkeeping does not know): a bug; the run stopped rather
    /// than carry on with state it cannot trust.
    #[error("the run's state broke: {0}; the run stopped (a bug: please report it)")]
    Broken(String),
    /// A dead letter that cannot be put back: there is nothing to retry.
    #[error(
        "dead letter {key} ({kind}) of flow {flow} of tenant {tenant} cannot be replayed: {detail}"
    )]
    NotReplayable {
        /// Tenant.
        tenant: String,
        /// Flow.
        flow: String,
        /// What the row stands for.
        kind: LedgerKind,
        /// Its key.
        key: String,
        /// Why, and what to do instead.
        detail: String,
    },
    /// A test asked the pipeline to stop abruptly here (crash simulation).
    #[cfg(any(test, feature = "test-support"))]
    #[error("simulated crash after write {0}")]
    SimulatedCrash(u64),
    /// Another process runs the flow now, or a flow it is exclusive with
    /// (the lease names which); nothing was read or written.
    #[error(
        "flow {} of tenant {} is running elsewhere: {}",
        .0.flow,
        .0.tenant,
        coordination::describe(.0)
    )]
    LeaseHeld(Box<LeaseInfo>),
    /// The run lost its flow's lease (paused or cut off longer than the
    /// lease, and another process took the flow over): it stopped and wrote
    /// nothing after; the new holder resolves what it left pending.
    #[error(
        "flow {flow} of tenant {tenant}: lost the flow's lease while running ({detail}); stopped and wrote nothing more; the process that took it over continues"
    )]
    LeaseLost {
        /// Tenant.
        tenant: String,
        /// Flow.
        flow: String,
        /// What was found.
        detail: String,
    },
}

/// Deliberate faults for crash tests (test builds and the `test-support`
/// feature only).
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug, Clone, Default)]
pub struct TestFaults {
    /// Stop abruptly right after the n-th successful write of the process,
    /// before it is recorded (a crash between write and record).
    pub crash_after_writes: Option<u64>,
}

#[cfg(any(test, feature = "test-support"))]
impl TestFaults {
    /// Called after the n-th successful write of the process: the simulated
    /// crash, when asked for.
    fn after_write(&self, n: u64) -> Result<(), PipelineError> {
        match self.crash_after_writes {
            Some(at) if at == n => Err(PipelineError::SimulatedCrash(n)),
            _ => Ok(()),
        }
    }
}

/// The shipped binary has no fault hooks: an empty stand-in keeps the
/// pipeline's plumbing one shape in every build.
#[cfg(not(any(test, feature = "test-support")))]
#[derive(Debug, Clone, Default)]
struct TestFaults {}

#[cfg(not(any(test, feature = "test-support")))]
impl TestFaults {
    fn after_write(&self, _n: u64) -> Result<(), PipelineError> {
        Ok(())
    }
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
    /// The store; in a run's pipeline, the view fenced by the run's lease.
    store: Arc<dyn Store>,
    /// The unfenced store, for taking leases.
    base_store: Arc<dyn Store>,
    journal: Arc<Journal>,
    clock: Arc<dyn Clock>,
    faults: TestFaults,
    writes: Arc<AtomicU64>,
    stopping: Arc<AtomicBool>,
    coordination: Arc<Coordination>,
    /// The lease of the run this pipeline belongs to (none outside a run).
    lease: Option<Arc<FlowLease>>,
}

impl Pipeline {
    /// A pipeline over `store`, leasing flows for the default lease time.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Pipeline {
        Pipeline::with_faults(
            store,
            clock,
            TestFaults::default(),
            Arc::new(Coordination::new(coordination::DEFAULT_LEASE)),
        )
    }

    fn with_faults(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        faults: TestFaults,
        coordination: Arc<Coordination>,
    ) -> Pipeline {
        Pipeline {
            shared: Arc::new(Shared {
                journal: Arc::new(Journal::new(store.clone(), clock.clone())),
                base_store: store.clone(),
                store,
                clock,
                faults,
                writes: Arc::new(AtomicU64::new(0)),
                stopping: Arc::new(AtomicBool::new(false)),
                coordination,
                lease: None,
            }),
        }
    }

    /// The same pipeline leasing flows for `ttl` (the manifest's
    /// `[store] lease_secs`).
    pub fn with_lease_time(self, ttl: Duration) -> Pipeline {
        Pipeline::with_faults(
            self.shared.base_store.clone(),
            self.shared.clock.clone(),
            self.shared.faults.clone(),
            Arc::new(Coordination::new(ttl)),
        )
    }

    /// A new pipeline over the same store with deliberate faults (tests only).
    #[cfg(any(test, feature = "test-support"))]
    pub fn with_test_faults(self, faults: TestFaults) -> Pipeline {
        Pipeline::with_faults(
            self.shared.base_store.clone(),
            self.shared.clock.clone(),
            faults,
            self.shared.coordination.clone(),
        )
    }

    /// The pipeline of one run: the same process state, the store fenced
    /// by the run's lease.
    fn for_run(&self, lease: Arc<FlowLease>) -> Pipeline {
        let store = self.shared.base_store.fenced(lease.fence().clone());
        Pipeline {
            shared: Arc::new(Shared {
                journal: Arc::new(self.shared.journal.with_store(store.clone())),
                store,
                base_store: self.shared.base_store.clone(),
                clock: self.shared.clock.clone(),
                faults: self.shared.faults.clone(),
                writes: self.shared.writes.clone(),
                stopping: self.shared.stopping.clone(),
                coordination: self.shared.coordination.clone(),
                lease: Some(lease),
            }),
        }
    }

    /// How this process takes leases (holder, lease time, takeover and
    /// lost-lease counts).
    pub fn coordination(&self) -> &Arc<Coordination> {
        &self.shared.coordination
    }

    /// Asks running flows to stop: writes already in flight finish and are
    /// recorded, no new record or page is started, cursors stay at the last
    /// settled page.
    pub fn request_stop(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
    }

    /// True once a stop was requested, or the run this pipeline belongs to
    /// may have lost its lease.
    pub fn is_stopping(&self) -> bool {
        self.shared.stopping.load(Ordering::SeqCst)
            || self.shared.lease.as_ref().is_some_and(|l| l.is_lost())
    }

    /// Refuses a remote write once the run may have lost its lease: the
    /// process that takes the flow over resolves the write's pending row by
    /// lookup, and a write sent after that would be a duplicate.
    fn may_write(&self) -> Result<(), PipelineError> {
        match &self.shared.lease {
            Some(lease) if lease.is_lost() => Err(PipelineError::LeaseLost {
                tenant: lease.fence().tenant.clone(),
                flow: lease.fence().flow.clone(),
                detail: "the lease was not renewed in time or was taken over before a write".into(),
            }),
            _ => Ok(()),
        }
    }

    /// The journal (counters, audit).
    pub fn journal(&self) -> &Arc<Journal> {
        &self.shared.journal
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// Runs one flow once, holding its lease; [`PipelineError::LeaseHeld`]
    /// when another process runs it.
    pub async fn run_flow(&self, flow: &Flow) -> Result<RunReport, PipelineError> {
        let lease = self.take_run_lease(flow)?;
        self.run_leased(flow, lease).await
    }

    /// Runs one flow once, waiting up to `wait` for another process to let
    /// its lease go.
    pub async fn run_flow_waiting(
        &self,
        flow: &Flow,
        wait: Duration,
    ) -> Result<RunReport, PipelineError> {
        let deadline = Instant::now() + wait;
        loop {
            match self.take_run_lease(flow) {
                Err(PipelineError::LeaseHeld(info)) if Instant::now() < deadline => {
                    let until_expiry =
                        Duration::from_millis(info.expires_ms.saturating_sub(self.wall_ms()));
                    let pause = until_expiry
                        .clamp(Duration::from_millis(50), Duration::from_millis(500))
                        .min(deadline.saturating_duration_since(Instant::now()));
                    tokio::time::sleep(pause).await;
                }
                Err(e) => return Err(e),
                Ok(lease) => return self.run_leased(flow, lease).await,
            }
        }
    }

    fn wall_ms(&self) -> u64 {
        crate::clock::SystemClock.now_ms()
    }

    /// Takes the lease of a flow for a run: its own, provided none of the
    /// flows it is exclusive with runs in another process (checked after
    /// taking ours, so of two such flows started at once in two processes,
    /// at least one sees the other and leaves; both may, and retry later).
    fn take_run_lease(&self, flow: &Flow) -> Result<FlowLease, PipelineError> {
        let lease = self.take_lease(&flow.tenant, &flow.name)?;
        if flow.exclusive_with.is_empty() {
            return Ok(lease);
        }
        let coordination = &self.shared.coordination;
        let now = self.wall_ms();
        let busy = self
            .shared
            .base_store
            .leases()
            .map_err(PipelineError::Store)
            .map(|leases| {
                leases.into_iter().find(|l| {
                    l.tenant == flow.tenant
                        && flow.exclusive_with.contains(&l.flow)
                        && l.holder.id != coordination.holder.id
                        && l.expires_ms > now
                        && !coordination::is_dead(&l.holder, &coordination.holder)
                })
            });
        match busy {
            Ok(None) => Ok(lease),
            Ok(Some(related)) => {
                lease.release()?;
                Err(PipelineError::LeaseHeld(Box::new(related)))
            }
            Err(e) => {
                lease.release()?;
                Err(e)
            }
        }
    }

    /// Takes the lease of a flow (audited when it replaced a lapsed one).
    fn take_lease(&self, tenant: &str, flow: &str) -> Result<FlowLease, PipelineError> {
        let coordination = &self.shared.coordination;
        match FlowLease::acquire(&self.shared.base_store, tenant, flow, coordination)? {
            Err(held) => Err(PipelineError::LeaseHeld(Box::new(held))),
            Ok((lease, took_over)) => {
                if let Some(previous) = took_over {
                    tracing::warn!(%tenant, %flow, previous = %coordination::describe(&previous), "took over a lapsed lease");
                    let fenced = self.shared.base_store.fenced(lease.fence().clone());
                    self.shared.journal.with_store(fenced).record(
                        tenant,
                        flow,
                        FlowEvent::LeaseTakenOver {
                            previous: coordination::describe(&previous),
                            token: lease.fence().token,
                        },
                    )?;
                }
                Ok(lease)
            }
        }
    }

    /// Runs a flow under a held lease, then releases it. A store write
    /// refused by the fence, or a lease found lost, ends as
    /// [`PipelineError::LeaseLost`] whatever the run itself returned.
    async fn run_leased(&self, flow: &Flow, lease: FlowLease) -> Result<RunReport, PipelineError> {
        let lease = Arc::new(lease);
        let run_pipeline = self.for_run(lease.clone());
        let result = run::FlowRun::new(run_pipeline, flow.clone()).run().await;
        let lost = |detail: String| {
            self.shared
                .coordination
                .lost
                .fetch_add(1, Ordering::Relaxed);
            lease.mark_lost();
            tracing::error!(tenant = %flow.tenant, flow = %flow.name, %detail, "lost the flow's lease");
            PipelineError::LeaseLost {
                tenant: flow.tenant.clone(),
                flow: flow.name.clone(),
                detail,
            }
        };
        let result = match result {
            Err(PipelineError::Store(StoreError::Fenced { current, .. })) => {
                Err(lost(format!("a write was refused: {current}")))
            }
            Err(PipelineError::LeaseLost { detail, .. }) => Err(lost(detail)),
            other if lease.is_lost() => match other {
                Err(e) => Err(lost(format!("and the run failed: {e}"))),
                Ok(_) => Err(lost("it was not renewed in time or was taken over".into())),
            },
            other => other,
        };
        // The run's tasks are done; ours is the last reference.
        match Arc::try_unwrap(lease) {
            Ok(lease) => lease.release()?,
            Err(_) => {
                tracing::warn!(tenant = %flow.tenant, flow = %flow.name, "lease still referenced after the run; it lapses by itself")
            }
        }
        result
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
    /// A record the source could not read has no content to retry, and the
    /// connector contract has no read of one record by its key:
    /// [`PipelineError::NotReplayable`], and the letter stays.
    pub fn replay_dead_letter(
        &self,
        tenant: &str,
        flow: &str,
        kind: LedgerKind,
        key: &str,
    ) -> Result<bool, PipelineError> {
        self.handle_dead_letter(tenant, flow, kind, key, "replayed", |entry| {
            let not_replayable = |detail: &str| PipelineError::NotReplayable {
                tenant: tenant.to_string(),
                flow: flow.to_string(),
                kind,
                key: key.to_string(),
                detail: detail.to_string(),
            };
            entry.state = match (entry.kind, &entry.body, &entry.source_doc) {
                (LedgerKind::Document, Some(_), _) => RecordState::Retrying,
                (LedgerKind::Source, _, Some(_)) => RecordState::Parked,
                (LedgerKind::Unreadable, _, _) => {
                    return Err(not_replayable(
                        "the source could not read this record, so there is nothing to map again, and connectors cannot read one record by its key; correct it in the source system (an edited record is listed again by the next run), then discard this dead letter",
                    ));
                }
                (LedgerKind::Document | LedgerKind::Source, _, _) => {
                    return Err(not_replayable(
                        "its content was not kept; discard it, and correct the record in the source system so the next run reads it again",
                    ));
                }
            };
            entry.attempts = 0;
            entry.reason = Some("replayed by the operator".into());
            Ok(())
        })
    }

    /// Drops a dead letter for good (kept in the ledger as skipped).
    pub fn discard_dead_letter(
        &self,
        tenant: &str,
        flow: &str,
        kind: LedgerKind,
        key: &str,
    ) -> Result<bool, PipelineError> {
        self.handle_dead_letter(tenant, flow, kind, key, "discarded", |entry| {
            entry.state = RecordState::Skipped;
            entry.reason = Some("discarded by the operator".into());
            entry.body = None;
            Ok(())
        })
    }

    /// Applies an operator's decision to dead letter `key` and audits it;
    /// false when `key` is not a dead letter.
    fn handle_dead_letter(
        &self,
        tenant: &str,
        flow: &str,
        kind: LedgerKind,
        key: &str,
        action: &'static str,
        decide: impl FnOnce(&mut LedgerEntry) -> Result<(), PipelineError>,
    ) -> Result<bool, PipelineError> {
        // Exclusive: under the flow's lease, so a run elsewhere never sees a
        // half-handled letter and this never overwrites what a run decided.
        let lease = self.take_lease(tenant, flow)?;
        let store = self.shared.base_store.fenced(lease.fence().clone());
        let handled = (|| {
            let Some(mut entry) = store.ledger_get(tenant, flow, kind, key)? else {
                return Ok(false);
            };
            if entry.state != RecordState::Dead {
                return Ok(false);
            }
            decide(&mut entry)?;
            entry.updated_ms = self.shared.clock.now_ms();
            self.shared.journal.with_store(store.clone()).record_with(
                tenant,
                flow,
                FlowEvent::DeadLetterHandled {
                    key: key.to_string(),
                    action,
                },
                std::slice::from_ref(&entry),
                &[],
            )?;
            Ok(true)
        })();
        lease.release()?;
        handled
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
