//! PeopleSoft connector through the host against the PeopleSoft Integration
//! Broker emulator (issue 5's acceptance): purchase orders land field by
//! field, lookups by PO_REF, the unactivated-operation story, a second site
//! with other namespaces, every fault class, all auth schemes, the reads and
//! the master-data writes.

use http::Method;
use mlc_host::credentials::{Credentials, SecretRef, Setting, TokenBody, TokenEndpoint};
use mlc_host::events::{Event, TokenReason};
use mlc_host::runtime::{CallError, Connection, Connector, ConnectorInstance, Doc, Failure, Page};
use mlc_sandbox::faults::{Fault, FaultRule};
use mlc_sandbox::peoplesoft::{
    AuthPolicy, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD, DEMO_STATIC_TOKEN, DEMO_USER,
    INACTIVE_ACCOUNT, LISTENER_PATH, PeopleSoftConfig, PeopleSoftSandbox, PurchaseOrder,
    TOKEN_PATH,
};
use mlc_tests::SandboxBuilder;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

const TENANT: &str = "acme";
const PO_CREATE: &str = "CI_PO_EXPRESS_C";
/// A shared supplier whose NAME1 is `Barnes & Noble Office <B2B>`.
const HOSTILE_VENDOR: &str = "0000000102";

fn peoplesoft() -> Connector {
    static CONNECTOR: OnceLock<Connector> = OnceLock::new();
    CONNECTOR
        .get_or_init(|| {
            mlc_tests::runtime()
                .load("peoplesoft", mlc_host::components::CONNECTOR_PEOPLESOFT)
                .expect("the peoplesoft component loads")
                .0
        })
        .clone()
}

fn secret(name: &str) -> SecretRef {
    SecretRef::parse(&format!("secret:{name}")).unwrap()
}

/// The credentials of tests that are not about authentication. WS-Security
/// is what a site checks without extra setup, but HTTP Basic is used here so
/// that these tests exercise the connector, not the host's WSSE insertion
/// (which `wsse_username_token_works_end_to_end` covers).
fn site_credentials() -> Credentials {
    basic()
}

fn wsse() -> Credentials {
    Credentials::Wsse {
        username: Setting::Plain(DEMO_USER.into()),
        password: secret("ps/password"),
    }
}

fn basic() -> Credentials {
    Credentials::Basic {
        username: Setting::Plain(DEMO_USER.into()),
        password: secret("ps/password"),
    }
}

fn static_bearer() -> Credentials {
    Credentials::Bearer {
        token: secret("ps/token"),
    }
}

fn oauth2(ps: &PeopleSoftSandbox) -> Credentials {
    Credentials::OAuth2ClientCredentials {
        endpoint: TokenEndpoint {
            url: ps.token_url(),
            body: TokenBody::Form,
            audience: None,
            scope: None,
            default_ttl_secs: 3600,
        },
        client_id: Setting::Plain(DEMO_CLIENT_ID.into()),
        client_secret: secret("ps/client_secret"),
    }
}

async fn site(config: PeopleSoftConfig) -> PeopleSoftSandbox {
    PeopleSoftSandbox::start(config)
        .await
        .expect("the PeopleSoft emulator starts")
}

async fn demo_site() -> PeopleSoftSandbox {
    site(PeopleSoftConfig::default()).await
}

/// A sandbox for the emulator's origin with `credentials`; every secret the
/// demo site knows is stored under `ps/...`.
fn sandbox(ps: &PeopleSoftSandbox, credentials: Credentials) -> SandboxBuilder {
    SandboxBuilder::new(TENANT, &ps.base_url())
        .credentials(credentials)
        .secret("ps/password", DEMO_PASSWORD)
        .secret("ps/token", DEMO_STATIC_TOKEN)
        .secret("ps/client_secret", DEMO_CLIENT_SECRET)
}

fn connection(ps: &PeopleSoftSandbox) -> Connection {
    Connection {
        base_url: ps.base_url(),
        config: json!({"node": "PSFT_EP", "business_unit": "US001"}).to_string(),
    }
}

async fn instance(builder: &SandboxBuilder) -> ConnectorInstance {
    peoplesoft()
        .instantiate(&builder.build())
        .await
        .expect("the peoplesoft component instantiates")
}

async fn instance_with(ps: &PeopleSoftSandbox, credentials: Credentials) -> ConnectorInstance {
    instance(&sandbox(ps, credentials)).await
}

fn failure_of(err: CallError) -> Failure {
    match err.failure() {
        Some(f) => f.clone(),
        None => panic!("expected a classified failure, got {err}"),
    }
}

fn doc(key: &str, body: &Value) -> Doc {
    Doc {
        key: key.into(),
        body: body.to_string(),
    }
}

/// A purchase order with three lines, several schedules and distributions,
/// exact decimals of every scale, every optional field, and descriptions
/// with XML-hostile characters, accents and CJK.
fn rich_po(po_ref: &str) -> Value {
    json!({
        "po_ref": po_ref,
        "vendor_id": HOSTILE_VENDOR,
        "po_date": "2026-11-02",
        "buyer_id": "MLC_BUYER",
        "currency": "USD",
        "lines": [
            {"line_nbr": 1, "description": "Nitrile gloves & <masks> \"L\" size 'blue' ]]>",
             "unit_of_measure": "BX", "category_id": "SAFETY",
             "schedules": [
                {"sched_nbr": 1, "quantity": "10.5000", "price": "12.34567",
                 "due_date": "2026-11-20", "shipto_id": "SHIP01",
                 "distributions": [
                    {"distrib_line_num": 1, "quantity": "6.25", "account": "670000", "deptid": "20100",
                     "business_unit_gl": "US001", "operating_unit": "PLANT1", "fund_code": "F100",
                     "product": "PRD1", "project_id": "PRJ-2026-01"},
                    {"distrib_line_num": 2, "quantity": "4.25", "account": "670000", "deptid": "20200"}
                 ]},
                {"sched_nbr": 2, "quantity": "3", "price": "12.34567", "due_date": "2026-12-01",
                 "distributions": [
                    {"distrib_line_num": 1, "quantity": "3", "account": "621000", "deptid": "30100"}
                 ]}
             ]},
            {"line_nbr": 2, "description": "Café filters — Société Générale grade, 東京精密 コーヒーフィルター",
             "unit_of_measure": "EA", "inv_item_id": "ITEM-00042",
             "schedules": [
                {"sched_nbr": 1, "quantity": "0.0001", "price": "99999.99999",
                 "distributions": [
                    {"distrib_line_num": 1, "quantity": "0.0001", "account": "610000"}
                 ]}
             ]},
            {"line_nbr": 3, "description": "Freight",
             "schedules": [
                {"sched_nbr": 1, "quantity": "1", "price": "150.00",
                 "distributions": [
                    {"distrib_line_num": 1, "quantity": "1", "account": "640000", "deptid": "50100"}
                 ]}
             ]}
        ]
    })
}

