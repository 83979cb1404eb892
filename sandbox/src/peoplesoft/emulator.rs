//! The PeopleSoft Integration Broker gateway as an `exchange::Handler`: the
//! listening connector's routing, authentication and per-operation setup
//! checks in the gateway's order, plus the control calls tests use.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use http::{Method, StatusCode, header};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::PeopleSoftConfig;
use super::auth::{BearerCheck, TokenStore, basic_credentials, bearer_token};
use super::ci::{self, CiReply};
use super::model::{
    ChartFieldValue, PurchaseOrder, Records, Vendor, VendorAddress, Voucher, VoucherLine, now,
    seed_effdt,
};
use super::qas;
use super::soap::{self, IbFault, SoapVersion};
use super::wsdl::{self, OpKind, OperationDef, QAS_RESP, ServiceCatalog};
use super::xml::{self, XmlError};
use crate::catalog;
use crate::exchange::{Handler, Request, Response};

/// Path of the SOAP listening connector (the node follows).
pub const LISTENER_PATH: &str = "/PSIGW/PeopleSoftServiceListeningConnector";
/// Path of the emulated identity provider's token endpoint.
pub const TOKEN_PATH: &str = "/oauth2/token";

/// Errors of the emulator's control calls (the test-facing API).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PeopleSoftError {
    /// No service operation of that name exists on the site.
    #[error("no service operation named {0} (see PeopleSoftEmulator::operations)")]
    UnknownOperation(String),
    /// No user of that id is configured.
    #[error("no PeopleSoft user {0} (add it to PeopleSoftConfig::users)")]
    UnknownUser(String),
    /// No purchase order has that PO_ID.
    #[error("no purchase order with PO_ID {0}")]
    UnknownPurchaseOrder(String),
    /// No supplier has that VENDOR_ID in the shared SETID.
    #[error("no supplier {0} in SETID {setid}", setid = catalog::SETID)]
    UnknownVendor(String),
    /// A supplier with that VENDOR_ID already exists.
    #[error("supplier {0} already exists in SETID {setid}", setid = catalog::SETID)]
    DuplicateVendor(String),
    /// No voucher has that VOUCHER_ID.
    #[error("no voucher {0}")]
    UnknownVoucher(String),
    /// No ChartField row of that value.
    #[error("no {field} value {value} in SETID {setid}", setid = catalog::SETID)]
    UnknownChartField {
        /// `ACCOUNT` or `DEPTID`.
        field: &'static str,
        /// The value looked up.
        value: String,
    },
    /// A status other than the ones the field allows.
    #[error("status {0:?} is not valid here; use one of {1}")]
    InvalidStatus(String, &'static str),
}

/// Setup state of one service operation in the Integration Broker console.
#[derive(Debug, Clone, Copy)]
struct OperationState {
    active: bool,
    routed: bool,
    published: bool,
}

#[derive(Debug)]
struct State {
    operations: HashMap<String, OperationState>,
    passwords: HashMap<String, String>,
    grants: HashMap<String, BTreeSet<String>>,
    tokens: TokenStore,
    rng: StdRng,
    records: Records,
}

/// The emulated gateway + application server. Serve it with
/// [`crate::server::Server`] (see [`super::PeopleSoftSandbox`]) or call
/// [`Handler::handle`] directly.
#[derive(Debug)]
pub struct PeopleSoftEmulator {
    config: PeopleSoftConfig,
    catalog: ServiceCatalog,
    state: Mutex<State>,
}

/// Who a request runs as, once authenticated.
type Authenticated = Result<String, IbFault>;

impl PeopleSoftEmulator {
    /// A site seeded from `config.seed`.
    pub fn new(config: PeopleSoftConfig) -> Self {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let catalog = ServiceCatalog::new(&config.namespace_base, &mut rng);
        let records = Records::seeded(&mut rng);
        let operations = catalog
            .ops
            .iter()
            .map(|op| {
                let state = OperationState {
                    active: config.operations_ready,
                    routed: config.operations_ready,
                    published: true,
                };
                (op.name.clone(), state)
            })
            .collect();
        let passwords = config
            .users
            .iter()
            .map(|u| (u.user_id.clone(), u.password.clone()))
            .collect();
        let grants = config
            .users
            .iter()
            .map(|u| (u.user_id.clone(), u.operations.iter().cloned().collect()))
            .collect();
        PeopleSoftEmulator {
            state: Mutex::new(State {
                operations,
                passwords,
                grants,
                tokens: TokenStore::default(),
                rng,
                records,
            }),
            catalog,
            config,
        }
    }

