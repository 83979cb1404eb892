//! The deployment manifest (`manifest.toml`): tenants, their connections and
//! flows. Parsed into private DTOs with `deny_unknown_fields`, then validated
//! into resolved types; every error names the file and the key, and says
//! what would be valid. Connector-specific settings are checked later against
//! each connector's schema (see [`crate::deployment`]).

mod schedule;
pub mod schema;

pub use schedule::Schedule;

use crate::credentials::{Credentials, SecretRef, Setting, TokenBody, TokenEndpoint};
use crate::egress::Origin;
use crate::pipeline::{OnChange, RetryPolicy};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A manifest error: the file, the key, and what is wrong.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{file}: {key}: {message}")]
pub struct ManifestError {
    /// The manifest file.
    pub file: String,
    /// The TOML key (dotted path), or `(syntax)`.
    pub key: String,
    /// What is wrong and what would be valid.
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDto {
    store: Option<StoreDto>,
    vault: Option<VaultDto>,
    daemon: Option<DaemonDto>,
    #[serde(default)]
    tenants: BTreeMap<String, TenantDto>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreDto {
    path: Option<String>,
    lease_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VaultDto {
    key_file: Option<String>,
    key_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DaemonDto {
    listen: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantDto {
    #[serde(default)]
    connections: BTreeMap<String, ConnectionDto>,
    #[serde(default)]
    flows: BTreeMap<String, FlowDto>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionDto {
    connector: String,
    base_url: String,
    #[serde(default)]
    extra_origins: Vec<String>,
    #[serde(default)]
    config: toml::Table,
    auth: Option<AuthDto>,
    memory_mb: Option<u64>,
    call_timeout_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "scheme", deny_unknown_fields)]
enum AuthDto {
    #[serde(rename = "basic")]
    Basic { username: String, password: String },
    #[serde(rename = "bearer")]
    Bearer { token: String },
    #[serde(rename = "oauth2-client-credentials")]
    OAuth2 {
        token_url: String,
        client_id: String,
        client_secret: String,
        body: Option<String>,
        audience: Option<String>,
        scope: Option<String>,
        default_ttl_secs: Option<u64>,
    },
    #[serde(rename = "wsse")]
    Wsse { username: String, password: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowDto {
    from: String,
    to: String,
    mapping: String,
    every: Option<String>,
    cron: Option<String>,
    #[serde(default)]
    requires: Vec<String>,
    on_change: Option<String>,
    retry: Option<RetryDto>,
    concurrency: Option<usize>,
    #[serde(default)]
    config: toml::Table,
    #[serde(default = "enabled")]
    enabled: bool,
}

fn enabled() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryDto {
    attempts: Option<u32>,
    base_ms: Option<u64>,
    cap_ms: Option<u64>,
    max_retry_after_secs: Option<u64>,
}

/// A validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The file it came from.
    pub file: PathBuf,
    /// The SQLite store file (relative paths resolved against the manifest's folder).
    pub store_path: PathBuf,
    /// How long a flow's lease lasts without renewal (`[store] lease_secs`):
    /// a process that dies holding a flow gives it up after this long.
    pub lease_ttl: std::time::Duration,
    /// Where the vault key comes from.
    pub vault_key: VaultKeySource,
    /// Loopback address of the daemon's HTTP surface.
    pub listen: String,
    /// Tenants by name.
    pub tenants: BTreeMap<String, TenantSpec>,
}

/// Where the vault key is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultKeySource {
    /// A key file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
}

/// One tenant.
#[derive(Debug, Clone)]
pub struct TenantSpec {
    /// Name.
    pub name: String,
    /// Connections by name.
    pub connections: BTreeMap<String, ConnectionSpec>,
    /// Flows by name.
    pub flows: BTreeMap<String, FlowSpec>,
}

/// Which component a connection runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorRef {
    /// A built-in connector (`procurify`, `peoplesoft`).
    Builtin(String),
    /// A component file.
    File(PathBuf),
}

/// One connection.
#[derive(Debug, Clone)]
pub struct ConnectionSpec {
    /// Name.
    pub name: String,
    /// Component.
    pub connector: ConnectorRef,
    /// Base URL.
    pub base_url: String,
    /// Its origin (where credentials go).
    pub origin: Origin,
    /// Further reachable origins (no credentials).
    pub extra_origins: Vec<Origin>,
    /// Connector settings (JSON).
    pub config: serde_json::Value,
    /// Authentication.
    pub credentials: Credentials,
    /// Memory limit per instance.
    pub memory_bytes: u64,
    /// Deadline per call.
    pub call_timeout: Duration,
}

/// One flow.
#[derive(Debug, Clone)]
pub struct FlowSpec {
    /// Name.
    pub name: String,
    /// Source connection and stream.
    pub from: (String, String),
    /// Sink connection and stream.
    pub to: (String, String),
    /// Mapping program file.
    pub mapping: PathBuf,
    /// Schedule.
    pub schedule: Schedule,
    /// Flows that run first.
    pub requires: Vec<String>,
    /// Changed-document policy.
    pub on_change: OnChange,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Records in flight at once.
    pub concurrency: usize,
    /// `$config` of the mapping.
    pub config: serde_json::Value,
    /// Whether the flow runs at all.
    pub enabled: bool,
}

/// The built-in connector names.
pub const BUILTIN_CONNECTORS: &[&str] = &["procurify", "peoplesoft"];

impl Manifest {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
            file: path.display().to_string(),
            key: "(file)".into(),
            message: format!("cannot read it: {e}"),
        })?;
        Manifest::parse(path, &text)
    }

    /// Validates manifest `text` as if read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Manifest, ManifestError> {
        let file = path.display().to_string();
        let dto: FileDto = toml::from_str(text).map_err(|e| ManifestError {
            file: file.clone(),
            key: e
                .span()
                .map(|s| match key_at(text, s.start) {
                    Some(key) => format!("{key} (line {})", line_of(text, s.start)),
                    None => format!("(line {})", line_of(text, s.start)),
                })
                .unwrap_or_else(|| "(syntax)".into()),
            message: e.message().trim().to_string(),
        })?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let err = |key: String, message: String| ManifestError {
            file: file.clone(),
            key,
            message,
        };
        let (store_path, lease_secs) = match dto.store {
            Some(StoreDto { path, lease_secs }) => (path, lease_secs),
            None => (None, None),
        };
        let store_path = dir.join(store_path.unwrap_or_else(|| "ml-connector.db".into()));
        let lease_ttl = match lease_secs {
            None => crate::coordination::DEFAULT_LEASE,
            Some(secs @ 2..=3600) => std::time::Duration::from_secs(secs),
            Some(other) => {
                return Err(err(
                    "store.lease_secs".into(),
                    format!(
                        "{other} is out of range: a lease lasts 2 to 3600 seconds (default {})",
                        crate::coordination::DEFAULT_LEASE.as_secs()
                    ),
                ));
            }
        };
        let vault_key = match dto.vault {
            None => VaultKeySource::File(dir.join("ml-connector.key")),
            Some(VaultDto {
                key_file: Some(f),
                key_env: None,
            }) => VaultKeySource::File(dir.join(f)),
            Some(VaultDto {
                key_file: None,
                key_env: Some(v),
            }) => VaultKeySource::Env(v),
            Some(_) => {
                return Err(err(
                    "vault".into(),
                    "set exactly one of key_file or key_env".into(),
                ));
            }
        };
        let listen = dto
            .daemon
            .and_then(|d| d.listen)
            .unwrap_or_else(|| "127.0.0.1:9464".into());
        if listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(err(
                "daemon.listen".into(),
                format!("{listen:?} is not an address like \"127.0.0.1:9464\""),
            ));
        }
        if dto.tenants.is_empty() {
            return Err(err(
                "tenants".into(),
                "no tenant is defined; add a [tenants.<name>] table".into(),
            ));
        }
        let mut tenants = BTreeMap::new();
        for (tname, t) in dto.tenants {
            check_name(&tname).map_err(|m| err(format!("tenants.{tname}"), m))?;
            let mut connections = BTreeMap::new();
            for (cname, c) in t.connections {
                let key = format!("tenants.{tname}.connections.{cname}");
                check_name(&cname).map_err(|m| err(key.clone(), m))?;
                connections.insert(
                    cname.clone(),
                    connection(&dir, &cname, c, &key).map_err(|(k, m)| err(k, m))?,
                );
            }
            let mut flows = BTreeMap::new();
            for (fname, f) in t.flows {
                let key = format!("tenants.{tname}.flows.{fname}");
                check_name(&fname).map_err(|m| err(key.clone(), m))?;
                let flow = flow(&dir, &fname, f, &key).map_err(|(k, m)| err(k, m))?;
                for (side, (conn, _)) in [("from", &flow.from), ("to", &flow.to)] {
                    if !connections.contains_key(conn) {
                        let known: Vec<&str> = connections.keys().map(String::as_str).collect();
                        return Err(err(
                            format!("{key}.{side}"),
                            format!(
                                "no connection {conn:?} in tenant {tname}; connections are {known:?}"
                            ),
                        ));
                    }
                }
                flows.insert(fname, flow);
            }
            for (fname, f) in &flows {
                for r in &f.requires {
                    if !flows.contains_key(r) {
                        return Err(err(
                            format!("tenants.{tname}.flows.{fname}.requires"),
                            format!("no flow {r:?} in tenant {tname}"),
                        ));
                    }
                }
            }
            tenants.insert(
                tname.clone(),
                TenantSpec {
                    name: tname,
                    connections,
                    flows,
                },
            );
        }
        Ok(Manifest {
            file: path.to_path_buf(),
            store_path,
            lease_ttl,
            vault_key,
            listen,
            tenants,
        })
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The dotted key at byte `offset` of manifest `text`, as an operator would
/// look it up: the table of the nearest `[header]` above it, then the key of
/// the line, then (inside an inline table) the key nearest before `offset`.
/// `None` when the offset is not on a key (e.g. a broken header).
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[line_start..line_end];
    let header = |l: &str| {
        let l = l.trim();
        l.starts_with('[').then(|| {
            l.trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
    };
    if let Some(table) = header(line) {
        return (!table.is_empty()).then_some(table);
    }
    let table = text[..line_start].lines().rev().find_map(header);
    // Keys on this line up to the offset: `a = { b = 1, c = ` gives a, c.
    let before = &text[line_start..offset];
    let mut keys = before.split('=').rev().skip(1).map(|k| {
        k.rsplit(['{', ','])
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"')
            .to_string()
    });
    let nearest = keys.next().filter(|k| !k.is_empty());
    let outer = before
        .split('=')
        .next()
        .map(|k| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && before.contains('='));
    let line_key = match (outer, nearest) {
        (Some(o), Some(n)) if o != n => Some(format!("{o}.{n}")),
        (o, n) => o.or(n),
    };
    let line_key = line_key.or_else(|| {
        // The span starts at the key itself (an unknown field).
        let k = line
            .split('=')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        (!k.is_empty() && line.contains('=')).then(|| k.to_string())
    })?;
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{line_key}"),
        _ => line_key,
    })
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid name: use 1-64 letters, digits, '-' or '_'"
        ))
    }
}

