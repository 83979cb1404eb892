//! WS-Security UsernameToken (PasswordText) insertion into an outgoing SOAP
//! envelope, which is what the PeopleSoft gateway checks without extra setup.
//!
//! The body is spliced, not re-serialized: everything the component wrote
//! stays byte for byte, and the `wsse:Security` block goes first in the
//! envelope's `Header` (created before `Body` when there is none).

use super::CredentialError;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// OASIS WS-Security extension namespace.
pub const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// UsernameToken profile's PasswordText type.
pub const PASSWORD_TEXT: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";

/// Where the Security block goes.
enum Splice {
    /// Right after `<prefix:Header ...>` (byte offset).
    IntoHeader(usize),
    /// Replace a self-closing `<prefix:Header/>` spanning these bytes.
    ExpandEmptyHeader(usize, usize, String),
    /// Insert a new Header right before `<prefix:Body` (byte offset).
    BeforeBody(usize, String),
}

/// Returns `envelope` with a UsernameToken for `username`/`password` in its header.
pub fn insert_username_token(
    envelope: &[u8],
    username: &str,
    password: &str,
) -> Result<Vec<u8>, CredentialError> {
    let splice = find_splice(envelope)?;
    let security = security_block(username, password);
    let mut out = Vec::with_capacity(envelope.len() + security.len() + 64);
    match splice {
        Splice::IntoHeader(at) => {
            out.extend_from_slice(&envelope[..at]);
            out.extend_from_slice(security.as_bytes());
            out.extend_from_slice(&envelope[at..]);
        }
        Splice::ExpandEmptyHeader(start, end, qname) => {
            // `<soapenv:Header/>` or `<soapenv:Header attr="x"/>`: keep its attributes.
            let tag = &envelope[start..end];
            let open = tag
                .strip_suffix(b"/>")
                .ok_or_else(|| CredentialError::Soap("malformed empty Header element".into()))?;
            out.extend_from_slice(&envelope[..start]);
            out.extend_from_slice(open);
            out.push(b'>');
            out.extend_from_slice(security.as_bytes());
            out.extend_from_slice(format!("</{qname}>").as_bytes());
            out.extend_from_slice(&envelope[end..]);
        }
        Splice::BeforeBody(at, prefix) => {
            let header = if prefix.is_empty() {
                "Header".to_string()
            } else {
                format!("{prefix}:Header")
            };
            out.extend_from_slice(&envelope[..at]);
            out.extend_from_slice(format!("<{header}>{security}</{header}>").as_bytes());
            out.extend_from_slice(&envelope[at..]);
        }
    }
    Ok(out)
}

fn security_block(username: &str, password: &str) -> String {
    format!(
        "<wsse:Security xmlns:wsse=\"{WSSE_NS}\"><wsse:UsernameToken><wsse:Username>{}</wsse:Username>\
         <wsse:Password Type=\"{PASSWORD_TEXT}\">{}</wsse:Password></wsse:UsernameToken></wsse:Security>",
        quick_xml::escape::escape(username),
        quick_xml::escape::escape(password)
    )
}

fn find_splice(envelope: &[u8]) -> Result<Splice, CredentialError> {
    let mut reader = Reader::from_reader(envelope);
    let mut depth = 0usize;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            CredentialError::Soap(format!("the SOAP body is not well-formed XML: {e}"))
        })?;
        let after = reader.buffer_position() as usize;
        match event {
            Event::DocType(_) => {
                return Err(CredentialError::Soap(
                    "the SOAP body has a DTD, which is refused".into(),
                ));
            }
            Event::Start(e) => {
                let qname = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let local = e.local_name();
                if depth == 0 && local.as_ref() != b"Envelope" {
                    return Err(CredentialError::Soap(format!(
                        "the body's root is <{qname}>, not a SOAP Envelope"
                    )));
                }
                if depth == 1 && local.as_ref() == b"Header" {
                    return Ok(Splice::IntoHeader(after));
                }
                if depth == 1 && local.as_ref() == b"Body" {
                    return Ok(Splice::BeforeBody(before, prefix_of(&qname)));
                }
                depth += 1;
            }
            Event::Empty(e) => {
                let qname = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let local = e.local_name();
                if depth == 1 && local.as_ref() == b"Header" {
                    return Ok(Splice::ExpandEmptyHeader(before, after, qname));
                }
                if depth == 1 && local.as_ref() == b"Body" {
                    return Ok(Splice::BeforeBody(before, prefix_of(&qname)));
                }
                if depth == 0 {
                    return Err(CredentialError::Soap(format!(
                        "the body's root is <{qname}/>, not a SOAP Envelope"
                    )));
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => {
                return Err(CredentialError::Soap(
                    "the SOAP envelope has neither Header nor Body".into(),
                ));
            }
            _ => {}
        }
    }
}

