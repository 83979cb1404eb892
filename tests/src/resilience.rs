//! Support for the reliability and security suites: the real `ml-connector`
//! binary, the shipped deployment behind front servers that time every
//! request and serve 429 bursts, what PeopleSoft must hold (computed from
//! Procurify's own state), and a scanner for secrets in bytes.

use mlc_host::bundled;
use mlc_host::store::SqliteStore;
use mlc_sandbox::exchange::{Handler, Request, Response};
use mlc_sandbox::faults::FaultPlan;
use mlc_sandbox::peoplesoft::{PeopleSoftConfig, PeopleSoftSandbox};
use mlc_sandbox::procurify::{ProcurifyConfig, ProcurifySandbox};
use mlc_sandbox::server::Server;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The tenant of the shipped manifest.
pub const TENANT: &str = "sandbox";
/// The mission flow of the shipped manifest.
pub const PO_FLOW: &str = "requisitions-to-purchase-orders";
/// The PeopleSoft service operation that creates purchase orders.
pub const PO_CREATE: &str = "CI_PO_EXPRESS_C";

/// The `ml-connector` binary next to the running test binary's folder
/// (`target/<profile>/ml-connector`); built with cargo when missing.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    // target/<profile>/deps/<test> -> target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let bin = profile_dir.join(format!("ml-connector{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let target_dir = profile_dir.parent().expect("target/<profile> has a parent");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "-p", "mlc-host", "--bin", "ml-connector"])
            .env("CARGO_TARGET_DIR", target_dir)
            .status()
            .expect("cargo runs to build ml-connector");
        assert!(status.success(), "building ml-connector failed");
    }
    assert!(bin.exists(), "no ml-connector binary at {}", bin.display());
    bin
}

/// One request a [`Front`] saw: when, what, and the status it got.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// Since the front started.
    pub at: Duration,
    /// Method and path (`GET /api/v3/...`).
    pub line: String,
    /// What identifies a retry of the same request: the PO_REF of a PO
    /// create, else method, path and query.
    pub identity: String,
    /// The SOAPAction, if any.
    pub soap_action: Option<String>,
    /// The status answered (by the front or the emulator behind it).
    pub status: u16,
}

/// 429 bursts: after every `period` requests whose path starts with
/// `prefix`, the next `length` such requests get 429 with `Retry-After`.
#[derive(Debug, Clone)]
pub struct Bursts {
    /// Path prefix in scope.
    pub prefix: String,
    /// Only requests whose SOAPAction contains this (empty: any).
    pub soap_action: String,
    /// Requests between bursts.
    pub period: u64,
    /// Requests refused per burst.
    pub length: u64,
    /// Seconds sent in `Retry-After`.
    pub retry_after_secs: u32,
}

/// A handler in front of an emulator: stamps every request that reaches it
/// and answers 429 bursts itself (the emulator never sees those).
pub struct Front {
    inner: Arc<dyn Handler>,
    started: Instant,
    stamps: Mutex<Vec<Stamp>>,
    bursts: Mutex<Option<(Bursts, u64)>>,
}

impl std::fmt::Debug for Front {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Front").finish_non_exhaustive()
    }
}

impl Front {
    /// A front for `inner`.
    pub fn new(inner: Arc<dyn Handler>) -> Arc<Front> {
        Arc::new(Front {
            inner,
            started: Instant::now(),
            stamps: Mutex::new(Vec::new()),
            bursts: Mutex::new(None),
        })
    }

    /// Starts serving 429 bursts.
    pub fn set_bursts(&self, bursts: Option<Bursts>) {
        *self.bursts.lock().unwrap() = bursts.map(|b| (b, 0));
    }

    /// Time since the front started (the clock of [`Stamp::at`]).
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// How many requests reached the front.
    pub fn count(&self) -> usize {
        self.stamps.lock().unwrap().len()
    }

    /// Every request that reached the front, in order of arrival.
    pub fn stamps(&self) -> Vec<Stamp> {
        self.stamps.lock().unwrap().clone()
    }

    fn burst_now(&self, request: &Request, action: Option<&str>) -> Option<u32> {
        let mut guard = self.bursts.lock().unwrap();
        let (rule, seen) = guard.as_mut()?;
        if !request.path.starts_with(&rule.prefix)
            || !action.unwrap_or("").contains(rule.soap_action.as_str())
        {
            return None;
        }
        *seen += 1;
        let phase = *seen % (rule.period + rule.length);
        (phase >= rule.period).then_some(rule.retry_after_secs)
    }
}

