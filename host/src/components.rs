//! The built-in connector components, compiled by the build script from this
//! workspace's connector crates and embedded in the binary, so a deployment
//! needs no separate `.wasm` files (a manifest may still name one).

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/components.rs"));
}

pub use embedded::{
    CONNECTOR_PEOPLESOFT, CONNECTOR_PEOPLESOFT_PATH, CONNECTOR_PROCURIFY, CONNECTOR_PROCURIFY_PATH,
};

/// The built-in connectors by the name a manifest uses for them.
pub const BUILTIN: &[(&str, &[u8])] = &[
    ("procurify", CONNECTOR_PROCURIFY),
    ("peoplesoft", CONNECTOR_PEOPLESOFT),
];

/// The bytes of built-in connector `name`, if there is one.
pub fn builtin(name: &str) -> Option<&'static [u8]> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, wasm)| *wasm)
}
