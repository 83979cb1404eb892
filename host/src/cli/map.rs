//! `ml-connector map`: runs one flow's mapping program on a sample source
//! record (a JSON object, or an array of them) with the tenant's current
//! crosswalks and the flow's `$config`, and shows the documents it makes, or
//! why the record would park or become a dead letter. Nothing is read from
//! or written to any system. Exit 1 when a record fails to map.

use super::{ManifestArg, Outcome, UsageError};
use anyhow::Context;
use mlc_host::manifest::Manifest;
use mlc_host::mapping::{Action, Bindings, Mapping, Outcome as Mapped};
use mlc_host::store::{Crosswalks, Store};
use serde::Serialize;
use std::io::Read;
use std::path::PathBuf;

/// Arguments of `map`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestArg,
    /// Tenant (needed when the manifest has several).
    #[arg(long)]
    tenant: Option<String>,
    /// The flow whose mapping runs.
    #[arg(long)]
    flow: String,
    /// The sample: a JSON file holding one source record, or an array of
    /// them; `-` reads stdin.
    #[arg(long)]
    input: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Result1 {
    /// Index of the record in the sample.
    record: usize,
    /// `mapped`, `parked` or `failed`.
    outcome: &'static str,
    /// Why it parked or failed.
    reason: Option<String>,
    /// The documents.
    outputs: Vec<serde_json::Value>,
}

pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let manifest = Manifest::load(&args.manifest.manifest)?;
    let tenant = super::pick_tenant(&manifest, args.tenant.as_deref())?;
    super::check_flow(&manifest, &tenant, &args.flow)?;
    let spec = &manifest.tenants[&tenant].flows[&args.flow];
    let code = std::fs::read_to_string(&spec.mapping).with_context(|| {
        format!(
            "tenants.{tenant}.flows.{}.mapping: cannot read {}",
            args.flow,
            spec.mapping.display()
        )
    })?;
    let mapping = Mapping::compile(&spec.mapping.display().to_string(), &code)?;
    let text = if args.input.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the sample from stdin")?;
        s
    } else {
        std::fs::read_to_string(&args.input).map_err(|e| {
            UsageError(format!(
                "cannot read the sample {}: {e}",
                args.input.display()
            ))
        })?
    };
    let sample: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        UsageError(format!(
            "the sample {} is not JSON: {e}",
            args.input.display()
        ))
    })?;
    let records = match sample {
        serde_json::Value::Array(items) => items,
        one => vec![one],
    };
    // Crosswalks exist once the store does; without one the mapping sees none.
    let (xrefs, note) = if manifest.store_path.exists() {
        (super::open_store(&manifest)?.xrefs(&tenant)?, None)
    } else {
        (
            Crosswalks::new(),
            Some(format!(
                "no store at {} yet: mapped with empty crosswalks",
                manifest.store_path.display()
            )),
        )
    };
    let bindings = Bindings::new(&xrefs, &spec.config);
    let mut results = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let outcome = mapping.run(&record.to_string(), &bindings);
        results.push(match outcome {
            Mapped::Mapped(outputs) => Result1 {
                record: i,
                outcome: "mapped",
                reason: None,
                outputs: outputs
                    .into_iter()
                    .map(|o| {
                        let (action, value) = match o.action {
                            Action::Write(body) => (
                                "write",
                                serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
                            ),
                            Action::Link(target) => ("link", serde_json::Value::String(target)),
                            Action::Skip(reason) => ("skip", serde_json::Value::String(reason)),
                        };
                        serde_json::json!({ "key": o.key, "action": action, "value": value, "xref": o.xref })
                    })
                    .collect(),
            },
            Mapped::Parked(reason) => Result1 { record: i, outcome: "parked", reason: Some(reason), outputs: vec![] },
            Mapped::Failed(reason) => Result1 { record: i, outcome: "failed", reason: Some(reason), outputs: vec![] },
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        if let Some(note) = &note {
            println!("note: {note}");
        }
        for r in &results {
            match r.outcome {
                "mapped" if r.outputs.is_empty() => {
                    println!("record {}: mapped to no document", r.record)
                }
                "mapped" => {
                    println!("record {}: {} document(s)", r.record, r.outputs.len());
                    for o in &r.outputs {
                        println!(
                            "  {} {}:",
                            o["action"].as_str().unwrap_or_default(),
                            o["key"].as_str().unwrap_or_default()
                        );
                        let value = serde_json::to_string_pretty(&o["value"]).unwrap_or_default();
                        for line in value.lines() {
                            println!("    {line}");
                        }
                        if o["xref"].as_array().is_some_and(|a| !a.is_empty()) {
                            println!("    crosswalk on delivery: {}", o["xref"]);
                        }
                    }
                }
                "parked" => println!(
                    "record {}: PARKED (waits, mapped again each run): {}",
                    r.record,
                    r.reason.as_deref().unwrap_or_default()
                ),
                _ => println!(
                    "record {}: FAILED (would be a dead letter): {}",
                    r.record,
                    r.reason.as_deref().unwrap_or_default()
                ),
            }
        }
    }
    if let Some(r) = results.iter().find(|r| r.outcome == "failed") {
        anyhow::bail!(
            "mapping {} failed on record {}: {}",
            spec.mapping.display(),
            r.record,
            r.reason.as_deref().unwrap_or_default()
        );
    }
    Ok(Outcome::Ok)
}
