//! The one environment a connector talks through: HTTP, the host's log and
//! its clock. [`HostEnv`] is the wasm host; `testing::Scripted` stands in for
//! it in native unit tests, and emulator tests implement it over an emulator.

use crate::host::Level;
use crate::http::{Request, Response, SendError};

/// What a connector needs from outside: HTTP, a log and a clock.
pub trait Env {
    /// Sends one HTTP request and reads the whole reply.
    fn send(&self, request: &Request) -> Result<Response, SendError>;
    /// Writes a line to the host's log.
    fn log(&self, level: Level, message: &str);
    /// The host's clock, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The real environment: `wasi:http` through [`crate::http::send`] and the
/// host's log and clock imports. Only usable inside the wasm host.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostEnv;

impl Env for HostEnv {
    fn send(&self, request: &Request) -> Result<Response, SendError> {
        crate::http::send(request)
    }
    fn log(&self, level: Level, message: &str) {
        crate::host::log(level, message);
    }
    fn now_ms(&self) -> u64 {
        crate::host::now_ms()
    }
}
