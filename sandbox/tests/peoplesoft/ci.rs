//! Component Interface services over the wire: PO_EXPRESS create/get/find/update
//! with every validation rule, VNDR_ID, ACCOUNT_CF and DEPT_CF.

use http::StatusCode;
use mlc_sandbox::peoplesoft::{
    INACTIVE_ACCOUNT, INACTIVE_DEPTID, INACTIVE_VENDOR_ID, PeopleSoftSandbox,
};
use rust_decimal::Decimal;

use super::support::*;

fn assigned_po_id(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let payload = reply.payload();
    assert_eq!(
        payload.child_text("notification"),
        Some("1"),
        "{}",
        reply.body
    );
    payload
        .child("detail")
        .and_then(|d| d.child("keys"))
        .and_then(|k| k.child_text("PO_ID"))
        .expect("detail/keys/PO_ID")
        .to_owned()
}

/// Asserts a create of `lines` (vendor 0000000101) is refused with a message
/// containing every one of `needles`.
async fn assert_refused(site: &PeopleSoftSandbox, vendor: &str, lines: &str, needles: &[&str]) {
    let reply = create_po(site, &po_body(vendor, "REQ-BAD", lines)).await;
    let texts = error_texts(&reply);
    assert!(
        texts.iter().any(|t| needles.iter().all(|n| t.contains(n))),
        "no message with {needles:?} in {texts:#?}"
    );
    assert!(
        site.purchase_orders().is_empty(),
        "a refused PO must not be stored"
    );
}

#[tokio::test]
async fn po_create_assigns_next_ids_in_sequence_and_reply_has_the_keys() {
    let site = demo_site().await;
    let first = create_po(&site, &po_body("0000000101", "REQ-1", &simple_line(1))).await;
    let second = create_po(&site, &po_body("0000000102", "REQ-2", &simple_line(1))).await;
    assert_eq!(assigned_po_id(&first), "0000100001");
    assert_eq!(assigned_po_id(&second), "0000100002");
    let payload = first.payload();
    assert_eq!(payload.local, "Create__CompIntfc__PO_EXPRESSResponse");
    assert_eq!(
        payload.ns.as_deref(),
        Some(
            site.response_namespace_of("CI_PO_EXPRESS_C")
                .unwrap()
                .as_str()
        )
    );
    assert_eq!(
        payload
            .child("detail")
            .unwrap()
            .child("keys")
            .unwrap()
            .child_text("BUSINESS_UNIT"),
        Some("US001")
    );
}

