//! Query Access Services: the `QAS_EXECUTEQRYSYNC_OPER` request (message and
//! part namespaces from the WSDL) and reading its XMLP result (`query` element
//! with `row`s of one child element per selected field).

use mlc_guest::{Failure, fail};

use crate::wsdl::{QName, ServiceWsdl};
use crate::xml::{Element, OutElement};

/// The PeopleTools service running queries.
pub const SERVICE: &str = "QAS_QRY_SERVICE";
/// Its synchronous execute operation.
pub const OPERATION: &str = "QAS_EXECUTEQRYSYNC_OPER";
/// The part element inside the request message.
pub const PART_ELEMENT: &str = "QAS_EXEQRY_SYNC_REQ";
const MESSAGE_ELEMENT: &str = "QAS_EXEQRY_SYNC_REQ_MSG";

/// One query run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRun<'a> {
    /// Public query name.
    pub name: &'a str,
    /// Unique prompt name (e.g. `BIND1`).
    pub prompt: &'a str,
    /// Prompt value.
    pub value: &'a str,
    /// Row limit (`MaxRow`).
    pub max_rows: u32,
}

/// The namespace of the request part element: declared in the WSDL's schema;
/// when the site's WSDL imports the schema instead of inlining it, derived from
/// the message namespace the way PeopleTools names them (`..._REQ_MSG.V` -> `..._REQ.V`).
pub fn part_namespace(wsdl: &ServiceWsdl, request: &QName) -> Option<String> {
    if let Some(ns) = wsdl.child_element_ns(request, PART_ELEMENT) {
        return ns;
    }
    let ns = request.ns.as_ref()?;
    Some(match ns.rfind(MESSAGE_ELEMENT) {
        Some(at) => format!(
            "{}{PART_ELEMENT}{}",
            &ns[..at],
            &ns[at + MESSAGE_ELEMENT.len()..]
        ),
        None => ns.clone(),
    })
}

/// The request body: `request` (message root from the WSDL) holding the part
/// element in `part_ns`, with the element names QAS clients use.
pub fn request_body(request: &QName, part_ns: Option<&str>, run: &QueryRun<'_>) -> OutElement {
    let mut part = OutElement::new(PART_ELEMENT);
    part.ns = part_ns.map(str::to_string);
    let part = part
        .with(OutElement::leaf("QueryName", run.name))
        .with(OutElement::leaf("isConnectedQuery", "N"))
        .with(OutElement::leaf("OwnerType", "PUBLIC"))
        .with(OutElement::leaf("BlockSizeKB", "0"))
        .with(OutElement::leaf("MaxRow", run.max_rows.to_string()))
        .with(OutElement::leaf("OutResultType", "XMLP"))
        .with(OutElement::leaf("OutResultFormat", "NONFILE"))
        .with(
            OutElement::new("Prompts").with(
                OutElement::new("PROMPT")
                    .with(OutElement::leaf("UniquePromptName", run.prompt))
                    .with(OutElement::leaf("FieldValue", run.value)),
            ),
        );
    let mut root = OutElement::new(request.name.as_str());
    root.ns = request.ns.clone();
    root.with(part)
}

/// One result row: field name -> text, in column order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    /// The `rownumber` attribute.
    pub number: Option<u64>,
    /// Columns as `(field name, value)`.
    pub fields: Vec<(String, String)>,
}

impl Row {
    /// The value of `field` (case-insensitive), trimmed; `None` when absent or blank.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(field))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Whether the row has column `field` at all.
    pub fn has(&self, field: &str) -> bool {
        self.fields
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(field))
    }
}

/// A query's rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryResult {
    /// The `queryname` attribute.
    pub query_name: Option<String>,
    /// The `numrows` attribute.
    pub num_rows: Option<u64>,
    /// Rows in reply order.
    pub rows: Vec<Row>,
}

