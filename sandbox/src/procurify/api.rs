//! The Procurify HTTP API over the emulator's state: OAuth token endpoint,
//! authentication, routing (with Django's trailing-slash redirect), DRF
//! paging, django-filter date/choice/ordering filters, and the write
//! endpoints with DRF-style validation errors.

// Errors here are early HTTP answers (`Response`), built once per request
// and returned straight to the server; boxing them would buy nothing.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use http::{Method, StatusCode, header};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::ProcurifyConfig;
use super::model::{MutationError, OrderItem, ProcurifyState};
use super::render;
use crate::exchange::{Handler, Request, Response};

/// The audience the token endpoint expects when one is sent.
pub const AUDIENCE: &str = "https://api.procurify.com/";

/// The Procurify emulator as an HTTP handler: state plus issued tokens.
pub struct ProcurifyApi {
    pub(crate) config: ProcurifyConfig,
    pub(crate) state: Mutex<ProcurifyState>,
    tokens: Mutex<Tokens>,
}

struct Tokens {
    issued: HashMap<String, Instant>,
    rng: StdRng,
}

type Errors = Map<String, Value>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Handlers mutate state in whole steps; a panic in a test thread holding
    // the lock leaves a usable state, so poisoning is ignored.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn detail(status: StatusCode, text: &str) -> Response {
    Response::json(status, &json!({ "detail": text }))
}

fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not found.")
}

/// Django's production 404 page for a URL no route matches.
fn no_route() -> Response {
    Response::new(
        StatusCode::NOT_FOUND,
        "text/html; charset=utf-8",
        "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n",
    )
}

fn method_not_allowed(method: &Method, allow: &str) -> Response {
    detail(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("Method \"{method}\" not allowed."),
    )
    .with_header(header::ALLOW, allow)
}

fn bad_request(errors: Errors) -> Response {
    Response::json(StatusCode::BAD_REQUEST, &Value::Object(errors))
}

fn single(data: Value) -> Value {
    json!({"metadata": {}, "data": data})
}

fn add_error(errors: &mut Errors, field: &str, message: String) {
    let entry = errors
        .entry(field.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = entry {
        list.push(Value::String(message));
    }
}

/// The endpoints, as matched from a path that ends with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Token,
    Orders,
    OrderItems,
    PurchaseOrders { role: String, status: String },
    PurchaseOrder(String),
    Vendors,
    Vendor(String),
    AccountCodes,
    AccountCode(String),
    Accounts,
    Departments,
    Department(String),
    Locations,
    Location(String),
    Currencies,
    Bills,
    ClosePo(String),
    ReopenPo(String),
}

fn route(path: &str) -> Option<Route> {
    if path == "/oauth/token" || path == "/oauth/token/" {
        return Some(Route::Token);
    }
    let inner = path.strip_prefix('/')?.strip_suffix('/')?;
    let segs: Vec<&str> = inner.split('/').collect();
    let owned = |s: &str| s.to_owned();
    Some(match segs.as_slice() {
        ["api", "v2", "global", "orders"] => Route::Orders,
        ["api", "v3", "order-items"] => Route::OrderItems,
        ["api", "v2", "purchase_orders", id] => Route::PurchaseOrder(owned(id)),
        ["api", "v2", "purchase_orders", role, status] => Route::PurchaseOrders {
            role: owned(role),
            status: owned(status),
        },
        ["api", "v3", "vendors"] => Route::Vendors,
        ["api", "v3", "vendors", id] => Route::Vendor(owned(id)),
        ["api", "v3", "account-codes"] => Route::AccountCodes,
        ["api", "v3", "account-codes", id] => Route::AccountCode(owned(id)),
        ["api", "v3", "accounts"] => Route::Accounts,
        ["api", "v3", "departments"] => Route::Departments,
        ["api", "v3", "departments", id] => Route::Department(owned(id)),
        ["api", "v2", "locations"] => Route::Locations,
        ["api", "v2", "locations", id] => Route::Location(owned(id)),
        ["api", "v2", "currencies"] => Route::Currencies,
        ["api", "v3", "ap", "bills"] => Route::Bills,
        ["api", "v3", "purchase-orders", id, "close"] => Route::ClosePo(owned(id)),
        ["api", "v3", "purchase-orders", id, "reopen"] => Route::ReopenPo(owned(id)),
        _ => return None,
    })
}

