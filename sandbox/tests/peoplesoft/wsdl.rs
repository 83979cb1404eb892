//! The site's WSDL and WSIL: well-formed, self-consistent, per-site namespaces.

use std::collections::{BTreeMap, BTreeSet};

use http::StatusCode;
use mlc_sandbox::peoplesoft::xml::Element;
use mlc_sandbox::peoplesoft::{PeopleSoftConfig, PeopleSoftSandbox, all_operations};

use super::support::*;

const XSD: &str = "http://www.w3.org/2001/XMLSchema";
const WSDL: &str = "http://schemas.xmlsoap.org/wsdl/";

/// Every service's WSDL, parsed.
async fn all_wsdls(site: &PeopleSoftSandbox) -> Vec<(String, Element)> {
    let mut out = Vec::new();
    for service in site.services() {
        let reply = get(site, &format!("{}/{service}.1.wsdl", listener_path(site))).await;
        assert_eq!(reply.status, StatusCode::OK, "{service}: {}", reply.body);
        out.push((service, reply.xml()));
    }
    out
}

/// Resolves `prefix:Local` against the declarations of `root` (the WSDL
/// declares every prefix on `wsdl:definitions`).
fn resolve<'a>(root: &'a Element, qname: &'a str) -> (String, &'a str) {
    let (prefix, local) = qname.split_once(':').unwrap_or(("", qname));
    let ns = root
        .ns_decls
        .iter()
        .find(|(p, _)| p == prefix)
        .map(|(_, uri)| uri.clone())
        .unwrap_or_else(|| {
            panic!("prefix {prefix} of {qname} is not declared on the definitions root")
        });
    (ns, local)
}

/// Top-level element names of each inline schema, by targetNamespace.
fn schema_elements(root: &Element) -> BTreeMap<String, BTreeSet<String>> {
    let types = root.child("types").expect("wsdl:types");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for schema in &types.children {
        assert!(
            schema.is(XSD, "schema"),
            "non-schema in types: {}",
            schema.local
        );
        let tns = schema
            .attr("targetNamespace")
            .expect("targetNamespace")
            .to_owned();
        assert_eq!(schema.attr("elementFormDefault"), Some("qualified"));
        let names = schema
            .children_named("element")
            .map(|e| e.attr("name").expect("element name").to_owned());
        let entry = out.entry(tns.clone()).or_default();
        for name in names {
            assert!(entry.insert(name.clone()), "{name} defined twice in {tns}");
        }
    }
    out
}

