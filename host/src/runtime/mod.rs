//! The wasmtime side of the host: one engine (pooling allocator, epoch
//! interruption driven by a ticker thread), precompiled components loaded once
//! into an `InstancePre`, and a fresh sandboxed store per tenant run.

pub(crate) mod bindings;
mod cache;
mod instance;
mod sandbox;

pub use cache::CacheOutcome;
pub use instance::{CallError, ConnectorInstance};
pub use sandbox::{Sandbox, SandboxLimits};

/// Plain contract types, as the rest of the host uses them.
pub use bindings::mlc::connector::types::{
    AuthScheme, BadRecord, Capabilities, Connection, ConnectorSpec, Doc, Failure, Page, StreamSpec,
    Throttle, Written,
};

use bindings::exports::mlc::connector::{plugin, sink, source};
use cache::ComponentCache;
use sandbox::SandboxState;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::component::{HasSelf, InstancePre, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Settings of the runtime (one per host process).
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where precompiled components are kept; `None` compiles in memory only.
    pub cache_dir: Option<PathBuf>,
    /// How many component instances may exist at once (pool size).
    pub max_instances: u32,
    /// The largest memory any sandbox may be given (pool slot size), in bytes.
    pub max_memory_bytes: u64,
    /// Resolution of call deadlines.
    pub epoch_tick: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            max_instances: 1000,
            max_memory_bytes: 256 * 1024 * 1024,
            epoch_tick: Duration::from_millis(10),
        }
    }
}

/// Errors loading components or building the runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The engine could not be configured.
    #[error("wasm engine: {0}")]
    Engine(String),
    /// A component could not be compiled or linked.
    #[error("connector {name}: {detail}")]
    Load {
        /// Connector name.
        name: String,
        /// What went wrong.
        detail: String,
    },
}

/// Increments the engine's epoch every tick until dropped.
#[derive(Debug)]
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("mlc-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .ok();
        EpochTicker { stop, thread }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The host's wasm runtime.
pub struct Runtime {
    engine: Engine,
    linker: Linker<SandboxState>,
    cache: ComponentCache,
    epoch_tick: Duration,
    max_memory_bytes: u64,
    ticker: Arc<EpochTicker>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("epoch_tick", &self.epoch_tick)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Builds the engine, the linker (WASI, `wasi:http`, host services) and the
    /// epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let engine_err = |e: wasmtime::Error| RuntimeError::Engine(format!("{e:#}"));
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(config.max_instances)
            .total_core_instances(config.max_instances * 4)
            .total_memories(config.max_instances * 2)
            .total_tables(config.max_instances * 4)
            .max_memories_per_component(4)
            .max_tables_per_component(8)
            .max_core_instances_per_component(16)
            .max_memory_size(config.max_memory_bytes as usize);
        let mut wasm_config = Config::new();
        wasm_config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .memory_reservation(config.max_memory_bytes)
            .memory_guard_size(64 * 1024)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm_config).map_err(engine_err)?;

        let mut linker = Linker::<SandboxState>::new(&engine);
        // A Rust std guest imports wasi:cli, filesystem, random, ...; all are
        // linked, and the WasiCtx grants nothing through them.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(engine_err)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(engine_err)?;
        bindings::mlc::connector::host::add_to_linker::<_, HasSelf<SandboxState>>(
            &mut linker,
            |state| state,
        )
        .map_err(engine_err)?;
        bindings::mlc::connector::types::add_to_linker::<_, HasSelf<SandboxState>>(
            &mut linker,
            |state| state,
        )
        .map_err(engine_err)?;

        let cache = ComponentCache::new(&engine, config.cache_dir.clone());
        let ticker = Arc::new(EpochTicker::start(engine.clone(), config.epoch_tick));
        Ok(Runtime {
            engine,
            linker,
            cache,
            epoch_tick: config.epoch_tick,
            max_memory_bytes: config.max_memory_bytes,
            ticker,
        })
    }

    /// Loads a component (from the cache when possible) and prepares it for
    /// cheap instantiation. It must export `plugin` and at least one of
    /// `source` and `sink`.
    pub fn load(&self, name: &str, wasm: &[u8]) -> Result<(Connector, CacheOutcome), RuntimeError> {
        let load_err = |detail: String| RuntimeError::Load {
            name: name.to_string(),
            detail,
        };
        let (component, outcome) = self
            .cache
            .load(&self.engine, wasm)
            .map_err(|e| load_err(format!("not a valid component: {e:#}")))?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            load_err(format!(
                "imports something the host does not offer (only wasi:http/outgoing-handler, \
                 WASI with nothing granted, and mlc:connector/host): {e:#}"
            ))
        })?;
        let plugin = plugin::GuestIndices::new(&pre)
            .map_err(|e| load_err(format!("does not export mlc:connector/plugin: {e:#}")))?;
        let source = source::GuestIndices::new(&pre).ok();
        let sink = sink::GuestIndices::new(&pre).ok();
        if source.is_none() && sink.is_none() {
            return Err(load_err(
                "exports neither mlc:connector/source nor mlc:connector/sink".into(),
            ));
        }
        Ok((
            Connector {
                inner: Arc::new(ConnectorInner {
                    name: name.to_string(),
                    engine: self.engine.clone(),
                    pre,
                    plugin,
                    source,
                    sink,
                    max_memory_bytes: self.max_memory_bytes,
                    _ticker: self.ticker.clone(),
                }),
            },
            outcome,
        ))
    }

    /// Loads a component from a `.wasm` file (how a third party swaps a connector in).
    pub fn load_file(
        &self,
        name: &str,
        path: &std::path::Path,
    ) -> Result<(Connector, CacheOutcome), RuntimeError> {
        let wasm = std::fs::read(path).map_err(|e| RuntimeError::Load {
            name: name.to_string(),
            detail: format!("cannot read {}: {e}", path.display()),
        })?;
        self.load(name, &wasm)
    }
}

pub(crate) struct ConnectorInner {
    pub name: String,
    pub engine: Engine,
    pub pre: InstancePre<SandboxState>,
    pub plugin: plugin::GuestIndices,
    pub source: Option<source::GuestIndices>,
    pub sink: Option<sink::GuestIndices>,
    pub max_memory_bytes: u64,
    /// Call deadlines need the epoch to advance: every loaded connector keeps
    /// the ticker alive, even after the `Runtime` that made it is dropped.
    _ticker: Arc<EpochTicker>,
}

/// A loaded connector component, ready to be instantiated in sandboxes.
/// Cheap to clone.
#[derive(Clone)]
pub struct Connector {
    inner: Arc<ConnectorInner>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("name", &self.inner.name)
            .field("source", &self.inner.source.is_some())
            .field("sink", &self.inner.sink.is_some())
            .finish()
    }
}

impl Connector {
    /// The name it was loaded under.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// True when it exports `source`.
    pub fn is_source(&self) -> bool {
        self.inner.source.is_some()
    }

    /// True when it exports `sink`.
    pub fn is_sink(&self) -> bool {
        self.inner.sink.is_some()
    }

    /// A fresh instance in `sandbox`.
    pub async fn instantiate(&self, sandbox: &Sandbox) -> Result<ConnectorInstance, CallError> {
        ConnectorInstance::new(self.inner.clone(), sandbox).await
    }
}
