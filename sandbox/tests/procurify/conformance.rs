//! Conformance: every path and method the emulator serves answers a body
//! that validates against that operation's success schema in Procurify's
//! official OpenAPI document (envelope and every item of every page).

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::support::{Tenant, assert_conforms, check, response_schema, send};

/// Fetches every page of `first` and validates each whole page.
async fn conforming_pages(t: &Tenant, spec_path: &str, first: &str) -> usize {
    let schema = response_schema(spec_path, "get", "200");
    let mut target = Some(first.to_owned());
    let mut items = 0;
    while let Some(url) = target {
        let page = t.get_json(&url).await;
        assert_conforms(&format!("GET {url}"), &schema, &page);
        items += page["data"].as_array().map_or(0, Vec::len);
        target = page["metadata"]["pagination"]["next"]
            .as_str()
            .map(str::to_owned);
    }
    assert!(items > 0, "GET {first} listed nothing to check");
    items
}

#[tokio::test]
async fn checker_reports_mismatches_with_their_json_path() {
    let schema = response_schema("/api/v3/order-items", "get", "200");
    let bad = json!({
        "metadata": {"pagination": {"count": 1, "next": null, "previous": null, "page_size": 10, "num_pages": 1, "current_page": 1}},
        "data": [{"id": 1, "name": "x", "price": 12.5, "bogus": true}]
    });
    let errors = check(&schema, &bad);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("$.data[0].price: expected string")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("$.data[0]: required property \"account\" is missing")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("$.data[0].bogus: property not declared")),
        "{errors:?}"
    );
}

#[tokio::test]
async fn token_answer_conforms() {
    let t = Tenant::fixed(5).await;
    let cfg = t.sandbox.config().clone();
    let a = send(
        t.sandbox.addr(),
        Method::POST,
        "/oauth/token",
        &[],
        Some(
            json!({"client_id": cfg.client_id, "client_secret": cfg.client_secret,
                    "audience": "https://api.procurify.com/", "grant_type": "client_credentials"}),
        ),
    )
    .await
    .expect("token call");
    assert_eq!(a.status, StatusCode::OK);
    assert_conforms(
        "POST /oauth/token",
        &response_schema("/oauth/token", "post", "200"),
        &a.json(),
    );
}

#[tokio::test]
async fn every_list_endpoint_conforms_on_every_page() {
    let t = Tenant::fixed(300).await;
    let n = conforming_pages(
        &t,
        "/api/v2/global/orders",
        "/api/v2/global/orders/?page_size=100",
    )
    .await;
    assert_eq!(n, 300);
    conforming_pages(
        &t,
        "/api/v3/order-items",
        "/api/v3/order-items/?page_size=500",
    )
    .await;
    for status in ["all", "open", "closed", "paid"] {
        conforming_pages(
            &t,
            "/api/v2/purchase_orders/{role}/{status}",
            &format!("/api/v2/purchase_orders/purchased/{status}/?page_size=100"),
        )
        .await;
    }
    conforming_pages(
        &t,
        "/api/v2/purchase_orders/{role}/{status}",
        "/api/v2/purchase_orders/receivable/all/?page_size=100",
    )
    .await;
    conforming_pages(&t, "/api/v3/vendors", "/api/v3/vendors/?page_size=5").await;
    conforming_pages(&t, "/api/v3/account-codes", "/api/v3/account-codes/").await;
    conforming_pages(&t, "/api/v3/accounts", "/api/v3/accounts/?page_size=50").await;
    conforming_pages(&t, "/api/v3/departments", "/api/v3/departments/").await;
    conforming_pages(&t, "/api/v2/locations", "/api/v2/locations/").await;
    conforming_pages(&t, "/api/v2/currencies", "/api/v2/currencies/").await;
    conforming_pages(&t, "/api/v3/ap/bills", "/api/v3/ap/bills/?page_size=50").await;
}

