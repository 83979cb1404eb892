//! The `ml-connector` binary, run as an operator runs it: every command's
//! happy path against the sandbox systems, and its main error (misspelled
//! manifest key, wrong key file, unknown flow, unreachable host) as one
//! clear line, a hint, and the documented exit code.

use mlc_deployment_kit::{Deployment, Kit, TENANT, assert_code, http_get};
use mlc_host::store::{LedgerEntry, LedgerKind, RecordState, SqliteStore, Store};
use mlc_sandbox::peoplesoft::PeopleSoftConfig;
use std::time::Duration;

fn flow<'a>(reports: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    reports
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["flow"] == name)
        .unwrap_or_else(|| panic!("no {name} in {reports}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_prints_the_summary_with_purchase_orders_and_a_verified_audit() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("demo");
    let out = mlc_deployment_kit::binary::run(
        vec![
            "demo".into(),
            "--size".into(),
            "40".into(),
            "--dir".into(),
            work.display().to_string(),
        ],
        None,
    )
    .await;
    assert_code(&out, 0);
    assert!(out.stdout.contains("audit: verified"), "{}", out.stdout);
    let pos_line = out
        .stdout
        .lines()
        .find(|l| l.contains("requisitions -> PeopleSoft POs"))
        .expect("PO line");
    let created: u64 = pos_line.split_whitespace().nth(4).unwrap().parse().unwrap();
    assert!(created > 0, "{pos_line}");
    // Not a terminal: progress comes as one plain line per flow on stderr.
    assert!(out.stderr.contains("[1/7] sandbox/"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("[7/7] sandbox/requisitions-to-purchase-orders"),
        "{}",
        out.stderr
    );
    assert!(work.join("ml-connector.db").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_creates_a_private_key_file_and_the_store_and_keeps_an_existing_key() {
    let kit = Deployment::uninitialised("http://127.0.0.1:8701", "http://127.0.0.1:8702");
    let out = kit.run(&["init", "--demo-secrets"]).await;
    assert_code(&out, 0);
    assert!(out.stdout.contains("(created, mode 0600"), "{}", out.stdout);
    assert!(kit.store_path().is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(kit.key_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key = std::fs::read_to_string(kit.key_path()).unwrap();
    let again = kit.run(&["init"]).await;
    assert_code(&again, 0);
    assert!(again.stdout.contains("(exists, kept)"), "{}", again.stdout);
    assert_eq!(std::fs::read_to_string(kit.key_path()).unwrap(), key);
    let listed = kit.run(&["secrets", "list", TENANT, "--json"]).await;
    assert_code(&listed, 0);
    assert_eq!(
        listed.json()["stored"],
        serde_json::json!(["peoplesoft/password", "procurify/client_secret"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_every_connection_ok_against_the_sandbox() {
    let kit = Kit::start(10).await;
    let out = kit.run(&["check"]).await;
    assert_code(&out, 0);
    assert!(
        out.stdout.contains("All connections answered"),
        "{}",
        out.stdout
    );
    let json = kit.run(&["check", "--json"]).await;
    assert_code(&json, 0);
    let checks = json.json();
    let statuses: Vec<&str> = checks["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "ok"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_lists_missing_peoplesoft_activations_as_a_to_do_and_exits_3() {
    let kit = Kit::builder()
        .requisitions(10)
        .peoplesoft(PeopleSoftConfig {
            operations_ready: false,
            ..PeopleSoftConfig::default()
        })
        .start()
        .await;
    let out = kit.run(&["check"]).await;
    assert_code(&out, 3);
    assert!(
        out.stdout.contains("To do for sandbox/peoplesoft"),
        "{}",
        out.stdout
    );
    for op in ["CI_PO_EXPRESS_C", "CI_VNDR_ID_C", "QAS_EXECUTEQRYSYNC_OPER"] {
        assert!(
            out.stdout.contains(op),
            "{op} missing from the to-do:\n{}",
            out.stdout
        );
    }
    let json = kit.run(&["check", "--json"]).await;
    assert_code(&json, 3);
    let ps = json.json()["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["connection"] == "peoplesoft")
        .cloned()
        .unwrap();
    assert_eq!(ps["status"], "todo");
    assert!(!ps["todo"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_against_an_unreachable_host_says_the_connection_failed_and_exits_1() {
    let procurify = mlc_sandbox::procurify::ProcurifySandbox::start(Default::default())
        .await
        .unwrap();
    // Port 1 on loopback: nothing listens, the connection is refused.
    let kit = Deployment::at(&procurify.base_url(), "http://127.0.0.1:1");
    let out = kit.run(&["check"]).await;
    assert_code(&out, 1);
    let error = out
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .expect("error line");
    assert!(
        error.contains("connection peoplesoft of tenant sandbox"),
        "{error}"
    );
    assert!(error.contains("connection failed"), "{error}");
    assert!(
        out.stderr.contains("hint: check that the system is up"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_runs_every_flow_status_shows_it_and_a_second_sync_posts_no_po_twice() {
    let kit = Kit::start(40).await;
    let first = kit.run(&["sync", "--json"]).await;
    assert_code(&first, 0);
    let reports = first.json();
    assert_eq!(reports.as_array().unwrap().len(), 7);
    let pos = flow(&reports, "requisitions-to-purchase-orders");
    assert_eq!(pos["outcome"], "ok");
    let delivered = pos["delivered"].as_u64().unwrap();
    assert!(delivered > 0);
    assert_eq!(kit.peoplesoft.purchase_orders().len() as u64, delivered);

    let status = kit.run(&["status", "--json"]).await;
    assert_code(&status, 0);
    let status = status.json();
    let s = status["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flow"] == "requisitions-to-purchase-orders")
        .unwrap();
    assert_eq!(s["state"], "ok");
    assert_eq!(s["last_run"]["delivered"].as_u64(), Some(delivered));
    assert_eq!(s["ledger"]["delivered"].as_u64(), Some(delivered));
    assert!(s["next_run_ms"].as_u64().is_some());
    // Run history keeps every count the run reported, for every flow.
    for report in reports.as_array().unwrap() {
        let shown = status["flows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["flow"] == report["flow"])
            .unwrap();
        for count in [
            "read",
            "delivered",
            "linked",
            "unchanged",
            "parked",
            "dead",
            "skipped",
            "deferred",
            "unreadable",
            "retries",
        ] {
            assert_eq!(
                shown["last_run"][count], report[count],
                "{count} of {}: {shown}",
                report["flow"]
            );
        }
    }
    let disabled = status["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flow"] == "vouchers-close-purchase-orders")
        .unwrap();
    assert_eq!(disabled["state"], "disabled");
    let human = kit.run(&["status"]).await;
    assert_code(&human, 0);
    assert!(
        human
            .stdout
            .contains("sandbox/requisitions-to-purchase-orders"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains(&format!(
            "last run sandbox/requisitions-to-purchase-orders: read {}, unreadable {}, delivered {delivered}, linked {}",
            pos["read"], pos["unreadable"], pos["linked"]
        )),
        "{}",
        human.stdout
    );

    let second = kit.run(&["sync", "--json"]).await;
    assert_code(&second, 0);
    let again = second.json();
    let pos_again = flow(&again, "requisitions-to-purchase-orders");
    assert_eq!(pos_again["delivered"], 0, "{pos_again}");
    assert_eq!(pos_again["outcome"], "ok");
    assert_eq!(kit.peoplesoft.purchase_orders().len() as u64, delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_dry_run_shows_what_would_be_written_and_writes_nothing() {
    let kit = Kit::start(20).await;
    let vendors_before = kit.procurify.state().vendors().len();
    let out = kit
        .run(&[
            "sync",
            "--dry-run",
            "--flow",
            "vendors-to-procurify",
            "--json",
        ])
        .await;
    assert_code(&out, 0);
    let previews = out.json();
    let preview = &previews[0];
    assert_eq!(preview["flow"], "vendors-to-procurify");
    let writes = preview["planned"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["action"] == "write")
        .count();
    assert!(writes > 0, "{preview}");
    assert!(preview["read"].as_u64().unwrap() >= writes as u64);
    // Nothing written, no cursor, no ledger row, no audit row.
    assert_eq!(kit.procurify.state().vendors().len(), vendors_before);
    let store = SqliteStore::open(&kit.store_path()).unwrap();
    assert_eq!(store.cursor(TENANT, "vendors-to-procurify").unwrap(), None);
    assert!(
        store
            .ledger_counts(TENANT, "vendors-to-procurify")
            .unwrap()
            .is_empty()
    );
    assert!(store.audit_rows(0, 10).unwrap().is_empty());
    let human = kit
        .run(&["sync", "--dry-run", "--flow", "vendors-to-procurify"])
        .await;
    assert_code(&human, 0);
    assert!(
        human.stdout.contains("Dry run: nothing was written"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains(&format!("write {writes};")),
        "{}",
        human.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_dry_run_decides_as_a_run_would_for_a_changed_dead_letter_and_a_retry_not_yet_due() {
    let kit = Kit::start(20).await;
    let flow = "vendors-to-procurify";
    let plan = |out: &mlc_deployment_kit::Output| -> Vec<(String, String)> {
        out.json()[0]["planned"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| {
                Some((
                    p["key"].as_str()?.to_string(),
                    p["action"].as_str()?.to_string(),
                ))
            })
            .collect()
    };
    let first = kit
        .run(&["sync", "--dry-run", "--flow", flow, "--json"])
        .await;
    assert_code(&first, 0);
    let writes: Vec<String> = plan(&first)
        .into_iter()
        .filter(|(_, action)| action == "write")
        .map(|(key, _)| key)
        .collect();
    assert!(writes.len() >= 2, "{writes:?}");
    let store = SqliteStore::open(&kit.store_path()).unwrap();
    let row = |key: &str, state| {
        LedgerEntry::new(TENANT, flow, LedgerKind::Document, key, "s", state, 1)
            .with_hash("an older version")
            .with_body(Some("{}".into()))
    };
    // Delivered once, then changed and held for review: a change again is
    // judged by the flow's policy (this flow's is `rewrite`), never written
    // as new.
    store
        .ledger_put(&row(&writes[0], RecordState::Dead).with_target_key(Some("V-1".into())))
        .unwrap();
    // Deferred with a Retry-After an hour away: a run leaves it be.
    store
        .ledger_put(
            &row(&writes[1], RecordState::Retrying).with_not_before_ms(Some(4_000_000_000_000)),
        )
        .unwrap();
    let again = kit
        .run(&["sync", "--dry-run", "--flow", flow, "--json"])
        .await;
    assert_code(&again, 0);
    let planned = plan(&again);
    let action_of = |key: &str| {
        planned
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, a)| a.as_str())
            .unwrap_or("none")
            .to_string()
    };
    assert_eq!(action_of(&writes[0]), "rewrite", "{planned:?}");
    assert_eq!(action_of(&writes[1]), "wait", "{planned:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_of_an_unknown_flow_is_a_usage_error_naming_the_flows() {
    let kit = Deployment::at("http://127.0.0.1:8701", "http://127.0.0.1:8702");
    let out = kit.run(&["sync", "--flow", "vendorz"]).await;
    assert_code(&out, 2);
    let error = out
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .expect("error line");
    assert!(error.contains("no enabled flow \"vendorz\""), "{error}");
    assert!(error.contains("requisitions-to-purchase-orders"), "{error}");
    assert!(
        out.stderr
            .contains("hint: `ml-connector status` lists the flows"),
        "{}",
        out.stderr
    );
    let disabled = kit
        .run(&["sync", "--flow", "vouchers-close-purchase-orders"])
        .await;
    assert_code(&disabled, 2);
    assert!(
        disabled.stderr.contains("is disabled; set enabled = true"),
        "{}",
        disabled.stderr
    );
    let bad_arg = kit.run(&["sync", "--bogus"]).await;
    assert_code(&bad_arg, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelled_manifest_key_fails_naming_the_file_the_line_and_the_key() {
    let kit = Deployment::at("http://127.0.0.1:8701", "http://127.0.0.1:8702");
    kit.edit(|m| {
        let flow = m.flow("vendors-to-procurify");
        let on_change = flow.remove("on_change").expect("the flow sets on_change");
        flow.insert("on_chnage", on_change);
    });
    for command in [vec!["check"], vec!["sync"], vec!["status"]] {
        let out = kit.run(&command).await;
        assert_code(&out, 1);
        let error = out
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .expect("error line");
        assert!(
            error.contains("manifest.toml: tenants.sandbox.flows.")
                && error.contains(".on_chnage (line "),
            "{error}"
        );
        assert!(error.contains("unknown field `on_chnage`"), "{error}");
        assert!(
            out.stderr.contains("hint: the keys a manifest may use"),
            "{}",
            out.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_file_is_refused_before_any_run_with_what_to_do() {
    let kit = Kit::start(10).await;
    // Another valid key: the stored secrets were sealed with the first one.
    std::fs::remove_file(kit.key_path()).unwrap();
    mlc_host::vault::VaultKey::create_file(&kit.key_path()).unwrap();
    let out = kit.run(&["sync"]).await;
    assert_code(&out, 1);
    assert!(
        out.stderr.contains("does not open the secrets"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("wrong vault key"), "{}", out.stderr);
    assert!(
        out.stderr.contains("hint: use the key file that was used"),
        "{}",
        out.stderr
    );
    assert!(kit.peoplesoft.purchase_orders().is_empty());
    // A damaged key file.
    std::fs::write(kit.key_path(), "not a key\n").unwrap();
    let damaged = kit.run(&["check"]).await;
    assert_code(&damaged, 1);
    assert!(damaged.stderr.contains("not base64"), "{}", damaged.stderr);
    // No key file at all.
    std::fs::remove_file(kit.key_path()).unwrap();
    let missing = kit.run(&["sync"]).await;
    assert_code(&missing, 1);
    assert!(
        missing.stderr.contains("hint: run `ml-connector init`"),
        "{}",
        missing.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_from_stdin_are_stored_never_shown_and_rotation_needs_an_existing_one() {
    let kit = Deployment::at("http://127.0.0.1:8701", "http://127.0.0.1:8702");
    let value = "s3cr3t-Value-never-printed";
    let set = kit
        .run_with_stdin(
            &["secrets", "set", TENANT, "procurify/client_secret"],
            &format!("{value}\n"),
        )
        .await;
    assert_code(&set, 0);
    let rotate = kit
        .run_with_stdin(&["secrets", "rotate", TENANT, "peoplesoft/password"], value)
        .await;
    assert_code(&rotate, 0);
    let list = kit.run(&["secrets", "list", TENANT]).await;
    assert_code(&list, 0);
    assert!(
        list.stdout.contains("procurify/client_secret"),
        "{}",
        list.stdout
    );
    for out in [&set, &rotate, &list] {
        assert!(!out.stdout.contains(value) && !out.stderr.contains(value));
    }
    let store = std::sync::Arc::new(SqliteStore::open(&kit.store_path()).unwrap());
    let key = mlc_host::vault::VaultKey::from_file(&kit.key_path()).unwrap();
    let vault = mlc_host::vault::Vault::new(key, store as std::sync::Arc<dyn Store>);
    let stored = vault
        .get(TENANT, "procurify/client_secret")
        .unwrap()
        .unwrap();
    assert_eq!(stored.expose(), value);

    let unknown = kit
        .run_with_stdin(&["secrets", "rotate", TENANT, "nope"], value)
        .await;
    assert_code(&unknown, 2);
    assert!(
        unknown.stderr.contains("no secret \"nope\" to rotate"),
        "{}",
        unknown.stderr
    );
    let empty = kit
        .run_with_stdin(&["secrets", "set", TENANT, "procurify/client_secret"], "")
        .await;
    assert_code(&empty, 1);
    assert!(
        empty.stderr.contains("no value on stdin"),
        "{}",
        empty.stderr
    );
    let no_tenant = kit
        .run_with_stdin(&["secrets", "set", "other", "x"], value)
        .await;
    assert_code(&no_tenant, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_list_export_and_verify_and_an_edited_row_breaks_the_chain() {
    let kit = Kit::start(10).await;
    assert_code(&kit.run(&["sync"]).await, 0);
    let verify = kit.run(&["audit", "verify", "--json"]).await;
    assert_code(&verify, 0);
    let rows = verify.json()["rows"].as_u64().unwrap();
    assert!(rows > 10);
    let export_path = kit.dir.path().join("audit.jsonl");
    let export = kit
        .run(&[
            "audit",
            "export",
            "--output",
            &export_path.display().to_string(),
        ])
        .await;
    assert_code(&export, 0);
    let lines = std::fs::read_to_string(&export_path).unwrap();
    assert_eq!(lines.lines().count() as u64, rows);
    let list = kit
        .run(&[
            "audit",
            "list",
            "--last",
            "3",
            "--event",
            "flow_completed",
            "--json",
        ])
        .await;
    assert_code(&list, 0);
    let listed = list.json();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["event"] == "flow_completed")
    );

    let db = rusqlite::Connection::open(kit.store_path()).unwrap();
    db.execute("UPDATE audit SET message = 'edited' WHERE seq = 3", [])
        .unwrap();
    drop(db);
    let broken = kit.run(&["audit", "verify"]).await;
    assert_code(&broken, 1);
    assert!(
        broken.stderr.contains("audit: BROKEN at row 3"),
        "{}",
        broken.stderr
    );
}

fn dead_letter(key: &str, reason: &str) -> LedgerEntry {
    LedgerEntry::new(
        TENANT,
        "requisitions-to-purchase-orders",
        LedgerKind::Document,
        key,
        "42",
        RecordState::Dead,
        1_700_000_000_000,
    )
    .with_hash("0".repeat(64))
    .with_attempts(1)
    .with_reason(reason)
    .with_source_doc(Some("{\"id\":42}".into()))
    .with_body(Some("{\"po\":1}".into()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_with_reasons_then_replayed_or_discarded() {
    let kit = Deployment::at("http://127.0.0.1:8701", "http://127.0.0.1:8702");
    let store = SqliteStore::open(&kit.store_path()).unwrap();
    store
        .ledger_put(&dead_letter("R42-V1", "rejected: VENDOR_ID is inactive"))
        .unwrap();
    store
        .ledger_put(&dead_letter("R42-V2", "rejected: BUSINESS_UNIT unknown"))
        .unwrap();
    let list = kit.run(&["dead-letters", "list"]).await;
    assert_code(&list, 0);
    assert!(list.stdout.contains("R42-V1"), "{}", list.stdout);
    assert!(
        list.stdout.contains("rejected: VENDOR_ID is inactive"),
        "{}",
        list.stdout
    );
    let flow = "requisitions-to-purchase-orders";
    let replay = kit
        .run(&["dead-letters", "replay", "--flow", flow, "R42-V1"])
        .await;
    assert_code(&replay, 0);
    assert!(
        replay.stdout.contains("1 dead letter(s) replayed"),
        "{}",
        replay.stdout
    );
    let discard = kit
        .run(&["dead-letters", "discard", "--flow", flow, "--all", "--json"])
        .await;
    assert_code(&discard, 0);
    assert_eq!(discard.json()["keys"], serde_json::json!(["R42-V2"]));
    assert_eq!(
        store
            .ledger_get(TENANT, flow, LedgerKind::Document, "R42-V1")
            .unwrap()
            .unwrap()
            .state,
        RecordState::Retrying
    );
    assert_eq!(
        store
            .ledger_get(TENANT, flow, LedgerKind::Document, "R42-V2")
            .unwrap()
            .unwrap()
            .state,
        RecordState::Skipped
    );
    let empty = kit.run(&["dead-letters", "list", "--json"]).await;
    assert_code(&empty, 0);
    assert_eq!(empty.json(), serde_json::json!([]));
    let unknown = kit
        .run(&["dead-letters", "replay", "--flow", flow, "R42-V9"])
        .await;
    assert_code(&unknown, 2);
    assert!(
        unknown.stderr.contains("no dead letter \"R42-V9\""),
        "{}",
        unknown.stderr
    );
    let bad_flow = kit.run(&["dead-letters", "list", "--flow", "nope"]).await;
    assert_code(&bad_flow, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_all_puts_back_what_it_can_and_names_the_unreadable_record_it_cannot() {
    let kit = Deployment::at("http://127.0.0.1:8701", "http://127.0.0.1:8702");
    let flow = "requisitions-to-purchase-orders";
    let store = SqliteStore::open(&kit.store_path()).unwrap();
    let unreadable = LedgerEntry::new(
        TENANT,
        flow,
        LedgerKind::Unreadable,
        "R7",
        "R7",
        RecordState::Dead,
        1_700_000_000_000,
    )
    .with_reason("unreadable at the source: not an object");
    store.ledger_put(&unreadable).unwrap();
    store
        .ledger_put(&dead_letter("R42-V1", "rejected: VENDOR_ID is inactive"))
        .unwrap();
    let list = kit.run(&["dead-letters", "list"]).await;
    assert_code(&list, 0);
    assert!(
        list.stdout.contains("R7  (unreadable,") && !list.stdout.contains("unreadable:R7"),
        "{}",
        list.stdout
    );
    let replay = kit
        .run(&["dead-letters", "replay", "--flow", flow, "--all", "--json"])
        .await;
    assert_code(&replay, 1);
    assert_eq!(replay.json()["keys"], serde_json::json!(["R42-V1"]));
    assert!(
        replay.stderr.contains("R7 (unreadable)") && replay.stderr.contains("cannot be replayed"),
        "{}",
        replay.stderr
    );
    let get = |kind, key| {
        store
            .ledger_get(TENANT, flow, kind, key)
            .unwrap()
            .unwrap()
            .state
    };
    assert_eq!(get(LedgerKind::Document, "R42-V1"), RecordState::Retrying);
    assert_eq!(
        get(LedgerKind::Unreadable, "R7"),
        RecordState::Dead,
        "still a dead letter, not parked forever"
    );
    let one = kit
        .run(&["dead-letters", "replay", "--flow", flow, "R7"])
        .await;
    assert_code(&one, 1);
    let discard = kit
        .run(&[
            "dead-letters",
            "discard",
            "--flow",
            flow,
            "--kind",
            "unreadable",
            "R7",
        ])
        .await;
    assert_code(&discard, 0);
    assert_eq!(get(LedgerKind::Unreadable, "R7"), RecordState::Skipped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_shows_the_documents_of_a_sample_and_why_records_park_or_fail() {
    let kit = Deployment::at("http://127.0.0.1:8701", "http://127.0.0.1:8702");
    let sample = kit.dir.path().join("vendors.json");
    std::fs::write(
        &sample,
        r#"[{"setid":"SHARE","vendor_id":"V100","name1":"Acme","name2":"Tools","status":"A"},
            {"setid":"SHARE","vendor_id":"V200","name1":"Old","status":"I"}]"#,
    )
    .unwrap();
    let out = kit
        .run(&[
            "map",
            "--flow",
            "vendors-to-procurify",
            "--input",
            &sample.display().to_string(),
            "--json",
        ])
        .await;
    assert_code(&out, 0);
    let results = out.json();
    assert_eq!(results[0]["outcome"], "mapped");
    assert_eq!(results[0]["outputs"][0]["action"], "write");
    assert_eq!(results[0]["outputs"][0]["value"]["name"], "Acme Tools");
    assert_eq!(results[1]["outputs"][0]["action"], "skip");

    let reqs = kit.dir.path().join("requisitions.json");
    std::fs::write(&reqs, r#"{"id":7,"lines":[{"id":70,"vendor":null}]}"#).unwrap();
    let parked = kit
        .run(&[
            "map",
            "--flow",
            "requisitions-to-purchase-orders",
            "--input",
            &reqs.display().to_string(),
        ])
        .await;
    assert_code(&parked, 0);
    assert!(parked.stdout.contains("PARKED"), "{}", parked.stdout);
    assert!(
        parked
            .stdout
            .contains("line 70 of requisition 7 has no vendor"),
        "{}",
        parked.stdout
    );

    std::fs::write(&reqs, r#"{"id":8,"lines":[]}"#).unwrap();
    let failed = kit
        .run(&[
            "map",
            "--flow",
            "requisitions-to-purchase-orders",
            "--input",
            &reqs.display().to_string(),
        ])
        .await;
    assert_code(&failed, 1);
    assert!(
        failed.stdout.contains("FAILED (would be a dead letter)"),
        "{}",
        failed.stdout
    );
    assert!(
        failed.stderr.contains("requisition 8 has no lines"),
        "{}",
        failed.stderr
    );

    let unknown = kit
        .run(&[
            "map",
            "--flow",
            "nope",
            "--input",
            &reqs.display().to_string(),
        ])
        .await;
    assert_code(&unknown, 2);
    std::fs::write(&reqs, "{not json").unwrap();
    let bad = kit
        .run(&[
            "map",
            "--flow",
            "requisitions-to-purchase-orders",
            "--input",
            &reqs.display().to_string(),
        ])
        .await;
    assert_code(&bad, 2);
    assert!(bad.stderr.contains("is not JSON"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_health_and_metrics_then_stops_cleanly_on_sigterm() {
    let kit = Kit::start(10).await;
    let mut child = kit
        .command(&["run", "--listen", "127.0.0.1:0"])
        .spawn()
        .expect("daemon starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let addr: std::net::SocketAddr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the daemon prints its address");
        if let Some(rest) = line.strip_prefix("status page http://") {
            break rest.split('/').next().unwrap().parse().unwrap();
        }
    };
    let (code, body) = http_get(addr, "/healthz").await;
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    // Every flow is due at start: wait until the mission flow has run.
    let mut metrics = String::new();
    for _ in 0..600 {
        metrics = http_get(addr, "/metrics").await.1;
        if metrics.contains("mlc_flow_runs_total{tenant=\"sandbox\",flow=\"requisitions-to-purchase-orders\",outcome=\"ok\"} 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        metrics.contains("flow=\"requisitions-to-purchase-orders\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("mlc_token_refreshes_total{tenant=\"sandbox\",connection=\"procurify\",reason=\"initial\"}"), "{metrics}");
    assert!(metrics.contains("mlc_flow_run_duration_seconds_count{tenant=\"sandbox\",flow=\"vendors-to-procurify\"} 1"), "{metrics}");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(0));
}
