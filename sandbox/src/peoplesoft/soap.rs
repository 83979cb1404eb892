//! SOAP 1.1/1.2 envelopes as the PeopleSoft gateway reads and writes them:
//! picking the version and operation, the WS-Security UsernameToken, reply
//! envelopes, and IBResponse faults in the gateway's exact shape.

use http::{HeaderValue, StatusCode, header};

use super::xml::{Element, XmlWriter};
use crate::exchange::{Request, Response};

/// SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2 envelope namespace.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// OASIS WS-Security 1.0 secext namespace (`wsse`).
pub const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// The `Type` of a clear-text UsernameToken password.
pub const PASSWORD_TEXT: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";

/// The SOAP version of a request, which its reply and faults follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapVersion {
    /// SOAP 1.1 (`text/xml`, `SOAPAction` header).
    V11,
    /// SOAP 1.2 (`application/soap+xml; action=...`).
    V12,
}

impl SoapVersion {
    fn content_type(self) -> &'static str {
        match self {
            SoapVersion::V11 => "text/xml; charset=UTF-8",
            SoapVersion::V12 => "application/soap+xml; charset=UTF-8",
        }
    }

    /// The version a request's `Content-Type` announces (SOAP 1.1 when absent or other).
    pub fn from_content_type(request: &Request) -> SoapVersion {
        match request.header("content-type") {
            Some(ct)
                if ct
                    .trim()
                    .to_ascii_lowercase()
                    .starts_with("application/soap+xml") =>
            {
                SoapVersion::V12
            }
            _ => SoapVersion::V11,
        }
    }
}

/// An Integration Broker error as the gateway reports it: message set and
/// number, the full default message (ending in `(set,number)`), parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IbFault {
    /// Message set number (158 for the Integration Broker).
    pub set: u32,
    /// Message number within the set (also the `MessageID`).
    pub number: u32,
    /// `DefaultMessage` text.
    pub message: String,
    /// `MessageParameters`.
    pub params: Vec<String>,
    /// HTTP status the fault is sent with (500, as the gateway does).
    pub status: StatusCode,
    /// SOAP version of the envelope (the request's, SOAP 1.1 before it is known).
    pub version: SoapVersion,
    /// Extra response headers (e.g. `WWW-Authenticate`).
    pub headers: Vec<(header::HeaderName, String)>,
}

impl IbFault {
    /// A fault with `message` (which already carries its `(set,number)` suffix).
    pub fn new(set: u32, number: u32, message: impl Into<String>, params: Vec<String>) -> Self {
        IbFault {
            set,
            number,
            message: message.into(),
            params,
            status: StatusCode::INTERNAL_SERVER_ERROR,
            version: SoapVersion::V11,
            headers: Vec::new(),
        }
    }

    /// A message-set-158 fault whose text is `text` followed by `(158,number)`.
    pub fn ib(number: u32, text: impl AsRef<str>, params: Vec<String>) -> Self {
        IbFault::new(
            158,
            number,
            format!("{} (158,{number})", text.as_ref()),
            params,
        )
    }

    /// Sends the fault in `version`'s envelope.
    pub fn in_version(mut self, version: SoapVersion) -> Self {
        self.version = version;
        self
    }

    /// The HTTP response carrying this fault.
    pub fn into_response(self) -> Response {
        let mut w = XmlWriter::with_declaration();
        match self.version {
            SoapVersion::V11 => {
                w.open("SOAP-ENV:Envelope", &[("xmlns:SOAP-ENV", SOAP11_NS)])
                    .open("SOAP-ENV:Body", &[])
                    .open("SOAP-ENV:Fault", &[])
                    .leaf("faultcode", "SOAP-ENV:Server")
                    .leaf("faultstring", "null")
                    .open("detail", &[]);
                self.write_ib_response(&mut w);
                w.close("detail")
                    .close("SOAP-ENV:Fault")
                    .close("SOAP-ENV:Body")
                    .close("SOAP-ENV:Envelope");
            }
            SoapVersion::V12 => {
                w.open("env:Envelope", &[("xmlns:env", SOAP12_NS)])
                    .open("env:Body", &[])
                    .open("env:Fault", &[])
                    .open("env:Code", &[])
                    .leaf("env:Value", "env:Receiver")
                    .close("env:Code")
                    .open("env:Reason", &[])
                    .open("env:Text", &[("xml:lang", "en")])
                    .text("null")
                    .close("env:Text")
                    .close("env:Reason")
                    .open("env:Detail", &[]);
                self.write_ib_response(&mut w);
                w.close("env:Detail")
                    .close("env:Fault")
                    .close("env:Body")
                    .close("env:Envelope");
            }
        }
        let mut response = Response::new(self.status, self.version.content_type(), w.finish());
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                response.headers.insert(name, v);
            }
        }
        response
    }

    fn write_ib_response(&self, w: &mut XmlWriter) {
        w.open("IBResponse", &[("type", "error")])
            .leaf("DefaultTitle", "Integration Broker Response")
            .leaf("StatusCode", "20")
            .leaf("MessageID", &self.number.to_string())
            .open("DefaultMessage", &[])
            .cdata(&self.message)
            .close("DefaultMessage")
            .open("MessageParameters", &[]);
        for p in &self.params {
            w.open("Parameter", &[]).cdata(p).close("Parameter");
        }
        w.close("MessageParameters").close("IBResponse");
    }
}