#[tokio::test]
async fn po_create_stores_every_field_exactly_as_sent() {
    let site = demo_site().await;
    let lines = format!(
        "{}{}",
        line(
            1,
            "Widgets, 10\" & <blue>",
            "3.5",
            "12.125",
            &format!(
                "{}{}",
                distrib(1, "1.25", "610000", "10100"),
                distrib(2, "2.25", "611000", "20100")
            )
        ),
        "<PO_LINE><LINE_NBR>2</LINE_NBR><INV_ITEM_ID>ITEM-42</INV_ITEM_ID><DESCR254_MIXED>Café crème 東京</DESCR254_MIXED><PO_LINE_SHIP><SCHED_NBR>1</SCHED_NBR><QTY_PO>1</QTY_PO><PRICE_PO>99.99000</PRICE_PO><PO_LINE_DISTRIB><DISTRIB_LINE_NUM>1</DISTRIB_LINE_NUM><QTY_PO>1</QTY_PO><ACCOUNT>612000</ACCOUNT><OPERATING_UNIT>OU1</OPERATING_UNIT><FUND_CODE>F1</FUND_CODE><PRODUCT>P1</PRODUCT><PROJECT_ID>PRJ-7</PROJECT_ID></PO_LINE_DISTRIB></PO_LINE_SHIP></PO_LINE>"
    );
    let reply = create_po(&site, &po_body("0000000104", "REQ-77", &lines)).await;
    let po_id = assigned_po_id(&reply);
    let pos = site.purchase_orders();
    let po = &pos[0];
    assert_eq!(po.po_id, po_id);
    assert_eq!(
        (
            po.business_unit.as_str(),
            po.vendor_setid.as_deref(),
            po.vendor_id.as_str(),
            po.po_dt.as_deref(),
            po.buyer_id.as_deref(),
            po.currency_cd.as_deref(),
            po.po_ref.as_deref()
        ),
        (
            "US001",
            Some("SHARE"),
            "0000000104",
            Some("2026-11-02"),
            Some("MLC_BUYER"),
            Some("USD"),
            Some("REQ-77")
        )
    );
    assert_eq!(po.created_by, "MLC_INTEGRATION");
    assert_eq!(po.lines.len(), 2);
    let l1 = &po.lines[0];
    assert_eq!(l1.descr254_mixed.as_deref(), Some("Widgets, 10\" & <blue>"));
    assert_eq!(
        (
            l1.unit_of_measure.as_deref(),
            l1.category_id.as_deref(),
            l1.inv_item_id.as_deref()
        ),
        (Some("EA"), Some("OFFICE"), None)
    );
    let s1 = &l1.schedules[0];
    assert_eq!(
        (s1.qty_po.to_string(), s1.price_po.to_string()),
        ("3.5".to_owned(), "12.125".to_owned())
    );
    assert_eq!(
        (s1.due_dt.as_deref(), s1.shipto_id.as_deref()),
        (Some("2026-12-01"), Some("MAIN"))
    );
    assert_eq!(s1.distributions.len(), 2);
    assert_eq!(s1.distributions[1].qty_po, Decimal::new(225, 2));
    assert_eq!(s1.distributions[1].account, "611000");
    assert_eq!(s1.distributions[1].deptid.as_deref(), Some("20100"));
    assert_eq!(
        s1.distributions[0].business_unit_gl.as_deref(),
        Some("US001")
    );
    let l2 = &po.lines[1];
    assert_eq!(l2.inv_item_id.as_deref(), Some("ITEM-42"));
    assert_eq!(l2.descr254_mixed.as_deref(), Some("Café crème 東京"));
    assert_eq!(
        l2.schedules[0].price_po.to_string(),
        "99.99000",
        "scale kept"
    );
    let d = &l2.schedules[0].distributions[0];
    assert_eq!(
        (
            d.operating_unit.as_deref(),
            d.fund_code.as_deref(),
            d.product.as_deref(),
            d.project_id.as_deref(),
            d.deptid.as_deref()
        ),
        (Some("OU1"), Some("F1"), Some("P1"), Some("PRJ-7"), None)
    );
    assert_eq!(po.line_amount(1), Decimal::new(424375, 4));
}

#[tokio::test]
async fn special_characters_round_trip_through_create_and_get() {
    let site = demo_site().await;
    let tricky = "A&B <c> \"q\" 'a' é ü 東京 ]]>";
    let tricky_ref = "R&D <1> 'é'";
    let lines = line(1, tricky, "1", "1", &distrib(1, "1", "610000", "10100"));
    let po_id = assigned_po_id(&create_po(&site, &po_body("0000000101", tricky_ref, &lines)).await);
    assert_eq!(
        site.purchase_orders()[0].lines[0].descr254_mixed.as_deref(),
        Some(tricky)
    );
    assert_eq!(
        site.purchase_orders()[0].po_ref.as_deref(),
        Some(tricky_ref)
    );
    let get = message(
        &site,
        "CI_PO_EXPRESS_G",
        "Get__CompIntfc__PO_EXPRESS",
        &format!("<BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>{po_id}</PO_ID>"),
    );
    let reply = call(&site, "CI_PO_EXPRESS_G", &get).await;
    let payload = reply.payload();
    assert_eq!(payload.child_text("PO_REF"), Some(tricky_ref));
    assert_eq!(
        payload
            .child("PO_LINE")
            .unwrap()
            .child_text("DESCR254_MIXED"),
        Some(tricky)
    );
}

