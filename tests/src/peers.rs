//! Small HTTP peers for runtime tests, served by the sandbox crate's server:
//! an echo server (records everything, reflects header names) and an OAuth2
//! client-credentials issuer with a protected resource.

use http::StatusCode;
use mlc_sandbox::exchange::{Handler, Request, Response};
use mlc_sandbox::faults::FaultPlan;
use mlc_sandbox::server::Server;
use std::sync::Arc;
use std::sync::Mutex;

/// Answers every request with a JSON description of it: method, path, header
/// names, body. It does not reflect header values, so a component's view of
/// the answer shows what the host attached only by name.
#[derive(Debug, Default)]
pub struct Echo;

impl Handler for Echo {
    fn handle(&self, request: &Request) -> Response {
        let names: Vec<&str> = request.headers.keys().map(|k| k.as_str()).collect();
        Response::json(
            StatusCode::OK,
            &serde_json::json!({
                "method": request.method.as_str(),
                "path": request.path,
                "header_names": names,
                "body_bytes": request.body.len(),
            }),
        )
        .with_header(http::header::SERVER, "mlc-echo")
    }
}

/// Starts an echo server on 127.0.0.1.
pub async fn echo_server() -> Server {
    Server::start(Arc::new(Echo), Arc::new(FaultPlan::none()))
        .await
        .expect("echo server starts")
}

/// An OAuth2 client-credentials issuer (`POST /oauth/token`) guarding every
/// other path: only the most recently issued token is accepted.
#[derive(Debug)]
pub struct TokenIssuer {
    client_id: String,
    client_secret: String,
    state: Mutex<IssuerState>,
}

#[derive(Debug, Default)]
struct IssuerState {
    issued: u32,
    valid: Option<String>,
}

impl TokenIssuer {
    /// An issuer that accepts exactly these client credentials.
    pub fn new(client_id: &str, client_secret: &str) -> Self {
        TokenIssuer {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            state: Mutex::new(IssuerState::default()),
        }
    }

    /// How many tokens were issued.
    pub fn issued(&self) -> u32 {
        self.state.lock().map(|s| s.issued).unwrap_or(0)
    }

    /// Invalidates the current token (the next call answers 401).
    pub fn revoke(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.valid = None;
        }
    }
}

impl Handler for TokenIssuer {
    fn handle(&self, request: &Request) -> Response {
        let Ok(mut state) = self.state.lock() else {
            return Response::json(StatusCode::INTERNAL_SERVER_ERROR, &serde_json::json!({}));
        };
        if request.path == "/oauth/token" {
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
            if body["client_id"] != self.client_id.as_str()
                || body["client_secret"] != self.client_secret.as_str()
                || body["grant_type"] != "client_credentials"
            {
                return Response::json(
                    StatusCode::UNAUTHORIZED,
                    &serde_json::json!({"error": "invalid_client", "error_description": "Unauthorized"}),
                );
            }
            state.issued += 1;
            let token = format!("token-{}", state.issued);
            state.valid = Some(token.clone());
            return Response::json(
                StatusCode::OK,
                &serde_json::json!({"access_token": token, "expires_in": 86400, "token_type": "Bearer", "scope": "api"}),
            );
        }
        let presented = request
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "));
        match (&state.valid, presented) {
            (Some(valid), Some(p)) if valid == p => Response::json(
                StatusCode::OK,
                &serde_json::json!({"data": "protected", "token_number": state.issued}),
            ),
            _ => Response::json(
                StatusCode::UNAUTHORIZED,
                &serde_json::json!({"detail": "Authentication credentials were not provided."}),
            ),
        }
    }
}

/// Starts a token issuer on 127.0.0.1; returns the server and the issuer.
pub async fn token_issuer(client_id: &str, client_secret: &str) -> (Server, Arc<TokenIssuer>) {
    let issuer = Arc::new(TokenIssuer::new(client_id, client_secret));
    let server = Server::start(issuer.clone(), Arc::new(FaultPlan::none()))
        .await
        .expect("token issuer starts");
    (server, issuer)
}

/// A minimal record service for pipeline tests (spoken by the `testkit`
/// component): source streams to page through, sink streams that store
/// documents by key and count every post, and scripted write failures.
#[derive(Debug, Default)]
pub struct RecordService {
    state: Mutex<RecordServiceState>,
}

#[derive(Debug, Default)]
struct RecordServiceState {
    /// stream -> (change sequence, key, body), in change order.
    sources: std::collections::BTreeMap<String, Vec<(u64, String, serde_json::Value)>>,
    change_seq: u64,
    sinks: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, (String, serde_json::Value)>,
    >,
    posts: std::collections::BTreeMap<(String, String), u32>,
    post_times: Vec<std::time::Instant>,
    next_id: u64,
    write_failures: std::collections::VecDeque<(u16, Option<u32>)>,
    reject_keys: std::collections::BTreeSet<String>,
    sink_forbidden: bool,
}

impl RecordService {
    fn state(&self) -> std::sync::MutexGuard<'_, RecordServiceState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a source record (or moves a changed one to the end, as a
    /// modification-ordered source would).
    pub fn put_source(&self, stream: &str, key: &str, body: serde_json::Value) {
        let mut s = self.state();
        s.change_seq += 1;
        let seq = s.change_seq;
        let records = s.sources.entry(stream.into()).or_default();
        records.retain(|(_, k, _)| k != key);
        records.push((seq, key.into(), body));
    }