/// A one-line purchase order.
fn small_po(po_ref: &str) -> Value {
    json!({
        "po_ref": po_ref,
        "vendor_id": "0000000101",
        "currency": "USD",
        "lines": [{"line_nbr": 1, "description": "Safety glasses", "unit_of_measure": "EA",
            "schedules": [{"sched_nbr": 1, "quantity": "4", "price": "7.25",
                "distributions": [{"distrib_line_num": 1, "quantity": "4", "account": "670000", "deptid": "20300"}]}]}]
    })
}

/// A two-line purchase order with cent prices.
fn two_line_po(po_ref: &str) -> Value {
    let mut po = small_po(po_ref);
    po["lines"].as_array_mut().unwrap().push(json!({"line_nbr": 2, "description": "Ear plugs", "unit_of_measure": "BX",
        "schedules": [{"sched_nbr": 1, "quantity": "12", "price": "3.10",
            "distributions": [{"distrib_line_num": 1, "quantity": "12", "account": "670000", "deptid": "20100"}]}]}));
    po
}

fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).map(str::to_string)
}

fn number(v: &Value, field: &str) -> u32 {
    v[field].as_u64().expect("a whole number") as u32
}

/// Asserts that the emulator holds exactly the order `sent` describes.
fn assert_po_is(po: &PurchaseOrder, sent: &Value, business_unit: &str, setid: &str) {
    assert_eq!(po.business_unit, business_unit);
    assert_eq!(po.vendor_setid.as_deref(), Some(setid));
    assert_eq!(Some(po.vendor_id.clone()), text(sent, "vendor_id"));
    assert_eq!(po.po_dt, text(sent, "po_date"));
    assert_eq!(po.buyer_id, text(sent, "buyer_id"));
    assert_eq!(po.currency_cd, text(sent, "currency"));
    assert_eq!(po.po_ref, text(sent, "po_ref"));
    let lines = sent["lines"].as_array().unwrap();
    assert_eq!(po.lines.len(), lines.len(), "PO_LINE rows");
    for (line, sent_line) in po.lines.iter().zip(lines) {
        let at = format!("line {}", line.line_nbr);
        assert_eq!(line.line_nbr, number(sent_line, "line_nbr"), "{at}");
        assert_eq!(line.descr254_mixed, text(sent_line, "description"), "{at}");
        assert_eq!(
            line.unit_of_measure,
            text(sent_line, "unit_of_measure"),
            "{at}"
        );
        assert_eq!(line.inv_item_id, text(sent_line, "inv_item_id"), "{at}");
        assert_eq!(line.category_id, text(sent_line, "category_id"), "{at}");
        let schedules = sent_line["schedules"].as_array().unwrap();
        assert_eq!(line.schedules.len(), schedules.len(), "{at}: schedules");
        for (ship, sent_ship) in line.schedules.iter().zip(schedules) {
            let at = format!("{at} schedule {}", ship.sched_nbr);
            assert_eq!(ship.sched_nbr, number(sent_ship, "sched_nbr"), "{at}");
            // Exact decimals, scale included: what was sent is what is stored.
            assert_eq!(
                Some(ship.qty_po.to_string()),
                text(sent_ship, "quantity"),
                "{at}"
            );
            assert_eq!(
                Some(ship.price_po.to_string()),
                text(sent_ship, "price"),
                "{at}"
            );
            assert_eq!(ship.due_dt, text(sent_ship, "due_date"), "{at}");
            assert_eq!(ship.shipto_id, text(sent_ship, "shipto_id"), "{at}");
            let dists = sent_ship["distributions"].as_array().unwrap();
            assert_eq!(ship.distributions.len(), dists.len(), "{at}: distributions");
            for (d, sent_d) in ship.distributions.iter().zip(dists) {
                let at = format!("{at} distribution {}", d.distrib_line_num);
                assert_eq!(
                    d.distrib_line_num,
                    number(sent_d, "distrib_line_num"),
                    "{at}"
                );
                assert_eq!(Some(d.qty_po.to_string()), text(sent_d, "quantity"), "{at}");
                assert_eq!(Some(d.account.clone()), text(sent_d, "account"), "{at}");
                assert_eq!(d.deptid, text(sent_d, "deptid"), "{at}");
                assert_eq!(d.business_unit_gl, text(sent_d, "business_unit_gl"), "{at}");
                assert_eq!(d.operating_unit, text(sent_d, "operating_unit"), "{at}");
                assert_eq!(d.fund_code, text(sent_d, "fund_code"), "{at}");
                assert_eq!(d.product, text(sent_d, "product"), "{at}");
                assert_eq!(d.project_id, text(sent_d, "project_id"), "{at}");
            }
        }
    }
}

/// SOAP POSTs the emulator received with SOAPAction `{operation}.V1`.
fn posts_of(ps: &PeopleSoftSandbox, operation: &str) -> usize {
    let action = format!("{operation}.V1");
    ps.server()
        .requests()
        .iter()
        .filter(|r| {
            r.request.method == Method::POST
                && r.request
                    .header("soapaction")
                    .is_some_and(|a| a.trim_matches('"') == action)
        })
        .count()
}

fn token_requests(ps: &PeopleSoftSandbox) -> usize {
    ps.server()
        .requests()
        .iter()
        .filter(|r| r.request.path == TOKEN_PATH)
        .count()
}

fn expect_not_enabled(result: Result<impl std::fmt::Debug, CallError>) -> String {
    match result {
        Ok(v) => panic!("expected not-enabled, got success {v:?}"),
        Err(e) => match failure_of(e) {
            Failure::NotEnabled(m) => m,
            other => panic!("expected not-enabled, got {other:?}"),
        },
    }
}

fn expect_rejected(result: Result<impl std::fmt::Debug, CallError>) -> String {
    match result {
        Ok(v) => panic!("expected rejected, got success {v:?}"),
        Err(e) => match failure_of(e) {
            Failure::Rejected(m) => m,
            other => panic!("expected rejected, got {other:?}"),
        },
    }
}

fn is_ten_digit_po_id(id: &str) -> bool {
    id.len() == 10 && id.bytes().all(|b| b.is_ascii_digit())
}

