//! Query Access Services over the wire: the four public queries, MaxRow,
//! unknown/private queries and the QAS permission.

use http::StatusCode;
use mlc_sandbox::peoplesoft::xml::Element;
use mlc_sandbox::peoplesoft::{DEMO_USER, INACTIVE_DEPTID, INACTIVE_VENDOR_ID};

use super::support::*;

fn column<'a>(query: &'a Element, name: &str) -> Vec<&'a str> {
    query
        .children_named("row")
        .map(|r| {
            r.child_text(name)
                .unwrap_or_else(|| panic!("row without {name}"))
        })
        .collect()
}

#[tokio::test]
async fn vouchers_since_lists_seeded_and_added_vouchers_per_line() {
    let site = demo_site().await;
    let all = run_query(&site, "MLC_VOUCHERS_SINCE", "2000-01-01", 0).await;
    assert_eq!(all.attr("queryname"), Some("MLC_VOUCHERS_SINCE"));
    let seeded_lines: usize = site.vouchers().iter().map(|v| v.lines.len()).sum();
    assert_eq!(all.attr("numrows"), Some(seeded_lines.to_string().as_str()));
    assert!(
        column(&all, "MATCH_STATUS_VCHR").iter().all(|s| *s != "M"),
        "seeded vouchers are unmatched"
    );
    let first = all.child("row").unwrap();
    assert_eq!(first.attr("rownumber"), Some("1"));
    let names: Vec<&str> = first.children.iter().map(|c| c.local.as_str()).collect();
    assert_eq!(
        names,
        [
            "BUSINESS_UNIT",
            "VOUCHER_ID",
            "INVOICE_ID",
            "INVOICE_DT",
            "VENDOR_ID",
            "ENTRY_STATUS",
            "MATCH_STATUS_VCHR",
            "PO_ID",
            "LINE_NBR",
            "MERCHANDISE_AMT",
            "LASTUPDDTTM"
        ]
    );

    let lines = format!(
        "{}{}",
        simple_line(1),
        line(
            2,
            "Toner",
            "3",
            "45.50",
            &distrib(1, "3", "610000", "10100")
        )
    );
    let reply = create_po(&site, &po_body("0000000103", "REQ-V", &lines)).await;
    let po_id = reply.payload().descendants("PO_ID")[0].text.clone();
    let voucher = site.add_voucher(&po_id, true).unwrap();
    // "Today" by the emulator's clock: the day it stamped the voucher (the
    // test's own clock may already be past midnight).
    let today = voucher.lastupddttm.date().to_string();
    let wall = chrono::Utc::now().naive_utc();
    assert!(
        voucher.lastupddttm <= wall && wall - voucher.lastupddttm < chrono::Duration::minutes(10),
        "the voucher is stamped with the current time: {} (now {wall})",
        voucher.lastupddttm
    );
    let recent = run_query(&site, "MLC_VOUCHERS_SINCE", &today, 0).await;
    let rows: Vec<&Element> = recent
        .children_named("row")
        .filter(|r| r.child_text("VOUCHER_ID") == Some(voucher.voucher_id.as_str()))
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].child_text("PO_ID"), Some(po_id.as_str()));
    assert_eq!(rows[0].child_text("MATCH_STATUS_VCHR"), Some("M"));
    assert_eq!(rows[0].child_text("MERCHANDISE_AMT"), Some("20.00"));
    assert_eq!(rows[1].child_text("LINE_NBR"), Some("2"));
    assert_eq!(rows[1].child_text("MERCHANDISE_AMT"), Some("136.50"));
    assert_eq!(rows[1].child_text("VENDOR_ID"), Some("0000000103"));
    let stamp = rows[0].child_text("LASTUPDDTTM").unwrap();
    assert!(
        stamp.starts_with(&today) && stamp.ends_with("+0000") && stamp.len() == 31,
        "{stamp}"
    );

    let future = run_query(&site, "MLC_VOUCHERS_SINCE", "2999-01-01", 0).await;
    assert_eq!(future.attr("numrows"), Some("0"));
}

