//! Test support for the Procurify emulator: a small HTTP client, a started
//! sandbox with a token, and an OpenAPI 3 schema checker over the official spec.

use std::sync::OnceLock;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
use mlc_sandbox::procurify::{ProcurifyConfig, ProcurifySandbox};
use serde_json::Value;

/// One answer, body fully read.
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request on a fresh connection. `target` is a path or an absolute URL.
pub async fn send(
    addr: std::net::SocketAddr,
    method: Method,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Result<Answer, String> {
    let path = match target.find("://") {
        Some(i) => {
            let rest = &target[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..]).to_owned()
        }
        None => target.to_owned(),
    };
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let payload = match body {
        Some(v) => {
            builder = builder.header("content-type", "application/json");
            Bytes::from(v.to_string())
        }
        None => Bytes::new(),
    };
    let req = builder
        .body(Full::new(payload))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// A started sandbox plus a valid bearer token.
pub struct Tenant {
    pub sandbox: ProcurifySandbox,
    pub token: String,
}

impl Tenant {
    pub async fn start(config: ProcurifyConfig) -> Tenant {
        let sandbox = ProcurifySandbox::start(config)
            .await
            .expect("sandbox starts");
        let token = sandbox.issue_token();
        Tenant { sandbox, token }
    }

    /// Default config with a fixed "now" so dates are reproducible.
    pub async fn fixed(requisitions: usize) -> Tenant {
        Tenant::start(ProcurifyConfig {
            requisitions,
            now: Some(anchor()),
            ..ProcurifyConfig::default()
        })
        .await
    }

    /// An authenticated API call.
    pub async fn call(&self, method: Method, target: &str, body: Option<Value>) -> Answer {
        let auth = format!("Bearer {}", self.token);
        send(
            self.sandbox.addr(),
            method,
            target,
            &[("authorization", &auth), ("x-procurify-client", "api")],
            body,
        )
        .await
        .unwrap_or_else(|e| panic!("{target}: {e}"))
    }

    pub async fn get(&self, target: &str) -> Answer {
        self.call(Method::GET, target, None).await
    }

    /// GET expecting 200 JSON.
    pub async fn get_json(&self, target: &str) -> Value {
        let a = self.get(target).await;
        assert_eq!(
            a.status,
            StatusCode::OK,
            "{target}: {}",
            String::from_utf8_lossy(&a.body)
        );
        a.json()
    }

    /// Every item of a list, following `next` links.
    pub async fn all_pages(&self, first: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut target = Some(first.to_owned());
        while let Some(t) = target {
            let page = self.get_json(&t).await;
            out.extend(page["data"].as_array().expect("data array").iter().cloned());
            target = page["metadata"]["pagination"]["next"]
                .as_str()
                .map(str::to_owned);
        }
        out
    }
}

pub fn anchor() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z")
        .map(|d| d.with_timezone(&chrono::Utc))
        .expect("valid anchor")
}

// ------------------------------------------------------------ OpenAPI checker

/// The official spec as JSON, with the documented errata applied.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("spec/procurify-openapi.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "conformance needs Procurify's OpenAPI spec at {} ({e}); restore sandbox/spec/procurify-openapi.yaml from Procurify's published spec",
                path.display()
            )
        });
        let mut spec: Value = serde_yaml::from_str(&text).expect("procurify-openapi.yaml parses as YAML");
        apply_errata(&mut spec);
        spec
    })
}

/// Known defects of the published spec, where the emulator follows the
/// real API instead; each is named in the report so the list stays short.
/// 1. `PaginatedLocationViewSerializerListList` lists wrapper objects
///    (`{metadata, data: [LocationView]}`) as items: a generator artefact
///    double-wrapping the list; the API lists `LocationView` items like
///    every other paginated list.
/// 2. PO `contract` is required and not nullable, but POs without a
///    contract (all of the sandbox's) carry `null` (DRF renders a missing
///    relation as null).
fn apply_errata(spec: &mut Value) {
    let schemas = &mut spec["components"]["schemas"];
    schemas["PaginatedLocationViewSerializerListList"]["properties"]["data"]["items"] =
        serde_json::json!({"$ref": "#/components/schemas/LocationView"});
    for s in ["PurchaseOrderDocs", "PurchaseOrderDetail"] {
        schemas[s]["properties"]["contract"] = serde_json::json!({
            "nullable": true,
            "allOf": [{"$ref": "#/components/schemas/PurchaseOrderContract"}]
        });
    }
}

