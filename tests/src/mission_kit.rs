//! The shipped deployment (manifest.toml + mappings) against both sandbox
//! systems, as the demo runs it: a working folder with the key, the store and
//! the demo secrets, and an [`App`] built from it.

use mlc_host::app::{App, AppOptions};
use mlc_host::bundled;
use mlc_host::clock::SystemClock;
use mlc_host::pipeline::{RunOutcome, RunReport};
use mlc_sandbox::peoplesoft::{PeopleSoftConfig, PeopleSoftSandbox};
use mlc_sandbox::procurify::{ProcurifyConfig, ProcurifySandbox};
use std::path::PathBuf;
use std::sync::Arc;

/// The tenant of the shipped manifest.
pub const TENANT: &str = "sandbox";

/// Both sandboxes and a deployment folder.
pub struct MissionKit {
    /// The Procurify sandbox.
    pub procurify: ProcurifySandbox,
    /// The PeopleSoft sandbox.
    pub peoplesoft: PeopleSoftSandbox,
    /// The deployment folder.
    pub dir: tempfile::TempDir,
    /// The written manifest.
    pub manifest: PathBuf,
}

impl MissionKit {
    /// Sandboxes with `requisitions` requisitions; the shipped manifest passed
    /// through `edit` (e.g. to enable a flow).
    pub async fn start(requisitions: usize, edit: impl FnOnce(String) -> String) -> MissionKit {
        MissionKit::start_with(
            ProcurifyConfig {
                requisitions,
                ..ProcurifyConfig::default()
            },
            PeopleSoftConfig::default(),
            edit,
        )
        .await
    }

    /// Sandboxes with the given configurations.
    pub async fn start_with(
        procurify: ProcurifyConfig,
        peoplesoft: PeopleSoftConfig,
        edit: impl FnOnce(String) -> String,
    ) -> MissionKit {
        let procurify = ProcurifySandbox::start(procurify)
            .await
            .expect("Procurify sandbox");
        let peoplesoft = PeopleSoftSandbox::start(peoplesoft)
            .await
            .expect("PeopleSoft sandbox");
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest = bundled::write_deployment(
            dir.path(),
            &procurify.base_url(),
            &peoplesoft.base_url(),
            edit,
        )
        .expect("deployment written");
        bundled::init_vault(dir.path(), TENANT, bundled::DEMO_SECRETS)
            .expect("key, store, secrets");
        MissionKit {
            procurify,
            peoplesoft,
            dir,
            manifest,
        }
    }

    /// The host built from the deployment (a new one = a restarted process).
    pub async fn app(&self) -> App {
        App::open(
            &self.manifest,
            AppOptions {
                cache_dir: Some(crate::cache_dir()),
                clock: Arc::new(SystemClock),
            },
        )
        .await
        .expect("the deployment builds")
    }

    /// Runs every enabled flow once.
    pub async fn sync(&self) -> Vec<RunReport> {
        self.app().await.sync(None, None).await.expect("sync runs")
    }
}

/// The report of `flow` in `reports`.
pub fn report<'a>(reports: &'a [RunReport], flow: &str) -> &'a RunReport {
    reports
        .iter()
        .find(|r| r.flow == flow)
        .unwrap_or_else(|| panic!("no report of flow {flow}: {reports:?}"))
}

/// Panics unless every flow completed.
pub fn assert_all_completed(reports: &[RunReport]) {
    for r in reports {
        assert_eq!(r.outcome, RunOutcome::Completed, "{}: {:?}", r.flow, r);
    }
}
