//! Integration Broker setup stories and gateway-level refusals: inactive
//! operations, routings, permissions, wrong node, bad XML, SOAP versions,
//! and the server's injected faults.

use std::time::Duration;

use http::{Method, StatusCode};
use mlc_sandbox::faults::{Fault, FaultRule};
use mlc_sandbox::peoplesoft::{DEMO_USER, PeopleSoftConfig, SOAP12_NS};

use super::support::*;

fn po_payload(site: &mlc_sandbox::peoplesoft::PeopleSoftSandbox) -> String {
    message(
        site,
        "CI_PO_EXPRESS_C",
        "Create__CompIntfc__PO_EXPRESS",
        &po_body("0000000101", "REQ-100", &simple_line(1)),
    )
}

#[tokio::test]
async fn delivered_operation_is_inactive_until_activated_and_routed() {
    let site = site_with(PeopleSoftConfig {
        operations_ready: false,
        ..PeopleSoftConfig::default()
    })
    .await;
    let reply = create_po(&site, &po_body("0000000101", "REQ-100", &simple_line(1))).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        reply.fault_message(),
        "Service Operation CI_PO_EXPRESS_C is inactive. (158,10508)"
    );

    site.activate("CI_PO_EXPRESS_C").unwrap();
    let reply = call(&site, "CI_PO_EXPRESS_C", &po_payload(&site)).await;
    assert_eq!(
        reply.fault_message(),
        "No routing found for Service Operation CI_PO_EXPRESS_C to node PSFT_EP. (158,10509)"
    );

    site.add_routing("CI_PO_EXPRESS_C").unwrap();
    let reply = call(&site, "CI_PO_EXPRESS_C", &po_payload(&site)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.payload().child_text("notification"), Some("1"));
    assert_eq!(site.purchase_orders().len(), 1);
}

#[tokio::test]
async fn deactivated_operation_faults_again() {
    let site = demo_site().await;
    site.deactivate("CI_PO_EXPRESS_C").unwrap();
    let reply = call(&site, "CI_PO_EXPRESS_C", &po_payload(&site)).await;
    assert_eq!(
        reply.fault_message(),
        "Service Operation CI_PO_EXPRESS_C is inactive. (158,10508)"
    );
    assert!(reply.body.contains("<MessageID>10508</MessageID>"));
}

#[tokio::test]
async fn missing_routing_is_a_158_10509_fault() {
    let site = demo_site().await;
    site.remove_routing("CI_PO_EXPRESS_C").unwrap();
    let reply = call(&site, "CI_PO_EXPRESS_C", &po_payload(&site)).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        reply.fault_message(),
        "No routing found for Service Operation CI_PO_EXPRESS_C to node PSFT_EP. (158,10509)"
    );
    assert!(site.purchase_orders().is_empty());
}

#[tokio::test]
async fn user_without_the_permission_gets_158_536_until_granted() {
    let site = demo_site().await;
    site.revoke(DEMO_USER, "CI_PO_EXPRESS_C").unwrap();
    let reply = call(&site, "CI_PO_EXPRESS_C", &po_payload(&site)).await;
    assert_eq!(
        reply.fault_message(),
        "User MLC_INTEGRATION not authorized to invoke Service Operation CI_PO_EXPRESS_C. (158,536)"
    );
    site.grant(DEMO_USER, "CI_PO_EXPRESS_C").unwrap();
    let reply = call(&site, "CI_PO_EXPRESS_C", &po_payload(&site)).await;
    assert_eq!(
        reply.payload().child_text("notification"),
        Some("1"),
        "{}",
        reply.body
    );
}

/// The four Create operations the connector writes with, and their request roots.
const CREATES: [(&str, &str); 4] = [
    ("CI_PO_EXPRESS_C", "Create__CompIntfc__PO_EXPRESS"),
    ("CI_VNDR_ID_C", "Create__CompIntfc__VNDR_ID"),
    ("CI_ACCOUNT_CF_C", "Create__CompIntfc__ACCOUNT_CF"),
    ("CI_DEPT_CF_C", "Create__CompIntfc__DEPT_CF"),
];

/// How many rows the site holds, across every record a Create can add.
fn record_counts(site: &mlc_sandbox::peoplesoft::PeopleSoftSandbox) -> [usize; 4] {
    [
        site.purchase_orders().len(),
        site.vendors().len(),
        site.accounts().len(),
        site.departments().len(),
    ]
}