impl ProcurifyApi {
    pub(crate) fn new(config: ProcurifyConfig, state: ProcurifyState) -> ProcurifyApi {
        let rng = StdRng::seed_from_u64(config.seed ^ 0x0070_c311);
        ProcurifyApi {
            config,
            state: Mutex::new(state),
            tokens: Mutex::new(Tokens {
                issued: HashMap::new(),
                rng,
            }),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, ProcurifyState> {
        lock(&self.state)
    }

    pub(crate) fn expire_tokens(&self) {
        lock(&self.tokens).issued.clear();
    }

    /// Issues a token directly (tests that are not about the token endpoint).
    pub(crate) fn issue_token(&self) -> String {
        let mut tokens = lock(&self.tokens);
        let bytes: [u8; 24] = tokens.rng.random();
        let token = format!(
            "sbx.{}",
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
        );
        let expiry = Instant::now() + StdDuration::from_secs(self.config.token_ttl_secs);
        tokens.issued.insert(token.clone(), expiry);
        token
    }

    fn token_endpoint(&self, req: &Request) -> Response {
        if req.method != Method::POST {
            return method_not_allowed(&req.method, "POST");
        }
        let fields = match parse_body(req) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Response::json(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "invalid_request", "error_description": "Request body must be a JSON object or form-encoded."}),
                );
            }
        };
        let text = |k: &str| fields.get(k).and_then(Value::as_str).unwrap_or("");
        if text("grant_type") != "client_credentials" {
            return Response::json(
                StatusCode::BAD_REQUEST,
                &json!({"error": "unsupported_grant_type", "error_description": "Grant type must be client_credentials."}),
            );
        }
        if text("client_id") != self.config.client_id
            || text("client_secret") != self.config.client_secret
        {
            return Response::json(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "invalid_client", "error_description": "Unauthorized"}),
            );
        }
        let audience = text("audience");
        if !audience.is_empty() && audience != AUDIENCE {
            return Response::json(
                StatusCode::FORBIDDEN,
                &json!({"error": "access_denied", "error_description": format!("Service not found: {audience}")}),
            );
        }
        let token = self.issue_token();
        Response::json(
            StatusCode::OK,
            &json!({
                "access_token": token,
                "scope": "urn:procurify-api:domain:sandbox urn:procurify-api:email:api@sandbox.example.com",
                "expires_in": self.config.token_ttl_secs,
                "token_type": "Bearer",
            }),
        )
    }

    /// API-call authentication. Without `X-Procurify-Client: api` the call is
    /// treated as a browser (session) call, which DRF's session
    /// authentication refuses with 403 (it has no challenge to send for 401);
    /// with it, the bearer token must be one we issued and still valid (401
    /// with a `WWW-Authenticate: Bearer` challenge otherwise).
    fn authenticate(&self, req: &Request) -> Result<(), Response> {
        if !req
            .header("x-procurify-client")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("api"))
        {
            return Err(detail(
                StatusCode::FORBIDDEN,
                "Authentication credentials were not provided. API clients must send the header X-Procurify-Client: api.",
            ));
        }
        let challenge = |text: &str| {
            detail(StatusCode::UNAUTHORIZED, text)
                .with_header(header::WWW_AUTHENTICATE, "Bearer realm=\"api\"")
        };
        let Some(auth) = req.header("authorization") else {
            return Err(challenge("Authentication credentials were not provided."));
        };
        let Some(token) = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
        else {
            return Err(challenge("Authentication credentials were not provided."));
        };
        let tokens = lock(&self.tokens);
        match tokens.issued.get(token.trim()) {
            Some(expiry) if *expiry > Instant::now() => Ok(()),
            Some(_) => Err(challenge("Token has expired.")),
            None => Err(challenge("Invalid token.")),
        }
    }

    fn dispatch(&self, req: &Request, route: Route) -> Response {
        if route == Route::Token {
            return self.token_endpoint(req);
        }
        if let Err(refused) = self.authenticate(req) {
            return refused;
        }
        if req.query_param("format").is_some_and(|f| f != "json") {
            // Only JSON is emulated; DRF answers an unknown format with 404.
            return not_found();
        }
        let m = &req.method;
        match route {
            Route::Token => not_found(),
            Route::Orders if m == Method::GET => self.list_orders(req),
            Route::OrderItems if m == Method::GET => self.list_items(req),
            Route::PurchaseOrders { role, status } if m == Method::GET => {
                self.list_purchase_orders(req, &role, &status)
            }
            Route::PurchaseOrder(id) if m == Method::GET => self.get_purchase_order(&id),
            Route::Vendors if m == Method::GET => self.list_vendors(req),
            Route::Vendors if m == Method::POST => self.create_vendor(req),
            Route::Vendor(id) if m == Method::GET => self.get_vendor(&id),
            Route::Vendor(id) if m == Method::PUT || m == Method::PATCH => {
                self.update_vendor(req, &id, m == Method::PATCH)
            }
            Route::AccountCodes if m == Method::GET => self.list_account_codes(req),
            Route::AccountCodes if m == Method::POST => self.create_account_code(req),
            Route::AccountCode(id) if m == Method::PUT => self.update_account_code(req, &id),
            Route::Accounts if m == Method::GET => self.list_accounts(req),
            Route::Departments if m == Method::GET => self.list_departments(req),
            Route::Departments if m == Method::POST => self.upsert_department(req, None),
            Route::Department(id) if m == Method::PUT => self.upsert_department(req, Some(&id)),
            Route::Locations if m == Method::GET => self.list_locations(req),
            Route::Location(id) if m == Method::GET => self.get_location(&id),
            Route::Currencies if m == Method::GET => self.list_currencies(req),
            Route::Bills if m == Method::GET => self.list_bills(req),
            Route::ClosePo(id) if m == Method::POST => self.close_po(&id),
            Route::ReopenPo(id) if m == Method::POST => self.reopen_po(&id),
            other => {
                let allow = match other {
                    Route::Vendors | Route::AccountCodes | Route::Departments => "GET, POST",
                    Route::Vendor(_) => "GET, PUT, PATCH",
                    Route::AccountCode(_) | Route::Department(_) => "PUT",
                    Route::ClosePo(_) | Route::ReopenPo(_) => "POST",
                    _ => "GET",
                };
                method_not_allowed(m, allow)
            }
        }
    }
}

impl Handler for ProcurifyApi {
    fn handle(&self, req: &Request) -> Response {
        match route(&req.path) {
            Some(r) => self.dispatch(req, r),
            None => {
                // Django's CommonMiddleware (APPEND_SLASH): a path that
                // matches only with a trailing slash is redirected there.
                if !req.path.ends_with('/') && route(&format!("{}/", req.path)).is_some() {
                    let mut location = format!("{}/", req.path);
                    let query = encode_query(&req.query);
                    if !query.is_empty() {
                        location = format!("{location}?{query}");
                    }
                    Response::new(
                        StatusCode::MOVED_PERMANENTLY,
                        "text/html; charset=utf-8",
                        "",
                    )
                    .with_header(header::LOCATION, &location)
                } else {
                    no_route()
                }
            }
        }
    }
}

// ---------------------------------------------------------------- paging

fn encode_query(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish()
}

/// DRF's `replace_query_param`/`remove_query_param`: the other parameters
/// kept, sorted by name, `page` set to `page` (or removed for page 1 links
/// from `previous`).
fn page_url(req: &Request, page: Option<usize>) -> String {
    let mut pairs: Vec<(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| k != "page")
        .cloned()
        .collect();
    if let Some(p) = page {
        pairs.push(("page".to_owned(), p.to_string()));
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let query = encode_query(&pairs);
    if query.is_empty() {
        format!("{}{}", req.origin, req.path)
    } else {
        format!("{}{}?{}", req.origin, req.path, query)
    }
}

struct Window {
    start: usize,
    end: usize,
    pagination: Value,
}

impl ProcurifyApi {
    fn window(&self, req: &Request, count: usize) -> Result<Window, Response> {
        let page_size = req
            .query_param("page_size")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .map_or(self.config.page_size_default, |n| {
                n.min(self.config.page_size_max)
            })
            .max(1);
        let num_pages = count.div_ceil(page_size).max(1);
        let page = match req.query_param("page") {
            None => 1,
            Some("last") => num_pages,
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| detail(StatusCode::NOT_FOUND, "Invalid page."))?,
        };
        if page == 0 || page > num_pages {
            return Err(detail(StatusCode::NOT_FOUND, "Invalid page."));
        }
        let start = (page - 1) * page_size;
        let end = (start + page_size).min(count);
        let next = (page < num_pages).then(|| page_url(req, Some(page + 1)));
        let previous = match page {
            1 => None,
            2 => Some(page_url(req, None)),
            p => Some(page_url(req, Some(p - 1))),
        };
        Ok(Window {
            start,
            end,
            pagination: json!({
                "count": count, "next": next, "previous": previous,
                "page_size": page_size, "num_pages": num_pages, "current_page": page,
            }),
        })
    }
}

// ---------------------------------------------------------------- filters

/// Query parsing for one list request, collecting django-filter errors.
struct Query<'a> {
    req: &'a Request,
    errors: Errors,
    /// Whether any filter or ordering applies (otherwise lists are sliced directly).
    active: bool,
}

#[derive(Clone, Copy)]
struct Range {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

impl Range {
    fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t <= e)
    }
    fn contains_opt(&self, t: Option<DateTime<Utc>>) -> bool {
        if self.from.is_none() && self.to.is_none() {
            return true;
        }
        t.is_some_and(|t| self.contains(t))
    }
}

fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_time(NaiveTime::MIN).and_utc())
}