fn docs_by_key(page: &Page) -> BTreeMap<String, Value> {
    page.docs
        .iter()
        .map(|d| {
            (
                d.key.clone(),
                serde_json::from_str(&d.body).expect("a document body is JSON"),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Purchase orders

#[tokio::test]
async fn po_with_three_lines_lands_field_by_field_under_its_assigned_po_id() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    let sent = rich_po("REQ-1042");
    let written = inst
        .write(&conn, "purchase_orders", &doc("REQ-1042", &sent))
        .await
        .unwrap();
    assert_eq!(written.key, "REQ-1042");
    assert!(
        is_ten_digit_po_id(&written.target_key),
        "target key {:?} is not a 10-digit PO_ID",
        written.target_key
    );
    let pos = ps.purchase_orders();
    assert_eq!(pos.len(), 1, "exactly one purchase order was created");
    let po = &pos[0];
    assert_eq!(po.po_id, written.target_key);
    assert_eq!(po.created_by, DEMO_USER);
    assert_po_is(po, &sent, "US001", "SHARE");
    // The nasty descriptions survived byte for byte.
    assert_eq!(
        po.lines[0].descr254_mixed.as_deref(),
        Some("Nitrile gloves & <masks> \"L\" size 'blue' ]]>")
    );
    assert_eq!(
        po.lines[1].descr254_mixed.as_deref(),
        Some("Café filters — Société Générale grade, 東京精密 コーヒーフィルター")
    );
}

#[tokio::test]
async fn second_po_gets_the_next_po_id_and_business_unit_override_is_kept() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    let first = inst
        .write(&conn, "purchase_orders", &doc("REQ-1", &small_po("REQ-1")))
        .await
        .unwrap();
    let mut second_po = small_po("REQ-2");
    second_po["business_unit"] = "US002".into();
    let second = inst
        .write(&conn, "purchase_orders", &doc("REQ-2", &second_po))
        .await
        .unwrap();
    assert_ne!(first.target_key, second.target_key);
    let pos = ps.purchase_orders();
    assert_eq!(pos.len(), 2);
    assert_po_is(&pos[0], &small_po("REQ-1"), "US001", "SHARE");
    assert_po_is(&pos[1], &second_po, "US002", "SHARE");
    assert_eq!(pos[1].po_id, second.target_key);
}

#[tokio::test]
async fn lookup_finds_the_po_by_its_po_ref_and_nothing_for_an_unknown_or_prefix_ref() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    let written = inst
        .write(
            &conn,
            "purchase_orders",
            &doc("REQ-1042", &rich_po("REQ-1042")),
        )
        .await
        .unwrap();
    let other = inst
        .write(
            &conn,
            "purchase_orders",
            &doc("REQ-10421", &small_po("REQ-10421")),
        )
        .await
        .unwrap();
    assert_eq!(
        inst.lookup(&conn, "purchase_orders", "REQ-1042")
            .await
            .unwrap(),
        Some(written.target_key.clone())
    );
    assert_eq!(
        inst.lookup(&conn, "purchase_orders", "REQ-10421")
            .await
            .unwrap(),
        Some(other.target_key)
    );
    assert_eq!(
        inst.lookup(&conn, "purchase_orders", "REQ-404")
            .await
            .unwrap(),
        None
    );
    // PeopleSoft's Find matches "begins with": a prefix must not be taken for a match.
    assert_eq!(
        inst.lookup(&conn, "purchase_orders", "REQ-104")
            .await
            .unwrap(),
        None
    );
    // A fresh instance (a later run) finds it too.
    let mut later = instance_with(&ps, site_credentials()).await;
    assert_eq!(
        later
            .lookup(&conn, "purchase_orders", "REQ-1042")
            .await
            .unwrap(),
        Some(written.target_key)
    );
}

// ---------------------------------------------------------------------------
// The unactivated-operation story

#[tokio::test]
async fn inactive_po_operation_halts_with_the_admins_todo_then_succeeds_after_activation() {
    let ps = demo_site().await;
    ps.deactivate(PO_CREATE).unwrap();
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    let message = expect_not_enabled(
        inst.write(&conn, "purchase_orders", &doc("REQ-7", &small_po("REQ-7")))
            .await,
    );
    assert!(message.contains(PO_CREATE), "{message}");
    assert!(message.to_lowercase().contains("activate"), "{message}");
    assert!(ps.purchase_orders().is_empty(), "nothing may be posted");
    assert_eq!(
        posts_of(&ps, PO_CREATE),
        1,
        "one attempt, no retry loop, for an operation that is not enabled"
    );

    ps.activate(PO_CREATE).unwrap();
    let written = inst
        .write(&conn, "purchase_orders", &doc("REQ-7", &small_po("REQ-7")))
        .await
        .unwrap();
    let pos = ps.purchase_orders();
    assert_eq!(pos.len(), 1);
    assert_eq!(pos[0].po_id, written.target_key);
}

#[tokio::test]
async fn missing_routing_halts_with_a_routing_todo_then_succeeds_after_it_is_added() {
    let ps = demo_site().await;
    ps.remove_routing(PO_CREATE).unwrap();
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    let message = expect_not_enabled(
        inst.write(&conn, "purchase_orders", &doc("REQ-8", &small_po("REQ-8")))
            .await,
    );
    assert!(message.contains(PO_CREATE), "{message}");
    assert!(message.to_lowercase().contains("routing"), "{message}");
    assert!(message.contains("PSFT_EP"), "names the node: {message}");
    assert!(ps.purchase_orders().is_empty());
    assert_eq!(posts_of(&ps, PO_CREATE), 1);

    ps.add_routing(PO_CREATE).unwrap();
    inst.write(&conn, "purchase_orders", &doc("REQ-8", &small_po("REQ-8")))
        .await
        .unwrap();
    assert_eq!(ps.purchase_orders().len(), 1);
}

#[tokio::test]
async fn missing_permission_halts_with_a_grant_todo_naming_the_user_then_succeeds_after_grant() {
    let ps = demo_site().await;
    ps.revoke(DEMO_USER, PO_CREATE).unwrap();
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    let message = expect_not_enabled(
        inst.write(&conn, "purchase_orders", &doc("REQ-9", &small_po("REQ-9")))
            .await,
    );
    assert!(message.contains(PO_CREATE), "{message}");
    assert!(message.to_lowercase().contains("grant"), "{message}");
    assert!(message.contains(DEMO_USER), "names the user: {message}");
    assert!(
        message.to_lowercase().contains("permission list"),
        "{message}"
    );
    assert!(ps.purchase_orders().is_empty());
    assert_eq!(posts_of(&ps, PO_CREATE), 1);

    ps.grant(DEMO_USER, PO_CREATE).unwrap();
    inst.write(&conn, "purchase_orders", &doc("REQ-9", &small_po("REQ-9")))
        .await
        .unwrap();
    assert_eq!(ps.purchase_orders().len(), 1);
}

#[tokio::test]
async fn unpublished_operation_is_not_enabled_naming_it_without_posting_then_works_once_published()
{
    let ps = demo_site().await;
    ps.unpublish(PO_CREATE).unwrap();
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    let message = expect_not_enabled(
        inst.write(&conn, "purchase_orders", &doc("REQ-5", &small_po("REQ-5")))
            .await,
    );
    assert!(message.contains(PO_CREATE), "{message}");
    assert!(message.to_lowercase().contains("activate"), "{message}");
    assert_eq!(
        posts_of(&ps, PO_CREATE),
        0,
        "the WSDL lacks the operation: nothing is posted"
    );
    assert!(ps.purchase_orders().is_empty());

    ps.publish(PO_CREATE).unwrap();
    // The next run (a new instance) reads the republished WSDL.
    let mut next_run = instance_with(&ps, site_credentials()).await;
    next_run
        .write(&conn, "purchase_orders", &doc("REQ-5", &small_po("REQ-5")))
        .await
        .unwrap();
    assert_eq!(ps.purchase_orders().len(), 1);
}

#[tokio::test]
async fn check_passes_on_a_site_whose_setup_is_done() {
    let ps = demo_site().await;
    let mut inst = instance_with(&ps, site_credentials()).await;
    inst.check(&connection(&ps)).await.unwrap();
    assert!(ps.purchase_orders().is_empty(), "check changes nothing");
}

#[tokio::test]
async fn check_on_a_site_as_delivered_names_the_first_operation_to_activate() {
    let ps = site(PeopleSoftConfig {
        operations_ready: false,
        ..PeopleSoftConfig::default()
    })
    .await;
    let mut inst = instance_with(&ps, site_credentials()).await;
    let message = expect_not_enabled(inst.check(&connection(&ps)).await);
    assert!(message.to_lowercase().contains("activate"), "{message}");
    let named: Vec<String> = ps
        .operations()
        .into_iter()
        .filter(|op| message.contains(op.as_str()))
        .collect();
    assert!(!named.is_empty(), "names no operation: {message}");
}

#[tokio::test]
async fn check_reports_an_inactive_po_create_operation() {
    let ps = demo_site().await;
    ps.deactivate(PO_CREATE).unwrap();
    let mut inst = instance_with(&ps, site_credentials()).await;
    let message = expect_not_enabled(inst.check(&connection(&ps)).await);
    assert!(message.contains(PO_CREATE), "{message}");
    assert!(message.to_lowercase().contains("activate"), "{message}");
    assert!(ps.purchase_orders().is_empty(), "check changes nothing");
}

#[tokio::test]
async fn check_names_every_operation_missing_from_the_wsdls_at_once() {
    let ps = demo_site().await;
    ps.unpublish(PO_CREATE).unwrap();
    ps.unpublish("CI_VNDR_ID_C").unwrap();
    let mut inst = instance_with(&ps, site_credentials()).await;
    let message = expect_not_enabled(inst.check(&connection(&ps)).await);
    assert!(message.contains(PO_CREATE), "{message}");
    assert!(message.contains("CI_VNDR_ID_C"), "{message}");
}

// ---------------------------------------------------------------------------
// Another site, other namespaces

async fn po_lands_on(ps: &PeopleSoftSandbox) {
    let conn = connection(ps);
    let mut inst = instance_with(ps, site_credentials()).await;
    inst.check(&conn).await.unwrap();
    let sent = rich_po("REQ-77");
    let written = inst
        .write(&conn, "purchase_orders", &doc("REQ-77", &sent))
        .await
        .unwrap();
    let pos = ps.purchase_orders();
    assert_eq!(pos.len(), 1);
    assert_eq!(pos[0].po_id, written.target_key);
    assert_po_is(&pos[0], &sent, "US001", "SHARE");
    assert_eq!(
        inst.lookup(&conn, "purchase_orders", "REQ-77")
            .await
            .unwrap(),
        Some(written.target_key)
    );
    // The Create went out in this site's own namespace.
    let ns = ps.namespace_of(PO_CREATE).unwrap();
    let create_bodies: Vec<String> = ps
        .server()
        .requests()
        .iter()
        .filter(|r| {
            r.request
                .header("soapaction")
                .is_some_and(|a| a.contains(PO_CREATE))
        })
        .map(|r| String::from_utf8_lossy(&r.request.body).into_owned())
        // `check` also sends an empty Create (its activation probe).
        .filter(|b| b.contains("REQ-77"))
        .collect();
    assert_eq!(create_bodies.len(), 1);
    assert!(
        create_bodies[0].contains(&ns),
        "{ns} not in {}",
        create_bodies[0]
    );
}

#[tokio::test]
async fn a_second_site_with_other_message_numbers_works_with_the_same_component() {
    let first = demo_site().await;
    let second = site(PeopleSoftConfig {
        seed: 9_173,
        ..PeopleSoftConfig::default()
    })
    .await;
    let differing = first
        .operations()
        .into_iter()
        .filter(|op| first.namespace_of(op).unwrap() != second.namespace_of(op).unwrap())
        .count();
    assert!(differing > 0, "the two sites must differ in M-namespaces");
    assert_ne!(
        first.namespace_of(PO_CREATE).unwrap(),
        second.namespace_of(PO_CREATE).unwrap()
    );
    po_lands_on(&first).await;
    po_lands_on(&second).await;
}

#[tokio::test]
async fn a_site_with_another_schema_namespace_base_works_with_the_same_component() {
    let ps = site(PeopleSoftConfig {
        seed: 31,
        namespace_base: "http://xmlns.acme-manufacturing.example/PSFT/schemas/".into(),
        ..PeopleSoftConfig::default()
    })
    .await;
    assert!(
        ps.namespace_of(PO_CREATE)
            .unwrap()
            .starts_with("http://xmlns.acme-manufacturing.example/")
    );
    po_lands_on(&ps).await;
    // Reads (QAS) follow the site's namespaces too.
    let mut inst = instance_with(&ps, site_credentials()).await;
    let page = inst.read(&connection(&ps), "vendors", None).await.unwrap();
    assert!(!page.docs.is_empty());
}

// ---------------------------------------------------------------------------
// Fault classes

/// A wrong password is unauthorized with the gateway's message, over every
/// scheme that sends a password (one row per scheme; a failure names it).
#[tokio::test]
async fn wrong_password_over_basic_and_wsse_is_unauthorized_with_the_gateways_message() {
    for (variant, credentials) in [("HTTP Basic", basic()), ("WS-Security", wsse())] {
        let ps = demo_site().await;
        let conn = connection(&ps);
        let builder = sandbox(&ps, credentials).secret("ps/password", "not-the-password");
        let mut inst = instance(&builder).await;
        let err = inst
            .write(&conn, "purchase_orders", &doc("REQ-1", &small_po("REQ-1")))
            .await
            .unwrap_err();
        match failure_of(err) {
            Failure::Unauthorized(m) => {
                assert!(m.contains("User password failed"), "{variant}: {m}");
                assert!(
                    !m.contains("not-the-password"),
                    "{variant}: secret leaked: {m}"
                );
            }
            other => panic!("{variant}: expected unauthorized, got {other:?}"),
        }
        let err = inst.check(&conn).await.unwrap_err();
        assert!(
            matches!(failure_of(err.clone()), Failure::Unauthorized(_)),
            "{variant}: check: {err}"
        );
        assert!(ps.purchase_orders().is_empty(), "{variant}: a PO landed");
    }
}

#[tokio::test]
async fn unknown_user_and_unknown_bearer_token_are_unauthorized() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let unknown_user = Credentials::Basic {
        username: Setting::Plain("NOBODY".into()),
        password: secret("ps/password"),
    };
    let mut inst = instance_with(&ps, unknown_user).await;
    let err = inst.read(&conn, "vendors", None).await.unwrap_err();
    match failure_of(err) {
        Failure::Unauthorized(m) => assert!(m.contains("not defined"), "{m}"),
        other => panic!("expected unauthorized, got {other:?}"),
    }

    let builder = sandbox(&ps, static_bearer()).secret("ps/token", "forged-token-0000");
    let mut inst = instance(&builder).await;
    let err = inst
        .write(&conn, "purchase_orders", &doc("REQ-1", &small_po("REQ-1")))
        .await
        .unwrap_err();
    assert!(
        matches!(failure_of(err.clone()), Failure::Unauthorized(_)),
        "{err}"
    );
    assert!(ps.purchase_orders().is_empty());
}

