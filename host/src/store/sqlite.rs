//! The SQLite store: one file (WAL mode) holds everything of every tenant,
//! shared by any number of processes on one machine. Schema changes are
//! numbered migrations applied at open, in an exclusive transaction, never
//! while another process holds a lease. Every write is one `IMMEDIATE`
//! transaction (the database's write lock is taken first, so a read inside
//! it, such as the audit chain's last hash or a lease's token, cannot be
//! overtaken by another process); a fenced view adds the lease check to it.

use super::{
    AuditRecord, AuditRow, Crosswalks, Fence, FlowRun, LeaseGrant, LeaseHolder, LeaseInfo,
    LedgerEntry, LedgerKind, RecordState, StateCounts, Store, StoreError, StoreResult,
};
use crate::audit;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

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
    // 4: one lease per (tenant, flow) with a fencing token that only grows
    //    (a released lease keeps its row and token; holder_id NULL = free).
    "CREATE TABLE leases (
        tenant TEXT NOT NULL, flow TEXT NOT NULL, token INTEGER NOT NULL,
        holder_id TEXT, pid INTEGER, host TEXT, command TEXT, machine TEXT,
        acquired_ms INTEGER NOT NULL, renewed_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,
        PRIMARY KEY (tenant, flow));",
    // 5: a ledger row's kind is a column and part of its identity, not a
    //    key prefix: `source:K` and `unreadable:K` rows become kind `source`
    //    and `unreadable` with key `K`; every other row is a `document`.
    "CREATE TABLE ledger_v5 (
        tenant TEXT NOT NULL, flow TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
        source_key TEXT NOT NULL, hash TEXT NOT NULL, state TEXT NOT NULL,
        attempts INTEGER NOT NULL, target_key TEXT, reason TEXT,
        source_doc TEXT, body TEXT, updated_ms INTEGER NOT NULL,
        xref TEXT, not_before_ms INTEGER,
        PRIMARY KEY (tenant, flow, kind, key));
     INSERT INTO ledger_v5 (tenant, flow, kind, key, source_key, hash, state, attempts,
        target_key, reason, source_doc, body, updated_ms, xref, not_before_ms)
     SELECT tenant, flow,
        CASE WHEN substr(key, 1, 7) = 'source:' THEN 'source'
             WHEN substr(key, 1, 11) = 'unreadable:' THEN 'unreadable'
             ELSE 'document' END,
        CASE WHEN substr(key, 1, 7) = 'source:' THEN substr(key, 8)
             WHEN substr(key, 1, 11) = 'unreadable:' THEN substr(key, 12)
             ELSE key END,
        source_key, hash, state, attempts, target_key, reason, source_doc, body,
        updated_ms, xref, not_before_ms
     FROM ledger;
     DROP TABLE ledger;
     ALTER TABLE ledger_v5 RENAME TO ledger;
     CREATE INDEX ledger_state ON ledger (tenant, flow, state, updated_ms);",
    // 6: run history keeps every count of a run (older rows: 0).
    "ALTER TABLE runs ADD COLUMN linked INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE runs ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE runs ADD COLUMN deferred INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE runs ADD COLUMN unreadable INTEGER NOT NULL DEFAULT 0;",
];

/// The SQLite implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    /// One connection per process (views share it).
    conn: Arc<Mutex<Connection>>,
    /// Set on a run's fenced view: every write checks it first.
    fence: Option<Fence>,
}

