//! The daemon's status page in a real browser: a daemon that has run the
//! sandbox flows serves `/`, headless Chromium loads it, its embedded script
//! reads `/api/status` and draws the flows, counts, halted flows' to-dos,
//! dead letters and the chart of records per run. A screenshot is saved
//! under the target directory as the test's artifact.

use mlc_deployment_kit::{Kit, TENANT, component_cache, http_get};
use mlc_host::app::{App, AppOptions};
use mlc_host::clock::SystemClock;
use mlc_host::daemon::{Monitor, serve};
use mlc_host::store::{LedgerEntry, LedgerKind, RecordState, Store};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// Debian's browser package, which `.ci/run` installs.
const CHROMIUM: &str = "/usr/bin/chromium";

/// What to do about a missing browser: skip (say so) or fail.
#[derive(Debug, PartialEq, Eq)]
enum BrowserCheck {
    /// Chromium is there: run the test.
    Present,
    /// Not there and not in CI: the test says so and does not run.
    Skip(String),
}

/// Whether the browser test can run here. A developer's machine without
/// Chromium skips it with a message naming the package; under CI (the `CI`
/// variable set, as `.ci/run` does) a missing browser fails the test, so CI
/// never passes without having looked at the page.
fn browser_check(present: bool, ci: Option<&str>) -> BrowserCheck {
    let missing = format!(
        "{CHROMIUM} is missing: install Debian's `chromium` package (`sudo apt-get update && sudo apt-get install -y chromium`; .ci/run does)"
    );
    match (present, ci) {
        (true, _) => BrowserCheck::Present,
        (false, Some(ci)) if !ci.is_empty() => {
            panic!("{missing}; CI={ci} is set, so this test must run")
        }
        (false, _) => BrowserCheck::Skip(format!(
            "{missing}; skipping the status-page browser test (set CI=1 to make this a failure)"
        )),
    }
}

#[test]
fn a_missing_browser_skips_locally_with_the_package_name_and_fails_under_ci() {
    assert_eq!(browser_check(true, Some("1")), BrowserCheck::Present);
    match browser_check(false, None) {
        BrowserCheck::Skip(message) => {
            assert!(message.contains("apt-get install -y chromium"), "{message}")
        }
        BrowserCheck::Present => panic!("a missing browser was taken as present"),
    }
    assert!(matches!(
        browser_check(false, Some("")),
        BrowserCheck::Skip(_)
    ));
    let under_ci = std::panic::catch_unwind(|| browser_check(false, Some("1")));
    assert!(
        under_ci.is_err(),
        "under CI a missing browser must fail the test"
    );
}

/// How long one Chromium run may take before the test gives up on it.
const BROWSER_DEADLINE: Duration = Duration::from_secs(90);

