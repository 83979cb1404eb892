//! Component Interface services: names of services, operations and body roots
//! for a CI, request bodies built from a property tree (level-0 properties and
//! nested repeating collections), and reading Create/Find replies
//! (`notification`, `messages`, keys in `detail`).

use std::collections::HashMap;

use mlc_guest::{Failure, excerpt, fail};

use crate::xml::{Element, OutElement};

/// One CI property or collection, in the order the request lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prop {
    /// A property and its value.
    Field(String, String),
    /// One row of a collection (scroll): repeated once per row.
    Row(String, Vec<Prop>),
}

/// A property (builder helper).
pub fn field(name: &str, value: impl Into<String>) -> Prop {
    Prop::Field(name.to_string(), value.into())
}

/// A property when the value is present.
pub fn opt_field(name: &str, value: Option<&str>) -> Option<Prop> {
    value.map(|v| field(name, v))
}

/// The CI methods the connector calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `Create` (`_C`).
    Create,
    /// `Find` (`_F`).
    Find,
    /// `Get` (`_G`).
    Get,
    /// `Update` (`_UP`).
    Update,
}

impl Method {
    fn suffix(self) -> &'static str {
        match self {
            Method::Create => "C",
            Method::Find => "F",
            Method::Get => "G",
            Method::Update => "UP",
        }
    }

    fn root_prefix(self) -> &'static str {
        match self {
            Method::Create => "Create",
            Method::Find => "Find",
            Method::Get => "Get",
            Method::Update => "Update",
        }
    }
}

/// The service exposing CI `ci` (`CI_PO_EXPRESS`).
pub fn service(ci: &str) -> String {
    format!("CI_{ci}")
}

/// The service operation of `method` on `ci` (`CI_PO_EXPRESS_C`).
pub fn operation(ci: &str, method: Method) -> String {
    format!("CI_{ci}_{}", method.suffix())
}

/// The request body root of `method` on `ci` (`Create__CompIntfc__PO_EXPRESS`).
pub fn request_root(ci: &str, method: Method) -> String {
    format!("{}__CompIntfc__{ci}", method.root_prefix())
}

/// The reply body root (`Create__CompIntfc__PO_EXPRESSResponse`).
pub fn response_root(ci: &str, method: Method) -> String {
    format!("{}Response", request_root(ci, method))
}

/// The request body element: `root` in namespace `ns`, properties as children
/// (they inherit the namespace, as CI schemas are `elementFormDefault="qualified"`).
pub fn body(root: &str, ns: Option<&str>, props: &[Prop]) -> OutElement {
    let mut element = OutElement::new(root);
    element.ns = ns.map(str::to_string);
    element.children = props.iter().map(prop_element).collect();
    element
}

fn prop_element(prop: &Prop) -> OutElement {
    match prop {
        Prop::Field(name, value) => OutElement::leaf(name.as_str(), value.as_str()),
        Prop::Row(name, props) => {
            let mut e = OutElement::new(name.as_str());
            e.children = props.iter().map(prop_element).collect();
            e
        }
    }
}

/// One entry of a CI reply's `messages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiMessage {
    /// `Error`, `Warning`, `Message` ...
    pub kind: String,
    /// Message set and number, when given.
    pub numbers: Option<(String, String)>,
    /// The message text (PeopleSoft names the field in it).
    pub text: String,
    /// The longer explanation, when given.
    pub explain: String,
}

impl CiMessage {
    fn is_error(&self) -> bool {
        let k = self.kind.to_ascii_lowercase();
        k.is_empty() || k.starts_with('e') || k == "0"
    }

    fn render(&self) -> String {
        let mut out = self.text.clone();
        if let Some((set, number)) = &self.numbers {
            out.push_str(&format!(" ({set},{number})"));
        }
        if !self.explain.is_empty() && self.explain != self.text {
            out.push_str(&format!(": {}", self.explain));
        }
        out
    }
}

