//! The host assembled from a manifest: store, vault, runtime, deployment and
//! pipeline, ready for `sync`, the daemon and the operator commands. One
//! place builds it, so the CLI, the demo and the tests run the same thing.

use crate::clock::{Clock, SystemClock};
use crate::deployment::{Deployment, DeploymentError, Services};
use crate::events::EventLog;
use crate::manifest::{Manifest, ManifestError, VaultKeySource};
use crate::pipeline::{Pipeline, PipelineError, RunReport};
use crate::runtime::{Runtime, RuntimeConfig, RuntimeError};
use crate::store::{SqliteStore, Store, StoreError};
use crate::vault::{Vault, VaultError, VaultKey};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why the host could not be assembled or run.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The manifest does not fit its connectors.
    #[error(transparent)]
    Deployment(#[from] DeploymentError),
    /// The vault key is missing or wrong.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The wasm runtime failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A flow run failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// Something the operator asked for does not exist.
    #[error("{0}")]
    NotFound(String),
}

/// Options of [`App::open`].
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Where precompiled components are cached.
    pub cache_dir: Option<PathBuf>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            cache_dir: Some(default_cache_dir()),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Precompiled components are kept in the user's cache directory.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("ml-connector").join("components")
}

/// Reads the vault key the manifest names.
pub fn vault_key(manifest: &Manifest) -> Result<VaultKey, VaultError> {
    match &manifest.vault_key {
        VaultKeySource::File(path) => VaultKey::from_file(path),
        VaultKeySource::Env(var) => VaultKey::from_env(var),
    }
}

/// The assembled host.
#[derive(Debug)]
pub struct App {
    /// The manifest.
    pub manifest: Manifest,
    /// The store.
    pub store: Arc<SqliteStore>,
    /// The vault.
    pub vault: Arc<Vault>,
    /// Runtime events (egress denials, tokens, containment): logged,
    /// counted and, where they matter, audited.
    pub events: Arc<EventLog>,
    /// The runnable tenants.
    pub deployment: Deployment,
    /// The pipeline.
    pub pipeline: Pipeline,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl App {
    /// Opens the store and vault the manifest at `path` names, loads the
    /// connectors and builds every tenant.
    pub async fn open(path: &Path, options: AppOptions) -> Result<App, AppError> {
        let manifest = Manifest::load(path)?;
        let key = vault_key(&manifest)?;
        let store = Arc::new(SqliteStore::open(&manifest.store_path)?);
        let vault = Arc::new(Vault::new(key, store.clone() as Arc<dyn Store>));
        // Egress denials and contained calls become audit rows in this store.
        let events = Arc::new(EventLog::with_audit(
            store.clone() as Arc<dyn Store>,
            options.clock.clone(),
        ));
        let runtime = Arc::new(Runtime::new(RuntimeConfig {
            cache_dir: options.cache_dir.clone(),
            ..RuntimeConfig::default()
        })?);
        let services = Services {
            runtime,
            secrets: vault.clone(),
            tokens: Some(vault.clone()),
            events: events.clone(),
            clock: options.clock.clone(),
        };
        let deployment = Deployment::build(manifest.clone(), &services).await?;
        let pipeline =
            Pipeline::new(store.clone(), options.clock.clone()).with_lease_time(manifest.lease_ttl);
        Ok(App {
            manifest,
            store,
            vault,
            events,
            deployment,
            pipeline,
            clock: options.clock,
        })
    }

    /// Runs every enabled flow once (or only `flow`), each tenant's flows in
    /// dependency order; tenants run concurrently and independently.
    pub async fn sync(
        &self,
        tenant: Option<&str>,
        flow: Option<&str>,
    ) -> Result<Vec<RunReport>, AppError> {
        let tenants: Vec<_> = self
            .deployment
            .tenants
            .values()
            .filter(|t| tenant.is_none_or(|name| t.name == name))
            .collect();
        if let Some(name) = tenant
            && tenants.is_empty()
        {
            return Err(AppError::NotFound(format!(
                "no tenant {name:?} in {}",
                self.manifest.file.display()
            )));
        }
        let mut runs = Vec::new();
        for t in &tenants {
            let flows: Vec<_> = match flow {
                None => t.flows.clone(),
                Some(name) => {
                    let selected: Vec<_> =
                        t.flows.iter().filter(|f| f.name == name).cloned().collect();
                    if selected.is_empty() {
                        let known: Vec<&str> = t.flows.iter().map(|f| f.name.as_str()).collect();
                        return Err(AppError::NotFound(format!(
                            "no enabled flow {name:?} in tenant {}; flows are {known:?}",
                            t.name
                        )));
                    }
                    selected
                }
            };
            runs.push(flows);
        }
        let results =
            futures::future::join_all(runs.iter().map(|flows| self.pipeline.run_cycle(flows)))
                .await;
        let mut reports = Vec::new();
        for result in results {
            reports.extend(result?);
        }
        Ok(reports)
    }
}
