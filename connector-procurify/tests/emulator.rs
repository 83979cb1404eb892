//! The connector's full request/reply path against the Procurify emulator of
//! `mlc-sandbox`, called in-process as an `exchange::Handler` (no host, no
//! sockets). The `Env` here plays the host's part: it adds the bearer token
//! the host would attach. Host-level tests come with the runtime.

use std::cell::RefCell;
use std::sync::Arc;

use bytes::Bytes;
use connector_procurify::refs::Cache;
use connector_procurify::streams;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use mlc_guest::Env;
use mlc_guest::host::Level;
use mlc_guest::http::{Request, Response, SendError, split_url};
use mlc_guest::{Connection, Doc, Failure, Page};
use mlc_sandbox::exchange::{self, Handler};
use mlc_sandbox::procurify::{
    ProcurifyApi, ProcurifyConfig, ProcurifySandbox, order_status, po_state,
};
use serde_json::{Value, json};

/// A started emulator plus the runtime its server lives on.
struct Emulator {
    _rt: tokio::runtime::Runtime,
    sandbox: ProcurifySandbox,
}

fn emulator(requisitions: usize) -> Emulator {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let config = ProcurifyConfig {
        requisitions,
        ..ProcurifyConfig::default()
    };
    let sandbox = rt
        .block_on(ProcurifySandbox::start(config))
        .expect("emulator starts");
    Emulator { _rt: rt, sandbox }
}

/// The host's part: bearer token on every call, requests handed to the emulator.
struct HostStandIn {
    api: Arc<ProcurifyApi>,
    token: String,
    sent: RefCell<Vec<String>>,
}

