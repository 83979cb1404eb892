//! System benchmarks of ml-connector (issue 10), printed as a table and
//! written to BENCHMARKS.md. Run in release, after building the binary:
//!
//! `cargo build --release -p mlc-host && cargo bench -p mlc-tests --bench system`
//!
//! - P1 throughput: approved requisitions -> PeopleSoft POs end to end, the
//!   sandbox in a separate process (so this process's CPU is the host's),
//!   next to the sandbox's raw SOAP-create rate measured in the same run;
//! - P2 latency-bound: PeopleSoft answering creates after 100 ms, flow
//!   concurrency 8, against the ideal 80 POs/s;
//! - P3 start-up: process start to first request (warm component cache),
//!   component instantiate, host->guest call;
//! - P4 tenants: resident memory of the daemon with 1, 100 and 500 idle tenants;
//! - P5 coordination: what leases and fencing cost on a 1,000-requisition
//!   run, and how soon a flow moves after its holder is SIGKILLed.
//!
//! Env: MLC_BENCH_SIZES (default "1000,10000,50000"), MLC_BENCH_TENANTS
//! (default "1,100,500"). Nothing here asserts on time.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use mlc_deployment_kit::{Deployment, Kit, binary, toml_edit};
use mlc_host::app::{App, AppOptions};
use mlc_host::runtime::{Connection, Runtime, RuntimeConfig};
use mlc_host::vault::VaultKey;
use mlc_sandbox::faults::{Fault, FaultRule};
use mlc_sandbox::peoplesoft::{
    DEMO_PASSWORD, DEMO_USER, PASSWORD_TEXT, PeopleSoftConfig, PeopleSoftSandbox, SOAP11_NS,
    WSSE_NS,
};
use mlc_sandbox::procurify::{ProcurifyConfig, ProcurifySandbox};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PO_FLOW: &str = "requisitions-to-purchase-orders";
const REFERENCE_FLOWS: &[&str] = &[
    "vendors-to-procurify",
    "vendors-to-peoplesoft",
    "accounts-to-procurify",
    "accounts-to-peoplesoft",
    "departments-to-procurify",
    "departments-to-peoplesoft",
];

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// CPU seconds (user + system) this process has used.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the full line (11, 12 here); 100 ticks/s.
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// `ml-connector sandbox` in its own process; its URLs read from its output.
struct SandboxProcess {
    child: Child,
    procurify: String,
    peoplesoft: String,
}

