//! Loopback request rate of the Procurify emulator: token-authenticated
//! `GET /api/v3/order-items/?page_size=100` pages from a few concurrent
//! keep-alive clients. Run: `cargo bench -p mlc-sandbox --bench loopback`.
//! Env: `MLC_BENCH_REQUISITIONS` (default 50000), `MLC_BENCH_CLIENTS` (4),
//! `MLC_BENCH_SECS` (5).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use mlc_sandbox::procurify::{ProcurifyConfig, ProcurifySandbox};

/// CPU seconds used by this process so far (all threads), from
/// `/proc/self/stat` (utime + stime, in 100 Hz ticks). On a shared, loaded
/// machine requests per CPU-second is steadier than requests per wall second.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, i.e. the 12th and 13th after it.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// CPU seconds used by the calling thread, from `/proc/thread-self/schedstat` (ns).
fn thread_cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One keep-alive client fetching pages until `deadline`; returns pages fetched.
async fn client(
    addr: std::net::SocketAddr,
    token: String,
    query: &'static str,
    pages: u64,
    offset: u64,
    deadline: Instant,
    bytes: Arc<AtomicU64>,
) -> u64 {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("handshake");
    tokio::spawn(conn);
    let auth = format!("Bearer {token}");
    let mut done = 0u64;
    while Instant::now() < deadline {
        let page = 1 + (offset + done) % pages;
        let req = http::Request::get(format!(
            "/api/v3/order-items/?page_size=100&page={page}{query}"
        ))
        .header("host", addr.to_string())
        .header("authorization", &auth)
        .header("x-procurify-client", "api")
        .body(Full::new(Bytes::new()))
        .expect("request");
        let resp = sender.send_request(req).await.expect("answer");
        assert_eq!(resp.status(), 200, "page {page}");
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        done += 1;
    }
    done
}

async fn measure(sb: &ProcurifySandbox, label: &str, query: &'static str, clients: u64, secs: u64) {
    let token = sb.issue_token();
    let count = {
        let s = sb.state();
        if query.is_empty() {
            s.items.len() as u64
        } else {
            s.items
                .iter()
                .filter(|i| s.order(i.order_num).is_some_and(|o| o.status == 1))
                .count() as u64
        }
    };
    let pages = count.div_ceil(100).max(1);
    let bytes = Arc::new(AtomicU64::new(0));
    let cpu_start = cpu_secs();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            tokio::spawn(client(
                sb.addr(),
                token.clone(),
                query,
                pages,
                c * pages / clients.max(1),
                deadline,
                bytes.clone(),
            ))
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("client task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    if let (Some(a), Some(b)) = (cpu_start, cpu_secs()) {
        println!(
            "{label}: {:.0} requests per CPU-second (server and clients together, {:.2} CPU s)",
            total as f64 / (b - a).max(0.01),
            b - a
        );
    }
    println!(
        "{label}: {total} pages in {elapsed:.2} s = {:.0} requests/s ({:.1} MB/s, {clients} keep-alive clients, {count} matching items)",
        total as f64 / elapsed,
        bytes.load(Ordering::Relaxed) as f64 / elapsed / 1e6,
    );
}

/// The emulator alone (no sockets): the same page requests as `Handler::handle` calls.
fn direct(sb: &ProcurifySandbox, secs: u64) {
    use mlc_sandbox::exchange::{Handler, Request};
    let token = sb.issue_token();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "authorization",
        http::HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
    );
    headers.insert("x-procurify-client", http::HeaderValue::from_static("api"));
    let pages = (sb.state().items.len() as u64).div_ceil(100);
    let cpu_start = thread_cpu_secs();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs.min(2));
    let mut done = 0u64;
    while Instant::now() < deadline {
        let req = Request {
            method: http::Method::GET,
            path: "/api/v3/order-items/".to_owned(),
            query: vec![
                ("page_size".to_owned(), "100".to_owned()),
                ("page".to_owned(), (1 + done % pages).to_string()),
            ],
            headers: headers.clone(),
            body: Bytes::new(),
            origin: sb.base_url(),
        };
        let resp = sb.api().handle(&req);
        assert_eq!(resp.status, 200);
        done += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if let (Some(a), Some(b)) = (cpu_start, thread_cpu_secs()) {
        println!(
            "Handler::handle order-items page: {:.0} pages per CPU-second ({:.3} ms CPU per page)",
            done as f64 / (b - a).max(0.001),
            (b - a) * 1000.0 / done.max(1) as f64
        );
    }
    println!(
        "Handler::handle order-items page (no HTTP, 1 thread): {done} in {elapsed:.2} s = {:.0} pages/s",
        done as f64 / elapsed
    );
}

fn main() {
    let requisitions = env_or("MLC_BENCH_REQUISITIONS", 50_000) as usize;
    let clients = env_or("MLC_BENCH_CLIENTS", 4);
    let secs = env_or("MLC_BENCH_SECS", 5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let started = Instant::now();
        let sb = ProcurifySandbox::start(ProcurifyConfig {
            requisitions,
            ..ProcurifyConfig::default()
        })
        .await
        .expect("sandbox starts");
        let (items, pos) = {
            let s = sb.state();
            (s.items.len(), s.purchase_orders.len())
        };
        println!(
            "procurify sandbox: generated {requisitions} requisitions, {items} order items, {pos} POs in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        direct(&sb, secs);
        measure(&sb, "GET /api/v3/order-items/?page_size=100", "", clients, secs).await;
        measure(
            &sb,
            "GET /api/v3/order-items/?page_size=100&orderNum__status=1",
            "&orderNum__status=1",
            clients,
            secs,
        )
        .await;
    });
}
