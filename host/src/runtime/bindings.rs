//! Host bindings of the `mlc:connector` WIT, generated once here; the rest of
//! the host uses the plain types re-exported by [`crate::runtime`].

#![allow(
    missing_docs,
    reason = "generated bindings carry the WIT's docs, not rustdoc on every item"
)]

wasmtime::component::bindgen!({
    world: "connector",
    path: "../wit",
    exports: { default: async },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
    },
});
