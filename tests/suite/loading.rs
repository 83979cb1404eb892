//! Components are compiled once, cached on disk by content and engine, and a
//! component that does not fit the contract is refused with a clear error.

use mlc_host::runtime::{CacheOutcome, Runtime, RuntimeConfig};
use mlc_tests::components::MISBEHAVING_COMPONENT;

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
