//! Prometheus text exposition of the daemon: per-flow record counts, retries
//! and run durations since the daemon started (from the scheduler's run
//! reports), the ledger as it stands, pipeline event counters, and runtime
//! event counters (token refreshes, egress denials, contained calls). Every
//! `_total` is a counter kept as events happen, so it never goes down while
//! the process lives.

use crate::events::EventCounters;
use crate::pipeline::{Counters, RunCounts, RunOutcome, RunReport};
use crate::store::StateCounts;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Upper bounds (seconds) of the run-duration histogram buckets.
pub const DURATION_BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// What the daemon has seen of one flow since it started.
#[derive(Debug, Clone, Default)]
pub struct FlowTotals {
    /// Sum of the run reports' counts.
    pub counts: RunCounts,
    /// Runs per outcome word (`ok`, `halted`, `incomplete`).
    pub runs: BTreeMap<&'static str, u64>,
    /// Histogram counts per bucket of [`DURATION_BUCKETS`] (not cumulative).
    pub duration_buckets: [u64; DURATION_BUCKETS.len()],
    /// Runs longer than the last bucket.
    pub duration_overflow: u64,
    /// Sum of run durations, seconds.
    pub duration_sum_secs: f64,
    /// Whether the last run halted.
    pub halted: bool,
    /// End of the last run, ms since the epoch.
    pub last_finished_ms: u64,
}

impl FlowTotals {
    /// Adds one run.
    pub fn add(&mut self, report: &RunReport, duration_secs: f64, finished_ms: u64) {
        let c = &mut self.counts;
        let r = &report.counts;
        c.read += r.read;
        c.delivered += r.delivered;
        c.linked += r.linked;
        c.unchanged += r.unchanged;
        c.parked += r.parked;
        c.dead += r.dead;
        c.skipped += r.skipped;
        c.deferred += r.deferred;
        c.retries += r.retries;
        c.unreadable += r.unreadable;
        let word = outcome_word(&report.outcome);
        *self.runs.entry(word).or_default() += 1;
        match DURATION_BUCKETS.iter().position(|b| duration_secs <= *b) {
            Some(i) => self.duration_buckets[i] += 1,
            None => self.duration_overflow += 1,
        }
        self.duration_sum_secs += duration_secs;
        self.halted = matches!(report.outcome, RunOutcome::Halted(_));
        self.last_finished_ms = finished_ms;
    }

    fn run_count(&self) -> u64 {
        self.runs.values().sum()
    }
}

/// The outcome of a run in one word.
pub fn outcome_word(outcome: &RunOutcome) -> &'static str {
    match outcome {
        RunOutcome::Completed => "ok",
        RunOutcome::Halted(_) => "halted",
        RunOutcome::Incomplete(_) => "incomplete",
    }
}

/// Everything the exposition is made from.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// Daemon start, ms since the epoch.
    pub started_ms: u64,
    /// Per (tenant, flow) totals since start.
    pub totals: &'a BTreeMap<(String, String), FlowTotals>,
    /// Every enabled (tenant, flow) with its ledger counts now.
    pub ledger: &'a [((String, String), StateCounts)],
    /// The pipeline journal's event counters.
    pub journal: &'a Counters,
    /// The event log's runtime event counters.
    pub runtime: &'a EventCounters,
    /// Flow leases this process took over from a lapsed holder, and leases
    /// its runs lost, since start.
    pub leases: LeaseCounts,
}

/// Lease counters of this process (monotonic).
#[derive(Debug, Clone, Copy, Default)]
pub struct LeaseCounts {
    /// Grants that replaced another holder's lapsed lease.
    pub takeovers: u64,
    /// Runs that lost their lease and stopped.
    pub lost: u64,
}

