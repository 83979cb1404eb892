//! Egress: which origins a sandbox may reach, and the outgoing-request hook
//! that enforces it for every `wasi:http` request a component makes.
//!
//! Denied by default. A sandbox serves one connection: it may reach that
//! connection's origin (where the host attaches its credentials) and the extra
//! origins listed for it (reached without credentials). Anything else is
//! refused with `HTTP-request-denied` and an [`Event::EgressDenied`].

mod hook;
mod origin;

pub use hook::EgressHooks;
pub use origin::{Origin, OriginError};

use crate::credentials::Authenticator;
use crate::events::EventSink;
use std::sync::Arc;
use std::time::Duration;

/// Limits applied to every outgoing request of a sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EgressLimits {
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time from sending the request to the first byte of the answer.
    pub first_byte_timeout: Duration,
    /// Longest pause between two chunks of the answer body.
    pub between_bytes_timeout: Duration,
    /// Largest request body a component may send.
    pub max_request_bytes: usize,
    /// Largest answer body a component may receive.
    pub max_response_bytes: usize,
}

impl Default for EgressLimits {
    fn default() -> Self {
        EgressLimits {
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(60),
            between_bytes_timeout: Duration::from_secs(30),
            max_request_bytes: 8 * 1024 * 1024,
            max_response_bytes: 32 * 1024 * 1024,
        }
    }
}

/// The egress policy of one connection of one tenant.
#[derive(Debug, Clone)]
pub struct ConnectionEgress {
    /// Tenant the connection belongs to.
    pub tenant: String,
    /// Connection name (from the manifest).
    pub connection: String,
    /// The connection's origin: reachable, and the only place credentials go.
    pub origin: Origin,
    /// Further origins the connector may reach, without credentials.
    pub extra_origins: Vec<Origin>,
    /// Credentials attached to requests for `origin`, if any.
    pub auth: Option<Arc<Authenticator>>,
    /// Timeouts and size caps.
    pub limits: EgressLimits,
    /// Where denials and token events go.
    pub events: Arc<dyn EventSink>,
}

/// What the policy says about one origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The connection's own origin: send, with credentials.
    OwnOrigin,
    /// A listed extra origin: send, without credentials.
    ExtraOrigin,
    /// Not listed: refuse.
    Denied,
}

impl ConnectionEgress {
    /// The verdict for a request to `origin`.
    pub fn verdict(&self, origin: &Origin) -> Verdict {
        if *origin == self.origin {
            Verdict::OwnOrigin
        } else if self.extra_origins.contains(origin) {
            Verdict::ExtraOrigin
        } else {
            Verdict::Denied
        }
    }
}