/// All `messages` entries anywhere in a reply (any element with a `messagetext` child).
pub fn messages(reply: &Element) -> Vec<CiMessage> {
    reply
        .descendants()
        .into_iter()
        .filter(|e| e.child_ignore_case("messagetext").is_some())
        .map(|e| {
            let get = |name: &str| {
                e.child_ignore_case(name)
                    .map(|c| c.text.trim().to_string())
                    .unwrap_or_default()
            };
            let set = get("messagesetnumber");
            let number = get("messagenumber");
            CiMessage {
                kind: get("type"),
                numbers: (!set.is_empty() || !number.is_empty()).then_some((set, number)),
                text: get("messagetext"),
                explain: get("explaintext"),
            }
        })
        .collect()
}

/// A successful Create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The value of the requested key property in the reply (e.g. the assigned PO_ID).
    pub key: Option<String>,
    /// Warnings PeopleSoft returned with the success.
    pub warnings: Vec<String>,
}

/// Reads a Create reply: `notification` 1 is success (with the key read from
/// `detail`, else anywhere outside `messages`); 0 is `rejected` with the error
/// messages' text.
pub fn read_create(reply: &Element, operation: &str, key_field: &str) -> Result<Created, Failure> {
    let msgs = messages(reply);
    let notification = reply
        .find("notification")
        .map(|n| n.text.trim().to_string())
        .ok_or_else(|| {
            fail::protocol(format!(
                "{operation}: reply <{}> has no notification element",
                reply.name
            ))
        })?;
    match notification.as_str() {
        "1" => {
            let in_detail = reply.find("detail").and_then(|d| leaf_value(d, key_field));
            let key = in_detail.or_else(|| leaf_value_outside_messages(reply, key_field));
            Ok(Created {
                key,
                warnings: msgs.iter().map(CiMessage::render).collect(),
            })
        }
        "0" => {
            let errors: Vec<String> = msgs
                .iter()
                .filter(|m| m.is_error())
                .map(CiMessage::render)
                .collect();
            let shown = if errors.is_empty() {
                msgs.iter().map(CiMessage::render).collect::<Vec<_>>()
            } else {
                errors
            };
            if shown.is_empty() {
                Err(fail::rejected(format!(
                    "{operation}: PeopleSoft refused the record (notification 0) without a message"
                )))
            } else {
                Err(fail::rejected(format!(
                    "{operation}: PeopleSoft refused the record: {}",
                    shown.join("; ")
                )))
            }
        }
        other => Err(fail::protocol(format!(
            "{operation}: notification {:?} is neither 1 nor 0",
            excerpt(other, 40)
        ))),
    }
}

/// Reads the reply to an empty Create sent to prove the operation is enabled:
/// the gateway's setup checks (active, routing, permission) have passed when
/// the CI answers at all, and it must refuse the empty record (`notification`
/// 0). A `notification` 1 means the site saved an empty record: that is
/// reported, never taken as a pass.
pub fn read_probe(reply: &Element, operation: &str) -> Result<(), Failure> {
    match reply
        .find("notification")
        .map(|n| n.text.trim().to_string())
    {
        Some(n) if n == "0" => Ok(()),
        Some(n) if n == "1" => Err(fail::protocol(format!(
            "{operation}: PeopleSoft accepted the empty record sent to prove the operation is enabled (notification 1): look for a blank row it added, and make the component's required fields required"
        ))),
        Some(other) => Err(fail::protocol(format!(
            "{operation}: notification {:?} is neither 1 nor 0",
            excerpt(&other, 40)
        ))),
        None => Err(fail::protocol(format!(
            "{operation}: reply <{}> has no notification element",
            reply.name
        ))),
    }
}

