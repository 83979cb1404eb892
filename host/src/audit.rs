//! The audit log's guarantees: verification of the hash chain (an edited,
//! inserted or deleted row breaks it) and export as JSON lines.

use crate::store::{AuditRow, Store, StoreError, sqlite_audit_hash};
use std::io::Write;

/// Rows read per batch.
const BATCH: usize = 5_000;

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every row chains to the previous one.
    Verified {
        /// Rows checked.
        rows: u64,
        /// Hash of the last row (keep it elsewhere to detect truncation).
        head: String,
    },
    /// The chain breaks at `seq`.
    Broken {
        /// First row that does not fit.
        seq: u64,
        /// How it does not fit.
        reason: String,
    },
}

/// Checks the whole chain.
pub fn verify(store: &dyn Store) -> Result<Verification, StoreError> {
    let mut expected_seq = 1u64;
    let mut prev = crate::store::GENESIS_HASH.to_string();
    let mut after = 0u64;
    loop {
        let rows = store.audit_rows(after, BATCH)?;
        if rows.is_empty() {
            return Ok(Verification::Verified {
                rows: expected_seq - 1,
                head: prev,
            });
        }
        for row in rows {
            if row.seq != expected_seq {
                return Ok(Verification::Broken {
                    seq: expected_seq,
                    reason: format!("row {expected_seq} is missing (next row is {})", row.seq),
                });
            }
            if row.prev_hash != prev {
                return Ok(Verification::Broken {
                    seq: row.seq,
                    reason: "does not chain to the previous row".into(),
                });
            }
            if sqlite_audit_hash(&row.prev_hash, row.seq, &row.record) != row.hash {
                return Ok(Verification::Broken {
                    seq: row.seq,
                    reason: "its content does not match its hash (edited)".into(),
                });
            }
            prev = row.hash.clone();
            after = row.seq;
            expected_seq += 1;
        }
    }
}

/// Writes every row (optionally of one tenant) as one JSON object per line.
pub fn export(
    store: &dyn Store,
    tenant: Option<&str>,
    out: &mut dyn Write,
) -> Result<u64, AuditExportError> {
    let mut after = 0;
    let mut written = 0;
    loop {
        let rows: Vec<AuditRow> = store.audit_rows(after, BATCH)?;
        let Some(last) = rows.last() else {
            return Ok(written);
        };
        after = last.seq;
        for row in rows
            .iter()
            .filter(|r| tenant.is_none_or(|t| r.record.tenant == t))
        {
            serde_json::to_writer(&mut *out, row)
                .map_err(|e| AuditExportError::Write(e.to_string()))?;
            out.write_all(b"\n")
                .map_err(|e| AuditExportError::Write(e.to_string()))?;
            written += 1;
        }
    }
}

/// Errors of the export.
#[derive(Debug, thiserror::Error)]
pub enum AuditExportError {
    /// Reading the log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the output failed.
    #[error("writing the audit export: {0}")]
    Write(String),
}
