//! Runtime figures (run in release: `cargo bench -p mlc-tests --bench runtime`):
//! precompiled-component load time, instantiate time from an InstancePre
//! (Store creation included), and host->guest call overhead. Prints a table;
//! nothing here asserts on time.

use mlc_host::runtime::{Connection, Runtime, RuntimeConfig};
use mlc_tests::SandboxBuilder;
use mlc_tests::components::MISBEHAVING_COMPONENT;
use std::time::{Duration, Instant};

fn per_op(total: Duration, n: u32) -> String {
    let ns = total.as_nanos() as f64 / n as f64;
    if ns >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else {
        format!("{:.2} us", ns / 1_000.0)
    }
}

fn main() {
    let dir = std::env::temp_dir().join(format!("mlc-bench-cache-{}", std::process::id()));
    let config = RuntimeConfig {
        cache_dir: Some(dir.clone()),
        max_instances: 256,
        ..RuntimeConfig::default()
    };

    // Compile once (fills the disk cache), then measure loads from disk in
    // fresh runtimes (each has an empty in-memory cache).
    let t = Instant::now();
    let runtime = Runtime::new(config.clone()).expect("runtime");
    runtime.load("m", MISBEHAVING_COMPONENT).expect("compile");
    let compile = t.elapsed();
    drop(runtime);
    let loads = 20;
    let mut load_total = Duration::ZERO;
    for _ in 0..loads {
        let runtime = Runtime::new(config.clone()).expect("runtime");
        let t = Instant::now();
        runtime.load("m", MISBEHAVING_COMPONENT).expect("load");
        load_total += t.elapsed();
    }

    let runtime = Runtime::new(config).expect("runtime");
    let (connector, _) = runtime.load("m", MISBEHAVING_COMPONENT).expect("load");
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let sandbox = SandboxBuilder::new("bench", "http://127.0.0.1:9").build();
    let conn = Connection {
        base_url: "http://127.0.0.1:9".into(),
        config: "{}".into(),
    };
    let (instantiate, calls, n_inst, n_calls) = tokio.block_on(async {
        // Warm up.
        for _ in 0..100 {
            drop(connector.instantiate(&sandbox).await.expect("instantiate"));
        }
        let n_inst = 2_000u32;
        let t = Instant::now();
        for _ in 0..n_inst {
            drop(connector.instantiate(&sandbox).await.expect("instantiate"));
        }
        let instantiate = t.elapsed();
        let mut instance = connector.instantiate(&sandbox).await.expect("instantiate");
        for _ in 0..1_000 {
            instance.check(&conn).await.expect("check");
        }
        let n_calls = 20_000u32;
        let t = Instant::now();
        for _ in 0..n_calls {
            instance.check(&conn).await.expect("check");
        }
        (instantiate, t.elapsed(), n_inst, n_calls)
    });
    let _ = std::fs::remove_dir_all(&dir);

    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!(
        "ml-connector runtime figures ({profile}, test component {} KiB)",
        MISBEHAVING_COMPONENT.len() / 1024
    );
    println!("| what | per operation |");
    println!("|---|---|");
    println!(
        "| compile (Cranelift, once per component and engine) | {} |",
        per_op(compile, 1)
    );
    println!(
        "| load precompiled component from disk cache | {} |",
        per_op(load_total, loads)
    );
    println!(
        "| instantiate from InstancePre (Store + sandbox state) | {} |",
        per_op(instantiate, n_inst)
    );
    println!(
        "| host->guest call (`check`, async, guarded) | {} |",
        per_op(calls, n_calls)
    );
}
