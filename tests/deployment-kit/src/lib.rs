//! The deployment test kit every suite uses: both sandbox systems (on their
//! own or behind timing [`Front`]s), a deployment folder with the shipped
//! manifest and mappings, a vault key, a store and the secrets, the manifest
//! edited as TOML, and the deployment run as the real binary or as the
//! in-process [`App`].
//!
//! ```text
//! let kit = Kit::builder()
//!     .requisitions(200)
//!     .manifest(|m| m.store()["lease_secs"] = toml_edit::value(3))
//!     .start()
//!     .await;
//! let reports = kit.sync().await;
//! ```

pub mod binary;
pub mod expected;
pub mod front;
pub mod manifest;

pub use binary::{Output, assert_code, binary, component_cache, http_get, xdg_cache};
pub use expected::{
    ExpectedLine, ExpectedPo, approved_requisitions, expected_po_refs, expected_pos,
};
pub use front::{Bursts, Front, PO_CREATE, Stamp, identity, intact, po_ref_in};
pub use manifest::{Manifest, TENANT};
pub use toml_edit;

use mlc_host::app::{App, AppOptions};
use mlc_host::bundled;
use mlc_host::clock::SystemClock;
use mlc_host::pipeline::{RunOutcome, RunReport};
use mlc_host::store::SqliteStore;
use mlc_sandbox::faults::FaultPlan;
use mlc_sandbox::peoplesoft::{PeopleSoftConfig, PeopleSoftSandbox};
use mlc_sandbox::procurify::{ProcurifyConfig, ProcurifySandbox};
use mlc_sandbox::server::Server;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

/// The mission flow of the shipped manifest.
pub const PO_FLOW: &str = "requisitions-to-purchase-orders";

/// A deployment folder: the shipped manifest (pointed at the given systems)
/// and mappings, and once initialised the vault key, the store and secrets.
pub struct Deployment {
    /// The folder.
    pub dir: tempfile::TempDir,
    /// The manifest in it.
    pub manifest: PathBuf,
}

impl Deployment {
    /// The manifest and mappings only, for systems at these base URLs: no
    /// key, no store (what `ml-connector init` starts from).
    pub fn uninitialised(procurify: &str, peoplesoft: &str) -> Deployment {
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest = bundled::write_deployment(dir.path(), procurify, peoplesoft, |m| m)
            .expect("deployment written");
        Deployment { dir, manifest }
    }

    /// A deployment for systems at these base URLs (nothing started), with
    /// key, store and the sandbox systems' demo secrets.
    pub fn at(procurify: &str, peoplesoft: &str) -> Deployment {
        let deployment = Deployment::uninitialised(procurify, peoplesoft);
        deployment.init_vault(bundled::DEMO_SECRETS);
        deployment
    }

    /// Creates the key and the store and stores `secrets` of the shipped
    /// tenant.
    pub fn init_vault(&self, secrets: &[(&str, &str)]) {
        bundled::init_vault(self.dir.path(), TENANT, secrets).expect("key, store, secrets");
    }

    /// Edits the written manifest as TOML.
    pub fn edit(&self, edit: impl FnOnce(&mut Manifest)) {
        let text = std::fs::read_to_string(&self.manifest).expect("the manifest reads");
        let mut manifest = Manifest::parse(&text);
        edit(&mut manifest);
        std::fs::write(&self.manifest, manifest.text()).expect("the manifest writes");
    }

