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
    println!(
        "{label}: {total} pages in {elapsed:.2} s = {:.0} requests/s ({:.1} MB/s, {clients} keep-alive clients, {count} matching items)",
        total as f64 / elapsed,
        bytes.load(Ordering::Relaxed) as f64 / elapsed / 1e6,
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