fn prefix_of(qname: &str) -> String {
    qname
        .split_once(':')
        .map(|(p, _)| p.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "MLC_INTEGRATION";

    fn security(pass: &str) -> String {
        security_block(USER, pass)
    }

    #[test]
    fn token_goes_into_an_existing_header_first() {
        let env = br#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header><x/></soapenv:Header><soapenv:Body><a/></soapenv:Body></soapenv:Envelope>"#;
        let out = String::from_utf8(insert_username_token(env, USER, "pw").unwrap()).unwrap();
        assert_eq!(
            out,
            format!(
                r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header>{}<x/></soapenv:Header><soapenv:Body><a/></soapenv:Body></soapenv:Envelope>"#,
                security("pw")
            )
        );
    }

    #[test]
    fn empty_header_is_expanded() {
        let env = br#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/><s:Body/></s:Envelope>"#;
        let out = String::from_utf8(insert_username_token(env, USER, "pw").unwrap()).unwrap();
        assert!(
            out.contains(&format!("<s:Header>{}</s:Header><s:Body/>", security("pw"))),
            "{out}"
        );
    }

    #[test]
    fn header_is_created_before_body_when_missing() {
        let env =
            br#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">
  <SOAP-ENV:Body><a/></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;
        let out = String::from_utf8(insert_username_token(env, USER, "pw").unwrap()).unwrap();
        assert!(out.contains(&format!(
            "<SOAP-ENV:Header>{}</SOAP-ENV:Header><SOAP-ENV:Body>",
            security("pw")
        )));
    }

    #[test]
    fn password_with_markup_is_escaped_and_parses_back() {
        let env = br#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>"#;
        let out = insert_username_token(env, "a&b", "p<w>\"&'").unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains("p&lt;w&gt;&quot;&amp;&apos;"), "{text}");
        // And a real parser reads the original value back.
        let mut reader = Reader::from_reader(out.as_slice());
        let mut in_password = false;
        let mut seen = String::new();
        loop {
            match reader.read_event().unwrap() {
                Event::Start(e) if e.local_name().as_ref() == b"Password" => in_password = true,
                Event::Text(t) if in_password => {
                    seen.push_str(&t.xml_content().unwrap());
                }
                Event::GeneralRef(r) if in_password => {
                    let name = String::from_utf8_lossy(&r).into_owned();
                    seen.push_str(match name.as_str() {
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "amp" => "&",
                        "apos" => "'",
                        other => panic!("unexpected entity {other}"),
                    });
                }
                Event::End(e) if e.local_name().as_ref() == b"Password" => break,
                Event::Eof => panic!("no Password element"),
                _ => {}
            }
        }
        assert_eq!(seen, "p<w>\"&'");
    }

    #[test]
    fn non_soap_and_dtd_bodies_are_refused() {
        assert!(insert_username_token(b"<a><b/></a>", USER, "p").is_err());
        assert!(insert_username_token(b"not xml <", USER, "p").is_err());
        let dtd =
            br#"<!DOCTYPE x [<!ENTITY a "b">]><e:Envelope xmlns:e="x"><e:Body/></e:Envelope>"#;
        assert!(insert_username_token(dtd, USER, "p").is_err());
    }
}