#[tokio::test]
async fn empty_create_on_an_enabled_operation_is_refused_with_notification_0_creating_nothing() {
    let site = demo_site().await;
    let before = record_counts(&site);
    for (operation, root) in CREATES {
        let reply = call(&site, operation, &message(&site, operation, root, "")).await;
        assert_eq!(reply.status, StatusCode::OK, "{operation}: {}", reply.body);
        assert_eq!(
            reply.payload().child_text("notification"),
            Some("0"),
            "{operation}: {}",
            reply.body
        );
        let texts = error_texts(&reply);
        assert!(
            texts.iter().any(|t| t.contains("Required")),
            "{operation}: {texts:?}"
        );
    }
    assert_eq!(record_counts(&site), before);
}

#[tokio::test]
async fn setup_checks_answer_an_empty_create_before_its_content() {
    let site = demo_site().await;
    site.deactivate("CI_PO_EXPRESS_C").unwrap();
    site.remove_routing("CI_VNDR_ID_C").unwrap();
    site.revoke(DEMO_USER, "CI_DEPT_CF_C").unwrap();
    let expected = [
        "Service Operation CI_PO_EXPRESS_C is inactive. (158,10508)",
        "No routing found for Service Operation CI_VNDR_ID_C to node PSFT_EP. (158,10509)",
        "User MLC_INTEGRATION not authorized to invoke Service Operation CI_DEPT_CF_C. (158,536)",
    ];
    let probed = [CREATES[0], CREATES[1], CREATES[3]];
    for ((operation, root), fault) in probed.into_iter().zip(expected) {
        let reply = call(&site, operation, &message(&site, operation, root, "")).await;
        assert_eq!(
            reply.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{operation}"
        );
        assert_eq!(reply.fault_message(), fault);
    }
}

#[tokio::test]
async fn control_calls_name_unknown_operations_and_users() {
    let site = demo_site().await;
    assert!(
        site.activate("CI_PO_EXPRESS_X")
            .unwrap_err()
            .to_string()
            .contains("CI_PO_EXPRESS_X")
    );
    assert!(
        site.grant("NOBODY", "CI_PO_EXPRESS_C")
            .unwrap_err()
            .to_string()
            .contains("NOBODY")
    );
}

