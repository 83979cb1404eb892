//! Guest SDK for ml-connector components: the `mlc:connector` bindings
//! (generated once, here), a small blocking HTTP client over
//! `wasi:http/outgoing-handler`, and helpers that turn HTTP outcomes into the
//! contract's `failure` cases.
//!
//! A connector crate implements the generated `Guest` traits and calls
//! [`export!`] once. It also builds for the native target, so its pure logic is
//! unit-tested with plain `cargo test`; only [`http::send`] needs the wasm host.

pub mod http;

/// Generated bindings of the `connector` world (plugin + source + sink).
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "connector",
        path: "../wit",
        with: {
            "wasi:http/types@0.2.12": wasip2::http::types,
            "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:io/error@0.2.12": wasip2::io::error,
            "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        },
        pub_export_macro: true,
        export_macro_name: "export_connector",
        default_bindings_module: "mlc_guest::bindings",
    });
}

pub use bindings::exports::mlc::connector::{plugin, sink, source};
pub use bindings::mlc::connector::types::{
    AuthScheme, BadRecord, Capabilities, Connection, ConnectorSpec, Doc, Failure, Page, StreamSpec,
    Throttle, Written,
};

/// Exports a type implementing `plugin::Guest`, `source::Guest` and
/// `sink::Guest` as this component's connector.
#[macro_export]
macro_rules! export {
    ($ty:ident) => {
        $crate::bindings::export_connector!($ty);
    };
}

/// Host services: log lines and the host's clock.
pub mod host {
    use crate::bindings::mlc::connector::host as imports;
    pub use imports::Level;

    /// Writes a line to the host's log (tagged there with tenant and connector).
    pub fn log(level: Level, message: &str) {
        imports::log(level, message);
    }

    /// The host's current time in milliseconds since the Unix epoch.
    pub fn now_ms() -> u64 {
        imports::now_ms()
    }
}

/// Short constructors for the failure cases, so connectors read naturally.
pub mod fail {
    use crate::{Failure, Throttle};

    /// `config`: a setting is wrong; never retried.
    pub fn config(msg: impl Into<String>) -> Failure {
        Failure::Config(msg.into())
    }
    /// `unauthorized`: credentials refused.
    pub fn unauthorized(msg: impl Into<String>) -> Failure {
        Failure::Unauthorized(msg.into())
    }
    /// `not-enabled`: remote side not set up; the message is the admin's to-do.
    pub fn not_enabled(msg: impl Into<String>) -> Failure {
        Failure::NotEnabled(msg.into())
    }
    /// `rate-limited`, with the server's Retry-After when it gave one.
    pub fn rate_limited(retry_after_secs: Option<u32>, msg: impl Into<String>) -> Failure {
        Failure::RateLimited(Throttle {
            retry_after_secs,
            message: msg.into(),
        })
    }
    /// `transient`: retry with backoff.
    pub fn transient(msg: impl Into<String>) -> Failure {
        Failure::Transient(msg.into())
    }
    /// `rejected`: this record's content was refused.
    pub fn rejected(msg: impl Into<String>) -> Failure {
        Failure::Rejected(msg.into())
    }
    /// `protocol`: an answer this connector cannot understand.
    pub fn protocol(msg: impl Into<String>) -> Failure {
        Failure::Protocol(msg.into())
    }
}

/// At most `max` characters of `text`, for quoting remote bodies in errors.
pub fn excerpt(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_cuts_long_text_and_marks_it() {
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt("abc", 3), "abc");
    }
}
