//! Integration tests of the Procurify emulator over HTTP: conformance to the
//! official OpenAPI document, paging, filters, auth, writes and faults.

mod procurify {
    pub mod api;
    pub mod conformance;
    pub mod support;
}
