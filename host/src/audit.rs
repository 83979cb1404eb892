//! The audit log's guarantees, in one place: the hash chain (how a row is
//! linked to the previous one; stores call [`link`] when they append),
//! its verification (an edited, inserted or deleted row breaks it) and
//! export as JSON lines.

use crate::store::{AuditRecord, AuditRow, Store, StoreError};
use sha2::{Digest, Sha256};
use std::io::Write;

/// The hash that precedes the first audit row.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A row's hash: SHA-256 over the previous row's hash, its sequence number
/// and every field of the record, in order, each length-prefixed so no two
/// rows can serialize alike.
pub fn row_hash(prev_hash: &str, seq: u64, r: &AuditRecord) -> String {
    let mut h = Sha256::new();
    let mut field = |s: &str| {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    field(prev_hash);
    field(&seq.to_string());
    field(&r.time_ms.to_string());
    field(&r.tenant);
    field(&r.flow);
    field(&r.event);
    field(r.source_key.as_deref().unwrap_or("\u{0}"));
    field(r.key.as_deref().unwrap_or("\u{0}"));
    field(r.target_key.as_deref().unwrap_or("\u{0}"));
    field(r.payload_hash.as_deref().unwrap_or("\u{0}"));
    field(&r.attempt.map(|a| a.to_string()).unwrap_or_default());
    field(&r.outcome);
    field(&r.message);
    hex::encode(h.finalize())
}

/// Where `record` goes in the chain after the last row (`(seq, hash)`, none
/// for an empty log): its sequence number, the previous hash and its own
/// hash. A store calls it inside the transaction that read the last row.
pub fn link(last: Option<(u64, String)>, record: &AuditRecord) -> (u64, String, String) {
    let (seq, prev_hash) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS_HASH.to_string()),
    };
    let hash = row_hash(&prev_hash, seq, record);
    (seq, prev_hash, hash)
}

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
    let mut prev = GENESIS_HASH.to_string();
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
            if row_hash(&row.prev_hash, row.seq, &row.record) != row.hash {
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
