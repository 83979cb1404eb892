//! The SQLite store: one file (WAL mode) holds everything of every tenant.
//! Schema changes are numbered migrations applied at open, in a transaction.

use super::{
    AuditRecord, AuditRow, Crosswalks, FlowRun, LedgerEntry, RecordState, StateCounts, Store,
    StoreError, StoreResult,
};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Numbered schema migrations; the database records how many were applied.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE cursors (
        tenant TEXT NOT NULL, flow TEXT NOT NULL, cursor TEXT,
        PRIMARY KEY (tenant, flow));
     CREATE TABLE ledger (
        tenant TEXT NOT NULL, flow TEXT NOT NULL, key TEXT NOT NULL,
        source_key TEXT NOT NULL, hash TEXT NOT NULL, state TEXT NOT NULL,
        attempts INTEGER NOT NULL, target_key TEXT, reason TEXT,
        source_doc TEXT, body TEXT, updated_ms INTEGER NOT NULL,
        PRIMARY KEY (tenant, flow, key));
     CREATE INDEX ledger_state ON ledger (tenant, flow, state, updated_ms);
     CREATE TABLE xref (
        tenant TEXT NOT NULL, tbl TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (tenant, tbl, key));
     CREATE TABLE audit (
        seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, tenant TEXT NOT NULL,
        flow TEXT NOT NULL, event TEXT NOT NULL, source_key TEXT, key TEXT,
        target_key TEXT, payload_hash TEXT, attempt INTEGER, outcome TEXT NOT NULL,
        message TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
     CREATE TABLE secrets (
        tenant TEXT NOT NULL, name TEXT NOT NULL, sealed BLOB NOT NULL,
        PRIMARY KEY (tenant, name));
     CREATE TABLE tokens (
        tenant TEXT NOT NULL, connection TEXT NOT NULL, sealed BLOB NOT NULL,
        expires_ms INTEGER NOT NULL, PRIMARY KEY (tenant, connection));
     CREATE TABLE runs (
        tenant TEXT NOT NULL, flow TEXT NOT NULL, started_ms INTEGER NOT NULL,
        finished_ms INTEGER NOT NULL, outcome TEXT NOT NULL, message TEXT,
        read INTEGER NOT NULL, delivered INTEGER NOT NULL, unchanged INTEGER NOT NULL,
        parked INTEGER NOT NULL, dead INTEGER NOT NULL, retries INTEGER NOT NULL);
     CREATE INDEX runs_flow ON runs (tenant, flow, started_ms);",
    // 2: crosswalk entries travel with a pending document.
    "ALTER TABLE ledger ADD COLUMN xref TEXT;",
    // 3: a deferred write remembers the remote side's Retry-After.
    "ALTER TABLE ledger ADD COLUMN not_before_ms INTEGER;",
];

/// The hash that precedes the first audit row.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The SQLite implementation of [`Store`].
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and applies migrations.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let conn = Connection::open(path).map_err(|e| db_err(path, e))?;
        let store = SqliteStore {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        };
        store.prepare()?;
        Ok(store)
    }

    fn prepare(&self) -> StoreResult<()> {
        let mut conn = self.lock();
        // WAL: readers never block the writer; NORMAL sync is durable across
        // process crashes (the failure the ledger guards against).
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| db_err(&self.path, e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| db_err(&self.path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| db_err(&self.path, e))?;
        let applied: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| db_err(&self.path, e))?;
        if applied as usize > MIGRATIONS.len() {
            return Err(StoreError::Database {
                path: self.path.display().to_string(),
                detail: format!(
                    "schema version {applied} is newer than this ml-connector ({}); upgrade ml-connector",
                    MIGRATIONS.len()
                ),
            });
        }
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            let tx = conn.transaction().map_err(|e| db_err(&self.path, e))?;
            tx.execute_batch(migration)
                .map_err(|e| db_err(&self.path, e))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(|e| db_err(&self.path, e))?;
            tx.commit().map_err(|e| db_err(&self.path, e))?;
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite itself consistent.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        db_err(&self.path, e)
    }

    /// Runs one statement (prepared once per connection, then cached).
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> StoreResult<()> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        stmt.execute(params).map(|_| ()).map_err(|e| self.err(e))
    }
}