#[tokio::test]
async fn ci_validation_failures_are_rejected_naming_the_field() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit, &[&str]); 6] = [
        (
            "unknown vendor",
            |po| po["vendor_id"] = "0000009999".into(),
            &["VENDOR_ID", "0000009999"],
        ),
        (
            "invalid account",
            |po| po["lines"][0]["schedules"][0]["distributions"][0]["account"] = "999999".into(),
            &["ACCOUNT", "999999"],
        ),
        (
            "inactive account",
            |po| {
                po["lines"][0]["schedules"][0]["distributions"][0]["account"] =
                    INACTIVE_ACCOUNT.into()
            },
            &["ACCOUNT", INACTIVE_ACCOUNT],
        ),
        (
            "invalid department",
            |po| po["lines"][0]["schedules"][0]["distributions"][0]["deptid"] = "88888".into(),
            &["DEPTID", "88888"],
        ),
        (
            "zero price",
            |po| po["lines"][0]["schedules"][0]["price"] = "0".into(),
            &["PRICE_PO"],
        ),
        (
            "zero quantity",
            |po| {
                po["lines"][0]["schedules"][0]["quantity"] = "0".into();
                po["lines"][0]["schedules"][0]["distributions"][0]["quantity"] = "0".into();
            },
            &["quantity"],
        ),
    ];
    for (what, edit, names) in cases {
        let mut po = small_po("REQ-BAD");
        edit(&mut po);
        let message = expect_rejected(
            inst.write(&conn, "purchase_orders", &doc("REQ-BAD", &po))
                .await,
        );
        for name in names {
            assert!(message.contains(name), "{what}: {name} not in {message}");
        }
    }
    assert!(ps.purchase_orders().is_empty());
    // The instance is still good for valid records.
    inst.write(
        &conn,
        "purchase_orders",
        &doc("REQ-OK", &small_po("REQ-OK")),
    )
    .await
    .unwrap();
    assert_eq!(ps.purchase_orders().len(), 1);
}