impl<'a> Query<'a> {
    fn new(req: &'a Request) -> Query<'a> {
        Query {
            req,
            errors: Map::new(),
            active: false,
        }
    }

    fn param(&self, name: &str) -> Option<&'a str> {
        self.req.query_param(name).filter(|v| !v.is_empty())
    }

    /// `<base>_0`/`<base>_1` plain dates, inclusive whole days (UTC).
    fn date_range(&mut self, base: &str) -> Range {
        let mut range = Range {
            from: None,
            to: None,
        };
        for (suffix, end) in [("_0", false), ("_1", true)] {
            let name = format!("{base}{suffix}");
            let Some(text) = self.param(&name) else {
                continue;
            };
            match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(d) => {
                    self.active = true;
                    if end {
                        range.to = d.succ_opt().map(|n| {
                            n.and_time(NaiveTime::MIN).and_utc() - chrono::Duration::microseconds(1)
                        });
                    } else {
                        range.from = Some(d.and_time(NaiveTime::MIN).and_utc());
                    }
                }
                Err(_) => add_error(&mut self.errors, &name, "Enter a valid date.".to_owned()),
            }
        }
        range
    }

    /// `<base>_0`/`<base>_1` date-times, inclusive; a bare date means midnight.
    fn datetime_range(&mut self, base: &str) -> Range {
        let mut range = Range {
            from: None,
            to: None,
        };
        for (suffix, end) in [("_0", false), ("_1", true)] {
            let name = format!("{base}{suffix}");
            let Some(text) = self.param(&name) else {
                continue;
            };
            match parse_datetime(text) {
                Some(t) => {
                    self.active = true;
                    if end {
                        range.to = Some(t);
                    } else {
                        range.from = Some(t);
                    }
                }
                None => add_error(
                    &mut self.errors,
                    &name,
                    "Enter a valid date/time.".to_owned(),
                ),
            }
        }
        range
    }

    /// An integer choice filter (`status=1`).
    fn choice(&mut self, name: &str, allowed: &[i64]) -> Option<i64> {
        let text = self.param(name)?;
        match text.parse::<i64>() {
            Ok(v) if allowed.contains(&v) => {
                self.active = true;
                Some(v)
            }
            _ => {
                add_error(
                    &mut self.errors,
                    name,
                    format!("Select a valid choice. {text} is not one of the available choices."),
                );
                None
            }
        }
    }

    /// An integer (foreign key) filter.
    fn integer(&mut self, name: &str) -> Option<u64> {
        let text = self.param(name)?;
        match text.parse::<u64>() {
            Ok(v) => {
                self.active = true;
                Some(v)
            }
            Err(_) => {
                add_error(&mut self.errors, name, "Enter a whole number.".to_owned());
                None
            }
        }
    }

    fn boolean(&mut self, name: &str) -> Option<bool> {
        let text = self.param(name)?;
        match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => {
                self.active = true;
                Some(true)
            }
            "false" | "0" | "no" => {
                self.active = true;
                Some(false)
            }
            _ => {
                add_error(&mut self.errors, name, "Enter a valid boolean.".to_owned());
                None
            }
        }
    }

    fn text(&mut self, name: &str) -> Option<String> {
        let v = self.param(name)?;
        self.active = true;
        Some(v.to_owned())
    }

    /// `order_by=<field>` or `-<field>` among `allowed`.
    fn order_by(&mut self, allowed: &[&'static str]) -> Option<(&'static str, bool)> {
        let text = self.param("order_by")?;
        let (desc, field) = match text.strip_prefix('-') {
            Some(f) => (true, f),
            None => (false, text),
        };
        match allowed.iter().find(|a| **a == field) {
            Some(f) => {
                self.active = true;
                Some((f, desc))
            }
            None => {
                add_error(
                    &mut self.errors,
                    "order_by",
                    format!("Select a valid choice. {text} is not one of the available choices."),
                );
                None
            }
        }
    }

    fn finish(self) -> Result<bool, Response> {
        if self.errors.is_empty() {
            Ok(self.active)
        } else {
            Err(bad_request(self.errors))
        }
    }
}

/// A sortable value of a record field.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Key<'a> {
    Int(u64),
    Time(Option<DateTime<Utc>>),
    Text(&'a str),
}

/// Filters (when `active`), orders and pages `all`, rendering the page.
// One call site per endpoint passes its filter, sort key and renderer.
#[allow(clippy::too_many_arguments)]
fn list<'s, T>(
    api: &ProcurifyApi,
    req: &Request,
    all: &'s [T],
    active: bool,
    keep: impl Fn(&T) -> bool,
    order: Option<(&str, bool)>,
    key: impl Fn(&'s T, &str) -> Key<'s>,
    render: impl Fn(&T) -> Value,
) -> Result<(Vec<Value>, Value), Response> {
    if !active {
        let w = api.window(req, all.len())?;
        let data = all[w.start..w.end].iter().map(render).collect();
        return Ok((data, w.pagination));
    }
    let mut rows: Vec<&T> = all.iter().filter(|t| keep(t)).collect();
    sort_and_page(api, req, &mut rows, order, key, render)
}

/// Like [`list`] over `candidates` only: the rows an exact-id filter already
/// narrowed down through an index (the lines of one requisition), in `all`'s
/// order, so a filtered call costs what it returns, not the whole data set.
#[allow(clippy::too_many_arguments)]
fn list_narrowed<'s, T>(
    api: &ProcurifyApi,
    req: &Request,
    candidates: Vec<&'s T>,
    keep: impl Fn(&T) -> bool,
    order: Option<(&str, bool)>,
    key: impl Fn(&'s T, &str) -> Key<'s>,
    render: impl Fn(&T) -> Value,
) -> Result<(Vec<Value>, Value), Response> {
    let mut rows: Vec<&T> = candidates.into_iter().filter(|t| keep(t)).collect();
    sort_and_page(api, req, &mut rows, order, key, render)
}

