//! SOAP request envelopes: the body element from the WSDL inside an envelope
//! with an always-present, empty `soapenv:Header` (where the host inserts the
//! WS-Security UsernameToken), and the HTTP headers each SOAP version needs.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};

use crate::config::SoapVersion;
use crate::xml::{OutElement, write_element};

/// SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2 envelope namespace.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";

/// The complete request document: XML declaration, `soapenv:Envelope`, an
/// empty `soapenv:Header` (written as a start/end pair) and `body` inside
/// `soapenv:Body`.
pub fn build(version: SoapVersion, body: &OutElement) -> String {
    let ns = match version {
        SoapVersion::V11 => SOAP11_NS,
        SoapVersion::V12 => SOAP12_NS,
    };
    let mut writer = Writer::new(Vec::new());
    let mut envelope = BytesStart::new("soapenv:Envelope");
    envelope.push_attribute(("xmlns:soapenv", ns));
    // Writing into a Vec cannot fail: io errors only come from the sink.
    let _ = (|| -> std::io::Result<()> {
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        writer.write_event(Event::Start(envelope))?;
        writer.write_event(Event::Start(BytesStart::new("soapenv:Header")))?;
        writer.write_event(Event::End(BytesEnd::new("soapenv:Header")))?;
        writer.write_event(Event::Start(BytesStart::new("soapenv:Body")))?;
        write_element(&mut writer, body, None)?;
        writer.write_event(Event::End(BytesEnd::new("soapenv:Body")))?;
        writer.write_event(Event::End(BytesEnd::new("soapenv:Envelope")))
    })();
    String::from_utf8_lossy(&writer.into_inner()).into_owned()
}

/// HTTP headers of a SOAP request with `soap_action` (from the WSDL).
pub fn headers(version: SoapVersion, soap_action: &str) -> Vec<(String, String)> {
    match version {
        SoapVersion::V11 => vec![
            ("Content-Type".into(), "text/xml; charset=UTF-8".into()),
            ("SOAPAction".into(), soap_action.to_string()),
        ],
        SoapVersion::V12 => vec![(
            "Content-Type".into(),
            format!(
                "application/soap+xml; charset=UTF-8; action=\"{}\"",
                soap_action.replace(['"', '\\'], "")
            ),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse_str;

    #[test]
    fn soap11_envelope_matches_golden_string() {
        let body = OutElement::new("Find__CompIntfc__PO_EXPRESS")
            .in_ns("urn:M1.V1")
            .with(OutElement::leaf("PO_REF", "REQ-1"));
        assert_eq!(
            build(SoapVersion::V11, &body),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">"#,
                r#"<soapenv:Header></soapenv:Header><soapenv:Body>"#,
                r#"<Find__CompIntfc__PO_EXPRESS xmlns="urn:M1.V1"><PO_REF>REQ-1</PO_REF></Find__CompIntfc__PO_EXPRESS>"#,
                r#"</soapenv:Body></soapenv:Envelope>"#
            )
        );
    }

    #[test]
    fn soap12_envelope_uses_its_namespace_and_action_in_content_type() {
        let xml = build(SoapVersion::V12, &OutElement::new("X"));
        assert!(xml.contains(r#"xmlns:soapenv="http://www.w3.org/2003/05/soap-envelope""#));
        assert_eq!(
            headers(SoapVersion::V12, "CI_X_C.V1"),
            vec![(
                "Content-Type".to_string(),
                "application/soap+xml; charset=UTF-8; action=\"CI_X_C.V1\"".to_string()
            )]
        );
        assert_eq!(
            headers(SoapVersion::V11, "CI_X_C.V1"),
            vec![
                (
                    "Content-Type".to_string(),
                    "text/xml; charset=UTF-8".to_string()
                ),
                ("SOAPAction".to_string(), "CI_X_C.V1".to_string())
            ]
        );
    }

    #[test]
    fn hostile_values_round_trip_through_the_envelope() {
        let names = [
            "Barnes & Noble Office <B2B>",
            "O'Brien \"Quality\" Fasteners &<>\"'",
            "Café Société Catering",
            "東京精密機器株式会社",
            "</NAME1><PO_ID>999</PO_ID>",
        ];
        for name in names {
            let body = OutElement::new("Create__CompIntfc__VNDR_ID")
                .in_ns("urn:m")
                .with(OutElement::leaf("NAME1", name));
            let xml = build(SoapVersion::V11, &body);
            let env = parse_str(&xml).unwrap();
            let body_el = env.child("Body").unwrap();
            let create = &body_el.children[0];
            assert_eq!(create.ns.as_deref(), Some("urn:m"));
            assert_eq!(create.children.len(), 1, "injection through {name:?}");
            assert_eq!(create.child_text("NAME1"), Some(name));
            assert_eq!(create.child("NAME1").unwrap().ns.as_deref(), Some("urn:m"));
        }
    }

    #[test]
    fn header_precedes_body_and_is_empty() {
        let env = parse_str(&build(SoapVersion::V11, &OutElement::new("X"))).unwrap();
        assert_eq!(env.children[0].name, "Header");
        assert!(env.children[0].children.is_empty());
        assert_eq!(env.children[1].name, "Body");
    }
}
