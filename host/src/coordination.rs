//! Coordination: one writer per flow, wherever it runs. A run holds the
//! lease of its (tenant, flow) in the store, renews it while it runs and
//! writes only through a view fenced by the lease's token; this module keeps
//! a held lease alive and tells the run, from its own monotonic clock, when
//! it may no longer assume it holds it. The protocol itself (grant, renew,
//! release, fenced writes) lives behind [`Store`], so it is the same on
//! SQLite (processes of one machine) and on a shared database.

use crate::store::{Fence, LeaseGrant, LeaseHolder, LeaseInfo, Store, StoreResult};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The default lease time: long enough that a busy store never makes a
/// healthy run lose its flow, short enough that a dead process's flows are
/// picked up within half a minute.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// The lease name of a tenant's secrets: held while `secrets rotate`
/// changes one (a name no flow can have: manifest flow names are plain
/// words).
pub const SECRETS_LOCK: &str = "(secrets)";

/// How this process takes leases.
#[derive(Debug)]
pub struct Coordination {
    /// Who this process is, as other processes see it.
    pub holder: LeaseHolder,
    /// How long a grant or renewal lasts.
    pub ttl: Duration,
    /// Grants that replaced a lapsed lease of another holder.
    pub takeovers: AtomicU64,
    /// Runs of this process that lost their lease.
    pub lost: AtomicU64,
}

impl Coordination {
    /// This process, leasing for `ttl`.
    pub fn new(ttl: Duration) -> Coordination {
        Coordination {
            holder: this_process(),
            ttl,
            takeovers: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        }
    }
}

/// The holder identity of this process: pid, host name, the command it
/// runs and a random id (a pid can be reused; two pipelines of one process
/// are two holders).
pub fn this_process() -> LeaseHolder {
    let args: Vec<String> = std::env::args().collect();
    let program = args
        .first()
        .and_then(|p| std::path::Path::new(p).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ml-connector".into());
    let command = match args.get(1) {
        Some(sub) if !sub.starts_with('-') => format!("{program} {sub}"),
        _ => program,
    };
    LeaseHolder {
        id: format!("{:016x}", rand::random::<u64>()),
        pid: std::process::id(),
        host: host_name(),
        command,
        machine: machine(),
    }
}

/// The kernel instance and pid namespace this process's pid is valid in:
/// the boot id and the pid namespace's inode (empty off Linux, where no
/// holder is ever judged dead by its pid).
fn machine() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id");
    let namespace = std::fs::read_link("/proc/self/ns/pid");
    match (boot, namespace) {
        (Ok(boot), Ok(namespace)) => format!("{} {}", boot.trim(), namespace.display()),
        _ => String::new(),
    }
}

