//! The connector's full request/reply path against the PeopleSoft emulator of
//! `mlc-sandbox`, called in-process as a `Handler` (no host, no sockets). The
//! `Env` here plays the host's part: it applies Basic or WS-Security auth the
//! way the host will, so envelopes, WSDL handling and fault mapping are checked
//! against the emulator natively. The host-level tests come with the runtime.

use std::cell::Cell;

use base64::Engine;
use bytes::Bytes;
use connector_peoplesoft::client::{Client, WsdlCache};
use connector_peoplesoft::config::Config;
use connector_peoplesoft::{check, streams};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use mlc_guest::Env;
use mlc_guest::host::Level;
use mlc_guest::http::{Request, Response, SendError, split_url};
use mlc_guest::{Doc, Failure};
use mlc_sandbox::exchange::{self, Handler};
use mlc_sandbox::peoplesoft::{
    DEMO_PASSWORD, DEMO_USER, PASSWORD_TEXT, PeopleSoftConfig, PeopleSoftEmulator, WSSE_NS,
};

/// How the stand-in host authenticates requests.
#[derive(Clone, Copy)]
enum Auth {
    Basic,
    Wsse,
}

struct EmulatorEnv {
    site: PeopleSoftEmulator,
    auth: Auth,
    user: String,
    password: String,
    calls: Cell<usize>,
}

impl EmulatorEnv {
    fn new(config: PeopleSoftConfig, auth: Auth) -> Self {
        EmulatorEnv {
            site: PeopleSoftEmulator::new(config),
            auth,
            user: DEMO_USER.to_string(),
            password: DEMO_PASSWORD.to_string(),
            calls: Cell::new(0),
        }
    }

    fn with_password(mut self, password: &str) -> Self {
        self.password = password.to_string();
        self
    }
}

