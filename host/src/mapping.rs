//! Mapping programs: jq (run by the jaq crates) turning one source record into
//! zero or more target documents, with the tenant's crosswalks (`$xref`,
//! `$xref_rev`) and the flow's settings (`$config`) bound.
//!
//! Each output of a program is an object with a `key` and one of:
//! - `"body": {...}`: a document to write to the sink;
//! - `"link": "<target key>"`: the record already exists in the target (no write);
//! - `"skip": "<reason>"`: deliberately not written.
//!
//! An output may also carry `"xref": {"table": T, "key": K, "value": V}` (or a
//! list of them): once the document is delivered or linked, crosswalk `T[K]`
//! is set to `V`; a missing key or value stands for the document's target key
//! (so `{"table": T, "value": V}` records target -> V). This is how reference flows
//! (vendors, GL values) feed the lookups of the flows that need them.
//!
//! A program may call `xref($table; $key)`, which yields the crosswalk value or
//! raises a *park* error: the record waits, with that reason, until the value
//! exists (then it is mapped again automatically). `park($reason)` parks
//! explicitly. Any other error makes the record a dead letter with the message.

use crate::store::Crosswalks;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data};
use jaq_json::Val;
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Definitions every mapping program can use.
const PRELUDE: &str = r#"
def park($reason): error({"mlc_park": $reason});
def xref($table; $key):
  ($key | tostring) as $k
  | ($xref[$table] // {})[$k]
    // park("no \($table) crosswalk entry for \($k | tojson) yet");
def xref_rev($table; $value):
  ($value | tostring) as $v | ($xref_rev[$table] // {})[$v];
"#;

type Data = data::JustLut<Val>;

/// A compiled mapping program.
pub struct Mapping {
    name: String,
    filter: jaq_core::Filter<Data>,
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapping").field("name", &self.name).finish()
    }
}

/// What a mapping made of one source record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The documents (possibly none) the record maps to.
    Mapped(Vec<Output>),
    /// The record waits for a reference; the reason says which.
    Parked(String),
    /// The program failed on this record (a dead letter); the message says why.
    Failed(String),
}

/// One output of a mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The document key (the sink's idempotency key).
    pub key: String,
    /// What to do with it.
    pub action: Action,
    /// Crosswalk entries to set once it is delivered or linked.
    pub xref: Vec<XrefEntry>,
}

/// A crosswalk entry an output asks for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct XrefEntry {
    /// Table (e.g. `vendor`).
    pub table: String,
    /// Key in the table (e.g. the Procurify vendor id); `None` means the
    /// document's target key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Value; `None` means the document's target key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// What to do with one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write this body (JSON text, canonical: keys sorted as serde_json sorts them).
    Write(String),
    /// Already in the target under this key.
    Link(String),
    /// Do not write, for this reason.
    Skip(String),
}

/// Why a program does not compile.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("mapping {name}: {detail}")]
pub struct MappingError {
    /// Program name (file).
    pub name: String,
    /// The compiler's complaint.
    pub detail: String,
}

impl Mapping {
    /// Compiles `code`; `name` (the file) appears in every error.
    pub fn compile(name: &str, code: &str) -> Result<Mapping, MappingError> {
        let source = format!("{PRELUDE}\n{code}");
        let err = |detail: String| MappingError {
            name: name.to_string(),
            detail,
        };
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader
            .load(
                &arena,
                File {
                    code: source.as_str(),
                    path: (),
                },
            )
            .map_err(|errs| err(format!("does not parse: {}", describe(&errs))))?;
        let filter = Compiler::default()
            .with_funs(funs)
            .with_global_vars(["$xref", "$xref_rev", "$config"])
            .compile(modules)
            .map_err(|errs| err(format!("does not compile: {}", describe(&errs))))?;
        Ok(Mapping {
            name: name.to_string(),
            filter,
        })
    }

    /// The program's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Maps one source record (JSON text).
    pub fn run(&self, record: &str, bindings: &Bindings) -> Outcome {
        let input = match jaq_json::read::parse_single(record.as_bytes()) {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(format!("the source record is not JSON: {e}")),
        };
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new(bindings.values()));
        let mut outputs = Vec::new();
        for (i, result) in self.filter.id.run((ctx, input)).enumerate() {
            let value = match result {
                Ok(v) => v,
                Err(exn) => {
                    return match exn.get_err() {
                        Ok(error) => classify_error(error.into_val()),
                        Err(_) => Outcome::Failed("the program halted".into()),
                    };
                }
            };
            match output(&value) {
                Ok(o) => outputs.push(o),
                Err(e) => return Outcome::Failed(format!("output {}: {e}", i + 1)),
            }
        }
        Outcome::Mapped(outputs)
    }
}

fn describe<T: std::fmt::Debug>(errs: &[T]) -> String {
    crate::excerpt(&format!("{errs:?}"), 600)
}