/// The matches of a Find reply: every element holding a `key_field` leaf, as
/// its leaf properties (trimmed), duplicates removed, in reply order. A Find
/// answering `notification` 0 with error messages is a protocol failure.
pub fn read_find_rows(
    reply: &Element,
    operation: &str,
    key_field: &str,
) -> Result<Vec<HashMap<String, String>>, Failure> {
    if reply.find("notification").map(|n| n.text.trim()) == Some("0") {
        let errors: Vec<String> = messages(reply)
            .iter()
            .filter(|m| m.is_error())
            .map(CiMessage::render)
            .collect();
        if !errors.is_empty() {
            return Err(fail::protocol(format!(
                "{operation}: search failed: {}",
                errors.join("; ")
            )));
        }
    }
    let mut out: Vec<HashMap<String, String>> = Vec::new();
    for e in reply.descendants() {
        let holds_key = e
            .children
            .iter()
            .any(|c| c.name == key_field && c.children.is_empty() && !c.text.trim().is_empty());
        if !holds_key {
            continue;
        }
        let row: HashMap<String, String> = e
            .children
            .iter()
            .filter(|c| c.children.is_empty())
            .map(|c| (c.name.clone(), c.text.trim().to_string()))
            .collect();
        if !out.contains(&row) {
            out.push(row);
        }
    }
    Ok(out)
}

fn leaf_value(e: &Element, name: &str) -> Option<String> {
    e.descendants()
        .into_iter()
        .find(|d| d.name == name && d.children.is_empty() && !d.text.trim().is_empty())
        .map(|d| d.text.trim().to_string())
}

