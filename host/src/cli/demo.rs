//! `ml-connector demo`: starts both sandbox systems in-process, loads the two
//! built-in connector components into per-tenant sandboxes (OAuth2 for
//! Procurify, WS-Security for PeopleSoft, credentials attached by the host),
//! checks both connections and reads every stream the sync flows will use,
//! then prints a summary.
//!
//! The flows themselves (mapping, ledger, writes, audit) come with the
//! pipeline; until then the demo shows the platform they run on.

use anyhow::{Context, bail};
use mlc_host::clock::SystemClock;
use mlc_host::components;
use mlc_host::credentials::{
    Authenticator, Credentials, MemorySecrets, SecretRef, Setting, TokenBody, TokenEndpoint,
};
use mlc_host::egress::{ConnectionEgress, EgressLimits, Origin};
use mlc_host::events::{Event, EventLog};
use mlc_host::runtime::{
    Connection, Connector, ConnectorInstance, Runtime, RuntimeConfig, Sandbox, SandboxLimits,
};
use mlc_sandbox::catalog;
use mlc_sandbox::peoplesoft::{DEMO_PASSWORD, DEMO_USER, PeopleSoftConfig, PeopleSoftSandbox};
use mlc_sandbox::procurify::{ProcurifyConfig, ProcurifySandbox};
use std::sync::Arc;
use std::time::Instant;

/// The demo's tenant name.
const TENANT: &str = "demo";

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of Procurify requisitions the sandbox generates.
    #[arg(long, default_value_t = 300)]
    size: usize,
    /// Seed of the sandbox data.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// One line of the summary.
struct Row {
    system: &'static str,
    stream: &'static str,
    records: usize,
    bad: usize,
    pages: usize,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let procurify_config = ProcurifyConfig {
        seed: args.seed,
        requisitions: args.size,
        ..ProcurifyConfig::default()
    };
    let procurify = ProcurifySandbox::start(procurify_config.clone())
        .await
        .context("starting the Procurify sandbox")?;
    let peoplesoft = PeopleSoftSandbox::start(PeopleSoftConfig {
        seed: args.seed,
        ..PeopleSoftConfig::default()
    })
    .await
    .context("starting the PeopleSoft sandbox")?;
    println!("Sandbox systems:");
    println!(
        "  Procurify   {} ({} requisitions, seed {})",
        procurify.base_url(),
        args.size,
        args.seed
    );
    println!("  PeopleSoft  {}", peoplesoft.listener_url());

    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache_dir()),
        ..RuntimeConfig::default()
    })?;
    let t = Instant::now();
    let (procurify_connector, outcome_p) =
        runtime.load("procurify", components::CONNECTOR_PROCURIFY)?;
    let (peoplesoft_connector, outcome_s) =
        runtime.load("peoplesoft", components::CONNECTOR_PEOPLESOFT)?;
    println!(
        "Components loaded in {:.0?} (procurify: {outcome_p:?}, peoplesoft: {outcome_s:?})",
        t.elapsed()
    );

    // Secrets live with the host; the manifest (here: this code) only names them.
    let secrets = Arc::new(MemorySecrets::new());
    secrets.set(
        TENANT,
        "procurify/client_secret",
        &procurify_config.client_secret,
    );
    secrets.set(TENANT, "peoplesoft/password", DEMO_PASSWORD);
    let events = Arc::new(EventLog::new());

    let procurify_sandbox = sandbox(
        "procurify",
        &procurify.base_url(),
        Credentials::OAuth2ClientCredentials {
            endpoint: TokenEndpoint {
                url: procurify.token_url(),
                body: TokenBody::Json,
                audience: Some("https://api.procurify.com/".into()),
                scope: None,
                default_ttl_secs: 86_400,
            },
            client_id: Setting::Plain(procurify_config.client_id.clone()),
            client_secret: SecretRef::parse("secret:procurify/client_secret")?,
        },
        &secrets,
        &events,
    )?;
    let peoplesoft_sandbox = sandbox(
        "peoplesoft",
        &peoplesoft.base_url(),
        Credentials::Wsse {
            username: Setting::Plain(DEMO_USER.into()),
            password: SecretRef::parse("secret:peoplesoft/password")?,
        },
        &secrets,
        &events,
    )?;
    let procurify_conn = Connection {
        base_url: procurify.base_url(),
        config: serde_json::json!({ "page_size": 100 }).to_string(),
    };
    let peoplesoft_conn = Connection {
        base_url: peoplesoft.base_url(),
        config: serde_json::json!({
            "node": peoplesoft.config().node,
            "setid": catalog::SETID,
            "business_unit": catalog::BUSINESS_UNITS[0],
        })
        .to_string(),
    };

    let mut rows = Vec::new();
    let mut p = start(&procurify_connector, &procurify_sandbox, &procurify_conn).await?;
    for stream in [
        "approved_requisitions",
        "vendors",
        "account_codes",
        "departments",
    ] {
        rows.push(read_all(&mut p, &procurify_conn, "Procurify", stream).await?);
    }
    let mut s = start(&peoplesoft_connector, &peoplesoft_sandbox, &peoplesoft_conn).await?;
    for stream in ["vendors", "accounts", "departments", "vouchers"] {
        rows.push(read_all(&mut s, &peoplesoft_conn, "PeopleSoft", stream).await?);
    }

    println!();
    println!(
        "{:<11} {:<22} {:>8} {:>5} {:>6}",
        "system", "stream", "records", "bad", "pages"
    );
    for r in &rows {
        println!(
            "{:<11} {:<22} {:>8} {:>5} {:>6}",
            r.system, r.stream, r.records, r.bad, r.pages
        );
    }
    let recent = events.recent();
    let tokens = recent
        .iter()
        .filter(|e| matches!(e, Event::TokenRefreshed { .. }))
        .count();
    let denied = recent
        .iter()
        .filter(|e| matches!(e, Event::EgressDenied { .. }))
        .count();
    println!();
    println!(
        "Procurify requests: {} (OAuth2 tokens fetched by the host: {tokens}); PeopleSoft requests: {} (WS-Security added by the host)",
        procurify.server().requests().len(),
        peoplesoft.server().requests().len()
    );
    println!(
        "Egress denials: {denied}. Done in {:.1?}.",
        started.elapsed()
    );
    println!(
        "Next: the sync flows (requisitions -> POs, vendors and GL both ways) arrive with the pipeline."
    );
    if rows.iter().all(|r| r.records == 0) {
        bail!("the demo read no records at all: the sandbox or the connectors are broken");
    }
    Ok(())
}