impl Env for EmulatorEnv {
    fn send(&self, request: &Request) -> Result<Response, SendError> {
        self.calls.set(self.calls.get() + 1);
        let parts = split_url(&request.url)?;
        let mut headers = HeaderMap::new();
        for (k, v) in &request.headers {
            headers.insert(
                HeaderName::from_bytes(k.as_bytes())
                    .map_err(|e| SendError::BadUrl(e.to_string()))?,
                HeaderValue::from_str(v).map_err(|e| SendError::BadUrl(e.to_string()))?,
            );
        }
        let mut body = request.body.clone();
        match self.auth {
            Auth::Basic => {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", self.user, self.password));
                headers.insert(
                    http::header::AUTHORIZATION,
                    HeaderValue::from_str(&format!("Basic {token}")).unwrap(),
                );
            }
            Auth::Wsse if request.method == "POST" => {
                // What the host does: fill the empty header the component always writes.
                let text = String::from_utf8(body).unwrap();
                assert!(text.contains("<soapenv:Header></soapenv:Header>"), "{text}");
                let token = format!(
                    r#"<soapenv:Header><wsse:Security xmlns:wsse="{WSSE_NS}"><wsse:UsernameToken><wsse:Username>{}</wsse:Username><wsse:Password Type="{PASSWORD_TEXT}">{}</wsse:Password></wsse:UsernameToken></wsse:Security></soapenv:Header>"#,
                    self.user, self.password
                );
                body = text
                    .replacen("<soapenv:Header></soapenv:Header>", &token, 1)
                    .into_bytes();
            }
            Auth::Wsse => {}
        }
        let (path, query) = match parts.path_with_query.split_once('?') {
            Some((p, q)) => (p.to_string(), q),
            None => (parts.path_with_query.clone(), ""),
        };
        let query = query
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv.to_string(), String::new()),
            })
            .collect();
        let reply = self.site.handle(&exchange::Request {
            method: Method::from_bytes(request.method.as_bytes()).unwrap(),
            path,
            query,
            headers,
            body: Bytes::from(body),
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

    fn log(&self, _level: Level, _message: &str) {}

    fn now_ms(&self) -> u64 {
        1_795_000_000_000 // 2026-11-18
    }
}

fn config() -> Config {
    Config::parse(
        "http://ps.sandbox:8000",
        r#"{"node":"PSFT_EP","business_unit":"US001"}"#,
    )
    .unwrap()
}

fn po_doc(po_ref: &str, vendor_id: &str) -> Doc {
    let body = serde_json::json!({
        "vendor_id": vendor_id, "po_date": "2026-11-18", "buyer_id": "MLC_BUYER", "currency": "USD",
        "lines": [
            {"line_nbr": 1, "description": "Nitrile gloves & <masks> — größe M", "unit_of_measure": "EA",
             "schedules": [{"sched_nbr": 1, "quantity": "10", "price": "12.50", "due_date": "2026-12-01",
               "distributions": [
                 {"distrib_line_num": 1, "quantity": "6", "account": "610000", "deptid": "20100"},
                 {"distrib_line_num": 2, "quantity": "4", "account": "621000", "deptid": "20200"}]}]},
            {"line_nbr": 2, "description": "東京 torque wrench",
             "schedules": [{"sched_nbr": 1, "quantity": "2.5", "price": "199.99",
               "distributions": [{"distrib_line_num": 1, "quantity": "2.5", "account": "611000", "deptid": "30100"}]}]}
        ]
    });
    Doc {
        key: po_ref.to_string(),
        body: body.to_string(),
    }
}

fn expect_not_enabled(r: Result<impl std::fmt::Debug, Failure>, needle: &str) -> String {
    match r {
        Err(Failure::NotEnabled(m)) => {
            assert!(m.contains(needle), "{m}");
            m
        }
        other => panic!("expected not-enabled containing {needle:?}, got {other:?}"),
    }
}

#[test]
fn check_passes_on_a_ready_site() {
    let env = EmulatorEnv::new(PeopleSoftConfig::default(), Auth::Basic);
    let cfg = config();
    let cache = WsdlCache::default();
    check(&Client::new(&cfg, &env, &cache)).unwrap();
}

#[test]
fn po_with_several_lines_lands_with_every_field_and_is_found_by_po_ref() {
    let env = EmulatorEnv::new(PeopleSoftConfig::default(), Auth::Wsse);
    let cfg = config();
    let cache = WsdlCache::default();
    let client = Client::new(&cfg, &env, &cache);
    let written = streams::write(
        &client,
        "purchase_orders",
        &po_doc("REQ-1042", "0000000101"),
    )
    .unwrap();
    let pos = env.site.purchase_orders();
    let po = pos
        .iter()
        .find(|p| p.po_ref.as_deref() == Some("REQ-1042"))
        .unwrap();
    assert_eq!(written.target_key, po.po_id);
    assert_ne!(po.po_id, "NEXT");
    assert_eq!(po.business_unit, "US001");
    assert_eq!(po.vendor_setid.as_deref(), Some("SHARE"));
    assert_eq!(po.vendor_id, "0000000101");
    assert_eq!(po.po_dt.as_deref(), Some("2026-11-18"));
    assert_eq!(po.buyer_id.as_deref(), Some("MLC_BUYER"));
    assert_eq!(po.currency_cd.as_deref(), Some("USD"));
    assert_eq!(po.lines.len(), 2);
    assert_eq!(
        po.lines[0].descr254_mixed.as_deref(),
        Some("Nitrile gloves & <masks> — größe M")
    );
    assert_eq!(
        po.lines[1].descr254_mixed.as_deref(),
        Some("東京 torque wrench")
    );
    let ship = &po.lines[0].schedules[0];
    assert_eq!(ship.qty_po.to_string(), "10");
    assert_eq!(ship.price_po.to_string(), "12.50");
    assert_eq!(ship.due_dt.as_deref(), Some("2026-12-01"));
    assert_eq!(ship.distributions.len(), 2);
    assert_eq!(ship.distributions[1].account, "621000");
    assert_eq!(ship.distributions[1].deptid.as_deref(), Some("20200"));
    assert_eq!(po.lines[1].schedules[0].price_po.to_string(), "199.99");

    assert_eq!(
        streams::lookup(&client, "purchase_orders", "REQ-1042").unwrap(),
        Some(po.po_id.clone())
    );
    assert_eq!(
        streams::lookup(&client, "purchase_orders", "REQ-104").unwrap(),
        None
    );
    assert_eq!(
        streams::lookup(&client, "purchase_orders", "REQ-10420").unwrap(),
        None
    );
}

#[test]
fn unknown_vendor_is_rejected_naming_the_field() {
    let env = EmulatorEnv::new(PeopleSoftConfig::default(), Auth::Basic);
    let cfg = config();
    let cache = WsdlCache::default();
    let client = Client::new(&cfg, &env, &cache);
    match streams::write(&client, "purchase_orders", &po_doc("REQ-9", "0000009999")) {
        Err(Failure::Rejected(m)) => assert!(m.contains("VENDOR_ID"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn inactive_operation_story_ends_after_the_admin_sets_it_up() {
    let site = PeopleSoftConfig {
        operations_ready: false,
        ..PeopleSoftConfig::default()
    };
    let env = EmulatorEnv::new(site, Auth::Basic);
    let cfg = config();
    let cache = WsdlCache::default();
    let client = Client::new(&cfg, &env, &cache);
    let doc = po_doc("REQ-7", "0000000101");
    expect_not_enabled(
        streams::write(&client, "purchase_orders", &doc),
        "activate service operation CI_PO_EXPRESS_C (and its any-to-local routing) in Integration Broker",
    );
    env.site.activate("CI_PO_EXPRESS_C").unwrap();
    expect_not_enabled(
        streams::write(&client, "purchase_orders", &doc),
        "create/activate an any-to-local routing for CI_PO_EXPRESS_C on node PSFT_EP",
    );
    env.site.set_up("CI_PO_EXPRESS_C").unwrap();
    streams::write(&client, "purchase_orders", &doc).unwrap();
}

#[test]
fn unpublished_operation_is_named_by_check() {
    let env = EmulatorEnv::new(PeopleSoftConfig::default(), Auth::Basic);
    env.site.unpublish("CI_PO_EXPRESS_F").unwrap();
    let cfg = config();
    let cache = WsdlCache::default();
    expect_not_enabled(check(&Client::new(&cfg, &env, &cache)), "CI_PO_EXPRESS_F");
}

#[test]
fn revoked_operation_asks_to_grant_it() {
    let env = EmulatorEnv::new(PeopleSoftConfig::default(), Auth::Basic);
    env.site
        .revoke(DEMO_USER, "QAS_EXECUTEQRYSYNC_OPER")
        .unwrap();
    let cfg = config();
    let cache = WsdlCache::default();
    let client = Client::new(&cfg, &env, &cache);
    expect_not_enabled(
        streams::read(&client, "accounts", None),
        &format!(
            "grant service operation QAS_EXECUTEQRYSYNC_OPER to user {DEMO_USER}'s permission list"
        ),
    );
}

#[test]
fn wrong_password_is_unauthorized_with_both_auth_styles() {
    for auth in [Auth::Basic, Auth::Wsse] {
        let env = EmulatorEnv::new(PeopleSoftConfig::default(), auth).with_password("nope");
        let cfg = config();
        let cache = WsdlCache::default();
        let r = streams::lookup(&Client::new(&cfg, &env, &cache), "purchase_orders", "REQ-1");
        assert!(matches!(r, Err(Failure::Unauthorized(_))), "{r:?}");
    }
}

#[test]
fn wrong_node_is_a_config_failure() {
    let env = EmulatorEnv::new(PeopleSoftConfig::default(), Auth::Basic);
    let cfg = Config::parse(
        "http://ps.sandbox:8000",
        r#"{"node":"PSFT_HR","business_unit":"US001"}"#,
    )
    .unwrap();
    let cache = WsdlCache::default();
    let r = check(&Client::new(&cfg, &env, &cache));
    assert!(
        matches!(&r, Err(Failure::Config(m)) if m.contains("PSFT_HR")),
        "{r:?}"
    );
}

#[test]
fn second_site_with_other_namespaces_works_unchanged() {
    let site = PeopleSoftConfig {
        seed: 987_654,
        namespace_base: "http://schemas.acme-corp.example/psft/".to_string(),
        ..PeopleSoftConfig::default()
    };
    let env = EmulatorEnv::new(site, Auth::Wsse);
    assert!(
        env.site
            .namespace_of("CI_PO_EXPRESS_C")
            .unwrap()
            .starts_with("http://schemas.acme-corp.example/psft/M")
    );
    let cfg = config();
    let cache = WsdlCache::default();
    let client = Client::new(&cfg, &env, &cache);
    check(&client).unwrap();
    let w = streams::write(&client, "purchase_orders", &po_doc("REQ-2", "0000000102")).unwrap();
    assert_eq!(
        streams::lookup(&client, "purchase_orders", "REQ-2").unwrap(),
        Some(w.target_key)
    );
    assert!(
        !streams::read(&client, "vendors", None)
            .unwrap()
            .docs
            .is_empty()
    );
}

#[test]
fn reference_streams_read_and_round_trip_hostile_names() {
    let env = EmulatorEnv::new(PeopleSoftConfig::default(), Auth::Basic);
    let cfg = config();
    let cache = WsdlCache::default();
    let client = Client::new(&cfg, &env, &cache);
    let vendors = streams::read(&client, "vendors", None).unwrap();
    assert!(vendors.bad_records.is_empty(), "{:?}", vendors.bad_records);
    let names: Vec<String> = vendors
        .docs
        .iter()
        .map(|d| {
            serde_json::from_str::<serde_json::Value>(&d.body).unwrap()["name1"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for hostile in [
        "Barnes & Noble Office <B2B>",
        "O'Brien \"Quality\" Fasteners",
        "Café Société Catering",
        "東京精密機器株式会社",
    ] {
        assert!(
            names.iter().any(|n| n == hostile),
            "{hostile} missing from {names:?}"
        );
    }
    let accounts = streams::read(&client, "accounts", None).unwrap();
    assert!(accounts.docs.iter().any(|d| d.key == "610000"));
    assert!(
        !accounts.docs.iter().any(|d| d.key == "699000"),
        "inactive account listed"
    );
    let departments = streams::read(&client, "departments", None).unwrap();
    assert!(departments.docs.iter().any(|d| d.key == "20100"));
}

#[test]
fn vendor_account_and_department_creates_return_their_keys_and_are_found() {
    let env = EmulatorEnv::new(PeopleSoftConfig::default(), Auth::Basic);
    let cfg = config();
    let cache = WsdlCache::default();
    let client = Client::new(&cfg, &env, &cache);
    let name = "Smith & Søn <Tools> 工具";
    let vendor = Doc {
        key: name.to_string(),
        body: serde_json::json!({"name1": name, "address": {"address1": "1 Main St", "city": "Springfield", "state": "IL", "postal": "62701", "country": "USA"}}).to_string(),
    };
    let written = streams::write(&client, "vendors", &vendor).unwrap();
    assert_ne!(written.target_key, "NEXT");
    let stored = env
        .site
        .vendors()
        .into_iter()
        .find(|v| v.vendor_id == written.target_key)
        .unwrap();
    assert_eq!(stored.name1, name);
    assert_eq!(
        streams::lookup(&client, "vendors", name).unwrap(),
        Some(written.target_key.clone())
    );
    assert_eq!(
        streams::lookup(&client, "vendors", &written.target_key).unwrap(),
        Some(written.target_key)
    );

    let account = Doc {
        key: "615000".into(),
        body: r#"{"descr": "Lab Supplies"}"#.into(),
    };
    assert_eq!(
        streams::write(&client, "accounts", &account)
            .unwrap()
            .target_key,
        "615000"
    );
    assert_eq!(
        streams::lookup(&client, "accounts", "615000")
            .unwrap()
            .as_deref(),
        Some("615000")
    );
    let dept = Doc {
        key: "60100".into(),
        body: r#"{"descr": "R&D"}"#.into(),
    };
    assert_eq!(
        streams::write(&client, "departments", &dept)
            .unwrap()
            .target_key,
        "60100"
    );
    assert_eq!(
        streams::lookup(&client, "departments", "60100")
            .unwrap()
            .as_deref(),
        Some("60100")
    );
    assert_eq!(
        streams::lookup(&client, "departments", "60199").unwrap(),
        None
    );
}

#[test]
fn vouchers_of_a_new_po_are_read_grouped_with_their_lines() {
    let env = EmulatorEnv::new(PeopleSoftConfig::default(), Auth::Basic);
    let cfg = config();
    let cache = WsdlCache::default();
    let client = Client::new(&cfg, &env, &cache);
    let po_id = streams::write(&client, "purchase_orders", &po_doc("REQ-55", "0000000101"))
        .unwrap()
        .target_key;
    let voucher = env.site.add_voucher(&po_id, true).unwrap();
    let first = streams::read(&client, "vouchers", None).unwrap();
    assert!(first.bad_records.is_empty(), "{:?}", first.bad_records);
    let key = format!("{}/{}", voucher.business_unit, voucher.voucher_id);
    let doc = first
        .docs
        .iter()
        .find(|d| d.key == key)
        .expect("new voucher read");
    let body: serde_json::Value = serde_json::from_str(&doc.body).unwrap();
    assert_eq!(body["match_status_vchr"], "M");
    assert_eq!(body["lines"].as_array().unwrap().len(), 2);
    assert_eq!(body["lines"][0]["po_id"], po_id.as_str());
    assert_eq!(body["lines"][0]["merchandise_amt"], "125.00");
    // The next read starts from the cursor and still sees it (overlap), nothing older.
    let cursor = first.cursor.clone().unwrap();
    let next = streams::read(&client, "vouchers", Some(&cursor)).unwrap();
    assert!(next.docs.iter().any(|d| d.key == key));
    assert!(next.docs.len() <= first.docs.len());
}

#[test]
fn wsdls_are_fetched_once_per_instance() {
    let env = EmulatorEnv::new(PeopleSoftConfig::default(), Auth::Basic);
    let cfg = config();
    let cache = WsdlCache::default();
    let client = Client::new(&cfg, &env, &cache);
    streams::lookup(&client, "purchase_orders", "A").unwrap();
    let after_first = env.calls.get();
    streams::lookup(&client, "purchase_orders", "B").unwrap();
    assert_eq!(
        env.calls.get() - after_first,
        1,
        "second lookup refetched the WSDL"
    );
}

#[test]
fn soap_12_requests_work_end_to_end() {
    let env = EmulatorEnv::new(PeopleSoftConfig::default(), Auth::Basic);
    let cfg = Config::parse(
        "http://ps.sandbox:8000",
        r#"{"node":"PSFT_EP","business_unit":"US001","soap_version":"1.2"}"#,
    )
    .unwrap();
    let cache = WsdlCache::default();
    let client = Client::new(&cfg, &env, &cache);
    let w = streams::write(&client, "purchase_orders", &po_doc("REQ-12", "0000000103")).unwrap();
    assert_eq!(
        streams::lookup(&client, "purchase_orders", "REQ-12").unwrap(),
        Some(w.target_key)
    );
    let bad = EmulatorEnv::new(PeopleSoftConfig::default(), Auth::Basic).with_password("nope");
    let r = streams::read(&Client::new(&cfg, &bad, &cache), "accounts", None);
    assert!(matches!(r, Err(Failure::Unauthorized(_))), "{r:?}");
}
