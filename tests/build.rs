//! Compiles the test-only components (the misbehaving connector) to
//! wasm32-wasip2 and embeds them in the test support library.

use mlc_component_build::{Guest, build, write_embedded};
use std::path::Path;

fn main() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the workspace");
    let built = build(
        workspace,
        &[
            Guest {
                package: "misbehaving-component",
                dir: "tests/components/misbehaving",
            },
            Guest {
                package: "testkit-component",
                dir: "tests/components/testkit",
            },
        ],
    );
    write_embedded(&built, "test_components.rs");
}
