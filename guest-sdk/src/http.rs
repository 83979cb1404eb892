//! A small blocking HTTP client over `wasi:http/outgoing-handler`, and the
//! mapping of HTTP outcomes to contract failures shared by all connectors.
//!
//! The host attaches credentials and enforces the egress allowlist; this client
//! only builds requests, reads bodies up to a cap and classifies what happened.

use crate::{Failure, fail};

/// Largest response body a connector accepts (the host caps it too).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// An HTTP request to send.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method name, e.g. `GET`, `POST`.
    pub method: String,
    /// Absolute URL (`http(s)://host[:port]/path?query`).
    pub url: String,
    /// Headers to send.
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty for none).
    pub body: Vec<u8>,
}

impl Request {
    /// A request without body.
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Request {
            method: method.to_string(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// A received response (body fully read).
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy for invalid UTF-8, which then shows as U+FFFD).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `Retry-After` in whole seconds, when given as a number.
    pub fn retry_after_secs(&self) -> Option<u32> {
        self.header("retry-after")?.trim().parse().ok()
    }
}

/// Why a request got no HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The URL cannot be sent (bad scheme, no host).
    BadUrl(String),
    /// The host refused the request: its origin is not in the tenant's allowlist.
    Denied(String),
    /// Connecting, waiting or reading timed out.
    Timeout(String),
    /// The connection failed or broke (refused, reset, truncated body).
    Connection(String),
    /// The response body exceeded the cap.
    TooLarge,
}

impl SendError {
    /// The contract failure for a request that got no response.
    pub fn into_failure(self, what: &str) -> Failure {
        match self {
            SendError::BadUrl(m) => fail::config(format!("{what}: {m}")),
            SendError::Denied(m) => fail::config(format!(
                "{what}: the host refused the request ({m}); the URL must be on the connection's base URL"
            )),
            SendError::Timeout(m) => fail::transient(format!("{what}: timed out: {m}")),
            SendError::Connection(m) => fail::transient(format!("{what}: connection failed: {m}")),
            SendError::TooLarge => fail::protocol(format!(
                "{what}: response larger than {MAX_BODY_BYTES} bytes"
            )),
        }
    }
}

/// The parts of an absolute URL that `wasi:http` wants separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`.
    pub authority: String,
    /// `/path?query` (at least `/`).
    pub path_with_query: String,
}

/// Splits an absolute http(s) URL.
pub fn split_url(url: &str) -> Result<UrlParts, SendError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| SendError::BadUrl(format!("not an absolute URL: {url}")))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(SendError::BadUrl(format!(
            "unsupported scheme {scheme:?} in {url}"
        )));
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(SendError::BadUrl(format!(
            "URL needs a host (and no user info): {url}"
        )));
    }
    let path_with_query = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    Ok(UrlParts {
        scheme,
        authority: authority.to_string(),
        path_with_query,
    })
}

/// Percent-encodes a query component (RFC 3986 unreserved characters kept).
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Sends `request` and reads the whole response.
#[cfg(target_arch = "wasm32")]
pub fn send(request: &Request) -> Result<Response, SendError> {
    wasi_client::send(request)
}

/// Outside wasm there is no outgoing handler: connectors' pure logic is tested
/// natively, their HTTP through the host.
#[cfg(not(target_arch = "wasm32"))]
pub fn send(request: &Request) -> Result<Response, SendError> {
    Err(SendError::Connection(format!(
        "{} {}: HTTP is only available inside the wasm host",
        request.method, request.url
    )))
}

