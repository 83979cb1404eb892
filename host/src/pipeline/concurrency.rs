//! The concurrency pieces of a run: output keys held one at a time, the gate
//! that lets writes through one by one until the first succeeds, the pool of
//! sink instances, and the first error that stops the records not yet
//! started. A poisoned lock (a thread panicked holding it) is an error that
//! stops the run, never state carried on with.

use super::{ConnectionHandle, PipelineError};
use crate::runtime::{CallError, ConnectorInstance};
use crate::store::LedgerKind;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Locks `mutex`, or the error that stops the run when a thread panicked
/// while holding it (what it guards may be half updated).
pub(crate) fn lock<'a, T>(
    mutex: &'a Mutex<T>,
    what: &str,
) -> Result<MutexGuard<'a, T>, PipelineError> {
    mutex.lock().map_err(|_| {
        PipelineError::Broken(format!("{what}: a task panicked while holding its lock"))
    })
}

/// Ledger keys (output keys, and source keys of records) being handled
/// right now. Records of consecutive pages run
/// concurrently, and a source may list one record twice (changed between two
/// page reads): the second waits for the first, then finds it in the ledger,
/// instead of both seeing "new" and posting twice.
#[derive(Debug, Default)]
pub(crate) struct KeysInFlight {
    held: Mutex<HashMap<HeldKey, Arc<tokio::sync::Mutex<()>>>>,
}

/// A ledger key as the run holds it: a document and a source record with
/// one key are different things.
type HeldKey = (LedgerKind, String);

impl KeysInFlight {
    /// Waits until nobody else handles `key` of `kind`, then holds it until
    /// the hold is dropped.
    pub(crate) async fn hold(
        &self,
        kind: LedgerKind,
        key: &str,
    ) -> Result<KeyHold<'_>, PipelineError> {
        let lock = lock(&self.held, "keys in flight")?
            .entry((kind, key.to_string()))
            .or_default()
            .clone();
        let guard = lock.clone().lock_owned().await;
        Ok(KeyHold {
            keys: self,
            key: (kind, key.to_string()),
            lock,
            guard: Some(guard),
        })
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.held.lock().expect("lock").is_empty()
    }
}

/// Held while one output key is handled; the last holder removes the entry.
pub(crate) struct KeyHold<'a> {
    keys: &'a KeysInFlight,
    key: HeldKey,
    lock: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for KeyHold<'_> {
    fn drop(&mut self) {
        self.guard.take();
        // A poisoned map fails the next `hold`, which stops the run; a drop
        // cannot report it, and an entry left behind only costs memory.
        if let Ok(mut held) = self.keys.held.lock()
            // The map's reference and ours: nobody else waits for this key.
            && Arc::strong_count(&self.lock) == 2
        {
            held.remove(&self.key);
        }
    }
}

/// Until one write of a run succeeded, writes go one at a time: a target
/// that is not set up (or down) sees one attempt, not one per concurrent
/// record.
#[derive(Debug, Default)]
pub(crate) struct WriteGate {
    gate: tokio::sync::Mutex<()>,
    proven: AtomicBool,
}

impl WriteGate {
    /// Until a write succeeded, holds the gate that lets writes through one
    /// at a time. Writes queued at the gate while the first one was in
    /// flight go through together once it succeeded: they check again after
    /// the wait instead of each holding the gate for a full write.
    pub(crate) async fn pass(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.proven.load(Ordering::SeqCst) {
            return None;
        }
        let gate = self.gate.lock().await;
        (!self.proven.load(Ordering::SeqCst)).then_some(gate)
    }

    /// A write succeeded: the gate opens for good.
    pub(crate) fn prove(&self) {
        self.proven.store(true, Ordering::SeqCst);
    }
}

/// Sink instances of a run, up to the flow's concurrency.
pub(crate) struct SinkPool {
    sink: Arc<ConnectionHandle>,
    idle: tokio::sync::Mutex<Vec<ConnectorInstance>>,
    permits: tokio::sync::Semaphore,
}