impl SandboxProcess {
    fn start(size: usize) -> SandboxProcess {
        let mut child = Command::new(binary())
            .args([
                "sandbox",
                "--procurify-port",
                "0",
                "--peoplesoft-port",
                "0",
                "--size",
            ])
            .arg(size.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sandbox process");
        let stdout = child.stdout.take().expect("stdout");
        let mut procurify = None;
        let mut peoplesoft = None;
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.expect("sandbox output");
            let url = line
                .split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(str::to_string);
            if line.starts_with("Procurify emulator") {
                procurify = url;
            } else if line.starts_with("PeopleSoft emulator") {
                peoplesoft = url;
            }
            if procurify.is_some() && peoplesoft.is_some() {
                break;
            }
        }
        // Keep draining its output: a closed pipe would kill it at its next line.
        std::thread::spawn(move || lines.for_each(drop));
        SandboxProcess {
            child,
            procurify: procurify.expect("Procurify URL printed"),
            peoplesoft: peoplesoft.expect("PeopleSoft URL printed"),
        }
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn open(manifest: &Path) -> App {
    App::open(manifest, AppOptions::default())
        .await
        .expect("deployment builds")
}

/// Runs the flows the PO flow requires (vendors, accounts, cost centers).
async fn run_reference_flows(app: &App) {
    for flow in REFERENCE_FLOWS {
        app.sync(None, Some(flow)).await.expect("reference flow");
    }
}

/// Runs the reference flows, then times the PO flow alone.
async fn timed_po_run(app: &App) -> (u64, u64, f64, f64) {
    run_reference_flows(app).await;
    let (cpu0, t0) = (cpu_secs(), Instant::now());
    let reports = app.sync(None, Some(PO_FLOW)).await.expect("PO flow");
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_secs() - cpu0);
    let r = &reports[0];
    (r.counts.read, r.counts.delivered, wall, cpu)
}

/// A SOAP PO create in the site's namespace (3 lines), WS-Security in the header.
fn create_envelope(namespace: &str, n: usize) -> String {
    let mut lines = String::new();
    for l in 1..=3 {
        lines.push_str(&format!(
            "<PO_LINE><LINE_NBR>{l}</LINE_NBR><DESCR254_MIXED>Item {l}</DESCR254_MIXED><UNIT_OF_MEASURE>EA</UNIT_OF_MEASURE>\
<PO_LINE_SHIP><SCHED_NBR>1</SCHED_NBR><QTY_PO>4</QTY_PO><PRICE_PO>12.50</PRICE_PO>\
<PO_LINE_DISTRIB><DISTRIB_LINE_NUM>1</DISTRIB_LINE_NUM><QTY_PO>4</QTY_PO><BUSINESS_UNIT_GL>US001</BUSINESS_UNIT_GL><ACCOUNT>610000</ACCOUNT><DEPTID>10100</DEPTID></PO_LINE_DISTRIB>\
</PO_LINE_SHIP></PO_LINE>"
        ));
    }
    format!(
        "<soapenv:Envelope xmlns:soapenv=\"{SOAP11_NS}\"><soapenv:Header><wsse:Security xmlns:wsse=\"{WSSE_NS}\"><wsse:UsernameToken>\
<wsse:Username>{DEMO_USER}</wsse:Username><wsse:Password Type=\"{PASSWORD_TEXT}\">{DEMO_PASSWORD}</wsse:Password></wsse:UsernameToken></wsse:Security>\
</soapenv:Header><soapenv:Body><Create__CompIntfc__PO_EXPRESS xmlns=\"{namespace}\"><BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>NEXT</PO_ID>\
<VENDOR_SETID>SHARE</VENDOR_SETID><VENDOR_ID>0000000101</VENDOR_ID><PO_DT>2026-11-02</PO_DT><BUYER_ID>MLC_BUYER</BUYER_ID><CURRENCY_CD>USD</CURRENCY_CD>\
<PO_REF>RAW-{n}</PO_REF>{lines}</Create__CompIntfc__PO_EXPRESS></soapenv:Body></soapenv:Envelope>"
    )
}

async fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> (u16, Bytes) {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("handshake");
    tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(req.body(Full::new(body)).expect("request"))
        .await
        .expect("answer");
    let status = resp.status().as_u16();
    (
        status,
        resp.into_body().collect().await.expect("body").to_bytes(),
    )
}

/// Creates/s the PeopleSoft sandbox at `base` serves to plain HTTP clients
/// (8 keep-alive connections, 5 s): the system limit.
async fn raw_create_rate(base: &str) -> f64 {
    let addr = base.trim_start_matches("http://").to_string();
    let listener = "/PSIGW/PeopleSoftServiceListeningConnector/PSFT_EP";
    let (_, wsdl) = http(
        &addr,
        "GET",
        &format!("{listener}/CI_PO_EXPRESS.1.wsdl"),
        &[],
        Bytes::new(),
    )
    .await;
    let wsdl = String::from_utf8_lossy(&wsdl).into_owned();
    // The request message's namespace: the schema that defines Create__CompIntfc__PO_EXPRESS.
    let element = wsdl
        .find("name=\"Create__CompIntfc__PO_EXPRESS\"")
        .expect("create element in WSDL");
    let schema_start = wsdl[..element]
        .rfind("targetNamespace=\"")
        .expect("schema namespace")
        + "targetNamespace=\"".len();
    let namespace = wsdl[schema_start..]
        .split('"')
        .next()
        .expect("namespace")
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..8 {
        let (addr, namespace) = (addr.clone(), namespace.clone());
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect");
            let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(
                hyper_util::rt::TokioIo::new(stream),
            )
            .await
            .expect("handshake");
            tokio::spawn(conn);
            let mut n = 0u64;
            while Instant::now() < deadline {
                let body = Bytes::from(create_envelope(&namespace, c * 1_000_000 + n as usize));
                let req = http::Request::post(listener)
                    .header("host", &addr)
                    .header("content-type", "text/xml; charset=UTF-8")
                    .header("soapaction", "CI_PO_EXPRESS_C.V1")
                    .body(Full::new(body))
                    .expect("request");
                let resp = sender.send_request(req).await.expect("answer");
                let reply = resp.into_body().collect().await.expect("body").to_bytes();
                assert!(
                    reply.windows(15).any(|w| w == b"<notification>1"),
                    "raw create refused"
                );
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("client");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

struct P1 {
    size: usize,
    requisitions: u64,
    pos: u64,
    wall: f64,
    cpu: f64,
    raw: f64,
}

async fn p1(size: usize) -> P1 {
    let sandbox = SandboxProcess::start(size);
    let deployment = Deployment::at(&sandbox.procurify, &sandbox.peoplesoft);
    let app = open(&deployment.manifest).await;
    let (requisitions, pos, wall, cpu) = timed_po_run(&app).await;
    let raw = raw_create_rate(&sandbox.peoplesoft).await;
    P1 {
        size,
        requisitions,
        pos,
        wall,
        cpu,
        raw,
    }
}

/// PeopleSoft answers every create after 100 ms; the PO flow runs with concurrency 8.
async fn p2() -> (u64, f64) {
    let kit = Kit::builder()
        .requisitions(900)
        .manifest(|m| m.flow(PO_FLOW)["concurrency"] = toml_edit::value(8))
        .start()
        .await;
    let app = kit.app().await;
    run_reference_flows(&app).await;
    kit.peoplesoft.faults().add(
        FaultRule::always(Fault::Latency {
            fixed: Duration::from_millis(100),
            jitter: Duration::ZERO,
        })
        .on(http::Method::POST, "/PSIGW/"),
    );
    let t0 = Instant::now();
    let reports = app.sync(None, Some(PO_FLOW)).await.expect("PO flow");
    let wall = t0.elapsed().as_secs_f64();
    let pos = reports[0].counts.delivered;
    (pos, pos as f64 / wall)
}

/// Start-up of the real binary to its first request (median of 5, warm cache),
/// and component instantiate / call figures.
async fn p3() -> (f64, f64, f64, f64) {
    let kit = Kit::start(20).await;
    let (procurify, peoplesoft, manifest) = (&kit.procurify, &kit.peoplesoft, &kit.manifest);
    let mut samples = Vec::new();
    for run in 0..6 {
        procurify.server().clear_requests();
        peoplesoft.server().clear_requests();
        let t0 = Instant::now();
        let mut child = Command::new(binary())
            .args(["sync", "--flow", PO_FLOW, "--manifest"])
            .arg(manifest)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ml-connector sync");
        while procurify.server().requests().is_empty() && peoplesoft.server().requests().is_empty()
        {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        let first = t0.elapsed().as_secs_f64() * 1e3;
        let _ = tokio::task::spawn_blocking(move || child.wait()).await;
        if run > 0 {
            samples.push(first); // run 0 warms the component cache
        }
    }
    samples.sort_by(f64::total_cmp);
    let startup = samples[samples.len() / 2];

    // Fill the disk cache, then time a load from it in a fresh runtime.
    let config = RuntimeConfig {
        cache_dir: Some(
            std::env::temp_dir().join(format!("mlc-bench-cache-{}", std::process::id())),
        ),
        ..RuntimeConfig::default()
    };
    drop(
        Runtime::new(config.clone())
            .expect("runtime")
            .load("procurify", mlc_host::components::CONNECTOR_PROCURIFY),
    );
    let runtime = Runtime::new(config).expect("runtime");
    let t = Instant::now();
    let (connector, outcome) = runtime
        .load("procurify", mlc_host::components::CONNECTOR_PROCURIFY)
        .expect("load");
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(outcome, mlc_host::runtime::CacheOutcome::Disk);
    let sandbox = mlc_tests::SandboxBuilder::new("bench", "http://127.0.0.1:9").build();
    for _ in 0..200 {
        drop(connector.instantiate(&sandbox).await.expect("instantiate"));
    }
    let n = 5_000;
    let t = Instant::now();
    for _ in 0..n {
        drop(connector.instantiate(&sandbox).await.expect("instantiate"));
    }
    let instantiate_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let (misbehaving, _) = runtime
        .load("misbehaving", mlc_tests::components::MISBEHAVING_COMPONENT)
        .expect("load");
    let mut instance = misbehaving
        .instantiate(&sandbox)
        .await
        .expect("instantiate");
    let conn = Connection {
        base_url: "http://127.0.0.1:9".into(),
        config: "{}".into(),
    };
    for _ in 0..1_000 {
        instance.check(&conn).await.expect("check");
    }
    let calls = 20_000;
    let t = Instant::now();
    for _ in 0..calls {
        instance.check(&conn).await.expect("check");
    }
    let call_us = t.elapsed().as_secs_f64() * 1e6 / calls as f64;
    (startup, load_ms, instantiate_us, call_us)
}

/// Resident memory of `ml-connector run` with `tenants` idle tenants.
fn p4(tenants: usize, procurify: &str, peoplesoft: &str) -> f64 {
    let dir = tempfile::tempdir().expect("dir");
    let mut toml = String::from("[daemon]\nlisten = \"127.0.0.1:0\"\n");
    for t in 0..tenants {
        toml.push_str(&format!(
            "[tenants.t{t}.connections.procurify]\nconnector = \"procurify\"\nbase_url = \"{procurify}\"\n\
auth = {{ scheme = \"oauth2-client-credentials\", token_url = \"{procurify}/oauth/token\", body = \"json\", client_id = \"c\", client_secret = \"secret:procurify/client_secret\" }}\n\
[tenants.t{t}.connections.peoplesoft]\nconnector = \"peoplesoft\"\nbase_url = \"{peoplesoft}\"\n\
config = {{ node = \"PSFT_EP\", business_unit = \"US001\" }}\n\
auth = {{ scheme = \"wsse\", username = \"U\", password = \"secret:peoplesoft/password\" }}\n"
        ));
    }
    let manifest = dir.path().join("manifest.toml");
    std::fs::write(&manifest, toml).expect("manifest");
    VaultKey::create_file(&dir.path().join("ml-connector.key")).expect("key");
    let mut child = Command::new(binary())
        .args(["run", "--manifest"])
        .arg(&manifest)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ml-connector run");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        if line.contains("running") {
            break;
        }
        assert!(!line.starts_with("error"), "daemon failed: {line}");
    }
    // Keep draining its output: a closed pipe would kill it at its next line.
    std::thread::spawn(move || lines.for_each(drop));
    std::thread::sleep(Duration::from_millis(500));
    let rss = rss_mib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    rss
}

/// What the figures mean, what was profiled and fixed, and what bounds the
/// figures that miss their targets (kept in the written file on every run).
const ANALYSIS: &str = "
## Reading the figures

Targets met: start-up to first request (P3, <= 50 ms), component instantiate
(P3, <= 50 us), 500 idle tenants (P4, <= 2 GiB; the host keeps no component
instance per idle tenant: instances live for one flow run), host CPU per
record flat across sizes (P1).

At the line:

- **P2, latency-bound: 94.3-95.4% of ideal over fourteen runs on 2026-11-28**
  (75.4-76.3 POs/s; the figure above is this run's). Was 86%, then 93%:
  the POs of one requisition are written concurrently within the flow's 8
  permits; records of the next page
  start while a page's last writes are in flight (the cursor still passes a
  page only when it and every page before it are settled); and writes queued
  behind the run's first write (which goes alone, so a misconfigured target
  sees one attempt, not eight) now go together once it succeeded, where they
  used to pass the gate one at a time (a ramp of one more write per 100 ms).
  What remains is per write, not per run: a write takes 102.4 ms (median,
  p10 101.5 ms) for 100 ms of emulated latency (timer rounding, loopback HTTP,
  SOAP build and parse), plus the first page read and the lone first write
  (~0.25 s) before the steady 8 in flight.

Target missed, and why:

- **P1, pipeline at 10-13% of the raw SOAP-create rate (target 50%).** The
  raw rate is a bare keep-alive HTTP client posting a prepared envelope over 8
  connections; the pipeline does per PO: read and normalize the requisition
  (Procurify connector, wasm; one order-items call per requisition because
  the API has no multi-requisition filter), map it (jq), record it pending,
  build the SOAP envelope and parse the reply (PeopleSoft connector, wasm),
  and commit ledger, crosswalk and audit row. The host spends ~0.9 ms of CPU
  per PO, flat from 1k to 50k requisitions. At ~1,250 POs/s that is ~1.1 of
  the machine's 2 cores, and the sandbox process (Procurify JSON rendering,
  SOAP parsing) takes most of the rest: this machine, not the pipeline's
  concurrency, bounds the rate (concurrency 8 measured the same as the
  shipped 4). `perf record` of `ml-connector sync` (release, 3,437 POs)
  spreads the host's CPU as: kernel ~31% (task switches, socket I/O, SQLite
  WAL writes), host code ~34% (SQLite ~18% of it all, of which COMMIT ~13%;
  tokio/hyper; jaq), libc malloc/free ~14%, the two wasm components ~21%
  (mostly serde_json in the guests). No single hotspot. Fixed so far: SQL
  statements re-parsed on every call (now prepared once), three write
  transactions per PO (now one pending row and one commit of ledger +
  crosswalk + audit), an O(n) event-log shift, and a run that used one
  thread (each record is now a task of its own: +~10% POs/s). Tried without
  effect: keeping the source record out of pending rows (smaller WAL
  frames). What bounds the rest is per-record durability (two SQLite commits
  per PO, by design: the pending row is what makes a crash safe) and two wasm
  round trips with JSON/XML work per PO; the next steps are batching the
  delivered commits of a page into one transaction and fetching requisition
  lines in bulk, which the Procurify API only allows per requisition.
  Wall-clock POs/s is flat up to 50k requisitions: it fell to 303/s at 50k
  while the Procurify emulator scanned every line for each requisition's
  lines; it now answers through the requisition's line index.
