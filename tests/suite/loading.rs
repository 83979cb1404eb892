//! Components are compiled once, cached on disk by content and engine, and a
//! component that does not fit the contract is refused with a clear error.
//! Source-only and sink-only components (the SDK's `export_source!` and
//! `export_sink!`) load as what they are, and a call they do not export fails
//! clearly before reaching them.

use mlc_host::runtime::{
    CacheOutcome, CallError, Capabilities, Connection, Doc, Failure, Runtime, RuntimeConfig,
};
use mlc_tests::SandboxBuilder;
use mlc_tests::components::{MISBEHAVING_COMPONENT, SINK_ONLY_COMPONENT, SOURCE_ONLY_COMPONENT};

#[test]
fn second_load_comes_from_memory_and_a_new_runtime_reads_the_disk_cache() {
    let dir = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        max_instances: 4,
        ..RuntimeConfig::default()
    };
    let first = Runtime::new(config.clone()).unwrap();
    assert_eq!(
        first.load("m", MISBEHAVING_COMPONENT).unwrap().1,
        CacheOutcome::Compiled
    );
    assert_eq!(
        first.load("m", MISBEHAVING_COMPONENT).unwrap().1,
        CacheOutcome::Memory
    );
    drop(first);
    let second = Runtime::new(config).unwrap();
    assert_eq!(
        second.load("m", MISBEHAVING_COMPONENT).unwrap().1,
        CacheOutcome::Disk
    );
}

#[test]
fn bytes_that_are_not_a_component_are_refused_with_the_connector_name() {
    let err = mlc_tests::runtime()
        .load("broken", b"\0asm garbage")
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("broken") && message.contains("not a valid component"),
        "{message}"
    );
}

fn connection() -> Connection {
    Connection {
        base_url: "http://127.0.0.1:9".into(),
        config: "{}".into(),
    }
}

fn doc(key: &str, body: &str) -> Doc {
    Doc {
        key: key.into(),
        body: body.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_source_only_component_is_read_page_by_page_and_refuses_a_write_clearly() {
    let (connector, _) = mlc_tests::runtime()
        .load("source-only", SOURCE_ONLY_COMPONENT)
        .unwrap();
    assert!(connector.is_source());
    assert!(!connector.is_sink());
    let sandbox = SandboxBuilder::new("tenant-src", "http://127.0.0.1:9").build();
    let mut instance = connector.instantiate(&sandbox).await.unwrap();
    let spec = instance.spec().await.unwrap();
    assert_eq!(spec.name, "source-only");
    let streams: Vec<(&str, Capabilities)> = spec
        .streams
        .iter()
        .map(|s| (s.name.as_str(), s.capabilities))
        .collect();
    assert_eq!(streams, vec![("counter", Capabilities::READ)]);

    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let page = instance
            .read(&connection(), "counter", cursor.as_deref())
            .await
            .unwrap();
        keys.extend(page.docs.iter().map(|d| d.key.clone()));
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(keys, vec!["1", "2", "3", "4", "5"]);

    // An unknown stream is the table's one message, naming what there is.
    match instance.read(&connection(), "invoices", None).await {
        Err(e) => match e.failure() {
            Some(Failure::Config(m)) => assert_eq!(
                m,
                "read invoices: the source-only connector has no stream \"invoices\"; it offers: counter"
            ),
            other => panic!("{other:?}"),
        },
        Ok(page) => panic!("read an unknown stream: {page:?}"),
    }

    for result in [
        instance
            .write(&connection(), "counter", &doc("1", "{}"))
            .await
            .map(drop),
        instance
            .lookup(&connection(), "counter", "1")
            .await
            .map(drop),
    ] {
        match result {
            Err(e @ CallError::Unsupported { .. }) => {
                let m = e.to_string();
                assert!(
                    m.contains("source-only") && m.contains("is not a sink"),
                    "{m}"
                );
            }
            other => panic!("a source-only component took a sink call: {other:?}"),
        }
    }
    assert!(
        !instance.is_stopped(),
        "a refused call must not stop the instance"
    );
    let again = instance.read(&connection(), "counter", None).await.unwrap();
    assert_eq!(again.docs.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_sink_only_component_takes_writes_and_lookups_and_refuses_a_read_clearly() {
    let (connector, _) = mlc_tests::runtime()
        .load("sink-only", SINK_ONLY_COMPONENT)
        .unwrap();
    assert!(connector.is_sink());
    assert!(!connector.is_source());
    let sandbox = SandboxBuilder::new("tenant-sink", "http://127.0.0.1:9").build();
    let mut instance = connector.instantiate(&sandbox).await.unwrap();
    assert_eq!(
        instance.lookup(&connection(), "notes", "a").await.unwrap(),
        None
    );
    let written = instance
        .write(&connection(), "notes", &doc("a", r#"{"text":"hi"}"#))
        .await
        .unwrap();
    assert_eq!(written.target_key, "note-a");
    assert_eq!(
        instance
            .lookup(&connection(), "notes", "a")
            .await
            .unwrap()
            .as_deref(),
        Some("note-a")
    );
    match instance.read(&connection(), "notes", None).await {
        Err(e @ CallError::Unsupported { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains("sink-only") && m.contains("is not a source"),
                "{m}"
            );
        }
        other => panic!("a sink-only component took a read: {other:?}"),
    }
}
