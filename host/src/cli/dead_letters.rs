//! `ml-connector dead-letters`: records an operator must look at (refused by
//! the target, unmappable, or changed after delivery under
//! `on_change = "dead-letter"`). `replay` puts one back for the next run (a
//! document is looked up before it is written again; a record is mapped
//! again); `discard` drops it for good (kept in the ledger as skipped). Both
//! are recorded in the audit log. Each letter is shown with its kind
//! (`document`, `source` record that did not map, `unreadable` record); a
//! record the source could not read cannot be replayed, which `replay` says
//! (exit 1) after handling the others.

use super::{ManifestArg, Outcome, UsageError, time_text};
use mlc_host::clock::SystemClock;
use mlc_host::manifest::Manifest;
use mlc_host::pipeline::{Pipeline, PipelineError};
use mlc_host::store::{LedgerKind, Store};
use serde::Serialize;
use std::sync::Arc;

/// `dead-letters` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List dead letters with their reasons.
    List {
        #[command(flatten)]
        manifest: ManifestArg,
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Only this flow.
        #[arg(long)]
        flow: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Put dead letters back: the next run of the flow handles them again.
    Replay(Selection),
    /// Drop dead letters for good (recorded as skipped and in the audit log).
    Discard(Selection),
}

/// Which dead letters `replay` and `discard` act on.
#[derive(Debug, clap::Args)]
pub struct Selection {
    #[command(flatten)]
    manifest: ManifestArg,
    /// Tenant (needed when the manifest has several).
    #[arg(long)]
    tenant: Option<String>,
    /// The flow.
    #[arg(long)]
    flow: String,
    /// Keys, as `list` shows them.
    #[arg(required_unless_present = "all")]
    keys: Vec<String>,
    /// Only dead letters of this kind (`document`, `source`, `unreadable`),
    /// for a key that names more than one.
    #[arg(long, value_parser = parse_kind)]
    kind: Option<LedgerKind>,
    /// Every dead letter of the flow.
    #[arg(long, conflicts_with = "keys")]
    all: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn parse_kind(text: &str) -> Result<LedgerKind, String> {
    LedgerKind::parse(text)
        .ok_or_else(|| format!("unknown kind {text:?}: use document, source or unreadable"))
}

#[derive(Debug, Serialize)]
struct Row {
    tenant: String,
    flow: String,
    kind: &'static str,
    key: String,
    source_key: String,
    reason: String,
    attempts: u32,
    updated_ms: u64,
}

fn open(manifest: &ManifestArg) -> anyhow::Result<(Manifest, Pipeline)> {
    let m = Manifest::load(&manifest.manifest)?;
    let store = Arc::new(super::open_store(&m)?);
    let pipeline =
        Pipeline::new(store as Arc<dyn Store>, Arc::new(SystemClock)).with_lease_time(m.lease_ttl);
    Ok((m, pipeline))
}

fn list(
    m: &Manifest,
    pipeline: &Pipeline,
    tenant: Option<&str>,
    flow: Option<&str>,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (tname, t) in &m.tenants {
        if tenant.is_some_and(|x| x != tname) {
            continue;
        }
        for fname in t.flows.keys() {
            if flow.is_some_and(|x| x != fname) {
                continue;
            }
            for e in pipeline.dead_letters(tname, fname)? {
                rows.push(Row {
                    tenant: e.tenant,
                    flow: e.flow,
                    kind: e.kind.as_str(),
                    key: e.key,
                    source_key: e.source_key,
                    reason: e.reason.unwrap_or_default(),
                    attempts: e.attempts,
                    updated_ms: e.updated_ms,
                });
            }
        }
    }
    Ok(rows)
}

pub async fn run(cmd: Command) -> anyhow::Result<Outcome> {
    match cmd {
        Command::List {
            manifest,
            tenant,
            flow,
            json,
        } => {
            let (m, pipeline) = open(&manifest)?;
            if let Some(t) = &tenant {
                super::pick_tenant(&m, Some(t))?;
            }
            if let Some(f) = &flow {
                let t = super::pick_tenant(&m, tenant.as_deref())?;
                super::check_flow(&m, &t, f)?;
            }
            let rows = list(&m, &pipeline, tenant.as_deref(), flow.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                println!("no dead letters");
            } else {
                for r in &rows {
                    println!(
                        "{}/{}  {}  ({}, source {}, {} attempt(s), {})\n    {}",
                        r.tenant,
                        r.flow,
                        r.key,
                        r.kind,
                        r.source_key,
                        r.attempts,
                        time_text(r.updated_ms),
                        r.reason
                    );
                }
                println!(
                    "{} dead letter(s); `ml-connector dead-letters replay --flow FLOW KEY` retries one, `discard` drops it",
                    rows.len()
                );
            }
        }
        Command::Replay(sel) => act(sel, "replayed").await?,
        Command::Discard(sel) => act(sel, "discarded").await?,
    }
    Ok(Outcome::Ok)
}

async fn act(sel: Selection, action: &'static str) -> anyhow::Result<()> {
    let (m, pipeline) = open(&sel.manifest)?;
    let tenant = super::pick_tenant(&m, sel.tenant.as_deref())?;
    super::check_flow(&m, &tenant, &sel.flow)?;
    let letters: Vec<(LedgerKind, String)> = pipeline
        .dead_letters(&tenant, &sel.flow)?
        .into_iter()
        .filter(|e| sel.kind.is_none_or(|k| k == e.kind))
        .map(|e| (e.kind, e.key))
        .collect();
    let chosen: Vec<(LedgerKind, String)> = if sel.all {
        letters
    } else {
        // Refuse the whole batch when one key is not a dead letter: nothing half done.
        if let Some(missing) = sel
            .keys
            .iter()
            .find(|k| !letters.iter().any(|(_, key)| key == *k))
        {
            return Err(UsageError(format!(
                "no dead letter {missing:?}{} in flow {} of tenant {tenant}",
                sel.kind
                    .map(|k| format!(" of kind {k}"))
                    .unwrap_or_default(),
                sel.flow
            ))
            .into());
        }
        letters
            .into_iter()
            .filter(|(_, key)| sel.keys.contains(key))
            .collect()
    };
    let mut done = Vec::new();
    let mut refused = Vec::new();
    for (kind, key) in &chosen {
        let changed = if action == "replayed" {
            pipeline.replay_dead_letter(&tenant, &sel.flow, *kind, key)
        } else {
            pipeline.discard_dead_letter(&tenant, &sel.flow, *kind, key)
        };
        match changed {
            Ok(true) => done.push((*kind, key.clone())),
            Ok(false) => {}
            // Said at the end; the others are still handled.
            Err(e @ PipelineError::NotReplayable { .. }) => refused.push(e.to_string()),
            Err(e) => return Err(e.into()),
        }
    }
    if sel.json {
        let keys: Vec<&str> = done.iter().map(|(_, key)| key.as_str()).collect();
        let letters: Vec<_> = done
            .iter()
            .map(|(kind, key)| serde_json::json!({ "kind": kind.as_str(), "key": key }))
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "tenant": tenant,
                "flow": sel.flow,
                "action": action,
                "keys": keys,
                "letters": letters,
                "not_replayable": refused,
            })
        );
    } else {
        for (kind, key) in &done {
            println!("{action} {tenant}/{}  {key} ({kind})", sel.flow);
        }
        println!(
            "{} dead letter(s) {action}{}",
            done.len(),
            if action == "replayed" {
                format!(
                    "; the next run of {} handles them (`ml-connector sync --flow {}`)",
                    sel.flow, sel.flow
                )
            } else {
                String::new()
            }
        );
    }
    if !refused.is_empty() {
        anyhow::bail!(
            "{} dead letter(s) not replayed:\n  {}",
            refused.len(),
            refused.join("\n  ")
        );
    }
    Ok(())
}