";

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!(
        "{cores} cores ({cpu}), {mem:.0} GiB memory, Linux; shared machine (load average {})",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or("?")
    )
}

/// P5 figures.
struct P5 {
    /// Host CPU of the measured 1,000-requisition PO run (s).
    run_cpu: f64,
    /// POs of that run.
    pos: u64,
    /// Store write transactions of the run (each checks the fence).
    writes: u64,
    /// CPU of one acquire + release (us).
    grant_us: f64,
    /// CPU of one renewal (us).
    renew_us: f64,
    /// CPU of one cursor write transaction, unfenced and fenced (us).
    plain_us: f64,
    fenced_us: f64,
    /// Renewals the run needed at the shipped 30 s lease, and at 3 s.
    renewals_30s: u64,
    renewals_3s: u64,
    /// Takeovers from a killed and from a frozen holder.
    takeover: Takeover,
}

impl P5 {
    fn overhead(&self, renewals: u64) -> f64 {
        let cpu_us = self.grant_us
            + renewals as f64 * self.renew_us
            + self.writes as f64 * (self.fenced_us - self.plain_us).max(0.0);
        100.0 * cpu_us / (self.run_cpu * 1e6)
    }
}

/// CPU time this thread has run, in ns (`/proc/thread-self/schedstat`,
/// nanosecond resolution; the process-wide `cpu_secs` counts 10 ms ticks,
/// too coarse for one store call).
fn thread_cpu_ns() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .expect("/proc/thread-self/schedstat")
}