impl HostStandIn {
    fn new(e: &Emulator) -> HostStandIn {
        HostStandIn {
            api: e.sandbox.api().clone(),
            token: e.sandbox.issue_token(),
            sent: RefCell::default(),
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = (b[i] == b'%' && i + 3 <= b.len())
            .then(|| std::str::from_utf8(&b[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (hex, b[i]) {
            (Some(v), _) => {
                out.push(v);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, c) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Env for HostStandIn {
    fn send(&self, request: &Request) -> Result<Response, SendError> {
        let parts = split_url(&request.url)?;
        self.sent
            .borrow_mut()
            .push(format!("{} {}", request.method, parts.path_with_query));
        let mut headers = HeaderMap::new();
        for (k, v) in &request.headers {
            headers.insert(
                HeaderName::from_bytes(k.as_bytes())
                    .map_err(|e| SendError::BadUrl(e.to_string()))?,
                HeaderValue::from_str(v).map_err(|e| SendError::BadUrl(e.to_string()))?,
            );
        }
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {}", self.token))
                .map_err(|e| SendError::BadUrl(e.to_string()))?,
        );
        let (path, query) = parts
            .path_with_query
            .split_once('?')
            .unwrap_or((&parts.path_with_query, ""));
        let query = query
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        let reply = self.api.handle(&exchange::Request {
            method: Method::from_bytes(request.method.as_bytes())
                .map_err(|e| SendError::BadUrl(e.to_string()))?,
            path: path.to_string(),
            query,
            headers,
            body: Bytes::from(request.body.clone()),
            origin: format!("{}://{}", parts.scheme, parts.authority),
        });
        Ok(Response {
            status: reply.status.as_u16(),
            headers: reply
                .headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
            body: reply.body.to_vec(),
        })
    }
    fn now_ms(&self) -> u64 {
        0
    }
    fn log(&self, _level: Level, _message: &str) {}
}

fn conn(e: &Emulator, config: &str) -> Connection {
    Connection {
        base_url: e.sandbox.base_url(),
        config: config.to_string(),
    }
}

/// Reads `stream` from `cursor` until `more` is false; returns every page.
fn read_pass(
    host: &HostStandIn,
    cache: &mut Cache,
    c: &Connection,
    stream: &str,
    cursor: Option<String>,
) -> Vec<Page> {
    let mut pages = Vec::new();
    let mut cursor = cursor;
    loop {
        let page = connector_procurify::with_ctx(host, cache, "test", c, |ctx| {
            streams::read(ctx, stream, cursor.as_deref())
        })
        .unwrap_or_else(|f| panic!("read {stream}: {f:?}"));
        cursor = page.cursor.clone();
        let more = page.more;
        pages.push(page);
        if !more {
            return pages;
        }
        assert!(pages.len() < 10_000, "read {stream} never ends");
    }
}

fn all_docs(pages: &[Page]) -> Vec<(String, Value)> {
    pages
        .iter()
        .flat_map(|p| {
            p.docs.iter().map(|d| {
                (
                    d.key.clone(),
                    serde_json::from_str(&d.body).expect("doc is JSON"),
                )
            })
        })
        .collect()
}

fn no_bad_records(stream: &str, pages: &[Page]) {
    let bad: Vec<_> = pages
        .iter()
        .flat_map(|p| {
            p.bad_records
                .iter()
                .map(|b| format!("{}: {}", b.key, b.reason))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{stream}: bad records from the emulator: {bad:#?}"
    );
}

#[test]
fn check_passes_with_a_token_and_fails_unauthorized_without() {
    let e = emulator(5);
    let host = HostStandIn::new(&e);
    connector_procurify::check(&host, &conn(&e, "")).unwrap();
    let stranger = HostStandIn {
        token: "forged".into(),
        ..HostStandIn::new(&e)
    };
    assert!(matches!(
        connector_procurify::check(&stranger, &conn(&e, "")),
        Err(Failure::Unauthorized(_))
    ));
}

#[test]
fn every_read_stream_reads_completely_across_pages() {
    let e = emulator(60);
    let host = HostStandIn::new(&e);
    let c = conn(&e, r#"{"page_size": 7}"#);
    let mut cache = Cache::default();
    let expected = {
        let s = e.sandbox.state();
        vec![
            (
                "approved_requisitions",
                s.orders_with_status(order_status::APPROVED).len(),
            ),
            (
                "ordered_items",
                s.items
                    .iter()
                    .filter(|i| i.purchase_order.is_some())
                    .count(),
            ),
            ("purchase_orders", s.purchase_orders.len()),
            ("vendors", s.vendors.len()),
            ("account_codes", s.account_codes.len()),
            ("departments", s.departments.len()),
            ("accounts", s.accounts.len()),
            ("bills", s.bills.len()),
        ]
    };
    for (stream, count) in expected {
        let pages = read_pass(&host, &mut cache, &c, stream, None);
        no_bad_records(stream, &pages);
        let docs = all_docs(&pages);
        let mut keys: Vec<&str> = docs.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(
            keys.len(),
            docs.len(),
            "{stream}: a record came twice in one pass"
        );
        assert_eq!(
            docs.len(),
            count,
            "{stream}: documents read vs records in the emulator"
        );
        if count > 7 {
            assert!(pages.len() > 1, "{stream}: expected several pages");
        }
    }
}

#[test]
fn approved_requisitions_carry_what_a_peoplesoft_po_needs() {
    let e = emulator(40);
    let host = HostStandIn::new(&e);
    let c = conn(&e, "");
    let mut cache = Cache::default();
    let pages = read_pass(&host, &mut cache, &c, "approved_requisitions", None);
    no_bad_records("approved_requisitions", &pages);
    let docs = all_docs(&pages);
    assert!(
        !docs.is_empty(),
        "the seeded tenant has approved requisitions"
    );
    let s = e.sandbox.state();
    for (key, req) in &docs {
        let num: u64 = key.parse().unwrap();
        let lines = req["lines"].as_array().unwrap();
        let expected_lines = s.items.iter().filter(|i| i.order_num == num).count();
        assert_eq!(lines.len(), expected_lines, "requisition {key}: lines");
        assert_eq!(req["status_name"], "approved");
        for line in lines {
            for field in ["quantity", "unit_price"] {
                let v = line[field]
                    .as_str()
                    .unwrap_or_else(|| panic!("{key}: {field} is not a string: {line}"));
                assert!(
                    !v.ends_with('0') || !v.contains('.'),
                    "{key}: {field} {v} is not canonical"
                );
            }
            assert!(
                line["unit"].is_string() && line["name"].is_string(),
                "{line}"
            );
            assert!(
                line["account"]["code"].is_string(),
                "{key}: line without account code: {line}"
            );
            assert!(
                line["department"]["id"].is_i64(),
                "{key}: line without department: {line}"
            );
            assert!(
                line["vendor"]["name"].is_string(),
                "{key}: line without vendor: {line}"
            );
            let item = s.item(line["id"].as_u64().unwrap()).unwrap();
            let vendor = s.vendor(item.pref_vendor).unwrap();
            assert_eq!(
                line["vendor"]["external_id"].as_str(),
                vendor.external_id.as_deref()
            );
            let account = s.account(item.account).unwrap();
            assert_eq!(line["department"]["id"].as_u64(), Some(account.department));
        }
    }
}

#[test]
fn second_pass_rereads_only_the_overlap_window() {
    let e = emulator(40);
    let host = HostStandIn::new(&e);
    let c = conn(&e, r#"{"overlap_secs": 0}"#);
    let mut cache = Cache::default();
    let first = read_pass(&host, &mut cache, &c, "ordered_items", None);
    let first_count = all_docs(&first).len();
    let cursor = first.last().unwrap().cursor.clone();
    let second = read_pass(&host, &mut cache, &c, "ordered_items", cursor.clone());
    let second_count = all_docs(&second).len();
    assert!(
        second_count < first_count,
        "second pass {second_count} vs first {first_count}"
    );
    assert!(
        second_count >= 1,
        "the date-only filter re-reads the last day at least"
    );
    let third = read_pass(
        &host,
        &mut cache,
        &c,
        "ordered_items",
        second.last().unwrap().cursor.clone(),
    );
    assert_eq!(
        all_docs(&third).len(),
        second_count,
        "nothing changed: the same window"
    );
    // Full scans emit nothing unchanged on the next pass.
    let v1 = read_pass(&host, &mut cache, &c, "vendors", None);
    let v2 = read_pass(
        &host,
        &mut cache,
        &c,
        "vendors",
        v1.last().unwrap().cursor.clone(),
    );
    assert!(!all_docs(&v1).is_empty());
    assert!(all_docs(&v2).is_empty(), "unchanged vendors emitted again");
}

fn write(
    host: &HostStandIn,
    c: &Connection,
    stream: &str,
    key: &str,
    body: Value,
) -> Result<String, Failure> {
    let mut cache = Cache::default();
    connector_procurify::with_ctx(host, &mut cache, "test", c, |ctx| {
        streams::write(
            ctx,
            stream,
            &Doc {
                key: key.into(),
                body: body.to_string(),
            },
        )
    })
    .map(|w| w.target_key)
}

fn lookup(host: &HostStandIn, c: &Connection, stream: &str, key: &str) -> Option<String> {
    let mut cache = Cache::default();
    connector_procurify::with_ctx(host, &mut cache, "test", c, |ctx| {
        streams::lookup(ctx, stream, key)
    })
    .unwrap_or_else(|f| panic!("lookup {stream} {key}: {f:?}"))
}

#[test]
fn every_write_lands_and_is_found_by_lookup() {
    let e = emulator(30);
    let host = HostStandIn::new(&e);
    let location = e.sandbox.state().locations[0].id;
    let c = conn(&e, &format!(r#"{{"department_location_id": {location}}}"#));

    assert_eq!(lookup(&host, &c, "vendors", "0000009001"), None);
    let vendor = write(
        &host,
        &c,
        "vendors",
        "0000009001",
        json!({"name": "Würth Industrie & Söhne <GmbH>", "email": ["ap@wurth.example"]}),
    )
    .unwrap();
    assert_eq!(
        lookup(&host, &c, "vendors", "0000009001").as_deref(),
        Some(vendor.as_str())
    );
    // Writing the same key again updates the same vendor: no duplicate.
    let again = write(
        &host,
        &c,
        "vendors",
        "0000009001",
        json!({"name": "Würth Industrie & Söhne <GmbH>", "active": false}),
    )
    .unwrap();
    assert_eq!(again, vendor);
    assert!(
        !e.sandbox
            .state()
            .vendor(vendor.parse().unwrap())
            .unwrap()
            .active
    );

    let code = write(
        &host,
        &c,
        "account_codes",
        "690000",
        json!({"description": "Training", "account_type": 2}),
    )
    .unwrap();
    assert_eq!(
        lookup(&host, &c, "account_codes", "690000").as_deref(),
        Some(code.as_str())
    );
    assert_eq!(
        write(
            &host,
            &c,
            "account_codes",
            "690000",
            json!({"description": "Training & Courses"})
        )
        .unwrap(),
        code
    );

    let dept = write(
        &host,
        &c,
        "departments",
        "70100",
        json!({"name": "Research", "active": true}),
    )
    .unwrap();
    assert_eq!(
        lookup(&host, &c, "departments", "70100").as_deref(),
        Some(dept.as_str())
    );
    assert_eq!(
        lookup(&host, &c, "departments", "Research").as_deref(),
        Some(dept.as_str())
    );
    assert_eq!(
        write(&host, &c, "departments", "70100", json!({"name": "R&D"})).unwrap(),
        dept
    );

    let open_po = {
        let s = e.sandbox.state();
        s.purchase_orders
            .iter()
            .find(|p| p.state == po_state::PURCHASED)
            .map(|p| p.id)
            .expect("an open PO")
    };
    let key = open_po.to_string();
    assert_eq!(lookup(&host, &c, "purchase_order_closures", &key), None);
    assert_eq!(
        write(&host, &c, "purchase_order_closures", &key, json!({})).unwrap(),
        key
    );
    assert_eq!(
        lookup(&host, &c, "purchase_order_closures", &key).as_deref(),
        Some(key.as_str())
    );
    // Closing twice is a no-op, not an error.
    assert_eq!(
        write(&host, &c, "purchase_order_closures", &key, json!({})).unwrap(),
        key
    );
}

#[test]
fn emulator_validation_errors_come_back_rejected_with_field_messages() {
    let e = emulator(5);
    let host = HostStandIn::new(&e);
    let c = conn(&e, "");
    match write(
        &host,
        &c,
        "vendors",
        "0000009002",
        json!({"name": "Bad Mail Ltd", "email": ["not-an-address"]}),
    ) {
        Err(Failure::Rejected(m)) => assert!(m.contains("email"), "{m}"),
        other => panic!("{other:?}"),
    }
    match write(&host, &c, "purchase_order_closures", "999999", json!({})) {
        Err(Failure::Rejected(m)) => assert!(m.contains("404"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn next_pass_delivers_what_changed_in_the_emulator() {
    let e = emulator(40);
    let host = HostStandIn::new(&e);
    let c = conn(&e, "");
    let mut cache = Cache::default();
    let first = read_pass(&host, &mut cache, &c, "approved_requisitions", None);
    let req_cursor = first.last().unwrap().cursor.clone();
    let v1 = read_pass(&host, &mut cache, &c, "vendors", None);
    let vendor_cursor = v1.last().unwrap().cursor.clone();
    let d1 = read_pass(&host, &mut cache, &c, "departments", None);
    let dept_cursor = d1.last().unwrap().cursor.clone();

    let (approved, modified, vendor, dept) = {
        let mut s = e.sandbox.state();
        let approved = s.approve_more(3);
        let modified = s.orders_with_status(order_status::APPROVED)[0].num;
        s.modify_approved(modified)
            .expect("modify an approved requisition");
        let vendor = s.add_vendor("Nordic Fasteners AB", Some("0000009100"));
        let dept = s.add_department("Quality Lab", Some("20400"));
        (approved, modified, vendor, dept)
    };

    let second = read_pass(&host, &mut cache, &c, "approved_requisitions", req_cursor);
    no_bad_records("approved_requisitions", &second);
    let docs = all_docs(&second);
    for num in approved.iter().chain([&modified]) {
        assert!(
            docs.iter().any(|(k, _)| k == &num.to_string()),
            "requisition {num} missing from the next pass"
        );
    }
    let (_, changed) = docs
        .iter()
        .find(|(k, _)| k == &modified.to_string())
        .unwrap();
    let item_id = changed["lines"][0]["id"].as_u64().unwrap();
    let expected_qty = e
        .sandbox
        .state()
        .item(item_id)
        .unwrap()
        .approved_quantity
        .map(|q| q.normalize().to_string());
    assert_eq!(
        changed["lines"][0]["quantity"].as_str().map(str::to_string),
        expected_qty
    );

    let v2 = all_docs(&read_pass(&host, &mut cache, &c, "vendors", vendor_cursor));
    assert_eq!(
        v2.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        vec![vendor.to_string()]
    );
    assert_eq!(v2[0].1["external_id"], "0000009100");
    let d2 = all_docs(&read_pass(
        &host,
        &mut cache,
        &c,
        "departments",
        dept_cursor,
    ));
    assert_eq!(
        d2.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        vec![dept.to_string()]
    );
    assert_eq!(d2[0].1["external_id"], "20400");
}
