//! The ml-connector host: runs connector components (WebAssembly) per tenant in
//! sandboxes and moves records between them.
//!
//! - [`runtime`]: the wasmtime engine, component cache and per-tenant sandboxes;
//! - [`egress`]: which origins a sandbox may reach, and the outgoing-request hook;
//! - [`credentials`]: authentication the host attaches on a connector's behalf;
//! - [`events`]: typed events for everything with a side effect worth telling;
//! - [`components`]: the built-in connector components embedded in the binary;
//! - [`pipeline`]: flows (read, map, dedup, write with retry, record, checkpoint);
//! - [`mapping`]: jq mapping programs with crosswalks and settings bound;
//! - [`store`]: durable state (SQLite), [`vault`]: secrets encrypted at rest;
//! - [`coordination`]: one writer per flow across processes (leases, fencing);
//! - [`audit`]: verification and export of the hash-chained audit log;
//! - [`manifest`]: the deployment file, [`deployment`]: a manifest made runnable;
//! - [`app`]: the host assembled from a manifest, [`scheduler`]: the daemon's loops;
//! - [`daemon`]: the daemon's HTTP surface (status page, `/metrics`, `/healthz`);
//! - [`bundled`]: the shipped manifest and mappings, embedded.
#![deny(missing_docs)]

pub mod app;
pub mod audit;
pub mod bundled;
pub mod clock;
pub mod components;
pub mod coordination;
pub mod credentials;
pub mod daemon;
pub mod deployment;
pub mod egress;
pub mod events;
pub mod manifest;
pub mod mapping;
pub mod pipeline;
pub mod runtime;
pub mod scheduler;
pub mod store;
pub mod vault;

/// At most `max` characters of `text`, for quoting remote answers in errors.
pub fn excerpt(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}
