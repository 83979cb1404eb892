//! The sandbox HTTP/1.1 server (hyper 1 on tokio): turns wire requests into
//! `exchange::Request`, injects the `FaultPlan`'s faults, records every
//! request, and writes the emulator's `exchange::Response`.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Sleep;

use crate::exchange::{Handler, Request, Response};
use crate::faults::{Fault, FaultPlan, Injection};

/// One request the server received, as the emulator saw it, with what was answered.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The request (body fully read, query decoded).
    pub request: Request,
    /// The status line sent; `0` when the connection was dropped without one.
    pub status: u16,
    /// The injected fault's name (`Fault::name`), if any.
    pub fault: Option<String>,
}

/// A running sandbox server. Dropping it stops accepting and closes every
/// open connection (their tasks are aborted).
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

struct Shared {
    handler: Arc<dyn Handler>,
    faults: Arc<FaultPlan>,
    requests: Mutex<Vec<RecordedRequest>>,
    bound: SocketAddr,
}

impl Server {
    /// Binds `127.0.0.1:0` and serves `handler` on tokio tasks (call inside a tokio runtime).
    pub async fn start(
        handler: Arc<dyn Handler>,
        faults: Arc<FaultPlan>,
    ) -> std::io::Result<Server> {
        Server::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), handler, faults).await
    }

    /// Binds `addr` (e.g. a fixed port for the standalone sandbox) and serves `handler`.
    pub async fn start_on(
        addr: SocketAddr,
        handler: Arc<dyn Handler>,
        faults: Arc<FaultPlan>,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let shared = Arc::new(Shared {
            handler,
            faults,
            requests: Mutex::new(Vec::new()),
            bound,
        });
        let accept_task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Server {
            addr: bound,
            shared,
            accept_task,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in order of answer, with the status
    /// answered and the fault injected, if any.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.records().clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.records().clear();
    }

    /// The fault plan this server consults for every request.
    pub fn faults(&self) -> &Arc<FaultPlan> {
        &self.shared.faults
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The accept task owns the listener and the JoinSet of connection
        // tasks; aborting it drops both, which aborts every connection.
        self.accept_task.abort();
    }
}

impl Shared {
    fn records(&self) -> std::sync::MutexGuard<'_, Vec<RecordedRequest>> {
        // Recording only pushes whole values, so a poisoned lock still holds
        // a consistent list.
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn record(&self, request: Request, status: u16, injection: Option<&Injection>) {
        self.records().push(RecordedRequest {
            request,
            status,
            fault: injection.map(|i| i.fault.name()),
        });
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    // Small request/response exchanges: do not wait for Nagle.
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(stream, shared.clone()));
                }
                Err(_) => {
                    // Out of file descriptors or a reset before accept: back
                    // off briefly instead of spinning, then keep serving.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let service = service_fn(move |req| {
        let shared = shared.clone();
        async move { answer(shared, req).await }
    });
    // Errors here are client disconnects or injected drops/truncations,
    // which end this connection and nothing else.
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// The error a service returns to make hyper close the connection without an answer.
#[derive(Debug)]
struct DroppedOnPurpose;

impl std::fmt::Display for DroppedOnPurpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DroppedOnPurpose {}

async fn answer(
    shared: Arc<Shared>,
    req: http::Request<Incoming>,
) -> Result<http::Response<ServerBody>, DroppedOnPurpose> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        // The client went away mid-body: nothing to answer.
        Err(_) => return Err(DroppedOnPurpose),
    };
    let origin = match parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    {
        Some(host) if !host.is_empty() => format!("http://{host}"),
        _ => format!("http://{}", shared.bound),
    };
    let query = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let request = Request {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query,
        headers: parts.headers,
        body,
        origin,
    };

    let injection = shared.faults.pick(&request.method, &request.path);
    let Some(injection) = injection else {
        let response = shared.handler.handle(&request);
        shared.record(request, response.status.as_u16(), None);
        return Ok(to_hyper(response, BodyMode::Full));
    };

    match &injection.fault {
        Fault::Latency { .. } => {
            tokio::time::sleep(injection.delay).await;
            let response = shared.handler.handle(&request);
            shared.record(request, response.status.as_u16(), Some(&injection));
            Ok(to_hyper(response, BodyMode::Full))
        }
        Fault::Status(code) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let response = error_page(status);
            shared.record(request, status.as_u16(), Some(&injection));
            Ok(to_hyper(response, BodyMode::Full))
        }
        Fault::TooManyRequests { retry_after_secs } => {
            let response = throttled(*retry_after_secs);
            shared.record(request, 429, Some(&injection));
            Ok(to_hyper(response, BodyMode::Full))
        }
        Fault::DropConnection => {
            // The emulator acts first: a dropped answer to a write that took
            // effect is the case clients must survive.
            let _ = shared.handler.handle(&request);
            shared.record(request, 0, Some(&injection));
            Err(DroppedOnPurpose)
        }
        Fault::TruncateBody => {
            let response = shared.handler.handle(&request);
            shared.record(request, response.status.as_u16(), Some(&injection));
            Ok(to_hyper(response, BodyMode::Truncated))
        }
        Fault::MalformedBody => {
            let mut response = shared.handler.handle(&request);
            response.body = garbage_for(&response);
            shared.record(request, response.status.as_u16(), Some(&injection));
            Ok(to_hyper(response, BodyMode::Full))
        }
        Fault::SlowBody { chunk_delay } => {
            let response = shared.handler.handle(&request);
            shared.record(request, response.status.as_u16(), Some(&injection));
            Ok(to_hyper(response, BodyMode::Slow(*chunk_delay)))
        }
    }
}

