//! `ml-connector sync --dry-run`: reads each selected flow's source from its
//! saved cursor and maps every record (and every parked one) with today's
//! crosswalks, then says what a real run would do with each document:
//! write, rewrite, retry, wait, link, skip, leave unchanged, park or
//! dead-letter, decided by the pipeline's own [`mlc_host::pipeline::decide`]
//! and halted by its own verdicts and cursor guard, so a dry run cannot
//! disagree with a run. Nothing is written, no ledger row, cursor or
//! crosswalk changes.

use super::Outcome;
use mlc_host::app::App;
use mlc_host::mapping::{Action, Bindings};
use mlc_host::pipeline::decide::{RecordDecision, decide, decide_record, unreadable_is_new};
use mlc_host::pipeline::trail::next_cursor;
use mlc_host::pipeline::verdict::verdict;
use mlc_host::pipeline::{Flow, order_by_requirements};
use mlc_host::runtime::Doc;
use mlc_host::store::{LedgerKind, RecordState, Store};
use serde::Serialize;

/// What a real run would do with one document or record.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    /// `write`, `rewrite`, `retry`, `wait` (deferred until its Retry-After),
    /// `link`, `skip`, `unchanged`, `park`, `dead-letter` or `hold` (changed,
    /// kept by `on_change = "ignore"`): the pipeline's own decision
    /// ([`mlc_host::pipeline::decide`]).
    pub action: &'static str,
    /// Source record key.
    pub source_key: String,
    /// Document key (absent for parked or failed records).
    pub key: Option<String>,
    /// The body it would write.
    pub body: Option<serde_json::Value>,
    /// Target key of a link, or why (parked, failed, skipped).
    pub detail: Option<String>,
}

/// The dry run of one flow.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// Tenant.
    pub tenant: String,
    /// Flow.
    pub flow: String,
    /// Source records read (pages from the cursor plus parked records).
    pub read: u64,
    /// Pages read.
    pub pages: u64,
    /// Every planned action.
    pub planned: Vec<Planned>,
    /// Why reading stopped early, if it did.
    pub error: Option<String>,
    /// True when the error would halt the flow (operator to-do).
    pub halts: bool,
}

impl Preview {
    fn count(&self, action: &str) -> usize {
        self.planned.iter().filter(|p| p.action == action).count()
    }
}

fn plan_record(
    app: &App,
    flow: &Flow,
    bindings: &Bindings,
    doc: &Doc,
    out: &mut Vec<Planned>,
) -> anyhow::Result<()> {
    let store = app.store.as_ref();
    let previous = store.ledger_get(&flow.tenant, &flow.name, LedgerKind::Source, &doc.key)?;
    let outcome = flow.mapping.run(&doc.body, bindings);
    let decision = decide_record(previous.as_ref(), &outcome, &doc.body);
    let outputs = match outcome {
        mlc_host::mapping::Outcome::Mapped(outputs) => outputs,
        mlc_host::mapping::Outcome::Parked(reason) | mlc_host::mapping::Outcome::Failed(reason) => {
            let detail = match decision {
                RecordDecision::Park { .. } => reason,
                _ => format!("mapping {}: {reason}", flow.mapping.name()),
            };
            out.push(Planned {
                action: decision.as_str().unwrap_or("unchanged"),
                source_key: doc.key.clone(),
                key: None,
                body: None,
                detail: Some(detail),
            });
            return Ok(());
        }
    };
    let now = app.clock.now_ms();
    for output in outputs {
        let existing =
            store.ledger_get(&flow.tenant, &flow.name, LedgerKind::Document, &output.key)?;
        let decision = decide(existing.as_ref(), &output.action, flow.on_change, now);
        let action = decision.as_str();
        let (body, detail) = match output.action {
            Action::Link(target) => (None, Some(target)),
            Action::Skip(reason) => (None, Some(reason)),
            Action::Write(text) => {
                let detail = existing
                    .as_ref()
                    .filter(|_| action != "write" && action != "unchanged")
                    .and_then(|e| e.target_key.clone());
                (serde_json::from_str(&text).ok(), detail)
            }
        };
        out.push(Planned {
            action,
            source_key: doc.key.clone(),
            key: Some(output.key),
            body,
            detail,
        });
    }
    Ok(())
}

