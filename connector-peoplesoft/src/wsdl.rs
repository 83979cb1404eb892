//! Reads a PeopleSoft service's WSDL 1.1 into a per-operation table: SOAPAction,
//! request and response body elements with their namespaces. Sites differ in
//! message namespaces (`M{digits}.V1`) and prefixes, so nothing here is assumed:
//! every QName is resolved against the prefixes in scope where it is written.

use std::collections::BTreeMap;

use crate::config::SoapVersion;
use crate::xml::{self, Element};

const SOAP11_BINDING_NS: &str = "http://schemas.xmlsoap.org/wsdl/soap/";
const SOAP12_BINDING_NS: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";

/// A namespace-qualified name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct QName {
    /// Namespace URI (`None`: no namespace).
    pub ns: Option<String>,
    /// Local name.
    pub name: String,
}

impl QName {
    fn from_pair((ns, name): (Option<String>, String)) -> Self {
        QName { ns, name }
    }
}

/// What the connector needs to call one service operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// Operation name (e.g. `CI_PO_EXPRESS_C`).
    pub name: String,
    /// SOAPAction of the chosen binding (e.g. `CI_PO_EXPRESS_C.V1`).
    pub soap_action: String,
    /// Root element of the request body.
    pub request: QName,
    /// Root element of the reply body, when the operation declares an output.
    pub response: Option<QName>,
}

/// One service's operations and the element declarations of its inline schemas.
#[derive(Debug, Clone)]
pub struct ServiceWsdl {
    /// Operations by name.
    pub operations: BTreeMap<String, Operation>,
    /// Global `xsd:element` declarations, by qualified name.
    elements: BTreeMap<QName, Element>,
    /// Named `xsd:complexType` definitions, by qualified name.
    types: BTreeMap<QName, Element>,
}

/// Why a WSDL could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsdlError(pub String);

impl std::fmt::Display for WsdlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses WSDL bytes. `version` picks the binding whose SOAPActions are used
/// when the WSDL carries both a SOAP 1.1 and a SOAP 1.2 binding.
pub fn parse(bytes: &[u8], version: SoapVersion) -> Result<ServiceWsdl, WsdlError> {
    let root = xml::parse(bytes).map_err(|e| WsdlError(e.to_string()))?;
    from_tree(&root, version)
}