/// CPU (us) per call of `f`, over `n` calls on this thread (the store calls
/// measured are synchronous, so their CPU is this thread's).
fn cpu_per_call(n: u32, mut f: impl FnMut(u32)) -> f64 {
    let cpu0 = thread_cpu_ns();
    for i in 0..n {
        f(i);
    }
    (thread_cpu_ns() - cpu0) / 1e3 / n as f64
}

async fn p5() -> P5 {
    use mlc_host::store::{Fence, LeaseGrant, LeaseHolder, SqliteStore, Store};
    // The run: 1,000 requisitions, the sandbox in its own process.
    let sandbox = SandboxProcess::start(1000);
    let deployment = Deployment::at(&sandbox.procurify, &sandbox.peoplesoft);
    let app = open(&deployment.manifest).await;
    run_reference_flows(&app).await;
    let audit_before = app
        .store
        .audit_rows(0, usize::MAX >> 1)
        .expect("audit")
        .len() as u64;
    let (cpu0, t0) = (cpu_secs(), Instant::now());
    let reports = app.sync(None, Some(PO_FLOW)).await.expect("PO flow");
    let (wall, run_cpu) = (t0.elapsed().as_secs_f64(), cpu_secs() - cpu0);
    let pos = reports[0].counts.delivered;
    let audit_rows = app
        .store
        .audit_rows(0, usize::MAX >> 1)
        .expect("audit")
        .len() as u64
        - audit_before;
    // Every write transaction of a run checks the fence: each audit row's
    // commit, plus one pending row per write, plus the cursor saves (an
    // upper bound: one per 100-requisition page of the 1,000).
    let writes = audit_rows + pos + 10;

    // The store operations alone, on a scratch file of their own.
    let scratch = tempfile::tempdir().expect("dir");
    let store: std::sync::Arc<dyn Store> =
        std::sync::Arc::new(SqliteStore::open(&scratch.path().join("leases.db")).expect("store"));
    let holder = LeaseHolder {
        id: "bench".into(),
        pid: std::process::id(),
        host: "bench".into(),
        command: "bench".into(),
        machine: String::new(),
    };
    let grant_us = cpu_per_call(2000, |i| {
        let flow = format!("flow-{}", i % 8);
        let LeaseGrant::Granted { lease, .. } = store
            .lease_acquire("bench", &flow, &holder, 30_000)
            .expect("acquire")
        else {
            panic!("held");
        };
        let fence = Fence {
            tenant: "bench".into(),
            flow,
            token: lease.token,
        };
        store.lease_release(&fence, &holder).expect("release");
    });
    let LeaseGrant::Granted { lease, .. } = store
        .lease_acquire("bench", "renewed", &holder, 30_000)
        .expect("acquire")
    else {
        panic!("held");
    };
    let fence = Fence {
        tenant: "bench".into(),
        flow: "renewed".into(),
        token: lease.token,
    };
    let renew_us = cpu_per_call(2000, |_| {
        assert!(store.lease_renew(&fence, &holder, 30_000).expect("renew"));
    });
    let fenced = store.fenced(fence.clone());
    let plain_us = cpu_per_call(4000, |i| {
        store
            .set_cursor("bench", "plain", Some(&i.to_string()))
            .expect("write");
    });
    let fenced_us = cpu_per_call(4000, |i| {
        fenced
            .set_cursor("bench", "renewed", Some(&i.to_string()))
            .expect("write");
    });

    let takeover = takeover().await;
    P5 {
        run_cpu,
        pos,
        writes,
        grant_us,
        renew_us,
        plain_us,
        fenced_us,
        renewals_30s: (wall / 10.0) as u64,
        renewals_3s: (wall / 1.0) as u64,
        takeover,
    }
}