fn classify_error(value: Val) -> Outcome {
    let text = value.to_string();
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(reason) = map.get("mlc_park")
    {
        let reason = reason
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| reason.to_string());
        return Outcome::Parked(reason);
    }
    // A plain string error reads better without its JSON quotes.
    let message = serde_json::from_str::<String>(&text).unwrap_or(text);
    Outcome::Failed(message)
}

fn output(value: &Val) -> Result<Output, String> {
    let json: serde_json::Value = serde_json::from_str(&value.to_string())
        .map_err(|e| format!("not JSON-representable ({e})"))?;
    let serde_json::Value::Object(map) = json else {
        return Err(format!(
            "must be an object with \"key\" and one of \"body\", \"link\", \"skip\"; got {}",
            crate::excerpt(&json.to_string(), 120)
        ));
    };
    let key = match map.get("key") {
        Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => return Err("\"key\" must be a non-empty string or a number".into()),
    };
    let xref = match map.get("xref") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(v @ serde_json::Value::Object(_)) => vec![xref_entry(v)?],
        Some(serde_json::Value::Array(list)) => {
            list.iter().map(xref_entry).collect::<Result<_, _>>()?
        }
        Some(other) => {
            return Err(format!(
                "\"xref\" must be an object or a list, got {}",
                type_name(other)
            ));
        }
    };
    let present: Vec<&str> = ["body", "link", "skip"]
        .into_iter()
        .filter(|k| map.contains_key(*k))
        .collect();
    let action = match present.as_slice() {
        ["body"] => match &map["body"] {
            serde_json::Value::Object(_) => Action::Write(map["body"].to_string()),
            other => {
                return Err(format!(
                    "\"body\" must be an object, got {}",
                    type_name(other)
                ));
            }
        },
        ["link"] => match &map["link"] {
            serde_json::Value::String(s) if !s.is_empty() => Action::Link(s.clone()),
            serde_json::Value::Number(n) => Action::Link(n.to_string()),
            other => {
                return Err(format!(
                    "\"link\" must be a target key, got {}",
                    type_name(other)
                ));
            }
        },
        ["skip"] => Action::Skip(match &map["skip"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        _ => {
            return Err(format!(
                "key {key:?}: needs exactly one of \"body\", \"link\", \"skip\" (found {present:?})"
            ));
        }
    };
    Ok(Output { key, action, xref })
}

fn scalar_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn xref_entry(v: &serde_json::Value) -> Result<XrefEntry, String> {
    let table = v.get("table").and_then(scalar_text);
    let key = v.get("key").and_then(scalar_text);
    let value = v.get("value").and_then(scalar_text);
    match table {
        Some(table) if key.is_some() || value.is_some() => Ok(XrefEntry { table, key, value }),
        _ => Err(format!(
            "\"xref\" entries need a \"table\" and a \"key\" or \"value\" (strings or numbers), got {}",
            crate::excerpt(&v.to_string(), 120)
        )),
    }
}

fn type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The values bound to a program's global variables. Kept as JSON text so
/// bindings can cross threads (jaq values are reference-counted, not `Send`);
/// each thread parses them once per set of bindings.
#[derive(Clone)]
pub struct Bindings {
    id: u64,
    json: Arc<[String; 3]>,
}

impl std::fmt::Debug for Bindings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bindings")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// The last bindings this thread parsed, by id.
    static PARSED: RefCell<Option<(u64, [Val; 3])>> = const { RefCell::new(None) };
}

static NEXT_BINDINGS_ID: AtomicU64 = AtomicU64::new(1);

impl Bindings {
    /// Bindings from the tenant's crosswalks and the flow's settings.
    pub fn new(xrefs: &Crosswalks, config: &serde_json::Value) -> Bindings {
        let mut reversed = Crosswalks::new();
        for (table, entries) in xrefs {
            let rev = reversed.entry(table.clone()).or_default();
            for (k, v) in entries {
                rev.insert(v.clone(), k.clone());
            }
        }
        let text = |m: &Crosswalks| serde_json::to_string(m).unwrap_or_else(|_| "{}".into());
        Bindings {
            id: NEXT_BINDINGS_ID.fetch_add(1, Ordering::Relaxed),
            json: Arc::new([text(xrefs), text(&reversed), config.to_string()]),
        }
    }