/// Reads and maps one flow without side effects.
pub async fn preview(app: &App, flow: &Flow) -> anyhow::Result<Preview> {
    let store = app.store.as_ref();
    let bindings = Bindings::new(&store.xrefs(&flow.tenant)?, &flow.config);
    let mut preview = Preview {
        tenant: flow.tenant.clone(),
        flow: flow.name.clone(),
        read: 0,
        pages: 0,
        planned: Vec::new(),
        error: None,
        halts: false,
    };
    // Parked records are mapped again by every run: show what they would become.
    for entry in store.ledger_in_state(
        &flow.tenant,
        &flow.name,
        RecordState::Parked,
        usize::MAX >> 1,
    )? {
        if let Some(body) = entry.source_doc {
            preview.read += 1;
            let doc = Doc {
                key: entry.source_key,
                body,
            };
            plan_record(app, flow, &bindings, &doc, &mut preview.planned)?;
        }
    }
    let handle = &flow.source.connection;
    let mut instance = match handle.connector.instantiate(&handle.sandbox).await {
        Ok(i) => i,
        Err(e) => {
            preview.error = Some(e.to_string());
            return Ok(preview);
        }
    };
    let mut cursor = store.cursor(&flow.tenant, &flow.name)?;
    loop {
        match instance
            .read(&handle.connection, &flow.source.stream, cursor.as_deref())
            .await
        {
            Ok(page) => {
                preview.pages += 1;
                for bad in &page.bad_records {
                    let previous = store.ledger_get(
                        &flow.tenant,
                        &flow.name,
                        LedgerKind::Unreadable,
                        &bad.key,
                    )?;
                    preview.planned.push(Planned {
                        // As a run: recorded once per reason.
                        action: if unreadable_is_new(previous.as_ref(), &bad.reason) {
                            "dead-letter"
                        } else {
                            "unchanged"
                        },
                        source_key: bad.key.clone(),
                        key: None,
                        body: None,
                        detail: Some(format!("unreadable: {}", bad.reason)),
                    });
                }
                for doc in &page.docs {
                    preview.read += 1;
                    plan_record(app, flow, &bindings, doc, &mut preview.planned)?;
                }
                if !page.more {
                    break;
                }
                // The pipeline's guard: "more" without a new cursor stops the run.
                match next_cursor(
                    &flow.source.stream,
                    cursor.as_deref(),
                    page.cursor.as_deref(),
                ) {
                    Ok(next) => cursor = Some(next),
                    Err(stuck) => {
                        preview.error = Some(stuck.to_string());
                        preview.halts = true;
                        break;
                    }
                }
            }
            Err(e) => {
                preview.halts = verdict(&e).halts();
                preview.error = Some(format!("reading {}: {e}", flow.source.stream));
                break;
            }
        }
    }
    Ok(preview)
}

const ACTIONS: [&str; 10] = [
    "write",
    "rewrite",
    "retry",
    "wait",
    "link",
    "skip",
    "hold",
    "unchanged",
    "park",
    "dead-letter",
];

fn human(preview: &Preview, flow: &Flow, show: usize) -> String {
    let mut out = format!(
        "{}/{} (dry run): read {} record(s) in {} page(s)\n ",
        preview.tenant, preview.flow, preview.read, preview.pages
    );
    for action in ACTIONS {
        let n = preview.count(action);
        if n > 0 {
            out.push_str(&format!(" {action} {n};"));
        }
    }
    if preview.planned.is_empty() {
        out.push_str(" nothing to do");
    }
    out.push('\n');
    for action in ACTIONS.iter().filter(|a| **a != "unchanged") {
        let items: Vec<&Planned> = preview
            .planned
            .iter()
            .filter(|p| p.action == *action)
            .collect();
        for p in items.iter().take(show) {
            let what = p
                .key
                .as_deref()
                .map(|k| format!("{k} (source {})", p.source_key))
                .unwrap_or_else(|| format!("source {}", p.source_key));
            let detail = p
                .detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            out.push_str(&format!("    {action:<11} {what}{detail}\n"));
        }
        if items.len() > show {
            out.push_str(&format!(
                "    {action:<11} ... and {} more (--show N, or --json for all)\n",
                items.len() - show
            ));
        }
    }
    if preview.count("park") > 0 && !flow.requires.is_empty() {
        out.push_str(&format!(
            "  note: a real run runs {} first; references they would create are not seen by a dry run, so some parked records may map then\n",
            flow.requires.join(", ")
        ));
    }
    if let Some(e) = &preview.error {
        out.push_str(&format!(
            "  {}: {e}\n",
            if preview.halts {
                "WOULD HALT"
            } else {
                "stopped"
            }
        ));
    }
    out
}

/// Runs the dry run of every selected flow and prints it.
pub async fn run(
    app: &App,
    selection: &[(String, Vec<Flow>)],
    show: usize,
    json: bool,
) -> anyhow::Result<Outcome> {
    let mut previews = Vec::new();
    for (_, flows) in selection {
        for flow in order_by_requirements(flows)? {
            let preview = preview(app, flow).await?;
            if !json {
                print!("{}", human(&preview, flow, show));
            }
            previews.push(preview);
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&previews)?);
    } else {
        println!("Dry run: nothing was written, no cursor moved.");
    }
    if previews.iter().any(|p| p.halts) {
        return Ok(Outcome::Halted);
    }
    if let Some(p) = previews.iter().find(|p| p.error.is_some()) {
        anyhow::bail!(
            "dry run of {}/{} could not read its source: {}",
            p.tenant,
            p.flow,
            p.error.as_deref().unwrap_or_default()
        );
    }
    Ok(Outcome::Ok)
}