/// The success response schema of `method` on spec path `path`.
pub fn response_schema(path: &str, method: &str, status: &str) -> Value {
    let op = &spec()["paths"][path][method];
    assert!(op.is_object(), "the spec has no operation {method} {path}");
    let schema = &op["responses"][status]["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "the spec has no application/json {status} schema for {method} {path}"
    );
    schema.clone()
}

fn resolve(schema: &Value) -> &Value {
    let mut s = schema;
    while let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or("");
        s = &spec()["components"]["schemas"][name];
        assert!(s.is_object(), "unresolvable $ref {r}");
    }
    s
}

fn regex_for(pattern: &str) -> regex::Regex {
    static CACHE: OnceLock<std::sync::Mutex<std::collections::HashMap<String, regex::Regex>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    map.entry(pattern.to_owned())
        .or_insert_with(|| regex::Regex::new(pattern).expect("spec pattern compiles"))
        .clone()
}

/// Validates `value` against `schema`; returns every mismatch as `path: problem`.
pub fn check(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    walk(schema, value, "$", &mut errors);
    errors
}

fn walk(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let schema = resolve(schema);
    let nullable = schema.get("nullable").and_then(Value::as_bool) == Some(true);
    if value.is_null() {
        let constrained = ["type", "properties", "allOf", "oneOf", "anyOf", "enum"]
            .iter()
            .any(|k| schema.get(*k).is_some());
        if !nullable && constrained {
            errors.push(format!("{path}: null but the schema is not nullable"));
        }
        return;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            walk(s, value, path, errors);
        }
    }
    for (key, need_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            let ok = alts.iter().filter(|s| check(s, value).is_empty()).count();
            if (need_one && ok != 1) || (!need_one && ok == 0) {
                errors.push(format!("{path}: matches {ok} of the {key} alternatives"));
            }
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        let hit = options
            .iter()
            .any(|o| o == value || (o.as_f64().is_some() && o.as_f64() == value.as_f64()));
        if !hit {
            errors.push(format!(
                "{path}: {value} is not one of the enum values {options:?}"
            ));
        }
    }
    let ty = schema.get("type").and_then(Value::as_str);
    let type_ok = match ty {
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some("array") => value.is_array(),
        Some("object") => value.is_object(),
        _ => true,
    };
    if !type_ok {
        errors.push(format!(
            "{path}: expected {}, got {value}",
            ty.unwrap_or("?")
        ));
        return;
    }
    if let Value::String(s) = value {
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && s.chars().count() as u64 > max
        {
            errors.push(format!("{path}: longer than maxLength {max}"));
        }
        if let Some(p) = schema.get("pattern").and_then(Value::as_str)
            && !regex_for(p).is_match(s)
        {
            errors.push(format!("{path}: {s:?} does not match pattern {p}"));
        }
        let format_ok = match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
            Some("date") => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok(),
            Some("uuid") => {
                regex_for("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
                    .is_match(s)
            }
            Some("email") => s.contains('@'),
            Some("uri") => s.starts_with("http://") || s.starts_with("https://"),
            _ => true,
        };
        if !format_ok {
            errors.push(format!("{path}: {s:?} is not a valid {}", schema["format"]));
        }
    }
    if let Value::Array(items) = value
        && let Some(item_schema) = schema.get("items")
    {
        for (i, item) in items.iter().enumerate() {
            walk(item_schema, item, &format!("{path}[{i}]"), errors);
        }
    }
    if let Value::Object(map) = value {
        let props = schema.get("properties").and_then(Value::as_object);
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for r in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(r) {
                    errors.push(format!("{path}: required property {r:?} is missing"));
                }
            }
        }
        if let Some(props) = props {
            let open = schema
                .get("additionalProperties")
                .is_some_and(|a| a != &Value::Bool(false));
            // Properties allOf parts declare are declared too.
            let declared_elsewhere = |k: &str| {
                schema
                    .get("allOf")
                    .and_then(Value::as_array)
                    .is_some_and(|all| {
                        all.iter().any(|s| {
                            resolve(s)
                                .get("properties")
                                .and_then(|p| p.get(k))
                                .is_some()
                        })
                    })
            };
            for (k, v) in map {
                match props.get(k) {
                    Some(s) => walk(s, v, &format!("{path}.{k}"), errors),
                    None if open || declared_elsewhere(k) => {}
                    None => errors.push(format!("{path}.{k}: property not declared by the schema")),
                }
            }
        }
    }
}

/// Panics with every mismatch when `value` does not fit `schema`.
pub fn assert_conforms(what: &str, schema: &Value, value: &Value) {
    let errors = check(schema, value);
    assert!(
        errors.is_empty(),
        "{what} does not conform to the OpenAPI schema:\n  {}",
        errors
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}
