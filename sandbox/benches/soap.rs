//! Loopback rate of the PeopleSoft emulator: SOAP 1.1 `CI_PO_EXPRESS_C`
//! creates of 3-line purchase orders with WS-Security, from a few concurrent
//! keep-alive clients. Run: `cargo bench -p mlc-sandbox --bench soap`.
//! Env: `MLC_BENCH_CLIENTS` (4), `MLC_BENCH_SECS` (5).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use mlc_sandbox::peoplesoft::{
    DEMO_PASSWORD, DEMO_USER, PASSWORD_TEXT, PeopleSoftConfig, PeopleSoftSandbox, SOAP11_NS,
    WSSE_NS,
};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A complete SOAP envelope creating a 3-line PO (one schedule and one or two
/// distributions per line), in the site's own request namespace.
fn envelope(namespace: &str, client: usize) -> String {
    let mut lines = String::new();
    for n in 1..=3 {
        lines.push_str(&format!(
            "<PO_LINE><LINE_NBR>{n}</LINE_NBR><DESCR254_MIXED>Item {n} &amp; parts</DESCR254_MIXED><UNIT_OF_MEASURE>EA</UNIT_OF_MEASURE><CATEGORY_ID>OFFICE</CATEGORY_ID>\
<PO_LINE_SHIP><SCHED_NBR>1</SCHED_NBR><QTY_PO>4</QTY_PO><PRICE_PO>12.50</PRICE_PO><DUE_DT>2026-12-01</DUE_DT><SHIPTO_ID>MAIN</SHIPTO_ID>\
<PO_LINE_DISTRIB><DISTRIB_LINE_NUM>1</DISTRIB_LINE_NUM><QTY_PO>1.5</QTY_PO><BUSINESS_UNIT_GL>US001</BUSINESS_UNIT_GL><ACCOUNT>610000</ACCOUNT><DEPTID>10100</DEPTID></PO_LINE_DISTRIB>\
<PO_LINE_DISTRIB><DISTRIB_LINE_NUM>2</DISTRIB_LINE_NUM><QTY_PO>2.5</QTY_PO><BUSINESS_UNIT_GL>US001</BUSINESS_UNIT_GL><ACCOUNT>611000</ACCOUNT><DEPTID>20100</DEPTID></PO_LINE_DISTRIB>\
</PO_LINE_SHIP></PO_LINE>"
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"{SOAP11_NS}\"><soapenv:Header>\
<wsse:Security xmlns:wsse=\"{WSSE_NS}\" soapenv:mustUnderstand=\"1\"><wsse:UsernameToken><wsse:Username>{DEMO_USER}</wsse:Username>\
<wsse:Password Type=\"{PASSWORD_TEXT}\">{DEMO_PASSWORD}</wsse:Password></wsse:UsernameToken></wsse:Security></soapenv:Header><soapenv:Body>\
<Create__CompIntfc__PO_EXPRESS xmlns=\"{namespace}\"><BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>NEXT</PO_ID><VENDOR_SETID>SHARE</VENDOR_SETID>\
<VENDOR_ID>0000000101</VENDOR_ID><PO_DT>2026-11-02</PO_DT><BUYER_ID>MLC_BUYER</BUYER_ID><CURRENCY_CD>USD</CURRENCY_CD><PO_REF>BENCH-{client}</PO_REF>\
{lines}</Create__CompIntfc__PO_EXPRESS></soapenv:Body></soapenv:Envelope>"
    )
}

/// One keep-alive client creating POs until `deadline`; returns each call's latency.
async fn client(
    addr: std::net::SocketAddr,
    path: String,
    body: Bytes,
    deadline: Instant,
) -> Vec<Duration> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("handshake");
    tokio::spawn(conn);
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let started = Instant::now();
        let req = http::Request::post(path.as_str())
            .header("host", addr.to_string())
            .header("content-type", "text/xml; charset=UTF-8")
            .header("soapaction", "\"CI_PO_EXPRESS_C.V1\"")
            .body(Full::new(body.clone()))
            .expect("request");
        let resp = sender.send_request(req).await.expect("answer");
        assert_eq!(resp.status(), 200);
        let reply = resp.into_body().collect().await.expect("body").to_bytes();
        let needle = b"<notification>1</notification>";
        assert!(
            reply.windows(needle.len()).any(|w| w == needle),
            "create refused: {}",
            String::from_utf8_lossy(&reply)
        );
        latencies.push(started.elapsed());
    }
    latencies
}

fn main() {
    let clients = env_or("MLC_BENCH_CLIENTS", 4) as usize;
    let secs = env_or("MLC_BENCH_SECS", 5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let site = PeopleSoftSandbox::start(PeopleSoftConfig::default())
            .await
            .expect("sandbox");
        let namespace = site.namespace_of("CI_PO_EXPRESS_C").expect("operation");
        let path = site
            .listener_url()
            .trim_start_matches(&site.base_url())
            .to_owned();
        let body_len = envelope(&namespace, 0).len();
        let deadline = Instant::now() + Duration::from_secs(secs);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients {
            let body = Bytes::from(envelope(&namespace, c));
            tasks.push(tokio::spawn(client(site.server().addr(), path.clone(), body, deadline)));
        }
        // The server records every request; forget them as we go so memory stays flat.
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(500)).await;
            site.server().clear_requests();
        }
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.expect("client task"));
        }
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort();
        let n = latencies.len();
        let pct = |p: f64| latencies[((n as f64 * p) as usize).min(n - 1)];
        let stored = site.purchase_orders().len();
        assert_eq!(stored, n, "every create stored exactly once");
        println!(
            "peoplesoft CI_PO_EXPRESS_C (3 lines, WSSE, SOAP 1.1, {body_len} B request): {clients} keep-alive clients, {secs} s"
        );
        println!(
            "  {n} POs created, {:.0} creates/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            n as f64 / elapsed,
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            latencies[n - 1].as_secs_f64() * 1e3,
        );
    });
}
