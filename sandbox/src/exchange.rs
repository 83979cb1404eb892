//! The plain request/response values that emulators handle: the HTTP server
//! turns wire traffic into these, and emulators never touch sockets.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

/// One HTTP request as an emulator sees it (body fully read).
#[derive(Debug, Clone)]
pub struct Request {
    /// HTTP method.
    pub method: Method,
    /// Path without the query string, percent-decoding not applied.
    pub path: String,
    /// Query parameters in order, percent-decoded.
    pub query: Vec<(String, String)>,
    /// Request headers.
    pub headers: HeaderMap,
    /// Request body.
    pub body: Bytes,
    /// `scheme://host:port` the client reached, used to build absolute URLs
    /// (Procurify's `next`/`previous` links).
    pub origin: String,
}

impl Request {
    /// The first value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of header `name` as text, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One HTTP response an emulator produces.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers (Content-Length is set by the server).
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
}

impl Response {
    /// A response with `status`, a content type and a body.
    pub fn new(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        Response {
            status,
            headers,
            body: body.into(),
        }
    }

    /// A JSON response.
    pub fn json(status: StatusCode, value: &serde_json::Value) -> Self {
        Response::new(status, "application/json", value.to_string())
    }

    /// An XML response (`text/xml; charset=UTF-8`, as the PeopleSoft gateway answers).
    pub fn xml(status: StatusCode, body: impl Into<Bytes>) -> Self {
        Response::new(status, "text/xml; charset=UTF-8", body)
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }
}

/// What every emulator is to the HTTP server: a function from request to response.
/// State lives behind the implementor's own locks; handlers never block on I/O.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, request: &Request) -> Response;
}
