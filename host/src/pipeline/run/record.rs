//! Recording phase of a run: map each source record, decide what happens to
//! each of its documents ([`crate::pipeline::decide`]) and keep the ledger
//! rows of records that park, fail to map or cannot be read.

use super::deliver::Delivery;
use super::{FlowRun, bump};
use crate::mapping::{Action, Outcome, Output};
use crate::pipeline::decide::{
    Decision, RecordDecision, content_hash, decide, decide_record, unreadable_is_new,
    unreadable_reason,
};
use crate::pipeline::{FlowEvent, OnChange, PipelineError};
use crate::runtime::Doc;
use crate::store::{LedgerEntry, LedgerKind, RecordState};
use futures::StreamExt;

use crate::pipeline::concurrency::FirstError;

impl FlowRun {
    /// Processes records (parked ones mapped again) up to the flow's
    /// concurrency; the first error stops those not yet started.
    pub(super) async fn process_records(&self, docs: Vec<Doc>) -> Result<(), PipelineError> {
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

    pub(super) async fn process_record(&self, doc: Doc) -> Result<(), PipelineError> {
        bump(&self.tally.read);
        let store = &self.pipeline.shared.store;
        let (tenant, flow) = (self.flow.tenant.as_str(), self.flow.name.as_str());
        let previous = store.ledger_get(tenant, flow, LedgerKind::Source, &doc.key)?;
        let outcome = self.flow.mapping.run(&doc.body, &self.bindings);
        let decision = decide_record(previous.as_ref(), &outcome, &doc.body);
        match (outcome, decision) {
            (Outcome::Parked(reason), RecordDecision::Park { news }) => {
                bump(&self.tally.parked);
                store.ledger_put(
                    &self
                        .row(LedgerKind::Source, &doc.key, &doc.key, RecordState::Parked)
                        .with_hash(content_hash(&doc.body))
                        .with_reason(reason.clone())
                        .with_source_doc(Some(doc.body)),
                )?;
                if news {
                    self.event(FlowEvent::RecordParked {
                        source_key: doc.key,
                        reason,
                    })?;
                }
                Ok(())
            }
            (Outcome::Failed(_), RecordDecision::AlreadyDead) => Ok(()),
            (Outcome::Failed(reason), _) => {
                let reason = format!("mapping {}: {reason}", self.flow.mapping.name());
                self.dead(
                    LedgerKind::Source,
                    &doc.key,
                    &doc.key,
                    &reason,
                    Some(&doc.body),
                    None,
                )
            }
            (Outcome::Mapped(outputs), _) => {
                if previous.is_some() {
                    store.ledger_delete(tenant, flow, LedgerKind::Source, &doc.key)?;
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
            (Outcome::Parked(_), other) => Err(PipelineError::Broken(format!(
                "a parked record was decided {other:?}"
            ))),
        }
    }

    async fn handle_output(&self, doc: &Doc, output: Output) -> Result<(), PipelineError> {
        let _hold = self
            .in_flight
            .hold(LedgerKind::Document, &output.key)
            .await?;
        let store = &self.pipeline.shared.store;
        let (tenant, flow) = (self.flow.tenant.as_str(), self.flow.name.as_str());
        let existing = store.ledger_get(tenant, flow, LedgerKind::Document, &output.key)?;
        let decision = decide(
            existing.as_ref(),
            &output.action,
            self.flow.on_change,
            self.now(),
        );
        let (Action::Write(text) | Action::Link(text) | Action::Skip(text)) = &output.action;
        match decision {
            Decision::Unchanged => {
                bump(&self.tally.unchanged);
                Ok(())
            }
            Decision::NotDue => {
                // Its Retry-After has not passed: a later run writes it.
                bump(&self.tally.deferred);
                Ok(())
            }
            Decision::Link => self.settle_delivered(
                &doc.key,
                &output.key,
                &content_hash(text),
                text,
                &output.xref,
                None,
                "mapping",
            ),
            Decision::Skip => {
                bump(&self.tally.skipped);
                store.ledger_put(
                    &self
                        .row(
                            LedgerKind::Document,
                            &output.key,
                            &doc.key,
                            RecordState::Skipped,
                        )
                        .with_hash(content_hash(text))
                        .with_reason(text.clone()),
                )?;
                self.event(FlowEvent::RecordSkipped {
                    source_key: doc.key.clone(),
                    key: output.key,
                    reason: text.clone(),
                })
            }
            Decision::Write {
                lookup_first,
                attempts,
            } => {
                self.deliver_or_halt(Delivery {
                    source_key: &doc.key,
                    key: &output.key,
                    body: text,
                    hash: &content_hash(text),
                    source_doc: Some(&doc.body),
                    xref: &output.xref,
                    lookup_first,
                    prior_attempts: attempts,
                })
                .await
            }
            Decision::Hold | Decision::DeadLetter | Decision::Rewrite { .. } => {
                let Some(entry) = existing else {
                    return Err(PipelineError::Broken(format!(
                        "document {} was decided changed without a ledger row",
                        output.key
                    )));
                };
                self.changed(doc, &output, entry, decision, text).await
            }
        }
    }

    /// A delivered document changed at the source: the flow's policy.
    async fn changed(
        &self,
        doc: &Doc,
        output: &Output,
        mut entry: LedgerEntry,
        decision: Decision,
        body: &str,
    ) -> Result<(), PipelineError> {
        let key = output.key.as_str();
        let hash = content_hash(body);
        self.event(FlowEvent::RecordChanged {
            source_key: doc.key.clone(),
            key: key.to_string(),
            policy: self.flow.on_change.as_str(),
            hash: hash.clone(),
        })?;
        match (decision, self.flow.on_change) {
            (Decision::Hold, OnChange::Ignore) => {
                bump(&self.tally.unchanged);
                entry.hash = hash;
                entry.reason =
                    Some("changed at the source after delivery; ignored by policy".into());
                entry.updated_ms = self.now();
                Ok(self.pipeline.shared.store.ledger_put(&entry)?)
            }
            (Decision::DeadLetter, OnChange::DeadLetter) => self.dead(
                LedgerKind::Document,
                &doc.key,
                key,
                &format!(
                    "changed at the source after delivery (target {}); review, then replay or discard",
                    entry.target_key.as_deref().unwrap_or("?")
                ),
                Some(&doc.body),
                Some((body, &hash)),
            ),
            (Decision::Rewrite { attempts }, OnChange::Rewrite) => {
                self.deliver_or_halt(Delivery {
                    source_key: &doc.key,
                    key,
                    body,
                    hash: &hash,
                    source_doc: Some(&doc.body),
                    xref: &output.xref,
                    lookup_first: false,
                    prior_attempts: attempts,
                })
                .await
            }
            (decision, policy) => Err(PipelineError::Broken(format!(
                "document {key}: decision {decision:?} does not follow policy {}",
                policy.as_str()
            ))),
        }
    }

    /// Makes a dead letter of a document or source record.
    pub(super) fn dead(
        &self,
        kind: LedgerKind,
        source_key: &str,
        key: &str,
        reason: &str,
        source_doc: Option<&str>,
        body: Option<(&str, &str)>,
    ) -> Result<(), PipelineError> {
        bump(&self.tally.dead);
        let store = &self.pipeline.shared.store;
        // A document delivered before keeps its target: a later change is
        // then judged by the flow's policy again, never posted as new.
        let (attempts, target_key) = store
            .ledger_get(&self.flow.tenant, &self.flow.name, kind, key)?
            .map_or((0, None), |e| (e.attempts, e.target_key));
        store.ledger_put(
            &self
                .row(kind, key, source_key, RecordState::Dead)
                .with_hash(
                    body.map(|(_, h)| h.to_string())
                        .or_else(|| source_doc.map(content_hash))
                        .unwrap_or_default(),
                )
                .with_attempts(attempts)
                .with_target_key(target_key)
                .with_reason(reason)
                .with_source_doc(source_doc.map(str::to_string))
                .with_body(body.map(|(b, _)| b.to_string())),
        )?;
        self.event(FlowEvent::RecordDead {
            source_key: source_key.to_string(),
            key: key.to_string(),
            reason: reason.to_string(),
        })
    }

    /// Keeps a record the source could not read as a dead letter (once per
    /// reason).
    pub(super) fn unreadable(&self, key: &str, reason: &str) -> Result<(), PipelineError> {
        bump(&self.tally.unreadable);
        let store = &self.pipeline.shared.store;
        let previous = store.ledger_get(
            &self.flow.tenant,
            &self.flow.name,
            LedgerKind::Unreadable,
            key,
        )?;
        if !unreadable_is_new(previous.as_ref(), reason) {
            return Ok(());
        }
        store.ledger_put(
            &self
                .row(LedgerKind::Unreadable, key, key, RecordState::Dead)
                .with_hash(content_hash(reason))
                .with_reason(unreadable_reason(reason)),
        )?;
        self.event(FlowEvent::RecordUnreadable {
            key: key.to_string(),
            reason: reason.to_string(),
        })
    }
}
