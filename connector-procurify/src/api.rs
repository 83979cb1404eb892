//! Procurify's REST conventions: URLs and headers, the `{metadata, data}`
//! envelopes and page-number paging, and the classification of every HTTP
//! outcome into the contract's failure cases (DRF error bodies included).

use mlc_guest::http::{Request, Response, encode_component};
use mlc_guest::{Failure, fail};
use serde_json::Value;

/// Characters of a remote body quoted in an error message.
pub const EXCERPT_CHARS: usize = 200;

/// Builds `base + path + ?query` with every query component percent-encoded.
/// `path` must carry Procurify's trailing slash (`/api/v3/vendors/`).
pub fn url(base_url: &str, path: &str, query: &[(&str, String)]) -> String {
    let mut out = format!("{base_url}{path}");
    for (i, (k, v)) in query.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(&encode_component(k));
        out.push('=');
        out.push_str(&encode_component(v));
    }
    out
}

/// A request with the headers every Procurify call carries (the host adds
/// `Authorization`); a JSON body when `body` is given.
pub fn request(method: &str, url: String, body: Option<&Value>) -> Request {
    let req = Request::new(method, url)
        .header("Accept", "application/json")
        .header("X-Procurify-Client", "api");
    match body {
        Some(b) => req
            .header("Content-Type", "application/json")
            .body(b.to_string().into_bytes()),
        None => req,
    }
}

/// One page of a list endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// The records, unparsed.
    pub data: Vec<Value>,
    /// `metadata.pagination.next`: the next page's URL, `None` on the last page.
    pub next: Option<String>,
    /// `metadata.pagination.count`, when given.
    pub count: Option<u64>,
}

/// Parses a list envelope `{"metadata":{"pagination":{…,"next"}},"data":[…]}`.
/// The error text (for a `protocol` failure) says what was missing.
pub fn parse_list(body: &[u8]) -> Result<ListPage, String> {
    let mut value: Value = parse_json(body)?;
    let pagination = value
        .get("metadata")
        .and_then(|m| m.get("pagination"))
        .ok_or_else(|| {
            format!(
                "no `metadata.pagination` in the reply: {}",
                excerpt_bytes(body)
            )
        })?;
    let next = match pagination.get("next") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(format!(
                "`metadata.pagination.next` should be a URL or null, got {other}"
            ));
        }
    };
    let count = pagination.get("count").and_then(Value::as_u64);
    // Moved out, not cloned: pages can hold a thousand records.
    let data = match value.get_mut("data").map(Value::take) {
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(format!(
                "`data` should be a list, got {}: {}",
                crate::decimal::kind(&other),
                excerpt_bytes(body)
            ));
        }
        None => {
            return Err(format!(
                "no `data` list in the reply: {}",
                excerpt_bytes(body)
            ));
        }
    };
    Ok(ListPage { data, next, count })
}

/// Parses a single-object reply: `{"metadata":…,"data":{…}}`, or a bare
/// object when the endpoint answers without the envelope.
pub fn parse_single(body: &[u8]) -> Result<Value, String> {
    let value = parse_json(body)?;
    match value {
        Value::Object(ref map) => match map.get("data") {
            Some(data @ Value::Object(_)) => Ok(data.clone()),
            Some(other) => Err(format!(
                "`data` should be an object, got {}: {}",
                crate::decimal::kind(other),
                excerpt_bytes(body)
            )),
            None => Ok(value),
        },
        other => Err(format!(
            "expected a JSON object, got {}: {}",
            crate::decimal::kind(&other),
            excerpt_bytes(body)
        )),
    }
}

fn parse_json(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body)
        .map_err(|e| format!("reply is not JSON ({e}): {}", excerpt_bytes(body)))
}

/// A short, printable excerpt of a body.
pub fn excerpt_bytes(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty body)".to_string();
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(EXCERPT_CHARS * 4)]);
    format!("{:?}", mlc_guest::excerpt(&text, EXCERPT_CHARS))
}

/// The `page` number a `next` URL asks for, if it names one.
pub fn page_of(next: &str) -> Option<u32> {
    let query = next.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "page")
        .and_then(|(_, v)| v.parse().ok())
}