fn leaf_value_outside_messages(reply: &Element, name: &str) -> Option<String> {
    let mut stack = vec![reply];
    while let Some(e) = stack.pop() {
        if e.name.eq_ignore_ascii_case("messages") {
            continue;
        }
        if e.name == name && e.children.is_empty() && !e.text.trim().is_empty() {
            return Some(e.text.trim().to_string());
        }
        stack.extend(e.children.iter().rev());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse_str, to_string};

    #[test]
    fn names_follow_the_ci_conventions() {
        assert_eq!(service("PO_EXPRESS"), "CI_PO_EXPRESS");
        assert_eq!(operation("PO_EXPRESS", Method::Create), "CI_PO_EXPRESS_C");
        assert_eq!(operation("PO_EXPRESS", Method::Find), "CI_PO_EXPRESS_F");
        assert_eq!(operation("PO_EXPRESS", Method::Get), "CI_PO_EXPRESS_G");
        assert_eq!(operation("PO_EXPRESS", Method::Update), "CI_PO_EXPRESS_UP");
        assert_eq!(
            request_root("VNDR_ID", Method::Create),
            "Create__CompIntfc__VNDR_ID"
        );
        assert_eq!(
            request_root("VNDR_ID", Method::Get),
            "Get__CompIntfc__VNDR_ID"
        );
        assert_eq!(
            request_root("VNDR_ID", Method::Update),
            "Update__CompIntfc__VNDR_ID"
        );
        assert_eq!(
            response_root("DEPT_CF", Method::Find),
            "Find__CompIntfc__DEPT_CFResponse"
        );
    }

    #[test]
    fn body_nests_repeating_collections() {
        let props = vec![
            field("BUSINESS_UNIT", "US001"),
            Prop::Row("PO_LINE".into(), vec![field("LINE_NBR", "1")]),
            Prop::Row("PO_LINE".into(), vec![field("LINE_NBR", "2")]),
        ];
        assert_eq!(
            to_string(&body(
                "Create__CompIntfc__PO_EXPRESS",
                Some("urn:M9.V1"),
                &props
            )),
            r#"<Create__CompIntfc__PO_EXPRESS xmlns="urn:M9.V1"><BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_LINE><LINE_NBR>1</LINE_NBR></PO_LINE><PO_LINE><LINE_NBR>2</LINE_NBR></PO_LINE></Create__CompIntfc__PO_EXPRESS>"#
        );
    }

    #[test]
    fn create_success_returns_the_assigned_po_id_from_detail() {
        let reply = parse_str(
            r#"<Create__CompIntfc__PO_EXPRESSResponse xmlns="urn:m"><notification>1</notification>
               <detail><keys><BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>0000000042</PO_ID></keys></detail>
               </Create__CompIntfc__PO_EXPRESSResponse>"#,
        )
        .unwrap();
        let c = read_create(&reply, "CI_PO_EXPRESS_C", "PO_ID").unwrap();
        assert_eq!(c.key.as_deref(), Some("0000000042"));
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn create_success_without_detail_reads_key_outside_messages() {
        let reply = parse_str(
            r#"<R><notification>1</notification><messages><type>Warning</type><messagetext>PO_ID NEXT used</messagetext><PO_ID>X</PO_ID></messages><PO_ID>0000000077</PO_ID></R>"#,
        )
        .unwrap();
        let c = read_create(&reply, "op", "PO_ID").unwrap();
        assert_eq!(c.key.as_deref(), Some("0000000077"));
        assert_eq!(c.warnings, vec!["PO_ID NEXT used".to_string()]);
    }

    #[test]
    fn create_failure_is_rejected_with_the_error_text_naming_the_field() {
        let reply = parse_str(
            r#"<Create__CompIntfc__PO_EXPRESSResponse><notification>0</notification>
               <messages><type>Warning</type><messagesetnumber>1</messagesetnumber><messagenumber>2</messagenumber><messagetext>Buyer has no default</messagetext></messages>
               <messages><type>Error</type><messagesetnumber>15</messagesetnumber><messagenumber>11</messagenumber>
                 <messagetext>Invalid value -- press the prompt button or hyperlink for a list of valid values. (VENDOR_ID)</messagetext>
                 <explaintext>The value 0000009999 entered in VENDOR_ID is not a valid vendor.</explaintext></messages>
               </Create__CompIntfc__PO_EXPRESSResponse>"#,
        )
        .unwrap();
        match read_create(&reply, "CI_PO_EXPRESS_C", "PO_ID").unwrap_err() {
            Failure::Rejected(m) => {
                assert!(m.contains("(VENDOR_ID)"), "{m}");
                assert!(m.contains("(15,11)"), "{m}");
                assert!(m.contains("0000009999"), "{m}");
                assert!(
                    !m.contains("Buyer has no default"),
                    "warnings are not errors: {m}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_failure_without_messages_is_still_rejected() {
        let reply = parse_str("<R><notification>0</notification></R>").unwrap();
        assert!(matches!(
            read_create(&reply, "op", "PO_ID"),
            Err(Failure::Rejected(_))
        ));
    }

    #[test]
    fn create_reply_without_notification_is_protocol() {
        let reply = parse_str("<R><PO_ID>1</PO_ID></R>").unwrap();
        assert!(matches!(
            read_create(&reply, "op", "PO_ID"),
            Err(Failure::Protocol(_))
        ));
    }

    #[test]
    fn find_collects_each_distinct_match_with_its_keys() {
        let reply = parse_str(
            r#"<Find__CompIntfc__PO_EXPRESSResponse>
                 <PO_EXPRESS><BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>0000000042</PO_ID><PO_REF>REQ-1</PO_REF></PO_EXPRESS>
                 <PO_EXPRESS><BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>0000000042</PO_ID><PO_REF>REQ-1</PO_REF></PO_EXPRESS>
                 <PO_EXPRESS><BUSINESS_UNIT>US002</BUSINESS_UNIT><PO_ID>0000000050</PO_ID><PO_REF>REQ-10</PO_REF></PO_EXPRESS>
               </Find__CompIntfc__PO_EXPRESSResponse>"#,
        )
        .unwrap();
        let rows = read_find_rows(&reply, "op", "PO_ID").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["PO_ID"], "0000000042");
        assert_eq!(rows[1]["PO_REF"], "REQ-10");
        let empty = parse_str("<Find__CompIntfc__PO_EXPRESSResponse/>").unwrap();
        assert!(read_find_rows(&empty, "op", "PO_ID").unwrap().is_empty());
    }

    #[test]
    fn find_with_error_notification_is_protocol() {
        let reply = parse_str(
            "<R><notification>0</notification><messages><type>Error</type><messagetext>Bad key</messagetext></messages></R>",
        )
        .unwrap();
        assert!(matches!(
            read_find_rows(&reply, "op", "PO_ID"),
            Err(Failure::Protocol(_))
        ));
    }
}
