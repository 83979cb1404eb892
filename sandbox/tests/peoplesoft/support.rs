//! Helpers shared by the PeopleSoft tests: a minimal HTTP client over
//! loopback, SOAP envelope builders and reply accessors.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use mlc_sandbox::peoplesoft::xml::{self, Element};
use mlc_sandbox::peoplesoft::{
    DEMO_PASSWORD, DEMO_USER, PASSWORD_TEXT, PeopleSoftConfig, PeopleSoftSandbox, SOAP11_NS,
    WSSE_NS,
};
use tokio::net::TcpStream;

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The body parsed as XML (panics with the body when it is not).
    pub fn xml(&self) -> Element {
        xml::parse(self.body.as_bytes())
            .unwrap_or_else(|e| panic!("reply is not XML ({e}): {}", self.body))
    }

    /// The element inside the SOAP Body.
    pub fn payload(&self) -> Element {
        let root = self.xml();
        root.child("Body")
            .and_then(|b| b.first_child())
            .cloned()
            .unwrap_or_else(|| panic!("no SOAP body payload: {}", self.body))
    }

    /// `DefaultMessage` of an IBResponse fault (panics when the reply is not one).
    pub fn fault_message(&self) -> String {
        let root = self.xml();
        let ib = root
            .descendants("IBResponse")
            .first()
            .copied()
            .cloned()
            .unwrap_or_else(|| panic!("not an IBResponse fault ({}): {}", self.status, self.body));
        ib.child_text("DefaultMessage")
            .unwrap_or_default()
            .to_owned()
    }

    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request on a fresh connection.
pub async fn send(
    base_url: &str,
    method: Method,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    let authority = base_url.trim_start_matches("http://").to_owned();
    let stream = TcpStream::connect(&authority)
        .await
        .expect("connect to sandbox");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP handshake");
    tokio::spawn(connection);
    let mut builder = Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", authority.as_str());
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request = builder.body(Full::new(body.into())).expect("valid request");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).expect("UTF-8 body"),
    }
}

/// GET `path_and_query` on the sandbox.
pub async fn get(site: &PeopleSoftSandbox, path_and_query: &str) -> Reply {
    send(
        &site.base_url(),
        Method::GET,
        path_and_query,
        &[],
        Bytes::new(),
    )
    .await
}

/// The path part of the site's listener URL.
pub fn listener_path(site: &PeopleSoftSandbox) -> String {
    site.listener_url()
        .trim_start_matches(&site.base_url())
        .to_owned()
}

/// A `wsse:Security` header with a PasswordText UsernameToken.
pub fn wsse_header(user: &str, password: &str) -> String {
    let mut out = String::new();
    xml_escape_into(&mut out, password);
    format!(
        "<soapenv:Header><wsse:Security xmlns:wsse=\"{WSSE_NS}\" soapenv:mustUnderstand=\"1\"><wsse:UsernameToken><wsse:Username>{user}</wsse:Username><wsse:Password Type=\"{PASSWORD_TEXT}\">{out}</wsse:Password></wsse:UsernameToken></wsse:Security></soapenv:Header>"
    )
}

/// Escapes text for element content.
pub fn xml_escape_into(out: &mut String, text: &str) {
    xml::escape_text_into(out, text);
}

/// Escapes text for element content.
pub fn esc(text: &str) -> String {
    let mut out = String::new();
    xml::escape_text_into(&mut out, text);
    out
}

/// A SOAP 1.1 envelope.
pub fn envelope(header: &str, payload: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"{SOAP11_NS}\">{header}<soapenv:Body>{payload}</soapenv:Body></soapenv:Envelope>"
    )
}

/// POSTs a SOAP 1.1 call of `operation` with extra HTTP headers.
pub async fn call_with(
    site: &PeopleSoftSandbox,
    operation: &str,
    header: &str,
    payload: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let action = format!("\"{operation}.V1\"");
    let mut headers = vec![
        ("content-type", "text/xml; charset=UTF-8"),
        ("soapaction", action.as_str()),
    ];
    headers.extend_from_slice(extra);
    send(
        &site.base_url(),
        Method::POST,
        &listener_path(site),
        &headers,
        envelope(header, payload),
    )
    .await
}

/// POSTs a SOAP 1.1 call as the demo user (WS-Security).
pub async fn call(site: &PeopleSoftSandbox, operation: &str, payload: &str) -> Reply {
    call_with(
        site,
        operation,
        &wsse_header(DEMO_USER, DEMO_PASSWORD),
        payload,
        &[],
    )
    .await
}

/// `<{root} xmlns="{namespace of operation}">{inner}</{root}>`.
pub fn message(site: &PeopleSoftSandbox, operation: &str, root: &str, inner: &str) -> String {
    let ns = site.namespace_of(operation).expect("known operation");
    format!("<{root} xmlns=\"{ns}\">{inner}</{root}>")
}

/// The demo site on loopback.
pub async fn demo_site() -> PeopleSoftSandbox {
    site_with(PeopleSoftConfig::default()).await
}

/// A site with `config` on loopback.
pub async fn site_with(config: PeopleSoftConfig) -> PeopleSoftSandbox {
    PeopleSoftSandbox::start(config)
        .await
        .expect("sandbox starts")
}