#[tokio::test]
async fn get_returns_the_whole_po_and_faults_for_unknown_keys() {
    let site = demo_site().await;
    let po_id = assigned_po_id(
        &create_po(
            &site,
            &po_body(
                "0000000101",
                "REQ-5",
                &format!("{}{}", simple_line(1), simple_line(2)),
            ),
        )
        .await,
    );
    let get = |id: &str| {
        message(
            &site,
            "CI_PO_EXPRESS_G",
            "Get__CompIntfc__PO_EXPRESS",
            &format!("<BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>{id}</PO_ID>"),
        )
    };
    let reply = call(&site, "CI_PO_EXPRESS_G", &get(&po_id)).await;
    let payload = reply.payload();
    assert_eq!(payload.local, "Get__CompIntfc__PO_EXPRESSResponse");
    assert_eq!(payload.child_text("VENDOR_ID"), Some("0000000101"));
    assert_eq!(payload.children_named("PO_LINE").count(), 2);
    let distrib = payload.descendants("PO_LINE_DISTRIB");
    assert_eq!(distrib[0].child_text("ACCOUNT"), Some("610000"));

    let missing = call(&site, "CI_PO_EXPRESS_G", &get("0000999999")).await;
    assert_eq!(missing.status, StatusCode::INTERNAL_SERVER_ERROR);
    let message = missing.fault_message();
    assert!(
        message.contains("No rows exist") && message.contains("0000999999"),
        "{message}"
    );
}

#[tokio::test]
async fn find_by_po_ref_returns_keys_only() {
    let site = demo_site().await;
    let id1 = assigned_po_id(
        &create_po(&site, &po_body("0000000101", "REQ-1001", &simple_line(1))).await,
    );
    let _id2 = assigned_po_id(
        &create_po(&site, &po_body("0000000102", "REQ-2002", &simple_line(1))).await,
    );
    let find = message(
        &site,
        "CI_PO_EXPRESS_F",
        "Find__CompIntfc__PO_EXPRESS",
        "<PO_REF>REQ-1001</PO_REF>",
    );
    let reply = call(&site, "CI_PO_EXPRESS_F", &find).await;
    let payload = reply.payload();
    assert_eq!(payload.local, "Find__CompIntfc__PO_EXPRESSResponse");
    let found: Vec<_> = payload.children_named("PO_EXPRESS").collect();
    assert_eq!(found.len(), 1, "{}", reply.body);
    assert_eq!(found[0].child_text("PO_ID"), Some(id1.as_str()));
    assert_eq!(found[0].child_text("BUSINESS_UNIT"), Some("US001"));
    let names: Vec<&str> = found[0].children.iter().map(|c| c.local.as_str()).collect();
    assert_eq!(
        names,
        ["BUSINESS_UNIT", "PO_ID", "VENDOR_ID", "PO_REF"],
        "key values only"
    );

    let none = message(
        &site,
        "CI_PO_EXPRESS_F",
        "Find__CompIntfc__PO_EXPRESS",
        "<PO_REF>REQ-9999</PO_REF>",
    );
    let reply = call(&site, "CI_PO_EXPRESS_F", &none).await;
    assert_eq!(reply.payload().children.len(), 0, "{}", reply.body);
}

