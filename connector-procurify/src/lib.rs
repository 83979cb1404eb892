//! The Procurify connector component: reads requisitions, ordered items,
//! purchase orders, bills and reference data from Procurify's REST API, and
//! writes vendors, account codes, departments and PO closures back.
//!
//! Built on the guest SDK's template: the streams are declared once in
//! [`streams::STREAMS`], calls go through one [`mlc_guest::Env`] (the host in
//! the component, `mlc_guest::testing::Scripted` in unit tests), writes that
//! create or update run the SDK's upsert driver, and `export_connector!`
//! exports [`Connector`]. The host attaches OAuth2 credentials to every
//! request, so this component never sees a secret.

pub mod api;
pub mod client;
pub mod config;
pub mod cursor;
pub mod decimal;
pub mod fields;
pub mod refs;
pub mod streams;
pub mod time;

use std::cell::RefCell;

use mlc_guest::{
    AuthScheme, Connection, ConnectorSpec, Doc, Env, Failure, HostEnv, Page, Written, fail, plugin,
    sink, source,
};

use crate::client::Client;
use crate::config::Target;
use crate::refs::Cache;
use crate::streams::Ctx;

/// Connector name in `spec()`.
pub const NAME: &str = "procurify";

thread_local! {
    // Reference records read from Procurify, kept for the instance's life (at
    // most one flow run, one connection: see the instance notes in
    // wit/connector.wit), each for at most `refs::TTL_MS`. Reads only: writes
    // and lookups always ask Procurify.
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// The connector's description: config schema, streams, auth schemes.
pub fn spec() -> ConnectorSpec {
    streams::STREAMS.connector_spec(
        env!("CARGO_PKG_VERSION"),
        &config::schema().to_string(),
        vec![AuthScheme::Oauth2ClientCredentials],
    )
}

fn resolve(stage: &str, conn: &Connection) -> Result<Target, Failure> {
    config::resolve(&conn.base_url, &conn.config).map_err(|e| fail::config(format!("{stage}: {e}")))
}

/// Validates the configuration and makes one cheap authenticated call.
pub fn check(env: &dyn Env, conn: &Connection) -> Result<(), Failure> {
    let target = resolve("check", conn)?;
    let client = Client::new(env, &target);
    client.list(
        "check",
        streams::account_codes::PERMISSION_READ,
        streams::account_codes::PATH,
        &[("page_size", "1".to_string())],
    )?;
    Ok(())
}

/// Runs `f` with a stream context for `conn`, using `cache`.
pub fn with_ctx<T>(
    env: &dyn Env,
    cache: &mut Cache,
    stage: &str,
    conn: &Connection,
    f: impl FnOnce(&mut Ctx<'_>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let target = resolve(stage, conn)?;
    let mut ctx = Ctx {
        client: Client::new(env, &target),
        cache,
    };
    f(&mut ctx)
}

fn with_instance<T>(
    stage: &str,
    conn: &Connection,
    f: impl FnOnce(&mut Ctx<'_>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    CACHE.with(|cache| with_ctx(&HostEnv, &mut cache.borrow_mut(), stage, conn, f))
}

/// The exported component.
#[derive(Debug)]
pub struct Connector;

impl plugin::Guest for Connector {
    fn spec() -> ConnectorSpec {
        spec()
    }

    fn check(conn: Connection) -> Result<(), Failure> {
        check(&HostEnv, &conn)
    }
}

impl source::Guest for Connector {
    fn read(conn: Connection, stream: String, cursor: Option<String>) -> Result<Page, Failure> {
        with_instance(&format!("read {stream}"), &conn, |ctx| {
            streams::read(ctx, &stream, cursor.as_deref())
        })
    }
}

impl sink::Guest for Connector {
    fn write(conn: Connection, stream: String, document: Doc) -> Result<Written, Failure> {
        with_instance(&format!("write {stream}"), &conn, |ctx| {
            streams::write(ctx, &stream, &document)
        })
    }

    fn lookup(conn: Connection, stream: String, key: String) -> Result<Option<String>, Failure> {
        with_instance(&format!("lookup {stream}"), &conn, |ctx| {
            streams::lookup(ctx, &stream, &key)
        })
    }
}

#[cfg(target_arch = "wasm32")]
mlc_guest::export_connector!(Connector);

#[cfg(test)]
mod tests {
    use super::*;
    use mlc_guest::Capabilities;
    use mlc_guest::testing::Scripted as Script;

    fn conn(config: &str) -> Connection {
        Connection {
            base_url: "http://127.0.0.1:9/".into(),
            config: config.into(),
        }
    }

    #[test]
    fn spec_declares_oauth2_every_stream_and_a_parseable_schema() {
        let s = spec();
        assert_eq!(s.name, "procurify");
        assert_eq!(s.auth_schemes, vec![AuthScheme::Oauth2ClientCredentials]);
        let names: Vec<&str> = s.streams.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "approved_requisitions",
                "ordered_items",
                "purchase_orders",
                "vendors",
                "account_codes",
                "departments",
                "accounts",
                "bills",
                "purchase_order_closures"
            ]
        );
        let caps = |n: &str| {
            s.streams
                .iter()
                .find(|s| s.name == n)
                .map(|s| s.capabilities)
                .unwrap()
        };
        assert_eq!(
            caps("vendors"),
            Capabilities::READ | Capabilities::WRITE | Capabilities::LOOKUP
        );
        assert_eq!(
            caps("purchase_order_closures"),
            Capabilities::WRITE | Capabilities::LOOKUP
        );
        assert_eq!(caps("bills"), Capabilities::READ);
        let schema: serde_json::Value = serde_json::from_str(&s.config_schema).unwrap();
        assert_eq!(schema["properties"]["page_size"]["default"], 100);
        assert!(s.streams.iter().all(|s| !s.description.is_empty()));
    }

    #[test]
    fn check_makes_one_cheap_authenticated_call() {
        let s = Script::default();
        s.reply(200, r#"{"metadata":{"pagination":{"count":10,"next":"http://127.0.0.1:9/api/v3/account-codes/?page=2","previous":null,"page_size":1,"num_pages":10,"current_page":1}},"data":[{"id":3,"code":"610000","description":"Office"}]}"#);
        check(&s, &conn("")).unwrap();
        assert_eq!(s.lines(), vec!["GET /api/v3/account-codes/?page_size=1"]);
    }

    #[test]
    fn check_maps_refusals_and_bad_settings() {
        let s = Script::default();
        s.reply(401, r#"{"detail":"Invalid token."}"#)
            .reply(403, r#"{"detail":"Forbidden"}"#);
        assert!(
            matches!(check(&s, &conn("")), Err(Failure::Unauthorized(m)) if m.starts_with("check: GET /api/v3/account-codes/"))
        );
        assert!(
            matches!(check(&s, &conn("")), Err(Failure::NotEnabled(m)) if m.contains("view account codes"))
        );
        match check(&s, &conn(r#"{"page_sise": 10}"#)) {
            Err(Failure::Config(m)) => assert!(
                m.starts_with("check: config has unknown setting `page_sise`"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        let bad_url = Connection {
            base_url: "acme.procurify.com".into(),
            config: String::new(),
        };
        assert!(matches!(check(&s, &bad_url), Err(Failure::Config(m)) if m.contains("base_url")));
        assert_eq!(
            s.lines().len(),
            2,
            "a bad config must not reach the network"
        );
    }

    #[test]
    fn instance_cache_is_reset_when_the_connection_changes() {
        let s = Script::default();
        s.reply(200, r#"{"data":{"id":7,"name":"A","external_id":"X"}}"#)
            .reply(200, r#"{"data":{"id":7,"name":"B","external_id":"Y"}}"#);
        let mut cache = Cache::default();
        let needs = refs::Needs {
            vendors: [7].into(),
            ..Default::default()
        };
        let a = Connection {
            base_url: "http://a.example".into(),
            config: String::new(),
        };
        let b = Connection {
            base_url: "http://b.example".into(),
            config: String::new(),
        };
        let name_a = with_ctx(&s, &mut cache, "t", &a, |ctx| {
            ctx.cache.resolve(&ctx.client, "t", &needs)
        })
        .unwrap();
        let name_b = with_ctx(&s, &mut cache, "t", &b, |ctx| {
            ctx.cache.resolve(&ctx.client, "t", &needs)
        })
        .unwrap();
        assert_eq!(name_a.vendors[&7].name.as_deref(), Some("A"));
        assert_eq!(name_b.vendors[&7].name.as_deref(), Some("B"));
    }
}