    /// The configuration the site runs with.
    pub fn config(&self) -> &PeopleSoftConfig {
        &self.config
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock (a failing test thread) leaves the
        // data consistent: every mutation is completed before unlocking.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every service operation of the site (e.g. `CI_PO_EXPRESS_C`, `QAS_EXECUTEQRYSYNC_OPER`).
    pub fn operations(&self) -> Vec<String> {
        self.catalog.ops.iter().map(|o| o.name.clone()).collect()
    }

    /// Every service of the site (e.g. `CI_PO_EXPRESS`, `QAS_QRY_SERVICE`).
    pub fn services(&self) -> Vec<String> {
        self.catalog
            .services()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    fn with_operation(
        &self,
        operation: &str,
        change: impl FnOnce(&mut OperationState),
    ) -> Result<(), PeopleSoftError> {
        let mut state = self.state();
        let op = state
            .operations
            .get_mut(operation)
            .ok_or_else(|| PeopleSoftError::UnknownOperation(operation.to_owned()))?;
        change(op);
        Ok(())
    }

    /// Activates `operation` (the administrator's Service Operation page).
    pub fn activate(&self, operation: &str) -> Result<(), PeopleSoftError> {
        self.with_operation(operation, |o| o.active = true)
    }

    /// Makes `operation` inactive, as delivered.
    pub fn deactivate(&self, operation: &str) -> Result<(), PeopleSoftError> {
        self.with_operation(operation, |o| o.active = false)
    }

    /// Creates (or re-activates) the any-to-local routing of `operation`.
    pub fn add_routing(&self, operation: &str) -> Result<(), PeopleSoftError> {
        self.with_operation(operation, |o| o.routed = true)
    }

    /// Removes the any-to-local routing of `operation`.
    pub fn remove_routing(&self, operation: &str) -> Result<(), PeopleSoftError> {
        self.with_operation(operation, |o| o.routed = false)
    }

    /// Publishes `operation` to the WSDL repository again.
    pub fn publish(&self, operation: &str) -> Result<(), PeopleSoftError> {
        self.with_operation(operation, |o| o.published = true)
    }

    /// Removes `operation` from its service's WSDL (calls still reach it if active).
    pub fn unpublish(&self, operation: &str) -> Result<(), PeopleSoftError> {
        self.with_operation(operation, |o| o.published = false)
    }

    /// Makes `operation` fully usable: active, routed and published.
    pub fn set_up(&self, operation: &str) -> Result<(), PeopleSoftError> {
        self.with_operation(operation, |o| {
            o.active = true;
            o.routed = true;
            o.published = true;
        })
    }

    fn with_grants(
        &self,
        user: &str,
        operation: &str,
        change: impl FnOnce(&mut BTreeSet<String>),
    ) -> Result<(), PeopleSoftError> {
        if self.catalog.op(operation).is_none() {
            return Err(PeopleSoftError::UnknownOperation(operation.to_owned()));
        }
        let mut state = self.state();
        let is_anonymous = user == self.config.anonymous_user;
        if !state.passwords.contains_key(user) && !is_anonymous {
            return Err(PeopleSoftError::UnknownUser(user.to_owned()));
        }
        change(state.grants.entry(user.to_owned()).or_default());
        Ok(())
    }

    /// Grants `operation` to `user` through a permission list.
    pub fn grant(&self, user: &str, operation: &str) -> Result<(), PeopleSoftError> {
        self.with_grants(user, operation, |g| {
            g.insert(operation.to_owned());
        })
    }

    /// Removes `operation` from `user`'s permission lists.
    pub fn revoke(&self, user: &str, operation: &str) -> Result<(), PeopleSoftError> {
        self.with_grants(user, operation, |g| {
            g.remove(operation);
        })
    }

    /// Changes `user`'s password (e.g. to play a rotated credential).
    pub fn set_password(&self, user: &str, password: &str) -> Result<(), PeopleSoftError> {
        let mut state = self.state();
        let slot = state
            .passwords
            .get_mut(user)
            .ok_or_else(|| PeopleSoftError::UnknownUser(user.to_owned()))?;
        *slot = password.to_owned();
        Ok(())
    }

    /// Expires every bearer token the token endpoint has issued (static tokens stay valid).
    pub fn expire_tokens(&self) {
        self.state().tokens.expire_all();
    }

    /// Namespace of `operation`'s request message, as this site's WSDL declares it.
    pub fn namespace_of(&self, operation: &str) -> Result<String, PeopleSoftError> {
        self.catalog
            .op(operation)
            .map(|o| o.request_ns.clone())
            .ok_or_else(|| PeopleSoftError::UnknownOperation(operation.to_owned()))
    }

    /// Namespace of `operation`'s response message.
    pub fn response_namespace_of(&self, operation: &str) -> Result<String, PeopleSoftError> {
        self.catalog
            .op(operation)
            .map(|o| o.response_ns.clone())
            .ok_or_else(|| PeopleSoftError::UnknownOperation(operation.to_owned()))
    }

    /// Namespace of the `QAS_EXEQRY_SYNC_REQ` part inside a QAS request.
    pub fn qas_request_part_namespace(&self) -> String {
        self.catalog.qas_part_ns(wsdl::QAS_REQ)
    }

    /// Every purchase order, in creation order, exactly as received.
    pub fn purchase_orders(&self) -> Vec<PurchaseOrder> {
        self.state().records.purchase_orders.clone()
    }

    /// Every supplier.
    pub fn vendors(&self) -> Vec<Vendor> {
        self.state().records.vendors.clone()
    }

    /// Every GL account row (all effective dates).
    pub fn accounts(&self) -> Vec<ChartFieldValue> {
        self.state().records.accounts.clone()
    }

    /// Every department row (all effective dates).
    pub fn departments(&self) -> Vec<ChartFieldValue> {
        self.state().records.departments.clone()
    }

    /// Every voucher.
    pub fn vouchers(&self) -> Vec<Voucher> {
        self.state().records.vouchers.clone()
    }

    /// Simulates AP entering a voucher for purchase order `po_id`: one voucher
    /// line per PO line, `MERCHANDISE_AMT` = the line's quantity x price
    /// rounded to the PO currency's precision (PeopleSoft stores monetary
    /// amounts at that precision, never the unrounded extension),
    /// `MATCH_STATUS_VCHR` `M` when `matched`, else `T` (to be matched).
    pub fn add_voucher(&self, po_id: &str, matched: bool) -> Result<Voucher, PeopleSoftError> {
        let mut state = self.state();
        let records = &mut state.records;
        let po = records
            .purchase_orders
            .iter()
            .find(|p| p.po_id == po_id)
            .ok_or_else(|| PeopleSoftError::UnknownPurchaseOrder(po_id.to_owned()))?;
        let number = records.next_voucher;
        let updated = now();
        let voucher = Voucher {
            business_unit: po.business_unit.clone(),
            voucher_id: format!("{number:08}"),
            invoice_id: format!("INV-{number}"),
            invoice_dt: updated.date(),
            vendor_id: po.vendor_id.clone(),
            entry_status: "P".to_owned(),
            match_status_vchr: if matched { "M" } else { "T" }.to_owned(),
            lines: po
                .lines
                .iter()
                .enumerate()
                .map(|(i, line)| VoucherLine {
                    voucher_line_num: i as u32 + 1,
                    po_id: Some(po.po_id.clone()),
                    line_nbr: line.line_nbr,
                    merchandise_amt: po.line_monetary_amount(line.line_nbr),
                })
                .collect(),
            lastupddttm: updated,
        };
        records.next_voucher += 1;
        records.vouchers.push(voucher.clone());
        Ok(voucher)
    }

    /// Stores a voucher as given (for scenarios `add_voucher` does not cover).
    pub fn insert_voucher(&self, voucher: Voucher) {
        self.state().records.vouchers.push(voucher);
    }

    /// Changes a voucher's `MATCH_STATUS_VCHR` (e.g. `T` -> `M` once AP matches it).
    pub fn set_voucher_match_status(
        &self,
        voucher_id: &str,
        status: &str,
    ) -> Result<(), PeopleSoftError> {
        if !["M", "T", "E", "N"].contains(&status) {
            return Err(PeopleSoftError::InvalidStatus(
                status.to_owned(),
                "M, T, E, N",
            ));
        }
        let mut state = self.state();
        let voucher = state
            .records
            .vouchers
            .iter_mut()
            .find(|v| v.voucher_id == voucher_id)
            .ok_or_else(|| PeopleSoftError::UnknownVoucher(voucher_id.to_owned()))?;
        voucher.match_status_vchr = status.to_owned();
        voucher.lastupddttm = now();
        Ok(())
    }

    /// Adds an active supplier in the shared SETID (as if keyed in PeopleSoft).
    pub fn add_supplier(&self, vendor_id: &str, name1: &str) -> Result<Vendor, PeopleSoftError> {
        let mut state = self.state();
        if state.records.vendor(catalog::SETID, vendor_id).is_some() {
            return Err(PeopleSoftError::DuplicateVendor(vendor_id.to_owned()));
        }
        let vendor = Vendor {
            setid: catalog::SETID.to_owned(),
            vendor_id: vendor_id.to_owned(),
            name1: name1.to_owned(),
            name2: None,
            vendor_status: "A".to_owned(),
            addresses: vec![VendorAddress {
                address_seq_num: 1,
                effdt: seed_effdt(),
                eff_status: "A".to_owned(),
                address1: None,
                city: None,
                state: None,
                postal: None,
                country: Some("USA".to_owned()),
            }],
            lastupddttm: now(),
        };
        state.records.vendors.push(vendor.clone());
        Ok(vendor)
    }

    /// Sets a supplier's `VENDOR_STATUS` (`A` or `I`).
    pub fn set_vendor_status(&self, vendor_id: &str, status: &str) -> Result<(), PeopleSoftError> {
        check_status(status)?;
        let mut state = self.state();
        let vendor = state
            .records
            .vendors
            .iter_mut()
            .find(|v| v.setid == catalog::SETID && v.vendor_id == vendor_id)
            .ok_or_else(|| PeopleSoftError::UnknownVendor(vendor_id.to_owned()))?;
        vendor.vendor_status = status.to_owned();
        vendor.lastupddttm = now();
        Ok(())
    }

    /// Sets the `EFF_STATUS` (`A`/`I`) of GL account `account` from today on
    /// (adds an effective-dated row, as PeopleSoft does).
    pub fn set_account_status(&self, account: &str, status: &str) -> Result<(), PeopleSoftError> {
        check_status(status)?;
        let mut state = self.state();
        add_effective_row(&mut state.records.accounts, "ACCOUNT", account, status)
    }

    /// Sets the `EFF_STATUS` (`A`/`I`) of department `deptid` from today on.
    pub fn set_department_status(&self, deptid: &str, status: &str) -> Result<(), PeopleSoftError> {
        check_status(status)?;
        let mut state = self.state();
        add_effective_row(&mut state.records.departments, "DEPTID", deptid, status)
    }

    // -----------------------------------------------------------------------
    // Request handling

    fn listener_url(&self, request: &Request) -> String {
        format!("{}{LISTENER_PATH}/{}", request.origin, self.config.node)
    }

    fn wrong_node(&self, node: &str) -> Response {
        IbFault::ib(
            10623,
            format!(
                "Integration Gateway - Unable to find a node definition for {node}: the node is not configured in the gateway's integrationGateway.properties, so no application server can be reached for it."
            ),
            vec![node.to_owned()],
        )
        .into_response()
    }

    fn get(&self, request: &Request, file: Option<&str>) -> Response {
        let listener = self.listener_url(request);
        if let Some(file) = file {
            let Some(service) = file.strip_suffix(".1.wsdl") else {
                return not_found(format!(
                    "Integration Gateway - no document {file} on this listener."
                ));
            };
            return self.wsdl_response(service, &listener);
        }
        match request.query_param("Operation") {
            Some(op) if op.eq_ignore_ascii_case("GetWSIL") => {
                let state = self.state();
                let services: Vec<&str> = self
                    .catalog
                    .services()
                    .into_iter()
                    .filter(|service| {
                        self.catalog.ops.iter().any(|o| {
                            o.service == *service
                                && state.operations.get(&o.name).is_some_and(|s| s.published)
                        })
                    })
                    .collect();
                Response::xml(StatusCode::OK, wsdl::wsil(&services, &listener))
            }
            Some(op) if op.eq_ignore_ascii_case("GetWSDL") => {
                let wanted = request.query_param("wsdl").unwrap_or_default();
                let name = wanted
                    .rsplit_once('.')
                    .filter(|(_, version)| version.eq_ignore_ascii_case("V1"))
                    .map_or(wanted, |(name, _)| name);
                let published = self
                    .state()
                    .operations
                    .get(name)
                    .is_some_and(|s| s.published);
                match self.catalog.op(name) {
                    Some(op) if published => self.wsdl_response(&op.service, &listener),
                    _ => not_found(format!(
                        "Integration Gateway - no published WSDL for service operation {wanted} on node {}.",
                        self.config.node
                    )),
                }
            }
            _ => Response::new(
                StatusCode::OK,
                "text/html; charset=UTF-8",
                "<html><body><h2>PeopleSoftServiceListeningConnector</h2><p>Status: ACTIVE</p></body></html>",
            ),
        }
    }

    fn wsdl_response(&self, service: &str, listener: &str) -> Response {
        let published: HashMap<String, bool> = self
            .state()
            .operations
            .iter()
            .map(|(k, v)| (k.clone(), v.published))
            .collect();
        let is_published = |op: &str| published.get(op).copied().unwrap_or(false);
        match wsdl::wsdl(&self.catalog, service, &is_published, listener) {
            Some(doc) => Response::xml(StatusCode::OK, doc),
            None => not_found(format!(
                "Integration Gateway - no published WSDL for service {service} on node {}.",
                self.config.node
            )),
        }
    }

    fn post(&self, request: &Request) -> Response {
        match self.soap_call(request) {
            Ok(response) => response,
            Err(fault) => fault.into_response(),
        }
    }

    /// The gateway's pipeline for one SOAP call, in its order of checks.
    fn soap_call(&self, request: &Request) -> Result<Response, IbFault> {
        let announced = SoapVersion::from_content_type(request);
        // The OAuth filter runs before the gateway reads the message.
        let bearer_user = self.bearer_filter(request, announced)?;
        if request.body.len() > self.config.max_body_bytes {
            return Err(IbFault::ib(
                10726,
                format!(
                    "Integration Gateway - message of {} bytes exceeds the maximum message size of {} bytes.",
                    request.body.len(),
                    self.config.max_body_bytes
                ),
                vec![],
            )
            .in_version(announced));
        }
        let root = xml::parse(&request.body).map_err(|e| {
            let detail = match e {
                XmlError::Dtd => {
                    "DOCTYPE is disallowed: the gateway does not process DTDs or entity declarations".to_owned()
                }
                other => other.to_string(),
            };
            IbFault::new(
                159,
                5,
                format!("XML parser error: {detail}. (159,5)"),
                vec![detail],
            )
            .in_version(announced)
        })?;
        let envelope = soap::envelope(root, announced)?;
        let version = envelope.version;
        let user = self
            .authenticate(request, envelope.header.as_ref(), bearer_user)
            .map_err(|f| f.in_version(version))?;
        let op = self
            .operation_for(request, version, &envelope.payload)
            .map_err(|f| f.in_version(version))?;
        self.check_setup(op, &user)
            .map_err(|f| f.in_version(version))?;
        let payload = &envelope.payload;
        if payload.local != op.request_root || payload.ns.as_deref() != Some(op.request_ns.as_str())
        {
            return Err(IbFault::ib(
                10411,
                format!(
                    "Message validation failed for Service Operation {}: the request root is {{{}}}{}, but the service's WSDL defines {{{}}}{}.",
                    op.name,
                    payload.ns.as_deref().unwrap_or(""),
                    payload.local,
                    op.request_ns,
                    op.request_root
                ),
                vec![op.name.clone()],
            )
            .in_version(version));
        }
        let mut state = self.state();
        let body = match op.kind {
            OpKind::Ci { ci, method } => {
                match ci::execute(
                    ci,
                    method,
                    payload,
                    &op.response_ns,
                    &user,
                    &mut state.records,
                ) {
                    CiReply::Body(body) => body,
                    CiReply::Fault(fault) => return Err(fault.in_version(version)),
                }
            }
            OpKind::Qas => qas::execute(
                payload,
                &op.response_ns,
                &self.catalog.qas_part_ns(QAS_RESP),
                &user,
                &state.records,
            )
            .map_err(|f| f.in_version(version))?,
        };
        Ok(soap::reply(version, &body))
    }

    /// Validates a bearer token (when the site accepts bearer); an expired or
    /// unknown token is refused with 401 so the client can refresh once.
    fn bearer_filter(
        &self,
        request: &Request,
        version: SoapVersion,
    ) -> Result<Option<String>, IbFault> {
        if !self.config.auth.bearer {
            return Ok(None);
        }
        let Some(token) = bearer_token(request) else {
            return Ok(None);
        };
        let check = self.state().tokens.check(&self.config.auth, &token);
        let description = match check {
            BearerCheck::Valid(user) => return Ok(Some(user)),
            BearerCheck::Expired => "The access token expired",
            BearerCheck::Unknown => "The access token is not valid",
        };
        let mut fault = IbFault::ib(
            10847,
            format!("Integration Gateway - OAuth2 authentication failed: {description}; obtain a new access token."),
            vec![],
        )
        .in_version(version);
        fault.status = StatusCode::UNAUTHORIZED;
        fault.headers.push((
            header::WWW_AUTHENTICATE,
            format!("Bearer error=\"invalid_token\", error_description=\"{description}\""),
        ));
        Err(fault)
    }

    /// WS-Security first, then HTTP Basic, then a valid bearer token, else
    /// the ANONYMOUS node's default user.
    fn authenticate(
        &self,
        request: &Request,
        header: Option<&xml::Element>,
        bearer_user: Option<String>,
    ) -> Authenticated {
        let auth = &self.config.auth;
        if auth.wsse
            && let Some(token) = soap::username_token(header)
        {
            return self.check_password(&token.username, &token.password, token.is_text);
        }
        if auth.basic
            && let Some((user, password)) = basic_credentials(request)
        {
            return self.check_password(&user, &password, true);
        }
        if let Some(user) = bearer_user {
            return Ok(user);
        }
        Ok(self.config.anonymous_user.clone())
    }

    fn check_password(&self, user: &str, password: &str, is_text: bool) -> Authenticated {
        let state = self.state();
        match state.passwords.get(user) {
            None => Err(IbFault::ib(
                55,
                "UserName not defined in database.",
                vec![user.to_owned()],
            )),
            Some(expected) if is_text && expected == password => Ok(user.to_owned()),
            Some(_) => Err(IbFault::ib(
                45,
                "User password failed.",
                vec![user.to_owned()],
            )),
        }
    }

    /// The operation named by SOAPAction/`action`, else by the body root.
    fn operation_for(
        &self,
        request: &Request,
        version: SoapVersion,
        payload: &xml::Element,
    ) -> Result<&OperationDef, IbFault> {
        let Some(action) = soap::action(request, version) else {
            return self.catalog.by_request_root(&payload.local).ok_or_else(|| {
                IbFault::ib(
                    10507,
                    format!(
                        "No Service Operation found for request message {}: send SOAPAction {{OPERATION}}.V1.",
                        payload.local
                    ),
                    vec![payload.local.clone()],
                )
            });
        };
        let (name, version_part) = action.rsplit_once('.').unwrap_or((action.as_str(), ""));
        match self.catalog.op(name) {
            Some(op) if version_part.eq_ignore_ascii_case("V1") => Ok(op),
            _ => Err(IbFault::ib(
                10507,
                format!(
                    "Service Operation {action} not found: no such operation and version is defined on node {}.",
                    self.config.node
                ),
                vec![action.clone()],
            )),
        }
    }

    /// Active, routed, granted: the three setup steps a real site needs.
    fn check_setup(&self, op: &OperationDef, user: &str) -> Result<(), IbFault> {
        let state = self.state();
        let setup = state
            .operations
            .get(&op.name)
            .copied()
            .unwrap_or(OperationState {
                active: false,
                routed: false,
                published: false,
            });
        if !setup.active {
            return Err(IbFault::ib(
                10508,
                format!("Service Operation {} is inactive.", op.name),
                vec![op.name.clone()],
            ));
        }
        if !setup.routed {
            return Err(IbFault::ib(
                10509,
                format!(
                    "No routing found for Service Operation {} to node {}.",
                    op.name, self.config.node
                ),
                vec![op.name.clone(), self.config.node.clone()],
            ));
        }
        let granted = state.grants.get(user).is_some_and(|g| g.contains(&op.name));
        if !granted {
            return Err(IbFault::ib(
                536,
                format!(
                    "User {user} not authorized to invoke Service Operation {}.",
                    op.name
                ),
                vec![user.to_owned(), op.name.clone()],
            ));
        }
        Ok(())
    }
}

impl Handler for PeopleSoftEmulator {
    fn handle(&self, request: &Request) -> Response {
        if request.path == TOKEN_PATH {
            if request.method != Method::POST {
                return Response::new(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "use POST")
                    .with_header(header::ALLOW, "POST");
            }
            let mut state = self.state();
            let state = &mut *state;
            return state.tokens.token_endpoint(
                &self.config.auth,
                self.config.bearer_ttl_secs,
                &mut state.rng,
                request,
            );
        }
        let Some(rest) = request.path.strip_prefix(LISTENER_PATH) else {
            return Response::new(StatusCode::NOT_FOUND, "text/plain", "Not Found");
        };
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        if !rest.is_empty() && !rest.starts_with('/') {
            return Response::new(StatusCode::NOT_FOUND, "text/plain", "Not Found");
        }
        let (node, file) = match segments.as_slice() {
            [] => (self.config.node.as_str(), None),
            [node] => (*node, None),
            [node, file] => (*node, Some(*file)),
            _ => return Response::new(StatusCode::NOT_FOUND, "text/plain", "Not Found"),
        };
        if node != self.config.node {
            return self.wrong_node(node);
        }
        match request.method {
            Method::GET => self.get(request, file),
            Method::POST if file.is_none() => self.post(request),
            _ => Response::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain",
                "use GET or POST",
            )
            .with_header(header::ALLOW, "GET, POST"),
        }
    }
}

fn not_found(text: String) -> Response {
    let mut fault = IbFault::ib(10721, text, vec![]);
    fault.status = StatusCode::NOT_FOUND;
    fault.into_response()
}

fn check_status(status: &str) -> Result<(), PeopleSoftError> {
    if status == "A" || status == "I" {
        Ok(())
    } else {
        Err(PeopleSoftError::InvalidStatus(status.to_owned(), "A, I"))
    }
}

fn add_effective_row(
    rows: &mut Vec<ChartFieldValue>,
    field: &'static str,
    value: &str,
    status: &str,
) -> Result<(), PeopleSoftError> {
    let updated = now();
    let today = updated.date();
    let current = super::model::current_row(rows, catalog::SETID, value, today)
        .cloned()
        .ok_or_else(|| PeopleSoftError::UnknownChartField {
            field,
            value: value.to_owned(),
        })?;
    if current.effdt == today {
        if let Some(row) = rows
            .iter_mut()
            .find(|r| r.setid == current.setid && r.value == value && r.effdt == today)
        {
            row.eff_status = status.to_owned();
            row.lastupddttm = updated;
        }
    } else {
        rows.push(ChartFieldValue {
            effdt: today,
            eff_status: status.to_owned(),
            lastupddttm: updated,
            ..current
        });
    }
    // Keep rows of one value together in date order (as PeopleSoft's key order).
    rows.sort_by(|a, b| (&a.setid, &a.value, a.effdt).cmp(&(&b.setid, &b.value, b.effdt)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue};

    fn request(
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&'static str, &str)],
        body: &str,
    ) -> Request {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        Request {
            method,
            path: path.to_owned(),
            query: query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            headers: map,
            body: Bytes::from(body.to_owned()),
            origin: "http://psft.example:8000".to_owned(),
        }
    }

    fn site() -> PeopleSoftEmulator {
        PeopleSoftEmulator::new(PeopleSoftConfig::default())
    }

    #[test]
    fn paths_outside_the_gateway_are_404() {
        let response = site().handle(&request(
            Method::GET,
            "/PSIGW/HttpListeningConnector",
            &[],
            &[],
            "",
        ));
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        let response = site().handle(&request(
            Method::GET,
            "/PSIGW/PeopleSoftServiceListeningConnectorX",
            &[],
            &[],
            "",
        ));
        assert_eq!(response.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn listener_without_node_serves_the_default_node() {
        let response = site().handle(&request(
            Method::GET,
            LISTENER_PATH,
            &[("Operation", "GetWSIL")],
            &[],
            "",
        ));
        assert_eq!(response.status, StatusCode::OK);
        let body = String::from_utf8(response.body.to_vec()).unwrap();
        assert!(body.contains("http://psft.example:8000/PSIGW/PeopleSoftServiceListeningConnector/PSFT_EP/CI_PO_EXPRESS.1.wsdl"), "{body}");
    }

    #[test]
    fn wsdl_address_follows_the_origin_the_client_used() {
        let path = format!("{LISTENER_PATH}/PSFT_EP/QAS_QRY_SERVICE.1.wsdl");
        let response = site().handle(&request(Method::GET, &path, &[], &[], ""));
        let body = String::from_utf8(response.body.to_vec()).unwrap();
        assert!(body.contains("location=\"http://psft.example:8000/PSIGW/PeopleSoftServiceListeningConnector/PSFT_EP\""), "{body}");
        assert!(body.contains("soapAction=\"QAS_EXECUTEQRYSYNC_OPER.V1\""));
    }

    #[test]
    fn wrong_node_is_refused_before_anything_else() {
        let response = site().handle(&request(
            Method::POST,
            &format!("{LISTENER_PATH}/OTHER"),
            &[],
            &[],
            "not even xml",
        ));
        assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
        let body = String::from_utf8(response.body.to_vec()).unwrap();
        assert!(
            body.contains("OTHER") && body.contains("(158,10623)"),
            "{body}"
        );
    }

    #[test]
    fn token_endpoint_only_takes_post() {
        let response = site().handle(&request(Method::GET, TOKEN_PATH, &[], &[], ""));
        assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn bearer_filter_runs_before_the_body_is_parsed() {
        let response = site().handle(&request(
            Method::POST,
            LISTENER_PATH,
            &[],
            &[("authorization", "Bearer nope")],
            "<not-xml",
        ));
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn control_calls_validate_their_arguments() {
        let site = site();
        assert_eq!(
            site.set_vendor_status("0000000101", "X"),
            Err(PeopleSoftError::InvalidStatus("X".into(), "A, I"))
        );
        assert_eq!(
            site.add_voucher("0000000000", true),
            Err(PeopleSoftError::UnknownPurchaseOrder("0000000000".into()))
        );
        assert!(matches!(
            site.add_supplier("0000000101", "dup"),
            Err(PeopleSoftError::DuplicateVendor(_))
        ));
        assert!(matches!(
            site.set_account_status("000000", "I"),
            Err(PeopleSoftError::UnknownChartField { .. })
        ));
    }

    #[test]
    fn deactivating_a_chartfield_twice_today_keeps_one_row() {
        let site = site();
        site.set_department_status("10100", "I").unwrap();
        site.set_department_status("10100", "A").unwrap();
        let rows: Vec<_> = site
            .departments()
            .into_iter()
            .filter(|d| d.value == "10100")
            .collect();
        assert_eq!(rows.len(), 2, "seed row plus today's row");
        assert_eq!(rows[1].eff_status, "A");
    }
}