#[tokio::test]
async fn find_matches_like_a_search_page_with_begins_with() {
    let site = demo_site().await;
    assigned_po_id(&create_po(&site, &po_body("0000000101", "REQ-1", &simple_line(1))).await);
    assigned_po_id(&create_po(&site, &po_body("0000000101", "REQ-10", &simple_line(1))).await);
    assigned_po_id(&create_po(&site, &po_body("0000000102", "REQ-2", &simple_line(1))).await);
    let find = |inner: &str| {
        message(
            &site,
            "CI_PO_EXPRESS_F",
            "Find__CompIntfc__PO_EXPRESS",
            inner,
        )
    };
    let count = |reply: Reply| reply.payload().children_named("PO_EXPRESS").count();
    // PeopleSoft's Find is "begins with": REQ-1 also finds REQ-10, so a caller must compare exactly.
    assert_eq!(
        count(call(&site, "CI_PO_EXPRESS_F", &find("<PO_REF>REQ-1</PO_REF>")).await),
        2
    );
    assert_eq!(
        count(
            call(
                &site,
                "CI_PO_EXPRESS_F",
                &find("<VENDOR_ID>0000000101</VENDOR_ID>")
            )
            .await
        ),
        2
    );
    assert_eq!(
        count(call(&site, "CI_PO_EXPRESS_F", &find("<PO_ID>0000100003</PO_ID>")).await),
        1
    );
    assert_eq!(
        count(
            call(
                &site,
                "CI_PO_EXPRESS_F",
                &find("<BUSINESS_UNIT>US002</BUSINESS_UNIT>")
            )
            .await
        ),
        0
    );
}

#[tokio::test]
async fn update_changes_fields_and_adds_lines() {
    let site = demo_site().await;
    let po_id =
        assigned_po_id(&create_po(&site, &po_body("0000000101", "REQ-U", &simple_line(1))).await);
    let inner = format!(
        "<BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>{po_id}</PO_ID><BUYER_ID>OTHER</BUYER_ID>{}",
        simple_line(2)
    );
    let reply = call(
        &site,
        "CI_PO_EXPRESS_UP",
        &message(
            &site,
            "CI_PO_EXPRESS_UP",
            "Update__CompIntfc__PO_EXPRESS",
            &inner,
        ),
    )
    .await;
    assert_eq!(
        reply.payload().child_text("notification"),
        Some("1"),
        "{}",
        reply.body
    );
    let po = &site.purchase_orders()[0];
    assert_eq!(po.buyer_id.as_deref(), Some("OTHER"));
    assert_eq!(
        po.lines.iter().map(|l| l.line_nbr).collect::<Vec<_>>(),
        [1, 2]
    );
}

#[tokio::test]
async fn explicit_po_id_is_kept_and_a_duplicate_is_refused() {
    let site = demo_site().await;
    let body = po_body("0000000101", "REQ-X", &simple_line(1))
        .replace("<PO_ID>NEXT</PO_ID>", "<PO_ID>MANUAL0001</PO_ID>");
    assert_eq!(assigned_po_id(&create_po(&site, &body).await), "MANUAL0001");
    let texts = error_texts(&create_po(&site, &body).await);
    assert!(
        texts
            .iter()
            .any(|t| t.contains("MANUAL0001") && t.contains("(18,1)")),
        "{texts:?}"
    );
}

#[tokio::test]
async fn unknown_business_unit_is_refused() {
    let site = demo_site().await;
    let body = po_body("0000000101", "REQ-BU", &simple_line(1))
        .replace("<BUSINESS_UNIT>US001", "<BUSINESS_UNIT>ZZ999");
    let texts = error_texts(&create_po(&site, &body).await);
    assert!(
        texts
            .iter()
            .any(|t| t.contains("BUSINESS_UNIT") && t.contains("ZZ999") && t.contains("(15,11)")),
        "{texts:?}"
    );
}

#[tokio::test]
async fn unknown_vendor_is_refused() {
    let site = demo_site().await;
    assert_refused(
        &site,
        "0000009999",
        &simple_line(1),
        &["VENDOR_ID", "0000009999", "(15,11)"],
    )
    .await;
}

