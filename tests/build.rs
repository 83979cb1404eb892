//! Compiles the test-only components (misbehaving, testkit, source-only,
//! sink-only) to wasm32-wasip2 and embeds them in the test support library.

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
            Guest {
                package: "source-only-component",
                dir: "tests/components/source-only",
            },
            Guest {
                package: "sink-only-component",
                dir: "tests/components/sink-only",
            },
        ],
    );
    write_embedded(&built, "test_components.rs");
}
