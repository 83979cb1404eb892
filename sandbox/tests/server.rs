//! Integration tests of the sandbox HTTP server: request translation,
//! recording, keep-alive, shutdown on drop, and every fault kind observed on
//! a raw socket.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode, header};
use mlc_sandbox::exchange::{Handler, Request, Response};
use mlc_sandbox::faults::{Fault, FaultPlan, FaultRule};
use mlc_sandbox::server::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Echoes what the server handed it, padded to a body long enough to cut.
struct Echo;

impl Handler for Echo {
    fn handle(&self, request: &Request) -> Response {
        let value = serde_json::json!({
            "method": request.method.as_str(),
            "path": request.path,
            "query": request.query,
            "origin": request.origin,
            "body": String::from_utf8_lossy(&request.body),
            "padding": "x".repeat(1000),
        });
        Response::json(StatusCode::OK, &value)
    }
}

/// Answers XML, to see content-type-aware garbage.
struct Xml;

impl Handler for Xml {
    fn handle(&self, _request: &Request) -> Response {
        Response::xml(
            StatusCode::OK,
            "<SOAP-ENV:Envelope><SOAP-ENV:Body/></SOAP-ENV:Envelope>",
        )
    }
}

/// A raw answer: everything read until the server closed (or the announced body arrived).
struct RawAnswer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Bytes received in total, headers included.
    received: usize,
}

impl RawAnswer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn content_length(&self) -> usize {
        self.header("content-length")
            .and_then(|v| v.parse().ok())
            .expect("Content-Length header")
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

fn parse_raw(raw: &[u8]) -> Option<RawAnswer> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some(RawAnswer {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
        received: raw.len(),
    })
}

/// Sends one request with `Connection: close` and reads until EOF.
async fn raw_exchange(server: &Server, method: &str, target: &str, body: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(server.addr()).await.expect("connect");
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n{body}",
        server.addr(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    // A reset counts as the end of the answer.
    let _ = stream.read_to_end(&mut raw).await;
    raw
}

async fn get(server: &Server, target: &str) -> RawAnswer {
    let raw = raw_exchange(server, "GET", target, "").await;
    parse_raw(&raw).expect("an HTTP answer")
}

async fn start(handler: Arc<dyn Handler>, plan: FaultPlan) -> Server {
    Server::start(handler, Arc::new(plan))
        .await
        .expect("server starts")
}

#[tokio::test]
async fn request_is_translated_with_decoded_query_and_host_origin() {
    let server = start(Arc::new(Echo), FaultPlan::none()).await;
    let raw = raw_exchange(
        &server,
        "POST",
        "/api/v3/vendors/?name=Caf%C3%A9+%26+Co&x=1",
        "{\"a\":1}",
    )
    .await;
    let answer = parse_raw(&raw).expect("answer");
    assert_eq!(answer.status, 200);
    let body = answer.json();
    assert_eq!(body["method"], "POST");
    assert_eq!(body["path"], "/api/v3/vendors/");
    assert_eq!(
        body["query"],
        serde_json::json!([["name", "Café & Co"], ["x", "1"]])
    );
    assert_eq!(body["origin"], format!("http://{}", server.addr()));
    assert_eq!(body["body"], "{\"a\":1}");
    assert_eq!(answer.content_length(), answer.body.len());
    assert_eq!(server.base_url(), format!("http://{}", server.addr()));
}

#[tokio::test]
async fn requests_are_recorded_in_order_and_can_be_cleared() {
    let server = start(Arc::new(Echo), FaultPlan::none()).await;
    get(&server, "/one").await;
    get(&server, "/two?b=2").await;
    let recorded = server.requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].request.path, "/one");
    assert_eq!(recorded[1].request.query_param("b"), Some("2"));
    assert_eq!(recorded[1].status, 200);
    assert!(recorded.iter().all(|r| r.fault.is_none()));
    server.clear_requests();
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn keep_alive_serves_several_requests_on_one_connection() {
    let server = start(Arc::new(Echo), FaultPlan::none()).await;
    let stream = TcpStream::connect(server.addr()).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, http_body_util::Full<Bytes>>(
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .expect("handshake");
    tokio::spawn(conn);
    for i in 0..5 {
        let req = http::Request::get(format!("/k/{i}"))
            .header(header::HOST, server.addr().to_string())
            .body(http_body_util::Full::new(Bytes::new()))
            .expect("request");
        let resp = sender.send_request(req).await.expect("answer");
        assert_eq!(resp.status(), StatusCode::OK);
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .expect("body")
            .to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["path"], format!("/k/{i}"));
    }
    assert_eq!(server.requests().len(), 5);
}

