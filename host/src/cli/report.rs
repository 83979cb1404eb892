//! Human and JSON renderings of flow run reports, shared by `sync`, `demo`
//! and the daemon's log.

use mlc_host::pipeline::{RunOutcome, RunReport};

/// One line per flow: counts, then how it ended.
pub fn table(reports: &[RunReport]) -> String {
    let mut out = format!(
        "{:<44} {:>6} {:>9} {:>6} {:>9} {:>6} {:>5} {:>7}  outcome\n",
        "flow", "read", "delivered", "linked", "unchanged", "parked", "dead", "retries"
    );
    for r in reports {
        let c = &r.counts;
        let outcome = match &r.outcome {
            RunOutcome::Completed => "ok".to_string(),
            RunOutcome::Halted(m) => format!("HALTED: {m}"),
            RunOutcome::Incomplete(m) => format!("incomplete: {m}"),
        };
        out.push_str(&format!(
            "{:<44} {:>6} {:>9} {:>6} {:>9} {:>6} {:>5} {:>7}  {}\n",
            format!("{}/{}", r.tenant, r.flow),
            c.read,
            c.delivered,
            c.linked,
            c.unchanged,
            c.parked,
            c.dead,
            c.retries,
            outcome
        ));
    }
    out
}

/// Reports as JSON.
pub fn json(reports: &[RunReport]) -> serde_json::Value {
    serde_json::Value::Array(
        reports
            .iter()
            .map(|r| {
                let (outcome, message) = match &r.outcome {
                    RunOutcome::Completed => ("ok", None),
                    RunOutcome::Halted(m) => ("halted", Some(m.clone())),
                    RunOutcome::Incomplete(m) => ("incomplete", Some(m.clone())),
                };
                let c = &r.counts;
                serde_json::json!({
                    "tenant": r.tenant, "flow": r.flow, "outcome": outcome, "message": message,
                    "read": c.read, "delivered": c.delivered, "linked": c.linked, "unchanged": c.unchanged,
                    "parked": c.parked, "dead": c.dead, "skipped": c.skipped, "deferred": c.deferred,
                    "retries": c.retries, "unreadable": c.unreadable,
                })
            })
            .collect(),
    )
}

/// True when any flow halted.
pub fn any_halted(reports: &[RunReport]) -> bool {
    reports
        .iter()
        .any(|r| matches!(r.outcome, RunOutcome::Halted(_)))
}
