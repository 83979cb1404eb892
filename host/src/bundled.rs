//! The shipped configuration, embedded in the binary: `manifest.toml` (the
//! sandbox tenant) and the default mapping programs of `mappings/`. The demo
//! and the end-to-end tests write them out with the sandbox's addresses; the
//! demo credentials exist only with the `sandbox` feature.

use crate::credentials::Secret;
use crate::store::{SqliteStore, Store};
use crate::vault::{Vault, VaultKey};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The shipped manifest.
pub const MANIFEST: &str = include_str!("../../manifest.toml");
/// The Procurify address the shipped manifest uses (`ml-connector sandbox`).
pub const PROCURIFY_URL: &str = "http://127.0.0.1:8701";
/// The PeopleSoft address the shipped manifest uses (`ml-connector sandbox`).
pub const PEOPLESOFT_URL: &str = "http://127.0.0.1:8702";

/// The shipped mapping programs, by file name.
pub const MAPPINGS: &[(&str, &str)] = &[
    (
        "vendors_to_procurify.jq",
        include_str!("../../mappings/vendors_to_procurify.jq"),
    ),
    (
        "vendors_to_peoplesoft.jq",
        include_str!("../../mappings/vendors_to_peoplesoft.jq"),
    ),
    (
        "accounts_to_procurify.jq",
        include_str!("../../mappings/accounts_to_procurify.jq"),
    ),
    (
        "accounts_to_peoplesoft.jq",
        include_str!("../../mappings/accounts_to_peoplesoft.jq"),
    ),
    (
        "departments_to_procurify.jq",
        include_str!("../../mappings/departments_to_procurify.jq"),
    ),
    (
        "departments_to_peoplesoft.jq",
        include_str!("../../mappings/departments_to_peoplesoft.jq"),
    ),
    (
        "requisitions_to_purchase_orders.jq",
        include_str!("../../mappings/requisitions_to_purchase_orders.jq"),
    ),
    (
        "purchase_orders_to_peoplesoft.jq",
        include_str!("../../mappings/purchase_orders_to_peoplesoft.jq"),
    ),
    (
        "procurify_purchase_orders_index.jq",
        include_str!("../../mappings/procurify_purchase_orders_index.jq"),
    ),
    (
        "vouchers_close_purchase_orders.jq",
        include_str!("../../mappings/vouchers_close_purchase_orders.jq"),
    ),
];

/// The secrets the shipped manifest names, with the sandbox systems' demo values
/// (only in builds with the `sandbox` feature: a production binary holds none).
#[cfg(feature = "sandbox")]
pub const DEMO_SECRETS: &[(&str, &str)] = &[
    (
        "procurify/client_secret",
        mlc_sandbox::procurify::DEMO_CLIENT_SECRET,
    ),
    (
        "peoplesoft/password",
        mlc_sandbox::peoplesoft::DEMO_PASSWORD,
    ),
];

/// Creates the vault key file and the store the shipped manifest names
/// (`ml-connector.key`, `ml-connector.db` in `dir`) and stores `secrets` of
/// `tenant` in the vault: what `ml-connector init` does for a fresh folder.
pub fn init_vault(
    dir: &Path,
    tenant: &str,
    secrets: &[(&str, &str)],
) -> Result<(), crate::app::AppError> {
    let key = VaultKey::create_file(&dir.join("ml-connector.key"))?;
    let store = Arc::new(SqliteStore::open(&dir.join("ml-connector.db"))?);
    let vault = Vault::new(key, store as Arc<dyn Store>);
    for (name, value) in secrets {
        vault.set(tenant, name, &Secret::new(*value))?;
    }
    Ok(())
}

/// Writes the shipped manifest (addresses replaced by the given sandbox URLs,
/// then passed through `edit`) and the mappings into `dir`; returns the
/// manifest's path.
pub fn write_deployment(
    dir: &Path,
    procurify_url: &str,
    peoplesoft_url: &str,
    edit: impl FnOnce(String) -> String,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir.join("mappings"))?;
    for (name, code) in MAPPINGS {
        std::fs::write(dir.join("mappings").join(name), code)?;
    }
    let manifest = MANIFEST
        .replace(PROCURIFY_URL, procurify_url)
        .replace(PEOPLESOFT_URL, peoplesoft_url);
    let path = dir.join("manifest.toml");
    std::fs::write(&path, edit(manifest))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapping_the_manifest_names_is_bundled_and_compiles() {
        for line in MANIFEST.lines().filter(|l| l.starts_with("mapping = ")) {
            let file = line
                .trim_start_matches("mapping = \"mappings/")
                .trim_end_matches('"');
            let (_, code) = MAPPINGS
                .iter()
                .find(|(name, _)| *name == file)
                .unwrap_or_else(|| panic!("{file} is not bundled"));
            crate::mapping::Mapping::compile(file, code).unwrap();
        }
    }

    #[test]
    fn the_shipped_manifest_is_valid() {
        let m = crate::manifest::Manifest::parse(Path::new("manifest.toml"), MANIFEST).unwrap();
        assert!(m.tenants["sandbox"].flows.len() >= 7);
    }
}
