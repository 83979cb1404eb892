//! One run of one flow: resolve what a previous run left unsettled, map
//! parked records again, then read pages and map, deduplicate and write their
//! records (each a task of its own, up to the flow's concurrency), saving the
//! cursor past each page once it and the pages before it are settled.

use super::{Flow, FlowEvent, OnChange, Pipeline, PipelineError, RunCounts, RunOutcome, RunReport};
use crate::mapping::{Action, Bindings, Outcome, Output, XrefEntry};
use crate::runtime::{CallError, ConnectorInstance, Doc, Failure, Page};
use crate::store::{FlowRun as StoredRun, LedgerEntry, RecordState};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Prefix of ledger keys that stand for a source record (parked or unmappable)
/// rather than a mapped document.
const SOURCE_KEY_PREFIX: &str = "source:";
/// Prefix of ledger keys of unreadable source records.
const UNREADABLE_KEY_PREFIX: &str = "unreadable:";

/// How a document ended up in this run.
enum Settled {
    Done,
    Halt(String),
}

/// What a failed call means for the flow.
enum Verdict {
    /// Stop the flow; the message is the operator's to-do.
    Halt(String),
    /// This record's content was refused.
    Reject(String),
    /// Try again later; `unknown_outcome` when the remote side may have
    /// acted (look up before re-posting); `wait` from Retry-After.
    Retry {
        reason: String,
        unknown_outcome: bool,
        wait: Option<Duration>,
    },
}

fn verdict(error: &CallError) -> Verdict {
    match error {
        CallError::Failed { failure, .. } => match failure {
            Failure::Unauthorized(m) => Verdict::Halt(format!("unauthorized: {m}")),
            Failure::NotEnabled(m) => Verdict::Halt(format!("not enabled: {m}")),
            Failure::Config(m) => Verdict::Halt(format!("configuration: {m}")),
            Failure::Rejected(m) => Verdict::Reject(m.clone()),
            Failure::RateLimited(t) => Verdict::Retry {
                reason: format!("rate limited: {}", t.message),
                unknown_outcome: false,
                wait: t.retry_after_secs.map(|s| Duration::from_secs(s.into())),
            },
            Failure::Transient(m) => Verdict::Retry {
                reason: format!("transient: {m}"),
                unknown_outcome: true,
                wait: None,
            },
            Failure::Protocol(m) => Verdict::Retry {
                reason: format!("unexpected answer: {m}"),
                unknown_outcome: true,
                wait: None,
            },
        },
        CallError::Contained { .. } | CallError::Instantiate { .. } => Verdict::Retry {
            reason: error.to_string(),
            unknown_outcome: true,
            wait: None,
        },
        CallError::Unsupported { .. } => Verdict::Halt(error.to_string()),
    }
}

/// The outcome of a run cut short by a graceful stop.
fn stopped_for_shutdown() -> RunOutcome {
    RunOutcome::Incomplete("stopped for shutdown; the next run resumes here".into())
}

fn xref_json(entries: &[XrefEntry]) -> Option<String> {
    (!entries.is_empty()).then(|| serde_json::to_string(entries).unwrap_or_default())
}