#[tokio::test]
async fn inactive_vendor_is_refused() {
    let site = demo_site().await;
    assert_refused(
        &site,
        INACTIVE_VENDOR_ID,
        &simple_line(1),
        &["VENDOR_ID", INACTIVE_VENDOR_ID, "inactive"],
    )
    .await;
    site.set_vendor_status("0000000101", "I").unwrap();
    assert_refused(
        &site,
        "0000000101",
        &simple_line(1),
        &["VENDOR_ID", "0000000101", "inactive"],
    )
    .await;
}

#[tokio::test]
async fn invalid_account_is_refused() {
    let site = demo_site().await;
    let lines = line(1, "x", "1", "1", &distrib(1, "1", "999999", "10100"));
    assert_refused(
        &site,
        "0000000101",
        &lines,
        &["ACCOUNT", "999999", "(15,11)"],
    )
    .await;
}

#[tokio::test]
async fn inactive_account_is_refused() {
    let site = demo_site().await;
    let lines = line(
        1,
        "x",
        "1",
        "1",
        &distrib(1, "1", INACTIVE_ACCOUNT, "10100"),
    );
    assert_refused(
        &site,
        "0000000101",
        &lines,
        &["ACCOUNT", INACTIVE_ACCOUNT, "inactive"],
    )
    .await;
}

#[tokio::test]
async fn account_deactivated_today_is_refused_for_a_po_dated_today() {
    let site = demo_site().await;
    site.set_account_status("610000", "I").unwrap();
    // "Today" by the emulator's clock: the effective date of the new row.
    let today = site
        .accounts()
        .iter()
        .filter(|a| a.value == "610000" && a.eff_status == "I")
        .map(|a| a.effdt)
        .max()
        .expect("the inactive row")
        .to_string();
    let body = po_body("0000000101", "REQ-T", &simple_line(1)).replace("2026-11-02", &today);
    let texts = error_texts(&create_po(&site, &body).await);
    assert!(
        texts
            .iter()
            .any(|t| t.contains("610000") && t.contains("inactive")),
        "{texts:?}"
    );
}

#[tokio::test]
async fn invalid_department_is_refused() {
    let site = demo_site().await;
    let lines = line(1, "x", "1", "1", &distrib(1, "1", "610000", "77777"));
    assert_refused(&site, "0000000101", &lines, &["DEPTID", "77777", "(15,11)"]).await;
}

#[tokio::test]
async fn inactive_department_is_refused() {
    let site = demo_site().await;
    let lines = line(
        1,
        "x",
        "1",
        "1",
        &distrib(1, "1", "610000", INACTIVE_DEPTID),
    );
    assert_refused(
        &site,
        "0000000101",
        &lines,
        &["DEPTID", INACTIVE_DEPTID, "inactive"],
    )
    .await;
}

#[tokio::test]
async fn zero_quantity_is_refused() {
    let site = demo_site().await;
    let lines = line(1, "x", "0", "1", &distrib(1, "0", "610000", "10100"));
    assert_refused(
        &site,
        "0000000101",
        &lines,
        &["QTY_PO", "greater than zero"],
    )
    .await;
}

#[tokio::test]
async fn negative_price_is_refused() {
    let site = demo_site().await;
    let lines = line(1, "x", "1", "-5.00", &distrib(1, "1", "610000", "10100"));
    assert_refused(
        &site,
        "0000000101",
        &lines,
        &["PRICE_PO", "-5.00", "greater than zero"],
    )
    .await;
}

#[tokio::test]
async fn distribution_quantities_must_sum_to_the_schedule_quantity() {
    let site = demo_site().await;
    let lines = line(
        1,
        "x",
        "5",
        "1",
        &format!(
            "{}{}",
            distrib(1, "2", "610000", "10100"),
            distrib(2, "2.5", "610000", "10100")
        ),
    );
    assert_refused(
        &site,
        "0000000101",
        &lines,
        &["QTY_PO", "4.5", "5", "(10200,142)"],
    )
    .await;
}