#[tokio::test]
async fn voucher_amounts_of_five_decimal_prices_are_rounded_to_cents() {
    let site = demo_site().await;
    let lines = format!(
        "{}{}",
        line(
            1,
            "Washers",
            "2",
            "0.06250",
            &distrib(1, "2", "610000", "10100")
        ),
        line(
            2,
            "Bolts",
            "3",
            "12.34565",
            &distrib(1, "3", "610000", "10100")
        )
    );
    let reply = create_po(&site, &po_body("0000000103", "REQ-R", &lines)).await;
    let po_id = reply.payload().descendants("PO_ID")[0].text.clone();
    let voucher = site.add_voucher(&po_id, false).unwrap();
    let amounts: Vec<String> = voucher
        .lines
        .iter()
        .map(|l| l.merchandise_amt.to_string())
        .collect();
    // 0.125 rounds half away from zero; 37.03695 to the nearest cent.
    assert_eq!(amounts, ["0.13", "37.04"]);
    let today = voucher.lastupddttm.date().to_string();
    let rows = run_query(&site, "MLC_VOUCHERS_SINCE", &today, 0).await;
    let listed: Vec<&str> = rows
        .children_named("row")
        .filter(|r| r.child_text("VOUCHER_ID") == Some(voucher.voucher_id.as_str()))
        .map(|r| r.child_text("MERCHANDISE_AMT").unwrap())
        .collect();
    assert_eq!(listed, ["0.13", "37.04"]);
}

#[tokio::test]
async fn voucher_match_status_change_is_visible_with_a_new_timestamp() {
    let site = demo_site().await;
    create_po(&site, &po_body("0000000101", "REQ-M", &simple_line(1))).await;
    let po_id = site.purchase_orders()[0].po_id.clone();
    let voucher = site.add_voucher(&po_id, false).unwrap();
    assert_eq!(voucher.match_status_vchr, "T");
    site.set_voucher_match_status(&voucher.voucher_id, "M")
        .unwrap();
    let changed = site
        .vouchers()
        .into_iter()
        .find(|v| v.voucher_id == voucher.voucher_id)
        .unwrap();
    assert!(changed.lastupddttm >= voucher.lastupddttm);
    // The day the emulator stamped the change.
    let today = changed.lastupddttm.date().to_string();
    let rows = run_query(&site, "MLC_VOUCHERS_SINCE", &today, 0).await;
    let row = rows
        .children_named("row")
        .find(|r| r.child_text("VOUCHER_ID") == Some(voucher.voucher_id.as_str()))
        .unwrap();
    assert_eq!(row.child_text("MATCH_STATUS_VCHR"), Some("M"));
}

#[tokio::test]
async fn active_suppliers_excludes_inactive_ones_and_follows_changes() {
    let site = demo_site().await;
    let query = run_query(&site, "MLC_ACTIVE_SUPPLIERS", "SHARE", 0).await;
    let ids = column(&query, "VENDOR_ID");
    assert_eq!(ids.len(), 10);
    assert!(!ids.contains(&INACTIVE_VENDOR_ID));
    let names = column(&query, "NAME1");
    assert!(
        names.contains(&"Barnes & Noble Office <B2B>") && names.contains(&"東京精密機器株式会社"),
        "{names:?}"
    );

    site.set_vendor_status("0000000101", "I").unwrap();
    site.add_supplier("0000000301", "Nouveau Fournisseur")
        .unwrap();
    let query = run_query(&site, "MLC_ACTIVE_SUPPLIERS", "SHARE", 0).await;
    let ids = column(&query, "VENDOR_ID");
    assert!(!ids.contains(&"0000000101") && ids.contains(&"0000000301"));
    assert_eq!(
        run_query(&site, "MLC_ACTIVE_SUPPLIERS", "OTHER", 0)
            .await
            .attr("numrows"),
        Some("0")
    );
}

#[tokio::test]
async fn accounts_and_departments_list_active_values() {
    let site = demo_site().await;
    let accounts = run_query(&site, "MLC_ACCOUNTS", "SHARE", 0).await;
    assert_eq!(
        column(&accounts, "ACCOUNT").len(),
        mlc_sandbox::catalog::GL_ACCOUNTS.len()
    );
    assert!(column(&accounts, "DESCR").contains(&"Maintenance & Repairs"));
    assert!(column(&accounts, "EFF_STATUS").iter().all(|s| *s == "A"));
    let departments = run_query(&site, "MLC_DEPARTMENTS", "SHARE", 0).await;
    let deptids = column(&departments, "DEPTID");
    assert_eq!(deptids.len(), mlc_sandbox::catalog::COST_CENTERS.len());
    assert!(!deptids.contains(&INACTIVE_DEPTID));

    site.set_account_status("620000", "I").unwrap();
    let accounts = run_query(&site, "MLC_ACCOUNTS", "SHARE", 0).await;
    assert!(!column(&accounts, "ACCOUNT").contains(&"620000"));
}

