//! Typed events, in the past tense, for every side effect of the runtime worth
//! telling an operator about (egress, tokens, containment). One place
//! ([`EventLog`]'s `emit`) turns each event into a log line, a monotonic
//! counter for `/metrics` and, for egress denials and contained calls, an
//! audit row; flow events take the same three steps in the pipeline's journal.
//!
//! Events never carry a secret: they hold names, origins and reasons only.

use crate::clock::Clock;
use crate::store::{AuditRecord, Store};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Why the host fetched an OAuth2 token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenReason {
    /// No token was cached yet.
    Initial,
    /// The cached token was about to expire (or had expired).
    Expiring,
    /// The remote side answered 401 with the cached token.
    Rejected,
}

/// Why a component call was stopped by the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainmentReason {
    /// The call ran past its deadline (epoch interruption or I/O timeout).
    Deadline {
        /// The deadline that was exceeded, in milliseconds.
        limit_ms: u64,
    },
    /// The component tried to grow its memory past the tenant's limit.
    MemoryLimit {
        /// The limit, in bytes.
        limit_bytes: u64,
    },
    /// The component trapped for another reason (panic, unreachable, ...).
    Trap(String),
}

impl fmt::Display for ContainmentReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContainmentReason::Deadline { limit_ms } => {
                write!(f, "call exceeded its {limit_ms} ms deadline")
            }
            ContainmentReason::MemoryLimit { limit_bytes } => write!(
                f,
                "memory use exceeded the limit of {} MiB",
                limit_bytes / (1024 * 1024)
            ),
            ContainmentReason::Trap(msg) => write!(f, "trapped: {msg}"),
        }
    }
}

/// Something that happened in the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A component's outgoing request was refused by the egress policy.
    EgressDenied {
        /// Tenant of the sandbox.
        tenant: String,
        /// Connection the sandbox serves.
        connection: String,
        /// HTTP method of the refused request.
        method: String,
        /// Origin (`scheme://host:port`) it tried to reach.
        origin: String,
        /// Why it was refused.
        reason: String,
    },
    /// The host fetched a new OAuth2 token for a connection.
    TokenRefreshed {
        /// Tenant.
        tenant: String,
        /// Connection.
        connection: String,
        /// Why.
        reason: TokenReason,
    },
    /// Fetching an OAuth2 token failed.
    TokenFetchFailed {
        /// Tenant.
        tenant: String,
        /// Connection.
        connection: String,
        /// What went wrong (never the secret).
        error: String,
    },
    /// A component call was stopped by the sandbox.
    ComponentContained {
        /// Tenant.
        tenant: String,
        /// Connector name.
        connector: String,
        /// Which call (`read`, `write`, ...).
        call: String,
        /// Why it was stopped.
        reason: ContainmentReason,
    },
    /// A component wrote a log line through `host.log`.
    ComponentLogged {
        /// Tenant.
        tenant: String,
        /// Connector name.
        connector: String,
        /// Severity as the component gave it.
        level: LogLevel,
        /// The line (capped in length by the host).
        message: String,
    },
}

/// Severity of a component log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Diagnostics.
    Debug,
    /// Progress.
    Info,
    /// Something odd.
    Warn,
    /// A failure.
    Error,
}

/// Where events go.
pub trait EventSink: Send + Sync + fmt::Debug {
    /// Records one event.
    fn emit(&self, event: Event);
}

/// Counters of runtime events since the process started. They only grow:
/// they are counted as events happen, beside the ring of recent events, never
/// recomputed from it (the ring forgets; a counter must not).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventCounters {
    /// OAuth2 tokens fetched per (tenant, connection, reason word).
    pub token_refreshes: BTreeMap<(String, String, &'static str), u64>,
    /// Failed token fetches per (tenant, connection).
    pub token_fetch_failures: BTreeMap<(String, String), u64>,
    /// Refused outgoing requests per (tenant, connection).
    pub egress_denied: BTreeMap<(String, String), u64>,
    /// Component calls stopped by the sandbox per (tenant, connector).
    pub component_contained: BTreeMap<(String, String), u64>,
    /// Component log lines per (tenant, connector).
    pub component_logged: BTreeMap<(String, String), u64>,
}