#[tokio::test]
async fn every_detail_and_write_endpoint_conforms() {
    let t = Tenant::fixed(120).await;
    let po_id = t
        .sandbox
        .state()
        .purchase_orders
        .iter()
        .find(|p| p.state == 0)
        .map(|p| p.id)
        .expect("an open PO");

    let po = t
        .get_json(&format!("/api/v2/purchase_orders/{po_id}/"))
        .await;
    assert_conforms(
        "GET PO detail",
        &response_schema("/api/v2/purchase_orders/{id}", "get", "200"),
        &po,
    );
    assert!(
        !po["data"]["order_items"]
            .as_array()
            .expect("lines")
            .is_empty()
    );

    let loc = t.get_json("/api/v2/locations/1/").await;
    assert_conforms(
        "GET location",
        &response_schema("/api/v2/locations/{id}", "get", "200"),
        &loc,
    );

    let vendor = t.get_json("/api/v3/vendors/2/").await;
    assert_conforms(
        "GET vendor",
        &response_schema("/api/v3/vendors/{id}", "get", "200"),
        &vendor,
    );

    let created = t
        .call(
            Method::POST,
            "/api/v3/vendors/",
            Some(json!({
                "name": "Würth Industrie Service", "type": 2, "email": ["ap@wurth.example.com"],
                "overall_score": null, "external_id": "0000000202", "active": true
            })),
        )
        .await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let created = created.json();
    assert_conforms(
        "POST vendor",
        &response_schema("/api/v3/vendors", "post", "201"),
        &created,
    );
    let vid = created["data"]["id"].as_u64().expect("new vendor id");

    let put = t
        .call(Method::PUT, &format!("/api/v3/vendors/{vid}/"), Some(json!({
            "name": "Würth Industrie Service GmbH", "type": 2, "email": [], "overall_score": "80.5"
        })))
        .await;
    assert_eq!(
        put.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&put.body)
    );
    assert_conforms(
        "PUT vendor",
        &response_schema("/api/v3/vendors/{id}", "put", "200"),
        &put.json(),
    );

    let patch = t
        .call(
            Method::PATCH,
            &format!("/api/v3/vendors/{vid}/"),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(patch.status, StatusCode::OK);
    assert_conforms(
        "PATCH vendor",
        &response_schema("/api/v3/vendors/{id}", "patch", "200"),
        &patch.json(),
    );

    let code = t
        .call(Method::POST, "/api/v3/account-codes/", Some(json!({
            "code": "680000", "description": "Training", "account_type": 0, "parent": null, "departments": [1, 2]
        })))
        .await;
    assert_eq!(
        code.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&code.body)
    );
    let code = code.json();
    assert_conforms(
        "POST account code",
        &response_schema("/api/v3/account-codes", "post", "201"),
        &code,
    );
    let cid = code["data"]["id"].as_u64().expect("code id");
    let code_put = t
        .call(
            Method::PUT,
            &format!("/api/v3/account-codes/{cid}/"),
            Some(json!({"code": "680000", "description": "Training & Seminars"})),
        )
        .await;
    assert_eq!(code_put.status, StatusCode::OK);
    assert_conforms(
        "PUT account code",
        &response_schema("/api/v3/account-codes/{id}", "put", "200"),
        &code_put.json(),
    );

    let dept = t
        .call(
            Method::POST,
            "/api/v3/departments/",
            Some(json!({"branch": 1, "name": "Tooling", "external_id": "20400", "active": true})),
        )
        .await;
    assert_eq!(
        dept.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&dept.body)
    );
    let dept = dept.json();
    assert_conforms(
        "POST department",
        &response_schema("/api/v3/departments", "post", "201"),
        &dept,
    );
    let did = dept["data"]["id"].as_u64().expect("department id");
    let dept_put = t
        .call(
            Method::PUT,
            &format!("/api/v3/departments/{did}/"),
            Some(json!({"branch": 2, "name": "Tooling & Dies"})),
        )
        .await;
    assert_eq!(dept_put.status, StatusCode::OK);
    assert_conforms(
        "PUT department",
        &response_schema("/api/v3/departments/{id}", "put", "200"),
        &dept_put.json(),
    );

    let close = t
        .call(
            Method::POST,
            &format!("/api/v3/purchase-orders/{po_id}/close/"),
            None,
        )
        .await;
    assert_eq!(
        close.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&close.body)
    );
    assert_conforms(
        "POST close",
        &response_schema(
            "/api/v3/purchase-orders/{procurify_PO}/close",
            "post",
            "200",
        ),
        &close.json(),
    );
    // Reopen is documented with "No response body".
    let op = &super::support::spec()["paths"]["/api/v3/purchase-orders/{procurify_PO}/reopen"]["post"]
        ["responses"]["200"];
    assert!(
        op.get("content").is_none(),
        "the spec now documents a reopen body: {op}"
    );
    let reopen = t
        .call(
            Method::POST,
            &format!("/api/v3/purchase-orders/{po_id}/reopen/"),
            None,
        )
        .await;
    assert_eq!(reopen.status, StatusCode::OK);
    assert!(reopen.body.is_empty());
    let _: Value = Value::Null;
}
