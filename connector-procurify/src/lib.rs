//! The Procurify connector component: reads requisitions, ordered items,
//! purchase orders, bills and reference data from Procurify's REST API, and
//! writes vendors, account codes, departments and PO closures back.
//!
//! Everything but [`client::Host`] is pure logic over JSON and is unit-tested
//! natively; the host attaches OAuth2 credentials to every request, so this
//! component never sees a secret.

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
    AuthScheme, Connection, ConnectorSpec, Doc, Failure, Page, Written, fail, plugin, sink, source,
};

use crate::client::{Client, Host, Remote};
use crate::config::Target;
use crate::refs::Cache;
use crate::streams::Ctx;

/// Connector name in `spec()`.
pub const NAME: &str = "procurify";

thread_local! {
    // A component instance is single-threaded; the cache lives as long as the
    // instance the host pools.
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// The connector's description: config schema, streams, auth schemes.
pub fn spec() -> ConnectorSpec {
    ConnectorSpec {
        name: NAME.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        config_schema: config::schema().to_string(),
        streams: streams::specs(),
        auth_schemes: vec![AuthScheme::Oauth2ClientCredentials],
    }
}

fn resolve(stage: &str, conn: &Connection) -> Result<Target, Failure> {
    config::resolve(&conn.base_url, &conn.config).map_err(|e| fail::config(format!("{stage}: {e}")))
}

/// Validates the configuration and makes one cheap authenticated call.
pub fn check(remote: &dyn Remote, conn: &Connection) -> Result<(), Failure> {
    let target = resolve("check", conn)?;
    let client = Client::new(remote, &target);
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
    remote: &dyn Remote,
    cache: &mut Cache,
    stage: &str,
    conn: &Connection,
    f: impl FnOnce(&mut Ctx<'_>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let target = resolve(stage, conn)?;
    let mut ctx = Ctx {
        client: Client::new(remote, &target),
        cache,
    };
    f(&mut ctx)
}

fn with_instance<T>(
    stage: &str,
    conn: &Connection,
    f: impl FnOnce(&mut Ctx<'_>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    CACHE.with(|cache| with_ctx(&Host, &mut cache.borrow_mut(), stage, conn, f))
}

/// The exported component.
#[derive(Debug)]
pub struct Connector;

impl plugin::Guest for Connector {
    fn spec() -> ConnectorSpec {
        spec()
    }

    fn check(conn: Connection) -> Result<(), Failure> {
        check(&Host, &conn)
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
mlc_guest::export!(Connector);