    /// The next `n` writes answer `status` (with Retry-After when given)
    /// without storing anything.
    pub fn fail_next_writes(&self, n: usize, status: u16, retry_after: Option<u32>) {
        let mut s = self.state();
        for _ in 0..n {
            s.write_failures.push_back((status, retry_after));
        }
    }

    /// Writes of `key` are refused with 400.
    pub fn reject_key(&self, key: &str) {
        self.state().reject_keys.insert(key.into());
    }

    /// Writes of `key` are accepted again.
    pub fn accept_key(&self, key: &str) {
        self.state().reject_keys.remove(key);
    }

    /// Sink writes answer 403 (a permission the operator must grant) while set.
    pub fn set_sink_forbidden(&self, forbidden: bool) {
        self.state().sink_forbidden = forbidden;
    }

    /// How many times `key` was posted to sink `stream` (successfully stored or not).
    pub fn posts(&self, stream: &str, key: &str) -> u32 {
        self.state()
            .posts
            .get(&(stream.to_string(), key.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// All posts to sink `stream`, summed.
    pub fn total_posts(&self, stream: &str) -> u32 {
        self.state()
            .posts
            .iter()
            .filter(|((s, _), _)| s == stream)
            .map(|(_, n)| n)
            .sum()
    }

    /// When each post arrived.
    pub fn post_times(&self) -> Vec<std::time::Instant> {
        self.state().post_times.clone()
    }

    /// The documents stored in sink `stream`: key -> (id, body).
    pub fn stored(
        &self,
        stream: &str,
    ) -> std::collections::BTreeMap<String, (String, serde_json::Value)> {
        self.state().sinks.get(stream).cloned().unwrap_or_default()
    }
}

fn padded(mut value: serde_json::Value) -> Response {
    // Padding makes answers span several chunks, so a slow-body fault can
    // stall one after the write was stored.
    value["pad"] = "-".repeat(300).into();
    Response::json(StatusCode::CREATED, &value)
}

impl Handler for RecordService {
    fn handle(&self, request: &Request) -> Response {
        let mut s = self.state();
        let parts: Vec<&str> = request.path.trim_matches('/').split('/').collect();
        let detail = |status: StatusCode, text: &str| {
            Response::json(status, &serde_json::json!({"detail": text}))
        };
        match (request.method.as_str(), parts.as_slice()) {
            ("GET", ["health"]) => Response::json(StatusCode::OK, &serde_json::json!({"ok": true})),
            ("GET", ["source", stream]) => {
                // The cursor is a change sequence: a changed record moves past it.
                let after: u64 = request
                    .query_param("after")
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(0);
                let limit: usize = request
                    .query_param("limit")
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(50);
                let records = s.sources.get(*stream).cloned().unwrap_or_default();
                let newer: Vec<&(u64, String, serde_json::Value)> =
                    records.iter().filter(|(seq, _, _)| *seq > after).collect();
                let page: Vec<serde_json::Value> = newer
                    .iter()
                    .take(limit)
                    .map(|(_, k, b)| serde_json::json!({"key": k, "body": b}))
                    .collect();
                let last = newer
                    .get(newer.len().min(limit).wrapping_sub(1))
                    .map_or(after, |(seq, _, _)| *seq);
                let next = (newer.len() > limit).then_some(last);
                Response::json(
                    StatusCode::OK,
                    &serde_json::json!({"records": page, "next": next, "end": last}),
                )
            }
            ("POST", ["sink", stream]) => {
                let key = request.header("x-doc-key").unwrap_or("").to_string();
                *s.posts
                    .entry((stream.to_string(), key.clone()))
                    .or_default() += 1;
                s.post_times.push(std::time::Instant::now());
                if s.sink_forbidden {
                    return detail(
                        StatusCode::FORBIDDEN,
                        "grant the integration user the write permission",
                    );
                }
                if let Some((status, retry_after)) = s.write_failures.pop_front() {
                    let status =
                        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    let mut response = detail(status, "scripted failure");
                    if let Some(secs) = retry_after {
                        response =
                            response.with_header(http::header::RETRY_AFTER, &secs.to_string());
                    }
                    return response;
                }
                if s.reject_keys.contains(&key) {
                    return detail(
                        StatusCode::BAD_REQUEST,
                        &format!("quantity: must be positive (document {key})"),
                    );
                }
                let body: serde_json::Value = match serde_json::from_slice(&request.body) {
                    Ok(b) => b,
                    Err(e) => return detail(StatusCode::BAD_REQUEST, &format!("body: {e}")),
                };
                s.next_id += 1;
                let id = format!("T-{}", s.next_id);
                s.sinks
                    .entry(stream.to_string())
                    .or_default()
                    .insert(key, (id.clone(), body));
                padded(serde_json::json!({"id": id}))
            }
            ("GET", ["sink", stream, "lookup"]) => {
                let key = request.query_param("key").unwrap_or("");
                match s.sinks.get(*stream).and_then(|m| m.get(key)) {
                    Some((id, _)) => Response::json(StatusCode::OK, &serde_json::json!({"id": id})),
                    None => detail(StatusCode::NOT_FOUND, "Not found."),
                }
            }
            _ => detail(StatusCode::NOT_FOUND, "Not found."),
        }
    }
}

/// Starts a record service on 127.0.0.1 with a fault plan seeded by `seed`.
pub async fn record_service(seed: u64) -> (Server, Arc<RecordService>) {
    let service = Arc::new(RecordService::default());
    let server = Server::start(service.clone(), Arc::new(FaultPlan::new(seed)))
        .await
        .expect("record service starts");
    (server, service)
}
