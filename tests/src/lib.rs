//! Test support for the end-to-end suite: the test-only components, one shared
//! runtime per test binary (components compiled once, cached on disk), a
//! builder for sandboxes, small HTTP peers (an echo server, an OAuth2 token
//! issuer) served by the sandbox crate's server, and a secret scanner.
//! Deployments (both systems, a manifest, the binary) come from the
//! deployment kit, `mlc_deployment_kit`.

pub mod leaks;
pub mod peers;
pub mod pipeline_kit;

use mlc_host::clock::{Clock, SystemClock};
use mlc_host::credentials::{Authenticator, Credentials, MemorySecrets};
use mlc_host::egress::{ConnectionEgress, EgressLimits, Origin};
use mlc_host::events::EventLog;
use mlc_host::runtime::{Connection, Connector, Runtime, RuntimeConfig, Sandbox, SandboxLimits};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Test-only components, built by this crate's build script.
pub mod components {
    include!(concat!(env!("OUT_DIR"), "/test_components.rs"));
}

/// Where tests keep precompiled components (under the target directory, the
/// cache the deployment kit's binaries and hosts use), so later test runs
/// skip Cranelift.
pub fn cache_dir() -> std::path::PathBuf {
    mlc_deployment_kit::component_cache()
}

/// The runtime shared by all tests of a binary.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::new(RuntimeConfig {
            cache_dir: Some(cache_dir()),
            max_instances: 64,
            ..RuntimeConfig::default()
        })
        .expect("the test runtime starts")
    })
}

/// The misbehaving test connector, loaded once.
pub fn misbehaving() -> Connector {
    static CONNECTOR: OnceLock<Connector> = OnceLock::new();
    CONNECTOR
        .get_or_init(|| {
            runtime()
                .load("misbehaving", components::MISBEHAVING_COMPONENT)
                .expect("the misbehaving component loads")
                .0
        })
        .clone()
}

/// Builds a [`Sandbox`] for one connection of one tenant.
#[derive(Debug)]
pub struct SandboxBuilder {
    tenant: String,
    connection: String,
    origin: Origin,
    extra_origins: Vec<Origin>,
    credentials: Credentials,
    limits: SandboxLimits,
    egress_limits: EgressLimits,
    clock: Arc<dyn Clock>,
    /// Secrets the sandbox's credentials resolve from.
    pub secrets: Arc<MemorySecrets>,
    /// Events of the sandbox.
    pub events: Arc<EventLog>,
}

impl SandboxBuilder {
    /// A sandbox of `tenant` whose connection lives at `base_url`.
    pub fn new(tenant: &str, base_url: &str) -> Self {
        SandboxBuilder {
            tenant: tenant.into(),
            connection: "main".into(),
            origin: Origin::parse(base_url).expect("test base URL is valid"),
            extra_origins: Vec::new(),
            credentials: Credentials::None,
            limits: SandboxLimits {
                memory_bytes: 64 * 1024 * 1024,
                call_deadline: Duration::from_secs(20),
            },
            egress_limits: EgressLimits::default(),
            clock: Arc::new(SystemClock),
            secrets: Arc::new(MemorySecrets::new()),
            events: Arc::new(EventLog::new()),
        }
    }

    /// Names the connection.
    pub fn connection(mut self, name: &str) -> Self {
        self.connection = name.into();
        self
    }

    /// Also allows `url`'s origin (without credentials).
    pub fn allow(mut self, url: &str) -> Self {
        self.extra_origins
            .push(Origin::parse(url).expect("test URL is valid"));
        self
    }

    /// Uses these credentials for the connection's origin.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Sets a secret of the tenant.
    pub fn secret(self, name: &str, value: &str) -> Self {
        self.secrets.set(&self.tenant, name, value);
        self
    }

    /// Sets the memory limit and call deadline.
    pub fn limits(mut self, memory_bytes: u64, call_deadline: Duration) -> Self {
        self.limits = SandboxLimits {
            memory_bytes,
            call_deadline,
        };
        self
    }

    /// Sets the egress limits.
    pub fn egress_limits(mut self, limits: EgressLimits) -> Self {
        self.egress_limits = limits;
        self
    }

    /// Uses `clock` for token expiry and `host.now-ms`.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The sandbox.
    pub fn build(&self) -> Sandbox {
        let auth = match self.credentials {
            Credentials::None => None,
            _ => Some(Arc::new(Authenticator::new(
                &self.tenant,
                &self.connection,
                self.credentials.clone(),
                self.secrets.clone(),
                self.events.clone(),
                self.clock.clone(),
            ))),
        };
        Sandbox {
            limits: self.limits,
            egress: Arc::new(ConnectionEgress {
                tenant: self.tenant.clone(),
                connection: self.connection.clone(),
                origin: self.origin.clone(),
                extra_origins: self.extra_origins.clone(),
                auth,
                limits: self.egress_limits,
                events: self.events.clone(),
            }),
            events: self.events.clone(),
            clock: self.clock.clone(),
        }
    }
}

/// A connection value for the misbehaving connector: `base_url` plus a
/// `fetch` target and optional method/body.
pub fn fetch_connection(base_url: &str, url: &str, method: &str, body: Option<&str>) -> Connection {
    let mut config = serde_json::json!({ "url": url, "method": method });
    if let Some(body) = body {
        config["body"] = body.into();
    }
    Connection {
        base_url: base_url.to_string(),
        config: config.to_string(),
    }
}