    /// `[$xref, $xref_rev, $config]` as jaq values, parsed once per thread.
    fn values(&self) -> [Val; 3] {
        PARSED.with(|cell| {
            let mut cell = cell.borrow_mut();
            match cell.as_ref() {
                Some((id, values)) if *id == self.id => values.clone(),
                _ => {
                    let parse = |json: &str| {
                        jaq_json::read::parse_single(json.as_bytes()).unwrap_or_default()
                    };
                    let values = [
                        parse(&self.json[0]),
                        parse(&self.json[1]),
                        parse(&self.json[2]),
                    ];
                    *cell = Some((self.id, values.clone()));
                    values
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bindings() -> Bindings {
        let mut x = Crosswalks::new();
        x.entry("vendor".into())
            .or_default()
            .insert("17".into(), "0000000101".into());
        Bindings::new(&x, &serde_json::json!({"business_unit": "US001"}))
    }

    #[test]
    fn one_record_can_yield_several_documents_with_config_and_xref() {
        let m = Mapping::compile(
            "po.jq",
            r#".lines | group_by(.vendor) | .[] | {key: "REQ-\(.[0].req)-\(.[0].vendor)",
               body: {vendor_id: xref("vendor"; .[0].vendor), bu: $config.business_unit, n: length}}"#,
        )
        .unwrap();
        let out = m.run(
            r#"{"lines":[{"req":5,"vendor":17},{"req":5,"vendor":17}]}"#,
            &bindings(),
        );
        assert_eq!(
            out,
            Outcome::Mapped(vec![Output {
                key: "REQ-5-17".into(),
                action: Action::Write(r#"{"bu":"US001","n":2,"vendor_id":"0000000101"}"#.into()),
                xref: vec![],
            }])
        );
    }

    #[test]
    fn missing_crosswalk_value_parks_with_the_table_and_key() {
        let m =
            Mapping::compile("po.jq", r#"{key: "k", body: {v: xref("vendor"; .vendor)}}"#).unwrap();
        assert_eq!(
            m.run(r#"{"vendor": 99}"#, &bindings()),
            Outcome::Parked("no vendor crosswalk entry for \"99\" yet".into())
        );
    }

    #[test]
    fn reverse_crosswalk_finds_the_source_key() {
        let m = Mapping::compile(
            "v.jq",
            r#"if xref_rev("vendor"; .id) then {key: .id, link: xref_rev("vendor"; .id)} else {key: .id, skip: "new"} end"#,
        )
        .unwrap();
        assert_eq!(
            m.run(r#"{"id": "0000000101"}"#, &bindings()),
            Outcome::Mapped(vec![Output {
                key: "0000000101".into(),
                action: Action::Link("17".into()),
                xref: vec![],
            }])
        );
    }

    #[test]
    fn program_errors_and_bad_outputs_become_failures_naming_the_problem() {
        let m = Mapping::compile("e.jq", r#"error("quantity must be positive")"#).unwrap();
        assert_eq!(
            m.run("{}", &bindings()),
            Outcome::Failed("quantity must be positive".into())
        );
        let m = Mapping::compile("e.jq", r#"{key: "k"}"#).unwrap();
        assert!(
            matches!(m.run("{}", &bindings()), Outcome::Failed(msg) if msg.contains("exactly one of"))
        );
        let m = Mapping::compile("e.jq", r#""just a string""#).unwrap();
        assert!(
            matches!(m.run("{}", &bindings()), Outcome::Failed(msg) if msg.contains("must be an object"))
        );
        let m = Mapping::compile("e.jq", "empty").unwrap();
        assert_eq!(m.run("{}", &bindings()), Outcome::Mapped(vec![]));
    }

    #[test]
    fn syntax_errors_name_the_program() {
        let err = Mapping::compile("broken.jq", "{key: ").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("mapping broken.jq: does not parse"),
            "{err}"
        );
        let err = Mapping::compile("unknown.jq", "no_such_function(1)").unwrap_err();
        assert!(err.to_string().contains("does not compile"), "{err}");
    }

    #[test]
    fn exact_decimals_pass_through_as_strings() {
        let m = Mapping::compile("d.jq", r#"{key: "k", body: {q: .q}}"#).unwrap();
        assert_eq!(
            m.run(r#"{"q": "12.50000001"}"#, &bindings()),
            Outcome::Mapped(vec![Output {
                key: "k".into(),
                action: Action::Write(r#"{"q":"12.50000001"}"#.into()),
                xref: vec![],
            }])
        );
    }

    #[test]
    fn outputs_can_ask_for_crosswalk_entries() {
        let m = Mapping::compile(
            "x.jq",
            r#"{key: .name, body: {}, xref: [{table: "vendor", key: .id}, {table: "name", key: .id, value: .name}]}"#,
        )
        .unwrap();
        let Outcome::Mapped(out) = m.run(r#"{"id": 17, "name": "Acme"}"#, &bindings()) else {
            panic!("mapping failed");
        };
        assert_eq!(
            out[0].xref,
            vec![
                XrefEntry {
                    table: "vendor".into(),
                    key: Some("17".into()),
                    value: None
                },
                XrefEntry {
                    table: "name".into(),
                    key: Some("17".into()),
                    value: Some("Acme".into())
                },
            ]
        );
        let m =
            Mapping::compile("x.jq", r#"{key: "k", body: {}, xref: {table: "vendor"}}"#).unwrap();
        assert!(
            matches!(m.run("{}", &bindings()), Outcome::Failed(msg) if msg.contains("need a \"table\" and a \"key\" or \"value\""))
        );
    }
}