fn from_tree(root: &Element, version: SoapVersion) -> Result<ServiceWsdl, WsdlError> {
    if !root.is("definitions") {
        return Err(WsdlError(format!(
            "root element is <{}>, not a WSDL 1.1 <definitions>",
            root.name
        )));
    }
    let tns = root.attr("targetNamespace").map(str::to_string);

    // Inline schemas: global elements and named complex types.
    let mut elements = BTreeMap::new();
    let mut types = BTreeMap::new();
    for schema in root
        .children_named("types")
        .flat_map(|t| t.children_named("schema"))
    {
        let schema_ns = schema.attr("targetNamespace").map(str::to_string);
        for decl in &schema.children {
            let Some(name) = decl.attr("name") else {
                continue;
            };
            let key = QName {
                ns: schema_ns.clone(),
                name: name.to_string(),
            };
            if decl.is("element") {
                elements.insert(key, decl.clone());
            } else if decl.is("complexType") {
                types.insert(key, decl.clone());
            }
        }
    }

    // Messages: name -> element of their (first) part.
    let mut messages: BTreeMap<QName, Option<QName>> = BTreeMap::new();
    for message in root.children_named("message") {
        let Some(name) = message.attr("name") else {
            continue;
        };
        let element = match message
            .child("part")
            .and_then(|p| p.attr("element").map(|q| (p, q)))
        {
            Some((part, qname)) => Some(QName::from_pair(part.resolve_qname(qname).ok_or_else(
                || {
                    WsdlError(format!(
                        "message {name}: undeclared prefix in part element {qname:?}"
                    ))
                },
            )?)),
            None => None,
        };
        messages.insert(
            QName {
                ns: tns.clone(),
                name: name.to_string(),
            },
            element,
        );
    }
    let message_element = |at: &Element, qname: &str| -> Result<Option<QName>, WsdlError> {
        let key = at
            .resolve_qname(qname)
            .map(QName::from_pair)
            .ok_or_else(|| {
                WsdlError(format!("undeclared prefix in message reference {qname:?}"))
            })?;
        if let Some(found) = messages.get(&key) {
            return Ok(found.clone());
        }
        // Some generators declare the message namespace inconsistently; a unique
        // local-name match is unambiguous.
        let mut by_name = messages.iter().filter(|(k, _)| k.name == key.name);
        match (by_name.next(), by_name.next()) {
            (Some((_, found)), None) => Ok(found.clone()),
            _ => Err(WsdlError(format!("message {qname:?} is not defined"))),
        }
    };

    // Bindings: operation -> SOAPAction, preferring the requested SOAP version.
    let wanted_ns = match version {
        SoapVersion::V11 => SOAP11_BINDING_NS,
        SoapVersion::V12 => SOAP12_BINDING_NS,
    };
    let mut preferred: BTreeMap<String, String> = BTreeMap::new();
    let mut fallback: BTreeMap<String, String> = BTreeMap::new();
    for binding in root.children_named("binding") {
        let binding_ns = binding
            .child("binding")
            .and_then(|b| b.ns.as_deref())
            .unwrap_or("");
        let table = if binding_ns == wanted_ns {
            &mut preferred
        } else {
            &mut fallback
        };
        for op in binding.children_named("operation") {
            let (Some(name), Some(action)) = (
                op.attr("name"),
                op.child("operation").and_then(|o| o.attr("soapAction")),
            ) else {
                continue;
            };
            table
                .entry(name.to_string())
                .or_insert_with(|| action.to_string());
        }
    }

    let mut operations = BTreeMap::new();
    for op in root
        .children_named("portType")
        .flat_map(|p| p.children_named("operation"))
    {
        let Some(name) = op.attr("name") else {
            continue;
        };
        let Some(action) = preferred.get(name).or_else(|| fallback.get(name)) else {
            // Declared but not bound: it cannot be invoked over SOAP.
            continue;
        };
        let input = op
            .child("input")
            .and_then(|i| i.attr("message").map(|m| (i, m)))
            .ok_or_else(|| WsdlError(format!("operation {name} has no input message")))?;
        let request = message_element(input.0, input.1)?.ok_or_else(|| {
            WsdlError(format!(
                "operation {name}: input message {} has no part element",
                input.1
            ))
        })?;
        let response = match op
            .child("output")
            .and_then(|o| o.attr("message").map(|m| (o, m)))
        {
            Some((at, qname)) => message_element(at, qname)?,
            None => None,
        };
        operations.insert(
            name.to_string(),
            Operation {
                name: name.to_string(),
                soap_action: action.clone(),
                request,
                response,
            },
        );
    }
    Ok(ServiceWsdl {
        operations,
        elements,
        types,
    })
}