#[tokio::test]
async fn dropping_the_server_stops_accepting_connections() {
    let server = start(Arc::new(Echo), FaultPlan::none()).await;
    let addr = server.addr();
    // An open idle keep-alive connection must be closed too.
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(server);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "listener still accepting"
    );
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(2), idle.read(&mut buf))
        .await
        .expect("idle connection closed within 2s");
    assert!(matches!(read, Ok(0) | Err(_)), "idle connection still open");
}

#[tokio::test]
async fn status_fault_answers_an_error_page_without_calling_the_handler() {
    let plan = FaultPlan::new(1);
    plan.add(FaultRule::always(Fault::Status(503)).times(1));
    let server = start(Arc::new(Echo), plan).await;
    let answer = get(&server, "/x").await;
    assert_eq!(answer.status, 503);
    assert!(
        answer
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
    assert!(String::from_utf8_lossy(&answer.body).contains("503 Service Unavailable"));
    // The rule was for one request only.
    assert_eq!(get(&server, "/x").await.status, 200);
    let recorded = server.requests();
    assert_eq!(recorded[0].status, 503);
    assert_eq!(recorded[0].fault.as_deref(), Some("status_503"));
    assert_eq!(recorded[1].fault, None);
    assert_eq!(server.faults().injected().status, 1);
}

#[tokio::test]
async fn too_many_requests_sends_retry_after() {
    let plan = FaultPlan::new(1);
    plan.add(FaultRule::always(Fault::TooManyRequests {
        retry_after_secs: 12,
    }));
    let server = start(Arc::new(Echo), plan).await;
    let answer = get(&server, "/x").await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.header("retry-after"), Some("12"));
    assert_eq!(
        answer.json()["detail"],
        "Request was throttled. Expected available in 12 seconds."
    );
    assert_eq!(server.faults().injected().too_many_requests, 1);
}

#[tokio::test]
async fn drop_connection_closes_without_any_bytes_after_running_the_handler() {
    let plan = FaultPlan::new(1);
    plan.add(FaultRule::always(Fault::DropConnection).on(Method::POST, "/w"));
    let server = start(Arc::new(Echo), plan).await;
    let raw = raw_exchange(&server, "POST", "/w", "{}").await;
    assert!(
        raw.is_empty(),
        "got {} bytes: {:?}",
        raw.len(),
        String::from_utf8_lossy(&raw)
    );
    let recorded = server.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].status, 0);
    assert_eq!(recorded[0].fault.as_deref(), Some("drop_connection"));
    // GET is out of the rule's scope.
    assert_eq!(get(&server, "/w").await.status, 200);
}

#[tokio::test]
async fn truncate_body_announces_full_length_then_sends_less_and_closes() {
    let plan = FaultPlan::new(1);
    plan.add(FaultRule::always(Fault::TruncateBody));
    let server = start(Arc::new(Echo), plan).await;
    // keep-alive would let the client wait forever; the raw read ends on close.
    let answer = get(&server, "/t").await;
    assert_eq!(answer.status, 200);
    let announced = answer.content_length();
    assert!(announced > 1000, "announced {announced}");
    assert!(!answer.body.is_empty());
    assert!(
        answer.body.len() < announced,
        "sent {} of {announced}",
        answer.body.len()
    );
    assert_eq!(server.faults().injected().truncate_body, 1);
}

#[tokio::test]
async fn malformed_body_is_broken_json_for_json_answers() {
    let plan = FaultPlan::new(1);
    plan.add(FaultRule::always(Fault::MalformedBody));
    let server = start(Arc::new(Echo), plan).await;
    let answer = get(&server, "/m").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.body, b"{\"data\": [");
    assert!(serde_json::from_slice::<serde_json::Value>(&answer.body).is_err());
    assert_eq!(answer.content_length(), answer.body.len());
}