/// One distribution line.
pub fn distrib(num: u32, qty: &str, account: &str, deptid: &str) -> String {
    format!(
        "<PO_LINE_DISTRIB><DISTRIB_LINE_NUM>{num}</DISTRIB_LINE_NUM><QTY_PO>{qty}</QTY_PO><BUSINESS_UNIT_GL>US001</BUSINESS_UNIT_GL><ACCOUNT>{account}</ACCOUNT><DEPTID>{deptid}</DEPTID></PO_LINE_DISTRIB>"
    )
}

/// One PO line with one schedule holding `distribs`.
pub fn line(nbr: u32, descr: &str, qty: &str, price: &str, distribs: &str) -> String {
    format!(
        "<PO_LINE><LINE_NBR>{nbr}</LINE_NBR><DESCR254_MIXED>{}</DESCR254_MIXED><UNIT_OF_MEASURE>EA</UNIT_OF_MEASURE><CATEGORY_ID>OFFICE</CATEGORY_ID><PO_LINE_SHIP><SCHED_NBR>1</SCHED_NBR><QTY_PO>{qty}</QTY_PO><PRICE_PO>{price}</PRICE_PO><DUE_DT>2026-12-01</DUE_DT><SHIPTO_ID>MAIN</SHIPTO_ID>{distribs}</PO_LINE_SHIP></PO_LINE>",
        esc(descr)
    )
}

/// A simple valid line: quantity 2 at 10.00 on account 610000 / dept 10100.
pub fn simple_line(nbr: u32) -> String {
    line(
        nbr,
        "Printer paper",
        "2",
        "10.00",
        &distrib(1, "2", "610000", "10100"),
    )
}

/// A PO header (`PO_ID` NEXT) for `vendor` with `po_ref`, followed by `lines`.
pub fn po_body(vendor: &str, po_ref: &str, lines: &str) -> String {
    format!(
        "<BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>NEXT</PO_ID><VENDOR_SETID>SHARE</VENDOR_SETID><VENDOR_ID>{vendor}</VENDOR_ID><PO_DT>2026-11-02</PO_DT><BUYER_ID>MLC_BUYER</BUYER_ID><CURRENCY_CD>USD</CURRENCY_CD><PO_REF>{}</PO_REF>{lines}",
        esc(po_ref)
    )
}

/// Calls `CI_PO_EXPRESS_C` with `inner` as the request's content.
pub async fn create_po(site: &PeopleSoftSandbox, inner: &str) -> Reply {
    let payload = message(
        site,
        "CI_PO_EXPRESS_C",
        "Create__CompIntfc__PO_EXPRESS",
        inner,
    );
    call(site, "CI_PO_EXPRESS_C", &payload).await
}

/// The `messagetext`s of a `notification` 0 reply (panics on success).
pub fn error_texts(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let payload = reply.payload();
    assert_eq!(
        payload.child_text("notification"),
        Some("0"),
        "expected a refusal: {}",
        reply.body
    );
    payload
        .children_named("messages")
        .map(|m| {
            assert_eq!(m.child_text("type"), Some("Error"));
            m.child_text("messagetext").unwrap_or_default().to_owned()
        })
        .collect()
}

/// A QAS request body for `query` with prompt BIND1 and `max_row`.
pub fn qas_request(
    site: &PeopleSoftSandbox,
    query: &str,
    owner: &str,
    bind1: &str,
    max_row: u32,
) -> String {
    let msg_ns = site
        .namespace_of("QAS_EXECUTEQRYSYNC_OPER")
        .expect("QAS defined");
    let part_ns = site.qas_request_part_namespace();
    format!(
        "<QAS_EXEQRY_SYNC_REQ_MSG xmlns=\"{msg_ns}\"><QAS_EXEQRY_SYNC_REQ xmlns=\"{part_ns}\"><QueryName>{query}</QueryName><isConnectedQuery>N</isConnectedQuery><OwnerType>{owner}</OwnerType><BlockSizeKB>0</BlockSizeKB><MaxRow>{max_row}</MaxRow><OutResultType>XMLP</OutResultType><OutResultFormat>NONFILE</OutResultFormat><Prompts><PROMPT><UniquePromptName>BIND1</UniquePromptName><FieldValue>{bind1}</FieldValue></PROMPT></Prompts></QAS_EXEQRY_SYNC_REQ></QAS_EXEQRY_SYNC_REQ_MSG>"
    )
}

/// Runs a public query as the demo user and returns the `query` element.
pub async fn run_query(
    site: &PeopleSoftSandbox,
    query: &str,
    bind1: &str,
    max_row: u32,
) -> Element {
    let reply = call(
        site,
        "QAS_EXECUTEQRYSYNC_OPER",
        &qas_request(site, query, "PUBLIC", bind1, max_row),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let payload = reply.payload();
    payload
        .child("QAS_QUERYRESULTS_XMLP_RESP")
        .and_then(|r| r.child("query"))
        .cloned()
        .unwrap_or_else(|| panic!("no query element: {}", reply.body))
}