fn sort_and_page<'s, T>(
    api: &ProcurifyApi,
    req: &Request,
    rows: &mut [&'s T],
    order: Option<(&str, bool)>,
    key: impl Fn(&'s T, &str) -> Key<'s>,
    render: impl Fn(&T) -> Value,
) -> Result<(Vec<Value>, Value), Response> {
    if let Some((field, desc)) = order {
        rows.sort_by(|a, b| {
            let o = key(a, field).cmp(&key(b, field));
            if desc { o.reverse() } else { o }
        });
    }
    let w = api.window(req, rows.len())?;
    let data = rows[w.start..w.end].iter().map(|t| render(t)).collect();
    Ok((data, w.pagination))
}

fn envelope(result: Result<(Vec<Value>, Value), Response>) -> Response {
    match result {
        Ok((data, pagination)) => Response::json(
            StatusCode::OK,
            &json!({"metadata": {"pagination": pagination}, "data": data}),
        ),
        Err(r) => r,
    }
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

fn parse_id(id: &str) -> Option<u64> {
    id.parse().ok()
}

// ---------------------------------------------------------------- reads

impl ProcurifyApi {
    fn list_orders(&self, req: &Request) -> Response {
        let mut q = Query::new(req);
        let status = q.choice("status", &[0, 1, 2, 3, 4, 5, 6]);
        let modified = q.date_range("modified_date");
        let date = q.date_range("date");
        let required = q.date_range("required_date");
        let department = q.integer("department");
        let branch = q.integer("branch").or(q.integer("location"));
        let search = q.text("search");
        let order = q.order_by(&[
            "num",
            "id",
            "date",
            "dateModified",
            "dateRequired",
            "status",
        ]);
        let active = match q.finish() {
            Ok(a) => a,
            Err(r) => return r,
        };
        let s = self.state();
        envelope(list(
            self,
            req,
            &s.orders,
            active,
            |o| {
                status.is_none_or(|v| i64::from(o.status) == v)
                    && modified.contains(o.date_modified)
                    && date.contains(o.date)
                    && required.contains(o.date_required)
                    && department.is_none_or(|d| o.department == d)
                    && branch.is_none_or(|b| o.branch == b)
                    && search
                        .as_deref()
                        .is_none_or(|t| contains_ci(&o.description, t))
            },
            order,
            |o, f| match f {
                "date" => Key::Time(Some(o.date)),
                "dateModified" => Key::Time(Some(o.date_modified)),
                "dateRequired" => Key::Time(Some(o.date_required)),
                "status" => Key::Int(u64::from(o.status)),
                _ => Key::Int(o.num),
            },
            |o| render::order_read(o, &s),
        ))
    }

    fn list_items(&self, req: &Request) -> Response {
        let mut q = Query::new(req);
        let order_status = q.choice("orderNum__status", &[0, 1, 2, 3, 4, 5, 6]);
        let status = q.choice("status", &[0, 1, 2, 3, 4, 5, 6, 7, 8]);
        let modified = q.date_range("last_modified");
        let approved = q.date_range("approved_datetime");
        let created = q.date_range("order_created_date");
        let order_num = q.integer("orderNum");
        let vendor = q.integer("pref_vendor");
        let account = q.integer("account");
        let currency = q.integer("currency");
        let purchased = q.boolean("is_purchased");
        let search = q.text("search");
        let order = q.order_by(&[
            "id",
            "last_modified",
            "approved_datetime",
            "created_at",
            "orderNum",
        ]);
        let active = match q.finish() {
            Ok(a) => a,
            Err(r) => return r,
        };
        let s = self.state();
        let keep = |i: &OrderItem| {
            order_status.is_none_or(|v| {
                s.order(i.order_num)
                    .is_some_and(|o| i64::from(o.status) == v)
            }) && status.is_none_or(|v| i64::from(i.status) == v)
                && modified.contains(i.last_modified)
                && approved.contains_opt(i.approved_datetime)
                && created.contains(i.created_at)
                && order_num.is_none_or(|n| i.order_num == n)
                && vendor.is_none_or(|v| i.pref_vendor == v)
                && account.is_none_or(|a| i.account == a)
                && currency.is_none_or(|c| i.currency == c)
                && purchased.is_none_or(|p| i.purchase_order.is_some() == p)
                && search
                    .as_deref()
                    .is_none_or(|t| contains_ci(&i.name, t) || contains_ci(&i.sku, t))
        };
        let key = |i: &OrderItem, f: &str| match f {
            "last_modified" => Key::Time(Some(i.last_modified)),
            "approved_datetime" => Key::Time(i.approved_datetime),
            "created_at" => Key::Time(Some(i.created_at)),
            "orderNum" => Key::Int(i.order_num),
            _ => Key::Int(i.id),
        };
        let render = |i: &OrderItem| render::order_item(i, &s);
        match order_num {
            // The lines of one requisition: through its line index.
            Some(num) if active => {
                let mut lines: Vec<&OrderItem> = s
                    .order(num)
                    .map(|o| o.items.iter().filter_map(|id| s.item(*id)).collect())
                    .unwrap_or_default();
                lines.sort_by_key(|i| i.id);
                envelope(list_narrowed(self, req, lines, keep, order, key, render))
            }
            _ => envelope(list(self, req, &s.items, active, keep, order, key, render)),
        }
    }

    fn list_purchase_orders(&self, req: &Request, role: &str, status: &str) -> Response {
        use super::model::po_state::*;
        let roles = ["purchased", "receivable"];
        let statuses = ["all", "open", "partial", "closed", "cancelled", "paid"];
        if !roles.contains(&role) || !statuses.contains(&status) {
            return no_route();
        }
        let mut q = Query::new(req);
        let modified = q.date_range("modified_date");
        let date = q.date_range("date");
        let promise = q.date_range("promise_date");
        let vendor = q.integer("pref_vendor");
        let order = q.order_by(&[
            "id",
            "procurify_PO",
            "date",
            "last_modified",
            "promise_date",
        ]);
        if let Err(r) = q.finish() {
            return r;
        }
        let s = self.state();
        let open = |st: u8| st == PURCHASED || st == REOPENED;
        let in_status = |po: &super::model::PurchaseOrder, which: &str| -> bool {
            match which {
                "open" => open(po.state) && render::fulfilment(po, &s) != "full",
                "partial" => open(po.state) && render::fulfilment(po, &s) == "partial",
                "closed" => po.state == CLOSED,
                "cancelled" => po.state == CANCELLED,
                "paid" => po.state == PAID,
                _ => true,
            }
        };
        let in_role =
            |po: &super::model::PurchaseOrder, r: &str| r == "purchased" || open(po.state);
        let mut counts = Map::new();
        for r in roles {
            let mut c = Map::new();
            for st in ["all", "open", "partial", "closed", "cancelled"] {
                let n = s
                    .purchase_orders
                    .iter()
                    .filter(|po| in_role(po, r) && in_status(po, st))
                    .count();
                c.insert(st.to_owned(), json!(n));
            }
            counts.insert(r.to_owned(), Value::Object(c));
        }
        let result = list(
            self,
            req,
            &s.purchase_orders,
            true,
            |po| {
                in_role(po, role)
                    && in_status(po, status)
                    && modified.contains(po.last_modified)
                    && date.contains(po.date)
                    && promise.contains(po.promise_date)
                    && vendor.is_none_or(|v| po.vendor == v)
            },
            order,
            |po, f| match f {
                "date" => Key::Time(Some(po.date)),
                "last_modified" => Key::Time(Some(po.last_modified)),
                "promise_date" => Key::Time(Some(po.promise_date)),
                _ => Key::Int(po.id),
            },
            |po| Value::Object(render::po_docs(po, &s)),
        );
        match result {
            Ok((data, pagination)) => {
                let page = pagination.get("current_page").cloned().unwrap_or(json!(1));
                for c in counts.values_mut() {
                    if let Value::Object(c) = c {
                        c.insert("page".to_owned(), page.clone());
                    }
                }
                Response::json(
                    StatusCode::OK,
                    &json!({"metadata": {"counts": counts, "pagination": pagination}, "data": data}),
                )
            }
            Err(r) => r,
        }
    }

    fn get_purchase_order(&self, id: &str) -> Response {
        let s = self.state();
        match parse_id(id).and_then(|id| s.purchase_order(id)) {
            Some(po) => Response::json(
                StatusCode::OK,
                &json!({"metadata": {"can_edit": true, "can_delete": false}, "data": render::po_detail(po, &s)}),
            ),
            None => not_found(),
        }
    }

    fn list_vendors(&self, req: &Request) -> Response {
        let mut q = Query::new(req);
        let external_id = q.text("external_id");
        let name = q.text("name");
        let search = q.text("search");
        let vtype = q.choice("type", &[2, 7, 3, 4, 6]);
        let order = q.order_by(&["id", "name", "dateModified"]);
        let active = match q.finish() {
            Ok(a) => a,
            Err(r) => return r,
        };
        let s = self.state();
        envelope(list(
            self,
            req,
            &s.vendors,
            active,
            |v| {
                external_id
                    .as_deref()
                    .is_none_or(|e| v.external_id.as_deref() == Some(e))
                    && name.as_deref().is_none_or(|n| v.name == n)
                    && search.as_deref().is_none_or(|t| contains_ci(&v.name, t))
                    && vtype.is_none_or(|t| i64::from(v.vendor_type) == t)
            },
            order,
            |v, f| match f {
                "name" => Key::Text(&v.name),
                "dateModified" => Key::Time(Some(v.date_modified)),
                _ => Key::Int(v.id),
            },
            render::vendor_optimized,
        ))
    }

    fn get_vendor(&self, id: &str) -> Response {
        let s = self.state();
        match parse_id(id).and_then(|id| s.vendor(id)) {
            Some(v) => Response::json(StatusCode::OK, &single(render::vendor_detail(v))),
            None => not_found(),
        }
    }

    fn list_account_codes(&self, req: &Request) -> Response {
        let mut q = Query::new(req);
        let active_f = q.boolean("active");
        let code = q.text("code");
        let search = q.text("search");
        let order = q.order_by(&["id", "code", "description"]);
        let active = match q.finish() {
            Ok(a) => a,
            Err(r) => return r,
        };
        let s = self.state();
        envelope(list(
            self,
            req,
            &s.account_codes,
            active,
            |c| {
                active_f.is_none_or(|a| c.active == a)
                    && code.as_deref().is_none_or(|x| c.code == x)
                    && search
                        .as_deref()
                        .is_none_or(|t| contains_ci(&c.code, t) || contains_ci(&c.description, t))
            },
            order,
            |c, f| match f {
                "code" => Key::Text(&c.code),
                "description" => Key::Text(&c.description),
                _ => Key::Int(c.id),
            },
            |c| render::account_code_read(c, &s),
        ))
    }

    fn list_accounts(&self, req: &Request) -> Response {
        let mut q = Query::new(req);
        let code = q.integer("account_code");
        let dept = q.integer("department");
        let active_f = q.boolean("active");
        let id = q.integer("id");
        let order = q.order_by(&["id"]);
        let active = match q.finish() {
            Ok(a) => a,
            Err(r) => return r,
        };
        let s = self.state();
        envelope(list(
            self,
            req,
            &s.accounts,
            active,
            |a| {
                code.is_none_or(|c| a.account_code == c)
                    && dept.is_none_or(|d| a.department == d)
                    && active_f.is_none_or(|x| a.active == x)
                    && id.is_none_or(|i| a.id == i)
            },
            order,
            |a, _| Key::Int(a.id),
            |a| render::chart_account(a, &s),
        ))
    }

    fn list_departments(&self, req: &Request) -> Response {
        let mut q = Query::new(req);
        let branch = q.integer("branch");
        let search = q.text("search");
        let order = q.order_by(&["id", "name"]);
        let active = match q.finish() {
            Ok(a) => a,
            Err(r) => return r,
        };
        let s = self.state();
        envelope(list(
            self,
            req,
            &s.departments,
            active,
            |d| {
                branch.is_none_or(|b| d.branch == b)
                    && search.as_deref().is_none_or(|t| contains_ci(&d.name, t))
            },
            order,
            |d, f| match f {
                "name" => Key::Text(&d.name),
                _ => Key::Int(d.id),
            },
            |d| render::department_read(d, &s),
        ))
    }

    fn list_locations(&self, req: &Request) -> Response {
        let mut q = Query::new(req);
        let hq = q.boolean("headquarter");
        let order = q.order_by(&["id", "name"]);
        let active = match q.finish() {
            Ok(a) => a,
            Err(r) => return r,
        };
        let s = self.state();
        envelope(list(
            self,
            req,
            &s.locations,
            active,
            |l| hq.is_none_or(|h| l.headquarter == h),
            order,
            |l, f| match f {
                "name" => Key::Text(&l.name),
                _ => Key::Int(l.id),
            },
            |l| render::location_view(l, &s),
        ))
    }

    fn get_location(&self, id: &str) -> Response {
        let s = self.state();
        match parse_id(id).and_then(|id| s.location(id)) {
            Some(l) => Response::json(StatusCode::OK, &single(render::location_view(l, &s))),
            None => not_found(),
        }
    }

    fn list_currencies(&self, req: &Request) -> Response {
        let mut q = Query::new(req);
        let active_f = q.boolean("active");
        let base = q.boolean("base");
        let name = q.text("name");
        let order = q.order_by(&["id", "name"]);
        let active = match q.finish() {
            Ok(a) => a,
            Err(r) => return r,
        };
        let s = self.state();
        envelope(list(
            self,
            req,
            &s.currencies,
            active,
            |c| {
                active_f.is_none_or(|a| c.active == a)
                    && base.is_none_or(|b| c.base == b)
                    && name.as_deref().is_none_or(|n| c.name == n)
            },
            order,
            |c, f| match f {
                "name" => Key::Text(&c.name),
                _ => Key::Int(c.id),
            },
            render::currency,
        ))
    }

    fn list_bills(&self, req: &Request) -> Response {
        let mut q = Query::new(req);
        let modified = q.datetime_range("last_modified_datetime");
        let modified_date = q.date_range("modified_date");
        let invoice = q.date_range("invoice_date");
        let vendor = q.integer("vendor");
        let order = q.order_by(&["id", "last_modified_datetime", "invoice_date", "due_date"]);
        let active = match q.finish() {
            Ok(a) => a,
            Err(r) => return r,
        };
        let s = self.state();
        let result = list(
            self,
            req,
            &s.bills,
            active,
            |b| {
                modified.contains(b.last_modified)
                    && modified_date.contains(b.last_modified)
                    && invoice.contains(b.invoice_date)
                    && vendor.is_none_or(|v| b.vendor == v)
            },
            order,
            |b, f| match f {
                "last_modified_datetime" => Key::Time(Some(b.last_modified)),
                "invoice_date" => Key::Time(Some(b.invoice_date)),
                "due_date" => Key::Time(Some(b.due_date)),
                _ => Key::Int(b.id),
            },
            |b| render::simple_bill(b, &s),
        );
        match result {
            Ok((data, pagination)) => {
                let total: f64 = data
                    .iter()
                    .filter_map(|b| b.get("total_cost_with_tax").and_then(Value::as_f64))
                    .sum();
                let currencies: std::collections::HashSet<u64> = data
                    .iter()
                    .filter_map(|b| b.pointer("/currency/id").and_then(Value::as_u64))
                    .collect();
                Response::json(
                    StatusCode::OK,
                    &json!({
                        "metadata": {
                            "summary": {"has_multiple_currency": currencies.len() > 1, "total_cost": (total * 100.0).round() / 100.0},
                            "permissions": {"can_edit": false, "can_delete": false, "can_approve": false},
                            "pagination": pagination,
                        },
                        "data": data,
                    }),
                )
            }
            Err(r) => r,
        }
    }
}

// ---------------------------------------------------------------- writes

/// Parses a JSON or form-encoded body into a JSON value (form values are
/// strings; repeated keys become arrays).
fn parse_body(req: &Request) -> Result<Value, Response> {
    let content_type = req
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let mut map = Map::new();
        for (k, v) in url::form_urlencoded::parse(&req.body) {
            match map.get_mut(k.as_ref()) {
                Some(Value::Array(list)) => list.push(Value::String(v.into_owned())),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, Value::String(v.into_owned())]);
                }
                None => {
                    map.insert(k.into_owned(), Value::String(v.into_owned()));
                }
            }
        }
        return Ok(Value::Object(map));
    }
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(&req.body)
        .map_err(|e| detail(StatusCode::BAD_REQUEST, &format!("JSON parse error - {e}")))
}