/// The page a reverse proxy or a crashed application server shows for `status`.
fn error_page(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    let code = status.as_u16();
    Response::new(
        status,
        "text/html; charset=utf-8",
        format!(
            "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
        ),
    )
}

/// Django REST framework's throttling answer (same text and header).
fn throttled(retry_after_secs: u32) -> Response {
    let detail =
        format!("Request was throttled. Expected available in {retry_after_secs} seconds.");
    Response::json(
        StatusCode::TOO_MANY_REQUESTS,
        &serde_json::json!({ "detail": detail }),
    )
    .with_header(header::RETRY_AFTER, &retry_after_secs.to_string())
}

/// A broken body of the same kind as `response`'s content type.
fn garbage_for(response: &Response) -> Bytes {
    let content_type = response
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.contains("json") {
        Bytes::from_static(b"{\"data\": [")
    } else if content_type.contains("xml") {
        Bytes::from_static(b"<SOAP-ENV:Envelope><")
    } else if content_type.contains("html") {
        Bytes::from_static(b"<html><body><h1>")
    } else {
        Bytes::from_static(b"\x00\xff\xfe garbage")
    }
}

enum BodyMode {
    Full,
    Truncated,
    Slow(Duration),
}

fn to_hyper(response: Response, mode: BodyMode) -> http::Response<ServerBody> {
    let Response {
        status,
        mut headers,
        body,
    } = response;
    // The full length is announced in every mode: truncation must look like
    // a promise broken mid-body, not a shorter answer.
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let body = match mode {
        BodyMode::Full => ServerBody::full(body),
        BodyMode::Truncated => ServerBody::truncated(body),
        BodyMode::Slow(delay) => ServerBody::slow(body, delay),
    };
    let mut out = http::Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

/// How long a truncated body waits between its partial data and the abort.
const TRUNCATE_PAUSE: Duration = Duration::from_millis(20);

/// Chunk size for slow bodies: small enough that a page takes several pauses.
const SLOW_CHUNK: usize = 64;

/// The response body the server writes: whole, cut short, or dribbled.
pub(crate) struct ServerBody {
    kind: BodyKind,
}

enum BodyKind {
    Full(Option<Bytes>),
    /// Sends the first half, pauses so hyper flushes it, then fails.
    Truncated {
        part: Option<Bytes>,
        total: u64,
        pause: Option<Pin<Box<Sleep>>>,
    },
    Slow {
        rest: Bytes,
        total: u64,
        delay: Duration,
        sleep: Option<Pin<Box<Sleep>>>,
        started: bool,
    },
}

impl ServerBody {
    fn full(body: Bytes) -> ServerBody {
        ServerBody {
            kind: BodyKind::Full((!body.is_empty()).then_some(body)),
        }
    }

    fn truncated(body: Bytes) -> ServerBody {
        let total = body.len() as u64;
        let cut = body.len() / 2;
        ServerBody {
            kind: BodyKind::Truncated {
                part: Some(body.slice(..cut)),
                total,
                pause: None,
            },
        }
    }

    fn slow(body: Bytes, delay: Duration) -> ServerBody {
        ServerBody {
            kind: BodyKind::Slow {
                total: body.len() as u64,
                rest: body,
                delay,
                sleep: None,
                started: false,
            },
        }
    }
}

impl Body for ServerBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        match &mut this.kind {
            BodyKind::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            BodyKind::Truncated { part, pause, .. } => {
                if let Some(p) = part.take().filter(|p| !p.is_empty()) {
                    return Poll::Ready(Some(Ok(Frame::data(p))));
                }
                // hyper buffers what it has until the body is pending; a short
                // pause gets the headers and partial body onto the wire
                // before the failure aborts the connection.
                let timer =
                    pause.get_or_insert_with(|| Box::pin(tokio::time::sleep(TRUNCATE_PAUSE)));
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                // Failing the body makes hyper close the connection with the
                // announced Content-Length unmet.
                Poll::Ready(Some(Err(std::io::Error::other(
                    "body truncated by fault injection",
                ))))
            }
            BodyKind::Slow {
                rest,
                delay,
                sleep,
                started,
                ..
            } => {
                if rest.is_empty() {
                    return Poll::Ready(None);
                }
                if *started {
                    let timer = sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(*delay)));
                    if timer.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    *sleep = None;
                }
                *started = true;
                let n = rest.len().min(SLOW_CHUNK);
                Poll::Ready(Some(Ok(Frame::data(rest.split_to(n)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            BodyKind::Full(data) => data.is_none(),
            BodyKind::Truncated { .. } => false,
            BodyKind::Slow { rest, .. } => rest.is_empty(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            BodyKind::Full(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            BodyKind::Truncated { total, .. } | BodyKind::Slow { total, .. } => {
                SizeHint::with_exact(*total)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_keeps_the_content_type_family() {
        let json = Response::json(StatusCode::OK, &serde_json::json!({"a": 1}));
        assert_eq!(&garbage_for(&json)[..], b"{\"data\": [");
        let xml = Response::xml(StatusCode::OK, "<a/>");
        assert_eq!(&garbage_for(&xml)[..], b"<SOAP-ENV:Envelope><");
    }

    #[test]
    fn throttled_answer_carries_retry_after() {
        let r = throttled(7);
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            r.headers
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("7")
        );
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json body");
        assert_eq!(
            body["detail"],
            "Request was throttled. Expected available in 7 seconds."
        );
    }

    #[test]
    fn error_page_names_the_status() {
        let r = error_page(StatusCode::BAD_GATEWAY);
        assert_eq!(r.status, StatusCode::BAD_GATEWAY);
        assert!(String::from_utf8_lossy(&r.body).contains("502 Bad Gateway"));
    }
}
