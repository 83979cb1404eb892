//! Delivery phase of a run: write one document (recorded pending first,
//! looked up first when an earlier attempt's outcome is unknown, retried
//! with backoff, sent only while the run surely holds its lease) and record
//! how it ended: delivered or linked with its crosswalk entries, deferred,
//! dead-lettered, or the flow halted.

use super::{FlowRun, Settled, bump, xref_json};
use crate::mapping::XrefEntry;
use crate::pipeline::verdict::{Verdict, verdict};
use crate::pipeline::{FlowEvent, PipelineError};
use crate::runtime::Doc;
use crate::store::{LedgerEntry, LedgerKind, RecordState};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// One document to deliver, as the record phase (or a replay of an unsettled
/// row) has it: the fields its ledger row is written with.
pub(super) struct Delivery<'a> {
    /// The source record it was mapped from.
    pub source_key: &'a str,
    /// The document's key (the ledger key).
    pub key: &'a str,
    /// The mapped document.
    pub body: &'a str,
    /// Its content hash (what "unchanged" compares).
    pub hash: &'a str,
    /// The source record, kept for a replay after a mapping change.
    pub source_doc: Option<&'a str>,
    /// Crosswalk entries the write settles.
    pub xref: &'a [XrefEntry],
    /// Whether an earlier attempt's outcome is unknown (look it up before
    /// posting again).
    pub lookup_first: bool,
    /// Attempts made by earlier runs.
    pub prior_attempts: u32,
}

impl FlowRun {
    /// Delivers a document; a halt stops the flow's other records too.
    pub(super) async fn deliver_or_halt(&self, doc: Delivery<'_>) -> Result<(), PipelineError> {
        if let Settled::Halt(m) = self.deliver(doc).await? {
            self.halt(m);
        }
        Ok(())
    }

    /// Writes one document: pending first, lookup when the outcome of an
    /// earlier attempt is unknown, retries with backoff.
    pub(super) async fn deliver(&self, doc: Delivery<'_>) -> Result<Settled, PipelineError> {
        let Delivery {
            source_key,
            key,
            body,
            hash,
            source_doc,
            xref,
            mut lookup_first,
            prior_attempts,
        } = doc;
        let store = &self.pipeline.shared.store;
        let sink = &self.flow.sink;
        let mut entry = self
            .row(LedgerKind::Document, key, source_key, RecordState::Pending)
            .with_hash(hash)
            .with_attempts(prior_attempts)
            .with_source_doc(source_doc.map(str::to_string))
            .with_body(Some(body.to_string()))
            .with_xref(xref_json(xref)?);
        if lookup_first {
            // A fresh document is recorded pending right before its write
            // (below); one with an unknown outcome is refreshed now.
            store.ledger_put(&entry)?;
        }
        let doc = Doc {
            key: key.to_string(),
            body: body.to_string(),
        };
        let _permit = self.sinks.permit().await?;
        let mut instance = match self.sinks.take().await {
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
                    gate = self.write_gate.pass().await;
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
                            self.write_gate.prove();
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
                    self.dead(
                        LedgerKind::Document,
                        source_key,
                        key,
                        &m,
                        source_doc,
                        Some((body, hash)),
                    )?;
                    break Settled::Done;
                }
                Verdict::Retry {
                    reason,
                    unknown_outcome,
                    wait,
                } => {
                    lookup_first = unknown_outcome;
                    if instance.is_stopped() {
                        instance = match self.sinks.fresh().await {
                            Ok(i) => i,
                            Err(e) => return self.defer(entry, &e.to_string(), None),
                        };
                    }
                    retry += 1;
                    match self.flow.retry.delay(retry, wait) {
                        Some(d) => {
                            bump(&self.tally.retries);
                            self.event(FlowEvent::WriteRetried {
                                key: key.to_string(),
                                attempt: entry.attempts,
                                reason,
                            })?;
                            tokio::time::sleep(d).await;
                        }
                        None => {
                            self.sinks.put_back(instance).await;
                            return self.defer(entry, &reason, wait);
                        }
                    }
                }
            }
        };
        self.sinks.put_back(instance).await;
        Ok(result)
    }

    /// Leaves a document for the next run; `wait` is the remote side's
    /// Retry-After, which the next run honours too.
    fn defer(
        &self,
        mut entry: LedgerEntry,
        reason: &str,
        wait: Option<Duration>,
    ) -> Result<Settled, PipelineError> {
        bump(&self.tally.deferred);
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

    /// Records a document as delivered (written, or found by lookup or by
    /// the mapping) with the crosswalk entries it feeds and its audit row,
    /// in one transaction.
    #[allow(
        clippy::too_many_arguments,
        reason = "the fields of one delivered row and how it was found"
    )]
    pub(super) fn settle_delivered(
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
                .ledger_get(
                    &self.flow.tenant,
                    &self.flow.name,
                    LedgerKind::Document,
                    key,
                )?
                .map_or(0, |e| e.attempts),
        };
        let entry = self
            .row(
                LedgerKind::Document,
                key,
                source_key,
                RecordState::Delivered,
            )
            .with_hash(hash)
            .with_attempts(attempts)
            .with_target_key(Some(target.to_string()));
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
                bump(&self.tally.delivered);
                FlowEvent::RecordDelivered {
                    source_key: source_key.to_string(),
                    key: key.to_string(),
                    target_key: target.to_string(),
                    hash: hash.to_string(),
                    attempt,
                }
            }
            None => {
                bump(&self.tally.linked);
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
}
