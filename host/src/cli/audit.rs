//! `ml-connector audit`: list, export (JSON lines) and verify the
//! hash-chained audit log.

use super::{ManifestArg, Outcome};
use anyhow::bail;
use mlc_host::audit::{self, Verification};
use mlc_host::manifest::Manifest;
use mlc_host::store::{SqliteStore, Store};

/// `audit` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check that no row was edited, inserted or deleted.
    Verify {
        #[command(flatten)]
        manifest: ManifestArg,
    },
    /// Write every row as JSON lines to stdout.
    Export {
        #[command(flatten)]
        manifest: ManifestArg,
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Show the latest rows.
    List {
        #[command(flatten)]
        manifest: ManifestArg,
        /// How many.
        #[arg(long, default_value_t = 20)]
        last: usize,
    },
}

fn store(manifest: &ManifestArg) -> anyhow::Result<SqliteStore> {
    let m = Manifest::load(&manifest.manifest)?;
    Ok(SqliteStore::open(&m.store_path)?)
}

pub async fn run(cmd: Command) -> anyhow::Result<Outcome> {
    match cmd {
        Command::Verify { manifest } => match audit::verify(&store(&manifest)?)? {
            Verification::Verified { rows, head } => {
                println!("audit: verified ({rows} rows, head {head})");
            }
            Verification::Broken { seq, reason } => {
                bail!("audit: BROKEN at row {seq}: {reason}");
            }
        },
        Command::Export { manifest, tenant } => {
            let mut out = std::io::stdout().lock();
            audit::export(&store(&manifest)?, tenant.as_deref(), &mut out)?;
        }
        Command::List { manifest, last } => {
            let store = store(&manifest)?;
            let mut rows = Vec::new();
            let mut after = 0;
            loop {
                let batch = store.audit_rows(after, 10_000)?;
                let Some(l) = batch.last() else { break };
                after = l.seq;
                rows.extend(batch);
                if rows.len() > last {
                    rows.drain(..rows.len() - last);
                }
            }
            for r in rows {
                let rec = &r.record;
                println!(
                    "{:>6} {} {}/{} {} {} {}{}",
                    r.seq,
                    rec.time_ms,
                    rec.tenant,
                    rec.flow,
                    rec.event,
                    rec.outcome,
                    rec.key.as_deref().unwrap_or(""),
                    if rec.message.is_empty() {
                        String::new()
                    } else {
                        format!(" - {}", rec.message)
                    }
                );
            }
        }
    }
    Ok(Outcome::Ok)
}
