//! One component instance in its sandbox, and the guarded calls into it: every
//! call gets an epoch deadline (CPU loops) and a timer (I/O waits), and a trap
//! becomes a [`CallError::Contained`] naming the tenant and connector.

use super::bindings::exports::mlc::connector::{plugin, sink, source};
use super::sandbox::{Sandbox, SandboxState};
use super::{Connection, ConnectorInner, ConnectorSpec, Doc, Failure, Page, Written};
use crate::events::{ContainmentReason, Event, EventSink};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::{Store, Trap, UpdateDeadline};

/// Why a call into a component did not produce its result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The component answered with a classified failure.
    #[error("connector {connector} ({tenant}): {call}: {failure}")]
    Failed {
        /// Tenant.
        tenant: String,
        /// Connector.
        connector: String,
        /// Which call.
        call: &'static str,
        /// The component's failure.
        failure: Failure,
    },
    /// The sandbox stopped the call; this instance cannot be used again.
    #[error("connector {connector} of tenant {tenant} was stopped during {call}: {reason}")]
    Contained {
        /// Tenant.
        tenant: String,
        /// Connector.
        connector: String,
        /// Which call.
        call: &'static str,
        /// Why.
        reason: ContainmentReason,
    },
    /// The component does not offer what was asked (e.g. `read` on a sink-only connector).
    #[error("connector {connector}: {what}")]
    Unsupported {
        /// Connector.
        connector: String,
        /// What is missing.
        what: String,
    },
    /// The sandbox could not be created.
    #[error("connector {connector} of tenant {tenant}: cannot start: {detail}")]
    Instantiate {
        /// Tenant.
        tenant: String,
        /// Connector.
        connector: String,
        /// What went wrong.
        detail: String,
    },
}

impl CallError {
    /// The component's failure, if that is what this is.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            CallError::Failed { failure, .. } => Some(failure),
            _ => None,
        }
    }
}

/// A live component instance in its own store.
pub struct ConnectorInstance {
    connector: Arc<ConnectorInner>,
    store: Store<SandboxState>,
    plugin: plugin::Guest,
    source: Option<source::Guest>,
    sink: Option<sink::Guest>,
    deadline: Duration,
    events: Arc<dyn EventSink>,
    /// Set once a call was stopped: the instance's state is undefined after a trap.
    stopped: Option<ContainmentReason>,
}

impl std::fmt::Debug for ConnectorInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorInstance")
            .field("connector", &self.connector.name)
            .field("tenant", &self.store.data().tenant)
            .field("stopped", &self.stopped)
            .finish()
    }
}