#[cfg(target_arch = "wasm32")]
mod wasi_client {
    use super::{MAX_BODY_BYTES, Request, Response, SendError, split_url};
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
    };
    use wasip2::io::streams::StreamError;

    pub fn send(request: &Request) -> Result<Response, SendError> {
        let parts = split_url(&request.url)?;
        let entries: Vec<(String, Vec<u8>)> = request
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec()))
            .collect();
        let headers = Fields::from_list(&entries)
            .map_err(|e| SendError::BadUrl(format!("invalid header: {e:?}")))?;
        let outgoing = OutgoingRequest::new(headers);
        let method = match request.method.as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "HEAD" => Method::Head,
            other => Method::Other(other.to_string()),
        };
        let scheme = if parts.scheme == "https" {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let invalid = |what: &str| SendError::BadUrl(format!("invalid {what} in {}", request.url));
        outgoing
            .set_method(&method)
            .map_err(|()| invalid("method"))?;
        outgoing
            .set_scheme(Some(&scheme))
            .map_err(|()| invalid("scheme"))?;
        outgoing
            .set_authority(Some(&parts.authority))
            .map_err(|()| invalid("host"))?;
        outgoing
            .set_path_with_query(Some(&parts.path_with_query))
            .map_err(|()| invalid("path"))?;

        let body = outgoing
            .body()
            .map_err(|()| SendError::Connection("request body already taken".into()))?;
        let future = outgoing_handler::handle(outgoing, None).map_err(map_error_code)?;
        {
            let stream = body
                .write()
                .map_err(|()| SendError::Connection("request body stream unavailable".into()))?;
            for chunk in request.body.chunks(4096) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(|e| SendError::Connection(format!("writing request body: {e:?}")))?;
            }
        }
        OutgoingBody::finish(body, None).map_err(map_error_code)?;

        let incoming = loop {
            if let Some(result) = future.get() {
                break result;
            }
            let pollable = future.subscribe();
            pollable.block();
        };
        let incoming = incoming
            .map_err(|()| SendError::Connection("response already taken".into()))?
            .map_err(map_error_code)?;

        let status = incoming.status();
        let headers = incoming
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect();
        let body = incoming
            .consume()
            .map_err(|()| SendError::Connection("response body already taken".into()))?;
        let mut bytes = Vec::new();
        {
            let stream = body
                .stream()
                .map_err(|()| SendError::Connection("response body stream unavailable".into()))?;
            loop {
                match stream.blocking_read(64 * 1024) {
                    Ok(chunk) => {
                        bytes.extend_from_slice(&chunk);
                        if bytes.len() > MAX_BODY_BYTES {
                            return Err(SendError::TooLarge);
                        }
                    }
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        let detail = e.to_debug_string();
                        return Err(
                            if let Some(code) = wasip2::http::types::http_error_code(&e) {
                                map_error_code(code)
                            } else {
                                SendError::Connection(format!("reading response body: {detail}"))
                            },
                        );
                    }
                }
            }
        }
        let _trailers = IncomingBody::finish(body);
        Ok(Response {
            status,
            headers,
            body: bytes,
        })
    }

    fn map_error_code(code: ErrorCode) -> SendError {
        match code {
            ErrorCode::HttpRequestDenied => {
                SendError::Denied("origin not allowed for this connection".into())
            }
            ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout => SendError::Timeout(format!("{code:?}")),
            ErrorCode::HttpResponseBodySize(_) => SendError::TooLarge,
            other => SendError::Connection(format!("{other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_url_separates_scheme_authority_and_path() {
        let p = split_url("https://acme.procurify.com:8443/api/v3/vendors/?page=2").unwrap();
        assert_eq!(p.scheme, "https");
        assert_eq!(p.authority, "acme.procurify.com:8443");
        assert_eq!(p.path_with_query, "/api/v3/vendors/?page=2");
        assert_eq!(split_url("http://h").unwrap().path_with_query, "/");
        assert_eq!(split_url("http://h?x=1").unwrap().path_with_query, "/?x=1");
    }

    #[test]
    fn split_url_refuses_other_schemes_and_userinfo() {
        assert!(matches!(split_url("ftp://h/x"), Err(SendError::BadUrl(_))));
        assert!(matches!(split_url("h/x"), Err(SendError::BadUrl(_))));
        assert!(matches!(
            split_url("http://user:pw@h/x"),
            Err(SendError::BadUrl(_))
        ));
    }

    #[test]
    fn encode_component_escapes_reserved_and_non_ascii() {
        assert_eq!(encode_component("a b&c=é"), "a%20b%26c%3D%C3%A9");
        assert_eq!(encode_component("2026-11-01"), "2026-11-01");
    }
}
