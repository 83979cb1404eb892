//! Streams `accounts` and `departments` (read, write, lookup): ChartField
//! values of the SETID. Read: full scan of the configured query (prompt =
//! SETID), latest effective row per value. Write: ACCOUNT_CF / DEPT_CF CI
//! Create; the target key is the value. Lookup: the value itself.
//!
//! Document body (`account` for accounts, `deptid` for departments; `?` = optional on write):
//! ```json
//! {"setid": "SHARE"?, "account": "615000"?, "descr": "Lab Supplies",
//!  "effdt": "2026-11-18"?, "eff_status": "A"?, "last_modified": "2026-11-18T09:30:00"}
//! ```
//! On write the value defaults to the document key and must equal it; `effdt`
//! defaults to today (host clock, UTC). `last_modified` (LASTUPDDTTM, null when
//! the query has no such column) is only in read documents.

use std::collections::BTreeMap;

use mlc_guest::{BadRecord, Doc, Failure, Page, fail};
use serde::Serialize;

use super::check_required;
use super::vendors::full_scan;
use crate::ci::{Prop, field};
use crate::client::Client;
use crate::config::{Config, QuerySetting};
use crate::qas::{QueryResult, Row};
use crate::values::{date_of_unix_ms, date_part, parse_date};

/// Which ChartField.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// GL account (`ACCOUNT`).
    Account,
    /// Department (`DEPTID`).
    Department,
}

impl Kind {
    /// The stream name.
    pub fn stream(self) -> &'static str {
        match self {
            Kind::Account => super::ACCOUNTS,
            Kind::Department => super::DEPARTMENTS,
        }
    }
    /// The PeopleSoft field holding the value.
    pub fn field(self) -> &'static str {
        match self {
            Kind::Account => "ACCOUNT",
            Kind::Department => "DEPTID",
        }
    }
    /// The document field holding the value.
    pub fn doc_field(self) -> &'static str {
        match self {
            Kind::Account => "account",
            Kind::Department => "deptid",
        }
    }
    fn ci(self, config: &Config) -> &str {
        match self {
            Kind::Account => &config.account_ci,
            Kind::Department => &config.department_ci,
        }
    }
    fn query(self, config: &Config) -> &QuerySetting {
        match self {
            Kind::Account => &config.account_query,
            Kind::Department => &config.department_query,
        }
    }
}

/// A ChartField value as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChartFieldDoc {
    /// `SETID`.
    pub setid: String,
    /// `ACCOUNT` / `DEPTID` (serialized under the kind's document field).
    #[serde(skip)]
    pub value: String,
    /// `DESCR`.
    pub descr: Option<String>,
    /// `EFFDT` (`YYYY-MM-DD`).
    pub effdt: Option<String>,
    /// `EFF_STATUS`.
    pub eff_status: Option<String>,
    /// `LASTUPDDTTM`, when the query selects it.
    pub last_modified: Option<String>,
}

impl ChartFieldDoc {
    fn to_json(&self, kind: Kind) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            map.insert(kind.doc_field().to_string(), serde_json::json!(self.value));
        }
        v.to_string()
    }
}

/// Validates a write document and builds the Create properties.
pub fn to_props(
    kind: Kind,
    body: &str,
    key: &str,
    default_setid: &str,
    today: &str,
) -> Result<(String, Vec<Prop>), String> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let map = value.as_object().ok_or("body must be a JSON object")?;
    let allowed = ["setid", kind.doc_field(), "descr", "effdt", "eff_status"];
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!(
            "unknown field `{unknown}`, expected one of {}",
            allowed.join(", ")
        ));
    }
    let text = |name: &str| -> Result<Option<&str>, String> {
        match map.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(format!("{name} must be a string, not {other}")),
        }
    };
    let setid = text("setid")?.unwrap_or(default_setid);
    check_required("setid", setid, 5)?;
    let field_name = kind.doc_field();
    let value = text(field_name)?.unwrap_or(key);
    check_required(field_name, value, 10)?;
    if value != key {
        return Err(format!(
            "{field_name} {value:?} differs from the document key {key:?}; lookup by key would never find it"
        ));
    }
    let descr = text("descr")?.ok_or("descr is required")?;
    check_required("descr", descr, 30)?;
    let effdt = text("effdt")?.unwrap_or(today);
    if parse_date(effdt).is_none() {
        return Err(format!("effdt {effdt:?} is not a date YYYY-MM-DD"));
    }
    let eff_status = text("eff_status")?.unwrap_or("A");
    if eff_status != "A" && eff_status != "I" {
        return Err(format!("eff_status {eff_status:?} must be \"A\" or \"I\""));
    }
    Ok((
        value.to_string(),
        vec![
            field("SETID", setid),
            field(kind.field(), value),
            field("EFFDT", effdt),
            field("EFF_STATUS", eff_status),
            field("DESCR", descr),
        ],
    ))
}

/// One document per value: the row with the latest EFFDT wins.
pub fn page_of(kind: Kind, result: &QueryResult, default_setid: &str) -> Page {
    let mut latest: BTreeMap<String, ChartFieldDoc> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut bad_records = Vec::new();
    for row in &result.rows {
        match from_row(kind, row, default_setid) {
            Ok(doc) => {
                let newer = latest
                    .get(&doc.value)
                    .is_none_or(|have| doc.effdt >= have.effdt);
                if !latest.contains_key(&doc.value) {
                    order.push(doc.value.clone());
                }
                if newer {
                    latest.insert(doc.value.clone(), doc);
                }
            }
            Err(reason) => bad_records.push(BadRecord {
                key: row.get(kind.field()).unwrap_or("?").to_string(),
                reason: format!(
                    "{} row {}: {reason}",
                    kind.stream(),
                    row.number.unwrap_or(0)
                ),
            }),
        }
    }
    let docs = order
        .iter()
        .filter_map(|v| latest.get(v))
        .map(|d| Doc {
            key: d.value.clone(),
            body: d.to_json(kind),
        })
        .collect();
    Page {
        docs,
        bad_records,
        cursor: None,
        more: false,
    }
}