/// The page to read after `current`, given the reply's `next` URL: its
/// `page` parameter when it moves forward, else `current + 1`.
pub fn next_page(current: u32, next: &str) -> u32 {
    page_of(next)
        .filter(|p| *p > current)
        .unwrap_or(current.saturating_add(1))
}

/// Pages a single lookup or reference load follows at most: a server that
/// keeps answering `next` must not hold a call forever.
pub const MAX_PAGES: u32 = 10_000;

/// What a 404 means for the call that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A list endpoint: a 404 means the endpoint is missing here (wrong base
    /// URL or an API not enabled on this tenant), a configuration problem.
    List,
    /// A referenced object (by id): a 404 means that object does not exist,
    /// so this record cannot be written.
    Object,
}

/// True for DRF's "Invalid page." 404, which a list gives when records
/// vanished between two page reads: the pass simply ended early.
pub fn is_invalid_page(response: &Response) -> bool {
    response.status == 404
        && serde_json::from_slice::<Value>(&response.body)
            .ok()
            .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned))
            .is_some_and(|d| d.to_ascii_lowercase().contains("invalid page"))
}

/// The failure for a non-2xx reply. `what` names the stage and thing
/// (`read vendors: page 3: GET /api/v3/vendors/`); `permission` names what the
/// API user must be allowed to do, for the 403 to-do.
pub fn classify(what: &str, permission: &str, subject: Subject, response: &Response) -> Failure {
    let status = response.status;
    let detail = error_detail(&response.body);
    match status {
        401 => fail::unauthorized(format!(
            "{what}: Procurify refused the credentials (401: {detail}); check the connection's OAuth2 client id, secret and token URL"
        )),
        403 => fail::not_enabled(format!(
            "{what}: Procurify denied access (403: {detail}); give the API application's user the permission to {permission} in Procurify (Settings > Users > Roles)"
        )),
        404 if subject == Subject::List => fail::config(format!(
            "{what}: Procurify has no such endpoint here (404: {detail}); check the connection base_url (https://<domain>.procurify.com)"
        )),
        404 => fail::rejected(format!("{what}: not found in Procurify (404: {detail})")),
        408 => fail::transient(format!("{what}: Procurify timed out (408: {detail})")),
        429 => fail::rate_limited(
            response.retry_after_secs(),
            format!("{what}: Procurify is throttling (429: {detail})"),
        ),
        400..=499 => fail::rejected(format!("{what}: Procurify refused it ({status}: {detail})")),
        500..=599 => fail::transient(format!(
            "{what}: Procurify server error ({status}: {detail})"
        )),
        _ => fail::protocol(format!(
            "{what}: unexpected HTTP status {status}: {}",
            excerpt_bytes(&response.body)
        )),
    }
}

/// The human message of an error body: DRF's `detail`, `non_field_errors`
/// and per-field lists (`{"name": ["This field is required."]}`) flattened
/// to `name: This field is required.; email[0]: Enter a valid email address.`,
/// OAuth's `error_description`, or an excerpt of whatever came.
pub fn error_detail(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return excerpt_bytes(body);
    };
    // Some endpoints wrap errors in the envelope: {"metadata":…, "errors"|"data": {...}}.
    let inner = value
        .get("errors")
        .filter(|v| v.is_object() || v.is_array())
        .unwrap_or(&value);
    let mut parts = Vec::new();
    flatten(inner, "", &mut parts);
    if parts.is_empty() {
        excerpt_bytes(body)
    } else {
        mlc_guest::excerpt(&parts.join("; "), 600)
    }
}