    /// The store file.
    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("ml-connector.db")
    }

    /// The key file.
    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("ml-connector.key")
    }

    /// The store of the deployment (a new connection).
    pub fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.store_path()).expect("store opens")
    }

    /// The host built from the deployment (a new one = a restarted process),
    /// sharing the binary's component cache.
    pub async fn app(&self) -> App {
        App::open(&self.manifest, app_options())
            .await
            .expect("the deployment builds")
    }

    /// Runs every enabled flow once in a new host.
    pub async fn sync(&self) -> Vec<RunReport> {
        self.app().await.sync(None, None).await.expect("sync runs")
    }

    /// `ml-connector <args> --manifest <this manifest>` (see [`binary::command`]).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = binary::command(args);
        command.arg("--manifest").arg(&self.manifest);
        command
    }

    /// Starts `ml-connector <args> --manifest <this manifest>` in the
    /// background, stdout discarded and stderr appended to `log` (several
    /// processes may share one log).
    pub fn spawn_logged(&self, args: &[&str], log: &std::path::Path) -> std::process::Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("the process log opens");
        self.command(args)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("ml-connector starts")
    }

    /// Runs the binary with `args` plus `--manifest <this manifest>`.
    pub async fn run(&self, args: &[&str]) -> Output {
        binary::run(self.args(args), None).await
    }

    /// Same, with `stdin` piped in.
    pub async fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        binary::run(self.args(args), Some(stdin.to_string())).await
    }

    fn args(&self, args: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.push("--manifest".into());
        all.push(self.manifest.display().to_string());
        all
    }
}

/// The options of every in-process host of the kit: the binary's component
/// cache and the system clock.
pub fn app_options() -> AppOptions {
    AppOptions {
        cache_dir: Some(component_cache()),
        clock: Arc::new(SystemClock),
    }
}

/// Each system behind a [`Front`] on a server of its own (with its own
/// seeded fault plan): the deployment talks to the fronts.
pub struct Fronts {
    /// Front of Procurify.
    pub procurify: Arc<Front>,
    /// Front of PeopleSoft.
    pub peoplesoft: Arc<Front>,
    /// Server of the Procurify front (faults, recorded requests).
    pub procurify_server: Server,
    /// Server of the PeopleSoft front.
    pub peoplesoft_server: Server,
}

/// Both sandbox systems and a deployment pointed at them (or at their
/// fronts). Everything a [`Deployment`] does, a kit does.
pub struct Kit {
    /// The Procurify sandbox.
    pub procurify: ProcurifySandbox,
    /// The PeopleSoft sandbox.
    pub peoplesoft: PeopleSoftSandbox,
    /// The fronts, when the kit was started with them.
    pub fronts: Option<Fronts>,
    /// The deployment folder.
    pub deployment: Deployment,
}

impl std::ops::Deref for Kit {
    type Target = Deployment;

    fn deref(&self) -> &Deployment {
        &self.deployment
    }
}

impl Kit {
    /// A kit to configure; [`KitBuilder::start`] starts it.
    pub fn builder() -> KitBuilder {
        KitBuilder {
            procurify: ProcurifyConfig::default(),
            peoplesoft: PeopleSoftConfig::default(),
            fronts_seed: None,
            edits: Vec::new(),
        }
    }

    /// Both sandboxes (seeded, `requisitions` requisitions) and the shipped
    /// deployment initialised for them.
    pub async fn start(requisitions: usize) -> Kit {
        Kit::builder().requisitions(requisitions).start().await
    }

    /// The fronts; panics when the kit was started without them.
    pub fn fronts(&self) -> &Fronts {
        self.fronts
            .as_ref()
            .expect("the kit was started without fronts (KitBuilder::fronts)")
    }

    /// PO creates PeopleSoft's front received (status answered by the
    /// emulator or the front), by PO_REF.
    pub fn po_create_stamps(&self) -> std::collections::BTreeMap<String, Vec<Stamp>> {
        let mut by_ref: std::collections::BTreeMap<String, Vec<Stamp>> = Default::default();
        for s in self.fronts().peoplesoft.stamps() {
            if let Some(r) = s.identity.strip_prefix("create ") {
                by_ref.entry(r.to_string()).or_default().push(s);
            }
        }
        by_ref
    }
}

/// An edit of the manifest, applied before the host reads it.
type ManifestEdit = Box<dyn FnOnce(&mut Manifest)>;

/// How a [`Kit`] starts: the systems' configurations, fronts or not, and
/// edits of the shipped manifest.
pub struct KitBuilder {
    procurify: ProcurifyConfig,
    peoplesoft: PeopleSoftConfig,
    fronts_seed: Option<u64>,
    edits: Vec<ManifestEdit>,
}

impl KitBuilder {
    /// Procurify seeded with `n` requisitions.
    pub fn requisitions(mut self, n: usize) -> Self {
        self.procurify.requisitions = n;
        self
    }

