//! PeopleSoft Integration Broker emulator: the SOAP listening connector with
//! per-site WSDL, WS-Security/Basic/Bearer auth, Integration Broker setup
//! faults, CI-based services and Query Access Services.
//!
//! It follows `shared/reference/peoplesoft.md`. Start it with
//! [`PeopleSoftSandbox::start`] (a real HTTP server on `127.0.0.1:0`), or use
//! [`PeopleSoftEmulator`] directly as an [`crate::exchange::Handler`].

mod auth;
mod ci;
mod emulator;
mod model;
mod qas;
mod soap;
mod wsdl;
pub mod xml;

use std::io;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

pub use auth::{
    AuthPolicy, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD, DEMO_STATIC_TOKEN, DEMO_USER,
    OAuthClient, SiteUser, StaticToken,
};
pub use ci::CiMethod;
pub use emulator::{LISTENER_PATH, PeopleSoftEmulator, PeopleSoftError, TOKEN_PATH};
pub use model::{
    ChartFieldValue, INACTIVE_ACCOUNT, INACTIVE_DEPTID, INACTIVE_VENDOR_ID, PoDistribution, PoLine,
    PoSchedule, PurchaseOrder, Vendor, VendorAddress, Voucher, VoucherLine,
};
pub use qas::{QUERY_NAMES, format_datetime};
pub use soap::{PASSWORD_TEXT, SOAP11_NS, SOAP12_NS, WSSE_NS};
pub use wsdl::{QAS_OPERATION, QAS_SERVICE};

use crate::faults::FaultPlan;
use crate::server::Server;

/// The schema namespace base PeopleTools delivers.
pub const DEFAULT_NAMESPACE_BASE: &str = "http://xmlns.oracle.com/Enterprise/Tools/schemas/";
/// The default local node of a Financials database.
pub const DEFAULT_NODE: &str = "PSFT_EP";

/// Every service operation the emulated site defines.
pub fn all_operations() -> Vec<String> {
    ci::CIS
        .iter()
        .flat_map(|ci| ci.methods.iter().map(move |&m| ci.operation(m)))
        .chain(std::iter::once(wsdl::QAS_OPERATION.to_owned()))
        .collect()
}

/// How the emulated site is set up.
#[derive(Debug, Clone)]
pub struct PeopleSoftConfig {
    /// Seed of the site's random choices (message numbers, vouchers, tokens).
    pub seed: u64,
    /// Default local node (the listener path's last segment).
    pub node: String,
    /// Accepted authentication methods, static tokens and OAuth clients.
    pub auth: AuthPolicy,
    /// The site's users and their granted operations.
    pub users: Vec<SiteUser>,
    /// Schema namespace base (message namespaces are `{base}M{digits}.V1`).
    pub namespace_base: String,
    /// Lifetime of tokens from the token endpoint.
    pub bearer_ttl_secs: u64,
    /// Default user of the ANONYMOUS node (runs calls without credentials).
    pub anonymous_user: String,
    /// `true`: every operation starts active with its any-to-local routing (the
    /// state after the administrator's setup). `false`: as delivered, inactive
    /// and unrouted.
    pub operations_ready: bool,
    /// Largest request body the gateway accepts.
    pub max_body_bytes: usize,
}

impl Default for PeopleSoftConfig {
    /// The demo site: node `PSFT_EP`, user [`DEMO_USER`] / [`DEMO_PASSWORD`]
    /// granted every operation, every operation active and routed, all three
    /// auth methods accepted.
    fn default() -> Self {
        PeopleSoftConfig {
            seed: 1,
            node: DEFAULT_NODE.to_owned(),
            auth: AuthPolicy::default(),
            users: vec![SiteUser::with_all_operations(DEMO_USER, DEMO_PASSWORD)],
            namespace_base: DEFAULT_NAMESPACE_BASE.to_owned(),
            bearer_ttl_secs: 3600,
            anonymous_user: "PSGUEST".to_owned(),
            operations_ready: true,
            max_body_bytes: 4 * 1024 * 1024,
        }
    }
}

/// A running PeopleSoft emulator on a loopback HTTP server. Derefs to
/// [`PeopleSoftEmulator`] for the control and inspection calls
/// (`activate`, `purchase_orders`, `add_voucher`, ...).
#[derive(Debug)]
pub struct PeopleSoftSandbox {
    emulator: Arc<PeopleSoftEmulator>,
    server: Server,
}

impl PeopleSoftSandbox {
    /// Starts the emulator on `127.0.0.1:0` with a fault plan seeded from `config.seed`.
    pub async fn start(config: PeopleSoftConfig) -> io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts the emulator on `addr`.
    pub async fn start_on(addr: SocketAddr, config: PeopleSoftConfig) -> io::Result<Self> {
        let faults = Arc::new(FaultPlan::new(config.seed));
        let emulator = Arc::new(PeopleSoftEmulator::new(config));
        let server = Server::start_on(addr, emulator.clone(), faults).await?;
        Ok(PeopleSoftSandbox { emulator, server })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The SOAP listener: `{base}/PSIGW/PeopleSoftServiceListeningConnector/{NODE}`.
    pub fn listener_url(&self) -> String {
        format!(
            "{}{LISTENER_PATH}/{}",
            self.base_url(),
            self.emulator.config().node
        )
    }

    /// The WSDL URL of `service` (`{listener}/{SERVICE}.1.wsdl`).
    pub fn wsdl_url(&self, service: &str) -> String {
        format!("{}/{service}.1.wsdl", self.listener_url())
    }

    /// The client-credentials token endpoint (`{base}/oauth2/token`).
    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.base_url())
    }

    /// The HTTP server (address, recorded requests).
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The fault plan the server applies to every request.
    pub fn faults(&self) -> &Arc<FaultPlan> {
        self.server.faults()
    }

    /// The emulator behind the server.
    pub fn emulator(&self) -> &Arc<PeopleSoftEmulator> {
        &self.emulator
    }
}

impl Deref for PeopleSoftSandbox {
    type Target = PeopleSoftEmulator;

    fn deref(&self) -> &PeopleSoftEmulator {
        &self.emulator
    }
}