impl EventCounters {
    /// Counts one event.
    fn count(&mut self, event: &Event) {
        let key = |a: &str, b: &str| (a.to_string(), b.to_string());
        let slot = match event {
            Event::EgressDenied {
                tenant, connection, ..
            } => self.egress_denied.entry(key(tenant, connection)),
            Event::TokenRefreshed {
                tenant,
                connection,
                reason,
            } => {
                *self
                    .token_refreshes
                    .entry((tenant.clone(), connection.clone(), reason.word()))
                    .or_default() += 1;
                return;
            }
            Event::TokenFetchFailed {
                tenant, connection, ..
            } => self.token_fetch_failures.entry(key(tenant, connection)),
            Event::ComponentContained {
                tenant, connector, ..
            } => self.component_contained.entry(key(tenant, connector)),
            Event::ComponentLogged {
                tenant, connector, ..
            } => self.component_logged.entry(key(tenant, connector)),
        };
        *slot.or_default() += 1;
    }
}

impl TokenReason {
    /// The reason in one word (a metric label).
    pub fn word(self) -> &'static str {
        match self {
            TokenReason::Initial => "initial",
            TokenReason::Expiring => "expiring",
            TokenReason::Rejected => "rejected",
        }
    }
}

/// The audit row an event makes, if it is one an auditor must see: a
/// connector reaching where it may not, or a call the sandbox had to stop.
/// Tenant-level rows: the flow is empty (the runtime does not know it).
pub fn audit_record(event: &Event, time_ms: u64) -> Option<AuditRecord> {
    let (tenant, name, outcome, message) = match event {
        Event::EgressDenied {
            tenant,
            connection,
            method,
            origin,
            reason,
        } => (
            tenant,
            "egress_denied",
            "denied",
            format!("connection {connection}: {method} {origin} refused: {reason}"),
        ),
        Event::ComponentContained {
            tenant,
            connector,
            call,
            reason,
        } => (
            tenant,
            "component_contained",
            "contained",
            format!("connector {connector}: call {call} stopped: {reason}"),
        ),
        Event::TokenRefreshed { .. }
        | Event::TokenFetchFailed { .. }
        | Event::ComponentLogged { .. } => return None,
    };
    Some(AuditRecord {
        time_ms,
        tenant: tenant.clone(),
        flow: String::new(),
        event: name.to_string(),
        source_key: None,
        key: None,
        target_key: None,
        payload_hash: None,
        attempt: None,
        outcome: outcome.to_string(),
        message,
    })
}

/// Where [`EventLog`] appends audit rows.
#[derive(Debug)]
struct AuditTrail {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

/// The host's event sink: logs each event through `tracing`, counts it,
/// writes the audit row of the events that make one (when it has a store),
/// and keeps the most recent events in memory for inspection (tests, the
/// demo's summary).
#[derive(Debug, Default)]
pub struct EventLog {
    recent: Mutex<VecDeque<Event>>,
    counters: Mutex<EventCounters>,
    audit: Option<AuditTrail>,
}

/// How many events [`EventLog`] keeps.
pub const RECENT_CAPACITY: usize = 10_000;

/// Locks a mutex even after a panic elsewhere: every critical section here
/// is a single push or increment, which cannot leave the data half-changed.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EventLog {
    /// A log without an audit trail (sandboxes run outside a deployment).
    pub fn new() -> Self {
        Self::default()
    }

    /// A log that also appends the audit row of each event that makes one
    /// to `store`'s hash-chained log.
    pub fn with_audit(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        EventLog {
            audit: Some(AuditTrail { store, clock }),
            ..Self::default()
        }
    }

    /// A copy of the events kept so far, oldest first (at most
    /// [`RECENT_CAPACITY`]).
    pub fn recent(&self) -> Vec<Event> {
        lock(&self.recent).iter().cloned().collect()
    }

    /// A copy of the counters since the log was made.
    pub fn counters(&self) -> EventCounters {
        lock(&self.counters).clone()
    }
}

impl EventSink for EventLog {
    fn emit(&self, event: Event) {
        log_event(&event);
        lock(&self.counters).count(&event);
        if let Some(trail) = &self.audit
            && let Some(record) = audit_record(&event, trail.clock.now_ms())
            && let Err(e) = trail.store.audit_append(&record)
        {
            // The event cannot fail its caller (a request being refused, a
            // call being stopped); the failure is loud in the log instead.
            tracing::error!(tenant = %record.tenant, event = %record.event, error = %e, "audit row not written");
        }
        let mut recent = lock(&self.recent);
        if recent.len() >= RECENT_CAPACITY {
            recent.pop_front();
        }
        recent.push_back(event);
    }
}

