//! Behaviour of the Procurify emulator over HTTP: OAuth and authentication,
//! DRF paging, django-filter filters and ordering, writes and their
//! validation errors, mutations over time, and faults through its server.

use std::time::Duration;

use http::{Method, StatusCode};
use mlc_sandbox::faults::{Fault, FaultRule};
use mlc_sandbox::procurify::{ProcurifyConfig, ProcurifySandbox, order_status};
use serde_json::{Value, json};

use super::support::{Tenant, send};

fn ids(page: &Value, key: &str) -> Vec<u64> {
    page["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|v| v[key].as_u64().expect("numeric id"))
        .collect()
}

// ------------------------------------------------------------------ auth

async fn token_call(sb: &ProcurifySandbox, body: Value) -> super::support::Answer {
    send(sb.addr(), Method::POST, "/oauth/token", &[], Some(body))
        .await
        .expect("token call")
}

#[tokio::test]
async fn token_endpoint_issues_bearer_tokens_with_configured_lifetime() {
    let t = Tenant::start(ProcurifyConfig {
        requisitions: 5,
        token_ttl_secs: 3600,
        ..Default::default()
    })
    .await;
    let a = token_call(
        &t.sandbox,
        json!({"client_id": "mlc-demo-client", "client_secret": "mlc-demo-secret",
        "audience": "https://api.procurify.com/", "grant_type": "client_credentials"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let body = a.json();
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().expect("token");
    let auth = format!("Bearer {token}");
    let r = send(
        t.sandbox.addr(),
        Method::GET,
        "/api/v2/currencies/",
        &[("authorization", &auth), ("x-procurify-client", "api")],
        None,
    )
    .await
    .expect("call");
    assert_eq!(r.status, StatusCode::OK);
    assert!(t.sandbox.token_url().ends_with("/oauth/token"));
}

#[tokio::test]
async fn token_endpoint_accepts_form_encoded_credentials() {
    let sb = ProcurifySandbox::start(ProcurifyConfig {
        requisitions: 1,
        ..Default::default()
    })
    .await
    .expect("start");
    let stream = tokio::net::TcpStream::connect(sb.addr())
        .await
        .expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<
        _,
        http_body_util::Full<bytes::Bytes>,
    >(hyper_util::rt::TokioIo::new(stream))
    .await
    .expect("handshake");
    tokio::spawn(conn);
    let req = http::Request::post("/oauth/token")
        .header("host", sb.addr().to_string())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            b"grant_type=client_credentials&client_id=mlc-demo-client&client_secret=mlc-demo-secret")))
        .expect("request");
    let resp = sender.send_request(req).await.expect("answer");
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_client_secret_gets_401_invalid_client() {
    let sb = ProcurifySandbox::start(ProcurifyConfig {
        requisitions: 1,
        ..Default::default()
    })
    .await
    .expect("start");
    let a = token_call(&sb, json!({"client_id": "mlc-demo-client", "client_secret": "wrong", "grant_type": "client_credentials"})).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.json()["error"], "invalid_client");
    let g = token_call(&sb, json!({"client_id": "mlc-demo-client", "client_secret": "mlc-demo-secret", "grant_type": "password"})).await;
    assert_eq!(g.status, StatusCode::BAD_REQUEST);
    assert_eq!(g.json()["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn api_calls_without_valid_token_or_client_header_are_refused() {
    let t = Tenant::fixed(3).await;
    let addr = t.sandbox.addr();
    let auth = format!("Bearer {}", t.token);
    let none = send(
        addr,
        Method::GET,
        "/api/v3/vendors/",
        &[("x-procurify-client", "api")],
        None,
    )
    .await
    .expect("call");
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.json()["detail"],
        "Authentication credentials were not provided."
    );
    assert!(
        none.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer"))
    );
    let bogus = send(
        addr,
        Method::GET,
        "/api/v3/vendors/",
        &[
            ("authorization", "Bearer nope"),
            ("x-procurify-client", "api"),
        ],
        None,
    )
    .await
    .expect("call");
    assert_eq!(bogus.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bogus.json()["detail"], "Invalid token.");
    let no_header = send(
        addr,
        Method::GET,
        "/api/v3/vendors/",
        &[("authorization", &auth)],
        None,
    )
    .await
    .expect("call");
    assert_eq!(no_header.status, StatusCode::FORBIDDEN);
    assert!(
        no_header.json()["detail"]
            .as_str()
            .unwrap_or("")
            .contains("X-Procurify-Client: api")
    );
    assert_eq!(t.get("/api/v3/vendors/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn expire_tokens_invalidates_every_issued_token() {
    let t = Tenant::fixed(3).await;
    assert_eq!(t.get("/api/v2/currencies/").await.status, StatusCode::OK);
    t.sandbox.expire_tokens();
    assert_eq!(
        t.get("/api/v2/currencies/").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn tokens_expire_after_their_lifetime() {
    let mut t = Tenant::start(ProcurifyConfig {
        requisitions: 2,
        token_ttl_secs: 3,
        ..Default::default()
    })
    .await;
    // A token issued just now (not when the tenant started) is valid within
    // its lifetime, and refused once it has passed.
    t.token = t.sandbox.issue_token();
    // Taken after issuing: the token expires at or before this plus 3 s.
    let issued = tokio::time::Instant::now();
    assert_eq!(t.get("/api/v2/currencies/").await.status, StatusCode::OK);
    tokio::time::sleep_until(issued + Duration::from_millis(3100)).await;
    let a = t.get("/api/v2/currencies/").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.json()["detail"], "Token has expired.");
}

// ---------------------------------------------------------------- routing

#[tokio::test]
async fn missing_trailing_slash_redirects_like_django() {
    let t = Tenant::fixed(3).await;
    let a = t.get("/api/v3/vendors?page=1").await;
    assert_eq!(a.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(a.header("location"), Some("/api/v3/vendors/?page=1"));
    let unknown = t.get("/api/v3/nothing-here/").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_ids_get_drf_not_found_and_bills_cannot_be_created() {
    let t = Tenant::fixed(3).await;
    for path in [
        "/api/v3/vendors/9999/",
        "/api/v2/purchase_orders/9999/",
        "/api/v2/locations/77/",
    ] {
        let a = t.get(path).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(a.json(), json!({"detail": "Not found."}));
    }
    let put = t
        .call(
            Method::PUT,
            "/api/v3/departments/9999/",
            Some(json!({"branch": 1, "name": "x"})),
        )
        .await;
    assert_eq!(put.status, StatusCode::NOT_FOUND);
    let close = t
        .call(Method::POST, "/api/v3/purchase-orders/9999/close/", None)
        .await;
    assert_eq!(close.status, StatusCode::NOT_FOUND);
    let bill = t
        .call(Method::POST, "/api/v3/ap/bills/", Some(json!({})))
        .await;
    assert_eq!(bill.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(bill.json()["detail"], "Method \"POST\" not allowed.");
    assert_eq!(bill.header("allow"), Some("GET"));
}

// ----------------------------------------------------------------- paging

#[tokio::test]
async fn paging_covers_exact_multiples_last_page_and_past_the_end() {
    let t = Tenant::fixed(40).await;
    // 40 requisitions, page_size 10: exactly 4 pages.
    let p1 = t
        .get_json("/api/v2/global/orders/?page_size=10&status=&x=1")
        .await;
    let pg = &p1["metadata"]["pagination"];
    assert_eq!(pg["count"], 40);
    assert_eq!(pg["num_pages"], 4);
    assert_eq!(pg["current_page"], 1);
    assert_eq!(pg["previous"], Value::Null);
    let base = t.sandbox.base_url();
    assert_eq!(
        pg["next"],
        format!("{base}/api/v2/global/orders/?page=2&page_size=10&status=&x=1")
    );
    let p2 = t.get_json(pg["next"].as_str().expect("next")).await;
    assert_eq!(
        p2["metadata"]["pagination"]["previous"],
        format!("{base}/api/v2/global/orders/?page_size=10&status=&x=1")
    );
    let p4 = t
        .get_json("/api/v2/global/orders/?page_size=10&page=4")
        .await;
    assert_eq!(p4["metadata"]["pagination"]["next"], Value::Null);
    assert_eq!(p4["data"].as_array().map(Vec::len), Some(10));
    assert_eq!(ids(&p4, "num"), (31..=40).collect::<Vec<_>>());
    let past = t.get("/api/v2/global/orders/?page_size=10&page=5").await;
    assert_eq!(past.status, StatusCode::NOT_FOUND);
    assert_eq!(past.json(), json!({"detail": "Invalid page."}));
    assert_eq!(
        t.get("/api/v2/global/orders/?page=0").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.get("/api/v2/global/orders/?page=abc").await.status,
        StatusCode::NOT_FOUND
    );
    // A partial last page.
    let p3 = t
        .get_json("/api/v2/global/orders/?page_size=15&page=3")
        .await;
    assert_eq!(p3["data"].as_array().map(Vec::len), Some(10));
    // All pages together list every requisition once.
    let all = t.all_pages("/api/v2/global/orders/?page_size=7").await;
    let mut nums: Vec<u64> = all
        .iter()
        .map(|o| o["num"].as_u64().expect("num"))
        .collect();
    nums.dedup();
    assert_eq!(nums, (1..=40).collect::<Vec<_>>());
}

#[tokio::test]
async fn page_size_is_clamped_and_empty_filters_give_one_empty_page() {
    let t = Tenant::start(ProcurifyConfig {
        requisitions: 30,
        page_size_max: 25,
        ..Default::default()
    })
    .await;
    let p = t.get_json("/api/v2/global/orders/?page_size=1000").await;
    assert_eq!(p["metadata"]["pagination"]["page_size"], 25);
    assert_eq!(p["metadata"]["pagination"]["num_pages"], 2);
    let empty = t
        .get_json("/api/v2/global/orders/?modified_date_0=1999-01-01&modified_date_1=1999-01-02")
        .await;
    assert_eq!(empty["metadata"]["pagination"]["count"], 0);
    assert_eq!(empty["metadata"]["pagination"]["num_pages"], 1);
    assert_eq!(empty["data"], json!([]));
}

// ---------------------------------------------------------------- filters

#[tokio::test]
async fn date_filters_include_both_end_days() {
    let t = Tenant::fixed(200).await;
    let (day, expected) = {
        let s = t.sandbox.state();
        let day = s.orders[17].date_modified.date_naive();
        let expected: Vec<u64> = s
            .orders
            .iter()
            .filter(|o| o.date_modified.date_naive() == day)
            .map(|o| o.num)
            .collect();
        (day, expected)
    };
    let q = format!(
        "/api/v2/global/orders/?modified_date_0={day}&modified_date_1={day}&page_size=1000"
    );
    let got = ids(&t.get_json(&q).await, "num");
    assert_eq!(got, expected);
    assert!(!got.is_empty());
    // Items: approved_datetime range over two days includes both ends.
    let (from, to, expected_items) = {
        let s = t.sandbox.state();
        let from = s
            .items
            .iter()
            .find_map(|i| i.approved_datetime)
            .expect("an approved item")
            .date_naive();
        let to = from.succ_opt().expect("next day");
        let expected: Vec<u64> = s
            .items
            .iter()
            .filter(|i| {
                i.approved_datetime
                    .is_some_and(|d| d.date_naive() >= from && d.date_naive() <= to)
            })
            .map(|i| i.id)
            .collect();
        (from, to, expected)
    };
    let got = ids(&t.get_json(&format!("/api/v3/order-items/?approved_datetime_0={from}&approved_datetime_1={to}&page_size=1000")).await, "id");
    assert_eq!(got, expected_items);
    assert!(!got.is_empty());
    let bad = t
        .get("/api/v3/order-items/?last_modified_0=03/01/2025")
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.json(),
        json!({"last_modified_0": ["Enter a valid date."]})
    );
}

#[tokio::test]
async fn bill_datetime_filter_is_inclusive_to_the_microsecond() {
    let t = Tenant::fixed(300).await;
    let (at, expected) = {
        let s = t.sandbox.state();
        let b = &s.bills[3];
        let expected: Vec<u64> = s
            .bills
            .iter()
            .filter(|x| x.last_modified == b.last_modified)
            .map(|x| x.id)
            .collect();
        (
            mlc_sandbox::procurify::render::ts(b.last_modified),
            expected,
        )
    };
    let enc = at.replace(':', "%3A");
    let got = ids(
        &t.get_json(&format!(
            "/api/v3/ap/bills/?last_modified_datetime_0={enc}&last_modified_datetime_1={enc}"
        ))
        .await,
        "id",
    );
    assert_eq!(got, expected);
}

#[tokio::test]
async fn status_filters_select_orders_and_items() {
    let t = Tenant::fixed(150).await;
    let (approved_orders, approved_lines, denied_items) = {
        let s = t.sandbox.state();
        let approved: Vec<u64> = s
            .orders
            .iter()
            .filter(|o| o.status == order_status::APPROVED)
            .map(|o| o.num)
            .collect();
        let lines: Vec<u64> = s
            .items
            .iter()
            .filter(|i| s.order(i.order_num).is_some_and(|o| o.status == 1))
            .map(|i| i.id)
            .collect();
        let denied: Vec<u64> = s
            .items
            .iter()
            .filter(|i| i.status == 7)
            .map(|i| i.id)
            .collect();
        (approved, lines, denied)
    };
    assert_eq!(
        ids(
            &t.get_json("/api/v2/global/orders/?status=1&page_size=1000")
                .await,
            "num"
        ),
        approved_orders
    );
    assert_eq!(
        ids(
            &t.get_json("/api/v3/order-items/?orderNum__status=1&page_size=1000")
                .await,
            "id"
        ),
        approved_lines
    );
    assert_eq!(
        ids(
            &t.get_json("/api/v3/order-items/?status=7&page_size=1000")
                .await,
            "id"
        ),
        denied_items
    );
    let bad = t.get("/api/v2/global/orders/?status=9").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.json()["status"][0],
        "Select a valid choice. 9 is not one of the available choices."
    );
    let closed = t
        .get_json("/api/v2/purchase_orders/purchased/closed/?page_size=1000")
        .await;
    assert!(
        closed["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|p| p["state"] == 3)
    );
    assert_eq!(
        t.get("/api/v2/purchase_orders/buyer/all/").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn lines_of_one_requisition_are_exactly_what_a_full_scan_selects() {
    let t = Tenant::fixed(80).await;
    let expected = |num: u64, status: Option<u8>| -> Vec<u64> {
        let s = t.sandbox.state();
        s.items
            .iter()
            .filter(|i| i.order_num == num && status.is_none_or(|st| i.status == st))
            .map(|i| i.id)
            .collect()
    };
    for num in [1, 2, 40, 80] {
        let all = ids(
            &t.get_json(&format!(
                "/api/v3/order-items/?orderNum={num}&page_size=1000"
            ))
            .await,
            "id",
        );
        assert!(!all.is_empty(), "requisition {num} has lines");
        assert_eq!(all, expected(num, None), "requisition {num}");
        let status = t.sandbox.state().item(all[0]).expect("line").status;
        assert_eq!(
            ids(
                &t.get_json(&format!(
                    "/api/v3/order-items/?orderNum={num}&status={status}&page_size=1000"
                ))
                .await,
                "id"
            ),
            expected(num, Some(status)),
            "requisition {num}, status {status}"
        );
        let newest_first = ids(
            &t.get_json(&format!(
                "/api/v3/order-items/?orderNum={num}&order_by=-id&page_size=1"
            ))
            .await,
            "id",
        );
        assert_eq!(newest_first, vec![*all.last().expect("a line")]);
    }
    let none = t
        .get_json("/api/v3/order-items/?orderNum=999999&page_size=1000")
        .await;
    assert_eq!(none["data"], serde_json::json!([]));
}

#[tokio::test]
async fn order_by_sorts_ascending_and_descending() {
    let t = Tenant::fixed(60).await;
    let asc = t
        .get_json("/api/v3/order-items/?order_by=last_modified&page_size=1000")
        .await;
    let times: Vec<String> = asc["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|i| i["last_modified"].as_str().expect("t").to_owned())
        .collect();
    let parsed: Vec<chrono::DateTime<chrono::FixedOffset>> = times
        .iter()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).expect("ts"))
        .collect();
    assert!(parsed.windows(2).all(|w| w[0] <= w[1]));
    let desc = ids(
        &t.get_json("/api/v2/global/orders/?order_by=-num&page_size=5")
            .await,
        "num",
    );
    assert_eq!(desc, vec![60, 59, 58, 57, 56]);
    let by_name = t
        .get_json("/api/v3/vendors/?order_by=name&page_size=100")
        .await;
    let names: Vec<&str> = by_name["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|v| v["name"].as_str().expect("name"))
        .collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]));
    let bad = t.get("/api/v2/global/orders/?order_by=secret").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn shapes_use_documented_decimals_enums_and_names() {
    let t = Tenant::fixed(20).await;
    let items = t.get_json("/api/v3/order-items/?page_size=1").await;
    let i = &items["data"][0];
    let price = i["price"].as_str().expect("price is a string");
    assert_eq!(price.split('.').nth(1).map(str::len), Some(8), "{price}");
    assert_eq!(
        i["quantity"]
            .as_str()
            .and_then(|q| q.split('.').nth(1))
            .map(str::len),
        Some(5)
    );
    assert!(i["status"].is_u64());
    assert!(i["accountCode"].is_string() && i["pref_vendor"].is_u64() && i["orderNum"].is_u64());
    let vendors = t.all_pages("/api/v3/vendors/?page_size=100").await;
    assert!(vendors.iter().any(|v| v["name"] == "Barnes & Noble Office <B2B>" && v["external_id"] == "0000000102"));
    assert!(
        vendors
            .iter()
            .any(|v| v["name"] == "北京办公用品有限公司" && v["external_id"].is_null())
    );
    let depts = t.get_json("/api/v3/departments/?page_size=100").await;
    assert_eq!(
        depts["data"]
            .as_array()
            .expect("d")
            .iter()
            .filter(|d| d["external_id"].is_null())
            .count(),
        2
    );
}

// ----------------------------------------------------------------- writes

#[tokio::test]
async fn vendor_writes_create_update_and_patch() {
    let t = Tenant::fixed(5).await;
    let c = t
        .call(
            Method::POST,
            "/api/v3/vendors/",
            Some(json!({"name": "Uline Shipping Supplies", "type": 2,
        "email": ["ap@uline.example.com"], "overall_score": null, "external_id": "0000000201"})),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED);
    let id = c.json()["data"]["id"].as_u64().expect("id");
    assert_eq!(
        t.sandbox
            .state()
            .vendor(id)
            .and_then(|v| v.external_id.clone())
            .as_deref(),
        Some("0000000201")
    );
    let p = t
        .call(
            Method::PATCH,
            &format!("/api/v3/vendors/{id}/"),
            Some(json!({"city": "Pleasant Prairie"})),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.json()["data"]["city"], "Pleasant Prairie");
    let u = t
        .call(
            Method::PUT,
            &format!("/api/v3/vendors/{id}/"),
            Some(json!({"name": "Uline", "type": 2, "email": [], "overall_score": null})),
        )
        .await;
    assert_eq!(u.status, StatusCode::OK);
    let s = t.sandbox.state();
    let v = s.vendor(id).expect("vendor");
    assert_eq!(v.name, "Uline");
    assert_eq!(v.city.as_deref(), Some("Pleasant Prairie"));
}

#[tokio::test]
async fn vendor_validation_errors_are_drf_shaped() {
    let t = Tenant::fixed(3).await;
    let missing = t
        .call(Method::POST, "/api/v3/vendors/", Some(json!({})))
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        missing.json(),
        json!({
            "name": ["This field is required."], "email": ["This field is required."],
            "type": ["This field is required."], "overall_score": ["This field is required."]
        })
    );
    let bad = t
        .call(
            Method::POST,
            "/api/v3/vendors/",
            Some(json!({
                "name": "x".repeat(151), "type": 5, "email": ["ok@example.com", "not-an-email"],
                "overall_score": "abc", "active": "maybe", "currency": 99
            })),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let e = bad.json();
    assert_eq!(
        e["name"],
        json!(["Ensure this field has no more than 150 characters."])
    );
    assert_eq!(e["type"], json!(["\"5\" is not a valid choice."]));
    assert_eq!(e["email"], json!({"1": ["Enter a valid email address."]}));
    assert_eq!(e["overall_score"], json!(["A valid number is required."]));
    assert_eq!(e["active"], json!(["Must be a valid boolean."]));
    let blank = t
        .call(
            Method::POST,
            "/api/v3/vendors/",
            Some(json!({"name": " ", "type": 2, "email": "a@b.co", "overall_score": null})),
        )
        .await;
    let e = blank.json();
    assert_eq!(e["name"], json!(["This field may not be blank."]));
    assert_eq!(
        e["email"],
        json!(["Expected a list of items but got type \"str\"."])
    );
    let pk = t
        .call(
            Method::POST,
            "/api/v3/vendors/",
            Some(
                json!({"name": "N", "type": 2, "email": [], "overall_score": null, "currency": 99}),
            ),
        )
        .await;
    assert_eq!(
        pk.json(),
        json!({"currency": ["Invalid pk \"99\" - object does not exist."]})
    );
    let not_object = t
        .call(Method::POST, "/api/v3/vendors/", Some(json!([1])))
        .await;
    assert_eq!(
        not_object.json(),
        json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
    );
    let null_name = t
        .call(
            Method::PATCH,
            "/api/v3/vendors/1/",
            Some(json!({"name": null})),
        )
        .await;
    assert_eq!(
        null_name.json(),
        json!({"name": ["This field may not be null."]})
    );
}

#[tokio::test]
async fn account_code_writes_validate_and_create_accounts() {
    let t = Tenant::fixed(3).await;
    let before = t.sandbox.state().accounts.len();
    let ok = t
        .call(
            Method::POST,
            "/api/v3/account-codes/",
            Some(json!({"code": "655000", "description": "Legal", "departments": [1, 3]})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    assert_eq!(t.sandbox.state().accounts.len(), before + 2);
    let dup = t
        .call(
            Method::POST,
            "/api/v3/account-codes/",
            Some(json!({"code": "610000", "description": "Again"})),
        )
        .await;
    assert_eq!(
        dup.json(),
        json!({"code": ["account code with this code already exists."]})
    );
    let missing = t
        .call(
            Method::POST,
            "/api/v3/account-codes/",
            Some(json!({"account_type": 9, "departments": [999]})),
        )
        .await;
    let e = missing.json();
    assert_eq!(e["code"], json!(["This field is required."]));
    assert_eq!(e["description"], json!(["This field is required."]));
    assert_eq!(e["account_type"], json!(["\"9\" is not a valid choice."]));
    let bad_dept = t
        .call(
            Method::POST,
            "/api/v3/account-codes/",
            Some(json!({"code": "1", "description": "d", "departments": [999]})),
        )
        .await;
    assert_eq!(
        bad_dept.json(),
        json!({"departments": ["Invalid pk \"999\" - object does not exist."]})
    );
    let put = t
        .call(
            Method::PUT,
            "/api/v3/account-codes/1/",
            Some(json!({"description": "Office"})),
        )
        .await;
    assert_eq!(put.json(), json!({"code": ["This field is required."]}));
    assert_eq!(
        t.get("/api/v3/account-codes/1/").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn department_writes_validate_branch_and_name() {
    let t = Tenant::fixed(3).await;
    let ok = t
        .call(
            Method::POST,
            "/api/v3/departments/",
            Some(json!({"branch": 1, "name": "Paint Shop", "external_id": "20500"})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    let id = ok.json()["data"]["id"].as_u64().expect("id");
    let upd = t
        .call(
            Method::PUT,
            &format!("/api/v3/departments/{id}/"),
            Some(json!({"branch": 1, "name": "Paint Shop", "active": false})),
        )
        .await;
    assert_eq!(upd.status, StatusCode::OK);
    assert_eq!(upd.json()["data"]["active"], false);
    let missing = t
        .call(
            Method::POST,
            "/api/v3/departments/",
            Some(json!({"external_id": "x"})),
        )
        .await;
    assert_eq!(
        missing.json(),
        json!({"branch": ["This field is required."], "name": ["This field is required."]})
    );
    let bad_branch = t
        .call(
            Method::POST,
            "/api/v3/departments/",
            Some(json!({"branch": 42, "name": "N"})),
        )
        .await;
    assert_eq!(
        bad_branch.json(),
        json!({"branch": ["Invalid pk \"42\" - object does not exist."]})
    );
    let bad_type = t
        .call(
            Method::POST,
            "/api/v3/departments/",
            Some(json!({"branch": "one", "name": "N"})),
        )
        .await;
    assert_eq!(
        bad_type.json(),
        json!({"branch": ["A valid integer is required."]})
    );
    let bad_json = send(
        t.sandbox.addr(),
        Method::POST,
        "/api/v3/departments/",
        &[],
        None,
    )
    .await
    .expect("call");
    assert_eq!(bad_json.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn close_and_reopen_change_po_state_and_refuse_wrong_states() {
    let t = Tenant::fixed(100).await;
    let id = t
        .sandbox
        .state()
        .purchase_orders
        .iter()
        .find(|p| p.state == 0)
        .map(|p| p.id)
        .expect("open PO");
    let c = t
        .call(
            Method::POST,
            &format!("/api/v3/purchase-orders/{id}/close/"),
            None,
        )
        .await;
    assert_eq!(c.status, StatusCode::OK);
    assert_eq!(c.json()["data"]["state"], 3);
    assert!(
        t.sandbox
            .state()
            .closed_purchase_orders()
            .iter()
            .any(|p| p.id == id)
    );
    let again = t
        .call(
            Method::POST,
            &format!("/api/v3/purchase-orders/{id}/close/"),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(
        again.json()["non_field_errors"][0]
            .as_str()
            .unwrap_or("")
            .contains("already closed")
    );
    let r = t
        .call(
            Method::POST,
            &format!("/api/v3/purchase-orders/{id}/reopen/"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        t.sandbox.state().purchase_order(id).map(|p| p.state),
        Some(5)
    );
    let r2 = t
        .call(
            Method::POST,
            &format!("/api/v3/purchase-orders/{id}/reopen/"),
            None,
        )
        .await;
    assert_eq!(r2.status, StatusCode::BAD_REQUEST);
}

// -------------------------------------------------------------- mutations

#[tokio::test]
async fn approving_and_modifying_over_time_shows_up_in_incremental_reads() {
    let t = Tenant::fixed(50).await;
    let today = chrono::Utc::now().date_naive();
    let before = t
        .get_json(&format!(
            "/api/v3/order-items/?orderNum__status=1&last_modified_0={today}&page_size=1000"
        ))
        .await;
    assert_eq!(before["metadata"]["pagination"]["count"], 0);
    let approved = t.sandbox.state().approve_more(3);
    assert_eq!(approved.len(), 3);
    let modified_num = t
        .sandbox
        .state()
        .orders
        .iter()
        .find(|o| o.status == 1 && !approved.contains(&o.num))
        .map(|o| o.num)
        .expect("approved order");
    t.sandbox
        .state()
        .modify_approved(modified_num)
        .expect("modify");
    let after = t
        .get_json(&format!(
            "/api/v3/order-items/?orderNum__status=1&last_modified_0={today}&page_size=1000"
        ))
        .await;
    let orders: std::collections::BTreeSet<u64> = after["data"]
        .as_array()
        .expect("d")
        .iter()
        .map(|i| i["orderNum"].as_u64().expect("n"))
        .collect();
    let mut expected: std::collections::BTreeSet<u64> = approved.iter().copied().collect();
    expected.insert(modified_num);
    assert_eq!(orders, expected);
    // More approvals than pending requisitions create new ones.
    let many = t.sandbox.state().approve_more(100);
    assert_eq!(many.len(), 100);
    assert!(t.sandbox.state().orders.len() > 50);
    let v = t.sandbox.state().add_vendor("New & Shiny", None);
    assert_eq!(
        t.get_json(&format!("/api/v3/vendors/{v}/")).await["data"]["name"],
        "New & Shiny"
    );
    assert!(t.sandbox.state().deactivate_account_code("610000"));
    let codes = t.get_json("/api/v3/account-codes/?code=610000").await;
    assert_eq!(codes["data"][0]["active"], false);
    let d = t.sandbox.state().add_department("Skunkworks", None);
    assert_eq!(
        t.get_json("/api/v3/departments/?page_size=100").await["data"]
            .as_array()
            .map(Vec::len),
        Some(d as usize)
    );
}

// ----------------------------------------------------------------- faults

#[tokio::test]
async fn faults_apply_through_the_procurify_server() {
    let t = Tenant::fixed(10).await;
    let plan = t.sandbox.faults();
    plan.add(
        FaultRule::always(Fault::TooManyRequests {
            retry_after_secs: 3,
        })
        .on_path("/api/v3/order-items/")
        .times(1),
    );
    let throttled = t.get("/api/v3/order-items/").await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.header("retry-after"), Some("3"));
    assert_eq!(t.get("/api/v3/order-items/").await.status, StatusCode::OK);

    plan.add(FaultRule::always(Fault::Status(502)).times(1));
    assert_eq!(
        t.get("/api/v3/vendors/").await.status,
        StatusCode::BAD_GATEWAY
    );

    plan.add(FaultRule::always(Fault::MalformedBody).times(1));
    let broken = t.get("/api/v3/vendors/").await;
    assert_eq!(broken.status, StatusCode::OK);
    assert!(serde_json::from_slice::<Value>(&broken.body).is_err());

    plan.add(FaultRule::always(Fault::DropConnection).times(1));
    let dropped = send(t.sandbox.addr(), Method::GET, "/api/v3/vendors/", &[], None).await;
    assert!(dropped.is_err(), "a dropped connection yields no answer");

    plan.add(FaultRule::always(Fault::TruncateBody).times(1));
    let auth = format!("Bearer {}", t.token);
    let cut = send(
        t.sandbox.addr(),
        Method::GET,
        "/api/v2/global/orders/",
        &[("authorization", &auth), ("x-procurify-client", "api")],
        None,
    )
    .await;
    assert!(cut.is_err(), "a truncated body fails the client read");

    plan.add(
        FaultRule::always(Fault::SlowBody {
            chunk_delay: Duration::from_millis(2),
        })
        .times(1),
    );
    let slow = t.get("/api/v3/vendors/").await;
    assert_eq!(slow.status, StatusCode::OK);
    assert!(slow.json()["data"].is_array());

    plan.add(
        FaultRule::always(Fault::Latency {
            fixed: Duration::from_millis(100),
            jitter: Duration::ZERO,
        })
        .times(1),
    );
    let started = std::time::Instant::now();
    assert_eq!(t.get("/api/v3/vendors/").await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(100));

    let counts = plan.injected();
    assert_eq!(
        (
            counts.too_many_requests,
            counts.status,
            counts.malformed_body,
            counts.drop_connection,
            counts.truncate_body,
            counts.slow_body,
            counts.latency
        ),
        (1, 1, 1, 1, 1, 1, 1)
    );
    let faults: Vec<Option<String>> = t
        .sandbox
        .server()
        .requests()
        .into_iter()
        .map(|r| r.fault)
        .collect();
    assert_eq!(faults.iter().flatten().count(), 7);
}
