//! Reading phase of a run: pages from the saved cursor, a page ahead of the
//! records being written, each record a task of its own; the cursor saved
//! past the pages whose records (and every earlier page's) are settled.

use super::{FlowRun, bump, stopped_for_shutdown};
use crate::pipeline::concurrency::lock;
use crate::pipeline::trail::next_cursor;
use crate::pipeline::verdict::{Verdict, verdict};
use crate::pipeline::{PipelineError, RunOutcome};
use crate::runtime::{ConnectorInstance, Doc, Page};
use crate::store::LedgerKind;
use futures::StreamExt;
use std::sync::Arc;

/// The source instance of a run, created on first use and replaced after a
/// containment.
struct SourceReader {
    instance: Option<ConnectorInstance>,
}

impl FlowRun {
    /// Reads pages from the saved cursor and processes their records as one
    /// stream: the reader stays a page ahead, and the records of the next page
    /// start while the last ones of a page are still being written, so the
    /// flow's concurrency stays full across page boundaries. The cursor still
    /// advances only past a page whose records are all settled, and every page
    /// before it too ([`crate::pipeline::trail`]).
    pub(super) async fn read_and_process_pages(
        self: &Arc<Self>,
    ) -> Result<RunOutcome, PipelineError> {
        let store = &self.pipeline.shared.store;
        let (tenant, flow) = (self.flow.tenant.as_str(), self.flow.name.as_str());
        let start = store.cursor(tenant, flow)?;
        let first_error = &self.first_error;
        let (pages_tx, pages_rx) = tokio::sync::mpsc::channel::<Page>(1);

        // Ok(true): read to the last page; Ok(false): stopped reading early.
        let reader = async {
            let pages_tx = pages_tx;
            let mut source = SourceReader { instance: None };
            let mut cursor = start;
            loop {
                let page = self.read_page(&mut source, cursor.clone()).await?;
                let (more, page_cursor) = (page.more, page.cursor.clone());
                if pages_tx.send(page).await.is_err() {
                    return Ok(false);
                }
                if !more {
                    return Ok(true);
                }
                // More pages, but from where: the same cursor again would
                // read this page forever.
                cursor = Some(
                    next_cursor(
                        &self.flow.source.stream,
                        cursor.as_deref(),
                        page_cursor.as_deref(),
                    )
                    .map_err(|stuck| RunOutcome::Halted(stuck.to_string()))?,
                );
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
            let docs = match self.open_page(&page.docs, page.cursor.clone()) {
                Ok(index) => std::iter::repeat(index).zip(page.docs),
                Err(e) => {
                    // The page is not in the trail: none of its records may
                    // start, or the cursor could pass them.
                    first_error.set(e);
                    std::iter::repeat(0).zip(Vec::new())
                }
            };
            if let Err(e) = self.commit_settled_pages() {
                first_error.set(e);
            }
            futures::stream::iter(docs)
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
        if let Err(e) = self.process_listed(page, doc).await {
            self.first_error.set(e);
        }
    }

    async fn process_listed(&self, page: usize, doc: Doc) -> Result<(), PipelineError> {
        // One listing of a source record at a time, in the order read.
        let _source = self.in_flight.hold(LedgerKind::Source, &doc.key).await?;
        let latest = lock(&self.latest_listing, "the latest listings")?
            .get(&doc.key)
            .copied();
        if latest.is_none_or(|l| l <= page) {
            let key = doc.key.clone();
            self.process_record(doc).await?;
            let mut listed = lock(&self.latest_listing, "the latest listings")?;
            if listed.get(&key) == Some(&page) {
                listed.remove(&key);
            }
        }
        // Else a later page lists this record again: that copy is processed.
        lock(&self.trail, "the page trail")?
            .settle(page)
            .map_err(|e| PipelineError::Broken(e.to_string()))?;
        self.commit_settled_pages()
    }

    /// Saves the cursor past the leading pages that are settled. Done under the
    /// trail's lock so that two records finishing at once cannot save cursors
    /// out of order; never after a halt, whose skipped writes leave a page
    /// unfinished even where its records returned, nor after a store error
    /// (an unreadable record's dead letter may not be stored).
    fn commit_settled_pages(&self) -> Result<(), PipelineError> {
        let mut trail = lock(&self.trail, "the page trail")?;
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
                    bump(&self.tally.retries);
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
}