impl SinkPool {
    /// A pool of at most `concurrency` instances of `sink` in use at once.
    pub(crate) fn new(sink: Arc<ConnectionHandle>, concurrency: usize) -> SinkPool {
        SinkPool {
            sink,
            idle: tokio::sync::Mutex::new(Vec::new()),
            permits: tokio::sync::Semaphore::new(concurrency.max(1)),
        }
    }

    /// A permit to use one instance; held for the whole delivery.
    pub(crate) async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, PipelineError> {
        self.permits
            .acquire()
            .await
            .map_err(|_| PipelineError::Broken("the sink pool's permits were closed".into()))
    }

    /// An idle instance, or a new one.
    pub(crate) async fn take(&self) -> Result<ConnectorInstance, CallError> {
        if let Some(instance) = self.idle.lock().await.pop() {
            return Ok(instance);
        }
        self.fresh().await
    }

    /// A new instance (after one was stopped by containment).
    pub(crate) async fn fresh(&self) -> Result<ConnectorInstance, CallError> {
        self.sink.connector.instantiate(&self.sink.sandbox).await
    }

    /// Returns an instance that is still usable.
    pub(crate) async fn put_back(&self, instance: ConnectorInstance) {
        if !instance.is_stopped() {
            self.idle.lock().await.push(instance);
        }
    }
}

/// The first error among concurrent records; the records not yet started
/// see it and stay unstarted.
#[derive(Debug, Default)]
pub(crate) struct FirstError(Mutex<Option<PipelineError>>);

impl FirstError {
    /// True once an error was set (or the slot's lock is poisoned, which
    /// [`FirstError::result`] reports).
    pub(crate) fn is_set(&self) -> bool {
        self.0.lock().map(|e| e.is_some()).unwrap_or(true)
    }

    /// Keeps `error` unless an earlier one is kept.
    pub(crate) fn set(&self, error: PipelineError) {
        if let Ok(mut slot) = self.0.lock()
            && slot.is_none()
        {
            *slot = Some(error);
        }
    }

    /// The first error, if any.
    pub(crate) fn result(&self) -> Result<(), PipelineError> {
        match lock(&self.0, "the run's first error")?.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_key_in_flight_makes_the_second_holder_of_its_kind_wait_and_is_forgotten_after() {
        let keys = KeysInFlight::default();
        let doc = LedgerKind::Document;
        let first = keys.hold(doc, "po-1").await.unwrap();
        let other = keys.hold(doc, "po-2").await.unwrap();
        let source = keys.hold(LedgerKind::Source, "po-1").await.unwrap();
        let second = tokio::time::timeout(Duration::from_millis(20), keys.hold(doc, "po-1")).await;
        assert!(second.is_err(), "po-1 is held");
        drop(first);
        let again = keys.hold(doc, "po-1").await.unwrap();
        drop((again, other, source));
        assert!(keys.is_empty(), "no key left behind");
    }

    #[test]
    fn a_poisoned_first_error_is_reported_not_taken_for_success() {
        let first = Arc::new(FirstError::default());
        let poisoner = first.clone();
        let _ = std::thread::spawn(move || {
            let _guard = poisoner.0.lock().unwrap();
            panic!("poison the slot");
        })
        .join();
        assert!(first.is_set());
        assert!(matches!(first.result(), Err(PipelineError::Broken(_))));
    }

    #[tokio::test]
    async fn writes_pass_the_gate_one_at_a_time_until_one_succeeded() {
        let gate = WriteGate::default();
        let held = gate.pass().await;
        assert!(held.is_some());
        assert!(
            tokio::time::timeout(Duration::from_millis(20), gate.pass())
                .await
                .is_err(),
            "a second write waits"
        );
        gate.prove();
        drop(held);
        assert!(gate.pass().await.is_none(), "open for good once proven");
    }
}
