//! What a failed connector call means for a flow: halt (the operator must
//! act), reject (this record's content was refused) or retry (later, with a
//! lookup first when the remote side may have acted). Decided from the WIT
//! failure variant only, never from message text; shared by the pipeline and
//! `sync --dry-run`.

use crate::runtime::{CallError, Failure};
use std::time::Duration;

/// What a failed call means for the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Stop the flow; the message is the operator's to-do.
    Halt(String),
    /// This record's content was refused.
    Reject(String),
    /// Try again later.
    Retry {
        /// Why the call failed.
        reason: String,
        /// True when the remote side may have acted: look up before re-posting.
        unknown_outcome: bool,
        /// The remote side's Retry-After, if it gave one.
        wait: Option<Duration>,
    },
}

impl Verdict {
    /// True when the flow stops for the operator.
    pub fn halts(&self) -> bool {
        matches!(self, Verdict::Halt(_))
    }
}

/// The verdict on a failed call.
pub fn verdict(error: &CallError) -> Verdict {
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
