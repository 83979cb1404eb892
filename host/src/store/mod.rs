//! Durable state of every tenant, behind one trait: source cursors, the dedup
//! ledger (which is also the dead-letter list), crosswalks, the hash-chained
//! audit log, encrypted secrets and tokens, and flow run history.
//!
//! SQLite ([`SqliteStore`]) is the embedded default. The trait is synchronous
//! and row-oriented so a PostgreSQL implementation (with a lease per
//! (tenant, flow) for multi-host deployments) can follow without changing
//! callers.

mod sqlite;

pub use sqlite::SqliteStore;

use std::collections::BTreeMap;
use std::fmt;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened, read or written.
    #[error("store {path}: {detail}")]
    Database {
        /// Database location.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// A write of a run was refused because the run no longer holds its
    /// flow's lease: another process took the flow over (fencing).
    #[error(
        "flow {flow} of tenant {tenant}: this process no longer holds the flow's lease (fencing token {token}; now {current}); nothing more was written"
    )]
    Fenced {
        /// Tenant.
        tenant: String,
        /// Flow.
        flow: String,
        /// The token this run held.
        token: u64,
        /// Who holds the flow now, as far as the store knows.
        current: String,
    },
    /// A stored value is not what this version expects.
    #[error("store: corrupt {what}: {detail}")]
    Corrupt {
        /// Which value.
        what: String,
        /// What is wrong with it.
        detail: String,
    },
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// Where a record stands in a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordState {
    /// About to be written, or written with an unknown outcome: resolved with
    /// the sink's `lookup` before anything is re-posted.
    Pending,
    /// Written (or found already present) in the target.
    Delivered,
    /// Waiting for a reference (crosswalk value) that does not exist yet.
    Parked,
    /// Refused by the target or unmappable: an operator must look (dead letter).
    Dead,
    /// Deliberately not written (the mapping said so, or a change was ignored).
    Skipped,
    /// Failed transiently more often than the flow's attempts allow in one
    /// run: retried in the next run.
    Retrying,
}

impl RecordState {
    /// Every state, for listings.
    pub const ALL: [RecordState; 6] = [
        RecordState::Pending,
        RecordState::Delivered,
        RecordState::Parked,
        RecordState::Dead,
        RecordState::Skipped,
        RecordState::Retrying,
    ];

    /// The state's stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordState::Pending => "pending",
            RecordState::Delivered => "delivered",
            RecordState::Parked => "parked",
            RecordState::Dead => "dead",
            RecordState::Skipped => "skipped",
            RecordState::Retrying => "retrying",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<RecordState> {
        RecordState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for RecordState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a ledger row stands for. Part of the row's identity: a document
/// and a source record may share a key without sharing a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LedgerKind {
    /// A mapped document, keyed by its output key (the sink's idempotency key).
    Document,
    /// A source record that did not map (parked or unmappable), keyed by its source key.
    Source,
    /// A source record the connector could not read, keyed by its source key.
    Unreadable,
}

impl LedgerKind {
    /// Every kind.
    pub const ALL: [LedgerKind; 3] = [
        LedgerKind::Document,
        LedgerKind::Source,
        LedgerKind::Unreadable,
    ];