#[tokio::test]
async fn every_message_part_is_defined_in_the_schema_of_its_declared_namespace() {
    let site = demo_site().await;
    let wsdls = all_wsdls(&site).await;
    assert_eq!(
        wsdls.len(),
        5,
        "CI_PO_EXPRESS, CI_VNDR_ID, CI_ACCOUNT_CF, CI_DEPT_CF, QAS_QRY_SERVICE"
    );
    let mut operations_seen = BTreeSet::new();
    for (service, root) in &wsdls {
        assert!(root.is(WSDL, "definitions"), "{service}");
        let schemas = schema_elements(root);
        let messages: BTreeMap<&str, &Element> = root
            .children_named("message")
            .map(|m| (m.attr("name").expect("message name"), m))
            .collect();
        for (name, message) in &messages {
            let part = message.child("part").expect("wsdl:part");
            let (ns, local) = resolve(root, part.attr("element").expect("part element"));
            let defined = schemas
                .get(&ns)
                .unwrap_or_else(|| panic!("{service} {name}: no schema for {ns}"));
            assert!(
                defined.contains(local),
                "{service} {name}: {local} not in schema {ns}"
            );
        }
        // Every element ref inside the schemas resolves too (QAS parts).
        for reference in root.child("types").unwrap().descendants("element") {
            if let Some(r) = reference.attr("ref") {
                let (ns, local) = resolve(root, r);
                assert!(
                    schemas.get(&ns).is_some_and(|s| s.contains(local)),
                    "{service}: ref {r} dangles"
                );
            }
        }
        let port_type = root.child("portType").expect("portType");
        let binding = root.child("binding").expect("binding");
        let port_ops: BTreeSet<&str> = port_type
            .children_named("operation")
            .map(|o| o.attr("name").unwrap())
            .collect();
        let binding_ops: BTreeSet<&str> = binding
            .children_named("operation")
            .map(|o| o.attr("name").unwrap())
            .collect();
        assert_eq!(port_ops, binding_ops, "{service}");
        for op in port_type.children_named("operation") {
            for io in ["input", "output"] {
                let (_, msg) = resolve(root, op.child(io).unwrap().attr("message").unwrap());
                assert!(
                    messages.contains_key(msg),
                    "{service}: {io} message {msg} undefined"
                );
            }
        }
        for op in binding.children_named("operation") {
            let name = op.attr("name").unwrap();
            let soap_op = op.child("operation").expect("soap:operation");
            assert_eq!(
                soap_op.attr("soapAction"),
                Some(format!("{name}.V1").as_str())
            );
            // The request namespace the WSDL declares is the one the site enforces.
            let input = port_type
                .children_named("operation")
                .find(|o| o.attr("name") == Some(name))
                .and_then(|o| o.child("input"))
                .and_then(|i| i.attr("message"))
                .unwrap();
            let (_, msg) = resolve(root, input);
            let (ns, _) = resolve(
                root,
                messages[msg]
                    .child("part")
                    .unwrap()
                    .attr("element")
                    .unwrap(),
            );
            assert_eq!(ns, site.namespace_of(name).unwrap());
            operations_seen.insert(name.to_owned());
        }
        let address = root
            .child("service")
            .and_then(|s| s.child("port"))
            .and_then(|p| p.child("address"))
            .expect("soap:address");
        assert_eq!(address.attr("location"), Some(site.listener_url().as_str()));
    }
    let expected: BTreeSet<String> = all_operations().into_iter().collect();
    assert_eq!(operations_seen, expected);
}

#[tokio::test]
async fn each_ci_message_has_its_own_m_namespace() {
    let site = demo_site().await;
    let mut namespaces = BTreeSet::new();
    for op in all_operations().iter().filter(|o| o.starts_with("CI_")) {
        for ns in [
            site.namespace_of(op).unwrap(),
            site.response_namespace_of(op).unwrap(),
        ] {
            let m = ns
                .strip_prefix("http://xmlns.oracle.com/Enterprise/Tools/schemas/M")
                .and_then(|rest| rest.strip_suffix(".V1"))
                .unwrap_or_else(|| panic!("{op}: {ns} is not an M-number namespace"));
            assert!(m.bytes().all(|b| b.is_ascii_digit()), "{ns}");
            assert!(namespaces.insert(ns.clone()), "{ns} reused");
        }
    }
}

#[tokio::test]
async fn different_seeds_give_different_message_numbers_and_same_seed_the_same() {
    let a = demo_site().await;
    let b = site_with(PeopleSoftConfig {
        seed: 2,
        ..PeopleSoftConfig::default()
    })
    .await;
    let a_again = demo_site().await;
    for op in all_operations().iter().filter(|o| o.starts_with("CI_")) {
        assert_ne!(
            a.namespace_of(op).unwrap(),
            b.namespace_of(op).unwrap(),
            "{op}"
        );
        assert_eq!(
            a.namespace_of(op).unwrap(),
            a_again.namespace_of(op).unwrap(),
            "{op}"
        );
    }
}

#[tokio::test]
async fn custom_namespace_base_is_used_everywhere() {
    let site = site_with(PeopleSoftConfig {
        namespace_base: "http://example.com/psft/schemas/".into(),
        ..PeopleSoftConfig::default()
    })
    .await;
    let ns = site.namespace_of("CI_PO_EXPRESS_C").unwrap();
    assert!(ns.starts_with("http://example.com/psft/schemas/M"), "{ns}");
    let wsdl = get(
        &site,
        &format!("{}/CI_PO_EXPRESS.1.wsdl", listener_path(&site)),
    )
    .await;
    assert!(wsdl.body.contains(&ns));
}