impl ConnectorInstance {
    pub(super) async fn new(
        connector: Arc<ConnectorInner>,
        sandbox: &Sandbox,
    ) -> Result<ConnectorInstance, CallError> {
        let tenant = sandbox.egress.tenant.clone();
        let fail = |detail: String| CallError::Instantiate {
            tenant: tenant.clone(),
            connector: connector.name.clone(),
            detail,
        };
        if sandbox.limits.memory_bytes > connector.max_memory_bytes {
            return Err(fail(format!(
                "memory limit {} bytes exceeds the runtime's maximum of {} bytes",
                sandbox.limits.memory_bytes, connector.max_memory_bytes
            )));
        }
        let mut store = Store::new(
            &connector.engine,
            SandboxState::new(&connector.name, sandbox),
        );
        store.limiter(|state| &mut state.memory);
        // At every epoch tick a running component yields to the executor (so a
        // busy tenant never starves another on the same thread) and is
        // interrupted once its call's deadline has passed.
        store.epoch_deadline_callback(|ctx| {
            Ok(if Instant::now() >= ctx.data().deadline_at {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });
        store.set_epoch_deadline(1);
        let instance = connector
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| fail(format!("{e:#}")))?;
        let plugin = connector
            .plugin
            .load(&mut store, &instance)
            .map_err(|e| fail(format!("{e:#}")))?;
        let source = match &connector.source {
            Some(indices) => Some(
                indices
                    .load(&mut store, &instance)
                    .map_err(|e| fail(format!("{e:#}")))?,
            ),
            None => None,
        };
        let sink = match &connector.sink {
            Some(indices) => Some(
                indices
                    .load(&mut store, &instance)
                    .map_err(|e| fail(format!("{e:#}")))?,
            ),
            None => None,
        };
        Ok(ConnectorInstance {
            connector,
            store,
            plugin,
            source,
            sink,
            deadline: sandbox.limits.call_deadline,
            events: sandbox.events.clone(),
            stopped: None,
        })
    }

    /// The connector's self-description.
    pub async fn spec(&mut self) -> Result<ConnectorSpec, CallError> {
        self.arm("spec")?;
        let outcome =
            tokio::time::timeout(self.deadline, self.plugin.call_spec(&mut self.store)).await;
        self.settle("spec", outcome.map(|r| r.map(Ok)))
    }

    /// Proves the connection works.
    pub async fn check(&mut self, connection: &Connection) -> Result<(), CallError> {
        self.arm("check")?;
        let outcome = tokio::time::timeout(
            self.deadline,
            self.plugin.call_check(&mut self.store, connection),
        )
        .await;
        self.settle("check", outcome)
    }

    /// Reads the next page of `stream` after `cursor`.
    pub async fn read(
        &mut self,
        connection: &Connection,
        stream: &str,
        cursor: Option<&str>,
    ) -> Result<Page, CallError> {
        self.arm("read")?;
        let source = self.source.as_ref().ok_or_else(|| CallError::Unsupported {
            connector: self.connector.name.clone(),
            what: "is not a source (it does not export mlc:connector/source)".into(),
        })?;
        let outcome = tokio::time::timeout(
            self.deadline,
            source.call_read(&mut self.store, connection, stream, cursor),
        )
        .await;
        self.settle("read", outcome)
    }

    /// Writes one document to `stream`.
    pub async fn write(
        &mut self,
        connection: &Connection,
        stream: &str,
        doc: &Doc,
    ) -> Result<Written, CallError> {
        self.arm("write")?;
        let sink = self.sink_guest()?;
        let outcome = tokio::time::timeout(
            self.deadline,
            sink.call_write(&mut self.store, connection, stream, doc),
        )
        .await;
        self.settle("write", outcome)
    }

    /// Finds the record written earlier from document key `key`.
    pub async fn lookup(
        &mut self,
        connection: &Connection,
        stream: &str,
        key: &str,
    ) -> Result<Option<String>, CallError> {
        self.arm("lookup")?;
        let sink = self.sink_guest()?;
        let outcome = tokio::time::timeout(
            self.deadline,
            sink.call_lookup(&mut self.store, connection, stream, key),
        )
        .await;
        self.settle("lookup", outcome)
    }

    /// True once a call was stopped by the sandbox (the instance is unusable).
    pub fn is_stopped(&self) -> bool {
        self.stopped.is_some()
    }

    fn sink_guest(&self) -> Result<sink::Guest, CallError> {
        self.sink.clone().ok_or_else(|| CallError::Unsupported {
            connector: self.connector.name.clone(),
            what: "is not a sink (it does not export mlc:connector/sink)".into(),
        })
    }

    /// Refuses calls on a stopped instance and sets this call's epoch deadline.
    fn arm(&mut self, call: &'static str) -> Result<(), CallError> {
        if let Some(reason) = &self.stopped {
            return Err(self.contained(call, reason.clone()));
        }
        self.store.data_mut().deadline_at = Instant::now() + self.deadline;
        self.store.set_epoch_deadline(1);
        Ok(())
    }

    /// Turns a call's outcome into the caller's result, classifying traps.
    fn settle<R>(
        &mut self,
        call: &'static str,
        outcome: Result<wasmtime::Result<Result<R, Failure>>, tokio::time::error::Elapsed>,
    ) -> Result<R, CallError> {
        let reason = match outcome {
            Ok(Ok(Ok(value))) => return Ok(value),
            Ok(Ok(Err(failure))) => {
                return Err(CallError::Failed {
                    tenant: self.store.data().tenant.clone(),
                    connector: self.connector.name.clone(),
                    call,
                    failure,
                });
            }
            Err(_elapsed) => ContainmentReason::Deadline {
                limit_ms: self.deadline.as_millis() as u64,
            },
            Ok(Err(error)) => {
                if self.store.data().memory.tripped {
                    ContainmentReason::MemoryLimit {
                        limit_bytes: self.store.data().memory.limit_bytes,
                    }
                } else if matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
                    ContainmentReason::Deadline {
                        limit_ms: self.deadline.as_millis() as u64,
                    }
                } else {
                    ContainmentReason::Trap(format!("{error:#}"))
                }
            }
        };
        self.stopped = Some(reason.clone());
        let error = self.contained(call, reason.clone());
        self.events.emit(Event::ComponentContained {
            tenant: self.store.data().tenant.clone(),
            connector: self.connector.name.clone(),
            call: call.to_string(),
            reason,
        });
        Err(error)
    }

    fn contained(&self, call: &'static str, reason: ContainmentReason) -> CallError {
        CallError::Contained {
            tenant: self.store.data().tenant.clone(),
            connector: self.connector.name.clone(),
            call,
            reason,
        }
    }
}
