//! The one place a pipeline event becomes an audit row, a log line and a
//! metric. Events are typed and in the past tense; none carries a secret.

use crate::clock::Clock;
use crate::store::{AuditRecord, LedgerEntry, Store, StoreError};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Something that happened to a record or a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowEvent {
    /// A document was written to the target.
    RecordDelivered {
        /// Source record key.
        source_key: String,
        /// Document key.
        key: String,
        /// Identity in the target.
        target_key: String,
        /// SHA-256 of the body.
        hash: String,
        /// Attempt that succeeded.
        attempt: u32,
    },
    /// A document was found already present in the target (link from the
    /// mapping, or a pending write resolved by lookup): nothing was posted.
    RecordLinked {
        /// Source record key.
        source_key: String,
        /// Document key.
        key: String,
        /// Identity in the target.
        target_key: String,
        /// How it was found (`mapping` or `lookup`).
        via: &'static str,
    },
    /// A source record waits for a reference.
    RecordParked {
        /// Source record key.
        source_key: String,
        /// Why.
        reason: String,
    },
    /// A document or record became a dead letter.
    RecordDead {
        /// Source record key.
        source_key: String,
        /// Document key.
        key: String,
        /// Why.
        reason: String,
    },
    /// A document was deliberately not written.
    RecordSkipped {
        /// Source record key.
        source_key: String,
        /// Document key.
        key: String,
        /// Why.
        reason: String,
    },
    /// A delivered document changed at the source; the flow's policy decided.
    RecordChanged {
        /// Source record key.
        source_key: String,
        /// Document key.
        key: String,
        /// The policy applied (`ignore`, `rewrite`, `dead-letter`).
        policy: &'static str,
        /// New hash.
        hash: String,
    },
    /// A write failed and will be tried again.
    WriteRetried {
        /// Document key.
        key: String,
        /// The failed attempt.
        attempt: u32,
        /// Why it failed.
        reason: String,
    },
    /// A write ran out of attempts for this run; the next run retries it.
    RecordDeferred {
        /// Source record key.
        source_key: String,
        /// Document key.
        key: String,
        /// The last failure.
        reason: String,
    },
    /// A source page held a record that could not be read.
    RecordUnreadable {
        /// Its key as far as known.
        key: String,
        /// Why.
        reason: String,
    },
    /// An operator replayed or discarded a dead letter.
    DeadLetterHandled {
        /// Document key.
        key: String,
        /// `replayed` or `discarded`.
        action: &'static str,
    },
    /// The flow stopped: the operator must act.
    FlowHalted {
        /// What to do.
        message: String,
    },
    /// This run took the flow's lease over from a holder that let it lapse
    /// (died, hung or was cut off); what that holder left pending is
    /// resolved by lookup before anything is posted again.
    LeaseTakenOver {
        /// The previous holder, since when, and its token.
        previous: String,
        /// The new fencing token.
        token: u64,
    },
    /// A flow run finished.
    FlowCompleted {
        /// Summary.
        summary: String,
    },
}

impl FlowEvent {
    /// The event's audit name, outcome word and fields.
    fn audit(&self) -> (&'static str, &'static str, AuditFields) {
        use FlowEvent::*;
        let f = AuditFields::default;
        match self {
            RecordDelivered {
                source_key,
                key,
                target_key,
                hash,
                attempt,
            } => (
                "record_delivered",
                "ok",
                AuditFields {
                    source_key: Some(source_key.clone()),
                    key: Some(key.clone()),
                    target_key: Some(target_key.clone()),
                    payload_hash: Some(hash.clone()),
                    attempt: Some(*attempt),
                    message: String::new(),
                },
            ),
            RecordLinked {
                source_key,
                key,
                target_key,
                via,
            } => (
                "record_linked",
                "ok",
                AuditFields {
                    source_key: Some(source_key.clone()),
                    key: Some(key.clone()),
                    target_key: Some(target_key.clone()),
                    message: format!("already in the target (found by {via}); nothing posted"),
                    ..f()
                },
            ),
            RecordParked { source_key, reason } => (
                "record_parked",
                "parked",
                AuditFields {
                    source_key: Some(source_key.clone()),
                    message: reason.clone(),
                    ..f()
                },
            ),
            RecordDead {
                source_key,
                key,
                reason,
            } => (
                "record_dead",
                "dead",
                AuditFields {
                    source_key: Some(source_key.clone()),
                    key: Some(key.clone()),
                    message: reason.clone(),
                    ..f()
                },
            ),
            RecordSkipped {
                source_key,
                key,
                reason,
            } => (
                "record_skipped",
                "skipped",
                AuditFields {
                    source_key: Some(source_key.clone()),
                    key: Some(key.clone()),
                    message: reason.clone(),
                    ..f()
                },
            ),
            RecordChanged {
                source_key,
                key,
                policy,
                hash,
            } => (
                "record_changed",
                policy,
                AuditFields {
                    source_key: Some(source_key.clone()),
                    key: Some(key.clone()),
                    payload_hash: Some(hash.clone()),
                    message: format!("changed at the source after delivery; policy {policy}"),
                    ..f()
                },
            ),
            WriteRetried {
                key,
                attempt,
                reason,
            } => (
                "write_retried",
                "retry",
                AuditFields {
                    key: Some(key.clone()),
                    attempt: Some(*attempt),
                    message: reason.clone(),
                    ..f()
                },
            ),
            RecordDeferred {
                source_key,
                key,
                reason,
            } => (
                "record_deferred",
                "deferred",
                AuditFields {
                    source_key: Some(source_key.clone()),
                    key: Some(key.clone()),
                    message: reason.clone(),
                    ..f()
                },
            ),
            RecordUnreadable { key, reason } => (
                "record_unreadable",
                "dead",
                AuditFields {
                    source_key: Some(key.clone()),
                    message: reason.clone(),
                    ..f()
                },
            ),
            DeadLetterHandled { key, action } => (
                "dead_letter_handled",
                action,
                AuditFields {
                    key: Some(key.clone()),
                    ..f()
                },
            ),
            FlowHalted { message } => (
                "flow_halted",
                "halted",
                AuditFields {
                    message: message.clone(),
                    ..f()
                },
            ),
            LeaseTakenOver { previous, token } => (
                "lease_taken_over",
                "ok",
                AuditFields {
                    message: format!("took the flow over (token {token}) from {previous}"),
                    ..f()
                },
            ),
            FlowCompleted { summary } => (
                "flow_completed",
                "ok",
                AuditFields {
                    message: summary.clone(),
                    ..f()
                },
            ),
        }
    }
}

