//! The pipeline's promises, through real components and a real store: no
//! duplicate post (crash, timeout after commit), nothing lost (parking,
//! deferral, cursor), clear halts, dead letters, a verifiable audit trail.

use mlc_host::audit::{self, Verification};
use mlc_host::pipeline::{OnChange, PipelineError, RunOutcome};
use mlc_host::store::{LedgerKind, RecordState, Store};
use mlc_sandbox::faults::{Fault, FaultRule};
use mlc_tests::pipeline_kit::{PipelineKit, TENANT};
use serde_json::json;
use std::time::Duration;

const COPY: &str = r#"{key: "ORD-\(.id)", body: {id: .id, qty: .qty}}"#;

fn order(id: u32) -> serde_json::Value {
    json!({"id": id, "qty": format!("{id}.5")})
}

/// A kit whose source stream `records` holds orders 1..=n.
async fn kit_with_orders(n: u32) -> PipelineKit {
    let kit = PipelineKit::start().await;
    for id in 1..=n {
        kit.service
            .put_source("records", &id.to_string(), order(id));
    }
    kit
}

/// Sink posts answer after `fixed` (the next `times` posts, or all).
fn delay_sink_posts(kit: &PipelineKit, fixed: Duration, times: Option<u32>) {
    let rule = FaultRule::always(Fault::Latency {
        fixed,
        jitter: Duration::ZERO,
    })
    .on(http::Method::POST, "/sink/");
    kit.server.faults().add(match times {
        Some(n) => rule.times(n),
        None => rule,
    });
}

#[tokio::test]
async fn records_are_delivered_once_and_a_second_run_posts_nothing() {
    let kit = kit_with_orders(120).await;
    let flow = kit.flow("orders", "records", "orders", COPY);
    let report = kit.pipeline().run_flow(&flow).await.unwrap();
    assert_eq!(report.outcome, RunOutcome::Completed);
    assert_eq!((report.counts.read, report.counts.delivered), (120, 120));
    let stored = kit.service.stored("orders");
    assert_eq!(stored.len(), 120);
    assert_eq!(stored["ORD-7"].1, json!({"id": 7, "qty": "7.5"}));

    let again = kit.pipeline().run_flow(&flow).await.unwrap();
    assert_eq!(again.counts.delivered, 0);
    assert_eq!(kit.service.total_posts("orders"), 120);
    for id in 1..=120 {
        assert_eq!(kit.service.posts("orders", &format!("ORD-{id}")), 1);
    }
}

#[tokio::test]
async fn write_that_times_out_after_the_remote_committed_is_resolved_by_lookup() {
    let mut kit = PipelineKit::start().await;
    kit.sink_limits.between_bytes_timeout = Duration::from_millis(150);
    kit.service.put_source("records", "1", order(1));
    kit.service.put_source("records", "2", order(2));
    // The first post is stored, then its answer stalls past the timeout.
    kit.server.faults().add(
        FaultRule::always(Fault::SlowBody {
            chunk_delay: Duration::from_secs(2),
        })
        .on(http::Method::POST, "/sink/")
        .times(1),
    );
    let flow = kit.flow("orders", "records", "orders", COPY);
    let report = kit.pipeline().run_flow(&flow).await.unwrap();
    assert_eq!(report.outcome, RunOutcome::Completed);
    assert_eq!(kit.service.stored("orders").len(), 2);
    assert_eq!(
        kit.service.total_posts("orders"),
        2,
        "the timed-out write was posted again"
    );
    assert_eq!(report.counts.linked + report.counts.delivered, 2);
    assert_eq!(report.counts.linked, 1, "{report:?}");
}

