//! Typed events, in the past tense, for every side effect of the runtime worth
//! telling an operator about. One place ([`EventSink::emit`]) turns an event
//! into a log line; the pipeline adds audit rows and metrics on the same path.
//!
//! Events never carry a secret: they hold names, origins and reasons only.

use std::fmt;
use std::sync::Mutex;

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

/// The default sink: logs each event through `tracing` and keeps the most
/// recent ones in memory for inspection (tests, the status page).
#[derive(Debug, Default)]
pub struct EventLog {
    recent: Mutex<std::collections::VecDeque<Event>>,
}

/// How many events [`EventLog`] keeps.
const RECENT_CAPACITY: usize = 10_000;

impl EventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the events kept so far, oldest first.
    pub fn recent(&self) -> Vec<Event> {
        self.recent
            .lock()
            .map(|v| v.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl EventSink for EventLog {
    fn emit(&self, event: Event) {
        log_event(&event);
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() >= RECENT_CAPACITY {
                recent.pop_front();
            }
            recent.push_back(event);
        }
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