#[tokio::test]
async fn non_numeric_quantity_and_bad_dates_are_refused() {
    let site = demo_site().await;
    let lines = line(1, "x", "1e2", "1", &distrib(1, "1", "610000", "10100"))
        .replace("2026-12-01", "12/01/2026");
    let reply = create_po(&site, &po_body("0000000101", "REQ-N", &lines)).await;
    let texts = error_texts(&reply);
    assert!(
        texts
            .iter()
            .any(|t| t.contains("QTY_PO") && t.contains("1e2")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("DUE_DT") && t.contains("12/01/2026")),
        "{texts:?}"
    );
}

#[tokio::test]
async fn missing_required_fields_and_lines_are_refused() {
    let site = demo_site().await;
    let body = message(
        &site,
        "CI_PO_EXPRESS_C",
        "Create__CompIntfc__PO_EXPRESS",
        "<BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>NEXT</PO_ID>",
    );
    let texts = error_texts(&call(&site, "CI_PO_EXPRESS_C", &body).await);
    assert!(
        texts
            .iter()
            .any(|t| t.contains("VENDOR_ID") && t.contains("Required")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.contains("PO_LINE")), "{texts:?}");
}

#[tokio::test]
async fn unknown_property_is_refused_naming_it() {
    let site = demo_site().await;
    let body = po_body("0000000101", "REQ-P", &simple_line(1))
        .replace("<PO_DT>", "<SUPPLIER_NAME>x</SUPPLIER_NAME><PO_DT>");
    let texts = error_texts(&create_po(&site, &body).await);
    assert!(
        texts.iter().any(|t| t.contains("SUPPLIER_NAME")),
        "{texts:?}"
    );
}

#[tokio::test]
async fn vendor_create_next_find_and_get() {
    let site = demo_site().await;
    let inner = "<SETID>SHARE</SETID><VENDOR_ID>NEXT</VENDOR_ID><NAME1>Nuts &amp; Bolts &lt;Intl&gt;</NAME1><VENDOR_STATUS>A</VENDOR_STATUS><VENDOR_ADDR><EFFDT>2026-01-01</EFFDT><ADDRESS1>1 Main St</ADDRESS1><CITY>Québec</CITY><STATE>QC</STATE><POSTAL>G1A 0A1</POSTAL><COUNTRY>CAN</COUNTRY></VENDOR_ADDR>";
    let reply = call(
        &site,
        "CI_VNDR_ID_C",
        &message(&site, "CI_VNDR_ID_C", "Create__CompIntfc__VNDR_ID", inner),
    )
    .await;
    let payload = reply.payload();
    assert_eq!(
        payload.child_text("notification"),
        Some("1"),
        "{}",
        reply.body
    );
    let vendor_id = payload
        .child("detail")
        .unwrap()
        .child("keys")
        .unwrap()
        .child_text("VENDOR_ID")
        .unwrap()
        .to_owned();
    assert_eq!(vendor_id, "0000001001");
    let stored = site
        .vendors()
        .into_iter()
        .find(|v| v.vendor_id == vendor_id)
        .unwrap();
    assert_eq!(stored.name1, "Nuts & Bolts <Intl>");
    assert_eq!(stored.addresses[0].city.as_deref(), Some("Québec"));

    let find = message(
        &site,
        "CI_VNDR_ID_F",
        "Find__CompIntfc__VNDR_ID",
        "<SETID>SHARE</SETID><NAME1>Nuts &amp;</NAME1>",
    );
    let reply = call(&site, "CI_VNDR_ID_F", &find).await;
    let found: Vec<_> = reply.payload().children_named("VNDR_ID").cloned().collect();
    assert_eq!(found.len(), 1, "{}", reply.body);
    assert_eq!(found[0].child_text("VENDOR_ID"), Some(vendor_id.as_str()));

    let get = message(
        &site,
        "CI_VNDR_ID_G",
        "Get__CompIntfc__VNDR_ID",
        &format!("<SETID>SHARE</SETID><VENDOR_ID>{vendor_id}</VENDOR_ID>"),
    );
    let reply = call(&site, "CI_VNDR_ID_G", &get).await;
    let payload = reply.payload();
    assert_eq!(payload.child_text("NAME1"), Some("Nuts & Bolts <Intl>"));
    assert_eq!(
        payload.child("VENDOR_ADDR").unwrap().child_text("COUNTRY"),
        Some("CAN")
    );

    // The new supplier can be used on a PO straight away.
    assigned_po_id(&create_po(&site, &po_body(&vendor_id, "REQ-NEW", &simple_line(1))).await);
}