fn sandbox(
    connection: &str,
    base_url: &str,
    credentials: Credentials,
    secrets: &Arc<MemorySecrets>,
    events: &Arc<EventLog>,
) -> anyhow::Result<Sandbox> {
    let clock = Arc::new(SystemClock);
    let auth = Authenticator::new(
        TENANT,
        connection,
        credentials,
        secrets.clone(),
        events.clone(),
        clock.clone(),
    );
    Ok(Sandbox {
        limits: SandboxLimits::default(),
        egress: Arc::new(ConnectionEgress {
            tenant: TENANT.into(),
            connection: connection.into(),
            origin: Origin::parse(base_url)?,
            extra_origins: Vec::new(),
            auth: Some(Arc::new(auth)),
            limits: EgressLimits::default(),
            events: events.clone(),
        }),
        events: events.clone(),
        clock,
    })
}

async fn start(
    connector: &Connector,
    sandbox: &Sandbox,
    connection: &Connection,
) -> anyhow::Result<ConnectorInstance> {
    let mut instance = connector.instantiate(sandbox).await?;
    let spec = instance.spec().await?;
    instance
        .check(connection)
        .await
        .with_context(|| format!("checking the {} connection", spec.name))?;
    println!(
        "  {} {}: connection checked; streams: {}",
        spec.name,
        spec.version,
        spec.streams
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(instance)
}

async fn read_all(
    instance: &mut ConnectorInstance,
    connection: &Connection,
    system: &'static str,
    stream: &'static str,
) -> anyhow::Result<Row> {
    let mut row = Row {
        system,
        stream,
        records: 0,
        bad: 0,
        pages: 0,
    };
    let mut cursor: Option<String> = None;
    loop {
        let page = instance
            .read(connection, stream, cursor.as_deref())
            .await
            .with_context(|| format!("reading {system} {stream}"))?;
        row.pages += 1;
        row.records += page.docs.len();
        row.bad += page.bad_records.len();
        if page.cursor.is_some() {
            cursor = page.cursor;
        }
        if !page.more {
            return Ok(row);
        }
        if row.pages > 100_000 {
            bail!("{system} {stream}: more than 100000 pages; the cursor is not advancing");
        }
    }
}

/// Precompiled components are kept in the user's cache directory.
fn cache_dir() -> std::path::PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("ml-connector").join("components")
}