    /// The kind's stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Document => "document",
            LedgerKind::Source => "source",
            LedgerKind::Unreadable => "unreadable",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<LedgerKind> {
        LedgerKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for LedgerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One ledger row: one document (or one source record) of one flow of one
/// tenant. Built with [`LedgerEntry::new`] and the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Tenant.
    pub tenant: String,
    /// Flow.
    pub flow: String,
    /// What the row stands for.
    pub kind: LedgerKind,
    /// The mapped document's key (the sink's idempotency key, e.g. PO_REF),
    /// or the source record's key for the other kinds.
    pub key: String,
    /// The source record it came from.
    pub source_key: String,
    /// SHA-256 (hex) of the mapped document body.
    pub hash: String,
    /// Where it stands.
    pub state: RecordState,
    /// Write attempts so far (all runs).
    pub attempts: u32,
    /// The target system's identity for it, once known.
    pub target_key: Option<String>,
    /// Why it is parked, dead, skipped or retrying.
    pub reason: Option<String>,
    /// The source record (JSON), kept while it may need to be mapped again
    /// (parked) or inspected (dead).
    pub source_doc: Option<String>,
    /// The mapped body (JSON), kept while it may need to be written (pending,
    /// retrying, dead).
    pub body: Option<String>,
    /// Crosswalk entries to set on delivery (JSON list), kept with the body.
    pub xref: Option<String>,
    /// Earliest time (ms since the epoch) of the next write attempt, when the
    /// remote side asked to wait (Retry-After) longer than the run could.
    pub not_before_ms: Option<u64>,
    /// Last change, ms since the epoch.
    pub updated_ms: u64,
}

impl LedgerEntry {
    /// A row of `kind` for `key` in `state`, changed at `updated_ms`; the
    /// other fields empty until set with the `with_*` methods.
    pub fn new(
        tenant: &str,
        flow: &str,
        kind: LedgerKind,
        key: &str,
        source_key: &str,
        state: RecordState,
        updated_ms: u64,
    ) -> LedgerEntry {
        LedgerEntry {
            tenant: tenant.to_string(),
            flow: flow.to_string(),
            kind,
            key: key.to_string(),
            source_key: source_key.to_string(),
            hash: String::new(),
            state,
            attempts: 0,
            target_key: None,
            reason: None,
            source_doc: None,
            body: None,
            xref: None,
            not_before_ms: None,
            updated_ms,
        }
    }

    /// With the content hash.
    pub fn with_hash(mut self, hash: impl Into<String>) -> LedgerEntry {
        self.hash = hash.into();
        self
    }

    /// With the write attempts so far.
    pub fn with_attempts(mut self, attempts: u32) -> LedgerEntry {
        self.attempts = attempts;
        self
    }

    /// With the target's identity (or none).
    pub fn with_target_key(mut self, target_key: Option<String>) -> LedgerEntry {
        self.target_key = target_key;
        self
    }

    /// With the reason of its state.
    pub fn with_reason(mut self, reason: impl Into<String>) -> LedgerEntry {
        self.reason = Some(reason.into());
        self
    }

    /// With the source record (or none).
    pub fn with_source_doc(mut self, source_doc: Option<String>) -> LedgerEntry {
        self.source_doc = source_doc;
        self
    }

    /// With the mapped body (or none).
    pub fn with_body(mut self, body: Option<String>) -> LedgerEntry {
        self.body = body;
        self
    }

    /// With the crosswalk entries to set on delivery (JSON list, or none).
    pub fn with_xref(mut self, xref: Option<String>) -> LedgerEntry {
        self.xref = xref;
        self
    }

    /// With the earliest time of the next write attempt (or none).
    pub fn with_not_before_ms(mut self, not_before_ms: Option<u64>) -> LedgerEntry {
        self.not_before_ms = not_before_ms;
        self
    }
}

/// Ledger row counts per state.
pub type StateCounts = BTreeMap<RecordState, u64>;

/// Crosswalk tables of a tenant: table -> key -> value.
pub type Crosswalks = BTreeMap<String, BTreeMap<String, String>>;

/// An audit event to append (the store assigns sequence and chain hashes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditRecord {
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// Tenant.
    pub tenant: String,
    /// Flow (empty for tenant-level events).
    pub flow: String,
    /// What happened (`record_delivered`, `flow_halted`, ...).
    pub event: String,
    /// Source record key, if any.
    pub source_key: Option<String>,
    /// Document key, if any.
    pub key: Option<String>,
    /// Target key, if any.
    pub target_key: Option<String>,
    /// SHA-256 of the payload involved, if any.
    pub payload_hash: Option<String>,
    /// Attempt number, if any.
    pub attempt: Option<u32>,
    /// Outcome in one word (`ok`, `parked`, `dead`, `retry`, `halted`, ...).
    pub outcome: String,
    /// Human-readable detail (never a secret).
    pub message: String,
}

/// A stored audit row: the record plus its place in the hash chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditRow {
    /// Position in the log (1, 2, ...; gaps mean deleted rows).
    pub seq: u64,
    /// The event.
    #[serde(flatten)]
    pub record: AuditRecord,
    /// Hash of the previous row (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 over `prev_hash` and this row's canonical content.
    pub hash: String,
}