/// How fast another process takes a flow over from a holder that stopped.
struct Takeover {
    /// SIGKILL of the holder -> the next process's grant (ms). On one machine
    /// the host sees the holder's pid is gone and does not wait for expiry.
    killed_ms: f64,
    /// A holder frozen by SIGSTOP (alive, so its lease must lapse, as for a
    /// holder on another machine): its lease expiry -> the next grant (ms).
    frozen_after_expiry_ms: f64,
    /// The lease time used (s).
    lease_secs: u64,
}

/// Wall clock in ms since the epoch, as the store stamps leases.
fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as f64
}

/// A `sync` holding the PO flow is SIGKILLed, and a daemon started right
/// after takes the flow over; then that daemon is frozen with SIGSTOP and a
/// second daemon takes over once the frozen one's lease lapses.
async fn takeover() -> Takeover {
    use mlc_host::store::{SqliteStore, Store};
    let lease_secs = 3;
    let kit = Kit::builder()
        .requisitions(600)
        .manifest(move |m| m.store()["lease_secs"] = toml_edit::value(lease_secs as i64))
        .start()
        .await;
    // Slow creates keep the holder on the PO flow.
    kit.peoplesoft.faults().add(
        FaultRule::always(Fault::Latency {
            fixed: Duration::from_millis(50),
            jitter: Duration::ZERO,
        })
        .on(http::Method::POST, "/PSIGW/"),
    );
    let store_path = kit.dir.path().join("ml-connector.db");
    let store = SqliteStore::open(&store_path).expect("store");
    let po_lease = |store: &SqliteStore| {
        store
            .leases()
            .expect("leases")
            .into_iter()
            .find(|l| l.flow == PO_FLOW)
    };
    let spawn = |command: &str| {
        let mut c = Command::new(binary());
        c.arg(command).arg("--manifest").arg(&kit.manifest);
        if command == "run" {
            c.args(["--listen", "127.0.0.1:0"]);
        }
        c.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ml-connector")
    };
    let signal = |pid: u32, signal: &str| {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} {pid}");
    };
    let held_by = async |store: &SqliteStore, pid: u32| loop {
        match po_lease(store) {
            Some(l) if l.holder.pid == pid => break l,
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    };
    let mut holder = spawn("sync");
    held_by(&store, holder.id()).await;
    holder.kill().expect("SIGKILL");
    let killed_at = epoch_ms();
    holder.wait().expect("reaped");
    let mut daemon = spawn("run");
    let taken = held_by(&store, daemon.id()).await;
    let killed_ms = taken.acquired_ms as f64 - killed_at;

    signal(daemon.id(), "STOP");
    let frozen = po_lease(&store).expect("the frozen daemon's lease");
    let mut next = spawn("run");
    let taken = held_by(&store, next.id()).await;
    let frozen_after_expiry_ms = taken.acquired_ms as f64 - frozen.expires_ms as f64;
    for p in [&mut daemon, &mut next] {
        let _ = p.kill();
        signal(p.id(), "CONT");
        let _ = p.wait();
    }
    Takeover {
        killed_ms,
        frozen_after_expiry_ms,
        lease_secs,
    }
}

