//! The site's service catalog: every service operation with its per-site
//! message namespaces (random `M` numbers for CIs, drawn from the seed), and
//! the WSDL 1.1 documents (inline XSD) and WSIL listing generated from it.

use std::collections::BTreeSet;

use rand::Rng;
use rand::rngs::StdRng;

use super::ci::{CIS, CiDef, CiMethod, FieldDef, Kind, ScrollDef};
use super::xml::XmlWriter;

/// The Query Access Services service and its operation.
pub const QAS_SERVICE: &str = "QAS_QRY_SERVICE";
/// The synchronous query execution operation of [`QAS_SERVICE`].
pub const QAS_OPERATION: &str = "QAS_EXECUTEQRYSYNC_OPER";
/// QAS request message root.
pub const QAS_REQ_MSG: &str = "QAS_EXEQRY_SYNC_REQ_MSG";
/// QAS request part (child of the message root).
pub const QAS_REQ: &str = "QAS_EXEQRY_SYNC_REQ";
/// QAS response message root.
pub const QAS_RESP_MSG: &str = "QAS_EXEQRY_SYNC_RESP_MSG";
/// QAS XMLP result part.
pub const QAS_RESP: &str = "QAS_QUERYRESULTS_XMLP_RESP";

/// What a service operation runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OpKind {
    Ci {
        ci: &'static CiDef,
        method: CiMethod,
    },
    Qas,
}

/// One service operation with its message names and namespaces.
#[derive(Debug, Clone)]
pub(crate) struct OperationDef {
    pub name: String,
    pub service: String,
    pub kind: OpKind,
    /// Request message name (`M1234567.V1`, or `QAS_EXEQRY_SYNC_REQ_MSG.VERSION_1`).
    pub request_message: String,
    pub response_message: String,
    pub request_ns: String,
    pub response_ns: String,
    pub request_root: String,
    pub response_root: String,
}

/// All operations of the site, in a stable order.
#[derive(Debug)]
pub(crate) struct ServiceCatalog {
    pub ops: Vec<OperationDef>,
    pub namespace_base: String,
}

impl ServiceCatalog {
    /// Builds the catalog, drawing each CI message's `M` number from `rng`.
    pub(crate) fn new(namespace_base: &str, rng: &mut StdRng) -> Self {
        let mut used = BTreeSet::new();
        let mut draw = |rng: &mut StdRng| loop {
            // Real sites show 5- to 7-digit message numbers.
            let digits: u32 = rng.random_range(10_000..10_000_000);
            if used.insert(digits) {
                break format!("M{digits}.V1");
            }
        };
        let mut ops = Vec::new();
        for ci in &CIS {
            for &method in ci.methods {
                let request_message = draw(rng);
                let response_message = draw(rng);
                ops.push(OperationDef {
                    name: ci.operation(method),
                    service: ci.service(),
                    kind: OpKind::Ci { ci, method },
                    request_ns: format!("{namespace_base}{request_message}"),
                    response_ns: format!("{namespace_base}{response_message}"),
                    request_message,
                    response_message,
                    request_root: ci.request_root(method),
                    response_root: ci.response_root(method),
                });
            }
        }
        let request_message = format!("{QAS_REQ_MSG}.VERSION_1");
        let response_message = format!("{QAS_RESP_MSG}.VERSION_1");
        ops.push(OperationDef {
            name: QAS_OPERATION.to_owned(),
            service: QAS_SERVICE.to_owned(),
            kind: OpKind::Qas,
            request_ns: format!("{namespace_base}{request_message}"),
            response_ns: format!("{namespace_base}{response_message}"),
            request_message,
            response_message,
            request_root: QAS_REQ_MSG.to_owned(),
            response_root: QAS_RESP_MSG.to_owned(),
        });
        ServiceCatalog {
            ops,
            namespace_base: namespace_base.to_owned(),
        }
    }

    /// The operation named `name`.
    pub(crate) fn op(&self, name: &str) -> Option<&OperationDef> {
        self.ops.iter().find(|o| o.name == name)
    }

    /// The operation whose request body root is `local`.
    pub(crate) fn by_request_root(&self, local: &str) -> Option<&OperationDef> {
        self.ops.iter().find(|o| o.request_root == local)
    }

