//! `ml-connector audit`: list, export (JSON lines) and verify the
//! hash-chained audit log. A broken chain is a failure (exit 1).

use super::{ManifestArg, Outcome, time_text};
use anyhow::{Context, bail};
use mlc_host::audit::{self, Verification};
use mlc_host::manifest::Manifest;
use mlc_host::store::{AuditRow, SqliteStore, Store};
use std::path::PathBuf;

/// `audit` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check that no row was edited, inserted or deleted.
    Verify {
        #[command(flatten)]
        manifest: ManifestArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write every row as JSON lines (stdout, or --output).
    Export {
        #[command(flatten)]
        manifest: ManifestArg,
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Write to this file instead of stdout.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// Show the latest rows, oldest first.
    List {
        #[command(flatten)]
        manifest: ManifestArg,
        /// How many.
        #[arg(long, default_value_t = 20)]
        last: usize,
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Only this flow.
        #[arg(long)]
        flow: Option<String>,
        /// Only this event (`record_delivered`, `flow_halted`, ...).
        #[arg(long)]
        event: Option<String>,
        /// Print JSON (one array).
        #[arg(long)]
        json: bool,
    },
}

fn store(manifest: &ManifestArg) -> anyhow::Result<(Manifest, SqliteStore)> {
    let m = Manifest::load(&manifest.manifest)?;
    let s = super::open_store(&m)?;
    Ok((m, s))
}

pub async fn run(cmd: Command) -> anyhow::Result<Outcome> {
    match cmd {
        Command::Verify { manifest, json } => {
            let (_, s) = store(&manifest)?;
            let verdict = audit::verify(&s)?;
            if json {
                let value = match &verdict {
                    Verification::Verified { rows, head } => {
                        serde_json::json!({ "verified": true, "rows": rows, "head": head })
                    }
                    Verification::Broken { seq, reason } => {
                        serde_json::json!({ "verified": false, "seq": seq, "reason": reason })
                    }
                };
                println!("{value}");
            }
            match verdict {
                Verification::Verified { rows, head } => {
                    if !json {
                        println!("audit: verified ({rows} rows, head {head})");
                        println!(
                            "keep the head hash elsewhere: a later verify that ends on another head means rows were cut off"
                        );
                    }
                }
                Verification::Broken { seq, reason } => {
                    bail!("audit: BROKEN at row {seq}: {reason}");
                }
            }
        }
        Command::Export {
            manifest,
            tenant,
            output,
        } => {
            let (m, s) = store(&manifest)?;
            if let Some(t) = &tenant {
                super::pick_tenant(&m, Some(t))?;
            }
            let written = match &output {
                Some(path) => {
                    let file = std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    let mut out = std::io::BufWriter::new(file);
                    let n = audit::export(&s, tenant.as_deref(), &mut out)?;
                    std::io::Write::flush(&mut out)
                        .with_context(|| format!("writing {}", path.display()))?;
                    n
                }
                None => audit::export(&s, tenant.as_deref(), &mut std::io::stdout().lock())?,
            };
            if let Some(path) = &output {
                println!("{written} audit rows written to {}", path.display());
            }
        }
        Command::List {
            manifest,
            last,
            tenant,
            flow,
            event,
            json,
        } => {
            let (m, s) = store(&manifest)?;
            if let Some(t) = &tenant {
                super::pick_tenant(&m, Some(t))?;
            }
            let keep = |r: &AuditRow| {
                tenant.as_deref().is_none_or(|t| t == r.record.tenant)
                    && flow.as_deref().is_none_or(|f| f == r.record.flow)
                    && event.as_deref().is_none_or(|e| e == r.record.event)
            };
            let mut rows: Vec<AuditRow> = Vec::new();
            let mut after = 0;
            loop {
                let batch = s.audit_rows(after, 10_000)?;
                let Some(l) = batch.last() else { break };
                after = l.seq;
                rows.extend(batch.into_iter().filter(|r| keep(r)));
                if rows.len() > last {
                    rows.drain(..rows.len() - last);
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for r in rows {
                    let rec = &r.record;
                    println!(
                        "{:>6} {} {}/{} {} {}{}{}",
                        r.seq,
                        time_text(rec.time_ms),
                        rec.tenant,
                        rec.flow,
                        rec.event,
                        rec.outcome,
                        rec.key
                            .as_deref()
                            .map(|k| format!(" {k}"))
                            .unwrap_or_default(),
                        if rec.message.is_empty() {
                            String::new()
                        } else {
                            format!(" - {}", rec.message)
                        }
                    );
                }
            }
        }
    }
    Ok(Outcome::Ok)
}