fn db_err(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::Database {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

/// The canonical text an audit row's hash covers: every field, in order,
/// length-prefixed so no two rows can serialize alike.
pub fn audit_hash(prev_hash: &str, seq: u64, r: &AuditRecord) -> String {
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

/// Appends one audit row inside `tx`, chained to the last one.
fn append_audit(
    tx: &rusqlite::Transaction<'_>,
    record: &AuditRecord,
) -> rusqlite::Result<AuditRow> {
    let last: Option<(i64, String)> = tx
        .prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (seq, prev_hash) = match last {
        Some((seq, hash)) => (seq as u64 + 1, hash),
        None => (1, GENESIS_HASH.to_string()),
    };
    let hash = audit_hash(&prev_hash, seq, record);
    tx.prepare_cached(
        "INSERT INTO audit (seq, time_ms, tenant, flow, event, source_key, key, target_key,
            payload_hash, attempt, outcome, message, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        seq as i64,
        record.time_ms as i64,
        record.tenant,
        record.flow,
        record.event,
        record.source_key,
        record.key,
        record.target_key,
        record.payload_hash,
        record.attempt,
        record.outcome,
        record.message,
        prev_hash,
        hash
    ])?;
    Ok(AuditRow {
        seq,
        record: record.clone(),
        prev_hash,
        hash,
    })
}

fn ledger_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(LedgerEntry, String)> {
    let state: String = row.get(5)?;
    Ok((
        LedgerEntry {
            tenant: row.get(0)?,
            flow: row.get(1)?,
            key: row.get(2)?,
            source_key: row.get(3)?,
            hash: row.get(4)?,
            state: RecordState::Pending,
            attempts: row.get(6)?,
            target_key: row.get(7)?,
            reason: row.get(8)?,
            source_doc: row.get(9)?,
            body: row.get(10)?,
            updated_ms: row.get::<_, i64>(11)? as u64,
            xref: row.get(12)?,
            not_before_ms: row.get::<_, Option<i64>>(13)?.map(|v| v as u64),
        },
        state,
    ))
}

fn with_state((mut entry, state): (LedgerEntry, String)) -> StoreResult<LedgerEntry> {
    entry.state = RecordState::parse(&state).ok_or_else(|| StoreError::Corrupt {
        what: format!("ledger row {}/{}/{}", entry.tenant, entry.flow, entry.key),
        detail: format!("unknown state {state:?}"),
    })?;
    Ok(entry)
}

const LEDGER_COLUMNS: &str = "tenant, flow, key, source_key, hash, state, attempts, target_key, reason, source_doc, body, updated_ms, xref, not_before_ms";

impl Store for SqliteStore {
    fn cursor(&self, tenant: &str, flow: &str) -> StoreResult<Option<String>> {
        self.lock()
            .query_row(
                "SELECT cursor FROM cursors WHERE tenant = ?1 AND flow = ?2",
                params![tenant, flow],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.err(e))
    }

    fn set_cursor(&self, tenant: &str, flow: &str, cursor: Option<&str>) -> StoreResult<()> {
        self.lock()
            .execute(
                "INSERT INTO cursors (tenant, flow, cursor) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant, flow) DO UPDATE SET cursor = excluded.cursor",
                params![tenant, flow, cursor],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn ledger_get(&self, tenant: &str, flow: &str, key: &str) -> StoreResult<Option<LedgerEntry>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {LEDGER_COLUMNS} FROM ledger WHERE tenant = ?1 AND flow = ?2 AND key = ?3"
            ))
            .map_err(|e| self.err(e))?;
        let row = stmt
            .query_row(params![tenant, flow, key], ledger_from_row)
            .optional()
            .map_err(|e| self.err(e))?;
        row.map(with_state).transpose()
    }

    fn ledger_put(&self, e: &LedgerEntry) -> StoreResult<()> {
        self.commit(&e.tenant, std::slice::from_ref(e), &[], &[])
    }

    fn ledger_delete(&self, tenant: &str, flow: &str, key: &str) -> StoreResult<()> {
        self.lock()
            .execute(
                "DELETE FROM ledger WHERE tenant = ?1 AND flow = ?2 AND key = ?3",
                params![tenant, flow, key],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn ledger_in_state(
        &self,
        tenant: &str,
        flow: &str,
        state: RecordState,
        limit: usize,
    ) -> StoreResult<Vec<LedgerEntry>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {LEDGER_COLUMNS} FROM ledger WHERE tenant = ?1 AND flow = ?2 AND state = ?3
                 ORDER BY updated_ms, key LIMIT ?4"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(
                params![tenant, flow, state.as_str(), limit as i64],
                ledger_from_row,
            )
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter().map(with_state).collect()
    }

    fn ledger_counts(&self, tenant: &str, flow: &str) -> StoreResult<StateCounts> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT state, COUNT(*) FROM ledger WHERE tenant = ?1 AND flow = ?2 GROUP BY state",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![tenant, flow], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        let mut counts = StateCounts::new();
        for (state, n) in rows {
            let state = RecordState::parse(&state).ok_or_else(|| StoreError::Corrupt {
                what: "ledger".into(),
                detail: format!("unknown state {state:?}"),
            })?;
            counts.insert(state, n as u64);
        }
        Ok(counts)
    }

    fn xref_put(&self, tenant: &str, table: &str, key: &str, value: &str) -> StoreResult<()> {
        self.exec(
            "INSERT INTO xref (tenant, tbl, key, value) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (tenant, tbl, key) DO UPDATE SET value = excluded.value",
            params![tenant, table, key, value],
        )
    }

    fn xrefs(&self, tenant: &str) -> StoreResult<Crosswalks> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT tbl, key, value FROM xref WHERE tenant = ?1")
            .map_err(|e| self.err(e))?;
        let mut out = Crosswalks::new();
        let rows = stmt
            .query_map(params![tenant], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (table, key, value) = row.map_err(|e| self.err(e))?;
            out.entry(table).or_default().insert(key, value);
        }
        Ok(out)
    }

    fn commit(
        &self,
        tenant: &str,
        ledger: &[LedgerEntry],
        xrefs: &[(String, String, String)],
        audit: &[AuditRecord],
    ) -> StoreResult<()> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        {
            let mut put = tx
                .prepare_cached(&format!(
                    "INSERT OR REPLACE INTO ledger ({LEDGER_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                ))
                .map_err(|e| self.err(e))?;
            for e in ledger {
                put.execute(params![
                    e.tenant,
                    e.flow,
                    e.key,
                    e.source_key,
                    e.hash,
                    e.state.as_str(),
                    e.attempts,
                    e.target_key,
                    e.reason,
                    e.source_doc,
                    e.body,
                    e.updated_ms as i64,
                    e.xref,
                    e.not_before_ms.map(|v| v as i64)
                ])
                .map_err(|e| self.err(e))?;
            }
            let mut xref = tx
                .prepare_cached(
                    "INSERT INTO xref (tenant, tbl, key, value) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (tenant, tbl, key) DO UPDATE SET value = excluded.value",
                )
                .map_err(|e| self.err(e))?;
            for (table, key, value) in xrefs {
                xref.execute(params![tenant, table, key, value])
                    .map_err(|e| self.err(e))?;
            }
            for record in audit {
                append_audit(&tx, record).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    fn audit_append(&self, record: &AuditRecord) -> StoreResult<AuditRow> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let row = append_audit(&tx, record).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(row)
    }

    fn audit_rows(&self, after: u64, limit: usize) -> StoreResult<Vec<AuditRow>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, time_ms, tenant, flow, event, source_key, key, target_key,
                    payload_hash, attempt, outcome, message, prev_hash, hash
                 FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map(params![after as i64, limit as i64], |r| {
            Ok(AuditRow {
                seq: r.get::<_, i64>(0)? as u64,
                record: AuditRecord {
                    time_ms: r.get::<_, i64>(1)? as u64,
                    tenant: r.get(2)?,
                    flow: r.get(3)?,
                    event: r.get(4)?,
                    source_key: r.get(5)?,
                    key: r.get(6)?,
                    target_key: r.get(7)?,
                    payload_hash: r.get(8)?,
                    attempt: r.get(9)?,
                    outcome: r.get(10)?,
                    message: r.get(11)?,
                },
                prev_hash: r.get(12)?,
                hash: r.get(13)?,
            })
        })
        .map_err(|e| self.err(e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| self.err(e))
    }

    fn secret_put(&self, tenant: &str, name: &str, sealed: &[u8]) -> StoreResult<()> {
        self.lock()
            .execute(
                "INSERT INTO secrets (tenant, name, sealed) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant, name) DO UPDATE SET sealed = excluded.sealed",
                params![tenant, name, sealed],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn secret_get(&self, tenant: &str, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.lock()
            .query_row(
                "SELECT sealed FROM secrets WHERE tenant = ?1 AND name = ?2",
                params![tenant, name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn secret_names(&self, tenant: &str) -> StoreResult<Vec<String>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT name FROM secrets WHERE tenant = ?1 ORDER BY name")
            .map_err(|e| self.err(e))?;
        stmt.query_map(params![tenant], |r| r.get(0))
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))
    }

    fn token_put(
        &self,
        tenant: &str,
        connection: &str,
        sealed: &[u8],
        expires_ms: u64,
    ) -> StoreResult<()> {
        self.lock()
            .execute(
                "INSERT INTO tokens (tenant, connection, sealed, expires_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, connection) DO UPDATE SET sealed = excluded.sealed,
                    expires_ms = excluded.expires_ms",
                params![tenant, connection, sealed, expires_ms as i64],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn token_get(&self, tenant: &str, connection: &str) -> StoreResult<Option<(Vec<u8>, u64)>> {
        self.lock()
            .query_row(
                "SELECT sealed, expires_ms FROM tokens WHERE tenant = ?1 AND connection = ?2",
                params![tenant, connection],
                |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn run_put(&self, run: &FlowRun) -> StoreResult<()> {
        self.lock()
            .execute(
                "INSERT INTO runs (tenant, flow, started_ms, finished_ms, outcome, message, read,
                    delivered, unchanged, parked, dead, retries)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    run.tenant,
                    run.flow,
                    run.started_ms as i64,
                    run.finished_ms as i64,
                    run.outcome,
                    run.message,
                    run.read as i64,
                    run.delivered as i64,
                    run.unchanged as i64,
                    run.parked as i64,
                    run.dead as i64,
                    run.retries as i64
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn runs(&self, tenant: &str, flow: &str, limit: usize) -> StoreResult<Vec<FlowRun>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT tenant, flow, started_ms, finished_ms, outcome, message, read, delivered,
                    unchanged, parked, dead, retries
                 FROM runs WHERE tenant = ?1 AND flow = ?2 ORDER BY started_ms DESC LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map(params![tenant, flow, limit as i64], |r| {
            Ok(FlowRun {
                tenant: r.get(0)?,
                flow: r.get(1)?,
                started_ms: r.get::<_, i64>(2)? as u64,
                finished_ms: r.get::<_, i64>(3)? as u64,
                outcome: r.get(4)?,
                message: r.get(5)?,
                read: r.get::<_, i64>(6)? as u64,
                delivered: r.get::<_, i64>(7)? as u64,
                unchanged: r.get::<_, i64>(8)? as u64,
                parked: r.get::<_, i64>(9)? as u64,
                dead: r.get::<_, i64>(10)? as u64,
                retries: r.get::<_, i64>(11)? as u64,
            })
        })
        .map_err(|e| self.err(e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("mlc.db")).unwrap();
        (dir, store)
    }

    fn entry(key: &str, state: RecordState) -> LedgerEntry {
        LedgerEntry {
            tenant: "acme".into(),
            flow: "f".into(),
            key: key.into(),
            source_key: format!("src-{key}"),
            hash: "h".into(),
            state,
            attempts: 1,
            target_key: None,
            reason: None,
            source_doc: Some("{}".into()),
            body: None,
            updated_ms: 1,
            xref: None,
            not_before_ms: None,
        }
    }

    #[test]
    fn reopening_applies_no_migration_twice_and_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mlc.db");
        SqliteStore::open(&path)
            .unwrap()
            .set_cursor("acme", "f", Some("c1"))
            .unwrap();
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(again.cursor("acme", "f").unwrap().as_deref(), Some("c1"));
    }

    #[test]
    fn ledger_rows_are_per_tenant_and_flow() {
        let (_d, s) = store();
        s.ledger_put(&entry("k1", RecordState::Parked)).unwrap();
        let mut other = entry("k1", RecordState::Delivered);
        other.tenant = "globex".into();
        s.ledger_put(&other).unwrap();
        assert_eq!(
            s.ledger_get("acme", "f", "k1").unwrap().unwrap().state,
            RecordState::Parked
        );
        assert_eq!(
            s.ledger_get("globex", "f", "k1").unwrap().unwrap().state,
            RecordState::Delivered
        );
        assert_eq!(
            s.ledger_in_state("acme", "f", RecordState::Parked, 10)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            s.ledger_counts("acme", "f").unwrap()[&RecordState::Parked],
            1
        );
    }

    #[test]
    fn audit_rows_chain_each_to_the_previous() {
        let (_d, s) = store();
        let rec = |m: &str| AuditRecord {
            time_ms: 5,
            tenant: "acme".into(),
            flow: "f".into(),
            event: "record_delivered".into(),
            source_key: Some("1".into()),
            key: None,
            target_key: None,
            payload_hash: None,
            attempt: Some(1),
            outcome: "ok".into(),
            message: m.into(),
        };
        let a = s.audit_append(&rec("a")).unwrap();
        let b = s.audit_append(&rec("b")).unwrap();
        assert_eq!(a.prev_hash, GENESIS_HASH);
        assert_eq!(b.prev_hash, a.hash);
        assert_eq!(b.hash, audit_hash(&a.hash, 2, &rec("b")));
        assert_eq!(s.audit_rows(0, 10).unwrap(), vec![a, b]);
    }

    #[test]
    fn crosswalks_group_by_table() {
        let (_d, s) = store();
        s.xref_put("acme", "vendor", "17", "0000000101").unwrap();
        s.xref_put("acme", "vendor", "17", "0000000102").unwrap();
        s.xref_put("acme", "dept", "4", "20100").unwrap();
        let x = s.xrefs("acme").unwrap();
        assert_eq!(x["vendor"]["17"], "0000000102");
        assert_eq!(x["dept"]["4"], "20100");
        assert!(s.xrefs("globex").unwrap().is_empty());
    }
}
