//! Turns every gateway reply into either the reply's body element or a contract
//! failure: SOAP 1.1/1.2 faults with Integration Broker `IBResponse` details
//! (classified by message-set numbers and keywords, so other sites' wording
//! still maps), bare `IBResponse` documents, and HTTP statuses. The body is
//! parsed whatever the status: the gateway often answers 200 on errors.

use mlc_guest::{Failure, excerpt, fail};

use crate::xml::{self, Element};

/// What kind of call a reply answers; decides how unknown faults are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallKind {
    /// A CI Create (a write): an unrecognized fault is the record being refused.
    Create,
    /// A CI Find (a lookup): "no rows" faults mean no match.
    Find,
    /// A Query Access Services run of the named query.
    Query(String),
    /// A WSDL download of the named service.
    Wsdl(String),
}

/// The call a reply belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// Service operation called (e.g. `CI_PO_EXPRESS_C`).
    pub operation: String,
    /// The node the request was sent to.
    pub node: String,
    /// What the call does.
    pub kind: CallKind,
}

/// A readable reply.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The first element inside `Body`.
    Body(Element),
    /// A Find answered with a "no matching rows" fault.
    NoMatch,
}

impl Reply {
    /// The body element; a `NoMatch` outside a Find is unexpected.
    pub fn into_body(self, ctx: &CallContext) -> Result<Element, Failure> {
        match self {
            Reply::Body(e) => Ok(e),
            Reply::NoMatch => Err(fail::protocol(format!(
                "{}: PeopleSoft answered \"no rows\" to a call that is not a search",
                ctx.operation
            ))),
        }
    }
}

/// A SOAP fault (or bare `IBResponse`) as sent by the gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fault {
    /// `faultcode` / `Code/Value` (e.g. `SOAP-ENV:Server`).
    pub code: String,
    /// `faultstring` / `Reason/Text` (PeopleSoft sends literally `null`).
    pub string: String,
    /// `detail/IBResponse/DefaultMessage`, when present.
    pub message: Option<String>,
    /// `IBResponse/MessageParameters/Parameter` values, in order.
    pub parameters: Vec<String>,
}

impl Fault {
    /// The most informative text: the IBResponse message, else the fault string.
    pub fn text(&self) -> String {
        match &self.message {
            Some(m) if !m.trim().is_empty() => m.trim().to_string(),
            _ if !self.string.trim().is_empty() && self.string.trim() != "null" => {
                self.string.trim().to_string()
            }
            _ => format!("SOAP fault {}", self.code.trim()),
        }
    }
}

/// The message-catalog numbers `(set,number)` at the end of a PeopleSoft message.
pub fn message_numbers(text: &str) -> Option<(u32, u32)> {
    let open = text.rfind('(')?;
    let close = open + text[open..].find(')')?;
    let (set, number) = text[open + 1..close].split_once(',')?;
    Some((set.trim().parse().ok()?, number.trim().parse().ok()?))
}

/// Reads `(status, body)` of a SOAP call.
pub fn read_reply(
    status: u16,
    retry_after_secs: Option<u32>,
    body: &[u8],
    ctx: &CallContext,
) -> Result<Reply, Failure> {
    if status == 429 {
        return Err(fail::rate_limited(
            retry_after_secs,
            format!(
                "{}: PeopleSoft answered 429 Too Many Requests: {}",
                ctx.operation,
                body_excerpt(body)
            ),
        ));
    }
    let parsed = xml::parse(body);
    let root = match parsed {
        Ok(root) => root,
        Err(e) => return Err(status_failure(status, body, ctx, Some(&e.to_string()))),
    };
    if let Some(fault) = find_fault(&root) {
        let failure = classify(&fault, ctx);
        return match failure {
            Classified::NoMatch => Ok(Reply::NoMatch),
            Classified::Failure(f) => Err(refine_by_status(f, status, &fault, ctx)),
        };
    }
    if !root.is("Envelope") {
        return Err(status_failure(
            status,
            body,
            ctx,
            Some(&format!(
                "reply root is <{}>, not a SOAP Envelope",
                root.name
            )),
        ));
    }
    if !(200..300).contains(&status) {
        return Err(status_failure(status, body, ctx, None));
    }
    let first = root
        .child("Body")
        .and_then(|b| b.children.first())
        .cloned()
        .ok_or_else(|| {
            fail::protocol(format!(
                "{}: SOAP reply has an empty Body: {}",
                ctx.operation,
                body_excerpt(body)
            ))
        })?;
    Ok(Reply::Body(first))
}