/// The text of the first `<...PO_REF>` element of a SOAP body.
pub fn po_ref_in(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("PO_REF>")? + "PO_REF>".len();
    let end = text[start..].find('<')? + start;
    Some(text[start..end].trim().to_string())
}

/// What identifies a retry of `request`: the PO_REF of a PO create, else
/// method, path and query.
pub fn identity(request: &Request) -> String {
    let query: Vec<String> = request
        .query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    match (request.header("soapaction"), po_ref_in(&request.body)) {
        (Some(a), Some(r)) if a.contains(PO_CREATE) => format!("create {r}"),
        _ => format!("{} {}?{}", request.method, request.path, query.join("&")),
    }
}

/// For each stamp of `front` behind `server`, whether its answer reached the
/// client intact (the server's fault plan may have dropped, truncated or
/// garbled it after the front answered).
pub fn intact(server: &Server, stamps: &[Stamp]) -> Vec<bool> {
    use std::collections::VecDeque;
    let mut by_identity: BTreeMap<String, VecDeque<bool>> = BTreeMap::new();
    for r in server.requests() {
        let reached_front = match r.fault.as_deref() {
            None | Some("latency") => Some(true),
            Some("drop_connection" | "truncate_body" | "malformed_body" | "slow_body") => {
                Some(false)
            }
            // Status and 429 faults answer before the front.
            Some(_) => None,
        };
        if let Some(ok) = reached_front {
            by_identity
                .entry(identity(&r.request))
                .or_default()
                .push_back(ok);
        }
    }
    stamps
        .iter()
        .map(|s| {
            by_identity
                .get_mut(&s.identity)
                .and_then(VecDeque::pop_front)
                .unwrap_or(false)
        })
        .collect()
}

impl Handler for Front {
    fn handle(&self, request: &Request) -> Response {
        let action = request.header("soapaction").map(str::to_string);
        let burst = self.burst_now(request, action.as_deref());
        let response = match burst {
            Some(secs) => Response::new(
                http::StatusCode::TOO_MANY_REQUESTS,
                "text/plain",
                "rate limited by the front",
            )
            .with_header(http::header::RETRY_AFTER, &secs.to_string()),
            None => self.inner.handle(request),
        };
        self.stamps.lock().unwrap().push(Stamp {
            at: self.started.elapsed(),
            line: format!("{} {}", request.method, request.path),
            identity: identity(request),
            soap_action: action,
            status: response.status.as_u16(),
        });
        response
    }
}

/// Both sandbox systems, each behind a [`Front`] on its own server (with its
/// own fault plan), and the shipped deployment pointing at the fronts.
pub struct Stage {
    /// The Procurify emulator (state, tokens).
    pub procurify: ProcurifySandbox,
    /// The PeopleSoft emulator (POs, operations).
    pub peoplesoft: PeopleSoftSandbox,
    /// Front of Procurify.
    pub procurify_front: Arc<Front>,
    /// Front of PeopleSoft.
    pub peoplesoft_front: Arc<Front>,
    /// Server of the Procurify front (faults, recorded requests).
    pub procurify_server: Server,
    /// Server of the PeopleSoft front.
    pub peoplesoft_server: Server,
    /// Deployment folder.
    pub dir: tempfile::TempDir,
    /// The written manifest.
    pub manifest: PathBuf,
}

