//! A pipeline over the testkit connector and a record service: a real
//! SQLite store in a temporary folder, real components, real HTTP. Building
//! a new [`Pipeline`] over the same store is what a process restart is.

use crate::SandboxBuilder;
use crate::components::TESTKIT_COMPONENT;
use crate::peers::{RecordService, record_service};
use mlc_host::clock::SystemClock;
use mlc_host::egress::EgressLimits;
use mlc_host::mapping::Mapping;
use mlc_host::pipeline::{
    ConnectionHandle, Endpoint, Flow, OnChange, Pipeline, RetryPolicy, TestFaults,
};
use mlc_host::runtime::{Connection, Connector};
use mlc_host::store::SqliteStore;
use mlc_sandbox::server::Server;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The testkit connector, loaded once per test binary.
pub fn testkit() -> Connector {
    static CONNECTOR: OnceLock<Connector> = OnceLock::new();
    CONNECTOR
        .get_or_init(|| {
            crate::runtime()
                .load("testkit", TESTKIT_COMPONENT)
                .expect("the testkit component loads")
                .0
        })
        .clone()
}

/// The tenant of every kit.
pub const TENANT: &str = "acme";

/// A store, a record service and flows between its streams.
pub struct PipelineKit {
    /// Keeps the store's folder alive.
    pub dir: tempfile::TempDir,
    /// The store (shared by every pipeline built from the kit).
    pub store: Arc<SqliteStore>,
    /// The record service's server (faults, recorded requests).
    pub server: Server,
    /// The record service.
    pub service: Arc<RecordService>,
    /// Egress limits of the sink connection.
    pub sink_limits: EgressLimits,
}

impl PipelineKit {
    /// A fresh kit.
    pub async fn start() -> PipelineKit {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(SqliteStore::open(&dir.path().join("mlc.db")).expect("store opens"));
        let (server, service) = record_service(11).await;
        PipelineKit {
            dir,
            store,
            server,
            service,
            sink_limits: EgressLimits::default(),
        }
    }

    /// A pipeline over the kit's store (a new one = a restarted process).
    pub fn pipeline(&self) -> Pipeline {
        Pipeline::new(self.store.clone(), Arc::new(SystemClock))
    }

    /// A pipeline that crashes right after its n-th write.
    pub fn crashing_pipeline(&self, after_writes: u64) -> Pipeline {
        self.pipeline().with_test_faults(TestFaults {
            crash_after_writes: Some(after_writes),
        })
    }

    fn handle(&self, name: &str, limits: EgressLimits) -> Arc<ConnectionHandle> {
        Arc::new(ConnectionHandle {
            name: name.into(),
            connector: testkit(),
            sandbox: SandboxBuilder::new(TENANT, &self.server.base_url())
                .connection(name)
                .egress_limits(limits)
                .build(),
            connection: Connection {
                base_url: self.server.base_url(),
                config: r#"{"limit": 50}"#.into(),
            },
        })
    }

    /// A flow `name` from source stream `from` to sink stream `to` with `mapping`.
    pub fn flow(&self, name: &str, from: &str, to: &str, mapping: &str) -> Flow {
        Flow {
            tenant: TENANT.into(),
            name: name.into(),
            source: Endpoint {
                connection: self.handle("source", EgressLimits::default()),
                stream: from.into(),
            },
            sink: Endpoint {
                connection: self.handle("sink", self.sink_limits),
                stream: to.into(),
            },
            mapping: Arc::new(
                Mapping::compile(&format!("{name}.jq"), mapping).expect("mapping compiles"),
            ),
            config: serde_json::json!({"business_unit": "US001"}),
            on_change: OnChange::Ignore,
            retry: RetryPolicy {
                attempts: 4,
                base: Duration::from_millis(20),
                cap: Duration::from_millis(100),
                max_retry_after: Duration::from_secs(5),
            },
            concurrency: 4,
            requires: Vec::new(),
            exclusive_with: Vec::new(),
        }
    }
}