fn xref_parse(text: Option<&str>) -> Vec<XrefEntry> {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The source instance of a run, created on first use and replaced after a
/// containment.
struct SourceReader {
    instance: Option<ConnectorInstance>,
}

/// Sink instances of a run, up to the flow's concurrency.
struct SinkPool {
    idle: tokio::sync::Mutex<Vec<ConnectorInstance>>,
    permits: tokio::sync::Semaphore,
}

/// The pages of a run in the order they were read, with how many of their
/// records are not yet settled. Records of consecutive pages run
/// concurrently, but a page's cursor may be saved only once that page and all
/// pages before it are settled: a crash then re-reads, never skips.
#[derive(Debug, Default)]
struct PageTrail {
    /// Pages not yet passed: (records unsettled, the cursor after the page).
    open: std::collections::VecDeque<(usize, Option<String>)>,
    /// The index of `open[0]` among the run's pages.
    passed: usize,
}

impl PageTrail {
    /// Registers the next page; returns its index.
    fn open(&mut self, records: usize, cursor: Option<String>) -> usize {
        self.open.push_back((records, cursor));
        self.passed + self.open.len() - 1
    }

    /// One record of page `index` is settled.
    fn settle(&mut self, index: usize) {
        if let Some(page) = index
            .checked_sub(self.passed)
            .and_then(|i| self.open.get_mut(i))
        {
            page.0 = page.0.saturating_sub(1);
        }
    }

    /// Passes the leading settled pages; the cursor to save, if any moved it
    /// (a page without a cursor keeps the previous one).
    fn take_settled(&mut self) -> Option<String> {
        let mut cursor = None;
        while self.open.front().is_some_and(|(left, _)| *left == 0) {
            if let Some((_, Some(c))) = self.open.pop_front() {
                cursor = Some(c);
            }
            self.passed += 1;
        }
        cursor
    }
}

/// The first store error among concurrent records; the records not yet
/// started see it and stay unstarted.
#[derive(Default)]
struct FirstError(Mutex<Option<PipelineError>>);

impl FirstError {
    fn is_set(&self) -> bool {
        self.0.lock().map(|e| e.is_some()).unwrap_or(true)
    }

    fn set(&self, error: PipelineError) {
        if let Ok(mut slot) = self.0.lock()
            && slot.is_none()
        {
            *slot = Some(error);
        }
    }

    fn result(&self) -> Result<(), PipelineError> {
        match self.0.lock().ok().and_then(|mut e| e.take()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Output keys being handled right now. Records of consecutive pages run
/// concurrently, and a source may list one record twice (changed between two
/// page reads): the second waits for the first, then finds it in the ledger,
/// instead of both seeing "new" and posting twice.
#[derive(Default)]
struct KeysInFlight {
    held: Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
}

impl KeysInFlight {
    async fn hold(&self, key: &str) -> KeyHold<'_> {
        let lock = self
            .held
            .lock()
            .map(|mut held| held.entry(key.to_string()).or_default().clone())
            .unwrap_or_default();
        let guard = lock.clone().lock_owned().await;
        KeyHold {
            keys: self,
            key: key.to_string(),
            lock,
            guard: Some(guard),
        }
    }
}

/// Held while one output key is handled; the last holder removes the entry.
struct KeyHold<'a> {
    keys: &'a KeysInFlight,
    key: String,
    lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for KeyHold<'_> {
    fn drop(&mut self) {
        self.guard.take();
        if let Ok(mut held) = self.keys.held.lock()
            // The map's reference and ours: nobody else waits for this key.
            && std::sync::Arc::strong_count(&self.lock) == 2
        {
            held.remove(&self.key);
        }
    }
}

pub(super) struct FlowRun {
    pipeline: Pipeline,
    flow: Flow,
    bindings: Bindings,
    sinks: SinkPool,
    halted: Mutex<Option<String>>,
    counts: Mutex<RunCounts>,
    retries: AtomicU64,
    /// Until one write of this run succeeded, writes go one at a time: a
    /// target that is not set up (or down) sees one attempt, not one per
    /// concurrent record.
    write_gate: tokio::sync::Mutex<()>,
    write_proven: std::sync::atomic::AtomicBool,
    in_flight: KeysInFlight,
    /// The pages of this run not yet passed by the cursor.
    trail: Mutex<PageTrail>,
    /// The first store error of the run's records.
    first_error: FirstError,
    /// Source key -> the last page that listed it, so a record listed again
    /// by a later page (changed between two page reads) is processed once,
    /// as last read, never the stale copy after the fresh one.
    latest_listing: Mutex<std::collections::HashMap<String, usize>>,
}

impl FlowRun {
    pub fn new(pipeline: Pipeline, flow: Flow) -> FlowRun {
        let concurrency = flow.concurrency.max(1);
        let bindings = Bindings::new(&Default::default(), &flow.config);
        FlowRun {
            pipeline,
            flow,
            bindings,
            sinks: SinkPool {
                idle: tokio::sync::Mutex::new(Vec::new()),
                permits: tokio::sync::Semaphore::new(concurrency),
            },
            halted: Mutex::new(None),
            counts: Mutex::new(RunCounts::default()),
            retries: AtomicU64::new(0),
            write_gate: tokio::sync::Mutex::new(()),
            write_proven: std::sync::atomic::AtomicBool::new(false),
            in_flight: KeysInFlight::default(),
            trail: Mutex::new(PageTrail::default()),
            first_error: FirstError::default(),
            latest_listing: Mutex::new(std::collections::HashMap::new()),
        }
    }

    fn tenant(&self) -> &str {
        &self.flow.tenant
    }

    fn now(&self) -> u64 {
        self.pipeline.shared.clock.now_ms()
    }

    fn count(&self, f: impl FnOnce(&mut RunCounts)) {
        if let Ok(mut c) = self.counts.lock() {
            f(&mut c);
        }
    }

    fn event(&self, event: FlowEvent) -> Result<(), PipelineError> {
        Ok(self
            .pipeline
            .shared
            .journal
            .record(&self.flow.tenant, &self.flow.name, event)?)
    }

    /// True for a deferred document whose Retry-After has not passed: it
    /// stays in the retry queue (counted as deferred) for a later run.
    fn not_due(&self, entry: &LedgerEntry) -> bool {
        let waiting = entry.state == RecordState::Retrying
            && entry.not_before_ms.is_some_and(|t| t > self.now());
        if waiting {
            self.count(|c| c.deferred += 1);
        }
        waiting
    }

    fn halt_reason(&self) -> Option<String> {
        self.halted.lock().ok().and_then(|h| h.clone())
    }

    fn halt(&self, reason: String) {
        if let Ok(mut h) = self.halted.lock()
            && h.is_none()
        {
            *h = Some(reason);
        }
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
        let mut counts = self.counts.lock().map(|c| c.clone()).unwrap_or_default();
        counts.retries = self.retries.load(Ordering::Relaxed);
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
                "{outcome_word}: read {}, delivered {}, linked {}, unchanged {}, parked {}, dead {}, skipped {}, deferred {}, retries {}",
                counts.read,
                counts.delivered,
                counts.linked,
                counts.unchanged,
                counts.parked,
                counts.dead,
                counts.skipped,
                counts.deferred,
                counts.retries
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
            linked: counts.linked,
            unchanged: counts.unchanged,
            parked: counts.parked,
            dead: counts.dead,
            skipped: counts.skipped,
            deferred: counts.deferred,
            unreadable: counts.unreadable,
            retries: counts.retries,
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
                if self.not_due(&entry) {
                    continue;
                }
                let Some(body) = entry.body.clone() else {
                    self.dead(
                        &entry.source_key,
                        &entry.key,
                        "the document body was lost",
                        None,
                        None,
                    )?;
                    continue;
                };
                let xref = xref_parse(entry.xref.as_deref());
                if let Settled::Halt(m) = self
                    .deliver(
                        &entry.source_key,
                        &entry.key,
                        &body,
                        &entry.hash,
                        entry.source_doc.as_deref(),
                        &xref,
                        true,
                        entry.attempts,
                    )
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

    /// Reads pages from the saved cursor and processes their records as one
    /// stream: the reader stays a page ahead, and the records of the next page
    /// start while the last ones of a page are still being written, so the
    /// flow's concurrency stays full across page boundaries. The cursor still
    /// advances only past a page whose records are all settled, and every page
    /// before it too ([`PageTrail`]).
    async fn read_and_process_pages(self: &Arc<Self>) -> Result<RunOutcome, PipelineError> {
        let store = &self.pipeline.shared.store;
        let (tenant, flow) = (self.flow.tenant.as_str(), self.flow.name.as_str());
        let start = store.cursor(tenant, flow)?;
        let (trail, first_error) = (&self.trail, &self.first_error);
        let (pages_tx, pages_rx) = tokio::sync::mpsc::channel::<Page>(1);

        // Ok(true): read to the last page; Ok(false): stopped reading early.
        let reader = async {
            let pages_tx = pages_tx;
            let mut source = SourceReader { instance: None };
            let mut cursor = start;
            loop {
                let page = self.read_page(&mut source, cursor.clone()).await?;
                let more = page.more;
                cursor = page.cursor.clone().or(cursor);
                if pages_tx.send(page).await.is_err() {
                    return Ok(false);
                }
                if !more {
                    return Ok(true);
                }
                if self.pipeline.is_stopping()
                    || self.halt_reason().is_some()
                    || first_error.is_set()
                {
                    return Ok(false);
                }
            }
        };

        let pages = futures::stream::unfold(pages_rx, |mut rx| async move {
            rx.recv().await.map(|page| (page, rx))
        });
        let records = pages.flat_map(|page| {
            for bad in &page.bad_records {
                if let Err(e) = self.unreadable(&bad.key, &bad.reason) {
                    first_error.set(e);
                }
            }
            let index = trail
                .lock()
                .map(|mut t| t.open(page.docs.len(), page.cursor.clone()))
                .unwrap_or_default();
            if let Ok(mut listed) = self.latest_listing.lock() {
                for doc in &page.docs {
                    listed.insert(doc.key.clone(), index);
                }
            }
            if let Err(e) = self.commit_settled_pages() {
                first_error.set(e);
            }
            futures::stream::iter(std::iter::repeat(index).zip(page.docs))
        });
        // Each record is a task of its own, so a run uses every worker
        // thread (wasm, JSON and XML work, SQLite) instead of the one that
        // polls the run; the permits still bound the writes in flight.
        let worker = records.for_each_concurrent(self.flow.concurrency.max(1), |(page, doc)| {
            let run = Arc::clone(self);
            async move {
                let key = doc.key.clone();
                let task = tokio::spawn({
                    let run = Arc::clone(&run);
                    async move { run.process_paged_record(page, doc).await }
                });
                // A panic (a bug) stops the run like a store error: no new
                // record starts, those in flight finish, its page stays
                // unsettled. A cancelled task (runtime shutting down) leaves
                // its page unsettled too.
                if let Err(e) = task.await
                    && e.is_panic()
                {
                    let panic = e.into_panic();
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|m| m.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "(no message)".into());
                    run.first_error
                        .set(PipelineError::RecordPanicked { key, message });
                }
            }
        });

        let (read, ()) = tokio::join!(reader, worker);
        first_error.result()?;
        if self.pipeline.is_stopping() {
            return Ok(stopped_for_shutdown());
        }
        if let Some(m) = self.halt_reason() {
            // Unsettled pages keep the cursor before them; they are read again.
            return Ok(RunOutcome::Halted(m));
        }
        match read {
            Ok(true) => Ok(RunOutcome::Completed),
            Ok(false) => Ok(stopped_for_shutdown()),
            Err(outcome) => Ok(outcome),
        }
    }

    /// Processes one record of page `page`, then passes the pages it settled.
    async fn process_paged_record(&self, page: usize, doc: Doc) {
        if self.first_error.is_set() || self.halt_reason().is_some() || self.pipeline.is_stopping()
        {
            // Unstarted: the page stays unsettled, so the cursor stays before it.
            return;
        }
        // One listing of a source record at a time, in the order read.
        let _source = self
            .in_flight
            .hold(&format!("{SOURCE_KEY_PREFIX}{}", doc.key))
            .await;
        let latest = self
            .latest_listing
            .lock()
            .ok()
            .and_then(|listed| listed.get(&doc.key).copied());
        let processed = if latest.is_some_and(|l| l > page) {
            // A later page lists this record again: that copy is processed.
            Ok(())
        } else {
            let key = doc.key.clone();
            let processed = self.process_record(doc).await;
            if let Ok(mut listed) = self.latest_listing.lock()
                && listed.get(&key) == Some(&page)
            {
                listed.remove(&key);
            }
            processed
        };
        let settled = processed.and_then(|()| {
            if let Ok(mut t) = self.trail.lock() {
                t.settle(page);
            }
            self.commit_settled_pages()
        });
        if let Err(e) = settled {
            self.first_error.set(e);
        }
    }

    /// Saves the cursor past the leading pages that are settled. Done under the
    /// trail's lock so that two records finishing at once cannot save cursors
    /// out of order; never after a halt, whose skipped writes leave a page
    /// unfinished even where its records returned, nor after a store error
    /// (an unreadable record's dead letter may not be stored).
    fn commit_settled_pages(&self) -> Result<(), PipelineError> {
        let Ok(mut trail) = self.trail.lock() else {
            return Ok(());
        };
        if self.halt_reason().is_some() || self.first_error.is_set() {
            return Ok(());
        }
        if let Some(cursor) = trail.take_settled() {
            self.pipeline.shared.store.set_cursor(
                &self.flow.tenant,
                &self.flow.name,
                Some(&cursor),
            )?;
        }
        Ok(())
    }

    /// Reads one page, retrying transient failures with the flow's backoff;
    /// `Err` carries the run's outcome when the source cannot be read now.
    async fn read_page(
        &self,
        source: &mut SourceReader,
        cursor: Option<String>,
    ) -> Result<Page, RunOutcome> {
        let stream = &self.flow.source.stream;
        let mut attempt = 0u32;
        loop {
            if self.pipeline.is_stopping() {
                return Err(stopped_for_shutdown());
            }
            let instance = match &mut source.instance {
                Some(i) if !i.is_stopped() => i,
                _ => {
                    let handle = &self.flow.source.connection;
                    match handle.connector.instantiate(&handle.sandbox).await {
                        Ok(i) => source.instance.insert(i),
                        Err(e) => return Err(RunOutcome::Incomplete(e.to_string())),
                    }
                }
            };
            let error = match instance
                .read(
                    &self.flow.source.connection.connection,
                    stream,
                    cursor.as_deref(),
                )
                .await
            {
                Ok(page) => return Ok(page),
                Err(error) => error,
            };
            let (reason, wait) = match verdict(&error) {
                Verdict::Halt(m) => {
                    return Err(RunOutcome::Halted(format!("reading {stream}: {m}")));
                }
                Verdict::Reject(m) => {
                    return Err(RunOutcome::Incomplete(format!(
                        "reading {stream}: refused: {m}"
                    )));
                }
                Verdict::Retry { reason, wait, .. } => (reason, wait),
            };
            attempt += 1;
            match self.flow.retry.delay(attempt, wait) {
                Some(d) => {
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(d).await;
                }
                None => {
                    return Err(RunOutcome::Incomplete(format!(
                        "reading {stream}: {reason} (gave up after {attempt} attempts; the next run resumes here)"
                    )));
                }
            }
        }
    }

    async fn process_records(&self, docs: Vec<Doc>) -> Result<(), PipelineError> {
        let first_error = FirstError::default();
        futures::stream::iter(docs)
            .for_each_concurrent(self.flow.concurrency.max(1), |doc| async {
                if first_error.is_set()
                    || self.halt_reason().is_some()
                    || self.pipeline.is_stopping()
                {
                    return;
                }
                if let Err(e) = self.process_record(doc).await {
                    first_error.set(e);
                }
            })
            .await;
        first_error.result()
    }

    async fn process_record(&self, doc: Doc) -> Result<(), PipelineError> {
        self.count(|c| c.read += 1);
        let store = &self.pipeline.shared.store;
        let (tenant, flow) = (self.flow.tenant.as_str(), self.flow.name.as_str());
        let source_row = format!("{SOURCE_KEY_PREFIX}{}", doc.key);
        let previous = store.ledger_get(tenant, flow, &source_row)?;
        match self.flow.mapping.run(&doc.body, &self.bindings) {
            Outcome::Parked(reason) => {
                self.count(|c| c.parked += 1);
                let unchanged = previous.as_ref().is_some_and(|p| {
                    p.state == RecordState::Parked && p.reason.as_deref() == Some(reason.as_str())
                });
                store.ledger_put(&LedgerEntry {
                    tenant: tenant.into(),
                    flow: flow.into(),
                    key: source_row,
                    source_key: doc.key.clone(),
                    hash: sha256_hex(&doc.body),
                    state: RecordState::Parked,
                    attempts: 0,
                    target_key: None,
                    reason: Some(reason.clone()),
                    source_doc: Some(doc.body),
                    body: None,
                    updated_ms: self.now(),
                    xref: None,
                    not_before_ms: None,
                })?;
                if !unchanged {
                    self.event(FlowEvent::RecordParked {
                        source_key: doc.key,
                        reason,
                    })?;
                }
                Ok(())
            }
            Outcome::Failed(reason) => {
                let reason = format!("mapping {}: {reason}", self.flow.mapping.name());
                let same = previous.as_ref().is_some_and(|p| {
                    p.state == RecordState::Dead && p.hash == sha256_hex(&doc.body)
                });
                if same {
                    return Ok(());
                }
                self.dead(&doc.key, &source_row, &reason, Some(&doc.body), None)
            }
            Outcome::Mapped(outputs) => {
                if previous.is_some() {
                    store.ledger_delete(tenant, flow, &source_row)?;
                }
                // The documents of one record (e.g. one PO per vendor) are
                // independent: write them concurrently; the sink permits
                // still bound the writes in flight to the flow's concurrency.
                let results = futures::future::join_all(outputs.into_iter().map(|output| {
                    let doc = &doc;
                    async move {
                        if self.halt_reason().is_some() {
                            return Ok(());
                        }
                        self.handle_output(doc, output).await
                    }
                }))
                .await;
                results.into_iter().collect::<Result<(), _>>()
            }
        }
    }

    async fn handle_output(&self, doc: &Doc, output: Output) -> Result<(), PipelineError> {
        let _hold = self.in_flight.hold(&output.key).await;
        let store = &self.pipeline.shared.store;
        let (tenant, flow) = (self.flow.tenant.as_str(), self.flow.name.as_str());
        let existing = store.ledger_get(tenant, flow, &output.key)?;
        match output.action {
            Action::Link(target) => {
                if existing.as_ref().is_some_and(|e| {
                    e.state == RecordState::Delivered
                        && e.target_key.as_deref() == Some(target.as_str())
                }) {
                    self.count(|c| c.unchanged += 1);
                    return Ok(());
                }
                self.settle_delivered(
                    &doc.key,
                    &output.key,
                    &sha256_hex(&target),
                    &target,
                    &output.xref,
                    None,
                    "mapping",
                )
            }
            Action::Skip(reason) => {
                let keep = existing.as_ref().is_some_and(|e| {
                    e.state == RecordState::Delivered
                        || (e.state == RecordState::Skipped
                            && e.reason.as_deref() == Some(reason.as_str()))
                });
                if keep {
                    self.count(|c| c.unchanged += 1);
                    return Ok(());
                }
                self.count(|c| c.skipped += 1);
                store.ledger_put(&LedgerEntry {
                    tenant: tenant.into(),
                    flow: flow.into(),
                    key: output.key.clone(),
                    source_key: doc.key.clone(),
                    hash: sha256_hex(&reason),
                    state: RecordState::Skipped,
                    attempts: 0,
                    target_key: None,
                    reason: Some(reason.clone()),
                    source_doc: None,
                    body: None,
                    updated_ms: self.now(),
                    xref: None,
                    not_before_ms: None,
                })?;
                self.event(FlowEvent::RecordSkipped {
                    source_key: doc.key.clone(),
                    key: output.key,
                    reason,
                })
            }
            Action::Write(body) => {
                let hash = sha256_hex(&body);
                match existing {
                    Some(e)
                        if e.hash == hash
                            && matches!(e.state, RecordState::Delivered | RecordState::Dead) =>
                    {
                        self.count(|c| c.unchanged += 1);
                        Ok(())
                    }
                    // Delivered, or a dead letter of a document delivered
                    // before (changed after delivery), changed again.
                    Some(e)
                        if e.state == RecordState::Delivered
                            || (e.state == RecordState::Dead && e.target_key.is_some()) =>
                    {
                        self.changed(doc, &output.key, e, &body, &hash, &output.xref)
                            .await
                    }
                    Some(e) if self.not_due(&e) => Ok(()),
                    other => {
                        // Pending or retrying: an earlier attempt's outcome is
                        // unknown. A dead letter without a target may still have
                        // been delivered (recorded before dead letters kept their
                        // target). Either is looked up before it is posted.
                        let (lookup_first, attempts) = match &other {
                            Some(e)
                                if matches!(
                                    e.state,
                                    RecordState::Pending
                                        | RecordState::Retrying
                                        | RecordState::Dead
                                ) =>
                            {
                                (true, e.attempts)
                            }
                            _ => (false, 0),
                        };
                        self.deliver_or_halt(
                            &doc.key,
                            &output.key,
                            &body,
                            &hash,
                            Some(&doc.body),
                            &output.xref,
                            lookup_first,
                            attempts,
                        )
                        .await
                    }
                }
            }
        }
    }

    async fn changed(
        &self,
        doc: &Doc,
        key: &str,
        mut entry: LedgerEntry,
        body: &str,
        hash: &str,
        xref: &[XrefEntry],
    ) -> Result<(), PipelineError> {
        let policy = self.flow.on_change;
        self.event(FlowEvent::RecordChanged {
            source_key: doc.key.clone(),
            key: key.to_string(),
            policy: policy.as_str(),
            hash: hash.to_string(),
        })?;
        match policy {
            OnChange::Ignore => {
                self.count(|c| c.unchanged += 1);
                entry.hash = hash.to_string();
                entry.reason = Some("changed at the source after delivery; ignored by policy".into());
                entry.updated_ms = self.now();
                Ok(self.pipeline.shared.store.ledger_put(&entry)?)
            }
            OnChange::DeadLetter => self.dead(
                &doc.key,
                key,
                &format!(
                    "changed at the source after delivery (target {}); review, then replay or discard",
                    entry.target_key.as_deref().unwrap_or("?")
                ),
                Some(&doc.body),
                Some((body, hash)),
            ),
            OnChange::Rewrite => {
                self.deliver_or_halt(&doc.key, key, body, hash, Some(&doc.body), xref, false, entry.attempts).await
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn deliver_or_halt(
        &self,
        source_key: &str,
        key: &str,
        body: &str,
        hash: &str,
        source_doc: Option<&str>,
        xref: &[XrefEntry],
        lookup_first: bool,
        prior_attempts: u32,
    ) -> Result<(), PipelineError> {
        if let Settled::Halt(m) = self
            .deliver(
                source_key,
                key,
                body,
                hash,
                source_doc,
                xref,
                lookup_first,
                prior_attempts,
            )
            .await?
        {
            self.halt(m);
        }
        Ok(())
    }

    /// Writes one document: pending first, lookup when the outcome of an
    /// earlier attempt is unknown, retries with backoff.
    #[allow(clippy::too_many_arguments)]
    async fn deliver(
        &self,
        source_key: &str,
        key: &str,
        body: &str,
        hash: &str,
        source_doc: Option<&str>,
        xref: &[XrefEntry],
        mut lookup_first: bool,
        prior_attempts: u32,
    ) -> Result<Settled, PipelineError> {
        let store = &self.pipeline.shared.store;
        let sink = &self.flow.sink;
        let mut entry = LedgerEntry {
            tenant: self.flow.tenant.clone(),
            flow: self.flow.name.clone(),
            key: key.to_string(),
            source_key: source_key.to_string(),
            hash: hash.to_string(),
            state: RecordState::Pending,
            attempts: prior_attempts,
            target_key: None,
            reason: None,
            source_doc: source_doc.map(str::to_string),
            body: Some(body.to_string()),
            updated_ms: self.now(),
            xref: xref_json(xref),
            not_before_ms: None,
        };
        if lookup_first {
            // A fresh document is recorded pending right before its write
            // (below); one with an unknown outcome is refreshed now.
            store.ledger_put(&entry)?;
        }
        let doc = Doc {
            key: key.to_string(),
            body: body.to_string(),
        };
        let _permit = self.sinks.permits.acquire().await;
        let mut instance = match self.take_sink().await {
            Ok(i) => i,
            Err(e) => return self.defer(entry, &e.to_string(), None),
        };
        let mut retry = 0u32;
        let result = loop {
            if let Some(m) = self.halt_reason() {
                entry.state = RecordState::Retrying;
                entry.reason = Some(format!("flow halted: {m}"));
                store.ledger_put(&entry)?;
                break Settled::Done;
            }
            let failure = if lookup_first {
                match instance
                    .lookup(&sink.connection.connection, &sink.stream, key)
                    .await
                {
                    Ok(Some(target)) => {
                        self.settle_delivered(
                            source_key, key, hash, &target, xref, None, "lookup",
                        )?;
                        break Settled::Done;
                    }
                    Ok(None) => None,
                    Err(e) => Some(e),
                }
            } else {
                None
            };
            // Held from before the write until its verdict has set any halt:
            // a write queued at the gate must see that halt, not post again.
            let mut gate = None;
            let failure = match failure {
                Some(e) => e,
                None => {
                    gate = self.pass_write_gate().await;
                    if let Some(m) = self.halt_reason() {
                        entry.state = RecordState::Retrying;
                        entry.reason = Some(format!("flow halted: {m}"));
                        store.ledger_put(&entry)?;
                        break Settled::Done;
                    }
                    entry.attempts += 1;
                    entry.updated_ms = self.now();
                    store.ledger_put(&entry)?;
                    // The pending row is durable under the run's fence; the
                    // write goes out only while the lease is surely held.
                    self.pipeline.may_write()?;
                    match crate::coordination::writing_under(
                        self.pipeline.shared.lease.clone(),
                        instance.write(&sink.connection.connection, &sink.stream, &doc),
                    )
                    .await
                    {
                        Ok(written) => {
                            self.write_proven.store(true, Ordering::SeqCst);
                            let n = self.pipeline.shared.writes.fetch_add(1, Ordering::SeqCst) + 1;
                            self.pipeline.shared.faults.after_write(n)?;
                            self.settle_delivered(
                                source_key,
                                key,
                                hash,
                                &written.target_key,
                                xref,
                                Some(entry.attempts),
                                "write",
                            )?;
                            break Settled::Done;
                        }
                        Err(e) => e,
                    }
                }
            };
            let verdict = verdict(&failure);
            if let Verdict::Halt(m) = &verdict {
                // While this write's permit and gate are still held: a write
                // waiting for either must see the halt, not post once more.
                self.halt(m.clone());
            }
            drop(gate);
            match verdict {
                Verdict::Halt(m) => {
                    entry.state = RecordState::Retrying;
                    entry.reason = Some(m.clone());
                    store.ledger_put(&entry)?;
                    break Settled::Halt(m);
                }
                Verdict::Reject(m) => {
                    self.dead(source_key, key, &m, source_doc, Some((body, hash)))?;
                    break Settled::Done;
                }
                Verdict::Retry {
                    reason,
                    unknown_outcome,
                    wait,
                } => {
                    lookup_first = unknown_outcome;
                    if instance.is_stopped() {
                        instance = match self.new_sink().await {
                            Ok(i) => i,
                            Err(e) => return self.defer(entry, &e.to_string(), None),
                        };
                    }
                    retry += 1;
                    match self.flow.retry.delay(retry, wait) {
                        Some(d) => {
                            self.retries.fetch_add(1, Ordering::Relaxed);
                            self.event(FlowEvent::WriteRetried {
                                key: key.to_string(),
                                attempt: entry.attempts,
                                reason,
                            })?;
                            tokio::time::sleep(d).await;
                        }
                        None => {
                            self.put_back(instance).await;
                            return self.defer(entry, &reason, wait);
                        }
                    }
                }
            }
        };
        self.put_back(instance).await;
        Ok(result)
    }

    /// Until a write of this run succeeded, holds the gate that lets writes
    /// through one at a time. Writes queued at the gate while the first one was
    /// in flight go through together once it succeeded: they check again after
    /// the wait instead of each holding the gate for a full write.
    async fn pass_write_gate(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.write_proven.load(Ordering::SeqCst) {
            return None;
        }
        let gate = self.write_gate.lock().await;
        (!self.write_proven.load(Ordering::SeqCst)).then_some(gate)
    }

    /// Leaves a document for the next run; `wait` is the remote side's
    /// Retry-After, which the next run honours too.
    fn defer(
        &self,
        mut entry: LedgerEntry,
        reason: &str,
        wait: Option<Duration>,
    ) -> Result<Settled, PipelineError> {
        self.count(|c| c.deferred += 1);
        entry.state = RecordState::Retrying;
        entry.reason = Some(reason.to_string());
        entry.updated_ms = self.now();
        entry.not_before_ms = wait.map(|w| self.now() + w.as_millis() as u64);
        self.pipeline.shared.store.ledger_put(&entry)?;
        self.event(FlowEvent::RecordDeferred {
            source_key: entry.source_key.clone(),
            key: entry.key.clone(),
            reason: reason.to_string(),
        })?;
        Ok(Settled::Done)
    }

    #[allow(clippy::too_many_arguments)]
    fn settle_delivered(
        &self,
        source_key: &str,
        key: &str,
        hash: &str,
        target: &str,
        xref: &[XrefEntry],
        attempt: Option<u32>,
        via: &'static str,
    ) -> Result<(), PipelineError> {
        // A write knows its attempt count; a link keeps whatever was recorded.
        let attempts = match attempt {
            Some(a) => a,
            None => self
                .pipeline
                .shared
                .store
                .ledger_get(&self.flow.tenant, &self.flow.name, key)?
                .map_or(0, |e| e.attempts),
        };
        let entry = LedgerEntry {
            tenant: self.flow.tenant.clone(),
            flow: self.flow.name.clone(),
            key: key.to_string(),
            source_key: source_key.to_string(),
            hash: hash.to_string(),
            state: RecordState::Delivered,
            attempts,
            target_key: Some(target.to_string()),
            reason: None,
            source_doc: None,
            body: None,
            updated_ms: self.now(),
            xref: None,
            not_before_ms: None,
        };
        let xrefs: Vec<(String, String, String)> = xref
            .iter()
            .map(|e| {
                (
                    e.table.clone(),
                    e.key.as_deref().unwrap_or(target).to_string(),
                    e.value.as_deref().unwrap_or(target).to_string(),
                )
            })
            .collect();
        let event = match attempt {
            Some(attempt) => {
                self.count(|c| c.delivered += 1);
                FlowEvent::RecordDelivered {
                    source_key: source_key.to_string(),
                    key: key.to_string(),
                    target_key: target.to_string(),
                    hash: hash.to_string(),
                    attempt,
                }
            }
            None => {
                self.count(|c| c.linked += 1);
                FlowEvent::RecordLinked {
                    source_key: source_key.to_string(),
                    key: key.to_string(),
                    target_key: target.to_string(),
                    via,
                }
            }
        };
        // The new state, the references it feeds and its audit row in one transaction.
        Ok(self.pipeline.shared.journal.record_with(
            &self.flow.tenant,
            &self.flow.name,
            event,
            &[entry],
            &xrefs,
        )?)
    }

    fn dead(
        &self,
        source_key: &str,
        key: &str,
        reason: &str,
        source_doc: Option<&str>,
        body: Option<(&str, &str)>,
    ) -> Result<(), PipelineError> {
        self.count(|c| c.dead += 1);
        let store = &self.pipeline.shared.store;
        // A document delivered before keeps its target: a later change is
        // then judged by the flow's policy again, never posted as new.
        let (attempts, target_key) = store
            .ledger_get(&self.flow.tenant, &self.flow.name, key)?
            .map_or((0, None), |e| (e.attempts, e.target_key));
        store.ledger_put(&LedgerEntry {
            tenant: self.flow.tenant.clone(),
            flow: self.flow.name.clone(),
            key: key.to_string(),
            source_key: source_key.to_string(),
            hash: body
                .map(|(_, h)| h.to_string())
                .or_else(|| source_doc.map(sha256_hex))
                .unwrap_or_default(),
            state: RecordState::Dead,
            attempts,
            target_key,
            reason: Some(reason.to_string()),
            source_doc: source_doc.map(str::to_string),
            body: body.map(|(b, _)| b.to_string()),
            updated_ms: self.now(),
            xref: None,
            not_before_ms: None,
        })?;
        self.event(FlowEvent::RecordDead {
            source_key: source_key.to_string(),
            key: key.to_string(),
            reason: reason.to_string(),
        })
    }

    fn unreadable(&self, key: &str, reason: &str) -> Result<(), PipelineError> {
        self.count(|c| c.unreadable += 1);
        let row = format!("{UNREADABLE_KEY_PREFIX}{key}");
        let store = &self.pipeline.shared.store;
        if store
            .ledger_get(&self.flow.tenant, &self.flow.name, &row)?
            .is_some_and(|e| e.reason.as_deref() == Some(reason))
        {
            return Ok(());
        }
        store.ledger_put(&LedgerEntry {
            tenant: self.flow.tenant.clone(),
            flow: self.flow.name.clone(),
            key: row,
            source_key: key.to_string(),
            hash: sha256_hex(reason),
            state: RecordState::Dead,
            attempts: 0,
            target_key: None,
            reason: Some(format!("unreadable at the source: {reason}")),
            source_doc: None,
            body: None,
            updated_ms: self.now(),
            xref: None,
            not_before_ms: None,
        })?;
        self.event(FlowEvent::RecordUnreadable {
            key: key.to_string(),
            reason: reason.to_string(),
        })
    }

    async fn take_sink(&self) -> Result<ConnectorInstance, CallError> {
        if let Some(instance) = self.sinks.idle.lock().await.pop() {
            return Ok(instance);
        }
        self.new_sink().await
    }

    async fn new_sink(&self) -> Result<ConnectorInstance, CallError> {
        let sink = &self.flow.sink.connection;
        sink.connector.instantiate(&sink.sandbox).await
    }

    async fn put_back(&self, instance: ConnectorInstance) {
        if !instance.is_stopped() {
            self.sinks.idle.lock().await.push(instance);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_passes_a_page_only_when_it_and_every_page_before_are_settled() {
        let mut trail = PageTrail::default();
        let first = trail.open(2, Some("after-1".into()));
        let second = trail.open(1, Some("after-2".into()));
        trail.settle(second);
        assert_eq!(trail.take_settled(), None, "page 1 is still open");
        trail.settle(first);
        assert_eq!(
            trail.take_settled(),
            None,
            "one record of page 1 is still open"
        );
        trail.settle(first);
        assert_eq!(trail.take_settled().as_deref(), Some("after-2"));
        assert_eq!(trail.take_settled(), None, "nothing new settled");
    }

    #[test]
    fn empty_pages_and_pages_without_a_cursor_keep_the_last_cursor() {
        let mut trail = PageTrail::default();
        trail.open(0, Some("after-1".into()));
        let second = trail.open(1, None);
        assert_eq!(trail.take_settled().as_deref(), Some("after-1"));
        trail.settle(second);
        assert_eq!(
            trail.take_settled(),
            None,
            "page 2 has no cursor of its own"
        );
        let third = trail.open(1, Some("after-3".into()));
        assert_eq!(third, 2);
        trail.settle(third);
        assert_eq!(trail.take_settled().as_deref(), Some("after-3"));
    }

    #[tokio::test]
    async fn a_key_in_flight_makes_the_second_holder_wait_and_is_forgotten_after() {
        let keys = KeysInFlight::default();
        let first = keys.hold("po-1").await;
        let other = keys.hold("po-2").await;
        let second = tokio::time::timeout(Duration::from_millis(20), keys.hold("po-1")).await;
        assert!(second.is_err(), "po-1 is held");
        drop(first);
        let again = keys.hold("po-1").await;
        drop((again, other));
        assert!(
            keys.held.lock().expect("lock").is_empty(),
            "no key left behind"
        );
    }
}