impl Stage {
    /// Starts the emulators and fronts (fault plans seeded with `seed`),
    /// writes the shipped deployment through `edit`, creates the key and
    /// stores the emulators' secrets.
    pub async fn start(
        procurify: ProcurifyConfig,
        peoplesoft: PeopleSoftConfig,
        seed: u64,
        edit: impl FnOnce(String) -> String,
    ) -> Stage {
        let client_secret = procurify.client_secret.clone();
        let procurify = ProcurifySandbox::start(procurify)
            .await
            .expect("Procurify sandbox");
        let ps_password = peoplesoft
            .users
            .iter()
            .find(|u| u.user_id == "MLC_INTEGRATION")
            .map(|u| u.password.clone())
            .unwrap_or_else(|| mlc_sandbox::peoplesoft::DEMO_PASSWORD.to_string());
        let peoplesoft = PeopleSoftSandbox::start(peoplesoft)
            .await
            .expect("PeopleSoft sandbox");
        let procurify_front = Front::new(procurify.api().clone());
        let peoplesoft_front = Front::new(peoplesoft.emulator().clone());
        let procurify_server =
            Server::start(procurify_front.clone(), Arc::new(FaultPlan::new(seed)))
                .await
                .expect("Procurify front");
        let peoplesoft_server = Server::start(
            peoplesoft_front.clone(),
            Arc::new(FaultPlan::new(seed.wrapping_add(1))),
        )
        .await
        .expect("PeopleSoft front");
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest = bundled::write_deployment(
            dir.path(),
            &procurify_server.base_url(),
            &peoplesoft_server.base_url(),
            edit,
        )
        .expect("deployment written");
        bundled::init_vault(
            dir.path(),
            TENANT,
            &[
                ("procurify/client_secret", &client_secret),
                ("peoplesoft/password", &ps_password),
            ],
        )
        .expect("key, store, secrets");
        Stage {
            procurify,
            peoplesoft,
            procurify_front,
            peoplesoft_front,
            procurify_server,
            peoplesoft_server,
            dir,
            manifest,
        }
    }

    /// The store of the deployment (a new connection).
    pub fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.dir.path().join("ml-connector.db")).expect("store opens")
    }

    /// The host built from the deployment (a new one = a restarted process).
    pub async fn app(&self) -> mlc_host::app::App {
        mlc_host::app::App::open(
            &self.manifest,
            mlc_host::app::AppOptions {
                cache_dir: Some(crate::cache_dir()),
                clock: Arc::new(mlc_host::clock::SystemClock),
            },
        )
        .await
        .expect("the deployment builds")
    }

    /// PO creates PeopleSoft's front received (status answered by the
    /// emulator or the front), by PO_REF.
    pub fn po_create_stamps(&self) -> BTreeMap<String, Vec<Stamp>> {
        let mut by_ref: BTreeMap<String, Vec<Stamp>> = BTreeMap::new();
        for s in self.peoplesoft_front.stamps() {
            if let Some(r) = s.identity.strip_prefix("create ") {
                by_ref.entry(r.to_string()).or_default().push(s);
            }
        }
        by_ref
    }
}

/// What PeopleSoft must hold, computed from Procurify's own state: the
/// PO_REFs (`R<num>-V<vendor>`) ready to post with their vendor names, and
/// the PO_REFs that wait for a cost center's DEPTID.
pub fn expected_po_refs(procurify: &ProcurifySandbox) -> (BTreeMap<String, String>, Vec<String>) {
    let state = procurify.state();
    let mut ready = BTreeMap::new();
    let mut waiting = Vec::new();
    for order in state.orders_with_status(1) {
        let mut vendors = std::collections::BTreeSet::new();
        let mut missing_dept = false;
        for item_id in &order.items {
            let item = state.item(*item_id).expect("item");
            let account = state.account(item.account).expect("account");
            let dept = state.department(account.department).expect("department");
            missing_dept |= dept.external_id.is_none();
            vendors.insert(item.pref_vendor);
        }
        for vendor in vendors {
            let po_ref = format!("R{}-V{vendor}", order.num);
            if missing_dept {
                waiting.push(po_ref);
            } else {
                let name = state.vendor(vendor).expect("vendor").name.clone();
                ready.insert(po_ref, name);
            }
        }
    }
    (ready, waiting)
}

/// Approved requisitions in Procurify's state.
pub fn approved_requisitions(procurify: &ProcurifySandbox) -> usize {
    procurify.state().orders_with_status(1).len()
}

/// Which of `secrets` occur in `haystack`, as plain text or in the usual
/// encodings a leak would take (base64, URL-encoded, hex).
pub fn leaked<'a>(haystack: &[u8], secrets: &[&'a str]) -> Vec<&'a str> {
    use base64::Engine;
    let mut found = Vec::new();
    for secret in secrets {
        let forms = [
            secret.as_bytes().to_vec(),
            base64::engine::general_purpose::STANDARD
                .encode(secret)
                .trim_end_matches('=')
                .as_bytes()
                .to_vec(),
            secret
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into_bytes(),
        ];
        if forms.iter().any(|f| contains(haystack, f)) {
            found.push(*secret);
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Collects everything a tracing subscriber writes (for secret scans).
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Everything captured so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
