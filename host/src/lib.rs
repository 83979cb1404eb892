//! The ml-connector host: runs connector components (WebAssembly) per tenant in
//! sandboxes and moves records between them.
//!
//! - [`runtime`]: the wasmtime engine, component cache and per-tenant sandboxes;
//! - [`egress`]: which origins a sandbox may reach, and the outgoing-request hook;
//! - [`credentials`]: authentication the host attaches on a connector's behalf;
//! - [`events`]: typed events for everything with a side effect worth telling;
//! - [`components`]: the built-in connector components embedded in the binary.
#![deny(missing_docs)]

pub mod clock;
pub mod components;
pub mod credentials;
pub mod egress;
pub mod events;
pub mod runtime;

/// At most `max` characters of `text`, for quoting remote answers in errors.
pub fn excerpt(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}