#[tokio::test]
async fn wrong_node_is_an_ib_fault_naming_the_node() {
    let site = demo_site().await;
    let path = listener_path(&site).replace("PSFT_EP", "PSFT_HR");
    let reply = send(
        &site.base_url(),
        Method::POST,
        &path,
        &[
            ("content-type", "text/xml; charset=UTF-8"),
            ("soapaction", "CI_PO_EXPRESS_C.V1"),
        ],
        envelope(
            &wsse_header(DEMO_USER, mlc_sandbox::peoplesoft::DEMO_PASSWORD),
            &po_payload(&site),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let message = reply.fault_message();
    assert!(
        message.contains("PSFT_HR") && message.ends_with("(158,10623)"),
        "{message}"
    );
    let wsdl = get(&site, &format!("{path}/CI_PO_EXPRESS.1.wsdl")).await;
    assert!(wsdl.fault_message().contains("PSFT_HR"));
}

#[tokio::test]
async fn doctype_is_refused_with_a_parser_fault() {
    let site = demo_site().await;
    let body = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lol [<!ENTITY a \"aaaa\">]>{}",
        envelope("", &po_payload(&site))
            .trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
    );
    let reply = send(
        &site.base_url(),
        Method::POST,
        &listener_path(&site),
        &[
            ("content-type", "text/xml"),
            ("soapaction", "CI_PO_EXPRESS_C.V1"),
        ],
        body,
    )
    .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let message = reply.fault_message();
    assert!(
        message.starts_with("XML parser error")
            && message.contains("DOCTYPE")
            && message.ends_with("(159,5)"),
        "{message}"
    );
}

#[tokio::test]
async fn malformed_xml_is_a_parser_fault() {
    let site = demo_site().await;
    let reply = send(
        &site.base_url(),
        Method::POST,
        &listener_path(&site),
        &[("content-type", "text/xml"), ("soapaction", "CI_PO_EXPRESS_C.V1")],
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><a></b>",
    )
    .await;
    let message = reply.fault_message();
    assert!(
        message.starts_with("XML parser error") && message.ends_with("(159,5)"),
        "{message}"
    );
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let site = site_with(PeopleSoftConfig {
        max_body_bytes: 2048,
        ..PeopleSoftConfig::default()
    })
    .await;
    let lines: String = (1..=40).map(simple_line).collect();
    let reply = create_po(&site, &po_body("0000000101", "BIG", &lines)).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        reply
            .fault_message()
            .contains("exceeds the maximum message size of 2048 bytes"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn unknown_soapaction_is_a_fault_naming_it() {
    let site = demo_site().await;
    let reply = call(&site, "CI_PO_EXPRESS_D", &po_payload(&site)).await;
    assert!(
        reply.fault_message().contains("CI_PO_EXPRESS_D.V1"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn soapaction_and_body_root_must_agree() {
    let site = demo_site().await;
    let reply = call(&site, "CI_PO_EXPRESS_F", &po_payload(&site)).await;
    let message = reply.fault_message();
    assert!(
        message.contains("Find__CompIntfc__PO_EXPRESS")
            && message.contains("Create__CompIntfc__PO_EXPRESS"),
        "{message}"
    );
}

#[tokio::test]
async fn missing_soapaction_picks_the_operation_from_the_body_root() {
    let site = demo_site().await;
    let reply = send(
        &site.base_url(),
        Method::POST,
        &listener_path(&site),
        &[("content-type", "text/xml; charset=UTF-8")],
        envelope(
            &wsse_header(DEMO_USER, mlc_sandbox::peoplesoft::DEMO_PASSWORD),
            &po_payload(&site),
        ),
    )
    .await;
    assert_eq!(
        reply.payload().child_text("notification"),
        Some("1"),
        "{}",
        reply.body
    );
}

fn soap12(header: &str, payload: &str) -> String {
    format!(
        "<env:Envelope xmlns:env=\"{SOAP12_NS}\"><env:Header>{}</env:Header><env:Body>{payload}</env:Body></env:Envelope>",
        header
            .trim_start_matches("<soapenv:Header>")
            .trim_end_matches("</soapenv:Header>")
            .replace("soapenv:mustUnderstand", "env:mustUnderstand")
    )
}

#[tokio::test]
async fn soap12_request_gets_a_soap12_reply() {
    let site = demo_site().await;
    let header = wsse_header(DEMO_USER, mlc_sandbox::peoplesoft::DEMO_PASSWORD);
    let reply = send(
        &site.base_url(),
        Method::POST,
        &listener_path(&site),
        &[(
            "content-type",
            "application/soap+xml; charset=UTF-8; action=\"CI_PO_EXPRESS_C.V1\"",
        )],
        soap12(&header, &po_payload(&site)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/soap+xml")
    );
    assert!(reply.xml().is(SOAP12_NS, "Envelope"));
    assert_eq!(reply.payload().child_text("notification"), Some("1"));
}

#[tokio::test]
async fn soap12_fault_uses_the_soap12_envelope() {
    let site = demo_site().await;
    site.deactivate("CI_PO_EXPRESS_C").unwrap();
    let header = wsse_header(DEMO_USER, mlc_sandbox::peoplesoft::DEMO_PASSWORD);
    let reply = send(
        &site.base_url(),
        Method::POST,
        &listener_path(&site),
        &[(
            "content-type",
            "application/soap+xml; action=CI_PO_EXPRESS_C.V1",
        )],
        soap12(&header, &po_payload(&site)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let root = reply.xml();
    assert!(root.is(SOAP12_NS, "Envelope"));
    assert_eq!(root.descendants("Value")[0].text, "env:Receiver");
    assert_eq!(
        reply.fault_message(),
        "Service Operation CI_PO_EXPRESS_C is inactive. (158,10508)"
    );
}

#[tokio::test]
async fn soap_version_mismatch_is_refused() {
    let site = demo_site().await;
    let reply = send(
        &site.base_url(),
        Method::POST,
        &listener_path(&site),
        &[(
            "content-type",
            "application/soap+xml; action=CI_PO_EXPRESS_C.V1",
        )],
        envelope("", &po_payload(&site)),
    )
    .await;
    assert!(
        reply.fault_message().contains("SOAP version mismatch"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn injected_server_fault_precedes_the_emulator_then_calls_succeed() {
    let site = demo_site().await;
    site.faults().add(
        FaultRule::always(Fault::Status(503))
            .on_path("/PSIGW")
            .times(1),
    );
    let first = call(&site, "CI_PO_EXPRESS_C", &po_payload(&site)).await;
    assert_eq!(first.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        site.purchase_orders().is_empty(),
        "a faulted call must not reach the emulator"
    );
    let second = call(&site, "CI_PO_EXPRESS_C", &po_payload(&site)).await;
    assert_eq!(second.payload().child_text("notification"), Some("1"));
    let recorded = site.server().requests();
    assert_eq!(recorded.len(), 2);
    assert!(recorded[0].fault.is_some());
}

#[tokio::test]
async fn injected_latency_delays_the_reply() {
    let site = demo_site().await;
    site.faults().add(
        FaultRule::always(Fault::Latency {
            fixed: Duration::from_millis(150),
            jitter: Duration::ZERO,
        })
        .times(1),
    );
    let started = std::time::Instant::now();
    let reply = call(&site, "CI_PO_EXPRESS_C", &po_payload(&site)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150));
}