    /// Service names in catalog order.
    pub(crate) fn services(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for op in &self.ops {
            if !out.contains(&op.service.as_str()) {
                out.push(&op.service);
            }
        }
        out
    }

    /// Namespace of a QAS part (`QAS_EXEQRY_SYNC_REQ` -> `{base}QAS_EXEQRY_SYNC_REQ.VERSION_1`).
    pub(crate) fn qas_part_ns(&self, part: &str) -> String {
        format!("{}{part}.VERSION_1", self.namespace_base)
    }
}

const WSDL_NS: &str = "http://schemas.xmlsoap.org/wsdl/";
const WSDL_SOAP_NS: &str = "http://schemas.xmlsoap.org/wsdl/soap/";
const XSD_NS: &str = "http://www.w3.org/2001/XMLSchema";
const SERVICES_BASE: &str = "http://xmlns.oracle.com/Enterprise/Tools/services/";

/// The WSDL of `service` listing `published` operations, with the SOAP
/// address `listener_url`; `None` when no operation of it is published.
pub(crate) fn wsdl(
    catalog: &ServiceCatalog,
    service: &str,
    published: &dyn Fn(&str) -> bool,
    listener_url: &str,
) -> Option<String> {
    let ops: Vec<&OperationDef> = catalog
        .ops
        .iter()
        .filter(|o| o.service == service && published(&o.name))
        .collect();
    if ops.is_empty() {
        return None;
    }
    let tns = format!("{SERVICES_BASE}{service}.1");
    let mut prefixes: Vec<(String, String)> = Vec::new();
    for op in &ops {
        prefixes.push((op.request_message.clone(), op.request_ns.clone()));
        prefixes.push((op.response_message.clone(), op.response_ns.clone()));
        if matches!(op.kind, OpKind::Qas) {
            for part in [QAS_REQ, QAS_RESP] {
                prefixes.push((format!("{part}.VERSION_1"), catalog.qas_part_ns(part)));
            }
        }
    }
    let mut root_attrs: Vec<(String, String)> = vec![
        ("name".into(), format!("{service}.1")),
        ("targetNamespace".into(), tns.clone()),
        ("xmlns:tns".into(), tns),
        ("xmlns:wsdl".into(), WSDL_NS.into()),
        ("xmlns:soap".into(), WSDL_SOAP_NS.into()),
        ("xmlns:xsd".into(), XSD_NS.into()),
    ];
    root_attrs.extend(
        prefixes
            .iter()
            .map(|(prefix, ns)| (format!("xmlns:{prefix}"), ns.clone())),
    );
    let attrs: Vec<(&str, &str)> = root_attrs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();

    let mut w = XmlWriter::with_declaration();
    w.open("wsdl:definitions", &attrs);
    w.leaf(
        "wsdl:documentation",
        &format!(
            "{service}: generated by the PeopleSoft Integration Broker service WSDL repository."
        ),
    );
    w.open("wsdl:types", &[]);
    for op in &ops {
        match op.kind {
            OpKind::Ci { ci, method } => write_ci_schemas(&mut w, op, ci, method),
            OpKind::Qas => write_qas_schemas(&mut w, op, catalog),
        }
    }
    w.close("wsdl:types");

    for op in &ops {
        for (message, root) in [
            (&op.request_message, &op.request_root),
            (&op.response_message, &op.response_root),
        ] {
            w.open("wsdl:message", &[("name", root)])
                .empty(
                    "wsdl:part",
                    &[
                        ("name", "parameter"),
                        ("element", &format!("{message}:{root}")),
                    ],
                )
                .close("wsdl:message");
        }
    }

    let port_type = format!("{service}_PortType");
    w.open("wsdl:portType", &[("name", &port_type)]);
    for op in &ops {
        w.open("wsdl:operation", &[("name", &op.name)])
            .leaf("wsdl:documentation", &operation_doc(op))
            .empty(
                "wsdl:input",
                &[
                    ("name", &op.request_root),
                    ("message", &format!("tns:{}", op.request_root)),
                ],
            )
            .empty(
                "wsdl:output",
                &[
                    ("name", &op.response_root),
                    ("message", &format!("tns:{}", op.response_root)),
                ],
            )
            .close("wsdl:operation");
    }
    w.close("wsdl:portType");

    let binding = format!("{service}_Binding");
    w.open(
        "wsdl:binding",
        &[("name", &binding), ("type", &format!("tns:{port_type}"))],
    )
    .empty(
        "soap:binding",
        &[
            ("style", "document"),
            ("transport", "http://schemas.xmlsoap.org/soap/http"),
        ],
    );
    for op in &ops {
        w.open("wsdl:operation", &[("name", &op.name)])
            .empty(
                "soap:operation",
                &[
                    ("soapAction", &format!("{}.V1", op.name)),
                    ("style", "document"),
                ],
            )
            .open("wsdl:input", &[("name", &op.request_root)])
            .empty("soap:body", &[("use", "literal")])
            .close("wsdl:input")
            .open("wsdl:output", &[("name", &op.response_root)])
            .empty("soap:body", &[("use", "literal")])
            .close("wsdl:output")
            .close("wsdl:operation");
    }
    w.close("wsdl:binding");

    w.open("wsdl:service", &[("name", service)])
        .leaf("wsdl:documentation", &format!("{service} service"))
        .open(
            "wsdl:port",
            &[
                ("name", &format!("{service}_Port")),
                ("binding", &format!("tns:{binding}")),
            ],
        )
        .empty("soap:address", &[("location", listener_url)])
        .close("wsdl:port")
        .close("wsdl:service");
    w.close("wsdl:definitions");
    Some(w.finish())
}