/// One finished run of a flow, for `status` and metrics.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FlowRun {
    /// Tenant.
    pub tenant: String,
    /// Flow.
    pub flow: String,
    /// Start, ms since the epoch.
    pub started_ms: u64,
    /// End, ms since the epoch.
    pub finished_ms: u64,
    /// `ok`, `halted` or `failed`.
    pub outcome: String,
    /// Why it halted or failed.
    pub message: Option<String>,
    /// Source records read.
    pub read: u64,
    /// Documents delivered.
    pub delivered: u64,
    /// Documents found already in the target (nothing posted).
    #[serde(default)]
    pub linked: u64,
    /// Documents already delivered with the same content.
    pub unchanged: u64,
    /// Documents parked.
    pub parked: u64,
    /// Documents dead-lettered.
    pub dead: u64,
    /// Documents deliberately not written.
    #[serde(default)]
    pub skipped: u64,
    /// Documents left for the next run after their attempts.
    #[serde(default)]
    pub deferred: u64,
    /// Source records that could not be read.
    #[serde(default)]
    pub unreadable: u64,
    /// Write retries.
    pub retries: u64,
}

/// Who holds (or asks for) a flow's lease: one process of one command.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeaseHolder {
    /// Unique per process (and per pipeline within it): tells two holders on
    /// one host apart even when a pid is reused.
    pub id: String,
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// What the process is (`ml-connector run`, `ml-connector sync`, ...).
    pub command: String,
    /// The kernel instance and pid namespace the pid belongs to (boot id and
    /// namespace inode; empty when unknown): a holder with this process's
    /// machine and a pid that no longer exists is dead, so its lease need
    /// not be waited out.
    #[serde(default)]
    pub machine: String,
}

impl fmt::Display for LeaseHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (pid {} on {})", self.command, self.pid, self.host)
    }
}

/// A flow's lease as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeaseInfo {
    /// Tenant.
    pub tenant: String,
    /// Flow.
    pub flow: String,
    /// The holder.
    pub holder: LeaseHolder,
    /// Fencing token of this grant (monotonic per flow).
    pub token: u64,
    /// When this holder took it, ms since the epoch.
    pub acquired_ms: u64,
    /// Last renewal, ms since the epoch.
    pub renewed_ms: u64,
    /// When it lapses unless renewed, ms since the epoch.
    pub expires_ms: u64,
}

/// The answer to a lease request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseGrant {
    /// Granted with a new fencing token; `took_over` names the previous
    /// holder when its lease had lapsed without a release (it died or hung).
    Granted {
        /// The lease now held.
        lease: LeaseInfo,
        /// The lapsed lease this grant replaced, if any.
        took_over: Option<LeaseInfo>,
    },
    /// Another holder has it until `expires_ms`.
    Held(LeaseInfo),
}

/// The fence of one run: the store refuses every write through a fenced
/// view once `token` is no longer the flow's current token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// Tenant.
    pub tenant: String,
    /// Flow.
    pub flow: String,
    /// The token the run was granted.
    pub token: u64,
}

/// The store of all tenants' state.
pub trait Store: Send + Sync + fmt::Debug {
    /// Asks for the lease of (tenant, flow) for `ttl_ms` of the store's own
    /// clock; granted when nobody holds it or its holder let it lapse.
    fn lease_acquire(
        &self,
        tenant: &str,
        flow: &str,
        holder: &LeaseHolder,
        ttl_ms: u64,
    ) -> StoreResult<LeaseGrant>;
    /// Extends a held lease by `ttl_ms` from now; false when the lease was
    /// taken over (the token is no longer current): the run must stop.
    fn lease_renew(&self, fence: &Fence, holder: &LeaseHolder, ttl_ms: u64) -> StoreResult<bool>;
    /// Gives a held lease up (no-op when it was taken over).
    fn lease_release(&self, fence: &Fence, holder: &LeaseHolder) -> StoreResult<()>;
    /// Lets a lease lapse now, if `lease`'s holder still holds it with its
    /// token (its holder is known dead): the next grant takes it over.
    /// False when it was meanwhile renewed away, released or taken.
    fn lease_break(&self, lease: &LeaseInfo) -> StoreResult<bool>;
    /// Every lease currently held (possibly lapsed, not yet taken over).
    fn leases(&self) -> StoreResult<Vec<LeaseInfo>>;
    /// A view of this store whose every write commits only while `fence`
    /// is the flow's current token (checked in the write's own transaction),
    /// failing with [`StoreError::Fenced`] otherwise.
    fn fenced(&self, fence: Fence) -> std::sync::Arc<dyn Store>;