/// True when `holder` ran in this process's machine (same boot, same pid
/// namespace) and its process is gone (no such pid, or a zombie): its
/// lease can be taken at once instead of after its expiry. A reused pid
/// only makes the holder look alive, which errs on the safe side.
pub fn is_dead(holder: &LeaseHolder, this: &LeaseHolder) -> bool {
    if holder.machine.is_empty() || holder.machine != this.machine || holder.pid == this.pid {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{}/stat", holder.pid)) {
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        // "pid (comm) state ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// The machine's host name (`/etc/hostname` or `HOSTNAME`), for operators.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// What a run knows about its lease between renewals.
#[derive(Debug)]
struct Validity {
    /// Set when a renewal found the lease taken over, or a fenced write
    /// was refused.
    lost: AtomicBool,
    /// Until when this process may assume it still holds the lease: the
    /// start of the last successful grant or renewal plus most of the lease
    /// time (measured before the request, so never later than the store's
    /// own expiry).
    valid_until: Mutex<Instant>,
}

/// A held lease of one flow, renewed in the background until released.
#[derive(Debug)]
pub struct FlowLease {
    store: Arc<dyn Store>,
    fence: Fence,
    info: LeaseInfo,
    holder: LeaseHolder,
    validity: Arc<Validity>,
    renewer: tokio::task::JoinHandle<()>,
}

/// The part of the lease time a holder keeps in reserve: it stops assuming
/// the lease this long before the store would let another process take it.
fn reserve(ttl: Duration) -> Duration {
    ttl / 4
}

impl FlowLease {
    /// Takes the lease of (tenant, flow) or says who holds it. Granted:
    /// the lease and the lapsed lease it replaced, if any.
    pub fn acquire(
        store: &Arc<dyn Store>,
        tenant: &str,
        flow: &str,
        coordination: &Coordination,
    ) -> StoreResult<Result<(FlowLease, Option<LeaseInfo>), LeaseInfo>> {
        let ttl = coordination.ttl;
        let mut asked = Instant::now();
        let mut grant =
            store.lease_acquire(tenant, flow, &coordination.holder, ttl.as_millis() as u64)?;
        // A holder that died on this machine (killed, crashed) is not waited
        // out: its lease is broken and taken at once.
        if let LeaseGrant::Held(info) = &grant
            && is_dead(&info.holder, &coordination.holder)
            && store.lease_break(info)?
        {
            tracing::warn!(%tenant, %flow, holder = %info.holder, "the flow's lease holder is no longer running; taking its lease over");
            asked = Instant::now();
            grant =
                store.lease_acquire(tenant, flow, &coordination.holder, ttl.as_millis() as u64)?;
        }
        let (info, took_over) = match grant {
            LeaseGrant::Held(info) => return Ok(Err(info)),
            LeaseGrant::Granted { lease, took_over } => (lease, took_over),
        };
        if took_over.is_some() {
            coordination.takeovers.fetch_add(1, Ordering::Relaxed);
        }
        let fence = Fence {
            tenant: tenant.to_string(),
            flow: flow.to_string(),
            token: info.token,
        };
        let validity = Arc::new(Validity {
            lost: AtomicBool::new(false),
            valid_until: Mutex::new(asked + ttl - reserve(ttl)),
        });
        let renewer = tokio::spawn(renew(
            store.clone(),
            fence.clone(),
            coordination.holder.clone(),
            ttl,
            validity.clone(),
        ));
        Ok(Ok((
            FlowLease {
                store: store.clone(),
                fence,
                info,
                holder: coordination.holder.clone(),
                validity,
                renewer,
            },
            took_over,
        )))
    }

    /// The run's fence (tenant, flow, token).
    pub fn fence(&self) -> &Fence {
        &self.fence
    }

    /// The lease as granted.
    pub fn info(&self) -> &LeaseInfo {
        &self.info
    }

    /// True once the run may no longer assume it holds the lease: taken
    /// over, or not renewed in time (another process may take it soon).
    pub fn is_lost(&self) -> bool {
        self.validity.lost.load(Ordering::SeqCst)
            || self
                .validity
                .valid_until
                .lock()
                .map(|until| Instant::now() >= *until)
                .unwrap_or(true)
    }

    /// Marks the lease lost (a fenced write was refused).
    pub fn mark_lost(&self) {
        self.validity.lost.store(true, Ordering::SeqCst);
    }

    /// Stops renewing and gives the lease up, unless it was lost (then the
    /// new holder's grant stands and there is nothing to give).
    pub fn release(self) -> StoreResult<()> {
        self.renewer.abort();
        if self.validity.lost.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.store.lease_release(&self.fence, &self.holder)
    }
}

impl Drop for FlowLease {
    fn drop(&mut self) {
        // A lease dropped without release (a panic, a cancelled run) lapses
        // by itself; it must not be renewed forever.
        self.renewer.abort();
    }
}

/// Renews the lease every third of its time until it is found taken over.
/// A store error is not a loss by itself: the validity simply runs out if
/// no renewal succeeds in time.
async fn renew(
    store: Arc<dyn Store>,
    fence: Fence,
    holder: LeaseHolder,
    ttl: Duration,
    validity: Arc<Validity>,
) {
    loop {
        tokio::time::sleep(ttl / 3).await;
        let asked = Instant::now();
        match store.lease_renew(&fence, &holder, ttl.as_millis() as u64) {
            Ok(true) => {
                if let Ok(mut until) = validity.valid_until.lock() {
                    *until = asked + ttl - reserve(ttl);
                }
            }
            Ok(false) => {
                tracing::error!(tenant = %fence.tenant, flow = %fence.flow, token = fence.token, "lease taken over by another process; this run stops and writes nothing more");
                validity.lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(e) => {
                tracing::warn!(tenant = %fence.tenant, flow = %fence.flow, error = %e, "lease renewal failed; retried")
            }
        }
    }
}

tokio::task_local! {
    /// The lease a remote write runs under, seen by the egress hook.
    static WRITING_UNDER: Arc<FlowLease>;
}

/// Runs a sink write with the run's lease visible to the egress hook, which
/// checks it once more right before each request leaves: a write whose run
/// was frozen past its lease (and taken over meanwhile) is refused at the
/// last moment instead of posting a duplicate after the new holder's lookup.
pub async fn writing_under<F: Future>(lease: Option<Arc<FlowLease>>, write: F) -> F::Output {
    match lease {
        Some(lease) => WRITING_UNDER.scope(lease, write).await,
        None => write.await,
    }
}

/// The lease of the write being made on this task, if any (read by the
/// egress hook when a component sends a request).
pub fn current_write_lease() -> Option<Arc<FlowLease>> {
    WRITING_UNDER.try_with(Arc::clone).ok()
}

/// How a lease is described to an operator: holder, since when, until when.
pub fn describe(lease: &LeaseInfo) -> String {
    format!(
        "{} since {} (lease token {}, expires {})",
        lease.holder,
        time_text(lease.acquired_ms),
        lease.token,
        time_text(lease.expires_ms)
    )
}

fn time_text(ms: u64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    fn exited_child_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn a_holder_is_dead_only_when_its_pid_is_gone_from_this_machine() {
        let this = this_process();
        assert!(
            !this.machine.is_empty(),
            "Linux gives a boot id and pid namespace"
        );
        let mut live = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let gone = exited_child_pid();
        let other = |pid: u32, machine: &str| LeaseHolder {
            pid,
            machine: machine.to_string(),
            ..this_process()
        };
        assert!(is_dead(&other(gone, &this.machine), &this));
        assert!(!is_dead(&other(live.id(), &this.machine), &this));
        assert!(
            !is_dead(&other(gone, "another-boot pid:[1]"), &this),
            "a pid of another machine says nothing here"
        );
        assert!(
            !is_dead(&other(gone, ""), &this),
            "an unknown machine is never judged"
        );
        assert!(!is_dead(&this, &this), "this process is alive");
        live.kill().unwrap();
        live.wait().unwrap();
        assert!(is_dead(&other(live.id(), &this.machine), &this));
    }

    #[tokio::test]
    async fn a_dead_holders_lease_is_taken_over_without_waiting_and_a_live_ones_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
        let here = Coordination::new(Duration::from_secs(60));
        let dead = LeaseHolder {
            id: "dead".into(),
            pid: exited_child_pid(),
            ..this_process()
        };
        store.lease_acquire("acme", "f", &dead, 60_000).unwrap();
        let (lease, took_over) = FlowLease::acquire(&store, "acme", "f", &here)
            .unwrap()
            .expect("a dead holder is not waited out");
        assert_eq!(took_over.map(|l| l.holder.id), Some("dead".to_string()));
        assert_eq!(here.takeovers.load(Ordering::Relaxed), 1);

        // This process is alive: another process of this machine waits.
        let neighbour = Coordination::new(Duration::from_secs(60));
        let held = FlowLease::acquire(&store, "acme", "f", &neighbour)
            .unwrap()
            .expect_err("a live holder keeps its lease");
        assert_eq!(held.holder, here.holder);
        lease.release().unwrap();
    }
}