fn operation_doc(op: &OperationDef) -> String {
    match op.kind {
        OpKind::Ci { ci, method } => format!(
            "{} method of component interface {}",
            method.verb(),
            ci.name
        ),
        OpKind::Qas => "Executes a PeopleSoft Query synchronously and returns its rows".to_owned(),
    }
}

fn schema_open(w: &mut XmlWriter, ns: &str) {
    w.open(
        "xsd:schema",
        &[
            ("targetNamespace", ns),
            ("elementFormDefault", "qualified"),
            ("attributeFormDefault", "unqualified"),
        ],
    );
}

fn field_element(w: &mut XmlWriter, field: &FieldDef, min_occurs: &str) {
    match field.kind {
        Kind::Char(max) => {
            w.open(
                "xsd:element",
                &[("name", field.name), ("minOccurs", min_occurs)],
            )
            .open("xsd:simpleType", &[])
            .open("xsd:restriction", &[("base", "xsd:string")])
            .empty("xsd:maxLength", &[("value", &max.to_string())])
            .close("xsd:restriction")
            .close("xsd:simpleType")
            .close("xsd:element");
        }
        other => {
            w.empty(
                "xsd:element",
                &[
                    ("name", field.name),
                    ("type", other.xsd()),
                    ("minOccurs", min_occurs),
                ],
            );
        }
    }
}

/// A complex type holding every field and collection of `scroll`.
fn scroll_type(w: &mut XmlWriter, scroll: &ScrollDef) {
    w.open("xsd:complexType", &[]).open("xsd:sequence", &[]);
    for field in scroll.fields {
        field_element(w, field, "0");
    }
    for child in scroll.children {
        w.open(
            "xsd:element",
            &[
                ("name", child.name),
                ("minOccurs", "0"),
                ("maxOccurs", "unbounded"),
            ],
        );
        scroll_type(w, child);
        w.close("xsd:element");
    }
    w.close("xsd:sequence").close("xsd:complexType");
}

/// A complex type holding only the named level-0 fields of `ci`.
fn keys_type(w: &mut XmlWriter, ci: &CiDef, keys: &[&str]) {
    w.open("xsd:complexType", &[]).open("xsd:sequence", &[]);
    for key in keys {
        if let Some(field) = ci.level0.fields.iter().find(|f| f.name == *key) {
            field_element(w, field, "0");
        }
    }
    w.close("xsd:sequence").close("xsd:complexType");
}

