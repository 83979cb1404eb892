//! Encodes the component type of the `source-connector` and
//! `sink-connector` worlds of `wit/connector.wit`, the way wit-bindgen encodes
//! a world, for `export_source!` and `export_sink!` to embed. (wit-bindgen
//! can generate each world's export glue only once per crate, so those two
//! worlds reuse the `connector` world's glue and add only their type.)

use std::path::{Path, PathBuf};

fn main() {
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    println!("cargo:rerun-if-changed={}", wit.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_dir(&wit)
        .unwrap_or_else(|e| panic!("{}: cannot parse the WIT: {e:#}", wit.display()));
    for world in ["source-connector", "sink-connector"] {
        let id = resolve
            .select_world(&[package], Some(world))
            .unwrap_or_else(|e| panic!("world {world} of {}: {e:#}", wit.display()));
        let bytes = wit_component::metadata::encode(
            &resolve,
            id,
            wit_component::StringEncoding::UTF8,
            None,
        )
        .unwrap_or_else(|e| panic!("world {world}: cannot encode its component type: {e:#}"));
        std::fs::write(out.join(format!("{world}.component-type")), bytes)
            .expect("OUT_DIR is writable");
    }
}
