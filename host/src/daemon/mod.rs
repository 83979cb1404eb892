//! The daemon's HTTP surface on a loopback address: `/healthz`, `/metrics`
//! (Prometheus text), `/api/status` (JSON) and `/`, a status page whose
//! embedded script draws flows, a chart of records per run, dead letters and
//! halted flows' to-dos from `/api/status`. No asset comes from outside.
//!
//! ```no_run
//! # async fn demo(app: std::sync::Arc<mlc_host::app::App>) -> Result<(), Box<dyn std::error::Error>> {
//! use mlc_host::daemon::{Monitor, serve};
//! let (stop, shutdown) = tokio::sync::watch::channel(false);
//! let monitor = Monitor::new(app.clone());
//! let addr = serve(monitor.clone(), "127.0.0.1:9464".parse()?, shutdown.clone()).await?;
//! println!("status page: http://{addr}/");
//! mlc_host::scheduler::run(app, shutdown, monitor.on_report()).await;
//! # drop(stop); Ok(()) }
//! ```

pub mod metrics;
pub mod status;

use crate::app::App;
use crate::pipeline::RunReport;
use crate::store::Store;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use metrics::FlowTotals;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

const PAGE_HTML: &str = include_str!("assets/index.html");
const PAGE_JS: &str = include_str!("assets/app.js");
const PAGE_CSS: &str = include_str!("assets/style.css");

/// Why the HTTP surface could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The address is not a loopback address (the surface has no authentication).
    #[error(
        "daemon.listen {0} is not a loopback address; the status page and /metrics have no authentication, so serve them on 127.0.0.1 (or ::1) and put a reverse proxy in front if they must be reached from elsewhere"
    )]
    NotLoopback(SocketAddr),
    /// Binding failed (port taken, permission).
    #[error("cannot listen on {addr}: {source}; free the port or change daemon.listen")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What the daemon has seen since it started: run reports, fed by the
/// scheduler through [`Monitor::on_report`], beside the host it watches.
#[derive(Debug)]
pub struct Monitor {
    app: Arc<App>,
    started_ms: u64,
    totals: Mutex<BTreeMap<(String, String), FlowTotals>>,
}

impl Monitor {
    /// A monitor of `app`, started now.
    pub fn new(app: Arc<App>) -> Arc<Monitor> {
        Arc::new(Monitor {
            started_ms: app.clock.now_ms(),
            app,
            totals: Mutex::new(BTreeMap::new()),
        })
    }

    /// The host it watches.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Counts one finished run. Its duration comes from the run history the
    /// pipeline has just stored.
    pub fn record(&self, report: &RunReport) {
        let last = self
            .app
            .store
            .runs(&report.tenant, &report.flow, 1)
            .ok()
            .and_then(|runs| runs.into_iter().next());
        let (duration_secs, finished_ms) = last
            .map(|r| {
                (
                    r.finished_ms.saturating_sub(r.started_ms) as f64 / 1000.0,
                    r.finished_ms,
                )
            })
            .unwrap_or((0.0, self.app.clock.now_ms()));
        if let Ok(mut totals) = self.totals.lock() {
            totals
                .entry((report.tenant.clone(), report.flow.clone()))
                .or_default()
                .add(report, duration_secs, finished_ms);
        }
    }

    /// The callback for [`crate::scheduler::run`].
    pub fn on_report(self: &Arc<Self>) -> Arc<dyn Fn(&RunReport) + Send + Sync> {
        let monitor = self.clone();
        Arc::new(move |report: &RunReport| monitor.record(report))
    }