/// The one place an event becomes a log line: fields first, then a sentence.
fn log_event(event: &Event) {
    match event {
        Event::EgressDenied {
            tenant,
            connection,
            method,
            origin,
            reason,
        } => tracing::warn!(%tenant, %connection, %method, %origin, %reason, "egress denied"),
        Event::TokenRefreshed {
            tenant,
            connection,
            reason,
        } => tracing::info!(%tenant, %connection, ?reason, "token refreshed"),
        Event::TokenFetchFailed {
            tenant,
            connection,
            error,
        } => tracing::warn!(%tenant, %connection, %error, "token fetch failed"),
        Event::ComponentContained {
            tenant,
            connector,
            call,
            reason,
        } => tracing::warn!(%tenant, %connector, %call, %reason, "component call stopped"),
        Event::ComponentLogged {
            tenant,
            connector,
            level,
            message,
        } => match level {
            LogLevel::Debug => tracing::debug!(%tenant, %connector, "{message}"),
            LogLevel::Info => tracing::info!(%tenant, %connector, "{message}"),
            LogLevel::Warn => tracing::warn!(%tenant, %connector, "{message}"),
            LogLevel::Error => tracing::error!(%tenant, %connector, "{message}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::store::SqliteStore;

    fn denial(n: usize) -> Event {
        Event::EgressDenied {
            tenant: "acme".into(),
            connection: "procurify".into(),
            method: "GET".into(),
            origin: format!("http://elsewhere.example:{n}"),
            reason: "origin is not listed for this connection".into(),
        }
    }

    fn chatter() -> Event {
        Event::ComponentLogged {
            tenant: "acme".into(),
            connector: "procurify".into(),
            level: LogLevel::Debug,
            message: "page 3".into(),
        }
    }

    #[test]
    fn counters_do_not_decrease_when_the_ring_overflows() {
        let log = EventLog::new();
        log.emit(denial(1));
        log.emit(denial(2));
        let key = ("acme".to_string(), "procurify".to_string());
        assert_eq!(log.counters().egress_denied[&key], 2);
        // Log lines push both denials out of the ring.
        for _ in 0..RECENT_CAPACITY {
            log.emit(chatter());
        }
        assert!(
            !log.recent()
                .iter()
                .any(|e| matches!(e, Event::EgressDenied { .. })),
            "the ring still holds the denials: it did not overflow"
        );
        assert_eq!(log.recent().len(), RECENT_CAPACITY);
        let after = log.counters();
        assert_eq!(after.egress_denied[&key], 2);
        assert_eq!(after.component_logged[&key], RECENT_CAPACITY as u64);
        log.emit(denial(3));
        assert_eq!(log.counters().egress_denied[&key], 3);
    }

    #[test]
    fn an_egress_denial_and_a_contained_call_are_audit_rows_a_token_refresh_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("mlc.db")).unwrap());
        let log = EventLog::with_audit(store.clone(), Arc::new(SystemClock));
        log.emit(denial(9));
        log.emit(Event::TokenRefreshed {
            tenant: "acme".into(),
            connection: "procurify".into(),
            reason: TokenReason::Initial,
        });
        log.emit(Event::ComponentContained {
            tenant: "acme".into(),
            connector: "peoplesoft".into(),
            call: "write".into(),
            reason: ContainmentReason::Deadline { limit_ms: 500 },
        });
        log.emit(chatter());
        let rows = store.audit_rows(0, 10).unwrap();
        let events: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.record.event.as_str(), r.record.outcome.as_str()))
            .collect();
        assert_eq!(
            events,
            [
                ("egress_denied", "denied"),
                ("component_contained", "contained")
            ]
        );
        let denied = &rows[0].record;
        assert_eq!((denied.tenant.as_str(), denied.flow.as_str()), ("acme", ""));
        assert!(
            denied
                .message
                .contains("procurify: GET http://elsewhere.example:9 refused"),
            "{}",
            denied.message
        );
        assert!(rows[1].record.message.contains("500 ms deadline"));
        assert!(matches!(
            crate::audit::verify(store.as_ref()).unwrap(),
            crate::audit::Verification::Verified { rows: 2, .. }
        ));
    }
}
