//! Procurify emulator: a seeded tenant served over HTTP with Procurify's
//! OAuth client-credentials flow, DRF envelopes, paging and filters, and the
//! write endpoints the integration uses (`shared/reference/procurify.md`).

mod api;
pub mod generate;
pub mod model;
pub mod render;

use std::net::SocketAddr;
use std::sync::{Arc, MutexGuard};

use chrono::{DateTime, Utc};

pub use api::{AUDIENCE, ProcurifyApi};
pub use model::{
    Account, AccountCode, Bill, Currency, Department, Location, MutationError, Order, OrderItem,
    ProcurifyState, PurchaseOrder, User, Vendor, item_status, order_status, po_state,
};

use crate::faults::FaultPlan;
use crate::server::Server;

/// Demo client id accepted by `ProcurifyConfig::default()`.
pub const DEMO_CLIENT_ID: &str = "mlc-demo-client";
/// Demo client secret accepted by `ProcurifyConfig::default()`.
pub const DEMO_CLIENT_SECRET: &str = "mlc-demo-secret";

/// How the emulated tenant is generated and behaves.
#[derive(Debug, Clone)]
pub struct ProcurifyConfig {
    /// Seed of the data generator (and of token and UUID randomness).
    pub seed: u64,
    /// Number of requisitions to generate (each with 1-8 lines).
    pub requisitions: usize,
    /// Accepted OAuth client id.
    pub client_id: String,
    /// Accepted OAuth client secret.
    pub client_secret: String,
    /// `expires_in` of issued tokens (Procurify: 86400).
    pub token_ttl_secs: u64,
    /// Largest `page_size` honoured; larger requests are clamped (DRF `max_page_size`).
    pub page_size_max: usize,
    /// Page size when the request sends none.
    pub page_size_default: usize,
    /// The instant generated timestamps lead up to; `None` is the wall clock at start.
    pub now: Option<DateTime<Utc>>,
}

impl Default for ProcurifyConfig {
    fn default() -> Self {
        ProcurifyConfig {
            seed: 7,
            requisitions: 300,
            client_id: DEMO_CLIENT_ID.to_owned(),
            client_secret: DEMO_CLIENT_SECRET.to_owned(),
            token_ttl_secs: 86_400,
            page_size_max: 1000,
            page_size_default: 10,
            now: None,
        }
    }
}

/// A running Procurify emulator.
pub struct ProcurifySandbox {
    api: Arc<ProcurifyApi>,
    server: Server,
}

impl std::fmt::Debug for ProcurifySandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcurifySandbox")
            .field("base_url", &self.base_url())
            .finish()
    }
}

impl ProcurifySandbox {
    /// Generates the tenant and serves it on `127.0.0.1:0` (call inside a tokio runtime).
    pub async fn start(config: ProcurifyConfig) -> std::io::Result<ProcurifySandbox> {
        ProcurifySandbox::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Generates the tenant and serves it on `addr`.
    pub async fn start_on(
        addr: SocketAddr,
        config: ProcurifyConfig,
    ) -> std::io::Result<ProcurifySandbox> {
        let now = config.now.unwrap_or_else(Utc::now);
        let state = generate::generate(config.seed, config.requisitions, now);
        let api = Arc::new(ProcurifyApi::new(config, state));
        let faults = Arc::new(FaultPlan::new(api.config.seed));
        let server = Server::start_on(addr, api.clone(), faults).await?;
        Ok(ProcurifySandbox { api, server })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The HTTP server (recorded requests).
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The fault plan (seeded with the config seed).
    pub fn faults(&self) -> &Arc<FaultPlan> {
        self.server.faults()
    }

    /// `base_url + "/oauth/token"`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.base_url())
    }

    /// The configuration in effect.
    pub fn config(&self) -> &ProcurifyConfig {
        &self.api.config
    }

    /// Invalidates every token issued so far.
    pub fn expire_tokens(&self) {
        self.api.expire_tokens();
    }

    /// The emulator as a plain `exchange::Handler`, for calling it without
    /// HTTP (benchmarks separating emulator cost from server cost).
    pub fn api(&self) -> &Arc<ProcurifyApi> {
        &self.api
    }

    /// Issues a valid token without going through `/oauth/token`.
    pub fn issue_token(&self) -> String {
        self.api.issue_token()
    }

    /// The tenant's data, for inspection and mutation (`approve_more`,
    /// `modify_approved`, `add_vendor`, ...). Do not hold the guard across
    /// an `.await` that waits on the emulator.
    pub fn state(&self) -> MutexGuard<'_, ProcurifyState> {
        self.api.state()
    }
}