/// Reads `(status, body)` of a WSDL download: the WSDL bytes, or a failure.
/// `retry_after_secs` is the reply's Retry-After, kept on a 429 so the host
/// waits as long as the gateway asked.
pub fn read_wsdl_reply<'a>(
    status: u16,
    retry_after_secs: Option<u32>,
    body: &'a [u8],
    ctx: &CallContext,
) -> Result<&'a [u8], Failure> {
    if (200..300).contains(&status) {
        // An IBResponse error document served with 200 instead of a WSDL.
        if let Ok(root) = xml::parse(body)
            && let Some(fault) = find_fault(&root)
        {
            return Err(match classify(&fault, ctx) {
                Classified::Failure(f) => f,
                Classified::NoMatch => protocol_for(&fault, ctx),
            });
        }
        return Ok(body);
    }
    if status == 429 {
        return Err(fail::rate_limited(
            retry_after_secs,
            format!("{}: 429 Too Many Requests", ctx.operation),
        ));
    }
    let fault = xml::parse(body).ok().and_then(|root| find_fault(&root));
    if status == 404 {
        // The gateway answers 404 (with an IBResponse numbered like a contact
        // error) for a service it does not publish: a setup step, not a retry.
        let service = match &ctx.kind {
            CallKind::Wsdl(s) => s.as_str(),
            _ => ctx.operation.as_str(),
        };
        let said = fault
            .map(|f| format!(" [{}]", f.text()))
            .unwrap_or_default();
        return Err(fail::not_enabled(format!(
            "service {service} has no published WSDL on node {node} (HTTP 404): activate and publish its service operations in Integration Broker, and check that {node} is the database's default local node{said}",
            node = ctx.node
        )));
    }
    if let Some(fault) = fault
        && let Classified::Failure(f) = classify(&fault, ctx)
    {
        return Err(refine_by_status(f, status, &fault, ctx));
    }
    Err(status_failure(status, body, ctx, None))
}

enum Classified {
    Failure(Failure),
    NoMatch,
}

/// Finds a SOAP Fault (1.1 or 1.2) or a bare IBResponse in a parsed reply.
pub fn find_fault(root: &Element) -> Option<Fault> {
    if root.is("IBResponse") {
        return Some(ib_fault(root, String::new(), String::new()));
    }
    if !root.is("Envelope") {
        return None;
    }
    let fault = root.child("Body")?.child("Fault")?;
    // SOAP 1.1: faultcode/faultstring/detail. SOAP 1.2: Code/Value, Reason/Text, Detail.
    let code = fault
        .child_text("faultcode")
        .map(str::to_string)
        .or_else(|| {
            fault
                .child("Code")
                .and_then(|c| c.child_text("Value"))
                .map(str::to_string)
        })
        .unwrap_or_default();
    let string = fault
        .child_text("faultstring")
        .map(str::to_string)
        .or_else(|| {
            fault
                .child("Reason")
                .and_then(|r| r.child_text("Text"))
                .map(str::to_string)
        })
        .unwrap_or_default();
    let detail = fault.child("detail").or_else(|| fault.child("Detail"));
    match detail.and_then(|d| d.find("IBResponse")) {
        Some(ib) => Some(ib_fault(ib, code, string)),
        None => Some(Fault {
            code,
            string,
            message: detail.map(collect_text).filter(|t| !t.trim().is_empty()),
            parameters: Vec::new(),
        }),
    }
}