#[tokio::test]
async fn client_with_another_sites_namespace_is_refused() {
    let site = demo_site().await;
    let other = site_with(PeopleSoftConfig {
        seed: 99,
        ..PeopleSoftConfig::default()
    })
    .await;
    let foreign_ns = other.namespace_of("CI_PO_EXPRESS_C").unwrap();
    let payload = format!(
        "<Create__CompIntfc__PO_EXPRESS xmlns=\"{foreign_ns}\">{}</Create__CompIntfc__PO_EXPRESS>",
        po_body("0000000101", "REQ-1", &simple_line(1))
    );
    let reply = call(&site, "CI_PO_EXPRESS_C", &payload).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let message = reply.fault_message();
    assert!(
        message.contains(&foreign_ns)
            && message.contains(&site.namespace_of("CI_PO_EXPRESS_C").unwrap()),
        "{message}"
    );
    assert!(site.purchase_orders().is_empty());
}

#[tokio::test]
async fn getwsdl_query_form_returns_the_services_wsdl() {
    let site = demo_site().await;
    let by_path = get(
        &site,
        &format!("{}/CI_VNDR_ID.1.wsdl", listener_path(&site)),
    )
    .await;
    let by_query = get(
        &site,
        &format!(
            "{}?Operation=GetWSDL&wsdl=CI_VNDR_ID_F.V1",
            listener_path(&site)
        ),
    )
    .await;
    assert_eq!(by_query.status, StatusCode::OK);
    assert_eq!(by_path.body, by_query.body);
    let unknown = get(
        &site,
        &format!(
            "{}?Operation=GetWSDL&wsdl=CI_NOPE_F.V1",
            listener_path(&site)
        ),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.fault_message().contains("CI_NOPE_F.V1"));
}

#[tokio::test]
async fn wsil_lists_every_service_with_a_working_wsdl_location() {
    let site = demo_site().await;
    let reply = get(
        &site,
        &format!("{}?Operation=GetWSIL", listener_path(&site)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let root = reply.xml();
    let mut listed = Vec::new();
    for service in root.children_named("service") {
        let location = service
            .child("description")
            .and_then(|d| d.attr("location"))
            .expect("location");
        let path = location
            .strip_prefix(&site.base_url())
            .expect("absolute URL on this site");
        assert_eq!(get(&site, path).await.status, StatusCode::OK, "{location}");
        listed.push(service.child_text("name").unwrap().to_owned());
    }
    assert_eq!(listed, site.services());
}

#[tokio::test]
async fn unpublished_operation_leaves_the_wsdl_but_still_runs() {
    let site = demo_site().await;
    site.unpublish("CI_PO_EXPRESS_F").unwrap();
    let wsdl = get(
        &site,
        &format!("{}/CI_PO_EXPRESS.1.wsdl", listener_path(&site)),
    )
    .await;
    assert!(!wsdl.body.contains("CI_PO_EXPRESS_F"), "still listed");
    assert!(wsdl.body.contains("CI_PO_EXPRESS_C.V1"));
    let by_query = get(
        &site,
        &format!(
            "{}?Operation=GetWSDL&wsdl=CI_PO_EXPRESS_F.V1",
            listener_path(&site)
        ),
    )
    .await;
    assert_eq!(by_query.status, StatusCode::NOT_FOUND);
    let find = message(
        &site,
        "CI_PO_EXPRESS_F",
        "Find__CompIntfc__PO_EXPRESS",
        "<PO_REF>X</PO_REF>",
    );
    let reply = call(&site, "CI_PO_EXPRESS_F", &find).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    for op in ["CI_DEPT_CF_C", "CI_DEPT_CF_F"] {
        site.unpublish(op).unwrap();
    }
    let wsil = get(
        &site,
        &format!("{}?Operation=GetWSIL", listener_path(&site)),
    )
    .await;
    assert!(!wsil.body.contains("CI_DEPT_CF"), "{}", wsil.body);
    let gone = get(
        &site,
        &format!("{}/CI_DEPT_CF.1.wsdl", listener_path(&site)),
    )
    .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    site.publish("CI_PO_EXPRESS_F").unwrap();
    let back = get(
        &site,
        &format!("{}/CI_PO_EXPRESS.1.wsdl", listener_path(&site)),
    )
    .await;
    assert!(back.body.contains("CI_PO_EXPRESS_F.V1"));
}
