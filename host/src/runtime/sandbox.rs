//! What one sandbox is made of: the store state a component runs against
//! (WASI with nothing granted, `wasi:http` behind the egress hook, the host
//! services, the memory guard) and the settings that create it.

use super::bindings::mlc::connector::{host, types};
use crate::clock::Clock;
use crate::egress::{ConnectionEgress, EgressHooks};
use crate::events::{Event, EventSink, LogLevel};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Resource limits of a sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Largest linear memory a component instance may have, in bytes.
    pub memory_bytes: u64,
    /// Longest one call (`read`, `write`, ...) may take, I/O included.
    pub call_deadline: Duration,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory_bytes: 128 * 1024 * 1024,
            call_deadline: Duration::from_secs(120),
        }
    }
}

/// Everything needed to run one connection's component for one tenant.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// Memory and time limits.
    pub limits: SandboxLimits,
    /// The connection's egress policy (tenant, origins, credentials).
    pub egress: Arc<ConnectionEgress>,
    /// Where events go.
    pub events: Arc<dyn EventSink>,
    /// The clock behind `host.now-ms`.
    pub clock: Arc<dyn Clock>,
}

/// Longest log line a component may write; longer lines are cut.
const MAX_LOG_LINE: usize = 4096;

/// Refuses memory growth past the sandbox's limit and remembers that it did,
/// so the resulting trap is reported as a memory-limit containment.
#[derive(Debug)]
pub(crate) struct MemoryGuard {
    pub limit_bytes: u64,
    pub tripped: bool,
}

impl ResourceLimiter for MemoryGuard {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.limit_bytes {
            self.tripped = true;
            return Err(wasmtime::Error::msg(format!(
                "memory limit of {} bytes reached",
                self.limit_bytes
            )));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The `T` of each sandbox's `Store<T>`.
pub(crate) struct SandboxState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub http: WasiHttpCtx,
    pub hooks: EgressHooks,
    pub memory: MemoryGuard,
    pub tenant: String,
    pub connector: String,
    pub events: Arc<dyn EventSink>,
    pub clock: Arc<dyn Clock>,
    /// When the current call must end (set before each call).
    pub deadline_at: std::time::Instant,
}

impl SandboxState {
    /// State for `connector` in `sandbox`: WASI grants nothing (no preopened
    /// directories, no environment, no arguments, no stdin; stdout/stderr go
    /// nowhere), network only through the egress hook.
    pub fn new(connector: &str, sandbox: &Sandbox) -> Self {
        let wasi = WasiCtx::builder().build();
        SandboxState {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks: EgressHooks::new(sandbox.egress.clone()),
            memory: MemoryGuard {
                limit_bytes: sandbox.limits.memory_bytes,
                tripped: false,
            },
            tenant: sandbox.egress.tenant.clone(),
            connector: connector.to_string(),
            events: sandbox.events.clone(),
            clock: sandbox.clock.clone(),
            deadline_at: std::time::Instant::now() + sandbox.limits.call_deadline,
        }
    }
}

impl WasiView for SandboxState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for SandboxState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl types::Host for SandboxState {}

impl host::Host for SandboxState {
    fn log(&mut self, level: host::Level, message: String) {
        let level = match level {
            host::Level::Debug => LogLevel::Debug,
            host::Level::Info => LogLevel::Info,
            host::Level::Warn => LogLevel::Warn,
            host::Level::Error => LogLevel::Error,
        };
        self.events.emit(Event::ComponentLogged {
            tenant: self.tenant.clone(),
            connector: self.connector.clone(),
            level,
            message: crate::excerpt(&message, MAX_LOG_LINE),
        });
    }

    fn now_ms(&mut self) -> u64 {
        self.clock.now_ms()
    }
}