/// Milliseconds since the epoch by this machine's clock: leases are about
/// real time shared by processes, never a test's manual clock.
fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and applies migrations.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let conn = Connection::open(path).map_err(|e| db_err(path, e))?;
        let store = SqliteStore {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(conn)),
            fence: None,
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
        if applied as usize == MIGRATIONS.len() {
            return Ok(());
        }
        // Exclusive: no other process reads or writes while the schema
        // changes; and none may be in the middle of a run either (an older
        // binary holding a lease would write rows the new schema does not
        // expect), so a live lease refuses the migration.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)
            .map_err(|e| db_err(&self.path, e))?;
        let applied: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| db_err(&self.path, e))?;
        let has_leases: bool = tx
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'leases'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| db_err(&self.path, e))?
            > 0;
        if has_leases {
            let live = live_leases(&tx, wall_ms()).map_err(|e| db_err(&self.path, e))?;
            if let Some(lease) = live.first() {
                return Err(StoreError::Database {
                    path: self.path.display().to_string(),
                    detail: format!(
                        "the schema must be upgraded (version {applied} -> {}), but the store is in use: {} holds flow {} of tenant {} until {} ms; stop every ml-connector process on this store, then start this one again",
                        MIGRATIONS.len(),
                        lease.holder,
                        lease.flow,
                        lease.tenant,
                        lease.expires_ms
                    ),
                });
            }
        }
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            tx.execute_batch(migration)
                .map_err(|e| db_err(&self.path, e))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(|e| db_err(&self.path, e))?;
        }
        tx.commit().map_err(|e| db_err(&self.path, e))
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite itself consistent.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        db_err(&self.path, e)
    }

    /// Runs `write` in one `IMMEDIATE` transaction, after checking this
    /// view's fence in it: the write lands only while the run holds its
    /// flow's lease, and no other process can take the lease in between.
    fn write<T>(
        &self,
        write: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> StoreResult<T> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        if let Some(fence) = &self.fence {
            let current = tx
                .prepare_cached(
                    "SELECT token, holder_id, pid, host, command FROM leases
                     WHERE tenant = ?1 AND flow = ?2",
                )
                .and_then(|mut stmt| {
                    stmt.query_row(params![fence.tenant, fence.flow], |r| {
                        Ok((
                            r.get::<_, i64>(0)? as u64,
                            r.get::<_, Option<String>>(1)?,
                            r.get::<_, Option<i64>>(2)?,
                            r.get::<_, Option<String>>(3)?,
                            r.get::<_, Option<String>>(4)?,
                        ))
                    })
                    .optional()
                })
                .map_err(|e| self.err(e))?;
            match current {
                Some((token, Some(_), _, _, _)) if token == fence.token => {}
                other => {
                    let current = match other {
                        Some((token, Some(_), pid, host, command)) => format!(
                            "{} (pid {} on {}) holds it with token {token}",
                            command.unwrap_or_default(),
                            pid.unwrap_or_default(),
                            host.unwrap_or_default()
                        ),
                        Some((token, None, ..)) => {
                            format!("nobody holds it (last token {token})")
                        }
                        None => "the store has no lease for it".into(),
                    };
                    return Err(StoreError::Fenced {
                        tenant: fence.tenant.clone(),
                        flow: fence.flow.clone(),
                        token: fence.token,
                        current,
                    });
                }
            }
        }
        let out = write(&tx).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }
}

/// Leases held and not lapsed at `now_ms`.
fn live_leases(tx: &Transaction<'_>, now_ms: u64) -> rusqlite::Result<Vec<LeaseInfo>> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {LEASE_COLUMNS} FROM leases WHERE holder_id IS NOT NULL AND expires_ms > ?1"
    ))?;
    stmt.query_map(params![now_ms as i64], lease_from_row)?
        .collect()
}

const LEASE_COLUMNS: &str = "tenant, flow, token, holder_id, pid, host, command, machine, acquired_ms, renewed_ms, expires_ms";

fn lease_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LeaseInfo> {
    Ok(LeaseInfo {
        tenant: r.get(0)?,
        flow: r.get(1)?,
        token: r.get::<_, i64>(2)? as u64,
        holder: LeaseHolder {
            id: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
            pid: r.get::<_, Option<i64>>(4)?.unwrap_or_default() as u32,
            host: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
            command: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
            machine: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
        },
        acquired_ms: r.get::<_, i64>(8)? as u64,
        renewed_ms: r.get::<_, i64>(9)? as u64,
        expires_ms: r.get::<_, i64>(10)? as u64,
    })
}

