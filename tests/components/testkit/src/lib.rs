//! A small, well-behaved connector over the test record service
//! (`mlc_tests::peers::RecordService`), so pipeline tests exercise the real
//! host path (wasm, egress, failures) without a real system's quirks.
//!
//! - read `GET {base}/source/{stream}?after={cursor}&limit=50` ->
//!   `{"records":[{"key","body"}], "next": n|null}`; a record whose body is
//!   not an object is reported as a bad record;
//! - write `POST {base}/sink/{stream}` with header `x-doc-key` -> `{"id"}`;
//! - lookup `GET {base}/sink/{stream}/lookup?key=K` -> 200 `{"id"}` or 404.
//!
//! HTTP outcomes map to failures the usual way: 400 rejected, 401
//! unauthorized, 403 not-enabled, 429 rate-limited, 5xx transient.

use mlc_guest::http::{Request, Response, encode_component, send};
use mlc_guest::{
    AuthScheme, BadRecord, Capabilities, Connection, ConnectorSpec, Doc, Failure, Page, StreamSpec,
    Written, excerpt, fail, plugin, sink, source,
};

/// The test connector.
pub struct Testkit;

fn classify(what: &str, response: &Response) -> Failure {
    let text = excerpt(&response.text(), 200);
    match response.status {
        400 | 404 | 409 | 422 => fail::rejected(format!("{what}: {text}")),
        401 => fail::unauthorized(format!("{what}: {text}")),
        403 => fail::not_enabled(format!("{what}: {text}")),
        429 => fail::rate_limited(response.retry_after_secs(), format!("{what}: {text}")),
        500..=599 => fail::transient(format!("{what}: HTTP {}: {text}", response.status)),
        s => fail::protocol(format!("{what}: unexpected HTTP {s}: {text}")),
    }
}

fn call(what: &str, request: Request) -> Result<Response, Failure> {
    send(&request).map_err(|e| e.into_failure(what))
}

fn json(what: &str, response: &Response) -> Result<serde_json::Value, Failure> {
    serde_json::from_slice(&response.body).map_err(|e| {
        fail::protocol(format!(
            "{what}: not JSON ({e}): {}",
            excerpt(&response.text(), 80)
        ))
    })
}

impl plugin::Guest for Testkit {
    fn spec() -> ConnectorSpec {
        let caps = Capabilities::READ | Capabilities::WRITE | Capabilities::LOOKUP;
        ConnectorSpec {
            name: "testkit".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config_schema: r#"{"type":"object","additionalProperties":false,"properties":{"limit":{"type":"integer","minimum":1,"maximum":500}}}"#.into(),
            streams: ["records", "vendors", "orders"]
                .into_iter()
                .map(|name| StreamSpec {
                    name: name.into(),
                    description: format!("test stream {name}"),
                    primary_key: "key".into(),
                    cursor_field: Some("position".into()),
                    capabilities: caps,
                })
                .collect(),
            auth_schemes: vec![AuthScheme::Bearer, AuthScheme::Oauth2ClientCredentials, AuthScheme::Basic],
        }
    }

    fn check(conn: Connection) -> Result<(), Failure> {
        let what = "check";
        let r = call(
            what,
            Request::new("GET", format!("{}/health", conn.base_url)),
        )?;
        if r.status == 200 {
            Ok(())
        } else {
            Err(classify(what, &r))
        }
    }
}

impl source::Guest for Testkit {
    fn read(conn: Connection, stream: String, cursor: Option<String>) -> Result<Page, Failure> {
        let what = format!("read {stream}");
        let after = cursor.unwrap_or_else(|| "0".into());
        let limit = serde_json::from_str::<serde_json::Value>(&conn.config)
            .ok()
            .and_then(|c| c["limit"].as_u64())
            .unwrap_or(50);
        let url = format!(
            "{}/source/{}?after={}&limit={limit}",
            conn.base_url,
            encode_component(&stream),
            encode_component(&after)
        );
        let r = call(&what, Request::new("GET", url))?;
        if r.status != 200 {
            return Err(classify(&what, &r));
        }
        let page = json(&what, &r)?;
        let mut docs = Vec::new();
        let mut bad_records = Vec::new();
        for record in page["records"].as_array().cloned().unwrap_or_default() {
            let key = record["key"].as_str().unwrap_or("?").to_string();
            match &record["body"] {
                body @ serde_json::Value::Object(_) => docs.push(Doc {
                    key,
                    body: body.to_string(),
                }),
                other => bad_records.push(BadRecord {
                    key,
                    reason: format!(
                        "body must be an object, got {}",
                        excerpt(&other.to_string(), 40)
                    ),
                }),
            }
        }
        let next = page["next"].as_u64();
        Ok(Page {
            docs,
            bad_records,
            cursor: Some(next.map_or_else(|| page["end"].to_string(), |n| n.to_string())),
            more: next.is_some(),
        })
    }
}

impl sink::Guest for Testkit {
    fn write(conn: Connection, stream: String, document: Doc) -> Result<Written, Failure> {
        let what = format!("write {stream} {}", document.key);
        let request = Request::new(
            "POST",
            format!("{}/sink/{}", conn.base_url, encode_component(&stream)),
        )
        .header("content-type", "application/json")
        .header("x-doc-key", document.key.clone())
        .body(document.body.into_bytes());
        let r = call(&what, request)?;
        if !(200..300).contains(&r.status) {
            return Err(classify(&what, &r));
        }
        let id = json(&what, &r)?["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| fail::protocol(format!("{what}: no id in the answer")))?;
        Ok(Written {
            key: document.key,
            target_key: id,
        })
    }

    fn lookup(conn: Connection, stream: String, key: String) -> Result<Option<String>, Failure> {
        let what = format!("lookup {stream} {key}");
        let url = format!(
            "{}/sink/{}/lookup?key={}",
            conn.base_url,
            encode_component(&stream),
            encode_component(&key)
        );
        let r = call(&what, Request::new("GET", url))?;
        match r.status {
            200 => Ok(json(&what, &r)?["id"].as_str().map(str::to_string)),
            404 => Ok(None),
            _ => Err(classify(&what, &r)),
        }
    }
}

#[cfg(target_arch = "wasm32")]
mlc_guest::export_connector!(Testkit);