fn write_ci_schemas(w: &mut XmlWriter, op: &OperationDef, ci: &CiDef, method: CiMethod) {
    schema_open(w, &op.request_ns);
    w.open("xsd:element", &[("name", &op.request_root)]);
    match method {
        CiMethod::Create | CiMethod::Update => scroll_type(w, &ci.level0),
        CiMethod::Get => keys_type(w, ci, ci.get_keys),
        CiMethod::Find => keys_type(w, ci, ci.find_keys),
    }
    w.close("xsd:element").close("xsd:schema");

    schema_open(w, &op.response_ns);
    w.open("xsd:element", &[("name", &op.response_root)]);
    match method {
        CiMethod::Create | CiMethod::Update => {
            w.open("xsd:complexType", &[]).open("xsd:sequence", &[]);
            w.empty(
                "xsd:element",
                &[("name", "notification"), ("type", "xsd:integer")],
            );
            w.open("xsd:element", &[("name", "detail"), ("minOccurs", "0")])
                .open("xsd:complexType", &[])
                .open("xsd:sequence", &[])
                .open("xsd:element", &[("name", "keys")]);
            keys_type(w, ci, ci.get_keys);
            w.close("xsd:element")
                .close("xsd:sequence")
                .close("xsd:complexType")
                .close("xsd:element");
            w.open(
                "xsd:element",
                &[
                    ("name", "messages"),
                    ("minOccurs", "0"),
                    ("maxOccurs", "unbounded"),
                ],
            )
            .open("xsd:complexType", &[])
            .open("xsd:sequence", &[]);
            for (name, ty) in [
                ("type", "xsd:string"),
                ("messagesetnumber", "xsd:integer"),
                ("messagenumber", "xsd:integer"),
                ("messagetext", "xsd:string"),
                ("explaintext", "xsd:string"),
            ] {
                w.empty("xsd:element", &[("name", name), ("type", ty)]);
            }
            w.close("xsd:sequence")
                .close("xsd:complexType")
                .close("xsd:element");
            w.close("xsd:sequence").close("xsd:complexType");
        }
        CiMethod::Get => scroll_type(w, &ci.level0),
        CiMethod::Find => {
            w.open("xsd:complexType", &[]).open("xsd:sequence", &[]);
            w.open(
                "xsd:element",
                &[
                    ("name", ci.name),
                    ("minOccurs", "0"),
                    ("maxOccurs", "unbounded"),
                ],
            );
            keys_type(w, ci, ci.find_keys);
            w.close("xsd:element");
            w.close("xsd:sequence").close("xsd:complexType");
        }
    }
    w.close("xsd:element").close("xsd:schema");
}

