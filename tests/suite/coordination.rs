//! Coordination across processes: real `ml-connector` processes (daemons and
//! `sync`s) on one SQLite file, against both sandbox systems. Each flow has
//! one writer at a time, whatever runs, dies or pauses: every approved
//! requisition becomes exactly one PO per vendor, nothing is created twice,
//! a `sync` never becomes a second writer, and a holder paused past its lease
//! wakes up fenced and writes nothing.

use crate::reliability::assert_exactly_once;
use mlc_deployment_kit::{Kit, PO_FLOW, approved_requisitions, toml_edit};
use mlc_host::audit::{self, Verification};
use mlc_host::store::{LeaseHolder, LeaseInfo, Store};
use mlc_sandbox::faults::{Fault, FaultRule};
use mlc_sandbox::seeded;
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The shipped deployment behind fronts (fault plans seeded with `seed`),
/// `requisitions` requisitions, a lease of `lease_secs` and, when given,
/// every flow due every `every`.
async fn start_stage(requisitions: usize, seed: u64, lease_secs: u64, every: Option<&str>) -> Kit {
    let every = every.map(str::to_string);
    Kit::builder()
        .requisitions(requisitions)
        .fronts(seed)
        .manifest(move |m| {
            m.store()["lease_secs"] = toml_edit::value(lease_secs as i64);
            if let Some(every) = every {
                m.every_flow_every(&every);
            }
        })
        .start()
        .await
}