    /// Procurify's configuration.
    pub fn procurify(mut self, config: ProcurifyConfig) -> Self {
        self.procurify = config;
        self
    }

    /// PeopleSoft's configuration.
    pub fn peoplesoft(mut self, config: PeopleSoftConfig) -> Self {
        self.peoplesoft = config;
        self
    }

    /// Puts each system behind a [`Front`], with fault plans seeded from
    /// `seed` (Procurify's) and `seed + 1` (PeopleSoft's).
    pub fn fronts(mut self, seed: u64) -> Self {
        self.fronts_seed = Some(seed);
        self
    }

    /// Edits the shipped manifest before the host reads it (edits apply in
    /// the order given).
    pub fn manifest(mut self, edit: impl FnOnce(&mut Manifest) + 'static) -> Self {
        self.edits.push(Box::new(edit));
        self
    }

    /// Starts the systems, writes the deployment pointed at them, applies
    /// the manifest edits, creates the key and the store and stores the
    /// secrets the systems accept (Procurify's client secret, the password
    /// of PeopleSoft's integration user `MLC_INTEGRATION`).
    pub async fn start(self) -> Kit {
        let client_secret = self.procurify.client_secret.clone();
        let ps_password = self
            .peoplesoft
            .users
            .iter()
            .find(|u| u.user_id == "MLC_INTEGRATION")
            .map(|u| u.password.clone())
            .unwrap_or_else(|| mlc_sandbox::peoplesoft::DEMO_PASSWORD.to_string());
        let procurify = ProcurifySandbox::start(self.procurify)
            .await
            .expect("Procurify sandbox");
        let peoplesoft = PeopleSoftSandbox::start(self.peoplesoft)
            .await
            .expect("PeopleSoft sandbox");
        let fronts = match self.fronts_seed {
            Some(seed) => Some(start_fronts(&procurify, &peoplesoft, seed).await),
            None => None,
        };
        let (procurify_url, peoplesoft_url) = match &fronts {
            Some(f) => (
                f.procurify_server.base_url(),
                f.peoplesoft_server.base_url(),
            ),
            None => (procurify.base_url(), peoplesoft.base_url()),
        };
        let deployment = Deployment::uninitialised(&procurify_url, &peoplesoft_url);
        deployment.edit(|m| {
            for edit in self.edits {
                edit(m);
            }
        });
        deployment.init_vault(&[
            ("procurify/client_secret", &client_secret),
            ("peoplesoft/password", &ps_password),
        ]);
        Kit {
            procurify,
            peoplesoft,
            fronts,
            deployment,
        }
    }
}

async fn start_fronts(
    procurify: &ProcurifySandbox,
    peoplesoft: &PeopleSoftSandbox,
    seed: u64,
) -> Fronts {
    let procurify_front = Front::new(procurify.api().clone());
    let peoplesoft_front = Front::new(peoplesoft.emulator().clone());
    let procurify_server = Server::start(procurify_front.clone(), Arc::new(FaultPlan::new(seed)))
        .await
        .expect("Procurify front");
    let peoplesoft_server = Server::start(
        peoplesoft_front.clone(),
        Arc::new(FaultPlan::new(seed.wrapping_add(1))),
    )
    .await
    .expect("PeopleSoft front");
    Fronts {
        procurify: procurify_front,
        peoplesoft: peoplesoft_front,
        procurify_server,
        peoplesoft_server,
    }
}

/// The report of `flow` in `reports`.
pub fn report<'a>(reports: &'a [RunReport], flow: &str) -> &'a RunReport {
    reports
        .iter()
        .find(|r| r.flow == flow)
        .unwrap_or_else(|| panic!("no report of flow {flow}: {reports:?}"))
}

/// The messages of the runs in `reports` that halted.
pub fn halted(reports: &[RunReport]) -> Vec<&String> {
    reports
        .iter()
        .filter_map(|r| match &r.outcome {
            RunOutcome::Halted(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// Panics unless every flow completed.
pub fn assert_all_completed(reports: &[RunReport]) {
    for r in reports {
        assert_eq!(r.outcome, RunOutcome::Completed, "{}: {:?}", r.flow, r);
    }
}