#[tokio::test]
async fn vendor_duplicate_and_bad_status_are_refused() {
    let site = demo_site().await;
    let dup = message(
        &site,
        "CI_VNDR_ID_C",
        "Create__CompIntfc__VNDR_ID",
        "<SETID>SHARE</SETID><VENDOR_ID>0000000101</VENDOR_ID><NAME1>Again</NAME1>",
    );
    let texts = error_texts(&call(&site, "CI_VNDR_ID_C", &dup).await);
    assert!(
        texts
            .iter()
            .any(|t| t.contains("0000000101") && t.contains("(18,1)")),
        "{texts:?}"
    );
    let bad = message(
        &site,
        "CI_VNDR_ID_C",
        "Create__CompIntfc__VNDR_ID",
        "<SETID>SHARE</SETID><VENDOR_ID>NEXT</VENDOR_ID><NAME1>X</NAME1><VENDOR_STATUS>Z</VENDOR_STATUS>",
    );
    let texts = error_texts(&call(&site, "CI_VNDR_ID_C", &bad).await);
    assert!(
        texts
            .iter()
            .any(|t| t.contains("VENDOR_STATUS") && t.contains("'Z'")),
        "{texts:?}"
    );
}

#[tokio::test]
async fn account_and_department_create_find_and_refuse_duplicates() {
    let site = demo_site().await;
    for (op, ci, field, value) in [
        ("CI_ACCOUNT_CF", "ACCOUNT_CF", "ACCOUNT", "680000"),
        ("CI_DEPT_CF", "DEPT_CF", "DEPTID", "60100"),
    ] {
        let create_op = format!("{op}_C");
        let inner = format!(
            "<SETID>SHARE</SETID><{field}>{value}</{field}><EFFDT>2020-01-01</EFFDT><EFF_STATUS>A</EFF_STATUS><DESCR>New &amp; Shiny</DESCR>"
        );
        let payload = message(
            &site,
            &create_op,
            &format!("Create__CompIntfc__{ci}"),
            &inner,
        );
        let reply = call(&site, &create_op, &payload).await;
        assert_eq!(
            reply.payload().child_text("notification"),
            Some("1"),
            "{}",
            reply.body
        );
        let texts = error_texts(&call(&site, &create_op, &payload).await);
        assert!(
            texts
                .iter()
                .any(|t| t.contains(value) && t.contains("(18,1)")),
            "{texts:?}"
        );

        let find_op = format!("{op}_F");
        let find = message(
            &site,
            &find_op,
            &format!("Find__CompIntfc__{ci}"),
            &format!("<SETID>SHARE</SETID><{field}>{value}</{field}>"),
        );
        let reply = call(&site, &find_op, &find).await;
        let found: Vec<_> = reply.payload().children_named(ci).cloned().collect();
        assert_eq!(found.len(), 1, "{}", reply.body);
        assert_eq!(found[0].child_text("DESCR"), Some("New & Shiny"));
        assert_eq!(found[0].child_text("EFFDT"), Some("2020-01-01"));
    }
    assert!(site.accounts().iter().any(|a| a.value == "680000"));
    // Both are usable on a PO.
    let lines = line(1, "x", "1", "1", &distrib(1, "1", "680000", "60100"));
    assigned_po_id(&create_po(&site, &po_body("0000000101", "REQ-CF", &lines)).await);
}