/// Reads the XMLP `query` element wherever it sits in the reply body.
pub fn read_result(reply: &Element, query: &str) -> Result<QueryResult, Failure> {
    let q = reply
        .descendants()
        .into_iter()
        .find(|e| e.is("query") && (e.attr("numrows").is_some() || e.child("row").is_some() || e.attr("queryname").is_some()))
        .ok_or_else(|| {
            fail::protocol(format!(
                "query {query}: reply <{}> holds no XMLP <query> result (is OutResultType XMLP supported?)",
                reply.name
            ))
        })?;
    let rows = q
        .children_named("row")
        .map(|r| Row {
            number: r.attr("rownumber").and_then(|n| n.trim().parse().ok()),
            fields: r
                .children
                .iter()
                .map(|c| (c.name.clone(), c.text.clone()))
                .collect(),
        })
        .collect();
    Ok(QueryResult {
        query_name: q.attr("queryname").map(str::to_string),
        num_rows: q.attr("numrows").and_then(|n| n.trim().parse().ok()),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SoapVersion;
    use crate::xml::{parse_str, to_string};

    fn qas_wsdl() -> ServiceWsdl {
        crate::wsdl::parse(
            include_str!("../tests/fixtures/QAS_QRY_SERVICE.1.wsdl").as_bytes(),
            SoapVersion::V11,
        )
        .unwrap()
    }

    #[test]
    fn request_body_matches_the_reference_shape_with_wsdl_namespaces() {
        let w = qas_wsdl();
        let op = w.operation(OPERATION).unwrap();
        let part_ns = part_namespace(&w, &op.request);
        let body = request_body(
            &op.request,
            part_ns.as_deref(),
            &QueryRun {
                name: "MLC_VOUCHERS_SINCE",
                prompt: "BIND1",
                value: "2026-11-01",
                max_rows: 500,
            },
        );
        assert_eq!(
            to_string(&body),
            concat!(
                r#"<QAS_EXEQRY_SYNC_REQ_MSG xmlns="http://xmlns.example-site.com/qas/QAS_EXEQRY_SYNC_REQ_MSG.VERSION_1">"#,
                r#"<QAS_EXEQRY_SYNC_REQ xmlns="http://xmlns.example-site.com/qas/QAS_EXEQRY_SYNC_REQ.VERSION_1">"#,
                r#"<QueryName>MLC_VOUCHERS_SINCE</QueryName><isConnectedQuery>N</isConnectedQuery>"#,
                r#"<OwnerType>PUBLIC</OwnerType><BlockSizeKB>0</BlockSizeKB><MaxRow>500</MaxRow>"#,
                r#"<OutResultType>XMLP</OutResultType><OutResultFormat>NONFILE</OutResultFormat>"#,
                r#"<Prompts><PROMPT><UniquePromptName>BIND1</UniquePromptName><FieldValue>2026-11-01</FieldValue></PROMPT></Prompts>"#,
                r#"</QAS_EXEQRY_SYNC_REQ></QAS_EXEQRY_SYNC_REQ_MSG>"#
            )
        );
    }

    #[test]
    fn part_namespace_is_derived_when_the_schema_is_not_inline() {
        let bare = crate::wsdl::parse(
            br#"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:m="urn:site/QAS_EXEQRY_SYNC_REQ_MSG.VERSION_1" xmlns:tns="urn:t" targetNamespace="urn:t">
                <message name="In"><part name="p" element="m:QAS_EXEQRY_SYNC_REQ_MSG"/></message>
                <portType name="P"><operation name="QAS_EXECUTEQRYSYNC_OPER"><input message="tns:In"/></operation></portType>
                <binding name="B" type="tns:P"><soap:binding xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"/>
                  <operation name="QAS_EXECUTEQRYSYNC_OPER"><soap:operation xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" soapAction="Q.V1"/></operation></binding>
              </definitions>"#,
            SoapVersion::V11,
        )
        .unwrap();
        let op = bare.operation(OPERATION).unwrap();
        assert_eq!(
            part_namespace(&bare, &op.request).as_deref(),
            Some("urn:site/QAS_EXEQRY_SYNC_REQ.VERSION_1")
        );
    }

    #[test]
    fn xmlp_result_is_found_where_the_sandbox_nests_it() {
        let reply = parse_str(
            r#"<QAS_EXEQRY_SYNC_RESP_MSG xmlns="urn:resp"><QAS_QUERYRESULTS_XMLP_RESP>
                 <query numrows="2" queryname="MLC_ACCOUNTS" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
                   <row rownumber="1"><SETID>SHARE</SETID><ACCOUNT>610000</ACCOUNT><DESCR>Office Supplies</DESCR></row>
                   <row rownumber="2"><SETID>SHARE</SETID><ACCOUNT>620000</ACCOUNT><DESCR>Maintenance &amp; Repairs</DESCR><EMPTY/></row>
                 </query></QAS_QUERYRESULTS_XMLP_RESP></QAS_EXEQRY_SYNC_RESP_MSG>"#,
        )
        .unwrap();
        let r = read_result(&reply, "MLC_ACCOUNTS").unwrap();
        assert_eq!(r.num_rows, Some(2));
        assert_eq!(r.query_name.as_deref(), Some("MLC_ACCOUNTS"));
        assert_eq!(r.rows.len(), 2);
        assert_eq!(r.rows[1].number, Some(2));
        assert_eq!(r.rows[1].get("descr"), Some("Maintenance & Repairs"));
        assert_eq!(r.rows[1].get("EMPTY"), None);
        assert!(r.rows[1].has("EMPTY"));
    }

    #[test]
    fn empty_result_has_no_rows_and_missing_query_is_protocol() {
        let reply = parse_str(r#"<R><query numrows="0" queryname="Q"/></R>"#).unwrap();
        assert!(read_result(&reply, "Q").unwrap().rows.is_empty());
        let reply = parse_str("<R><status>ok</status></R>").unwrap();
        assert!(matches!(
            read_result(&reply, "Q"),
            Err(Failure::Protocol(_))
        ));
    }
}