fn on_soap_posts(fault: Fault) -> FaultRule {
    FaultRule::always(fault)
        .on(Method::POST, LISTENER_PATH)
        .times(1)
}

#[tokio::test]
async fn gateway_5xx_without_a_soap_answer_is_transient_and_nothing_lands() {
    for status in [500, 502, 503, 504] {
        let ps = demo_site().await;
        let conn = connection(&ps);
        let mut inst = instance_with(&ps, site_credentials()).await;
        ps.faults().add(on_soap_posts(Fault::Status(status)));
        let err = inst
            .write(&conn, "purchase_orders", &doc("REQ-1", &small_po("REQ-1")))
            .await
            .unwrap_err();
        assert!(
            matches!(failure_of(err.clone()), Failure::Transient(_)),
            "HTTP {status}: {err}"
        );
        assert!(ps.purchase_orders().is_empty());
        // The retry goes through.
        inst.write(&conn, "purchase_orders", &doc("REQ-1", &small_po("REQ-1")))
            .await
            .unwrap();
        assert_eq!(ps.purchase_orders().len(), 1);
    }
}

#[tokio::test]
async fn wsdl_download_5xx_is_transient() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    ps.faults().add(
        FaultRule::always(Fault::Status(503))
            .on(Method::GET, LISTENER_PATH)
            .times(1),
    );
    let err = inst
        .write(&conn, "purchase_orders", &doc("REQ-1", &small_po("REQ-1")))
        .await
        .unwrap_err();
    assert!(
        matches!(failure_of(err.clone()), Failure::Transient(_)),
        "{err}"
    );
    assert!(ps.purchase_orders().is_empty());
}

#[tokio::test]
async fn dropped_connection_is_transient_and_lookup_then_finds_the_po_that_landed() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    ps.faults().add(on_soap_posts(Fault::DropConnection));
    let err = inst
        .write(&conn, "purchase_orders", &doc("REQ-1", &small_po("REQ-1")))
        .await
        .unwrap_err();
    assert!(
        matches!(failure_of(err.clone()), Failure::Transient(_)),
        "{err}"
    );
    // The gateway did process it: lookup (what the host asks before a retry) finds it.
    let pos = ps.purchase_orders();
    assert_eq!(pos.len(), 1);
    assert_eq!(
        inst.lookup(&conn, "purchase_orders", "REQ-1")
            .await
            .unwrap(),
        Some(pos[0].po_id.clone())
    );
}

#[tokio::test]
async fn truncated_reply_is_transient() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    ps.faults().add(on_soap_posts(Fault::TruncateBody));
    let err = inst
        .write(&conn, "purchase_orders", &doc("REQ-1", &small_po("REQ-1")))
        .await
        .unwrap_err();
    // The SDK documents a truncated body as a broken connection (transient).
    assert!(
        matches!(failure_of(err.clone()), Failure::Transient(_)),
        "{err}"
    );
}

#[tokio::test]
async fn malformed_reply_is_protocol() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    ps.faults().add(on_soap_posts(Fault::MalformedBody));
    let err = inst
        .write(&conn, "purchase_orders", &doc("REQ-1", &small_po("REQ-1")))
        .await
        .unwrap_err();
    assert!(
        matches!(failure_of(err.clone()), Failure::Protocol(_)),
        "{err}"
    );
    ps.faults().add(on_soap_posts(Fault::MalformedBody));
    let err = inst.read(&conn, "vouchers", None).await.unwrap_err();
    assert!(
        matches!(failure_of(err.clone()), Failure::Protocol(_)),
        "{err}"
    );
}

#[tokio::test]
async fn too_many_requests_is_rate_limited_with_the_retry_after_seconds() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    ps.faults().add(on_soap_posts(Fault::TooManyRequests {
        retry_after_secs: 17,
    }));
    let err = inst
        .write(&conn, "purchase_orders", &doc("REQ-1", &small_po("REQ-1")))
        .await
        .unwrap_err();
    match failure_of(err) {
        Failure::RateLimited(t) => assert_eq!(t.retry_after_secs, Some(17), "{}", t.message),
        other => panic!("expected rate-limited, got {other:?}"),
    }
    assert!(ps.purchase_orders().is_empty());
    inst.write(&conn, "purchase_orders", &doc("REQ-1", &small_po("REQ-1")))
        .await
        .unwrap();
}