impl ServiceWsdl {
    /// The operation named `name`, if the WSDL offers it.
    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.get(name)
    }

    /// The namespace of element `child` as declared inside the content of
    /// global element `parent` (a local declaration takes the schema's target
    /// namespace, a `ref=` its own), following named complex types; failing
    /// that, the namespace of a global element named `child`. Used for the QAS
    /// request part, which lives in its own namespace.
    pub fn child_element_ns(&self, parent: &QName, child: &str) -> Option<Option<String>> {
        if let Some(decl) = self.elements.get(parent)
            && let Some(ns) = self.search_decl(decl, parent.ns.as_ref(), child, 0)
        {
            return Some(ns);
        }
        let mut globals = self.elements.keys().filter(|k| k.name == child);
        match (globals.next(), globals.next()) {
            (Some(only), None) => Some(only.ns.clone()),
            _ => None,
        }
    }

    fn search_decl(
        &self,
        decl: &Element,
        schema_ns: Option<&String>,
        child: &str,
        depth: usize,
    ) -> Option<Option<String>> {
        if depth > 8 {
            return None;
        }
        for e in decl.descendants().into_iter().skip(1) {
            if !e.is("element") {
                continue;
            }
            if e.attr("name") == Some(child) {
                return Some(schema_ns.cloned());
            }
            if let Some(reference) = e.attr("ref")
                && let Some((ns, local)) = e.resolve_qname(reference)
                && local == child
            {
                return Some(ns);
            }
        }
        // Content given by a named type: look inside it.
        let type_ref = decl.attr("type")?;
        let key = QName::from_pair(decl.resolve_qname(type_ref)?);
        let ty = self.types.get(&key)?;
        self.search_decl(ty, key.ns.as_ref(), child, depth + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CI service WSDL as PeopleSoft generates it, with odd prefixes, two
    /// inline schemas, both SOAP bindings, and an operation declared but not bound.
    pub(crate) const PO_WSDL: &str = include_str!("../tests/fixtures/CI_PO_EXPRESS.1.wsdl");
    pub(crate) const QAS_WSDL: &str = include_str!("../tests/fixtures/QAS_QRY_SERVICE.1.wsdl");

    #[test]
    fn ci_wsdl_yields_actions_and_message_namespaces_per_operation() {
        let w = parse(PO_WSDL.as_bytes(), SoapVersion::V11).unwrap();
        let create = w.operation("CI_PO_EXPRESS_C").unwrap();
        assert_eq!(create.soap_action, "CI_PO_EXPRESS_C.V1");
        assert_eq!(
            create.request,
            QName {
                ns: Some("http://xmlns.oracle.com/Enterprise/Tools/schemas/M318245.V1".into()),
                name: "Create__CompIntfc__PO_EXPRESS".into()
            }
        );
        assert_eq!(
            create.response,
            Some(QName {
                ns: Some("http://xmlns.oracle.com/Enterprise/Tools/schemas/M771902.V1".into()),
                name: "Create__CompIntfc__PO_EXPRESSResponse".into()
            })
        );
        let find = w.operation("CI_PO_EXPRESS_F").unwrap();
        assert_eq!(find.soap_action, "CI_PO_EXPRESS_F.V1");
        assert_eq!(
            find.request.ns.as_deref(),
            Some("http://xmlns.oracle.com/Enterprise/Tools/schemas/M771902.V1")
        );
    }

    #[test]
    fn unbound_operation_is_absent() {
        let w = parse(PO_WSDL.as_bytes(), SoapVersion::V11).unwrap();
        assert!(w.operation("CI_PO_EXPRESS_UP").is_none());
        assert!(w.operation("CI_PO_EXPRESS_G").is_none());
    }

    #[test]
    fn soap12_binding_is_preferred_when_asked() {
        let w = parse(PO_WSDL.as_bytes(), SoapVersion::V12).unwrap();
        assert_eq!(
            w.operation("CI_PO_EXPRESS_C").unwrap().soap_action,
            "urn:soap12:CI_PO_EXPRESS_C.V1"
        );
        // Only bound for SOAP 1.1: falls back to that binding's action.
        assert_eq!(
            w.operation("CI_PO_EXPRESS_F").unwrap().soap_action,
            "CI_PO_EXPRESS_F.V1"
        );
    }

    #[test]
    fn qas_wsdl_gives_message_and_part_namespaces() {
        let w = parse(QAS_WSDL.as_bytes(), SoapVersion::V11).unwrap();
        let op = w.operation("QAS_EXECUTEQRYSYNC_OPER").unwrap();
        assert_eq!(op.soap_action, "QAS_EXECUTEQRYSYNC_OPER.VERSION_1");
        assert_eq!(op.request.name, "QAS_EXEQRY_SYNC_REQ_MSG");
        assert_eq!(
            op.request.ns.as_deref(),
            Some("http://xmlns.example-site.com/qas/QAS_EXEQRY_SYNC_REQ_MSG.VERSION_1")
        );
        assert_eq!(
            w.child_element_ns(&op.request, "QAS_EXEQRY_SYNC_REQ"),
            Some(Some(
                "http://xmlns.example-site.com/qas/QAS_EXEQRY_SYNC_REQ.VERSION_1".into()
            ))
        );
        assert_eq!(
            op.response.as_ref().map(|r| r.name.as_str()),
            Some("QAS_EXEQRY_SYNC_RESP_MSG")
        );
    }

    #[test]
    fn not_a_wsdl_or_bad_prefix_is_an_error() {
        assert!(parse(b"<html><body>Login</body></html>", SoapVersion::V11).is_err());
        let bad = r#"<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" targetNamespace="urn:t">
            <wsdl:message name="In"><wsdl:part name="p" element="nope:X"/></wsdl:message></wsdl:definitions>"#;
        let e = parse(bad.as_bytes(), SoapVersion::V11).unwrap_err();
        assert!(e.0.contains("nope:X"), "{e}");
        assert!(parse(b"<!DOCTYPE x><x/>", SoapVersion::V11).is_err());
    }
}