fn body_object(req: &Request) -> Result<Map<String, Value>, Response> {
    match parse_body(req)? {
        Value::Object(m) => Ok(m),
        other => {
            let kind = match other {
                Value::Array(_) => "list",
                Value::String(_) => "str",
                Value::Number(_) => "int",
                Value::Bool(_) => "bool",
                _ => "NoneType",
            };
            let mut e = Map::new();
            add_error(
                &mut e,
                "non_field_errors",
                format!("Invalid data. Expected a dictionary, but got {kind}."),
            );
            Err(bad_request(e))
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    /// CharField: max length, null allowed, blank allowed.
    Str(usize, bool, bool),
    Bool(bool),
    /// PrimaryKeyRelatedField / IntegerField; null allowed.
    Int(bool),
    Choice(&'static [i64]),
    EmailList,
    IntList,
    /// DecimalField (max digits before the point, places); null allowed.
    Decimal(u32, u32, bool),
}

struct Field {
    name: &'static str,
    kind: Kind,
    required: bool,
}

const fn f(name: &'static str, kind: Kind, required: bool) -> Field {
    Field {
        name,
        kind,
        required,
    }
}

const VENDOR_FIELDS: &[Field] = &[
    f("name", Kind::Str(150, false, false), true),
    f("active", Kind::Bool(false), false),
    f("addressLineOne", Kind::Str(300, true, true), false),
    f("addressLineTwo", Kind::Str(300, true, true), false),
    f("postalCode", Kind::Str(20, true, true), false),
    f("city", Kind::Str(50, true, true), false),
    f("state_province", Kind::Str(40, true, true), false),
    f("country", Kind::Str(80, true, true), false),
    f("phoneOne", Kind::Str(20, true, true), false),
    f("phoneTwo", Kind::Str(20, true, true), false),
    f("fax", Kind::Str(20, true, true), false),
    f("email", Kind::EmailList, true),
    f("comments", Kind::Str(usize::MAX, true, true), false),
    f("contact", Kind::Str(50, true, true), false),
    f("url", Kind::Str(200, true, true), false),
    f("external_id", Kind::Str(100, true, true), false),
    f("currency", Kind::Int(true), false),
    f("tax", Kind::Int(true), false),
    f("type", Kind::Choice(&[2, 7, 3, 4, 6]), true),
    f("default_payment_method", Kind::Int(true), false),
    f("is_1099_eligible", Kind::Bool(true), false),
    f("overall_score", Kind::Decimal(2, 3, true), true),
    f("is_auto_email_po_enabled", Kind::Bool(false), false),
    f("po_pdf_labels", Kind::Str(200, false, true), false),
];

const ACCOUNT_CODE_CREATE_FIELDS: &[Field] = &[
    f("description", Kind::Str(200, false, false), true),
    f("code", Kind::Str(50, false, false), true),
    f("parent", Kind::Int(true), false),
    f("account_type", Kind::Choice(&[0, 1, 2, 3, 4, 5]), false),
    f("departments", Kind::IntList, false),
];

const ACCOUNT_CODE_UPDATE_FIELDS: &[Field] = &[
    f("description", Kind::Str(200, false, false), true),
    f("code", Kind::Str(50, false, false), true),
    f("account_type", Kind::Choice(&[0, 1, 2, 3, 4, 5]), false),
];

const DEPARTMENT_FIELDS: &[Field] = &[
    f("branch", Kind::Int(false), true),
    f("external_id", Kind::Str(100, true, true), false),
    f("name", Kind::Str(150, false, false), true),
    f("active", Kind::Bool(false), false),
    f("punchout_email", Kind::Str(usize::MAX, true, true), false),
];

fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
}

/// Validates `body` against `fields` as a DRF serializer would; `partial`
/// (PATCH) skips required checks. Returns the cleaned fields present.
fn validate(
    body: &Map<String, Value>,
    fields: &[Field],
    partial: bool,
) -> Result<Map<String, Value>, Errors> {
    let mut errors = Map::new();
    let mut clean = Map::new();
    for field in fields {
        let Some(value) = body.get(field.name) else {
            if field.required && !partial {
                add_error(
                    &mut errors,
                    field.name,
                    "This field is required.".to_owned(),
                );
            }
            continue;
        };
        match check(field.kind, value) {
            Ok(v) => {
                clean.insert(field.name.to_owned(), v);
            }
            Err(e) => {
                errors.insert(field.name.to_owned(), e);
            }
        }
    }
    if errors.is_empty() {
        Ok(clean)
    } else {
        Err(errors)
    }
}

fn msg(text: impl Into<String>) -> Value {
    json!([text.into()])
}

fn check(kind: Kind, value: &Value) -> Result<Value, Value> {
    let nullable = match kind {
        Kind::Str(_, n, _) | Kind::Bool(n) | Kind::Int(n) | Kind::Decimal(_, _, n) => n,
        _ => false,
    };
    if value.is_null() {
        return if nullable {
            Ok(Value::Null)
        } else {
            Err(msg("This field may not be null."))
        };
    }
    match kind {
        Kind::Str(max, _, blank) => {
            let text = match value {
                Value::String(s) => s.clone(),
                // DRF's CharField accepts numbers and renders them as text.
                Value::Number(n) => n.to_string(),
                _ => return Err(msg("Not a valid string.")),
            };
            let trimmed = text.trim().to_owned();
            if trimmed.is_empty() && !blank {
                return Err(msg("This field may not be blank."));
            }
            if trimmed.chars().count() > max {
                return Err(msg(format!(
                    "Ensure this field has no more than {max} characters."
                )));
            }
            Ok(Value::String(trimmed))
        }
        Kind::Bool(_) => match value {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if ["true", "1", "True"].contains(&s.as_str()) => Ok(json!(true)),
            Value::String(s) if ["false", "0", "False"].contains(&s.as_str()) => Ok(json!(false)),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(json!(true)),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(json!(false)),
            _ => Err(msg("Must be a valid boolean.")),
        },
        Kind::Int(_) => int_of(value)
            .map(|i| json!(i))
            .ok_or_else(|| msg("A valid integer is required.")),
        Kind::Choice(allowed) => match int_of(value) {
            Some(i) if allowed.contains(&i) => Ok(json!(i)),
            _ => Err(msg(format!("\"{}\" is not a valid choice.", plain(value)))),
        },
        Kind::EmailList => {
            let Value::Array(list) = value else {
                return Err(msg(format!(
                    "Expected a list of items but got type \"{}\".",
                    py_type(value)
                )));
            };
            let mut child_errors = Map::new();
            for (i, v) in list.iter().enumerate() {
                if !v.as_str().is_some_and(valid_email) {
                    child_errors.insert(i.to_string(), msg("Enter a valid email address."));
                }
            }
            if child_errors.is_empty() {
                Ok(value.clone())
            } else {
                Err(Value::Object(child_errors))
            }
        }
        Kind::IntList => {
            let Value::Array(list) = value else {
                return Err(msg(format!(
                    "Expected a list of items but got type \"{}\".",
                    py_type(value)
                )));
            };
            let mut out = Vec::new();
            for v in list {
                match int_of(v) {
                    Some(i) => out.push(json!(i)),
                    None => {
                        return Err(msg(format!(
                            "Incorrect type. Expected pk value, received {}.",
                            py_type(v)
                        )));
                    }
                }
            }
            Ok(Value::Array(out))
        }
        Kind::Decimal(int_digits, places, _) => {
            let text = match value {
                Value::String(s) => s.trim().to_owned(),
                Value::Number(n) => n.to_string(),
                _ => return Err(msg("A valid number is required.")),
            };
            let d: Decimal = text
                .parse()
                .map_err(|_| msg("A valid number is required."))?;
            if d.scale() > places {
                return Err(msg(format!(
                    "Ensure that there are no more than {places} decimal places."
                )));
            }
            let whole = d.trunc().abs().to_string().trim_start_matches('0').len() as u32;
            if whole > int_digits {
                return Err(msg(format!(
                    "Ensure that there are no more than {int_digits} digits before the decimal point."
                )));
            }
            Ok(Value::String(render::dec(d, places)))
        }
    }
}

fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn py_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "str",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Object(_) => "dict",
        Value::Array(_) => "list",
        Value::Null => "NoneType",
    }
}