#[tokio::test]
async fn too_many_requests_on_the_wsdl_download_keeps_the_retry_after_seconds() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    ps.faults().add(
        FaultRule::always(Fault::TooManyRequests {
            retry_after_secs: 23,
        })
        .on(Method::GET, LISTENER_PATH)
        .times(1),
    );
    let err = inst.read(&conn, "vendors", None).await.unwrap_err();
    match failure_of(err) {
        Failure::RateLimited(t) => assert_eq!(t.retry_after_secs, Some(23), "{}", t.message),
        other => panic!("expected rate-limited, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Authentication schemes

/// The one authentication method a site accepts.
#[derive(Debug, Clone, Copy)]
enum Only {
    Wsse,
    Basic,
    Bearer,
}

/// A site accepting only `method` (credentials of another method are
/// ignored, as the gateway ignores them).
async fn site_accepting(method: Only) -> PeopleSoftSandbox {
    site(PeopleSoftConfig {
        auth: AuthPolicy {
            wsse: matches!(method, Only::Wsse),
            basic: matches!(method, Only::Basic),
            bearer: matches!(method, Only::Bearer),
            ..AuthPolicy::default()
        },
        ..PeopleSoftConfig::default()
    })
    .await
}

/// One way of authenticating to a site that accepts only it.
struct AuthVariant {
    name: &'static str,
    accepts: Only,
    credentials: fn(&PeopleSoftSandbox) -> Credentials,
    /// Token requests the site sees over the whole run.
    token_requests: usize,
}

/// Each scheme works end to end on a site that accepts only that scheme:
/// check, write, lookup and read as the integration user (one row per
/// scheme; a failure names it). OAuth2 client credentials from the site's
/// token endpoint fetch one token for the whole run.
#[tokio::test]
async fn wsse_basic_static_bearer_and_oauth2_each_work_end_to_end_as_the_integration_user() {
    let rows = [
        AuthVariant {
            name: "WS-Security UsernameToken",
            accepts: Only::Wsse,
            credentials: |_| wsse(),
            token_requests: 0,
        },
        AuthVariant {
            name: "HTTP Basic",
            accepts: Only::Basic,
            credentials: |_| basic(),
            token_requests: 0,
        },
        AuthVariant {
            name: "static bearer token",
            accepts: Only::Bearer,
            credentials: |_| static_bearer(),
            token_requests: 0,
        },
        AuthVariant {
            name: "OAuth2 client credentials from the site's token endpoint",
            accepts: Only::Bearer,
            credentials: oauth2,
            token_requests: 1,
        },
    ];
    for row in rows {
        let variant = row.name;
        let ps = site_accepting(row.accepts).await;
        let mut inst = instance_with(&ps, (row.credentials)(&ps)).await;
        let conn = connection(&ps);
        inst.check(&conn)
            .await
            .unwrap_or_else(|e| panic!("{variant}: check: {e}"));
        let written = inst
            .write(
                &conn,
                "purchase_orders",
                &doc("REQ-AUTH", &small_po("REQ-AUTH")),
            )
            .await
            .unwrap_or_else(|e| panic!("{variant}: write: {e}"));
        let pos = ps.purchase_orders();
        assert_eq!(pos.len(), 1, "{variant}: POs");
        assert_eq!(pos[0].po_id, written.target_key, "{variant}: PO_ID");
        assert_eq!(
            pos[0].created_by, DEMO_USER,
            "{variant}: ran as the integration user"
        );
        assert_eq!(
            inst.lookup(&conn, "purchase_orders", "REQ-AUTH")
                .await
                .unwrap_or_else(|e| panic!("{variant}: lookup: {e}")),
            Some(written.target_key),
            "{variant}: lookup"
        );
        let vendors = inst
            .read(&conn, "vendors", None)
            .await
            .unwrap_or_else(|e| panic!("{variant}: read: {e}"));
        assert!(!vendors.docs.is_empty(), "{variant}: no vendors read");
        assert_eq!(
            token_requests(&ps),
            row.token_requests,
            "{variant}: one token serves the whole run"
        );
    }
}

#[tokio::test]
async fn bearer_token_expiring_mid_run_is_renewed_by_the_host_without_a_failure() {
    let ps = site_accepting(Only::Bearer).await;
    let builder = sandbox(&ps, oauth2(&ps));
    let conn = connection(&ps);
    let mut inst = instance(&builder).await;
    inst.write(&conn, "purchase_orders", &doc("REQ-A", &small_po("REQ-A")))
        .await
        .unwrap();
    assert_eq!(token_requests(&ps), 1);

    ps.expire_tokens();
    let second = inst
        .write(&conn, "purchase_orders", &doc("REQ-B", &small_po("REQ-B")))
        .await
        .expect("the expired token is renewed by the host, not reported");
    assert_eq!(token_requests(&ps), 2);
    let pos = ps.purchase_orders();
    assert_eq!(pos.len(), 2, "the renewed call landed once");
    assert_eq!(pos[1].po_id, second.target_key);
    assert_eq!(pos[1].created_by, DEMO_USER);

    ps.expire_tokens();
    assert!(
        !inst
            .read(&conn, "accounts", None)
            .await
            .unwrap()
            .docs
            .is_empty()
    );
    assert_eq!(token_requests(&ps), 3);

    let reasons: Vec<TokenReason> = builder
        .events
        .recent()
        .into_iter()
        .filter_map(|e| match e {
            Event::TokenRefreshed { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            TokenReason::Initial,
            TokenReason::Rejected,
            TokenReason::Rejected
        ]
    );
}

// ---------------------------------------------------------------------------
// Reads

#[tokio::test]
async fn vendors_read_returns_every_active_seeded_supplier_with_its_exact_name() {
    let ps = demo_site().await;
    let mut inst = instance_with(&ps, site_credentials()).await;
    let page = inst.read(&connection(&ps), "vendors", None).await.unwrap();
    assert!(page.bad_records.is_empty(), "{:?}", page.bad_records);
    assert!(!page.more);
    let docs = docs_by_key(&page);
    let active: BTreeMap<String, String> = ps
        .vendors()
        .into_iter()
        .filter(|v| v.vendor_status == "A")
        .map(|v| (v.vendor_id, v.name1))
        .collect();
    assert_eq!(
        docs.keys().cloned().collect::<BTreeSet<_>>(),
        active.keys().cloned().collect::<BTreeSet<_>>()
    );
    for (id, name) in &active {
        let d = &docs[id];
        assert_eq!(d["vendor_id"], json!(id));
        assert_eq!(d["name1"], json!(name), "{id}");
        assert_eq!(d["setid"], json!("SHARE"));
        assert_eq!(d["status"], json!("A"));
    }
    // The hostile names came through intact.
    assert_eq!(
        docs[HOSTILE_VENDOR]["name1"],
        json!("Barnes & Noble Office <B2B>")
    );
    assert_eq!(docs["0000000104"]["name1"], json!("東京精密機器株式会社"));
    assert_eq!(
        docs["0000000105"]["name1"],
        json!("O'Brien \"Quality\" Fasteners")
    );
}

#[tokio::test]
async fn accounts_and_departments_read_return_the_active_seeded_chartfields() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    for (stream, field, rows) in [
        ("accounts", "account", ps.accounts()),
        ("departments", "deptid", ps.departments()),
    ] {
        let page = inst.read(&conn, stream, None).await.unwrap();
        assert!(
            page.bad_records.is_empty(),
            "{stream}: {:?}",
            page.bad_records
        );
        assert!(!page.more);
        let docs = docs_by_key(&page);
        let active: BTreeMap<String, String> = rows
            .into_iter()
            .filter(|r| r.eff_status == "A")
            .map(|r| (r.value, r.descr))
            .collect();
        assert_eq!(
            docs.keys().cloned().collect::<BTreeSet<_>>(),
            active.keys().cloned().collect::<BTreeSet<_>>(),
            "{stream}"
        );
        for (value, descr) in &active {
            let d = &docs[value];
            assert_eq!(d[field], json!(value), "{stream}");
            assert_eq!(d["descr"], json!(descr), "{stream} {value}");
            assert_eq!(d["eff_status"], json!("A"), "{stream} {value}");
            assert_eq!(d["setid"], json!("SHARE"), "{stream} {value}");
        }
    }
    // Ampersands in descriptions survive.
    let page = inst.read(&conn, "accounts", None).await.unwrap();
    assert_eq!(
        docs_by_key(&page)["620000"]["descr"],
        json!("Maintenance & Repairs")
    );
}

fn assert_voucher_doc(d: &Value, v: &mlc_sandbox::peoplesoft::Voucher) {
    let at = &v.voucher_id;
    assert_eq!(d["business_unit"], json!(v.business_unit), "{at}");
    assert_eq!(d["voucher_id"], json!(v.voucher_id), "{at}");
    assert_eq!(d["invoice_id"], json!(v.invoice_id), "{at}");
    assert_eq!(d["invoice_date"], json!(v.invoice_dt.to_string()), "{at}");
    assert_eq!(d["vendor_id"], json!(v.vendor_id), "{at}");
    assert_eq!(d["entry_status"], json!(v.entry_status), "{at}");
    assert_eq!(d["match_status_vchr"], json!(v.match_status_vchr), "{at}");
    assert_eq!(
        d["last_update_date"],
        json!(v.lastupddttm.date().to_string()),
        "{at}"
    );
    let lines = d["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), v.lines.len(), "{at}: lines");
    for (l, line) in lines.iter().zip(&v.lines) {
        assert_eq!(
            l["merchandise_amt"],
            json!(line.merchandise_amt.to_string()),
            "{at}"
        );
        if let Some(po) = &line.po_id {
            assert_eq!(l["po_id"], json!(po), "{at}");
            assert_eq!(l["line_nbr"], json!(line.line_nbr), "{at}");
        }
    }
}

#[tokio::test]
async fn vouchers_read_returns_seeded_and_added_vouchers_and_the_cursor_advances() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;

    // First read: every seeded voucher, exactly.
    let first = inst.read(&conn, "vouchers", None).await.unwrap();
    assert!(first.bad_records.is_empty(), "{:?}", first.bad_records);
    assert!(!first.more);
    let seeded = ps.vouchers();
    assert!(!seeded.is_empty());
    let docs = docs_by_key(&first);
    assert_eq!(docs.len(), seeded.len());
    for v in &seeded {
        let key = format!("{}/{}", v.business_unit, v.voucher_id);
        assert_voucher_doc(&docs[&key], v);
    }
    let latest = seeded.iter().map(|v| v.lastupddttm.date()).max().unwrap();
    let first_cursor = first.cursor.clone().expect("a cursor after the first page");
    assert_eq!(
        first_cursor,
        latest.pred_opt().unwrap().to_string(),
        "cursor = last change date minus one day of overlap"
    );

    // AP enters a voucher against a purchase order written by the connector.
    let written = inst
        .write(
            &conn,
            "purchase_orders",
            &doc("REQ-V1", &two_line_po("REQ-V1")),
        )
        .await
        .unwrap();
    let added = ps.add_voucher(&written.target_key, true).unwrap();
    let second = inst
        .read(&conn, "vouchers", Some(&first_cursor))
        .await
        .unwrap();
    let docs = docs_by_key(&second);
    let added_key = format!("{}/{}", added.business_unit, added.voucher_id);
    assert_voucher_doc(&docs[&added_key], &added);
    assert_eq!(docs[&added_key]["lines"].as_array().unwrap().len(), 2);
    let second_cursor = second
        .cursor
        .clone()
        .expect("a cursor after the second page");
    assert!(
        second_cursor > first_cursor,
        "cursor advances: {first_cursor} -> {second_cursor}"
    );

    // From there on only what changed since is read again.
    let third = inst
        .read(&conn, "vouchers", Some(&second_cursor))
        .await
        .unwrap();
    let keys: BTreeSet<String> = third.docs.iter().map(|d| d.key.clone()).collect();
    assert_eq!(keys, BTreeSet::from([added_key.clone()]));

    // A seeded voucher AP matches today shows up again with its new status.
    let old = &seeded[0];
    ps.set_voucher_match_status(&old.voucher_id, "M").unwrap();
    let fourth = inst
        .read(&conn, "vouchers", Some(&second_cursor))
        .await
        .unwrap();
    let docs = docs_by_key(&fourth);
    let old_key = format!("{}/{}", old.business_unit, old.voucher_id);
    assert_eq!(docs[&old_key]["match_status_vchr"], json!("M"));
    assert!(docs.contains_key(&added_key));
}

// ---------------------------------------------------------------------------
// Master-data writes

#[tokio::test]
async fn new_vendor_with_a_hostile_name_lands_and_is_found_by_name_and_by_id() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    let name = "Müller & <Söhne> \"東京\" GmbH";
    let body = json!({
        "name1": name,
        "name2": "Ateliers d'Été",
        "address": {"address1": "Königstraße 5 & 7", "city": "Zürich", "postal": "8001", "country": "CHE"}
    });
    let written = inst
        .write(&conn, "vendors", &doc(name, &body))
        .await
        .unwrap();
    assert_eq!(written.key, name);
    let vendor = ps
        .vendors()
        .into_iter()
        .find(|v| v.vendor_id == written.target_key)
        .expect("the supplier landed under the returned VENDOR_ID");
    assert_eq!(vendor.name1, name);
    assert_eq!(vendor.name2.as_deref(), Some("Ateliers d'Été"));
    assert_eq!(vendor.setid, "SHARE");
    assert_eq!(vendor.vendor_status, "A");
    assert_eq!(vendor.addresses.len(), 1);
    let addr = &vendor.addresses[0];
    assert_eq!(addr.address1.as_deref(), Some("Königstraße 5 & 7"));
    assert_eq!(addr.city.as_deref(), Some("Zürich"));
    assert_eq!(addr.postal.as_deref(), Some("8001"));
    assert_eq!(addr.country.as_deref(), Some("CHE"));

    assert_eq!(
        inst.lookup(&conn, "vendors", name).await.unwrap(),
        Some(written.target_key.clone())
    );
    assert_eq!(
        inst.lookup(&conn, "vendors", &written.target_key)
            .await
            .unwrap(),
        Some(written.target_key.clone())
    );
    assert_eq!(
        inst.lookup(&conn, "vendors", "No Such Supplier & Co")
            .await
            .unwrap(),
        None
    );
    // And the next vendors read carries it.
    let page = inst.read(&conn, "vendors", None).await.unwrap();
    assert_eq!(
        docs_by_key(&page)[&written.target_key]["name1"],
        json!(name)
    );
}

#[tokio::test]
async fn vendor_with_a_given_vendor_id_lands_under_it() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    let body = json!({"vendor_id": "PROC-00017", "name1": "Procurify Only Supplier"});
    let written = inst
        .write(&conn, "vendors", &doc("PROC-00017", &body))
        .await
        .unwrap();
    assert_eq!(written.target_key, "PROC-00017");
    assert!(
        ps.vendors()
            .iter()
            .any(|v| v.vendor_id == "PROC-00017" && v.name1 == "Procurify Only Supplier")
    );
    assert_eq!(
        inst.lookup(&conn, "vendors", "PROC-00017").await.unwrap(),
        Some("PROC-00017".to_string())
    );
}