#[derive(Default)]
struct AuditFields {
    source_key: Option<String>,
    key: Option<String>,
    target_key: Option<String>,
    payload_hash: Option<String>,
    attempt: Option<u32>,
    message: String,
}

/// Counters per (tenant, flow, event name), for metrics and summaries.
pub type Counters = BTreeMap<(String, String, &'static str), u64>;

/// Turns flow events into audit rows, log lines and counters.
#[derive(Debug)]
pub struct Journal {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Shared by the journals of every run of the process.
    counters: Arc<Mutex<Counters>>,
}

impl Journal {
    /// A journal writing to `store`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Journal {
        Journal {
            store,
            clock,
            counters: Arc::new(Mutex::new(Counters::new())),
        }
    }

    /// The same journal (one set of counters) writing through `store`: a
    /// run's events go through the store view fenced by its lease.
    pub fn with_store(&self, store: Arc<dyn Store>) -> Journal {
        Journal {
            store,
            clock: self.clock.clone(),
            counters: self.counters.clone(),
        }
    }

    /// Records one event of `flow` of `tenant`.
    pub fn record(&self, tenant: &str, flow: &str, event: FlowEvent) -> Result<(), StoreError> {
        self.record_with(tenant, flow, event, &[], &[])
    }

    /// Records one event together with the ledger rows and crosswalk entries
    /// it accompanies, in one store transaction.
    pub fn record_with(
        &self,
        tenant: &str,
        flow: &str,
        event: FlowEvent,
        ledger: &[LedgerEntry],
        xrefs: &[(String, String, String)],
    ) -> Result<(), StoreError> {
        let (name, outcome, fields) = event.audit();
        match &event {
            FlowEvent::FlowHalted { message } => {
                tracing::error!(%tenant, %flow, %message, "flow halted")
            }
            FlowEvent::RecordDead { key, reason, .. } => {
                tracing::warn!(%tenant, %flow, %key, %reason, "record dead-lettered")
            }
            FlowEvent::RecordParked { source_key, reason } => {
                tracing::info!(%tenant, %flow, %source_key, %reason, "record parked")
            }
            _ => tracing::debug!(%tenant, %flow, event = name, "{}", fields.message),
        }
        // A poisoned lock means a task panicked mid-count: stop rather than
        // count on from numbers that may be off.
        *self
            .counters
            .lock()
            .map_err(|_| StoreError::Corrupt {
                what: "the journal's event counters".into(),
                detail: "a task panicked while updating them; restart the process".into(),
            })?
            .entry((tenant.to_string(), flow.to_string(), name))
            .or_default() += 1;
        let record = AuditRecord {
            time_ms: self.clock.now_ms(),
            tenant: tenant.to_string(),
            flow: flow.to_string(),
            event: name.to_string(),
            source_key: fields.source_key,
            key: fields.key,
            target_key: fields.target_key,
            payload_hash: fields.payload_hash,
            attempt: fields.attempt,
            outcome: outcome.to_string(),
            message: fields.message,
        };
        self.store.commit(tenant, ledger, xrefs, &[record])
    }

    /// A copy of the counters. Read even from a poisoned lock: these are
    /// the counts as they stand (never an empty default), and the run whose
    /// task panicked has already stopped on it in [`Journal::record_with`].
    pub fn counters(&self) -> Counters {
        self.counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}