fn flatten(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(if path.is_empty() || path == "detail" {
            s.clone()
        } else {
            format!("{path}: {s}")
        }),
        Value::Array(items) => {
            let all_strings = items.iter().all(Value::is_string);
            for (i, item) in items.iter().enumerate() {
                // ["msg", "msg"] belongs to the field itself; nested objects get an index.
                let sub = if all_strings {
                    path.to_string()
                } else {
                    format!("{path}[{i}]")
                };
                flatten(item, &sub, out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                if k == "metadata" || k == "status_code" {
                    continue;
                }
                let sub = match (path.is_empty(), k.as_str()) {
                    (_, "detail" | "error_description" | "message") => path.to_string(),
                    (true, _) => k.clone(),
                    (false, _) => format!("{path}.{k}"),
                };
                flatten(v, &sub, out);
            }
        }
        Value::Null => {}
        other => out.push(if path.is_empty() {
            other.to_string()
        } else {
            format!("{path}: {other}")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn url_keeps_the_trailing_slash_and_encodes_the_query() {
        assert_eq!(
            url(
                "https://acme.procurify.com",
                "/api/v3/vendors/",
                &[("search", "Barnes & Noble".into()), ("page", "2".into())]
            ),
            "https://acme.procurify.com/api/v3/vendors/?search=Barnes%20%26%20Noble&page=2"
        );
        assert_eq!(
            url("http://h", "/api/v3/accounts/", &[]),
            "http://h/api/v3/accounts/"
        );
    }

    #[test]
    fn every_request_names_the_api_client_and_accepts_json() {
        let r = request("POST", "http://h/x/".into(), Some(&json!({"a": 1})));
        let has = |k: &str, v: &str| r.headers.iter().any(|(a, b)| a == k && b == v);
        assert!(has("X-Procurify-Client", "api"));
        assert!(has("Accept", "application/json"));
        assert!(has("Content-Type", "application/json"));
        assert_eq!(r.body, br#"{"a":1}"#);
        let g = request("GET", "http://h/x/".into(), None);
        assert!(g.body.is_empty());
        assert!(!g.headers.iter().any(|(k, _)| k == "Content-Type"));
    }

    #[test]
    fn list_envelope_gives_records_and_next() {
        let body = include_bytes!("../tests/fixtures/account_codes_page1.json");
        let page = parse_list(body).unwrap();
        assert_eq!(page.data.len(), 2);
        assert_eq!(page.count, Some(3));
        assert_eq!(
            page.next.as_deref(),
            Some("https://acme.procurify.com/api/v3/account-codes/?page=2&page_size=2")
        );
        let last = parse_list(br#"{"metadata":{"pagination":{"count":0,"next":null,"previous":null,"page_size":10,"num_pages":1,"current_page":1}},"data":[]}"#).unwrap();
        assert_eq!(last.next, None);
        assert!(last.data.is_empty());
    }

    #[test]
    fn malformed_envelopes_say_what_is_missing() {
        assert!(
            parse_list(b"<html>oops</html>")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(
            parse_list(br#"{"metadata":{"pagination":{}}}"#)
                .unwrap_err()
                .contains("no `data`")
        );
        assert!(
            parse_list(br#"{"data":[]}"#)
                .unwrap_err()
                .contains("metadata.pagination")
        );
        assert!(
            parse_list(br#"{"data":{},"metadata":{"pagination":{}}}"#)
                .unwrap_err()
                .contains("should be a list")
        );
        assert!(
            parse_list(br#"{"data":[],"metadata":{"pagination":{"next":5}}}"#)
                .unwrap_err()
                .contains("next")
        );
    }

    #[test]
    fn single_envelope_unwraps_data_or_takes_a_bare_object() {
        assert_eq!(
            parse_single(br#"{"metadata":{},"data":{"id":3}}"#).unwrap(),
            json!({"id": 3})
        );
        assert_eq!(parse_single(br#"{"id":3}"#).unwrap(), json!({"id": 3}));
        assert!(parse_single(br#"[1]"#).is_err());
        assert!(parse_single(br#"{"data":[1]}"#).is_err());
    }

    #[test]
    fn next_page_moves_forward_even_when_next_is_odd() {
        assert_eq!(next_page(1, "http://h/x/?page=2"), 2);
        assert_eq!(
            next_page(3, "http://h/x/?page=3"),
            4,
            "a next that repeats the page must not loop"
        );
        assert_eq!(next_page(3, "http://h/x/?offset=300"), 4);
    }

    #[test]
    fn next_url_page_number_is_read() {
        assert_eq!(
            page_of(
                "https://a.procurify.com/api/v3/permissions/?page=2&page_size=1&permission=886"
            ),
            Some(2)
        );
        assert_eq!(page_of("http://h/api/v3/x/?page_size=10&page=7"), Some(7));
        assert_eq!(page_of("http://h/api/v3/x/?cursor=abc"), None);
        assert_eq!(page_of("http://h/api/v3/x/"), None);
    }

    #[test]
    fn status_401_is_unauthorized() {
        let f = classify(
            "check",
            "view account codes",
            Subject::List,
            &resp(
                401,
                r#"{"detail":"Authentication credentials were not provided."}"#,
            ),
        );
        match f {
            Failure::Unauthorized(m) => assert!(
                m.contains("Authentication credentials were not provided."),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn status_403_is_not_enabled_and_names_the_permission() {
        let f = classify(
            "read vendors: page 1",
            "view vendors",
            Subject::List,
            &resp(
                403,
                r#"{"detail":"You do not have permission to perform this action."}"#,
            ),
        );
        match f {
            Failure::NotEnabled(m) => {
                assert!(m.starts_with("read vendors: page 1: "), "{m}");
                assert!(m.contains("permission to view vendors"), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn status_404_is_rejected_for_objects_and_config_for_lists() {
        let body = r#"{"detail":"Not found."}"#;
        assert!(
            matches!(classify("w", "p", Subject::Object, &resp(404, body)), Failure::Rejected(m) if m.contains("Not found."))
        );
        assert!(
            matches!(classify("r", "p", Subject::List, &resp(404, body)), Failure::Config(m) if m.contains("base_url"))
        );
        assert!(is_invalid_page(&resp(404, r#"{"detail":"Invalid page."}"#)));
        assert!(!is_invalid_page(&resp(404, body)));
    }

    #[test]
    fn status_400_is_rejected_with_every_drf_message() {
        let body = r#"{"name":["This field is required."],"email":["Enter a valid email address."],"non_field_errors":["A vendor with this name already exists."]}"#;
        match classify(
            "write vendors 0000000101",
            "add vendors",
            Subject::Object,
            &resp(400, body),
        ) {
            Failure::Rejected(m) => {
                assert!(m.contains("email: Enter a valid email address."), "{m}");
                assert!(m.contains("name: This field is required."), "{m}");
                assert!(
                    m.contains("non_field_errors: A vendor with this name already exists."),
                    "{m}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nested_drf_errors_keep_their_path() {
        let d = error_detail(br#"{"email":[{"0":["Enter a valid email address."]}],"address":{"city":["Too long."]}}"#);
        assert!(
            d.contains("email[0].0: Enter a valid email address."),
            "{d}"
        );
        assert!(d.contains("address.city: Too long."), "{d}");
        assert_eq!(
            error_detail(br#"{"detail":"Method \"POST\" not allowed."}"#),
            "Method \"POST\" not allowed."
        );
        assert_eq!(
            error_detail(br#"{"error":"invalid_client","error_description":"Bad secret"}"#),
            "error: invalid_client; Bad secret"
        );
        assert_eq!(error_detail(b"Bad Gateway"), "\"Bad Gateway\"");
    }

    #[test]
    fn status_429_is_rate_limited_with_retry_after() {
        let mut r = resp(429, r#"{"detail":"Request was throttled."}"#);
        r.headers.push(("retry-after".into(), "17".into()));
        match classify("read bills: page 2", "view bills", Subject::List, &r) {
            Failure::RateLimited(t) => {
                assert_eq!(t.retry_after_secs, Some(17));
                assert!(t.message.contains("Request was throttled."));
            }
            other => panic!("{other:?}"),
        }
        match classify("x", "p", Subject::List, &resp(429, "")) {
            Failure::RateLimited(t) => assert_eq!(t.retry_after_secs, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn server_errors_and_408_are_transient_other_statuses_protocol() {
        for s in [500, 502, 503, 504, 408] {
            assert!(
                matches!(
                    classify("x", "p", Subject::List, &resp(s, "<html>")),
                    Failure::Transient(_)
                ),
                "{s}"
            );
        }
        assert!(matches!(
            classify("x", "p", Subject::Object, &resp(405, r#"{"detail":"no"}"#)),
            Failure::Rejected(_)
        ));
        assert!(matches!(
            classify("x", "p", Subject::List, &resp(304, "")),
            Failure::Protocol(_)
        ));
    }

    #[test]
    fn long_bodies_are_cut_in_messages() {
        let long = "x".repeat(5000);
        let d = error_detail(long.as_bytes());
        assert!(d.chars().count() < 260, "{}", d.len());
        assert!(d.contains('…'));
    }
}