/// A SOAP reply envelope around `payload` (already serialised), HTTP 200.
pub fn reply(version: SoapVersion, payload: &str) -> Response {
    let (prefix, ns) = match version {
        SoapVersion::V11 => ("soapenv", SOAP11_NS),
        SoapVersion::V12 => ("env", SOAP12_NS),
    };
    let envelope = format!("{prefix}:Envelope");
    let body = format!("{prefix}:Body");
    let mut w = XmlWriter::with_declaration();
    w.open(
        &envelope,
        &[
            (&format!("xmlns:{prefix}"), ns),
            ("xmlns:xsd", "http://www.w3.org/2001/XMLSchema"),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
        ],
    )
    .open(&body, &[])
    .raw(payload)
    .close(&body)
    .close(&envelope);
    Response::new(StatusCode::OK, version.content_type(), w.finish())
}

/// The parts of a request envelope the gateway uses.
#[derive(Debug)]
pub struct Envelope {
    /// SOAP version of the envelope.
    pub version: SoapVersion,
    /// `Header`, if present.
    pub header: Option<Element>,
    /// The single element inside `Body`.
    pub payload: Element,
}

/// Splits a parsed document into its envelope parts, checking that the
/// envelope's namespace agrees with the content type.
pub fn envelope(root: Element, announced: SoapVersion) -> Result<Envelope, IbFault> {
    let version = match root.ns.as_deref() {
        Some(SOAP11_NS) if root.local == "Envelope" => SoapVersion::V11,
        Some(SOAP12_NS) if root.local == "Envelope" => SoapVersion::V12,
        _ => {
            return Err(IbFault::new(
                159,
                5,
                format!(
                    "XML parser error: root element {{{}}}{} is not a SOAP 1.1 or 1.2 Envelope. (159,5)",
                    root.ns.as_deref().unwrap_or(""),
                    root.local
                ),
                vec![root.local.clone()],
            )
            .in_version(announced));
        }
    };
    if version != announced {
        let (envelope_is, content_type_is) = match version {
            SoapVersion::V11 => ("SOAP 1.1", "SOAP 1.2 (application/soap+xml)"),
            SoapVersion::V12 => ("SOAP 1.2", "SOAP 1.1 (text/xml)"),
        };
        return Err(IbFault::ib(
            10720,
            format!(
                "Integration Gateway - SOAP version mismatch: the envelope is {envelope_is} but the Content-Type announces {content_type_is}."
            ),
            vec![],
        )
        .in_version(announced));
    }
    let mut header = None;
    let mut body = None;
    for child in root.children {
        if child.ns == root.ns && child.local == "Header" {
            header = Some(child);
        } else if child.ns == root.ns && child.local == "Body" {
            body = Some(child);
        }
    }
    let body = body.ok_or_else(|| {
        IbFault::new(
            159,
            5,
            "XML parser error: the SOAP Envelope has no Body. (159,5)",
            vec![],
        )
        .in_version(version)
    })?;
    let mut elements = body.children.into_iter();
    let payload = match (elements.next(), elements.next()) {
        (Some(payload), None) => payload,
        (None, _) => {
            return Err(IbFault::new(
                159,
                5,
                "XML parser error: the SOAP Body is empty; it must hold the request message. (159,5)",
                vec![],
            )
            .in_version(version));
        }
        (Some(_), Some(_)) => {
            return Err(IbFault::new(
                159,
                5,
                "XML parser error: the SOAP Body holds more than one element; send one request message. (159,5)",
                vec![],
            )
            .in_version(version));
        }
    };
    Ok(Envelope {
        version,
        header,
        payload,
    })
}

/// The operation a request names: `SOAPAction` (SOAP 1.1) or the content
/// type's `action` parameter (SOAP 1.2), without quotes; `None` when absent or empty.
pub fn action(request: &Request, version: SoapVersion) -> Option<String> {
    let raw = match version {
        SoapVersion::V11 => request.header("soapaction").map(str::to_owned),
        SoapVersion::V12 => request.header("content-type").and_then(|ct| {
            ct.split(';').skip(1).find_map(|param| {
                let (key, value) = param.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("action")
                    .then(|| value.trim().to_owned())
            })
        }),
    }?;
    let action = raw.trim().trim_matches('"').trim().to_owned();
    (!action.is_empty()).then_some(action)
}