#[tokio::test]
async fn malformed_body_is_broken_soap_for_xml_answers() {
    let plan = FaultPlan::new(1);
    plan.add(FaultRule::always(Fault::MalformedBody));
    let server = start(Arc::new(Xml), plan).await;
    let answer = get(&server, "/PSIGW/PeopleSoftServiceListeningConnector").await;
    assert_eq!(answer.body, b"<SOAP-ENV:Envelope><");
    assert!(answer.header("content-type").unwrap_or("").contains("xml"));
}

#[tokio::test]
async fn latency_delays_the_answer_then_answers_normally() {
    let plan = FaultPlan::new(1);
    plan.add(FaultRule::always(Fault::Latency {
        fixed: Duration::from_millis(300),
        jitter: Duration::from_millis(50),
    }));
    let server = start(Arc::new(Echo), plan).await;
    let started = Instant::now();
    let answer = get(&server, "/l").await;
    let took = started.elapsed();
    assert_eq!(answer.status, 200);
    assert!(took >= Duration::from_millis(300), "took {took:?}");
    assert_eq!(server.requests()[0].fault.as_deref(), Some("latency"));
}

#[tokio::test]
async fn slow_body_arrives_complete_in_delayed_chunks() {
    let plan = FaultPlan::new(1);
    plan.add(FaultRule::always(Fault::SlowBody {
        chunk_delay: Duration::from_millis(10),
    }));
    let server = start(Arc::new(Echo), plan).await;
    let started = Instant::now();
    let answer = get(&server, "/s").await;
    let took = started.elapsed();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.len(), answer.content_length());
    // More than 1000 bytes in 64-byte chunks: at least 15 pauses of 10 ms.
    assert!(took >= Duration::from_millis(150), "took {took:?}");
    assert!(answer.json()["padding"].is_string());
    assert!(answer.received > answer.body.len());
}

#[tokio::test]
async fn slow_bodies_do_not_block_other_connections() {
    let plan = FaultPlan::new(1);
    plan.add(
        FaultRule::always(Fault::SlowBody {
            chunk_delay: Duration::from_millis(250),
        })
        .on_path("/slow"),
    );
    let server = start(Arc::new(Echo), plan).await;
    // The slow answer (over 1000 bytes in 64-byte chunks, 250 ms apart: about
    // 4 s) is read on its own task, which notes when it has begun and when
    // it ended.
    let addr = server.addr();
    let (begun, slow_begun) = tokio::sync::oneshot::channel();
    let slow = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET /slow HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        let mut begun = Some(begun);
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
            let in_body = raw
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .is_some_and(|end| raw.len() > end + 4);
            if in_body && let Some(tx) = begun.take() {
                let _ = tx.send(());
            }
        }
        (parse_raw(&raw).expect("an HTTP answer"), Instant::now())
    });
    slow_begun.await.expect("the slow body began");
    // While the slow body is still being dribbled, another connection is
    // answered in full.
    assert_eq!(get(&server, "/fast").await.status, 200);
    let fast_done = Instant::now();
    let (slow_answer, slow_done) = slow.await.expect("slow task");
    assert_eq!(slow_answer.status, 200);
    assert_eq!(slow_answer.body.len(), slow_answer.content_length());
    assert!(
        fast_done < slow_done,
        "the fast request waited on the slow one: it ended {:?} after the slow body",
        fast_done - slow_done
    );
}

#[tokio::test]
async fn probabilistic_rule_fires_reproducibly_for_a_seed() {
    async fn pattern(seed: u64) -> Vec<u16> {
        let plan = FaultPlan::new(seed);
        plan.add(FaultRule::always(Fault::Status(502)).with_probability(0.5));
        let server = start(Arc::new(Echo), plan).await;
        let mut out = Vec::new();
        for _ in 0..20 {
            out.push(get(&server, "/p").await.status);
        }
        out
    }
    let a = pattern(5).await;
    assert_eq!(a, pattern(5).await);
    assert!(a.contains(&502) && a.contains(&200), "{a:?}");
}