    /// The cursor of a flow's source, if any.
    fn cursor(&self, tenant: &str, flow: &str) -> StoreResult<Option<String>>;
    /// Saves a flow's source cursor.
    fn set_cursor(&self, tenant: &str, flow: &str, cursor: Option<&str>) -> StoreResult<()>;

    /// One ledger row.
    fn ledger_get(
        &self,
        tenant: &str,
        flow: &str,
        kind: LedgerKind,
        key: &str,
    ) -> StoreResult<Option<LedgerEntry>>;
    /// Inserts or replaces a ledger row.
    fn ledger_put(&self, entry: &LedgerEntry) -> StoreResult<()>;
    /// Removes a ledger row (a parked source record that has since mapped).
    fn ledger_delete(
        &self,
        tenant: &str,
        flow: &str,
        kind: LedgerKind,
        key: &str,
    ) -> StoreResult<()>;
    /// Rows of a flow in `state`, oldest change first, at most `limit`.
    fn ledger_in_state(
        &self,
        tenant: &str,
        flow: &str,
        state: RecordState,
        limit: usize,
    ) -> StoreResult<Vec<LedgerEntry>>;
    /// Row counts per state of a flow.
    fn ledger_counts(&self, tenant: &str, flow: &str) -> StoreResult<StateCounts>;

    /// Sets crosswalk `table[key] = value` of a tenant.
    fn xref_put(&self, tenant: &str, table: &str, key: &str, value: &str) -> StoreResult<()>;
    /// All crosswalk tables of a tenant.
    fn xrefs(&self, tenant: &str) -> StoreResult<Crosswalks>;

    /// Writes ledger rows, crosswalk entries (`(table, key, value)` of
    /// `tenant`) and audit events in one transaction: a record's new state,
    /// the references it feeds and its audit row land together or not at all.
    fn commit(
        &self,
        tenant: &str,
        ledger: &[LedgerEntry],
        xrefs: &[(String, String, String)],
        audit: &[AuditRecord],
    ) -> StoreResult<()>;

    /// Appends an audit event, chaining it to the previous row.
    fn audit_append(&self, record: &AuditRecord) -> StoreResult<AuditRow>;
    /// Audit rows with `seq > after`, in order, at most `limit`.
    fn audit_rows(&self, after: u64, limit: usize) -> StoreResult<Vec<AuditRow>>;

    /// Stores an encrypted secret.
    fn secret_put(&self, tenant: &str, name: &str, sealed: &[u8]) -> StoreResult<()>;
    /// An encrypted secret.
    fn secret_get(&self, tenant: &str, name: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Names of a tenant's secrets.
    fn secret_names(&self, tenant: &str) -> StoreResult<Vec<String>>;

    /// Stores an encrypted token of a connection with its expiry.
    fn token_put(
        &self,
        tenant: &str,
        connection: &str,
        sealed: &[u8],
        expires_ms: u64,
    ) -> StoreResult<()>;
    /// An encrypted token of a connection with its expiry.
    fn token_get(&self, tenant: &str, connection: &str) -> StoreResult<Option<(Vec<u8>, u64)>>;

    /// Records a finished flow run.
    fn run_put(&self, run: &FlowRun) -> StoreResult<()>;
    /// The most recent runs of a flow, newest first.
    fn runs(&self, tenant: &str, flow: &str, limit: usize) -> StoreResult<Vec<FlowRun>>;
}