/// A WS-Security UsernameToken from the SOAP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernameToken {
    /// `wsse:Username`.
    pub username: String,
    /// `wsse:Password`.
    pub password: String,
    /// `true` when the password `Type` is PasswordText (or not given).
    pub is_text: bool,
}

/// The UsernameToken in `header/wsse:Security`, if any (OASIS namespace only).
pub fn username_token(header: Option<&Element>) -> Option<UsernameToken> {
    let security = header?
        .children
        .iter()
        .find(|c| c.is(WSSE_NS, "Security"))?;
    let token = security
        .children
        .iter()
        .find(|c| c.is(WSSE_NS, "UsernameToken"))?;
    let username = token.children.iter().find(|c| c.is(WSSE_NS, "Username"))?;
    let password = token.children.iter().find(|c| c.is(WSSE_NS, "Password"));
    Some(UsernameToken {
        username: username.text.trim().to_owned(),
        password: password.map(|p| p.text.clone()).unwrap_or_default(),
        is_text: password
            .and_then(|p| p.attr("Type"))
            .is_none_or(|t| t == PASSWORD_TEXT),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peoplesoft::xml::parse;
    use bytes::Bytes;
    use http::{HeaderMap, Method};

    fn request(headers: &[(&'static str, &str)]) -> Request {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        Request {
            method: Method::POST,
            path: "/".into(),
            query: vec![],
            headers: map,
            body: Bytes::new(),
            origin: "http://x".into(),
        }
    }

    #[test]
    fn fault_has_the_gateway_shape() {
        let response = IbFault::ib(45, "User password failed.", vec!["MLC".into()]).into_response();
        assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
        let root = parse(&response.body).unwrap();
        let fault = root.child("Body").unwrap().child("Fault").unwrap();
        assert_eq!(fault.child_text("faultstring"), Some("null"));
        assert_eq!(fault.child_text("faultcode"), Some("SOAP-ENV:Server"));
        let ib = fault.child("detail").unwrap().child("IBResponse").unwrap();
        assert_eq!(ib.attr("type"), Some("error"));
        assert_eq!(ib.child_text("MessageID"), Some("45"));
        assert_eq!(
            ib.child_text("DefaultMessage"),
            Some("User password failed. (158,45)")
        );
        assert_eq!(
            ib.child("MessageParameters")
                .unwrap()
                .child_text("Parameter"),
            Some("MLC")
        );
    }

    #[test]
    fn action_comes_from_soapaction_or_the_soap12_content_type() {
        let r = request(&[("soapaction", "\"CI_PO_EXPRESS_C.V1\"")]);
        assert_eq!(
            action(&r, SoapVersion::V11).as_deref(),
            Some("CI_PO_EXPRESS_C.V1")
        );
        let r = request(&[("soapaction", "\"\"")]);
        assert_eq!(action(&r, SoapVersion::V11), None);
        let r = request(&[(
            "content-type",
            "application/soap+xml; charset=UTF-8; action=\"CI_VNDR_ID_F.V1\"",
        )]);
        assert_eq!(SoapVersion::from_content_type(&r), SoapVersion::V12);
        assert_eq!(
            action(&r, SoapVersion::V12).as_deref(),
            Some("CI_VNDR_ID_F.V1")
        );
    }

    #[test]
    fn envelope_version_must_match_content_type() {
        let doc = parse(
            format!("<e:Envelope xmlns:e=\"{SOAP11_NS}\"><e:Body><x/></e:Body></e:Envelope>")
                .as_bytes(),
        )
        .unwrap();
        assert!(envelope(doc.clone(), SoapVersion::V11).is_ok());
        let err = envelope(doc, SoapVersion::V12).unwrap_err();
        assert!(
            err.message.contains("SOAP version mismatch"),
            "{}",
            err.message
        );
    }

    #[test]
    fn username_token_needs_the_oasis_namespace() {
        let doc = format!(
            "<h><s:Security xmlns:s=\"{WSSE_NS}\"><s:UsernameToken><s:Username>U</s:Username><s:Password Type=\"{PASSWORD_TEXT}\">p&amp;w</s:Password></s:UsernameToken></s:Security></h>"
        );
        let token = username_token(Some(&parse(doc.as_bytes()).unwrap())).unwrap();
        assert_eq!(
            (
                token.username.as_str(),
                token.password.as_str(),
                token.is_text
            ),
            ("U", "p&w", true)
        );
        let old = doc.replace(WSSE_NS, "http://schemas.xmlsoap.org/ws/2002/07/secext");
        assert_eq!(username_token(Some(&parse(old.as_bytes()).unwrap())), None);
    }
}