fn ib_fault(ib: &Element, code: String, string: String) -> Fault {
    Fault {
        code,
        string,
        message: ib
            .child_text("DefaultMessage")
            .map(|m| m.trim().to_string()),
        parameters: ib
            .child("MessageParameters")
            .map(|p| {
                p.children_named("Parameter")
                    .map(|e| e.text.trim().to_string())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn collect_text(e: &Element) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for d in e.descendants() {
        let t = d.text.trim();
        if !t.is_empty() {
            parts.push(t);
        }
    }
    parts.join(" ")
}

/// The token following `marker` in `text` (letters, digits, `_`), if any.
fn token_after(text: &str, marker: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find(&marker.to_ascii_lowercase())? + marker.len();
    let token: String = text[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    (!token.is_empty()).then_some(token)
}

/// The user named by "User {USER} not authorized ...".
fn user_before_not_authorized(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let end = lower.find(" not authorized")?;
    let start = lower[..end].rfind("user ")? + "user ".len();
    let user = text[start..end].trim();
    (!user.is_empty() && !user.contains(' ')).then(|| user.to_string())
}

fn classify(fault: &Fault, ctx: &CallContext) -> Classified {
    let text = fault.text();
    let lower = text.to_ascii_lowercase();
    let numbers = message_numbers(&text);
    let is = |set: u32, number: u32| numbers == Some((set, number));
    let op = token_after(&text, "service operation ").unwrap_or_else(|| ctx.operation.clone());

    if is(158, 45)
        || is(158, 55)
        || lower.contains("password failed")
        || lower.contains("not defined in database")
        || lower.contains("invalid user")
        || lower.contains("authentication failed")
        || lower.contains("invalid token")
        || lower.contains("token expired")
    {
        return Classified::Failure(fail::unauthorized(format!(
            "PeopleSoft refused the credentials of this connection: {text}"
        )));
    }
    if is(158, 536) || lower.contains("not authorized to invoke") {
        let user = user_before_not_authorized(&text)
            .or_else(|| fault.parameters.first().cloned())
            .unwrap_or_else(|| "the integration".to_string());
        return Classified::Failure(fail::not_enabled(format!(
            "grant service operation {op} to user {user}'s permission list in PeopleSoft (PeopleTools > Security > Permission Lists > Web Services) [{text}]"
        )));
    }
    if is(158, 10508) || (lower.contains("inactive") && lower.contains("operation")) {
        return Classified::Failure(fail::not_enabled(format!(
            "activate service operation {op} (and its any-to-local routing) in Integration Broker [{text}]"
        )));
    }
    if is(158, 10509) || lower.contains("no routing") || lower.contains("routing not found") {
        let node = token_after(&text, "to node ").unwrap_or_else(|| ctx.node.clone());
        return Classified::Failure(fail::not_enabled(format!(
            "create/activate an any-to-local routing for {op} on node {node} [{text}]"
        )));
    }
    if is(158, 10623) || lower.contains("node definition") {
        return Classified::Failure(fail::config(format!(
            "the gateway does not know node {}: check connection.config.node (the database's default local node) [{text}]",
            ctx.node
        )));
    }
    if is(158, 10721)
        || lower.contains("external system contact error")
        || lower.contains("gateway timeout")
        || lower.contains("timed out")
    {
        return Classified::Failure(fail::transient(format!(
            "{}: PeopleSoft gateway could not reach the application server: {text}",
            ctx.operation
        )));
    }
    if is(159, 5) || lower.contains("xml parser error") {
        return Classified::Failure(fail::protocol(format!(
            "{}: PeopleSoft could not parse the request: {text}",
            ctx.operation
        )));
    }
    match &ctx.kind {
        CallKind::Find
            if lower.contains("no rows")
                || lower.contains("no matching")
                || lower.contains("no data found") =>
        {
            Classified::NoMatch
        }
        CallKind::Query(query)
            if lower.contains(&query.to_ascii_lowercase()) || lower.contains("query") =>
        {
            Classified::Failure(fail::not_enabled(format!(
                "PeopleSoft refused query {query}: create it as a public query with its prompt and grant the integration user's permission list query access to its records [{text}]"
            )))
        }
        // CI business rules (unknown vendor, invalid ChartField) can come back as faults.
        CallKind::Create => Classified::Failure(fail::rejected(format!(
            "{}: PeopleSoft refused the record: {text}",
            ctx.operation
        ))),
        _ => Classified::Failure(protocol_for(fault, ctx)),
    }
}

fn protocol_for(fault: &Fault, ctx: &CallContext) -> Failure {
    fail::protocol(format!(
        "{}: unexpected PeopleSoft fault: {}",
        ctx.operation,
        excerpt(&fault.text(), 300)
    ))
}

/// HTTP 401/403 means the credentials were refused even when the fault text
/// is one this connector does not know.
fn refine_by_status(failure: Failure, status: u16, fault: &Fault, ctx: &CallContext) -> Failure {
    let known = matches!(failure, Failure::Unauthorized(_) | Failure::NotEnabled(_));
    if (status == 401 || status == 403) && !known {
        return fail::unauthorized(format!(
            "{}: PeopleSoft answered HTTP {status}: {}",
            ctx.operation,
            excerpt(&fault.text(), 300)
        ));
    }
    failure
}

/// A reply without a usable SOAP answer, classified by HTTP status.
fn status_failure(status: u16, body: &[u8], ctx: &CallContext, why: Option<&str>) -> Failure {
    let op = &ctx.operation;
    let shown = body_excerpt(body);
    match status {
        401 | 403 => fail::unauthorized(format!(
            "{op}: PeopleSoft refused the credentials (HTTP {status}): {shown}"
        )),
        404 => fail::config(format!(
            "{op}: no PeopleSoft listener answered (HTTP 404): check connection.base_url and node {}",
            ctx.node
        )),
        408 | 502 | 503 | 504 => fail::transient(format!("{op}: HTTP {status}: {shown}")),
        500..=599 => fail::transient(format!("{op}: HTTP {status} without a SOAP fault: {shown}")),
        _ => match why {
            Some(why) => fail::protocol(format!(
                "{op}: unreadable reply (HTTP {status}, {why}): {shown}"
            )),
            None => fail::protocol(format!("{op}: unexpected HTTP {status}: {shown}")),
        },
    }
}

fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(1024)]);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    excerpt(&flat, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(kind: CallKind) -> CallContext {
        CallContext {
            operation: "CI_PO_EXPRESS_C".into(),
            node: "PSFT_EP".into(),
            kind,
        }
    }

    /// The IBResponse fault exactly as the reference shows it, with `message`.
    fn ib_fault_xml(message: &str) -> String {
        format!(
            r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>
 <SOAP-ENV:Fault><faultcode>SOAP-ENV:Server</faultcode><faultstring>null</faultstring>
  <detail><IBResponse type="error"><DefaultTitle>Integration Broker Response</DefaultTitle>
   <StatusCode>20</StatusCode><MessageID>45</MessageID>
   <DefaultMessage><![CDATA[{message}]]></DefaultMessage>
   <MessageParameters><Parameter><![CDATA[ANONYMOUS]]></Parameter></MessageParameters>
  </IBResponse></detail></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#
        )
    }

    fn failure_of(message: &str, kind: CallKind) -> Failure {
        match read_reply(200, None, ib_fault_xml(message).as_bytes(), &ctx(kind)) {
            Err(f) => f,
            Ok(r) => panic!("expected a failure for {message:?}, got {r:?}"),
        }
    }

    #[test]
    fn password_failure_is_unauthorized() {
        let f = failure_of("User password failed. (158,45)", CallKind::Create);
        assert!(
            matches!(&f, Failure::Unauthorized(m) if m.contains("User password failed")),
            "{f:?}"
        );
    }

    #[test]
    fn unknown_user_is_unauthorized() {
        let f = failure_of("UserName not defined in database. (158,55)", CallKind::Find);
        assert!(matches!(f, Failure::Unauthorized(_)), "{f:?}");
    }

    #[test]
    fn operation_permission_fault_asks_to_grant_it_to_the_user() {
        let f = failure_of(
            "User MLC_INT not authorized to invoke Service Operation CI_PO_EXPRESS_C. (158,536)",
            CallKind::Create,
        );
        match f {
            Failure::NotEnabled(m) => assert!(
                m.starts_with("grant service operation CI_PO_EXPRESS_C to user MLC_INT's permission list in PeopleSoft (PeopleTools > Security > Permission Lists > Web Services)"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn inactive_operation_asks_to_activate_it() {
        let f = failure_of(
            "Service Operation CI_VNDR_ID_C is inactive. (158,10508)",
            CallKind::Create,
        );
        match f {
            Failure::NotEnabled(m) => assert!(
                m.starts_with("activate service operation CI_VNDR_ID_C (and its any-to-local routing) in Integration Broker"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_routing_asks_for_an_any_to_local_routing_on_the_node() {
        let f = failure_of(
            "No routing found for Service Operation QAS_EXECUTEQRYSYNC_OPER to node PSFT_HR. (158,10509)",
            CallKind::Query("MLC_ACCOUNTS".into()),
        );
        match f {
            Failure::NotEnabled(m) => assert!(
                m.starts_with("create/activate an any-to-local routing for QAS_EXECUTEQRYSYNC_OPER on node PSFT_HR"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gateway_contact_error_is_transient() {
        let f = failure_of(
            "Integration Gateway - External System Contact Error (158,10721)",
            CallKind::Create,
        );
        assert!(matches!(f, Failure::Transient(_)), "{f:?}");
    }

    #[test]
    fn xml_parser_error_is_protocol() {
        let f = failure_of(
            "XML parser error: unexpected end of input. (159,5)",
            CallKind::Create,
        );
        assert!(matches!(f, Failure::Protocol(_)), "{f:?}");
    }

    #[test]
    fn other_sites_wording_maps_by_message_numbers() {
        let f = failure_of(
            "Mot de passe utilisateur incorrect. (158,45)",
            CallKind::Create,
        );
        assert!(matches!(f, Failure::Unauthorized(_)), "{f:?}");
        let f = failure_of("Opération CI_X_C désactivée (158,10508)", CallKind::Create);
        assert!(matches!(f, Failure::NotEnabled(_)), "{f:?}");
        // And by keywords when the numbers are absent.
        let f = failure_of(
            "The service operation CI_X_F is currently inactive",
            CallKind::Find,
        );
        assert!(
            matches!(&f, Failure::NotEnabled(m) if m.contains("activate service operation CI_X_F")),
            "{f:?}"
        );
    }

    #[test]
    fn unknown_fault_on_create_rejects_the_record() {
        let f = failure_of(
            "Invalid value -- press the prompt button. VENDOR_ID (15,11)",
            CallKind::Create,
        );
        assert!(
            matches!(&f, Failure::Rejected(m) if m.contains("VENDOR_ID")),
            "{f:?}"
        );
        let f = failure_of("Something odd (1,1)", CallKind::Find);
        assert!(matches!(f, Failure::Protocol(_)), "{f:?}");
    }

    #[test]
    fn no_rows_fault_on_find_is_no_match() {
        let r = read_reply(
            500,
            None,
            ib_fault_xml("No rows exist for the specified keys. (91,50)").as_bytes(),
            &ctx(CallKind::Find),
        );
        assert!(matches!(r, Ok(Reply::NoMatch)), "{r:?}");
    }

    #[test]
    fn unknown_query_fault_asks_to_create_and_grant_the_query() {
        let f = failure_of(
            "Query MLC_VOUCHERS_SINCE does not exist or is not public.",
            CallKind::Query("MLC_VOUCHERS_SINCE".into()),
        );
        assert!(
            matches!(&f, Failure::NotEnabled(m) if m.contains("MLC_VOUCHERS_SINCE")),
            "{f:?}"
        );
    }

    #[test]
    fn http_statuses_without_fault_map_to_their_class() {
        let c = ctx(CallKind::Create);
        let r = read_reply(429, Some(7), b"slow down", &c).unwrap_err();
        assert!(
            matches!(&r, Failure::RateLimited(t) if t.retry_after_secs == Some(7)),
            "{r:?}"
        );
        let r = read_reply(401, None, b"", &c).unwrap_err();
        assert!(matches!(r, Failure::Unauthorized(_)), "{r:?}");
        let r = read_reply(503, None, b"<html>Service Unavailable</html>", &c).unwrap_err();
        assert!(matches!(r, Failure::Transient(_)), "{r:?}");
        let r = read_reply(500, None, b"boom", &c).unwrap_err();
        assert!(matches!(r, Failure::Transient(_)), "{r:?}");
        let r = read_reply(200, None, b"<html>login page</html>", &c).unwrap_err();
        assert!(
            matches!(&r, Failure::Protocol(m) if m.contains("login page")),
            "{r:?}"
        );
        let r = read_reply(200, None, b"not xml at all", &c).unwrap_err();
        assert!(
            matches!(&r, Failure::Protocol(m) if m.contains("not xml at all")),
            "{r:?}"
        );
    }

    #[test]
    fn fault_with_unknown_text_under_401_is_unauthorized() {
        let r = read_reply(
            401,
            None,
            ib_fault_xml("Bearer token rejected").as_bytes(),
            &ctx(CallKind::Find),
        )
        .unwrap_err();
        assert!(matches!(r, Failure::Unauthorized(_)), "{r:?}");
    }

    #[test]
    fn doctype_reply_is_a_protocol_error() {
        let r = read_reply(
            200,
            None,
            b"<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>",
            &ctx(CallKind::Create),
        )
        .unwrap_err();
        assert!(
            matches!(&r, Failure::Protocol(m) if m.contains("DOCTYPE")),
            "{r:?}"
        );
    }

    #[test]
    fn bare_ibresponse_and_soap12_faults_are_read() {
        let bare = r#"<IBResponse type="error"><DefaultMessage>Integration Gateway - External System Contact Error (158,10721)</DefaultMessage></IBResponse>"#;
        let r = read_reply(200, None, bare.as_bytes(), &ctx(CallKind::Create)).unwrap_err();
        assert!(matches!(r, Failure::Transient(_)), "{r:?}");
        let soap12 = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault>
            <env:Code><env:Value>env:Receiver</env:Value></env:Code><env:Reason><env:Text xml:lang="en">User password failed. (158,45)</env:Text></env:Reason>
            </env:Fault></env:Body></env:Envelope>"#;
        let r = read_reply(500, None, soap12.as_bytes(), &ctx(CallKind::Create)).unwrap_err();
        assert!(matches!(r, Failure::Unauthorized(_)), "{r:?}");
    }

    #[test]
    fn successful_reply_yields_the_body_element() {
        let ok = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header/><soapenv:Body>
            <Create__CompIntfc__PO_EXPRESSResponse xmlns="urn:m"><notification>1</notification></Create__CompIntfc__PO_EXPRESSResponse></soapenv:Body></soapenv:Envelope>"#;
        match read_reply(200, None, ok.as_bytes(), &ctx(CallKind::Create)).unwrap() {
            Reply::Body(e) => assert_eq!(e.name, "Create__CompIntfc__PO_EXPRESSResponse"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_node_is_a_config_failure() {
        let f = failure_of(
            "Integration Gateway - Unable to find a node definition for PSFT_XX: the node is not configured. (158,10623)",
            CallKind::Create,
        );
        assert!(
            matches!(&f, Failure::Config(m) if m.contains("node")),
            "{f:?}"
        );
    }

    #[test]
    fn message_numbers_are_read_from_the_end() {
        assert_eq!(
            message_numbers("User password failed. (158,45)"),
            Some((158, 45))
        );
        assert_eq!(message_numbers("a (x) b (158, 10509)"), Some((158, 10509)));
        assert_eq!(message_numbers("no numbers"), None);
    }

    #[test]
    fn wsdl_download_404_names_the_service_to_activate() {
        let c = CallContext {
            operation: "GET CI_DEPT_CF.1.wsdl".into(),
            node: "PSFT_EP".into(),
            kind: CallKind::Wsdl("CI_DEPT_CF".into()),
        };
        let f = read_wsdl_reply(404, None, b"Not Found", &c).unwrap_err();
        assert!(
            matches!(&f, Failure::NotEnabled(m) if m.contains("CI_DEPT_CF")),
            "{f:?}"
        );
        // Even when the 404 carries a gateway fault numbered like a contact error.
        let said = ib_fault_xml(
            "Integration Gateway - no published WSDL for service CI_DEPT_CF on node PSFT_EP. (158,10721)",
        );
        let f = read_wsdl_reply(404, None, said.as_bytes(), &c).unwrap_err();
        assert!(
            matches!(&f, Failure::NotEnabled(m) if m.contains("no published WSDL")),
            "{f:?}"
        );
        let f = read_wsdl_reply(
            200,
            None,
            ib_fault_xml("User password failed. (158,45)").as_bytes(),
            &c,
        )
        .unwrap_err();
        assert!(matches!(f, Failure::Unauthorized(_)), "{f:?}");
        assert!(read_wsdl_reply(200, None, b"<definitions/>", &c).is_ok());
    }

    #[test]
    fn wsdl_download_429_keeps_the_retry_after_seconds() {
        let c = CallContext {
            operation: "GET CI_VNDR_ID.1.wsdl".into(),
            node: "PSFT_EP".into(),
            kind: CallKind::Wsdl("CI_VNDR_ID".into()),
        };
        let f = read_wsdl_reply(429, Some(23), b"slow down", &c).unwrap_err();
        assert!(
            matches!(&f, Failure::RateLimited(t) if t.retry_after_secs == Some(23)),
            "{f:?}"
        );
    }
}