/// Runs `ml-connector sync <args>` to the end.
fn sync(stage: &Kit, args: &[&str]) -> Output {
    let mut all = vec!["sync"];
    all.extend_from_slice(args);
    stage
        .command(&all)
        .output()
        .expect("ml-connector sync runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Sends `signal` (`TERM`, `STOP`, `CONT`) to a process.
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// An `ml-connector run` daemon on a free loopback port; SIGTERM on drop.
struct Daemon {
    child: Child,
    addr: std::net::SocketAddr,
    log: std::path::PathBuf,
}

impl Daemon {
    fn start(stage: &Kit, name: &str) -> Daemon {
        let log = stage.dir.path().join(format!("{name}.log"));
        let mut child = stage
            .command(&["run", "--listen", "127.0.0.1:0"])
            .env("MLC_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the daemon starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let log_path = log.clone();
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(&log_path).expect("daemon log");
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                use std::io::Write;
                let _ = writeln!(file, "{line}");
                let _ = tx.send(line);
            }
        });
        let addr = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(120))
                .expect("the daemon prints its address");
            if let Some(rest) = line.strip_prefix("status page http://") {
                break rest.split('/').next().unwrap().parse().unwrap();
            }
        };
        // Keep draining (the thread owns the sender side's loop).
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Daemon { child, addr, log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Flow runs this daemon finished, from its `/metrics`.
    async fn runs(&self) -> u64 {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(
                format!(
                    "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    self.addr
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        let mut body = String::new();
        stream.read_to_string(&mut body).await.unwrap();
        body.lines()
            .filter(|l| l.starts_with("mlc_flow_runs_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// SIGTERM, then waits: writes in flight finish, exit 0.
    fn stop(mut self) -> std::process::ExitStatus {
        signal(self.pid(), "TERM");
        self.child.wait().expect("the daemon exits")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `probe` until it gives a value.
async fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(started.elapsed() < limit, "waited {limit:?} for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Nothing the reference flows create exists twice: Procurify vendors,
/// PeopleSoft suppliers (checked by `assert_exactly_once`), accounts and
/// departments.
fn assert_nothing_created_twice(stage: &Kit) {
    let mut names = BTreeSet::new();
    for v in stage.procurify.state().vendors() {
        assert!(
            names.insert(v.name.clone()),
            "Procurify vendor {} created twice",
            v.name
        );
    }
    let emulator = stage.peoplesoft.emulator();
    for (what, values) in [
        ("account", emulator.accounts()),
        ("department", emulator.departments()),
    ] {
        let mut seen = BTreeSet::new();
        for v in values {
            assert!(
                seen.insert((v.setid.clone(), v.value.clone(), v.effdt)),
                "PeopleSoft {what} {} created twice",
                v.value
            );
        }
    }
}

/// This test process as a lease holder, as a running daemon would be.
fn test_holder() -> LeaseHolder {
    LeaseHolder {
        id: "test-holder".into(),
        pid: std::process::id(),
        host: "test-host".into(),
        command: "ml-connector run".into(),
        machine: String::new(),
    }
}

fn po_lease(stage: &Kit) -> Option<LeaseInfo> {
    stage
        .store()
        .leases()
        .unwrap()
        .into_iter()
        .find(|l| l.flow == PO_FLOW)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_while_the_daemon_runs_a_flow_exits_3_naming_the_daemon_or_waits_and_finds_nothing_left()
 {
    let stage = start_stage(240, 21, 3, None).await;
    // Slow PeopleSoft writes keep the daemon on the PO flow for a while.
    stage
        .fronts()
        .peoplesoft_server
        .faults()
        .add(FaultRule::always(Fault::Latency {
            fixed: Duration::from_millis(120),
            jitter: Duration::ZERO,
        }));
    let daemon = Daemon::start(&stage, "daemon");
    let lease = wait_for(
        "the daemon to take the PO flow",
        Duration::from_secs(180),
        || po_lease(&stage),
    )
    .await;
    assert_eq!(lease.holder.pid, daemon.pid());

    // status names the holder too.
    let status = stage
        .command(&["status", "--json"])
        .output()
        .expect("status runs");
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let po = status["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flow"] == PO_FLOW)
        .unwrap();
    assert_eq!(po["running"]["holder"]["pid"], daemon.pid(), "{po}");
    assert_eq!(po["lease_lapsed"], false);

    let refused = sync(&stage, &["--flow", PO_FLOW]);
    let out = text(&refused.stdout);
    assert_eq!(
        refused.status.code(),
        Some(3),
        "stdout: {out}\nstderr: {}",
        text(&refused.stderr)
    );
    assert!(
        out.contains(&format!("ml-connector run (pid {} on ", daemon.pid()))
            && out.contains("since ")
            && out.contains("expires ")
            && out.contains("--wait"),
        "the holder is named: {out}"
    );

    let waited = sync(&stage, &["--flow", PO_FLOW, "--wait", "300s", "--json"]);
    assert_eq!(
        waited.status.code(),
        Some(0),
        "stderr: {}",
        text(&waited.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&waited.stdout).unwrap();
    assert_eq!(report[0]["outcome"], "ok", "{report}");
    assert_eq!(
        (
            report[0]["delivered"].as_u64(),
            report[0]["linked"].as_u64()
        ),
        (Some(0), Some(0)),
        "the daemon had done everything: {report}"
    );
    assert!(
        po_lease(&stage).is_none(),
        "the waiting sync released the flow"
    );
    assert!(daemon.stop().success());
    stage.fronts().peoplesoft_server.faults().clear();
    assert_exactly_once(&stage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_and_repeated_syncs_with_approvals_arriving_post_every_po_and_create_everything_once()
 {
    let stage = start_stage(300, 22, 3, Some("10s")).await;
    let first = Daemon::start(&stage, "first");
    let second = Daemon::start(&stage, "second");
    let started = Instant::now();
    let (mut syncs, mut refused, mut round) = (0u32, 0u32, 0u32);
    while started.elapsed() < Duration::from_secs(35) {
        round += 1;
        {
            let mut state = stage.procurify.state();
            state.approve_more(4);
            if round % 3 == 0 {
                state.add_vendor(&format!("Arriving Supplies {round}"), None);
            }
        }
        let out = sync(&stage, &[]);
        syncs += 1;
        match out.status.code() {
            Some(0) => {}
            Some(3) => {
                refused += 1;
                let stdout = text(&out.stdout);
                assert!(
                    stdout.contains("not run here: ") && stdout.contains(" runs in ml-connector"),
                    "exit 3 only for flows running elsewhere: {stdout}"
                );
            }
            other => panic!(
                "sync exited {other:?}: {}\n{}",
                text(&out.stdout),
                text(&out.stderr)
            ),
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let (first_runs, second_runs) = (first.runs().await, second.runs().await);
    let logs = [first.log.clone(), second.log.clone()];
    assert!(first.stop().success() && second.stop().success());
    // Whatever is still parked behind a vendor created in the last cycle.
    let last = sync(&stage, &["--wait", "120s"]);
    assert_eq!(last.status.code(), Some(0), "{}", text(&last.stderr));
    let last = sync(&stage, &["--wait", "120s"]);
    assert_eq!(last.status.code(), Some(0), "{}", text(&last.stderr));

    let checked = assert_exactly_once(&stage);
    assert_nothing_created_twice(&stage);
    for log in &logs {
        let log = std::fs::read_to_string(log).unwrap();
        assert!(
            !log.contains("lost the flow's lease"),
            "no healthy daemon loses a lease: {log}"
        );
    }
    assert!(
        first_runs > 0 && second_runs > 0,
        "both daemons run flows: {first_runs} and {second_runs}"
    );
    // Seven enabled flows due every 10 s (a flow pulls the flows it requires
    // in): a daemon that found a flow held elsewhere must not spin on it or
    // keep re-running what it requires.
    let cycles = started.elapsed().as_secs() / 10 + 2;
    assert!(
        first_runs + second_runs <= 7 * cycles * 2,
        "the daemons ran {} flow runs in {cycles} cycles: one spins",
        first_runs + second_runs
    );
    println!(
        "two daemons + {syncs} syncs ({refused} left a flow to another process): {checked} POs exactly once, \
         {} approved requisitions, daemon runs {first_runs} + {second_runs}",
        approved_requisitions(&stage.procurify)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_killed_and_paused_past_the_lease_post_each_po_exactly_once() {
    let soak = std::env::var_os("MLC_SOAK").is_some_and(|v| v != "0");
    let (requisitions, kills_wanted, pauses_wanted) = if soak {
        (15_000, 100, 40)
    } else {
        (6_000, 20, 8)
    };
    let seed = seeded::seed_from_env(0x001e_a5e5);
    println!("seed {seed} (replay with MLC_SEED={seed})");
    let mut rng = seeded::Rng::new(seed);
    let lease_secs = 3;
    let stage = start_stage(requisitions, 23, lease_secs, None).await;
    let approved = approved_requisitions(&stage.procurify);
    assert!(
        approved >= 2000,
        "seed gives {approved} approved requisitions"
    );
    let log_path = stage.dir.path().join("processes.log");
    let spawn = || stage.spawn_logged(&["sync"], &log_path);
    let started = Instant::now();
    let mut processes: Vec<Child> = (0..3).map(|_| spawn()).collect();
    let (mut kills, mut pauses, mut spawned) = (0u32, 0u32, 3u32);
    // The paused process and when it is let go; the others keep running
    // (and being replaced) meanwhile, so one of them takes its flow over.
    let mut paused: Option<(usize, Instant)> = None;
    while kills < kills_wanted || pauses < pauses_wanted || paused.is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(if soak { 7200 } else { 1500 }),
            "no end after {kills} kills and {pauses} pauses"
        );
        tokio::time::sleep(Duration::from_millis(100 + rng.below(1400) as u64)).await;
        if let Some((i, until)) = paused
            && Instant::now() >= until
        {
            signal(processes[i].id(), "CONT");
            paused = None;
        }
        // A pause goes to a process holding a lease: the holder freezes past
        // its lease, the others take its flow over, and when it wakes it
        // must find itself fenced and write nothing.
        let holders: BTreeSet<u32> = stage
            .store()
            .leases()
            .unwrap()
            .into_iter()
            .map(|l| l.holder.pid)
            .collect();
        let holding = (0..processes.len()).find(|i| holders.contains(&processes[*i].id()));
        match holding {
            Some(i) if paused.is_none() && pauses < pauses_wanted && rng.below(2) == 0 => {
                signal(processes[i].id(), "STOP");
                let pause = lease_secs * 1000 + 2000 + rng.below(2000) as u64;
                paused = Some((i, Instant::now() + Duration::from_millis(pause)));
                pauses += 1;
            }
            _ if kills < kills_wanted => {
                let victim = rng.below(3) as usize;
                if paused.is_none_or(|(i, _)| i != victim)
                    && processes[victim].try_wait().unwrap().is_none()
                {
                    processes[victim].kill().unwrap();
                    processes[victim].wait().unwrap();
                    kills += 1;
                }
            }
            _ => {}
        }
        for (i, p) in processes.iter_mut().enumerate() {
            if paused.is_none_or(|(j, _)| j != i) && p.try_wait().unwrap().is_some() {
                *p = spawn();
                spawned += 1;
            }
        }
    }
    // No more faults: the running processes finish, then one sync that runs
    // every flow to the end.
    for p in processes.iter_mut() {
        let _ = p.wait();
    }
    let finished = loop {
        assert!(
            started.elapsed() < Duration::from_secs(if soak { 9000 } else { 2400 }),
            "no clean end"
        );
        let out = sync(&stage, &["--wait", "60s"]);
        if out.status.success() {
            break out;
        }
    };
    assert!(finished.status.success());
    let elapsed = started.elapsed();

    let creates: BTreeMap<String, usize> = stage
        .po_create_stamps()
        .into_iter()
        .map(|(r, s)| (r, s.len()))
        .collect();
    let twice: Vec<_> = creates.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "PO creates posted twice: {twice:?}");
    let checked = assert_exactly_once(&stage);
    assert_nothing_created_twice(&stage);
    match audit::verify(&stage.store()).unwrap() {
        Verification::Verified { .. } => {}
        broken => panic!("audit chain broken: {broken:?}"),
    }
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let fenced = log.matches("lost the flow's lease").count();
    let takeovers = audit_count(&stage.store(), "lease_taken_over");
    println!(
        "crash loop across processes: {approved} approved requisitions, {checked} POs exactly once, \
         {kills} SIGKILLs, {pauses} pauses past the {lease_secs} s lease, {spawned} processes, \
         {takeovers} lease takeovers, {fenced} runs found themselves fenced, {:.1} s",
        elapsed.as_secs_f64()
    );
    assert!(takeovers > 0, "killed holders' flows were taken over");
    assert!(
        fenced > 0,
        "a holder paused past its lease while another took its flow over found itself fenced"
    );
}

fn audit_count(store: &dyn Store, event: &str) -> usize {
    let mut n = 0;
    let mut after = 0;
    loop {
        let rows = store.audit_rows(after, 10_000).unwrap();
        let Some(last) = rows.last() else {
            return n;
        };
        after = last.seq;
        n += rows.iter().filter(|r| r.record.event == event).count();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_replay_while_another_process_runs_the_flow_exits_3_naming_it_and_changes_nothing()
 {
    use mlc_host::store::{LeaseGrant, LedgerEntry, LedgerKind, RecordState};
    let stage = start_stage(10, 24, 30, None).await;
    let store = stage.store();
    store
        .ledger_put(
            &LedgerEntry::new(
                "sandbox",
                PO_FLOW,
                LedgerKind::Document,
                "R1-V1",
                "1",
                RecordState::Dead,
                1,
            )
            .with_hash("h")
            .with_attempts(1)
            .with_reason("rejected: Vendor ID is not valid")
            .with_source_doc(Some("{}".into()))
            .with_body(Some("{}".into())),
        )
        .unwrap();
    // This test process holds the flow, as a running daemon would.
    let holder = test_holder();
    assert!(matches!(
        store
            .lease_acquire("sandbox", PO_FLOW, &holder, 60_000)
            .unwrap(),
        LeaseGrant::Granted { .. }
    ));
    for action in ["replay", "discard"] {
        let out = stage
            .command(&["dead-letters", action, "--flow", PO_FLOW, "R1-V1"])
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{action}: {err}");
        assert!(
            err.contains("running elsewhere")
                && err.contains(&format!("pid {} on test-host", std::process::id())),
            "{action}: {err}"
        );
        assert_eq!(
            store
                .ledger_get("sandbox", PO_FLOW, LedgerKind::Document, "R1-V1")
                .unwrap()
                .unwrap()
                .state,
            RecordState::Dead,
            "{action} changed nothing"
        );
    }
}

#[tokio::test]
async fn a_request_made_under_a_lost_lease_never_leaves_the_host() {
    use mlc_host::coordination::{Coordination, FlowLease, writing_under};
    use mlc_tests::peers::echo_server;
    use mlc_tests::{SandboxBuilder, fetch_connection, misbehaving};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(mlc_host::store::SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let server = echo_server().await;
    let sandbox = SandboxBuilder::new("acme", &server.base_url()).build();
    let mut instance = misbehaving().instantiate(&sandbox).await.unwrap();
    let conn = fetch_connection(
        &server.base_url(),
        &format!("{}/create", server.base_url()),
        "POST",
        Some("{}"),
    );

    // Held: the request goes out.
    let held = Coordination::new(Duration::from_secs(30));
    let (lease, _) = FlowLease::acquire(&store, "acme", "f", &held)
        .unwrap()
        .unwrap();
    writing_under(Some(Arc::new(lease)), instance.read(&conn, "fetch", None))
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 1);

    // Taken over while this run was frozen: the next renewal finds it so,
    // and a request made now is refused at the last moment.
    let short = Coordination::new(Duration::from_millis(300));
    let (lease, _) = FlowLease::acquire(&store, "acme", "g", &short)
        .unwrap()
        .unwrap();
    store.lease_release(lease.fence(), &short.holder).unwrap();
    let other = Coordination::new(Duration::from_secs(30));
    let (_theirs, _) = FlowLease::acquire(&store, "acme", "g", &other)
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(lease.is_lost());
    let refused = writing_under(Some(Arc::new(lease)), instance.read(&conn, "fetch", None)).await;
    assert!(refused.is_err(), "the request was refused");
    assert_eq!(
        server.requests().len(),
        1,
        "nothing more reached the system"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_waits_while_a_flow_linked_by_requires_runs_elsewhere_and_an_unlinked_one_runs() {
    use mlc_host::store::LeaseGrant;
    let stage = start_stage(10, 25, 30, None).await;
    // This test process runs vendors-to-procurify, as another daemon would.
    let holder = test_holder();
    assert!(matches!(
        stage
            .store()
            .lease_acquire("sandbox", "vendors-to-procurify", &holder, 60_000)
            .unwrap(),
        LeaseGrant::Granted { .. }
    ));
    // Vendors both ways would echo each other's new vendors back.
    let suppliers_before = stage.peoplesoft.emulator().vendors().len();
    let out = sync(&stage, &["--flow", "vendors-to-peoplesoft", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report[0]["flow"], "vendors-to-peoplesoft", "{report}");
    assert_eq!(report[0]["outcome"], "running-elsewhere", "{report}");
    assert_eq!(report[0]["running"], "vendors-to-procurify", "{report}");
    let out = sync(&stage, &["--flow", "vendors-to-peoplesoft"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "sandbox/vendors-to-peoplesoft: not run here: vendors-to-procurify (linked to it by `requires`) runs in ml-connector run (pid "
        ),
        "{stdout}"
    );
    assert_eq!(
        stage.peoplesoft.emulator().vendors().len(),
        suppliers_before,
        "nothing was written"
    );
    // Accounts share no requirement with the vendor flows: they run.
    let out = sync(&stage, &["--flow", "accounts-to-procurify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stage
            .store()
            .leases()
            .unwrap()
            .iter()
            .all(|l| l.flow == "vendors-to-procurify"),
        "the refused run released its own lease"
    );
}