/// Chromium headless, with everything that would reach the network off.
fn browser(profile: &Path) -> Command {
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        // Lets the page's fetch of /api/status finish before the DOM is dumped.
        "--virtual-time-budget=15000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// What a Chromium run printed.
struct BrowserOutput {
    stdout: String,
    stderr: String,
}

/// Runs Chromium headless with `args` in a profile of its own (a fresh temp
/// dir per run), output to files (no pipe to fill while it is waited on), in
/// its own process group; kills the group and panics after
/// [`BROWSER_DEADLINE`] instead of hanging the test.
fn run_browser(what: &str, args: &[String]) -> BrowserOutput {
    use std::os::unix::process::CommandExt;
    let scratch = tempfile::tempdir().unwrap();
    let profile = scratch.path().join("profile");
    let (out_path, err_path) = (scratch.path().join("stdout"), scratch.path().join("stderr"));
    let mut cmd = browser(&profile);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .process_group(0);
    let mut child = cmd.spawn().expect("chromium starts");
    let started = std::time::Instant::now();
    let read = |path: &Path| {
        String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
    };
    loop {
        if child.try_wait().expect("chromium is waited on").is_some() {
            break;
        }
        if started.elapsed() > BROWSER_DEADLINE {
            // The whole group: the browser's renderer and GPU processes too.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            let stderr = read(&err_path);
            let tail = stderr
                .char_indices()
                .rev()
                .nth(4000)
                .map_or(stderr.as_str(), |(i, _)| &stderr[i..]);
            panic!(
                "chromium ({what}) did not finish within {BROWSER_DEADLINE:?} and was killed; end of its stderr:\n{tail}"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    BrowserOutput {
        stdout: read(&out_path),
        stderr: read(&err_path),
    }
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_flows_counts_halts_dead_letters_and_the_chart_in_chromium() {
    let ci = std::env::var("CI").ok();
    if let BrowserCheck::Skip(message) = browser_check(Path::new(CHROMIUM).exists(), ci.as_deref())
    {
        eprintln!("{message}");
        return;
    }
    let kit = Kit::start(60).await;
    let app = Arc::new(
        App::open(
            &kit.manifest,
            AppOptions {
                cache_dir: Some(component_cache()),
                clock: Arc::new(SystemClock),
            },
        )
        .await
        .expect("the deployment builds"),
    );
    // A first cycle with everything set up: POs are created.
    let first = app.sync(None, None).await.expect("first sync");
    let pos = first
        .iter()
        .find(|r| r.flow == "requisitions-to-purchase-orders")
        .expect("mission flow ran")
        .counts
        .delivered;
    assert!(pos > 0);
    // Then the PeopleSoft administrator deactivates the query operation: the
    // flows reading PeopleSoft halt in the daemon's cycle, with the to-do.
    let peoplesoft = &kit.peoplesoft;
    peoplesoft
        .emulator()
        .deactivate("QAS_EXECUTEQRYSYNC_OPER")
        .expect("deactivated");
    // A document PeopleSoft refused earlier, waiting for the operator.
    app.store
        .ledger_put(
            &LedgerEntry::new(
                TENANT,
                "requisitions-to-purchase-orders",
                LedgerKind::Document,
                "R999-V1",
                "999",
                RecordState::Dead,
                1_700_000_000_000,
            )
            .with_hash("0".repeat(64))
            .with_attempts(1)
            .with_reason("rejected: Vendor ID is not valid for SetID SHARE")
            .with_source_doc(Some("{\"id\":999}".into()))
            .with_body(Some("{}".into())),
        )
        .unwrap();

    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let monitor = Monitor::new(app.clone());
    let addr = serve(
        monitor.clone(),
        "127.0.0.1:0".parse().unwrap(),
        shutdown.clone(),
    )
    .await
    .expect("serves");
    let daemon = tokio::spawn(mlc_host::scheduler::run(
        app.clone(),
        shutdown,
        monitor.on_report(),
    ));
    // Every flow is due when the daemon starts: wait for the cycle to end.
    let enabled = app.deployment.tenants[TENANT].flows.len() as u64;
    let mut status = serde_json::Value::Null;
    for _ in 0..600 {
        status = serde_json::from_str(&http_get(addr, "/api/status").await.1).unwrap();
        if status["daemon"]["runs"].as_u64() == Some(enabled) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status["daemon"]["runs"].as_u64(), Some(enabled), "{status}");
    let halted: Vec<&str> = status["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["state"] == "halted")
        .map(|f| f["flow"].as_str().unwrap())
        .collect();
    assert!(halted.contains(&"vendors-to-procurify"), "{status}");

    let url = format!("http://{addr}/");
    let dom = tokio::task::spawn_blocking({
        let args = vec!["--dump-dom".to_string(), url.clone()];
        move || run_browser("--dump-dom", &args)
    })
    .await
    .unwrap();
    let html = dom.stdout;
    assert!(
        html.contains("data-rendered=\"true\""),
        "the page script did not render:\n{html}\n{}",
        dom.stderr
    );
    // Every flow of the manifest has a row, with its state.
    for f in status["flows"].as_array().unwrap() {
        let name = f["flow"].as_str().unwrap();
        assert!(
            html.contains(&format!("data-flow=\"{name}\"")),
            "no row for {name}"
        );
    }
    assert!(html.contains("badge state-halted"));
    assert!(html.contains("badge state-disabled"));
    // The mission flow's row shows its last run's counts.
    let mission = status["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flow"] == "requisitions-to-purchase-orders")
        .unwrap();
    // Second run: what the overlap window read again is unchanged, nothing new.
    assert_eq!(mission["last_run"]["delivered"].as_u64(), Some(0));
    let unchanged = mission["last_run"]["unchanged"].as_u64().unwrap();
    assert!(unchanged > 0 && unchanged <= pos, "{mission}");
    let row_start = html
        .find("<tr data-flow=\"requisitions-to-purchase-orders\"")
        .expect("mission row");
    let row = &html[row_start..row_start + html[row_start..].find("</tr>").unwrap()];
    assert!(
        row.contains(&format!("data-count=\"unchanged\">{unchanged}</td>")),
        "{row}"
    );
    // Every count of the run history has its cell.
    for count in ["linked", "skipped", "deferred", "unreadable"] {
        let n = mission["last_run"][count].as_u64().unwrap();
        assert!(
            row.contains(&format!("data-count=\"{count}\">{n}</td>")),
            "{count}: {row}"
        );
    }
    // Halted flows with their to-do, naming the operation to activate.
    assert!(html.contains("Halted flows: to do"));
    assert!(html.contains("class=\"halted-flow\" data-flow=\"vendors-to-procurify\""));
    assert!(html.contains("QAS_EXECUTEQRYSYNC_OPER"));
    // Dead letters with their reason.
    assert!(html.contains("R999-V1"));
    assert!(html.contains("Vendor ID is not valid for SetID SHARE"));
    // The chart: one bar group per run (two cycles of every enabled flow),
    // stacked bars drawn by the script.
    assert!(html.contains("<svg id=\"chart\""));
    assert_eq!(
        count(&html, "<g class=\"run\""),
        2 * enabled as usize,
        "{html}"
    );
    assert!(count(&html, "class=\"bar bar-delivered\"") >= 4);
    assert!(count(&html, "class=\"bar bar-unchanged\"") >= 1);

    let shot = screenshot_path();
    let _ = std::fs::remove_file(&shot);
    let taken = tokio::task::spawn_blocking({
        let args = vec![
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,1800".to_string(),
            url.clone(),
        ];
        move || run_browser("--screenshot", &args)
    })
    .await
    .unwrap();
    assert!(
        shot.is_file() && std::fs::metadata(&shot).unwrap().len() > 10_000,
        "no screenshot at {}: {}",
        shot.display(),
        taken.stderr
    );
    eprintln!("status page screenshot: {}", shot.display());

    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(60), daemon)
        .await
        .expect("the daemon stops")
        .unwrap();
}

/// The artifact: `<target>/status-page.png`.
fn screenshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")))
        .join("status-page.png")
}
