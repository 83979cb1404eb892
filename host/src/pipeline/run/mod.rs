//! One run of one flow, by phase: resolve what a previous run left
//! unsettled ([`deliver`]), map parked records again ([`record`]), then read
//! pages and map, deduplicate and write their records, each a task of its
//! own, up to the flow's concurrency ([`read`]), saving the cursor past each
//! page once it and the pages before it are settled.

mod deliver;
use deliver::Delivery;
mod read;
mod record;

use super::concurrency::{FirstError, KeysInFlight, SinkPool, WriteGate, lock};
use super::decide::is_due;
use super::trail::PageTrail;
use super::{Flow, FlowEvent, Pipeline, PipelineError, RunCounts, RunOutcome, RunReport};
use crate::mapping::{Bindings, XrefEntry};
use crate::runtime::Doc;
use crate::store::{FlowRun as StoredRun, LedgerEntry, LedgerKind, RecordState, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// How a document ended up in this run.
enum Settled {
    Done,
    Halt(String),
}

/// The outcome of a run cut short by a graceful stop.
fn stopped_for_shutdown() -> RunOutcome {
    RunOutcome::Incomplete("stopped for shutdown; the next run resumes here".into())
}

/// Counts of a run as they happen (atomics: no lock to poison).
#[derive(Debug, Default)]
struct Tally {
    read: AtomicU64,
    delivered: AtomicU64,
    linked: AtomicU64,
    unchanged: AtomicU64,
    parked: AtomicU64,
    dead: AtomicU64,
    skipped: AtomicU64,
    deferred: AtomicU64,
    retries: AtomicU64,
    unreadable: AtomicU64,
}

impl Tally {
    fn counts(&self) -> RunCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RunCounts {
            read: get(&self.read),
            delivered: get(&self.delivered),
            linked: get(&self.linked),
            unchanged: get(&self.unchanged),
            parked: get(&self.parked),
            dead: get(&self.dead),
            skipped: get(&self.skipped),
            deferred: get(&self.deferred),
            retries: get(&self.retries),
            unreadable: get(&self.unreadable),
        }
    }
}

/// Adds one to a run's count.
fn bump(count: &AtomicU64) {
    count.fetch_add(1, Ordering::Relaxed);
}

/// The crosswalk entries of a pending document, as the ledger keeps them.
fn xref_json(entries: &[XrefEntry]) -> Result<Option<String>, PipelineError> {
    if entries.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(entries)
        .map(Some)
        .map_err(|e| PipelineError::Broken(format!("crosswalk entries do not serialize: {e}")))
}

/// The crosswalk entries a ledger row keeps; unparsable ones stop the run
/// (a document delivered without them would leave its references unset).
fn xref_parse(entry: &LedgerEntry) -> Result<Vec<XrefEntry>, PipelineError> {
    match entry.xref.as_deref() {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(text).map_err(|e| {
            PipelineError::Store(StoreError::Corrupt {
                what: format!(
                    "crosswalk entries of ledger row {}/{}/{} {}",
                    entry.tenant, entry.flow, entry.kind, entry.key
                ),
                detail: e.to_string(),
            })
        }),
    }
}

pub(super) struct FlowRun {
    pipeline: Pipeline,
    flow: Flow,
    bindings: Bindings,
    sinks: SinkPool,
    /// The first halt of the run (set once).
    halted: OnceLock<String>,
    tally: Tally,
    write_gate: WriteGate,
    in_flight: KeysInFlight,
    /// The pages of this run not yet passed by the cursor.
    trail: Mutex<PageTrail>,
    /// The first store error of the run's records.
    first_error: FirstError,
    /// Source key -> the last page that listed it, so a record listed again
    /// by a later page (changed between two page reads) is processed once,
    /// as last read, never the stale copy after the fresh one.
    latest_listing: Mutex<HashMap<String, usize>>,
}

impl FlowRun {
    pub fn new(pipeline: Pipeline, flow: Flow) -> FlowRun {
        let bindings = Bindings::new(&Default::default(), &flow.config);
        FlowRun {
            pipeline,
            sinks: SinkPool::new(flow.sink.connection.clone(), flow.concurrency),
            flow,
            bindings,
            halted: OnceLock::new(),
            tally: Tally::default(),
            write_gate: WriteGate::default(),
            in_flight: KeysInFlight::default(),
            trail: Mutex::new(PageTrail::default()),
            first_error: FirstError::default(),
            latest_listing: Mutex::new(HashMap::new()),
        }
    }

    fn tenant(&self) -> &str {
        &self.flow.tenant
    }

    fn now(&self) -> u64 {
        self.pipeline.shared.clock.now_ms()
    }

    fn event(&self, event: FlowEvent) -> Result<(), PipelineError> {
        Ok(self
            .pipeline
            .shared
            .journal
            .record(&self.flow.tenant, &self.flow.name, event)?)
    }

    /// A new ledger row of this flow.
    fn row(
        &self,
        kind: LedgerKind,
        key: &str,
        source_key: &str,
        state: RecordState,
    ) -> LedgerEntry {
        LedgerEntry::new(
            &self.flow.tenant,
            &self.flow.name,
            kind,
            key,
            source_key,
            state,
            self.now(),
        )
    }