#[tokio::test]
async fn max_row_limits_the_rows_returned() {
    let site = demo_site().await;
    let query = run_query(&site, "MLC_ACCOUNTS", "SHARE", 3).await;
    assert_eq!(query.attr("numrows"), Some("3"));
    assert_eq!(query.children_named("row").count(), 3);
    let rownumbers: Vec<&str> = query
        .children_named("row")
        .map(|r| r.attr("rownumber").unwrap())
        .collect();
    assert_eq!(rownumbers, ["1", "2", "3"]);
}

#[tokio::test]
async fn unknown_query_is_a_fault_naming_it() {
    let site = demo_site().await;
    let reply = call(
        &site,
        "QAS_EXECUTEQRYSYNC_OPER",
        &qas_request(&site, "MLC_NO_SUCH_QUERY", "PUBLIC", "x", 0),
    )
    .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        reply.fault_message().contains("MLC_NO_SUCH_QUERY"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn private_owner_type_does_not_find_the_public_query() {
    let site = demo_site().await;
    let reply = call(
        &site,
        "QAS_EXECUTEQRYSYNC_OPER",
        &qas_request(&site, "MLC_ACCOUNTS", "PRIVATE", "SHARE", 0),
    )
    .await;
    let message = reply.fault_message();
    assert!(
        message.contains("MLC_ACCOUNTS") && message.contains("PRIVATE"),
        "{message}"
    );
}

#[tokio::test]
async fn user_without_qas_permission_gets_the_permission_fault() {
    let site = demo_site().await;
    site.revoke(DEMO_USER, "QAS_EXECUTEQRYSYNC_OPER").unwrap();
    let reply = call(
        &site,
        "QAS_EXECUTEQRYSYNC_OPER",
        &qas_request(&site, "MLC_ACCOUNTS", "PUBLIC", "SHARE", 0),
    )
    .await;
    assert_eq!(
        reply.fault_message(),
        "User MLC_INTEGRATION not authorized to invoke Service Operation QAS_EXECUTEQRYSYNC_OPER. (158,536)"
    );
}

#[tokio::test]
async fn qas_request_in_the_wrong_namespace_is_refused() {
    let site = demo_site().await;
    let body = qas_request(&site, "MLC_ACCOUNTS", "PUBLIC", "SHARE", 0).replace(
        "QAS_EXEQRY_SYNC_REQ_MSG.VERSION_1",
        "QAS_EXEQRY_SYNC_REQ_MSG.VERSION_2",
    );
    let reply = call(&site, "QAS_EXECUTEQRYSYNC_OPER", &body).await;
    assert!(
        reply
            .fault_message()
            .contains("QAS_EXEQRY_SYNC_REQ_MSG.VERSION_1"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn missing_prompt_and_bad_result_type_are_faults() {
    let site = demo_site().await;
    let no_prompt = qas_request(&site, "MLC_ACCOUNTS", "PUBLIC", "SHARE", 0);
    let start = no_prompt.find("<Prompts>").unwrap();
    let end = no_prompt.find("</Prompts>").unwrap() + "</Prompts>".len();
    let no_prompt = format!("{}{}", &no_prompt[..start], &no_prompt[end..]);
    let reply = call(&site, "QAS_EXECUTEQRYSYNC_OPER", &no_prompt).await;
    assert!(reply.fault_message().contains("BIND1"), "{}", reply.body);
    let json =
        qas_request(&site, "MLC_ACCOUNTS", "PUBLIC", "SHARE", 0).replace(">XMLP<", ">WEBROWSET<");
    let reply = call(&site, "QAS_EXECUTEQRYSYNC_OPER", &json).await;
    assert!(
        reply.fault_message().contains("WEBROWSET"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn reply_namespaces_are_the_wsdl_ones_and_query_is_unqualified() {
    let site = demo_site().await;
    let reply = call(
        &site,
        "QAS_EXECUTEQRYSYNC_OPER",
        &qas_request(&site, "MLC_DEPARTMENTS", "PUBLIC", "SHARE", 1),
    )
    .await;
    let payload = reply.payload();
    assert_eq!(payload.local, "QAS_EXEQRY_SYNC_RESP_MSG");
    assert_eq!(
        payload.ns.as_deref(),
        Some(
            site.response_namespace_of("QAS_EXECUTEQRYSYNC_OPER")
                .unwrap()
                .as_str()
        )
    );
    let part = payload.child("QAS_QUERYRESULTS_XMLP_RESP").unwrap();
    assert_eq!(
        part.ns.as_deref(),
        Some(
            "http://xmlns.oracle.com/Enterprise/Tools/schemas/QAS_QUERYRESULTS_XMLP_RESP.VERSION_1"
        )
    );
    assert_eq!(part.child("query").unwrap().ns, None);
}