#[tokio::test]
async fn account_and_department_writes_land_and_are_found_by_lookup() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;

    let written = inst
        .write(
            &conn,
            "accounts",
            &doc("615000", &json!({"descr": "Lab Supplies & <Glassware>"})),
        )
        .await
        .unwrap();
    assert_eq!(written.target_key, "615000");
    let row = ps
        .accounts()
        .into_iter()
        .find(|a| a.value == "615000")
        .expect("the account landed");
    assert_eq!(row.descr, "Lab Supplies & <Glassware>");
    assert_eq!(row.eff_status, "A");
    assert_eq!(row.setid, "SHARE");

    let written = inst
        .write(
            &conn,
            "departments",
            &doc("20400", &json!({"descr": "Qualité Contrôle 品質"})),
        )
        .await
        .unwrap();
    assert_eq!(written.target_key, "20400");
    let row = ps
        .departments()
        .into_iter()
        .find(|d| d.value == "20400")
        .expect("the department landed");
    assert_eq!(row.descr, "Qualité Contrôle 品質");
    assert_eq!(row.eff_status, "A");

    assert_eq!(
        inst.lookup(&conn, "accounts", "615000").await.unwrap(),
        Some("615000".to_string())
    );
    assert_eq!(
        inst.lookup(&conn, "departments", "20400").await.unwrap(),
        Some("20400".to_string())
    );
    assert_eq!(
        inst.lookup(&conn, "accounts", "615999").await.unwrap(),
        None
    );
    assert_eq!(
        inst.lookup(&conn, "departments", "20499").await.unwrap(),
        None
    );

    // The new values are usable on a purchase order right away.
    let mut po = small_po("REQ-NEWCF");
    po["lines"][0]["schedules"][0]["distributions"][0]["account"] = "615000".into();
    po["lines"][0]["schedules"][0]["distributions"][0]["deptid"] = "20400".into();
    inst.write(&conn, "purchase_orders", &doc("REQ-NEWCF", &po))
        .await
        .unwrap();
    assert_eq!(ps.purchase_orders().len(), 1);
}