fn p5_lines(r: &P5) -> Vec<String> {
    vec![
        "## P5 coordination: leases and fencing".into(),
        String::new(),
        "| what | figure | target |".into(),
        "|---|---:|---:|".into(),
        format!(
            "| PO run measured (1,000 requisitions) | {} POs, {:.0} ms host CPU, {} fenced write transactions | |",
            r.pos,
            r.run_cpu * 1e3,
            r.writes
        ),
        format!("| take + release a lease (CPU) | {:.1} us | |", r.grant_us),
        format!("| renew a lease (CPU) | {:.1} us | |", r.renew_us),
        format!(
            "| one write transaction (CPU), unfenced / fenced (the token check is in the same transaction) | {:.1} us / {:.1} us | |",
            r.plain_us, r.fenced_us
        ),
        format!(
            "| lease overhead of the run, 30 s lease ({} renewals) | {:.3}% | < 2% |",
            r.renewals_30s,
            r.overhead(r.renewals_30s)
        ),
        format!(
            "| lease overhead of the run, 3 s lease ({} renewals) | {:.3}% | < 2% |",
            r.renewals_3s,
            r.overhead(r.renewals_3s)
        ),
        format!(
            "| takeover after SIGKILL on one machine: the kill -> the next process's grant ({} s lease; a dead pid is not waited for) | {:.0} ms | <= {} ms |",
            r.takeover.lease_secs,
            r.takeover.killed_ms,
            r.takeover.lease_secs * 1000 + 1000
        ),
        format!(
            "| takeover from a frozen holder (SIGSTOP; as from another machine): its lease expiry -> the next process's grant | {:.0} ms | <= 1000 ms |",
            r.takeover.frozen_after_expiry_ms
        ),
        String::new(),
    ]
}