fn toml_to_json(table: toml::Table) -> serde_json::Value {
    serde_json::to_value(table).unwrap_or_else(|_| serde_json::json!({}))
}

type KeyedError = (String, String);

fn connection(
    dir: &Path,
    name: &str,
    c: ConnectionDto,
    key: &str,
) -> Result<ConnectionSpec, KeyedError> {
    let connector = if c.connector.ends_with(".wasm") {
        ConnectorRef::File(dir.join(&c.connector))
    } else if BUILTIN_CONNECTORS.contains(&c.connector.as_str()) {
        ConnectorRef::Builtin(c.connector.clone())
    } else {
        return Err((
            format!("{key}.connector"),
            format!(
                "{:?} is neither a built-in connector ({}) nor a path to a .wasm component",
                c.connector,
                BUILTIN_CONNECTORS.join(", ")
            ),
        ));
    };
    let origin =
        Origin::parse(&c.base_url).map_err(|e| (format!("{key}.base_url"), e.to_string()))?;
    let extra_origins = c
        .extra_origins
        .iter()
        .enumerate()
        .map(|(i, u)| {
            Origin::parse(u).map_err(|e| (format!("{key}.extra_origins[{i}]"), e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let credentials = match c.auth {
        None => Credentials::None,
        Some(auth) => credentials(auth, &format!("{key}.auth"))?,
    };
    let _ = name;
    Ok(ConnectionSpec {
        name: name.to_string(),
        connector,
        base_url: c.base_url,
        origin,
        extra_origins,
        config: toml_to_json(c.config),
        credentials,
        memory_bytes: c.memory_mb.unwrap_or(128) * 1024 * 1024,
        call_timeout: Duration::from_secs(c.call_timeout_secs.unwrap_or(120)),
    })
}

fn credentials(auth: AuthDto, key: &str) -> Result<Credentials, KeyedError> {
    let secret = |field: &str, text: &str| {
        SecretRef::parse(text).map_err(|e| (format!("{key}.{field}"), e.to_string()))
    };
    let setting = |field: &str, text: &str| {
        Setting::parse(text).map_err(|e| (format!("{key}.{field}"), e.to_string()))
    };
    Ok(match auth {
        AuthDto::Basic { username, password } => Credentials::Basic {
            username: setting("username", &username)?,
            password: secret("password", &password)?,
        },
        AuthDto::Bearer { token } => Credentials::Bearer {
            token: secret("token", &token)?,
        },
        AuthDto::Wsse { username, password } => Credentials::Wsse {
            username: setting("username", &username)?,
            password: secret("password", &password)?,
        },
        AuthDto::OAuth2 {
            token_url,
            client_id,
            client_secret,
            body,
            audience,
            scope,
            default_ttl_secs,
        } => {
            Origin::parse(&token_url).map_err(|e| (format!("{key}.token_url"), e.to_string()))?;
            let body = match body.as_deref() {
                None | Some("form") => TokenBody::Form,
                Some("json") => TokenBody::Json,
                Some(other) => {
                    return Err((
                        format!("{key}.body"),
                        format!("{other:?} is not a token body style; use \"json\" or \"form\""),
                    ));
                }
            };
            Credentials::OAuth2ClientCredentials {
                endpoint: TokenEndpoint {
                    url: token_url,
                    body,
                    audience,
                    scope,
                    default_ttl_secs: default_ttl_secs.unwrap_or(3600),
                },
                client_id: setting("client_id", &client_id)?,
                client_secret: secret("client_secret", &client_secret)?,
            }
        }
    })
}

fn endpoint(text: &str, key: &str) -> Result<(String, String), KeyedError> {
    match text.split_once('.') {
        Some((c, s)) if !c.is_empty() && !s.is_empty() => Ok((c.to_string(), s.to_string())),
        _ => Err((
            key.to_string(),
            format!(
                "{text:?} must be \"<connection>.<stream>\", e.g. \"procurify.approved_requisitions\""
            ),
        )),
    }
}

fn flow(dir: &Path, name: &str, f: FlowDto, key: &str) -> Result<FlowSpec, KeyedError> {
    let schedule = match (&f.every, &f.cron) {
        (Some(_), Some(_)) => {
            return Err((key.into(), "set either every or cron, not both".into()));
        }
        (Some(e), None) => Schedule::every(e).map_err(|m| (format!("{key}.every"), m))?,
        (None, Some(c)) => Schedule::cron(c).map_err(|m| (format!("{key}.cron"), m))?,
        (None, None) => Schedule::OnDemand,
    };
    let on_change = match f.on_change.as_deref() {
        None | Some("ignore") => OnChange::Ignore,
        Some("rewrite") => OnChange::Rewrite,
        Some("dead-letter") => OnChange::DeadLetter,
        Some(other) => {
            return Err((
                format!("{key}.on_change"),
                format!(
                    "{other:?} is not a policy; use \"ignore\", \"rewrite\" or \"dead-letter\""
                ),
            ));
        }
    };
    let defaults = RetryPolicy::default();
    let retry = match f.retry {
        None => defaults,
        Some(r) => RetryPolicy {
            attempts: r.attempts.unwrap_or(defaults.attempts).max(1),
            base: r
                .base_ms
                .map(Duration::from_millis)
                .unwrap_or(defaults.base),
            cap: r.cap_ms.map(Duration::from_millis).unwrap_or(defaults.cap),
            max_retry_after: r
                .max_retry_after_secs
                .map(Duration::from_secs)
                .unwrap_or(defaults.max_retry_after),
        },
    };
    let concurrency = f.concurrency.unwrap_or(4);
    if !(1..=64).contains(&concurrency) {
        return Err((
            format!("{key}.concurrency"),
            format!("{concurrency} is outside 1..=64"),
        ));
    }
    Ok(FlowSpec {
        name: name.to_string(),
        from: endpoint(&f.from, &format!("{key}.from"))?,
        to: endpoint(&f.to, &format!("{key}.to"))?,
        mapping: dir.join(&f.mapping),
        schedule,
        requires: f.requires,
        on_change,
        retry,
        concurrency,
        config: toml_to_json(f.config),
        enabled: f.enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toml_type_error_names_the_dotted_key_and_its_line() {
        let text = GOOD.replace("every = \"15m\"", "every = \"15m\"\nconcurrency = \"four\"");
        let e = Manifest::parse(Path::new("m.toml"), &text).expect_err("bad type");
        assert_eq!(
            e.key, "tenants.acme.flows.vendors.concurrency (line 19)",
            "{e}"
        );
        assert!(e.message.contains("invalid type"), "{e}");
    }

    #[test]
    fn key_at_finds_keys_of_lines_inline_tables_and_headers() {
        let text = "[a.b]\nx = 1\nretry = { attempts = \"x\", cap_ms = 5 }\n[[c]]\n";
        let at = |needle: &str| key_at(text, text.find(needle).expect("needle"));
        assert_eq!(at("1").as_deref(), Some("a.b.x"));
        assert_eq!(at("x =").as_deref(), Some("a.b.x"));
        assert_eq!(at("\"x\"").as_deref(), Some("a.b.retry.attempts"));
        assert_eq!(at("5 }").as_deref(), Some("a.b.retry.cap_ms"));
        assert_eq!(at("retry").as_deref(), Some("a.b.retry"));
        assert_eq!(at("[[c]]").as_deref(), Some("c"));
        assert_eq!(key_at("x = 1", 4).as_deref(), Some("x"));
    }

    const GOOD: &str = r#"
[tenants.acme.connections.procurify]
connector = "procurify"
base_url = "https://acme.procurify.com"
config = { page_size = 100 }
auth = { scheme = "oauth2-client-credentials", token_url = "https://acme.procurify.com/oauth/token", body = "json", audience = "https://api.procurify.com/", client_id = "abc", client_secret = "secret:procurify/client_secret" }

[tenants.acme.connections.peoplesoft]
connector = "peoplesoft"
base_url = "http://ps.acme.local:8000"
config = { node = "PSFT_EP", business_unit = "US001" }
auth = { scheme = "wsse", username = "MLC", password = "secret:peoplesoft/password" }

[tenants.acme.flows.vendors]
from = "procurify.vendors"
to = "peoplesoft.vendors"
mapping = "mappings/vendors.jq"
every = "15m"

[tenants.acme.flows.pos]
from = "procurify.approved_requisitions"
to = "peoplesoft.purchase_orders"
mapping = "mappings/pos.jq"
cron = "*/5 * * * *"
requires = ["vendors"]
config = { business_unit = "US001" }
"#;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(Path::new("/etc/mlc/manifest.toml"), text)
    }

    #[test]
    fn a_complete_manifest_resolves() {
        let m = parse(GOOD).unwrap();
        let acme = &m.tenants["acme"];
        assert_eq!(acme.connections.len(), 2);
        assert_eq!(acme.flows["pos"].requires, vec!["vendors".to_string()]);
        assert_eq!(
            acme.flows["pos"].mapping,
            Path::new("/etc/mlc/mappings/pos.jq")
        );
        assert_eq!(m.store_path, Path::new("/etc/mlc/ml-connector.db"));
        assert!(matches!(
            acme.connections["procurify"].credentials,
            Credentials::OAuth2ClientCredentials { .. }
        ));
    }

    #[test]
    fn unknown_key_names_the_file_and_the_valid_keys() {
        let err =
            parse(&GOOD.replace("every = \"15m\"", "every = \"15m\"\nevry = \"1m\"")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("/etc/mlc/manifest.toml: tenants.acme.flows.vendors.evry (line 19)"),
            "{text}"
        );
        assert!(text.contains("unknown field `evry`"), "{text}");
    }

    #[test]
    fn literal_password_is_refused_with_how_to_store_it() {
        let err = parse(&GOOD.replace("secret:peoplesoft/password", "hunter2")).unwrap_err();
        assert_eq!(err.key, "tenants.acme.connections.peoplesoft.auth.password");
        assert!(
            err.message.contains("secrets set") && !err.message.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn bad_cron_and_unknown_references_name_their_keys() {
        let err = parse(&GOOD.replace("*/5 * * * *", "every five minutes")).unwrap_err();
        assert_eq!(err.key, "tenants.acme.flows.pos.cron");
        let err = parse(&GOOD.replace("requires = [\"vendors\"]", "requires = [\"vendor\"]"))
            .unwrap_err();
        assert_eq!(err.key, "tenants.acme.flows.pos.requires");
        let err = parse(&GOOD.replace(
            "from = \"procurify.vendors\"",
            "from = \"procurement.vendors\"",
        ))
        .unwrap_err();
        assert_eq!(err.key, "tenants.acme.flows.vendors.from");
        assert!(
            err.message
                .contains("connections are [\"peoplesoft\", \"procurify\"]"),
            "{err}"
        );
        let err =
            parse(&GOOD.replace("connector = \"peoplesoft\"", "connector = \"sap\"")).unwrap_err();
        assert!(
            err.message
                .contains("built-in connector (procurify, peoplesoft)"),
            "{err}"
        );
    }
}
