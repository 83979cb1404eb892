//! A front in front of an emulator: stamps every request that reaches it
//! (when, what, the status answered) and serves 429 bursts itself, so the
//! reliability suites can time retries and count PO creates per PO_REF.

use mlc_sandbox::exchange::{Handler, Request, Response};
use mlc_sandbox::server::Server;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The PeopleSoft service operation that creates purchase orders.
pub const PO_CREATE: &str = "CI_PO_EXPRESS_C";

/// One request a [`Front`] saw: when, what, and the status it got.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// Since the front started.
    pub at: Duration,
    /// Method and path (`GET /api/v3/...`).
    pub line: String,
    /// What identifies a retry of the same request: the PO_REF of a PO
    /// create, else method, path and query.
    pub identity: String,
    /// The SOAPAction, if any.
    pub soap_action: Option<String>,
    /// The status answered (by the front or the emulator behind it).
    pub status: u16,
}

/// 429 bursts: after every `period` requests whose path starts with
/// `prefix`, the next `length` such requests get 429 with `Retry-After`.
#[derive(Debug, Clone)]
pub struct Bursts {
    /// Path prefix in scope.
    pub prefix: String,
    /// Only requests whose SOAPAction contains this (empty: any).
    pub soap_action: String,
    /// Requests between bursts.
    pub period: u64,
    /// Requests refused per burst.
    pub length: u64,
    /// Seconds sent in `Retry-After`.
    pub retry_after_secs: u32,
}

/// A handler in front of an emulator: stamps every request that reaches it
/// and answers 429 bursts itself (the emulator never sees those).
pub struct Front {
    inner: Arc<dyn Handler>,
    started: Instant,
    stamps: Mutex<Vec<Stamp>>,
    bursts: Mutex<Option<(Bursts, u64)>>,
}

impl std::fmt::Debug for Front {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Front").finish_non_exhaustive()
    }
}

impl Front {
    /// A front for `inner`.
    pub fn new(inner: Arc<dyn Handler>) -> Arc<Front> {
        Arc::new(Front {
            inner,
            started: Instant::now(),
            stamps: Mutex::new(Vec::new()),
            bursts: Mutex::new(None),
        })
    }

    /// Starts serving 429 bursts.
    pub fn set_bursts(&self, bursts: Option<Bursts>) {
        *self.bursts.lock().unwrap() = bursts.map(|b| (b, 0));
    }

    /// Time since the front started (the clock of [`Stamp::at`]).
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// How many requests reached the front.
    pub fn count(&self) -> usize {
        self.stamps.lock().unwrap().len()
    }

    /// Every request that reached the front, in order of arrival.
    pub fn stamps(&self) -> Vec<Stamp> {
        self.stamps.lock().unwrap().clone()
    }

    fn burst_now(&self, request: &Request, action: Option<&str>) -> Option<u32> {
        let mut guard = self.bursts.lock().unwrap();
        let (rule, seen) = guard.as_mut()?;
        if !request.path.starts_with(&rule.prefix)
            || !action.unwrap_or("").contains(rule.soap_action.as_str())
        {
            return None;
        }
        *seen += 1;
        let phase = *seen % (rule.period + rule.length);
        (phase >= rule.period).then_some(rule.retry_after_secs)
    }
}

/// The text of the first `<...PO_REF>` element of a SOAP body.
pub fn po_ref_in(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("PO_REF>")? + "PO_REF>".len();
    let end = text[start..].find('<')? + start;
    Some(text[start..end].trim().to_string())
}

/// What identifies a retry of `request`: the PO_REF of a PO create, else
/// method, path and query.
pub fn identity(request: &Request) -> String {
    let query: Vec<String> = request
        .query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    match (request.header("soapaction"), po_ref_in(&request.body)) {
        (Some(a), Some(r)) if a.contains(PO_CREATE) => format!("create {r}"),
        _ => format!("{} {}?{}", request.method, request.path, query.join("&")),
    }
}

/// For each stamp of `front` behind `server`, whether its answer reached the
/// client intact (the server's fault plan may have dropped, truncated or
/// garbled it after the front answered).
pub fn intact(server: &Server, stamps: &[Stamp]) -> Vec<bool> {
    use std::collections::VecDeque;
    let mut by_identity: BTreeMap<String, VecDeque<bool>> = BTreeMap::new();
    for r in server.requests() {
        let reached_front = match r.fault.as_deref() {
            None | Some("latency") => Some(true),
            Some("drop_connection" | "truncate_body" | "malformed_body" | "slow_body") => {
                Some(false)
            }
            // Status and 429 faults answer before the front.
            Some(_) => None,
        };
        if let Some(ok) = reached_front {
            by_identity
                .entry(identity(&r.request))
                .or_default()
                .push_back(ok);
        }
    }
    stamps
        .iter()
        .map(|s| {
            by_identity
                .get_mut(&s.identity)
                .and_then(VecDeque::pop_front)
                .unwrap_or(false)
        })
        .collect()
}

impl Handler for Front {
    fn handle(&self, request: &Request) -> Response {
        let action = request.header("soapaction").map(str::to_string);
        let burst = self.burst_now(request, action.as_deref());
        let response = match burst {
            Some(secs) => Response::new(
                http::StatusCode::TOO_MANY_REQUESTS,
                "text/plain",
                "rate limited by the front",
            )
            .with_header(http::header::RETRY_AFTER, &secs.to_string()),
            None => self.inner.handle(request),
        };
        self.stamps.lock().unwrap().push(Stamp {
            at: self.started.elapsed(),
            line: format!("{} {}", request.method, request.path),
            identity: identity(request),
            soap_action: action,
            status: response.status.as_u16(),
        });
        response
    }
}