fn db_err(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::Database {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
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
    let (seq, prev_hash, hash) = audit::link(last.map(|(seq, hash)| (seq as u64, hash)), record);
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

/// A ledger row as stored: its kind and state still text.
struct RawLedgerRow {
    entry: LedgerEntry,
    kind: String,
    state: String,
}

fn ledger_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawLedgerRow> {
    let tenant: String = row.get(0)?;
    let flow: String = row.get(1)?;
    let key: String = row.get(2)?;
    let source_key: String = row.get(3)?;
    let entry = LedgerEntry::new(
        &tenant,
        &flow,
        LedgerKind::Document,
        &key,
        &source_key,
        RecordState::Pending,
        row.get::<_, i64>(11)? as u64,
    )
    .with_hash(row.get::<_, String>(4)?)
    .with_attempts(row.get(6)?)
    .with_target_key(row.get(7)?)
    .with_source_doc(row.get(9)?)
    .with_body(row.get(10)?)
    .with_xref(row.get(12)?)
    .with_not_before_ms(row.get::<_, Option<i64>>(13)?.map(|v| v as u64));
    let mut entry = entry;
    entry.reason = row.get(8)?;
    Ok(RawLedgerRow {
        entry,
        kind: row.get(14)?,
        state: row.get(5)?,
    })
}

fn with_state(raw: RawLedgerRow) -> StoreResult<LedgerEntry> {
    let RawLedgerRow {
        mut entry,
        kind,
        state,
    } = raw;
    let corrupt = |detail: String| StoreError::Corrupt {
        what: format!("ledger row {}/{}/{}", entry.tenant, entry.flow, entry.key),
        detail,
    };
    entry.state =
        RecordState::parse(&state).ok_or_else(|| corrupt(format!("unknown state {state:?}")))?;
    entry.kind =
        LedgerKind::parse(&kind).ok_or_else(|| corrupt(format!("unknown kind {kind:?}")))?;
    Ok(entry)
}

const LEDGER_COLUMNS: &str = "tenant, flow, key, source_key, hash, state, attempts, target_key, reason, source_doc, body, updated_ms, xref, not_before_ms, kind";

impl Store for SqliteStore {
    fn lease_acquire(
        &self,
        tenant: &str,
        flow: &str,
        holder: &LeaseHolder,
        ttl_ms: u64,
    ) -> StoreResult<LeaseGrant> {
        // Never fenced: taking a lease is how a run gets its fence.
        let unfenced = SqliteStore {
            fence: None,
            ..self.clone()
        };
        unfenced.write(|tx| {
            let now = wall_ms();
            let current = tx
                .prepare_cached(&format!(
                    "SELECT {LEASE_COLUMNS} FROM leases WHERE tenant = ?1 AND flow = ?2"
                ))?
                .query_row(params![tenant, flow], lease_from_row)
                .optional()?;
            let held = current.as_ref().filter(|l| !l.holder.id.is_empty());
            if let Some(lease) = held
                && lease.expires_ms > now
            {
                return Ok(LeaseGrant::Held(lease.clone()));
            }
            let token = current.as_ref().map_or(1, |l| l.token + 1);
            let lease = LeaseInfo {
                tenant: tenant.to_string(),
                flow: flow.to_string(),
                holder: holder.clone(),
                token,
                acquired_ms: now,
                renewed_ms: now,
                expires_ms: now.saturating_add(ttl_ms),
            };
            tx.prepare_cached(&format!(
                "INSERT INTO leases ({LEASE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (tenant, flow) DO UPDATE SET token = excluded.token,
                    holder_id = excluded.holder_id, pid = excluded.pid, host = excluded.host,
                    command = excluded.command, machine = excluded.machine, acquired_ms = excluded.acquired_ms,
                    renewed_ms = excluded.renewed_ms, expires_ms = excluded.expires_ms"
            ))?
            .execute(params![
                tenant,
                flow,
                token as i64,
                holder.id,
                holder.pid as i64,
                holder.host,
                holder.command,
                holder.machine,
                now as i64,
                now as i64,
                lease.expires_ms as i64
            ])?;
            Ok(LeaseGrant::Granted {
                lease,
                took_over: held.cloned(),
            })
        })
    }

    fn lease_renew(&self, fence: &Fence, holder: &LeaseHolder, ttl_ms: u64) -> StoreResult<bool> {
        let unfenced = SqliteStore {
            fence: None,
            ..self.clone()
        };
        unfenced.write(|tx| {
            let now = wall_ms();
            let renewed = tx
                .prepare_cached(
                    "UPDATE leases SET renewed_ms = ?1, expires_ms = ?2
                     WHERE tenant = ?3 AND flow = ?4 AND token = ?5 AND holder_id = ?6",
                )?
                .execute(params![
                    now as i64,
                    now.saturating_add(ttl_ms) as i64,
                    fence.tenant,
                    fence.flow,
                    fence.token as i64,
                    holder.id
                ])?;
            Ok(renewed == 1)
        })
    }

    fn lease_release(&self, fence: &Fence, holder: &LeaseHolder) -> StoreResult<()> {
        let unfenced = SqliteStore {
            fence: None,
            ..self.clone()
        };
        unfenced.write(|tx| {
            tx.prepare_cached(
                "UPDATE leases SET holder_id = NULL, expires_ms = 0
                 WHERE tenant = ?1 AND flow = ?2 AND token = ?3 AND holder_id = ?4",
            )?
            .execute(params![
                fence.tenant,
                fence.flow,
                fence.token as i64,
                holder.id
            ])
            .map(|_| ())
        })
    }

    fn lease_break(&self, lease: &LeaseInfo) -> StoreResult<bool> {
        let unfenced = SqliteStore {
            fence: None,
            ..self.clone()
        };
        unfenced.write(|tx| {
            let broken = tx
                .prepare_cached(
                    "UPDATE leases SET expires_ms = 0
                     WHERE tenant = ?1 AND flow = ?2 AND token = ?3 AND holder_id = ?4",
                )?
                .execute(params![
                    lease.tenant,
                    lease.flow,
                    lease.token as i64,
                    lease.holder.id
                ])?;
            Ok(broken == 1)
        })
    }

    fn leases(&self) -> StoreResult<Vec<LeaseInfo>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {LEASE_COLUMNS} FROM leases WHERE holder_id IS NOT NULL ORDER BY tenant, flow"
            ))
            .map_err(|e| self.err(e))?;
        stmt.query_map([], lease_from_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))
    }

    fn fenced(&self, fence: Fence) -> Arc<dyn Store> {
        Arc::new(SqliteStore {
            fence: Some(fence),
            ..self.clone()
        })
    }

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
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO cursors (tenant, flow, cursor) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant, flow) DO UPDATE SET cursor = excluded.cursor",
            )?
            .execute(params![tenant, flow, cursor])
            .map(|_| ())
        })
    }

    fn ledger_get(
        &self,
        tenant: &str,
        flow: &str,
        kind: LedgerKind,
        key: &str,
    ) -> StoreResult<Option<LedgerEntry>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {LEDGER_COLUMNS} FROM ledger WHERE tenant = ?1 AND flow = ?2 AND kind = ?3 AND key = ?4"
            ))
            .map_err(|e| self.err(e))?;
        let row = stmt
            .query_row(params![tenant, flow, kind.as_str(), key], ledger_from_row)
            .optional()
            .map_err(|e| self.err(e))?;
        row.map(with_state).transpose()
    }

    fn ledger_put(&self, e: &LedgerEntry) -> StoreResult<()> {
        self.commit(&e.tenant, std::slice::from_ref(e), &[], &[])
    }

    fn ledger_delete(
        &self,
        tenant: &str,
        flow: &str,
        kind: LedgerKind,
        key: &str,
    ) -> StoreResult<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "DELETE FROM ledger WHERE tenant = ?1 AND flow = ?2 AND kind = ?3 AND key = ?4",
            )?
            .execute(params![tenant, flow, kind.as_str(), key])
            .map(|_| ())
        })
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
        self.commit(
            tenant,
            &[],
            &[(table.to_string(), key.to_string(), value.to_string())],
            &[],
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
        self.write(|tx| {
            let mut put = tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO ledger ({LEDGER_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
            ))?;
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
                    e.not_before_ms.map(|v| v as i64),
                    e.kind.as_str()
                ])?;
            }
            let mut xref = tx.prepare_cached(
                "INSERT INTO xref (tenant, tbl, key, value) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, tbl, key) DO UPDATE SET value = excluded.value",
            )?;
            for (table, key, value) in xrefs {
                xref.execute(params![tenant, table, key, value])?;
            }
            for record in audit {
                append_audit(tx, record)?;
            }
            Ok(())
        })
    }

    fn audit_append(&self, record: &AuditRecord) -> StoreResult<AuditRow> {
        self.write(|tx| append_audit(tx, record))
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
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO secrets (tenant, name, sealed) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant, name) DO UPDATE SET sealed = excluded.sealed",
            )?
            .execute(params![tenant, name, sealed])
            .map(|_| ())
        })
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
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO tokens (tenant, connection, sealed, expires_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, connection) DO UPDATE SET sealed = excluded.sealed,
                    expires_ms = excluded.expires_ms",
            )?
            .execute(params![tenant, connection, sealed, expires_ms as i64])
            .map(|_| ())
        })
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
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO runs (tenant, flow, started_ms, finished_ms, outcome, message, read,
                    delivered, unchanged, parked, dead, retries, linked, skipped, deferred,
                    unreadable)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?
            .execute(params![
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
                run.retries as i64,
                run.linked as i64,
                run.skipped as i64,
                run.deferred as i64,
                run.unreadable as i64
            ])
            .map(|_| ())
        })
    }

    fn runs(&self, tenant: &str, flow: &str, limit: usize) -> StoreResult<Vec<FlowRun>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT tenant, flow, started_ms, finished_ms, outcome, message, read, delivered,
                    unchanged, parked, dead, retries, linked, skipped, deferred, unreadable
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
                linked: r.get::<_, i64>(12)? as u64,
                skipped: r.get::<_, i64>(13)? as u64,
                deferred: r.get::<_, i64>(14)? as u64,
                unreadable: r.get::<_, i64>(15)? as u64,
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
        LedgerEntry::new(
            "acme",
            "f",
            LedgerKind::Document,
            key,
            &format!("src-{key}"),
            state,
            1,
        )
        .with_hash("h")
        .with_attempts(1)
        .with_source_doc(Some("{}".into()))
    }

    fn holder(id: &str) -> LeaseHolder {
        LeaseHolder {
            id: id.into(),
            pid: 7,
            host: "box".into(),
            command: format!("ml-connector {id}"),
            machine: String::new(),
        }
    }

    fn granted(grant: LeaseGrant) -> (LeaseInfo, Option<LeaseInfo>) {
        match grant {
            LeaseGrant::Granted { lease, took_over } => (lease, took_over),
            LeaseGrant::Held(l) => panic!("held by {}", l.holder),
        }
    }

    fn fence_of(lease: &LeaseInfo) -> Fence {
        Fence {
            tenant: lease.tenant.clone(),
            flow: lease.flow.clone(),
            token: lease.token,
        }
    }

    #[test]
    fn a_held_lease_is_refused_to_a_second_holder_with_the_holder_named() {
        let (_d, s) = store();
        let (first, _) = granted(s.lease_acquire("acme", "f", &holder("a"), 60_000).unwrap());
        match s.lease_acquire("acme", "f", &holder("b"), 60_000).unwrap() {
            LeaseGrant::Held(l) => {
                assert_eq!(l.holder, holder("a"));
                assert_eq!(l.token, first.token);
            }
            other => panic!("granted twice: {other:?}"),
        }
        // Another flow of the tenant is free.
        granted(s.lease_acquire("acme", "g", &holder("b"), 60_000).unwrap());
    }

    #[test]
    fn tokens_only_grow_across_release_and_takeover() {
        let (_d, s) = store();
        let (a, _) = granted(s.lease_acquire("acme", "f", &holder("a"), 60_000).unwrap());
        s.lease_release(&fence_of(&a), &holder("a")).unwrap();
        let (b, took) = granted(s.lease_acquire("acme", "f", &holder("b"), 1).unwrap());
        assert!(took.is_none(), "a released lease is not a takeover");
        assert!(b.token > a.token);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let (c, took) = granted(s.lease_acquire("acme", "f", &holder("c"), 60_000).unwrap());
        assert_eq!(took.map(|l| l.holder), Some(holder("b")), "b lapsed");
        assert!(c.token > b.token);
        assert!(
            !s.lease_renew(&fence_of(&b), &holder("b"), 60_000).unwrap(),
            "the lapsed holder cannot renew after a takeover"
        );
        assert!(s.lease_renew(&fence_of(&c), &holder("c"), 60_000).unwrap());
    }

    #[test]
    fn a_fenced_view_writes_nothing_once_its_token_is_taken_over() {
        let (_d, s) = store();
        let (a, _) = granted(s.lease_acquire("acme", "f", &holder("a"), 1).unwrap());
        let view = s.fenced(fence_of(&a));
        view.set_cursor("acme", "f", Some("c1")).unwrap();
        view.ledger_put(&entry("k1", RecordState::Pending)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        granted(s.lease_acquire("acme", "f", &holder("b"), 60_000).unwrap());
        let refused = [
            view.set_cursor("acme", "f", Some("c2")).err(),
            view.ledger_put(&entry("k1", RecordState::Delivered)).err(),
            view.ledger_delete("acme", "f", LedgerKind::Document, "k1")
                .err(),
            view.xref_put("acme", "vendor", "1", "V1").err(),
            view.audit_append(&AuditRecord {
                time_ms: 1,
                tenant: "acme".into(),
                flow: "f".into(),
                event: "record_delivered".into(),
                source_key: None,
                key: None,
                target_key: None,
                payload_hash: None,
                attempt: None,
                outcome: "ok".into(),
                message: String::new(),
            })
            .err(),
        ];
        for (i, e) in refused.into_iter().enumerate() {
            match e {
                Some(StoreError::Fenced { token, current, .. }) => {
                    assert_eq!(token, a.token);
                    assert!(current.contains("ml-connector b"), "{current}");
                }
                other => panic!("write {i} was not fenced: {other:?}"),
            }
        }
        assert_eq!(s.cursor("acme", "f").unwrap().as_deref(), Some("c1"));
        assert_eq!(
            s.ledger_get("acme", "f", LedgerKind::Document, "k1")
                .unwrap()
                .unwrap()
                .state,
            RecordState::Pending
        );
        assert!(s.xrefs("acme").unwrap().is_empty());
        assert!(s.audit_rows(0, 10).unwrap().is_empty());
    }

    #[test]
    fn a_released_lease_fences_its_view_too() {
        let (_d, s) = store();
        let (a, _) = granted(s.lease_acquire("acme", "f", &holder("a"), 60_000).unwrap());
        let view = s.fenced(fence_of(&a));
        s.lease_release(&fence_of(&a), &holder("a")).unwrap();
        assert!(matches!(
            view.set_cursor("acme", "f", Some("c")),
            Err(StoreError::Fenced { .. })
        ));
    }

    #[test]
    fn a_broken_lease_is_taken_over_at_once_but_only_from_the_holder_it_names() {
        let (_d, s) = store();
        let (a, _) = granted(s.lease_acquire("acme", "f", &holder("a"), 60_000).unwrap());
        // A stale view of the lease (an older token) breaks nothing.
        let stale = LeaseInfo {
            token: a.token - 1,
            ..a.clone()
        };
        assert!(!s.lease_break(&stale).unwrap());
        assert!(matches!(
            s.lease_acquire("acme", "f", &holder("b"), 60_000).unwrap(),
            LeaseGrant::Held(_)
        ));
        assert!(s.lease_break(&a).unwrap());
        let (b, took) = granted(s.lease_acquire("acme", "f", &holder("b"), 60_000).unwrap());
        assert_eq!(took.map(|l| l.holder), Some(holder("a")));
        assert!(b.token > a.token);
        assert!(
            !s.lease_break(&a).unwrap(),
            "once taken over, the dead holder's lease is not there to break"
        );
        assert!(s.lease_renew(&fence_of(&b), &holder("b"), 60_000).unwrap());
    }

    #[test]
    fn leases_lists_held_leases_only() {
        let (_d, s) = store();
        let (a, _) = granted(s.lease_acquire("acme", "f", &holder("a"), 60_000).unwrap());
        granted(s.lease_acquire("acme", "g", &holder("a"), 60_000).unwrap());
        s.lease_release(&fence_of(&a), &holder("a")).unwrap();
        let held: Vec<String> = s.leases().unwrap().into_iter().map(|l| l.flow).collect();
        assert_eq!(held, vec!["g".to_string()]);
    }

    #[test]
    fn a_migration_waits_for_no_live_lease_of_another_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mlc.db");
        let s = SqliteStore::open(&path).unwrap();
        granted(s.lease_acquire("acme", "f", &holder("a"), 60_000).unwrap());
        // Pretend the file was written by an older version: one migration behind.
        s.lock()
            .pragma_update(None, "user_version", (MIGRATIONS.len() - 1) as i64)
            .unwrap();
        // The pending "migration" (the leases table again) must not even start.
        let err = SqliteStore::open(&path).unwrap_err().to_string();
        assert!(
            err.contains("in use") && err.contains("ml-connector a"),
            "{err}"
        );
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
    fn migration_5_turns_key_prefixes_into_kinds_and_keeps_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mlc.db");
        // A store as version 4 left it, with rows of every old key form.
        {
            let conn = Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..4] {
                conn.execute_batch(migration).unwrap();
            }
            conn.pragma_update(None, "user_version", 4i64).unwrap();
            for (key, state, reason) in [
                ("PO-1", "delivered", None),
                ("source:7", "parked", Some("no vendor crosswalk entry")),
                (
                    "unreadable:9",
                    "dead",
                    Some("unreadable at the source: bad json"),
                ),
                ("source-like", "pending", None),
            ] {
                conn.execute(
                    "INSERT INTO ledger (tenant, flow, key, source_key, hash, state, attempts,
                        target_key, reason, source_doc, body, updated_ms, xref, not_before_ms)
                     VALUES ('acme', 'f', ?1, 's', 'h', ?2, 2, NULL, ?3, '{}', NULL, 5, NULL, 9)",
                    params![key, state, reason],
                )
                .unwrap();
            }
        }
        let s = SqliteStore::open(&path).unwrap();
        let get = |kind, key| s.ledger_get("acme", "f", kind, key).unwrap();
        assert_eq!(
            get(LedgerKind::Document, "PO-1").unwrap().state,
            RecordState::Delivered
        );
        let parked = get(LedgerKind::Source, "7").expect("source:7 became kind source, key 7");
        assert_eq!(
            (parked.state, parked.attempts, parked.not_before_ms),
            (RecordState::Parked, 2, Some(9))
        );
        assert_eq!(parked.reason.as_deref(), Some("no vendor crosswalk entry"));
        assert_eq!(
            get(LedgerKind::Unreadable, "9").unwrap().state,
            RecordState::Dead
        );
        assert!(get(LedgerKind::Document, "source-like").is_some());
        assert!(get(LedgerKind::Document, "source:7").is_none());
        assert_eq!(
            s.ledger_counts("acme", "f").unwrap().values().sum::<u64>(),
            4
        );
    }

    #[test]
    fn a_document_and_a_source_record_with_one_key_are_two_rows() {
        let (_d, s) = store();
        s.ledger_put(&entry("k1", RecordState::Delivered)).unwrap();
        let mut source = entry("k1", RecordState::Parked);
        source.kind = LedgerKind::Source;
        s.ledger_put(&source).unwrap();
        s.ledger_delete("acme", "f", LedgerKind::Source, "k1")
            .unwrap();
        assert_eq!(
            s.ledger_get("acme", "f", LedgerKind::Document, "k1")
                .unwrap()
                .unwrap()
                .state,
            RecordState::Delivered
        );
        assert!(
            s.ledger_get("acme", "f", LedgerKind::Source, "k1")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn ledger_rows_are_per_tenant_and_flow() {
        let (_d, s) = store();
        s.ledger_put(&entry("k1", RecordState::Parked)).unwrap();
        let mut other = entry("k1", RecordState::Delivered);
        other.tenant = "globex".into();
        s.ledger_put(&other).unwrap();
        assert_eq!(
            s.ledger_get("acme", "f", LedgerKind::Document, "k1")
                .unwrap()
                .unwrap()
                .state,
            RecordState::Parked
        );
        assert_eq!(
            s.ledger_get("globex", "f", LedgerKind::Document, "k1")
                .unwrap()
                .unwrap()
                .state,
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
        assert_eq!(a.prev_hash, audit::GENESIS_HASH);
        assert_eq!(b.prev_hash, a.hash);
        assert_eq!(b.hash, audit::row_hash(&a.hash, 2, &rec("b")));
        assert_eq!(s.audit_rows(0, 10).unwrap(), vec![a, b]);
    }

    #[test]
    fn run_history_keeps_every_count_of_a_run() {
        let (_d, s) = store();
        let run = FlowRun {
            tenant: "acme".into(),
            flow: "f".into(),
            started_ms: 1_000,
            finished_ms: 2_000,
            outcome: "ok".into(),
            message: None,
            read: 10,
            delivered: 1,
            linked: 2,
            unchanged: 3,
            parked: 4,
            dead: 5,
            skipped: 6,
            deferred: 7,
            unreadable: 8,
            retries: 9,
        };
        s.run_put(&run).unwrap();
        assert_eq!(s.runs("acme", "f", 5).unwrap(), vec![run]);
    }

    #[test]
    fn a_run_recorded_before_the_counts_were_kept_reads_them_as_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mlc.db");
        {
            // A store as the version before the run-history migration left it.
            let conn = Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..MIGRATIONS.len() - 1] {
                conn.execute_batch(migration).unwrap();
            }
            conn.pragma_update(None, "user_version", (MIGRATIONS.len() - 1) as i64)
                .unwrap();
            conn.execute(
                "INSERT INTO runs (tenant, flow, started_ms, finished_ms, outcome, message, read,
                    delivered, unchanged, parked, dead, retries)
                 VALUES ('acme', 'f', 1, 2, 'ok', NULL, 3, 2, 1, 0, 0, 0)",
                [],
            )
            .unwrap();
        }
        let runs = SqliteStore::open(&path)
            .unwrap()
            .runs("acme", "f", 5)
            .unwrap();
        assert_eq!((runs[0].read, runs[0].delivered), (3, 2));
        assert_eq!(
            (
                runs[0].linked,
                runs[0].skipped,
                runs[0].deferred,
                runs[0].unreadable
            ),
            (0, 0, 0, 0)
        );
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