/// Escapes a label value (backslash, double quote, newline).
pub fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Renders the exposition (text format 0.0.4).
pub fn render(inputs: &Inputs<'_>) -> String {
    let mut out = String::new();
    header(&mut out, "mlc_up", "gauge", "1 while the daemon serves.");
    out.push_str("mlc_up 1\n");
    header(
        &mut out,
        "mlc_lease_takeovers_total",
        "counter",
        "Flow leases this process took over from a holder that let them lapse (died or hung).",
    );
    let _ = writeln!(out, "mlc_lease_takeovers_total {}", inputs.leases.takeovers);
    header(
        &mut out,
        "mlc_leases_lost_total",
        "counter",
        "Flow runs of this process that lost their lease to another process and stopped.",
    );
    let _ = writeln!(out, "mlc_leases_lost_total {}", inputs.leases.lost);
    header(
        &mut out,
        "mlc_daemon_start_time_seconds",
        "gauge",
        "When the daemon started (Unix time).",
    );
    let _ = writeln!(
        out,
        "mlc_daemon_start_time_seconds {}",
        inputs.started_ms as f64 / 1000.0
    );

    header(
        &mut out,
        "mlc_records_total",
        "counter",
        "Records and documents per flow and outcome since the daemon started (read, delivered, linked, unchanged, parked, dead, skipped, deferred, unreadable).",
    );
    for ((tenant, flow), t) in inputs.totals {
        let c = &t.counts;
        for (outcome, n) in [
            ("read", c.read),
            ("delivered", c.delivered),
            ("linked", c.linked),
            ("unchanged", c.unchanged),
            ("parked", c.parked),
            ("dead", c.dead),
            ("skipped", c.skipped),
            ("deferred", c.deferred),
            ("unreadable", c.unreadable),
        ] {
            let _ = writeln!(
                out,
                "mlc_records_total{{tenant=\"{}\",flow=\"{}\",outcome=\"{outcome}\"}} {n}",
                label(tenant),
                label(flow)
            );
        }
    }
    header(
        &mut out,
        "mlc_write_retries_total",
        "counter",
        "Write and read retries per flow since the daemon started.",
    );
    for ((tenant, flow), t) in inputs.totals {
        let _ = writeln!(
            out,
            "mlc_write_retries_total{{tenant=\"{}\",flow=\"{}\"}} {}",
            label(tenant),
            label(flow),
            t.counts.retries
        );
    }
    header(
        &mut out,
        "mlc_flow_runs_total",
        "counter",
        "Flow runs per outcome (ok, halted, incomplete) since the daemon started.",
    );
    for ((tenant, flow), t) in inputs.totals {
        for (outcome, n) in &t.runs {
            let _ = writeln!(
                out,
                "mlc_flow_runs_total{{tenant=\"{}\",flow=\"{}\",outcome=\"{outcome}\"}} {n}",
                label(tenant),
                label(flow)
            );
        }
    }
    header(
        &mut out,
        "mlc_flow_run_duration_seconds",
        "histogram",
        "Duration of flow runs.",
    );
    for ((tenant, flow), t) in inputs.totals {
        let labels = format!("tenant=\"{}\",flow=\"{}\"", label(tenant), label(flow));
        let mut cumulative = 0;
        for (bound, n) in DURATION_BUCKETS.iter().zip(t.duration_buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "mlc_flow_run_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "mlc_flow_run_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            t.run_count()
        );
        let _ = writeln!(
            out,
            "mlc_flow_run_duration_seconds_sum{{{labels}}} {}",
            t.duration_sum_secs
        );
        let _ = writeln!(
            out,
            "mlc_flow_run_duration_seconds_count{{{labels}}} {}",
            t.run_count()
        );
    }
    header(
        &mut out,
        "mlc_flow_last_run_timestamp_seconds",
        "gauge",
        "End of the flow's last run (Unix time).",
    );
    for ((tenant, flow), t) in inputs.totals {
        let _ = writeln!(
            out,
            "mlc_flow_last_run_timestamp_seconds{{tenant=\"{}\",flow=\"{}\"}} {}",
            label(tenant),
            label(flow),
            t.last_finished_ms as f64 / 1000.0
        );
    }
    header(
        &mut out,
        "mlc_flow_halted",
        "gauge",
        "1 when the flow's last run halted for the operator.",
    );
    for ((tenant, flow), t) in inputs.totals {
        let _ = writeln!(
            out,
            "mlc_flow_halted{{tenant=\"{}\",flow=\"{}\"}} {}",
            label(tenant),
            label(flow),
            u8::from(t.halted)
        );
    }

    header(
        &mut out,
        "mlc_ledger_records",
        "gauge",
        "Ledger rows per flow and state now (dead = dead letters waiting for the operator).",
    );
    for ((tenant, flow), counts) in inputs.ledger {
        for state in crate::store::RecordState::ALL {
            let _ = writeln!(
                out,
                "mlc_ledger_records{{tenant=\"{}\",flow=\"{}\",state=\"{}\"}} {}",
                label(tenant),
                label(flow),
                state.as_str(),
                counts.get(&state).copied().unwrap_or(0)
            );
        }
    }

    header(
        &mut out,
        "mlc_pipeline_events_total",
        "counter",
        "Pipeline events (audit rows) per flow and event since the daemon started.",
    );
    for ((tenant, flow, event), n) in inputs.journal {
        let _ = writeln!(
            out,
            "mlc_pipeline_events_total{{tenant=\"{}\",flow=\"{}\",event=\"{event}\"}} {n}",
            label(tenant),
            label(flow)
        );
    }

    let runtime = inputs.runtime;
    header(
        &mut out,
        "mlc_token_refreshes_total",
        "counter",
        "OAuth2 tokens the host fetched, per connection and reason.",
    );
    for ((tenant, connection, reason), n) in &runtime.token_refreshes {
        let _ = writeln!(
            out,
            "mlc_token_refreshes_total{{tenant=\"{}\",connection=\"{}\",reason=\"{reason}\"}} {n}",
            label(tenant),
            label(connection)
        );
    }
    header(
        &mut out,
        "mlc_token_fetch_failures_total",
        "counter",
        "Failed OAuth2 token fetches per connection.",
    );
    for ((tenant, connection), n) in &runtime.token_fetch_failures {
        let _ = writeln!(
            out,
            "mlc_token_fetch_failures_total{{tenant=\"{}\",connection=\"{}\"}} {n}",
            label(tenant),
            label(connection)
        );
    }
    header(
        &mut out,
        "mlc_egress_denied_total",
        "counter",
        "Outgoing requests of a connector refused by the egress allowlist.",
    );
    for ((tenant, connection), n) in &runtime.egress_denied {
        let _ = writeln!(
            out,
            "mlc_egress_denied_total{{tenant=\"{}\",connection=\"{}\"}} {n}",
            label(tenant),
            label(connection)
        );
    }
    header(
        &mut out,
        "mlc_component_contained_total",
        "counter",
        "Connector calls stopped by the sandbox (deadline, memory limit, trap).",
    );
    for ((tenant, connector), n) in &runtime.component_contained {
        let _ = writeln!(
            out,
            "mlc_component_contained_total{{tenant=\"{}\",connector=\"{}\"}} {n}",
            label(tenant),
            label(connector)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventSink;

    fn report(delivered: u64, outcome: RunOutcome) -> RunReport {
        RunReport {
            tenant: "t".into(),
            flow: "f\"1".into(),
            outcome,
            counts: RunCounts {
                read: delivered + 1,
                delivered,
                retries: 2,
                ..RunCounts::default()
            },
        }
    }

    #[test]
    fn totals_sum_runs_and_the_histogram_is_cumulative() {
        let mut t = FlowTotals::default();
        t.add(&report(3, RunOutcome::Completed), 0.2, 1_000);
        t.add(&report(4, RunOutcome::Halted("x".into())), 400.0, 2_000);
        let mut totals = BTreeMap::new();
        totals.insert(("t".to_string(), "f\"1".to_string()), t);
        let log = crate::events::EventLog::new();
        log.emit(crate::events::Event::EgressDenied {
            tenant: "t".into(),
            connection: "c".into(),
            method: "GET".into(),
            origin: "http://x:1".into(),
            reason: "not allowed".into(),
        });
        let runtime = log.counters();
        let text = render(&Inputs {
            leases: LeaseCounts {
                takeovers: 2,
                lost: 1,
            },
            started_ms: 0,
            totals: &totals,
            ledger: &[],
            journal: &Counters::new(),
            runtime: &runtime,
        });
        assert!(
            text.contains(
                "mlc_records_total{tenant=\"t\",flow=\"f\\\"1\",outcome=\"delivered\"} 7\n"
            )
        );
        assert!(text.contains("mlc_write_retries_total{tenant=\"t\",flow=\"f\\\"1\"} 4\n"));
        assert!(text.contains("le=\"0.25\"} 1\n"));
        assert!(text.contains("le=\"300\"} 1\n"));
        assert!(text.contains("le=\"+Inf\"} 2\n"));
        assert!(text.contains("mlc_flow_halted{tenant=\"t\",flow=\"f\\\"1\"} 1\n"));
        assert!(text.contains("mlc_egress_denied_total{tenant=\"t\",connection=\"c\"} 1\n"));
        assert!(text.contains("mlc_lease_takeovers_total 2\n"));
        assert!(text.contains("mlc_leases_lost_total 1\n"));
    }
}