fn opt_string(v: Option<&Value>) -> Option<Option<String>> {
    v.map(|v| v.as_str().map(str::to_owned))
}

fn pk_missing(errors: &mut Errors, field: &str, id: i64) {
    add_error(
        errors,
        field,
        format!("Invalid pk \"{id}\" - object does not exist."),
    );
}

impl ProcurifyApi {
    fn create_vendor(&self, req: &Request) -> Response {
        let body = match body_object(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let mut s = self.state();
        let clean = match validate(&body, VENDOR_FIELDS, false).and_then(|c| vendor_refs(&s, c)) {
            Ok(c) => c,
            Err(e) => return bad_request(e),
        };
        let name = clean
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let id = s.add_vendor(&name, None);
        apply_vendor(&mut s, id, &clean);
        match s.vendor(id) {
            Some(v) => Response::json(StatusCode::CREATED, &single(render::vendor_detail(v))),
            None => not_found(),
        }
    }

    fn update_vendor(&self, req: &Request, id: &str, partial: bool) -> Response {
        let mut s = self.state();
        let Some(id) = parse_id(id).filter(|id| s.vendor(*id).is_some()) else {
            return not_found();
        };
        let body = match body_object(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let clean = match validate(&body, VENDOR_FIELDS, partial).and_then(|c| vendor_refs(&s, c)) {
            Ok(c) => c,
            Err(e) => return bad_request(e),
        };
        apply_vendor(&mut s, id, &clean);
        let now = s.tick();
        if let Some(v) = s.vendor_mut(id) {
            v.date_modified = now;
        }
        match s.vendor(id) {
            Some(v) if partial => {
                Response::json(StatusCode::OK, &single(render::vendor_optimized(v)))
            }
            Some(v) => Response::json(StatusCode::OK, &single(render::vendor_plain(v))),
            None => not_found(),
        }
    }

    fn create_account_code(&self, req: &Request) -> Response {
        let body = match body_object(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let mut s = self.state();
        let clean = match validate(&body, ACCOUNT_CODE_CREATE_FIELDS, false) {
            Ok(c) => c,
            Err(e) => return bad_request(e),
        };
        let mut errors = Map::new();
        let code = clean
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if s.account_codes.iter().any(|c| c.code == code) {
            add_error(
                &mut errors,
                "code",
                "account code with this code already exists.".to_owned(),
            );
        }
        let parent = clean.get("parent").and_then(Value::as_i64);
        if let Some(p) = parent
            && u64::try_from(p)
                .ok()
                .and_then(|p| s.account_code(p))
                .is_none()
        {
            pk_missing(&mut errors, "parent", p);
        }
        let mut departments = Vec::new();
        for d in clean
            .get("departments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
        {
            match u64::try_from(d).ok().filter(|d| s.department(*d).is_some()) {
                Some(d) => departments.push(d),
                None => pk_missing(&mut errors, "departments", d),
            }
        }
        if !errors.is_empty() {
            return bad_request(errors);
        }
        let id = s.account_codes.len() as u64 + 1;
        s.account_codes.push(super::model::AccountCode {
            id,
            code,
            description: clean
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            account_type: clean
                .get("account_type")
                .and_then(Value::as_u64)
                .and_then(|t| u8::try_from(t).ok())
                .unwrap_or(0),
            active: true,
            parent: parent.and_then(|p| u64::try_from(p).ok()),
        });
        for dept in departments {
            let account_id = s.accounts.len() as u64 + 1;
            s.accounts.push(super::model::Account {
                id: account_id,
                account_code: id,
                department: dept,
                active: true,
                budget: Decimal::ZERO,
            });
        }
        match s.account_code(id) {
            Some(c) => Response::json(
                StatusCode::CREATED,
                &single(render::account_code_read(c, &s)),
            ),
            None => not_found(),
        }
    }

    fn update_account_code(&self, req: &Request, id: &str) -> Response {
        let mut s = self.state();
        let Some(id) = parse_id(id).filter(|id| s.account_code(*id).is_some()) else {
            return not_found();
        };
        let body = match body_object(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let clean = match validate(&body, ACCOUNT_CODE_UPDATE_FIELDS, false) {
            Ok(c) => c,
            Err(e) => return bad_request(e),
        };
        let code = clean
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if s.account_codes.iter().any(|c| c.code == code && c.id != id) {
            let mut e = Map::new();
            add_error(
                &mut e,
                "code",
                "account code with this code already exists.".to_owned(),
            );
            return bad_request(e);
        }
        if let Some(c) = s.account_code_mut(id) {
            c.code = code;
            if let Some(d) = clean.get("description").and_then(Value::as_str) {
                d.clone_into(&mut c.description);
            }
            if let Some(t) = clean.get("account_type").and_then(Value::as_u64) {
                c.account_type = u8::try_from(t).unwrap_or(c.account_type);
            }
        }
        match s.account_code(id) {
            Some(c) => Response::json(StatusCode::OK, &single(render::account_code_read(c, &s))),
            None => not_found(),
        }
    }

    fn upsert_department(&self, req: &Request, id: Option<&str>) -> Response {
        let mut s = self.state();
        let existing = match id {
            Some(text) => match parse_id(text).filter(|id| s.department(*id).is_some()) {
                Some(id) => Some(id),
                None => return not_found(),
            },
            None => None,
        };
        let body = match body_object(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let clean = match validate(&body, DEPARTMENT_FIELDS, false) {
            Ok(c) => c,
            Err(e) => return bad_request(e),
        };
        let branch = clean.get("branch").and_then(Value::as_i64).unwrap_or(0);
        if u64::try_from(branch)
            .ok()
            .and_then(|b| s.location(b))
            .is_none()
        {
            let mut e = Map::new();
            pk_missing(&mut e, "branch", branch);
            return bad_request(e);
        }
        let name = clean
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let external_id = clean
            .get("external_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let id = match existing {
            Some(id) => id,
            None => s.add_department(&name, external_id.as_deref()),
        };
        if let Some(d) = s.department_mut(id) {
            d.name = name;
            d.branch = branch.unsigned_abs();
            if let Some(e) = opt_string(clean.get("external_id")) {
                d.external_id = e;
            }
            if let Some(a) = clean.get("active").and_then(Value::as_bool) {
                d.active = a;
            }
            if let Some(p) = opt_string(clean.get("punchout_email")) {
                d.punchout_email = p;
            }
        }
        let status = if existing.is_some() {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        match s.department(id) {
            Some(d) => Response::json(status, &single(render::department_read(d, &s))),
            None => not_found(),
        }
    }

    fn close_po(&self, id: &str) -> Response {
        let mut s = self.state();
        let Some(id) = parse_id(id) else {
            return not_found();
        };
        match s.close_purchase_order(id) {
            Ok(()) => match s.purchase_order(id) {
                Some(po) => Response::json(StatusCode::OK, &single(render::po_read_docs(po, &s))),
                None => not_found(),
            },
            Err(e) => mutation_error(e),
        }
    }

    fn reopen_po(&self, id: &str) -> Response {
        let mut s = self.state();
        let Some(id) = parse_id(id) else {
            return not_found();
        };
        match s.reopen_purchase_order(id) {
            // The spec documents "No response body" for reopen.
            Ok(()) => Response::new(StatusCode::OK, "application/json", ""),
            Err(e) => mutation_error(e),
        }
    }
}

fn mutation_error(e: MutationError) -> Response {
    match e {
        MutationError::NotFound { .. } => not_found(),
        MutationError::InvalidState(text) => {
            let text = text.trim_start_matches("procurify sandbox: ").to_owned();
            let mut errors = Map::new();
            add_error(&mut errors, "non_field_errors", capitalize(&text));
            bad_request(errors)
        }
    }
}

fn capitalize(text: &str) -> String {
    let mut c = text.chars();
    match c.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), c.as_str()),
        None => String::new(),
    }
}

/// Checks the vendor's related ids exist (currency).
fn vendor_refs(
    s: &ProcurifyState,
    clean: Map<String, Value>,
) -> Result<Map<String, Value>, Errors> {
    let mut errors = Map::new();
    if let Some(c) = clean.get("currency").and_then(Value::as_i64)
        && u64::try_from(c).ok().and_then(|c| s.currency(c)).is_none()
    {
        pk_missing(&mut errors, "currency", c);
    }
    if errors.is_empty() {
        Ok(clean)
    } else {
        Err(errors)
    }
}

fn apply_vendor(s: &mut ProcurifyState, id: u64, clean: &Map<String, Value>) {
    let Some(v) = s.vendor_mut(id) else {
        return;
    };
    let text = |k: &str| opt_string(clean.get(k));
    if let Some(Some(n)) = text("name") {
        v.name = n;
    }
    if let Some(a) = clean.get("active").and_then(Value::as_bool) {
        v.active = a;
    }
    for (key, slot) in [
        ("addressLineOne", &mut v.address_line_one),
        ("addressLineTwo", &mut v.address_line_two),
        ("postalCode", &mut v.postal_code),
        ("city", &mut v.city),
        ("state_province", &mut v.state_province),
        ("country", &mut v.country),
        ("phoneOne", &mut v.phone_one),
        ("comments", &mut v.comments),
        ("contact", &mut v.contact),
        ("url", &mut v.url),
        ("external_id", &mut v.external_id),
    ] {
        if let Some(val) = text(key) {
            *slot = val;
        }
    }
    if let Some(list) = clean.get("email").and_then(Value::as_array) {
        v.email = list
            .iter()
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect();
    }
    if let Some(c) = clean.get("currency") {
        v.currency = c.as_u64();
    }
    if let Some(t) = clean.get("type").and_then(Value::as_u64) {
        v.vendor_type = u8::try_from(t).unwrap_or(v.vendor_type);
    }
    if let Some(e) = clean.get("is_1099_eligible") {
        v.is_1099_eligible = e.as_bool();
    }
    if let Some(score) = clean.get("overall_score") {
        v.overall_score = score.as_str().and_then(|t| t.parse().ok());
    }
    if let Some(b) = clean
        .get("is_auto_email_po_enabled")
        .and_then(Value::as_bool)
    {
        v.is_auto_email_po_enabled = b;
    }
    if let Some(Some(l)) = text("po_pdf_labels") {
        v.po_pdf_labels = l;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_need_the_trailing_slash() {
        assert_eq!(route("/api/v3/order-items/"), Some(Route::OrderItems));
        assert_eq!(route("/api/v3/order-items"), None);
        assert_eq!(
            route("/api/v3/purchase-orders/12/close/"),
            Some(Route::ClosePo("12".into()))
        );
        assert_eq!(
            route("/api/v2/purchase_orders/purchased/open/"),
            Some(Route::PurchaseOrders {
                role: "purchased".into(),
                status: "open".into()
            })
        );
        assert_eq!(route("/oauth/token"), Some(Route::Token));
    }

    #[test]
    fn email_check_accepts_plain_addresses_only() {
        assert!(valid_email("a.b@example.com"));
        assert!(!valid_email("nope"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("a b@example.com"));
    }

    #[test]
    fn decimal_check_enforces_places_and_digits() {
        let k = Kind::Decimal(2, 3, true);
        assert_eq!(check(k, &json!("12.5")), Ok(json!("12.500")));
        assert!(check(k, &json!("1.2345")).is_err());
        assert!(check(k, &json!("123")).is_err());
        assert_eq!(check(k, &Value::Null), Ok(Value::Null));
    }
}
