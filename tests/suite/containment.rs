//! A misbehaving component is stopped (deadline, memory, panic) with an error
//! naming its tenant and connector, while another tenant keeps working.

use mlc_host::events::{ContainmentReason, Event};
use mlc_host::runtime::{CallError, Connection};
use mlc_tests::{SandboxBuilder, misbehaving};
use std::time::Duration;

fn connection() -> Connection {
    Connection {
        base_url: "http://127.0.0.1:9".into(),
        config: "{}".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loop_hits_the_deadline_while_another_tenant_keeps_working() {
    let looping = SandboxBuilder::new("tenant-a", "http://127.0.0.1:9")
        .limits(64 << 20, Duration::from_millis(800));
    let healthy = SandboxBuilder::new("tenant-b", "http://127.0.0.1:9");
    let mut a = misbehaving().instantiate(&looping.build()).await.unwrap();
    let mut b = misbehaving().instantiate(&healthy.build()).await.unwrap();

    let conn = connection();
    let (a_result, b_results) = tokio::join!(a.read(&conn, "loop", None), async {
        let mut pages = Vec::new();
        for _ in 0..20 {
            pages.push(b.read(&conn, "ok", None).await);
        }
        pages
    });

    match a_result {
        Err(CallError::Contained {
            tenant,
            connector,
            reason: ContainmentReason::Deadline { limit_ms: 800 },
            ..
        }) => assert_eq!(
            (tenant.as_str(), connector.as_str()),
            ("tenant-a", "misbehaving")
        ),
        other => panic!("expected a deadline containment, got {other:?}"),
    }
    assert!(
        b_results.iter().all(|r| r.is_ok()),
        "tenant-b failed: {b_results:?}"
    );
    assert!(looping.events.recent().iter().any(|e| matches!(
        e,
        Event::ComponentContained { tenant, .. } if tenant == "tenant-a"
    )));
    // The stopped instance refuses further calls; a fresh one works.
    assert!(a.is_stopped());
    assert!(matches!(
        a.read(&conn, "ok", None).await,
        Err(CallError::Contained { .. })
    ));
    // The fresh instance gets the default deadline: a call that works must
    // not fail because a loaded machine took more than the loop's 800 ms.
    let tenant_a = SandboxBuilder::new("tenant-a", "http://127.0.0.1:9");
    let mut fresh = misbehaving().instantiate(&tenant_a.build()).await.unwrap();
    assert!(fresh.read(&conn, "ok", None).await.is_ok());
}

#[tokio::test]
async fn unbounded_allocation_hits_the_memory_limit_and_names_the_tenant() {
    let sandbox = SandboxBuilder::new("tenant-mem", "http://127.0.0.1:9")
        .limits(32 << 20, Duration::from_secs(20));
    let mut instance = misbehaving().instantiate(&sandbox.build()).await.unwrap();
    let err = instance
        .read(&connection(), "grow", None)
        .await
        .unwrap_err();
    match &err {
        CallError::Contained {
            tenant,
            reason: ContainmentReason::MemoryLimit { limit_bytes },
            ..
        } => {
            assert_eq!(tenant, "tenant-mem");
            assert_eq!(*limit_bytes, 32 << 20);
        }
        other => panic!("expected a memory containment, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("tenant-mem")
            && message.contains("misbehaving")
            && message.contains("32 MiB"),
        "{message}"
    );

    // Another tenant's instance of the same component is unaffected.
    let other = SandboxBuilder::new("tenant-other", "http://127.0.0.1:9");
    let mut ok = misbehaving().instantiate(&other.build()).await.unwrap();
    assert!(ok.read(&connection(), "ok", None).await.is_ok());
}

#[tokio::test]
async fn a_panicking_component_is_reported_as_a_trap() {
    let sandbox = SandboxBuilder::new("tenant-p", "http://127.0.0.1:9");
    let mut instance = misbehaving().instantiate(&sandbox.build()).await.unwrap();
    let err = instance
        .read(&connection(), "panic", None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CallError::Contained { reason: ContainmentReason::Trap(_), tenant, .. } if tenant == "tenant-p"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_component_finds_no_environment_arguments_or_files() {
    // SAFETY of the test: the host process has environment variables of its own;
    // the component must not see any of them.
    let sandbox = SandboxBuilder::new("tenant-s", "http://127.0.0.1:9");
    let mut instance = misbehaving().instantiate(&sandbox.build()).await.unwrap();
    let page = instance.read(&connection(), "snoop", None).await.unwrap();
    let report = &page.docs[0].body;
    assert!(
        !report.contains("env "),
        "component saw environment: {report}"
    );
    assert!(
        !report.contains("arg "),
        "component saw arguments: {report}"
    );
    assert!(!report.contains("read "), "component read a file: {report}");
    assert!(
        !report.contains("listed "),
        "component listed a directory: {report}"
    );
    assert!(report.contains("denied /etc/passwd"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn deadlines_hold_after_the_runtime_that_loaded_the_connector_is_gone() {
    // The host keeps loaded connectors, not always the runtime that built
    // them (App drops it after deployment): the epoch must keep advancing.
    let connector = {
        let runtime = mlc_host::runtime::Runtime::new(mlc_host::runtime::RuntimeConfig {
            cache_dir: Some(mlc_tests::cache_dir()),
            max_instances: 4,
            ..mlc_host::runtime::RuntimeConfig::default()
        })
        .unwrap();
        runtime
            .load("misbehaving", mlc_tests::components::MISBEHAVING_COMPONENT)
            .unwrap()
            .0
    };
    let sandbox = SandboxBuilder::new("tenant-late", "http://127.0.0.1:9")
        .limits(64 << 20, Duration::from_millis(300));
    let mut instance = connector.instantiate(&sandbox.build()).await.unwrap();
    let stopped = tokio::time::timeout(
        Duration::from_secs(20),
        instance.read(&connection(), "loop", None),
    )
    .await
    .expect("the loop was never interrupted");
    assert!(matches!(
        stopped,
        Err(CallError::Contained {
            reason: ContainmentReason::Deadline { .. },
            ..
        })
    ));
}