#[tokio::test]
async fn duplicate_account_is_rejected_naming_the_field() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    let body = json!({"descr": "Office Supplies", "effdt": "2000-01-01"});
    let message = expect_rejected(inst.write(&conn, "accounts", &doc("610000", &body)).await);
    assert!(message.contains("ACCOUNT"), "{message}");
}

#[tokio::test]
async fn voucher_for_a_po_with_five_decimal_prices_is_read_with_its_amounts() {
    let ps = demo_site().await;
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    let written = inst
        .write(&conn, "purchase_orders", &doc("REQ-V5", &rich_po("REQ-V5")))
        .await
        .unwrap();
    let added = ps.add_voucher(&written.target_key, false).unwrap();
    let today = added.lastupddttm.date().to_string();
    let page = inst.read(&conn, "vouchers", Some(&today)).await.unwrap();
    assert!(page.bad_records.is_empty(), "{:?}", page.bad_records);
    let docs = docs_by_key(&page);
    let key = format!("{}/{}", added.business_unit, added.voucher_id);
    assert_voucher_doc(&docs[&key], &added);
}

#[tokio::test]
async fn service_without_any_published_operation_is_not_enabled_naming_the_service() {
    let ps = demo_site().await;
    for op in ps.operations() {
        if op.starts_with("CI_VNDR_ID_") {
            ps.unpublish(&op).unwrap();
        }
    }
    let conn = connection(&ps);
    let mut inst = instance_with(&ps, site_credentials()).await;
    let body = json!({"name1": "Acme Tools"});
    let message = expect_not_enabled(
        inst.write(&conn, "vendors", &doc("Acme Tools", &body))
            .await,
    );
    assert!(message.contains("CI_VNDR_ID"), "{message}");
    assert!(message.to_lowercase().contains("activate"), "{message}");
}

#[tokio::test]
async fn soap_1_2_site_works_end_to_end_and_its_faults_map_the_same() {
    let ps = demo_site().await;
    let conn = Connection {
        base_url: ps.base_url(),
        config: json!({"node": "PSFT_EP", "business_unit": "US001", "soap_version": "1.2"})
            .to_string(),
    };
    let mut inst = instance_with(&ps, site_credentials()).await;
    inst.check(&conn).await.unwrap();
    let sent = rich_po("REQ-12");
    let written = inst
        .write(&conn, "purchase_orders", &doc("REQ-12", &sent))
        .await
        .unwrap();
    let pos = ps.purchase_orders();
    assert_eq!(pos.len(), 1);
    assert_eq!(pos[0].po_id, written.target_key);
    assert_po_is(&pos[0], &sent, "US001", "SHARE");
    assert!(
        ps.server().requests().iter().any(|r| r
            .request
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("application/soap+xml"))),
        "requests went out as SOAP 1.2"
    );
    assert!(
        !inst
            .read(&conn, "vendors", None)
            .await
            .unwrap()
            .docs
            .is_empty()
    );

    ps.deactivate(PO_CREATE).unwrap();
    let message = expect_not_enabled(
        inst.write(
            &conn,
            "purchase_orders",
            &doc("REQ-13", &small_po("REQ-13")),
        )
        .await,
    );
    assert!(message.contains(PO_CREATE), "{message}");
    let builder = sandbox(&ps, site_credentials()).secret("ps/password", "wrong");
    let mut bad = instance(&builder).await;
    let err = bad.read(&conn, "vendors", None).await.unwrap_err();
    assert!(
        matches!(failure_of(err.clone()), Failure::Unauthorized(_)),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_node_is_a_config_failure_naming_it() {
    let ps = demo_site().await;
    let conn = Connection {
        base_url: ps.base_url(),
        config: json!({"node": "PSFT_HR", "business_unit": "US001"}).to_string(),
    };
    let mut inst = instance_with(&ps, site_credentials()).await;
    for result in [
        inst.check(&conn).await.map(|_| ()),
        inst.write(&conn, "purchase_orders", &doc("REQ-1", &small_po("REQ-1")))
            .await
            .map(|_| ()),
    ] {
        match failure_of(result.unwrap_err()) {
            Failure::Config(m) => assert!(m.contains("PSFT_HR"), "{m}"),
            other => panic!("expected config, got {other:?}"),
        }
    }
    assert!(ps.purchase_orders().is_empty());
}