fn write_qas_schemas(w: &mut XmlWriter, op: &OperationDef, catalog: &ServiceCatalog) {
    let req_ns = catalog.qas_part_ns(QAS_REQ);
    let resp_ns = catalog.qas_part_ns(QAS_RESP);
    // Message wrappers: each refers to its part in the part's own namespace.
    for (ns, root, part_ns, part) in [
        (&op.request_ns, &op.request_root, &req_ns, QAS_REQ),
        (&op.response_ns, &op.response_root, &resp_ns, QAS_RESP),
    ] {
        schema_open(w, ns);
        w.empty("xsd:import", &[("namespace", part_ns)]);
        w.open("xsd:element", &[("name", root)])
            .open("xsd:complexType", &[])
            .open("xsd:sequence", &[])
            .empty(
                "xsd:element",
                &[("ref", &format!("{part}.VERSION_1:{part}"))],
            )
            .close("xsd:sequence")
            .close("xsd:complexType")
            .close("xsd:element")
            .close("xsd:schema");
    }

    schema_open(w, &req_ns);
    w.open("xsd:element", &[("name", QAS_REQ)])
        .open("xsd:complexType", &[])
        .open("xsd:sequence", &[]);
    for (name, ty, min) in [
        ("QueryName", "xsd:string", "1"),
        ("isConnectedQuery", "xsd:string", "0"),
        ("OwnerType", "xsd:string", "0"),
        ("BlockSizeKB", "xsd:integer", "0"),
        ("MaxRow", "xsd:integer", "0"),
        ("OutResultType", "xsd:string", "0"),
        ("OutResultFormat", "xsd:string", "0"),
    ] {
        w.empty(
            "xsd:element",
            &[("name", name), ("type", ty), ("minOccurs", min)],
        );
    }
    w.open("xsd:element", &[("name", "Prompts"), ("minOccurs", "0")])
        .open("xsd:complexType", &[])
        .open("xsd:sequence", &[])
        .open(
            "xsd:element",
            &[
                ("name", "PROMPT"),
                ("minOccurs", "0"),
                ("maxOccurs", "unbounded"),
            ],
        )
        .open("xsd:complexType", &[])
        .open("xsd:sequence", &[])
        .empty(
            "xsd:element",
            &[("name", "UniquePromptName"), ("type", "xsd:string")],
        )
        .empty(
            "xsd:element",
            &[("name", "FieldValue"), ("type", "xsd:string")],
        )
        .close("xsd:sequence")
        .close("xsd:complexType")
        .close("xsd:element")
        .close("xsd:sequence")
        .close("xsd:complexType")
        .close("xsd:element");
    w.close("xsd:sequence")
        .close("xsd:complexType")
        .close("xsd:element")
        .close("xsd:schema");

    // The XMLP result is an unqualified `query` element: any content.
    schema_open(w, &resp_ns);
    w.open("xsd:element", &[("name", QAS_RESP)])
        .open("xsd:complexType", &[])
        .open("xsd:sequence", &[])
        .empty(
            "xsd:any",
            &[
                ("namespace", "##any"),
                ("processContents", "lax"),
                ("minOccurs", "0"),
                ("maxOccurs", "unbounded"),
            ],
        )
        .close("xsd:sequence")
        .close("xsd:complexType")
        .close("xsd:element")
        .close("xsd:schema");
}

/// The WSIL document listing `services` with their WSDL locations.
pub(crate) fn wsil(services: &[&str], listener_url: &str) -> String {
    let mut w = XmlWriter::with_declaration();
    w.open(
        "inspection",
        &[("xmlns", "http://schemas.xmlsoap.org/ws/2001/10/inspection/")],
    );
    for service in services {
        w.open("service", &[])
            .leaf("abstract", &format!("{service} service"))
            .leaf("name", service)
            .empty(
                "description",
                &[
                    ("referencedNamespace", WSDL_NS),
                    ("location", &format!("{listener_url}/{service}.1.wsdl")),
                ],
            )
            .close("service");
    }
    w.close("inspection");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_operation_gets_two_distinct_m_namespaces() {
        let catalog = ServiceCatalog::new("http://b/", &mut StdRng::seed_from_u64(1));
        let mut seen = BTreeSet::new();
        for op in catalog
            .ops
            .iter()
            .filter(|o| matches!(o.kind, OpKind::Ci { .. }))
        {
            assert!(op.request_ns.starts_with("http://b/M") && op.request_ns.ends_with(".V1"));
            assert!(seen.insert(op.request_ns.clone()));
            assert!(seen.insert(op.response_ns.clone()));
        }
        assert_eq!(
            catalog.op("CI_PO_EXPRESS_UP").unwrap().request_root,
            "Update__CompIntfc__PO_EXPRESS"
        );
        assert_eq!(
            catalog.op(QAS_OPERATION).unwrap().request_ns,
            "http://b/QAS_EXEQRY_SYNC_REQ_MSG.VERSION_1"
        );
    }

    #[test]
    fn unpublished_operations_leave_the_wsdl() {
        let catalog = ServiceCatalog::new("http://b/", &mut StdRng::seed_from_u64(1));
        let all = wsdl(&catalog, "CI_PO_EXPRESS", &|_| true, "http://l").unwrap();
        assert!(all.contains("soapAction=\"CI_PO_EXPRESS_F.V1\""));
        let some = wsdl(
            &catalog,
            "CI_PO_EXPRESS",
            &|op| op != "CI_PO_EXPRESS_F",
            "http://l",
        )
        .unwrap();
        assert!(!some.contains("CI_PO_EXPRESS_F"));
        assert!(wsdl(&catalog, "CI_PO_EXPRESS", &|_| false, "http://l").is_none());
    }
}