    /// The Prometheus exposition.
    pub fn metrics(&self) -> String {
        let totals = self.totals.lock().map(|t| t.clone()).unwrap_or_default();
        let mut ledger = Vec::new();
        for tenant in self.app.deployment.tenants.values() {
            for flow in &tenant.flows {
                // A store error leaves the flow out of this scrape rather than failing it.
                if let Ok(counts) = self.app.store.ledger_counts(&tenant.name, &flow.name) {
                    ledger.push(((tenant.name.clone(), flow.name.clone()), counts));
                }
            }
        }
        metrics::render(&metrics::Inputs {
            started_ms: self.started_ms,
            totals: &totals,
            ledger: &ledger,
            journal: &self.app.pipeline.journal().counters(),
            runtime: &self.app.events.counters(),
            leases: metrics::LeaseCounts {
                takeovers: self
                    .app
                    .pipeline
                    .coordination()
                    .takeovers
                    .load(std::sync::atomic::Ordering::Relaxed),
                lost: self
                    .app
                    .pipeline
                    .coordination()
                    .lost
                    .load(std::sync::atomic::Ordering::Relaxed),
            },
        })
    }

    /// The status snapshot as the page reads it (`/api/status`).
    pub fn status_json(&self) -> Result<serde_json::Value, crate::store::StoreError> {
        let snapshot = status::snapshot(
            &self.app.manifest,
            self.app.store.as_ref(),
            self.app.clock.now_ms(),
            status::SnapshotLimits::default(),
        )?;
        let mut value = serde_json::to_value(&snapshot).unwrap_or_default();
        let runs_seen: u64 = self
            .totals
            .lock()
            .map(|t| t.values().map(|f| f.runs.values().sum::<u64>()).sum())
            .unwrap_or(0);
        if let Some(map) = value.as_object_mut() {
            map.insert(
                "daemon".into(),
                serde_json::json!({ "started_ms": self.started_ms, "runs": runs_seen }),
            );
        }
        Ok(value)
    }
}

/// Serves the surface on `addr` (a loopback address; port 0 picks a free
/// one) until `shutdown` turns true; returns the bound address at once.
pub async fn serve(
    monitor: Arc<Monitor>,
    addr: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) -> Result<SocketAddr, DaemonError> {
    if !addr.ip().is_loopback() {
        return Err(DaemonError::NotLoopback(addr));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| DaemonError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| DaemonError::Bind { addr, source })?;
    tokio::spawn(async move {
        while !*shutdown.borrow() {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let monitor = monitor.clone();
                        tokio::spawn(async move {
                            let service = service_fn(move |req| {
                                let monitor = monitor.clone();
                                async move { Ok::<_, Infallible>(route(monitor, req).await) }
                            });
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                    Err(e) => {
                        // Out of descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "status page: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                // A dropped sender also ends the surface.
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
    });
    Ok(bound)
}

fn response(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

async fn route(monitor: Arc<Monitor>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET {
        return response(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "only GET is served\n",
        );
    }
    match req.uri().path() {
        "/" | "/index.html" => response(StatusCode::OK, "text/html; charset=utf-8", PAGE_HTML),
        "/app.js" => response(StatusCode::OK, "text/javascript; charset=utf-8", PAGE_JS),
        "/style.css" => response(StatusCode::OK, "text/css; charset=utf-8", PAGE_CSS),
        "/healthz" => response(StatusCode::OK, "text/plain; charset=utf-8", "ok\n"),
        // The store is synchronous (SQLite): keep it off the async workers.
        "/metrics" => match tokio::task::spawn_blocking(move || monitor.metrics()).await {
            Ok(text) => response(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                text,
            ),
            Err(e) => response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                format!("metrics failed: {e}\n"),
            ),
        },
        "/api/status" => match tokio::task::spawn_blocking(move || monitor.status_json()).await {
            Ok(Ok(value)) => response(
                StatusCode::OK,
                "application/json",
                serde_json::to_vec(&value).unwrap_or_default(),
            ),
            Ok(Err(e)) => response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/json",
                serde_json::json!({ "error": e.to_string() }).to_string(),
            ),
            Err(e) => response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/json",
                serde_json::json!({ "error": e.to_string() }).to_string(),
            ),
        },
        _ => response(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found; try /, /metrics, /healthz or /api/status\n",
        ),
    }
}