fn main() {
    if std::env::var("MLC_BENCH_ONLY").as_deref() == Ok("p5") {
        // A quick look at P5 alone; BENCHMARKS.md is left as it is.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio");
        for l in p5_lines(&rt.block_on(p5())) {
            println!("{l}");
        }
        return;
    }
    if std::env::var("MLC_BENCH_ONLY").as_deref() == Ok("p2") {
        // A quick look at P2 alone; BENCHMARKS.md is left as it is.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio");
        let (pos, rate) = rt.block_on(p2());
        println!(
            "P2: {pos} POs at {rate:.1} POs/s = {:.0}% of 80 POs/s",
            100.0 * rate / 80.0
        );
        return;
    }
    if std::env::var("MLC_BENCH_ONLY").as_deref() == Ok("p1") {
        // A quick look at P1 alone; BENCHMARKS.md is left as it is.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio");
        for size in env_list("MLC_BENCH_SIZES", "1000,10000") {
            let r = rt.block_on(p1(size));
            println!(
                "P1 {size}: {} POs at {:.0} POs/s, host {:.0} us/PO, raw {:.0}/s = {:.0}%",
                r.pos,
                r.pos as f64 / r.wall,
                r.cpu * 1e6 / r.pos as f64,
                r.raw,
                100.0 * r.pos as f64 / r.wall / r.raw
            );
        }
        return;
    }
    let sizes = env_list("MLC_BENCH_SIZES", "1000,10000,50000");
    let tenant_counts = env_list("MLC_BENCH_TENANTS", "1,100,500");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let mut out = String::new();
    let mut line = |s: String| {
        println!("{s}");
        out.push_str(&s);
        out.push('\n');
    };

    line(
        "## P1 throughput: approved requisitions -> PeopleSoft POs (sandbox in its own process)"
            .into(),
    );
    line(String::new());
    line("| requisitions generated | approved read | POs created | seconds | POs/s | host CPU us/PO | sandbox raw creates/s | pipeline / raw |".into());
    line("|---:|---:|---:|---:|---:|---:|---:|---:|".into());
    for size in &sizes {
        let r = rt.block_on(p1(*size));
        line(format!(
            "| {} | {} | {} | {:.1} | {:.0} | {:.0} | {:.0} | {:.0}% |",
            r.size,
            r.requisitions,
            r.pos,
            r.wall,
            r.pos as f64 / r.wall,
            r.cpu * 1e6 / r.pos.max(1) as f64,
            r.raw,
            100.0 * (r.pos as f64 / r.wall) / r.raw
        ));
    }
    line(String::new());

    let (pos, rate) = rt.block_on(p2());
    line("## P2 latency-bound: PeopleSoft creates take 100 ms, concurrency 8".into());
    line(String::new());
    line(format!(
        "{pos} POs at {rate:.1} POs/s = {:.0}% of the ideal 8 / 0.1 s = 80 POs/s.",
        100.0 * rate / 80.0
    ));
    line(String::new());

    let (startup, load_ms, instantiate_us, call_us) = rt.block_on(p3());
    line("## P3 start-up and runtime".into());
    line(String::new());
    line("| what | figure | target |".into());
    line("|---|---:|---:|".into());
    line(format!(
        "| process start to first request (warm cache, median of 5) | {startup:.1} ms | <= 50 ms |"
    ));
    line(format!(
        "| load a precompiled component (disk cache) | {load_ms:.2} ms | |"
    ));
    line(format!(
        "| component instantiate (InstancePre, Store, sandbox state) | {instantiate_us:.1} us | <= 50 us |"
    ));
    line(format!(
        "| host -> guest call (async, guarded) | {call_us:.2} us | |"
    ));
    line(String::new());

    let (procurify, peoplesoft) = rt.block_on(async {
        let p = ProcurifySandbox::start(ProcurifyConfig {
            requisitions: 5,
            ..ProcurifyConfig::default()
        })
        .await
        .expect("p");
        let s = PeopleSoftSandbox::start(PeopleSoftConfig::default())
            .await
            .expect("s");
        (p, s)
    });
    line("## P4 idle tenants: resident memory of `ml-connector run`".into());
    line(String::new());
    line("| tenants | RSS MiB | target |".into());
    line("|---:|---:|---:|".into());
    for n in &tenant_counts {
        let rss = p4(*n, &procurify.base_url(), &peoplesoft.base_url());
        line(format!(
            "| {n} | {rss:.0} | {} |",
            if *n == 500 { "<= 2048" } else { "" }
        ));
    }
    drop((procurify, peoplesoft));

    for l in p5_lines(&rt.block_on(p5())) {
        line(l);
    }

    let doc = format!(
        "# ml-connector benchmarks\n\nMeasured {} on {}.\n\nReproduce (release build, one line):\n\n```sh\ncargo build --release -p mlc-host && cargo bench -p mlc-tests --bench system\n```\n\nMethod: see `tests/benches/system.rs`. The sandbox emulators stand in for Procurify and PeopleSoft; P1 runs them in a separate process so this process's CPU time is the host's alone (pipeline, wasm components, SQLite, HTTP client). Figures come from one run on a shared 2-core machine: ratios within a run are meaningful, absolute rates are noisy. `MLC_BENCH_ONLY=p1` (or `p2`, `p5`) re-measures one figure without rewriting this file.\n\n{out}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        machine()
    ) + ANALYSIS;
    std::fs::write(workspace().join("BENCHMARKS.md"), doc).expect("BENCHMARKS.md");
    println!(
        "\nwritten to {}",
        workspace().join("BENCHMARKS.md").display()
    );
}