#[tokio::test]
async fn crash_between_write_and_record_leaves_no_duplicate_after_restart() {
    let kit = kit_with_orders(30).await;
    let mut flow = kit.flow("orders", "records", "orders", COPY);
    flow.concurrency = 1;
    let crashed = kit.crashing_pipeline(7).run_flow(&flow).await;
    assert!(crashed.is_err(), "the simulated crash must stop the run");
    let pending = kit
        .store
        .ledger_in_state(TENANT, "orders", RecordState::Pending, 100)
        .unwrap();
    assert_eq!(pending.len(), 1, "the crashed write is left pending");

    let report = kit.pipeline().run_flow(&flow).await.unwrap();
    assert_eq!(report.outcome, RunOutcome::Completed);
    assert_eq!(kit.service.stored("orders").len(), 30);
    for id in 1..=30 {
        assert_eq!(
            kit.service.posts("orders", &format!("ORD-{id}")),
            1,
            "ORD-{id} posted twice"
        );
    }
    let counts = kit.store.ledger_counts(TENANT, "orders").unwrap();
    assert_eq!(counts.get(&RecordState::Delivered), Some(&30));
}

#[tokio::test]
async fn a_slow_write_lets_later_pages_proceed_but_holds_the_cursor_before_its_page() {
    let kit = kit_with_orders(120).await;
    // The run's first write goes alone and answers at once; the next one, of
    // the first concurrent batch and so on page 1 of 3 (50 records a page),
    // takes 4 s: long enough for the 118 others to finish well before it.
    let slow = Duration::from_secs(4);
    delay_sink_posts(&kit, Duration::ZERO, Some(1));
    delay_sink_posts(&kit, slow, Some(1));
    let flow = kit.flow("orders", "records", "orders", COPY);
    let pipeline = kit.pipeline();
    let run = pipeline.run_flow(&flow);
    let watch = async {
        // Cursor first, then posts: a cursor seen while a post of page 1 was
        // still unanswered is a cursor saved past an unsettled page.
        loop {
            let cursor = kit.store.cursor(TENANT, "orders").unwrap();
            let posts = kit.service.total_posts("orders");
            if posts == 120 {
                return;
            }
            assert_eq!(
                cursor, None,
                "cursor saved while page 1 still had a write in flight ({posts} posts)"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let (report, ()) = tokio::join!(run, watch);
    let report = report.unwrap();
    assert_eq!(report.outcome, RunOutcome::Completed);
    assert_eq!(report.counts.delivered, 120);

    // Posts are counted once the latency has passed: the slow page-1 write
    // is the last one, and pages 2 and 3 were written while it was pending.
    let times = kit.service.post_times();
    let last = *times.iter().max().unwrap();
    let before = times.iter().filter(|t| **t < last).count();
    assert!(
        before >= 60,
        "only {before} posts went ahead of the slow write: later pages waited for page 1"
    );
    assert!(kit.store.cursor(TENANT, "orders").unwrap().is_some());
    let again = kit.pipeline().run_flow(&flow).await.unwrap();
    assert_eq!((again.counts.read, again.counts.delivered), (0, 0));
    assert_eq!(kit.service.total_posts("orders"), 120);
}

#[tokio::test]
async fn writes_queued_behind_the_first_write_go_together_once_it_succeeded() {
    let kit = kit_with_orders(5).await;
    // One at a time, writes 2-5 would arrive over 3 s; together, within ms.
    let latency = Duration::from_secs(1);
    delay_sink_posts(&kit, latency, None);
    let flow = kit.flow("orders", "records", "orders", COPY);
    let report = kit.pipeline().run_flow(&flow).await.unwrap();
    assert_eq!(report.counts.delivered, 5);
    // The first write goes alone; the four queued behind it (concurrency 4)
    // are sent together when it succeeds, not one latency after another.
    let mut times = kit.service.post_times();
    times.sort();
    let spread = times[4] - times[1];
    assert!(
        spread < latency / 2,
        "writes 2-5 arrived over {spread:?}: they went through the gate one by one"
    );
}

#[tokio::test]
async fn parked_record_is_delivered_in_the_cycle_after_its_vendor_arrives() {
    let kit = PipelineKit::start().await;
    let vendors = kit.flow(
        "vendors",
        "vendors",
        "vendors",
        r#"{key: .name, body: {name: .name}, xref: {table: "vendor", key: .id}}"#,
    );
    let mut orders = kit.flow(
        "orders",
        "records",
        "orders",
        r#"{key: "ORD-\(.id)", body: {id: .id, vendor_id: xref("vendor"; .vendor)}}"#,
    );
    orders.requires = vec!["vendors".into()];
    let flows = [orders.clone(), vendors.clone()];

    // A vendor and an order that references it arrive together: the vendor
    // flow runs first, so the order is delivered in the same cycle.
    kit.service
        .put_source("vendors", "V1", json!({"id": "V1", "name": "Acme & Co"}));
    kit.service
        .put_source("records", "1", json!({"id": 1, "vendor": "V1"}));
    // An order whose vendor does not exist yet is parked.
    kit.service
        .put_source("records", "2", json!({"id": 2, "vendor": "V2"}));
    let reports = kit.pipeline().run_cycle(&flows).await.unwrap();
    assert_eq!(reports[0].flow, "vendors");
    let stored = kit.service.stored("orders");
    assert_eq!(
        stored["ORD-1"].1["vendor_id"],
        stored_id(&kit, "vendors", "Acme & Co")
    );
    assert!(!stored.contains_key("ORD-2"));
    let parked = kit
        .store
        .ledger_in_state(TENANT, "orders", RecordState::Parked, 10)
        .unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(
        parked[0].reason.as_deref(),
        Some("no vendor crosswalk entry for \"V2\" yet")
    );

    // The vendor arrives: the next cycle delivers the parked order.
    kit.service
        .put_source("vendors", "V2", json!({"id": "V2", "name": "Globex"}));
    kit.pipeline().run_cycle(&flows).await.unwrap();
    let stored = kit.service.stored("orders");
    assert_eq!(
        stored["ORD-2"].1["vendor_id"],
        stored_id(&kit, "vendors", "Globex")
    );
    assert!(
        kit.store
            .ledger_in_state(TENANT, "orders", RecordState::Parked, 10)
            .unwrap()
            .is_empty()
    );
}

/// The target id the record service gave document `key` of sink `stream`.
fn stored_id(kit: &PipelineKit, stream: &str, key: &str) -> serde_json::Value {
    json!(kit.service.stored(stream)[key].0)
}

#[tokio::test]
async fn not_enabled_halts_after_one_attempt_then_resumes_when_granted() {
    let kit = kit_with_orders(80).await;
    kit.service.set_sink_forbidden(true);
    let mut flow = kit.flow("orders", "records", "orders", COPY);
    flow.concurrency = 1;
    let report = kit.pipeline().run_flow(&flow).await.unwrap();
    match &report.outcome {
        RunOutcome::Halted(m) => assert!(m.contains("not enabled") && m.contains("grant"), "{m}"),
        other => panic!("expected a halt, got {other:?}"),
    }
    assert_eq!(
        kit.service.total_posts("orders"),
        1,
        "a halting failure must not be hammered"
    );
    assert!(
        kit.pipeline()
            .dead_letters(TENANT, "orders")
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        kit.store.cursor(TENANT, "orders").unwrap(),
        None,
        "the unsettled page must be read again"
    );

    kit.service.set_sink_forbidden(false);
    let report = kit.pipeline().run_flow(&flow).await.unwrap();
    assert_eq!(report.outcome, RunOutcome::Completed);
    assert_eq!(kit.service.stored("orders").len(), 80);
    assert_eq!(
        kit.service.posts("orders", "ORD-1"),
        2,
        "only the refused document is posted again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_writes_queued_on_two_threads_a_halting_failure_is_posted_once() {
    // Records run as tasks on both worker threads; the writes queued behind
    // the first one must all see its halt.
    for round in 0..5 {
        let kit = kit_with_orders(40).await;
        kit.service.set_sink_forbidden(true);
        let mut flow = kit.flow("orders", "records", "orders", COPY);
        flow.concurrency = 8;
        let report = kit.pipeline().run_flow(&flow).await.unwrap();
        assert!(
            matches!(report.outcome, RunOutcome::Halted(_)),
            "round {round}: {report:?}"
        );
        assert_eq!(
            kit.service.total_posts("orders"),
            1,
            "round {round}: a halting failure was posted more than once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_changed_between_two_page_reads_ends_as_its_last_version() {
    let kit = kit_with_orders(120).await;
    // Page 1 answers at once, page 2 after 400 ms: record 3 (on page 1)
    // changes meanwhile, so page 3 lists it again, changed.
    for fixed in [Duration::ZERO, Duration::from_millis(400)] {
        kit.server.faults().add(
            FaultRule::always(Fault::Latency {
                fixed,
                jitter: Duration::ZERO,
            })
            .on(http::Method::GET, "/source/")
            .times(1),
        );
    }
    let mut flow = kit.flow("orders", "records", "orders", COPY);
    flow.on_change = OnChange::Rewrite;
    flow.concurrency = 8;
    let pipeline = kit.pipeline();
    let change = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        kit.service
            .put_source("records", "3", json!({"id": 3, "qty": "33.5"}));
    };
    let (report, ()) = tokio::join!(pipeline.run_flow(&flow), change);
    let report = report.unwrap();
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    assert_eq!(
        kit.service.stored("orders")["ORD-3"].1,
        json!({"id": 3, "qty": "33.5"}),
        "the stale copy was written over the changed one"
    );
    assert!(kit.service.posts("orders", "ORD-3") <= 2);
    assert_eq!(kit.service.stored("orders").len(), 120);
    assert!(
        kit.pipeline()
            .dead_letters(TENANT, "orders")
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn rejected_record_becomes_a_dead_letter_that_can_be_replayed() {
    let kit = kit_with_orders(3).await;
    kit.service.reject_key("ORD-2");
    let flow = kit.flow("orders", "records", "orders", COPY);
    let pipeline = kit.pipeline();
    let report = pipeline.run_flow(&flow).await.unwrap();
    assert_eq!(report.outcome, RunOutcome::Completed);
    assert_eq!((report.counts.delivered, report.counts.dead), (2, 1));
    let dead = pipeline.dead_letters(TENANT, "orders").unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("quantity: must be positive")
    );
    assert_eq!(
        kit.service.posts("orders", "ORD-2"),
        1,
        "a rejected record is not retried"
    );

    // The operator fixes the target side and replays.
    kit.service.accept_key("ORD-2");
    assert!(
        pipeline
            .replay_dead_letter(TENANT, "orders", LedgerKind::Document, "ORD-2")
            .unwrap()
    );
    pipeline.run_flow(&flow).await.unwrap();
    assert!(kit.service.stored("orders").contains_key("ORD-2"));
    assert!(pipeline.dead_letters(TENANT, "orders").unwrap().is_empty());
}

#[tokio::test]
async fn transient_failures_back_off_and_retry_after_is_honoured() {
    let kit = PipelineKit::start().await;
    kit.service.put_source("records", "1", order(1));
    kit.service.fail_next_writes(2, 503, None);
    kit.service.fail_next_writes(1, 429, Some(1));
    let flow = kit.flow("orders", "records", "orders", COPY);
    let report = kit.pipeline().run_flow(&flow).await.unwrap();
    assert_eq!(report.counts.delivered, 1);
    assert_eq!(report.counts.retries, 3);
    let times = kit.service.post_times();
    assert_eq!(times.len(), 4);
    assert!(
        times[3] - times[2] >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured ({:?})",
        times[3] - times[2]
    );
}

#[tokio::test]
async fn writes_out_of_attempts_wait_for_the_next_run_without_being_lost() {
    let kit = PipelineKit::start().await;
    kit.service.put_source("records", "1", order(1));
    kit.service.fail_next_writes(4, 502, None);
    let flow = kit.flow("orders", "records", "orders", COPY);
    let report = kit.pipeline().run_flow(&flow).await.unwrap();
    assert_eq!((report.counts.delivered, report.counts.deferred), (0, 1));
    let waiting = kit
        .store
        .ledger_in_state(TENANT, "orders", RecordState::Retrying, 10)
        .unwrap();
    assert_eq!(waiting.len(), 1);
    let report = kit.pipeline().run_flow(&flow).await.unwrap();
    assert_eq!(report.counts.delivered, 1);
    assert_eq!(kit.service.stored("orders").len(), 1);
}

#[tokio::test]
async fn a_changed_document_follows_the_flows_policy() {
    let kit = PipelineKit::start().await;
    kit.service.put_source("records", "1", order(1));
    let mut flow = kit.flow("orders", "records", "orders", COPY);
    flow.on_change = OnChange::DeadLetter;
    kit.pipeline().run_flow(&flow).await.unwrap();
    kit.service
        .put_source("records", "1", json!({"id": 1, "qty": "9"}));
    let report = kit.pipeline().run_flow(&flow).await.unwrap();
    assert_eq!(report.counts.dead, 1);
    let dead = kit.pipeline().dead_letters(TENANT, "orders").unwrap();
    assert!(
        dead[0]
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("changed at the source")
    );
    assert_eq!(kit.service.posts("orders", "ORD-1"), 1);

    // Changed once more while a dead letter: still for review, never posted
    // as a new document.
    kit.service
        .put_source("records", "1", json!({"id": 1, "qty": "10"}));
    let report = kit.pipeline().run_flow(&flow).await.unwrap();
    assert_eq!(report.counts.dead, 1, "{report:?}");
    let dead = kit.pipeline().dead_letters(TENANT, "orders").unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].body.as_deref().unwrap_or("").contains("\"10\""),
        "{dead:?}"
    );
    assert_eq!(
        kit.service.posts("orders", "ORD-1"),
        1,
        "posted again as new"
    );
}

#[tokio::test]
async fn unreadable_source_record_is_kept_as_a_dead_letter_and_the_rest_delivered() {
    let kit = PipelineKit::start().await;
    kit.service.put_source("records", "1", order(1));
    kit.service
        .put_source("records", "2", json!("not an object"));
    kit.service.put_source("records", "3", order(3));
    let flow = kit.flow("orders", "records", "orders", COPY);
    let report = kit.pipeline().run_flow(&flow).await.unwrap();
    assert_eq!((report.counts.delivered, report.counts.unreadable), (2, 1));
    let dead = kit.pipeline().dead_letters(TENANT, "orders").unwrap();
    assert_eq!(
        (dead[0].kind, dead[0].key.as_str()),
        (LedgerKind::Unreadable, "2")
    );
    // Nothing to map again and no way to read one record by key: replay
    // says so and the letter stays, never parked forever.
    let replay = kit
        .pipeline()
        .replay_dead_letter(TENANT, "orders", LedgerKind::Unreadable, "2");
    assert!(
        matches!(replay, Err(PipelineError::NotReplayable { .. })),
        "{replay:?}"
    );
    assert_eq!(
        kit.pipeline().dead_letters(TENANT, "orders").unwrap().len(),
        1
    );
}

#[tokio::test]
async fn a_record_that_stays_unreadable_is_recorded_and_audited_once() {
    let kit = PipelineKit::start().await;
    kit.service.put_source("records", "1", order(1));
    kit.service
        .put_source("records", "2", json!("not an object"));
    let flow = kit.flow("orders", "records", "orders", COPY);
    kit.pipeline().run_flow(&flow).await.unwrap();
    // Read everything again, as after a cursor reset: record 2 is still
    // unreadable for the same reason.
    kit.store.set_cursor(TENANT, "orders", None).unwrap();
    let again = kit.pipeline().run_flow(&flow).await.unwrap();
    assert_eq!(again.counts.unreadable, 1, "it is still seen");
    let audited = kit
        .store
        .audit_rows(0, 10_000)
        .unwrap()
        .into_iter()
        .filter(|r| r.record.event == "record_unreadable")
        .count();
    assert_eq!(audited, 1, "audited once, not on every run");
}

#[tokio::test]
async fn audit_chain_verifies_and_detects_an_edited_or_deleted_row() {
    let kit = kit_with_orders(5).await;
    let flow = kit.flow("orders", "records", "orders", COPY);
    kit.pipeline().run_flow(&flow).await.unwrap();
    let rows = match audit::verify(kit.store.as_ref()).unwrap() {
        Verification::Verified { rows, .. } => rows,
        broken => panic!("fresh log must verify: {broken:?}"),
    };
    assert!(rows >= 6, "5 deliveries and a completion: {rows}");

    let mut export = Vec::new();
    audit::export(kit.store.as_ref(), Some(TENANT), &mut export).unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(export)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, rows);
    assert_eq!(lines[0]["event"], "record_delivered");

    let db = rusqlite::Connection::open(kit.dir.path().join("mlc.db")).unwrap();
    db.execute("UPDATE audit SET target_key = 'T-999' WHERE seq = 2", [])
        .unwrap();
    assert!(matches!(
        audit::verify(kit.store.as_ref()).unwrap(),
        Verification::Broken { seq: 2, .. }
    ));
    let original: String = lines[1]["target_key"].as_str().unwrap().to_string();
    db.execute("UPDATE audit SET target_key = ?1 WHERE seq = 2", [original])
        .unwrap();
    assert!(matches!(
        audit::verify(kit.store.as_ref()).unwrap(),
        Verification::Verified { .. }
    ));
    db.execute("DELETE FROM audit WHERE seq = 3", []).unwrap();
    assert!(matches!(
        audit::verify(kit.store.as_ref()).unwrap(),
        Verification::Broken { seq: 3, .. }
    ));
}

#[tokio::test]
async fn a_source_saying_more_pages_without_a_new_cursor_stops_the_run_naming_the_stream() {
    use mlc_host::pipeline::{ConnectionHandle, Endpoint};
    use mlc_host::runtime::Connection;
    use mlc_tests::{SandboxBuilder, misbehaving};
    use std::sync::Arc;

    let kit = PipelineKit::start().await;
    let mut flow = kit.flow(
        "stuck",
        "records",
        "orders",
        r#"{key: "STUCK", body: {ok: .ok}}"#,
    );
    flow.source = Endpoint {
        connection: Arc::new(ConnectionHandle {
            name: "source".into(),
            connector: misbehaving(),
            sandbox: SandboxBuilder::new(TENANT, &kit.server.base_url())
                .connection("source")
                .build(),
            connection: Connection {
                base_url: kit.server.base_url(),
                config: "{}".into(),
            },
        }),
        stream: "stuck".into(),
    };
    let report = tokio::time::timeout(Duration::from_secs(60), kit.pipeline().run_flow(&flow))
        .await
        .expect("the run stops instead of reading the same page forever")
        .unwrap();
    match &report.outcome {
        RunOutcome::Halted(m) => assert!(
            m.contains("reading stuck") && m.contains("protocol error") && m.contains("\"p1\""),
            "{m}"
        ),
        other => panic!("expected a halt naming the stream, got {other:?}"),
    }
    // The start gave cursor p1, p1 gave p1 again: two pages, no third.
    assert_eq!(report.counts.read, 2, "{report:?}");
    assert_eq!(kit.service.posts("orders", "STUCK"), 1);
}
