//! A connector that misbehaves on purpose, so tests can prove the host
//! contains it. What it does depends on the stream it is asked to read:
//!
//! - `loop`: spins forever;
//! - `grow`: allocates memory without bound;
//! - `fetch`: sends a request to `config.url` (method `config.method`, default
//!   GET) and returns everything it received: status, every response header
//!   and the body (a header-dumping echo, to show it never sees a secret);
//! - `snoop`: tries to read environment variables, arguments and files, and
//!   returns what it found;
//! - `panic`: panics;
//! - `stuck`: one document per page, and always "more pages follow" with
//!   the cursor it was given (`p1` from the start): a source whose cursor
//!   never moves, which must stop the run instead of looping;
//! - anything else: one well-behaved document.
//!
//! Writes echo the document key; lookups find nothing.

use mlc_guest::http::{Request, send};
use mlc_guest::{
    AuthScheme, Capabilities, Connection, ConnectorSpec, Doc, Failure, Page, StreamSpec, Written,
    fail, plugin, sink, source,
};

/// The test connector.
pub struct Misbehaving;

impl plugin::Guest for Misbehaving {
    fn spec() -> ConnectorSpec {
        let stream = |name: &str| StreamSpec {
            name: name.to_string(),
            description: format!("misbehaviour `{name}`"),
            primary_key: "key".into(),
            cursor_field: None,
            capabilities: Capabilities::READ | Capabilities::WRITE | Capabilities::LOOKUP,
        };
        ConnectorSpec {
            name: "misbehaving".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config_schema: r#"{"type":"object"}"#.into(),
            streams: ["loop", "grow", "fetch", "snoop", "panic", "stuck", "ok"]
                .into_iter()
                .map(stream)
                .collect(),
            auth_schemes: vec![
                AuthScheme::Basic,
                AuthScheme::Bearer,
                AuthScheme::Oauth2ClientCredentials,
                AuthScheme::Wsse,
            ],
        }
    }

    fn check(_conn: Connection) -> Result<(), Failure> {
        Ok(())
    }
}

impl source::Guest for Misbehaving {
    fn read(conn: Connection, stream: String, cursor: Option<String>) -> Result<Page, Failure> {
        if stream == "stuck" {
            let cursor = cursor.unwrap_or_else(|| "p1".to_string());
            return Ok(Page {
                docs: vec![Doc {
                    key: format!("stuck-{cursor}"),
                    body: r#"{"ok":true}"#.to_string(),
                }],
                bad_records: Vec::new(),
                cursor: Some(cursor),
                more: true,
            });
        }
        let body = match stream.as_str() {
            "loop" => spin(),
            "grow" => grow(),
            "fetch" => fetch(&conn)?,
            "snoop" => snoop(),
            "panic" => panic!("the misbehaving connector panics on purpose"),
            _ => r#"{"ok":true}"#.to_string(),
        };
        Ok(Page {
            docs: vec![Doc { key: stream, body }],
            bad_records: Vec::new(),
            cursor: None,
            more: false,
        })
    }
}

impl sink::Guest for Misbehaving {
    fn write(_conn: Connection, _stream: String, document: Doc) -> Result<Written, Failure> {
        Ok(Written {
            target_key: format!("echo-{}", document.key),
            key: document.key,
        })
    }

    fn lookup(_conn: Connection, _stream: String, _key: String) -> Result<Option<String>, Failure> {
        Ok(None)
    }
}

fn spin() -> String {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
        if n == u64::MAX {
            return n.to_string();
        }
    }
}

fn grow() -> String {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![0xA5; 1024 * 1024]);
        if std::hint::black_box(hoard.len()) == usize::MAX {
            return String::new();
        }
    }
}

fn fetch(conn: &Connection) -> Result<String, Failure> {
    let config: serde_like::Config = serde_like::parse(&conn.config);
    let url = config
        .url
        .unwrap_or_else(|| format!("{}/echo", conn.base_url.trim_end_matches('/')));
    let mut request = Request::new(config.method.as_deref().unwrap_or("GET"), url.clone());
    if let Some(body) = config.body {
        request = request
            .header("content-type", "text/xml; charset=UTF-8")
            .body(body.into_bytes());
    }
    // A connector trying to pass its own credentials: the host must drop them.
    request = request.header("authorization", "Bearer forged-by-component");
    let response = send(&request).map_err(|e| e.into_failure(&format!("fetch {url}")))?;
    if response.status == 401 {
        return Err(fail::unauthorized(response.text()));
    }
    let mut out = format!("status: {}\n", response.status);
    for (name, value) in &response.headers {
        out.push_str(&format!("header {name}: {value}\n"));
    }
    out.push_str("body:\n");
    out.push_str(&response.text());
    Ok(out)
}

fn snoop() -> String {
    let mut found = Vec::new();
    for (k, v) in std::env::vars() {
        found.push(format!("env {k}={v}"));
    }
    for a in std::env::args() {
        found.push(format!("arg {a}"));
    }
    for path in ["/", ".", "/etc/passwd", "/proc/self/environ"] {
        match std::fs::read(path) {
            Ok(bytes) => found.push(format!("read {path}: {} bytes", bytes.len())),
            Err(e) => found.push(format!("denied {path}: {e}")),
        }
        if let Ok(entries) = std::fs::read_dir(path) {
            found.push(format!("listed {path}: {} entries", entries.count()));
        }
    }
    found.join("\n")
}

/// Tiny config reader (the test component keeps its dependencies to the SDK).
mod serde_like {
    /// What `fetch` reads from the connection config.
    #[derive(Default)]
    pub struct Config {
        pub url: Option<String>,
        pub method: Option<String>,
        pub body: Option<String>,
    }

    /// Reads `"url"`, `"method"` and `"body"` string fields from a flat JSON object
    /// whose values contain no escaped quotes.
    pub fn parse(json: &str) -> Config {
        let field = |name: &str| {
            let key = format!("\"{name}\"");
            let start = json.find(&key)? + key.len();
            let rest = json[start..].trim_start().strip_prefix(':')?.trim_start();
            let rest = rest.strip_prefix('"')?;
            rest.find('"').map(|end| rest[..end].to_string())
        };
        Config {
            url: field("url"),
            method: field("method"),
            body: field("body"),
        }
    }
}

#[cfg(target_arch = "wasm32")]
mlc_guest::export_connector!(Misbehaving);