fn from_row(kind: Kind, row: &Row, default_setid: &str) -> Result<ChartFieldDoc, String> {
    let value = row
        .get(kind.field())
        .ok_or_else(|| format!("row has no {}", kind.field()))?;
    let effdt = match row.get("EFFDT") {
        Some(t) => Some(
            date_part(t)
                .ok_or_else(|| format!("EFFDT {t:?} is not a date"))?
                .to_string(),
        ),
        None => None,
    };
    Ok(ChartFieldDoc {
        setid: row.get("SETID").unwrap_or(default_setid).to_string(),
        value: value.to_string(),
        descr: row.get("DESCR").map(str::to_string),
        effdt,
        eff_status: row.get("EFF_STATUS").map(str::to_string),
        last_modified: row.get("LASTUPDDTTM").map(str::to_string),
    })
}

/// Reads every value of the SETID.
pub fn read(client: &Client<'_>, kind: Kind) -> Result<Page, Failure> {
    let cfg = client.config;
    let result = full_scan(client, kind.query(cfg), &cfg.setid)?;
    Ok(page_of(kind, &result, &cfg.setid))
}

/// Creates a value; returns it.
pub fn write(client: &Client<'_>, kind: Kind, doc: &Doc) -> Result<String, Failure> {
    let today = date_of_unix_ms(client.env.now_ms()).to_string();
    let (value, props) = to_props(kind, &doc.body, &doc.key, &client.config.setid, &today)
        .map_err(|e| fail::rejected(format!("{} document {:?}: {e}", kind.stream(), doc.key)))?;
    let created = client.ci_create(kind.ci(client.config), &props, kind.field())?;
    Ok(created.key.unwrap_or(value))
}

/// `Some(key)` when the value exists in the query's result.
pub fn lookup(client: &Client<'_>, kind: Kind, key: &str) -> Result<Option<String>, Failure> {
    let cfg = client.config;
    let result = full_scan(client, kind.query(cfg), &cfg.setid)?;
    Ok(result
        .rows
        .iter()
        .any(|r| r.get(kind.field()) == Some(key))
        .then(|| key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fields: &[(&str, &str)]) -> Row {
        Row {
            number: Some(1),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn account_write_builds_a_dated_active_value() {
        let (value, props) = to_props(
            Kind::Account,
            r#"{"descr": "Lab Supplies & Glassware"}"#,
            "615000",
            "SHARE",
            "2026-11-18",
        )
        .unwrap();
        assert_eq!(value, "615000");
        assert_eq!(
            props,
            vec![
                field("SETID", "SHARE"),
                field("ACCOUNT", "615000"),
                field("EFFDT", "2026-11-18"),
                field("EFF_STATUS", "A"),
                field("DESCR", "Lab Supplies & Glassware"),
            ]
        );
    }

    #[test]
    fn department_write_errors_name_the_field() {
        let e = |body: &str, key: &str| {
            to_props(Kind::Department, body, key, "SHARE", "2026-01-01").unwrap_err()
        };
        assert!(e(r#"{"descr": "x", "account": "1"}"#, "1").contains("unknown field `account`"));
        assert!(
            e(r#"{"deptid": "2", "descr": "x"}"#, "1").contains("differs from the document key")
        );
        assert!(e(r#"{}"#, "1").contains("descr is required"));
        assert!(e(r#"{"descr": "x", "effdt": "tomorrow"}"#, "1").contains("effdt"));
        assert!(
            e(
                r#"{"descr": "This description is far too long for DESCR"}"#,
                "1"
            )
            .contains("descr is")
        );
        assert!(
            e(r#"{"descr": "x", "eff_status": 1}"#, "1").contains("eff_status must be a string")
        );
    }

    #[test]
    fn read_keeps_the_latest_effective_row_per_value() {
        let result = QueryResult {
            query_name: None,
            num_rows: Some(3),
            rows: vec![
                row(&[
                    ("SETID", "SHARE"),
                    ("DEPTID", "20100"),
                    ("EFFDT", "2000-01-01"),
                    ("EFF_STATUS", "A"),
                    ("DESCR", "Line A"),
                ]),
                row(&[
                    ("SETID", "SHARE"),
                    ("DEPTID", "20100"),
                    ("EFFDT", "2026-01-01T00:00:00"),
                    ("EFF_STATUS", "I"),
                    ("DESCR", "Line A (closed)"),
                ]),
                row(&[
                    ("SETID", "SHARE"),
                    ("DEPTID", "10100"),
                    ("EFFDT", "2000-01-01"),
                    ("EFF_STATUS", "A"),
                    ("DESCR", "Finance"),
                    ("LASTUPDDTTM", "2026-10-01T00:00:00"),
                ]),
                row(&[("SETID", "SHARE"), ("DESCR", "no value")]),
            ],
        };
        let page = page_of(Kind::Department, &result, "SHARE");
        assert_eq!(page.docs.len(), 2);
        assert_eq!(page.docs[0].key, "20100");
        let first: serde_json::Value = serde_json::from_str(&page.docs[0].body).unwrap();
        assert_eq!(
            first,
            serde_json::json!({"setid": "SHARE", "deptid": "20100", "descr": "Line A (closed)",
                "effdt": "2026-01-01", "eff_status": "I", "last_modified": null})
        );
        assert_eq!(page.bad_records.len(), 1);
        assert!(page.bad_records[0].reason.contains("DEPTID"));
    }
}