    fn halt_reason(&self) -> Option<String> {
        self.halted.get().cloned()
    }

    fn halt(&self, reason: String) {
        // The first halt wins; a later one is the same flow stopping anyway.
        let _ = self.halted.set(reason);
    }

    pub async fn run(mut self) -> Result<RunReport, PipelineError> {
        let started_ms = self.now();
        self.bindings = Bindings::new(
            &self.pipeline.shared.store.xrefs(self.tenant())?,
            &self.flow.config,
        );
        // Shared with the tasks that process this run's records.
        let run = Arc::new(self);
        let outcome = run.run_inner().await?;
        run.finish(started_ms, outcome)
    }

    /// Journals and stores how the run ended; its report.
    fn finish(&self, started_ms: u64, outcome: RunOutcome) -> Result<RunReport, PipelineError> {
        let store = &self.pipeline.shared.store;
        let counts = self.tally.counts();
        let (outcome_word, message) = match &outcome {
            RunOutcome::Completed => ("ok", None),
            RunOutcome::Halted(m) => ("halted", Some(m.clone())),
            RunOutcome::Incomplete(m) => ("incomplete", Some(m.clone())),
        };
        if let RunOutcome::Halted(m) = &outcome {
            self.event(FlowEvent::FlowHalted { message: m.clone() })?;
        }
        self.event(FlowEvent::FlowCompleted {
            summary: format!(
                "{outcome_word}: read {}, delivered {}, linked {}, unchanged {}, parked {}, dead {}, skipped {}, deferred {}, retries {}, unreadable {}",
                counts.read,
                counts.delivered,
                counts.linked,
                counts.unchanged,
                counts.parked,
                counts.dead,
                counts.skipped,
                counts.deferred,
                counts.retries,
                counts.unreadable
            ),
        })?;
        store.run_put(&StoredRun {
            tenant: self.flow.tenant.clone(),
            flow: self.flow.name.clone(),
            started_ms,
            finished_ms: self.now(),
            outcome: outcome_word.into(),
            message,
            read: counts.read,
            delivered: counts.delivered,
            unchanged: counts.unchanged,
            parked: counts.parked,
            dead: counts.dead,
            retries: counts.retries,
            linked: counts.linked,
            skipped: counts.skipped,
            deferred: counts.deferred,
            unreadable: counts.unreadable,
        })?;
        Ok(RunReport {
            tenant: self.flow.tenant.clone(),
            flow: self.flow.name.clone(),
            outcome,
            counts,
        })
    }

    async fn run_inner(self: &Arc<Self>) -> Result<RunOutcome, PipelineError> {
        let store = self.pipeline.shared.store.clone();
        let (tenant, flow) = (self.flow.tenant.as_str(), self.flow.name.as_str());

        // 1. Documents a previous run left with an unknown or failed outcome:
        //    look them up before anything is posted again.
        for state in [RecordState::Pending, RecordState::Retrying] {
            for entry in store.ledger_in_state(tenant, flow, state, usize::MAX >> 1)? {
                if !is_due(&entry, self.now()) {
                    // Its Retry-After has not passed: a later run writes it.
                    bump(&self.tally.deferred);
                    continue;
                }
                let Some(body) = entry.body.clone() else {
                    self.dead(
                        entry.kind,
                        &entry.source_key,
                        &entry.key,
                        "the document body was lost",
                        None,
                        None,
                    )?;
                    continue;
                };
                let xref = xref_parse(&entry)?;
                if let Settled::Halt(m) = self
                    .deliver(Delivery {
                        source_key: &entry.source_key,
                        key: &entry.key,
                        body: &body,
                        hash: &entry.hash,
                        source_doc: entry.source_doc.as_deref(),
                        xref: &xref,
                        lookup_first: true,
                        prior_attempts: entry.attempts,
                    })
                    .await?
                {
                    return Ok(RunOutcome::Halted(m));
                }
            }
        }

        // 2. Parked source records: map them again with today's crosswalks.
        let parked = store.ledger_in_state(tenant, flow, RecordState::Parked, usize::MAX >> 1)?;
        let docs: Vec<Doc> = parked
            .into_iter()
            .filter_map(|e| {
                e.source_doc.map(|body| Doc {
                    key: e.source_key,
                    body,
                })
            })
            .collect();
        self.process_records(docs).await?;
        if let Some(m) = self.halt_reason() {
            return Ok(RunOutcome::Halted(m));
        }

        // 3. New pages from the saved cursor.
        self.read_and_process_pages().await
    }

    /// Registers a page of `docs` with the cursor after it and lists its
    /// records; returns the page's index.
    fn open_page(&self, docs: &[Doc], cursor: Option<String>) -> Result<usize, PipelineError> {
        let index = lock(&self.trail, "the page trail")?.open(docs.len(), cursor);
        let mut listed = lock(&self.latest_listing, "the latest listings")?;
        for doc in docs {
            listed.insert(doc.key.clone(), index);
        }
        Ok(index)
    }
}
