//! Compiles the built-in connector components to wasm32-wasip2 so the host
//! binary can embed them (see `mlc-component-build`).

use mlc_component_build::{Guest, build, write_embedded};
use std::path::Path;

fn main() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ sits inside the workspace");
    let built = build(
        workspace,
        &[
            Guest {
                package: "connector-procurify",
                dir: "connector-procurify",
            },
            Guest {
                package: "connector-peoplesoft",
                dir: "connector-peoplesoft",
            },
        ],
    );
    write_embedded(&built, "components.rs");
}
