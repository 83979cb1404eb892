//! The connection's settings: parsing `connection.config` (unknown keys refused),
//! defaults, validation, the JSON Schema `spec()` publishes, and the URLs derived
//! from `connection.base_url` and the node.

use mlc_guest::{Failure, fail};
use serde::Deserialize;

/// SOAP protocol version of the requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapVersion {
    /// SOAP 1.1 (`text/xml`, `SOAPAction` header): what PeopleSoft speaks by default.
    V11,
    /// SOAP 1.2 (`application/soap+xml; action=...`).
    V12,
}

/// A PeopleSoft Query run through Query Access Services, and its one prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySetting {
    /// Public query name (e.g. `MLC_VOUCHERS_SINCE`).
    pub name: String,
    /// Unique prompt name the value is given to (e.g. `BIND1`).
    pub prompt: String,
}

/// Validated settings of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `connection.base_url` without trailing slash.
    pub base_url: String,
    /// Default local node of the database (e.g. `PSFT_EP`).
    pub node: String,
    /// SETID of shared vendors and ChartFields.
    pub setid: String,
    /// Default purchasing business unit.
    pub business_unit: String,
    /// CI used to create purchase orders.
    pub purchase_order_ci: String,
    /// CI used to create suppliers.
    pub vendor_ci: String,
    /// CI used to create GL accounts.
    pub account_ci: String,
    /// CI used to create departments.
    pub department_ci: String,
    /// Query listing vouchers changed since a date (prompt: date `YYYY-MM-DD`).
    pub voucher_query: QuerySetting,
    /// Query listing active suppliers (prompt: SETID).
    pub supplier_query: QuerySetting,
    /// Query listing GL accounts (prompt: SETID).
    pub account_query: QuerySetting,
    /// Query listing departments (prompt: SETID).
    pub department_query: QuerySetting,
    /// Days re-read before the last voucher change date seen.
    pub voucher_overlap_days: u32,
    /// First changed-since date of a voucher read without cursor.
    pub voucher_start_date: String,
    /// Most rows one query call returns.
    pub max_rows: u32,
    /// SOAP version of requests.
    pub soap_version: SoapVersion,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    node: Option<String>,
    #[serde(default = "default_setid")]
    setid: String,
    business_unit: Option<String>,
    #[serde(default = "default_po_ci")]
    purchase_order_ci: String,
    #[serde(default = "default_vendor_ci")]
    vendor_ci: String,
    #[serde(default = "default_account_ci")]
    account_ci: String,
    #[serde(default = "default_department_ci")]
    department_ci: String,
    #[serde(default = "default_voucher_query")]
    voucher_query: String,
    #[serde(default = "default_prompt")]
    voucher_prompt: String,
    #[serde(default = "default_supplier_query")]
    supplier_query: String,
    #[serde(default = "default_prompt")]
    supplier_prompt: String,
    #[serde(default = "default_account_query")]
    account_query: String,
    #[serde(default = "default_prompt")]
    account_prompt: String,
    #[serde(default = "default_department_query")]
    department_query: String,
    #[serde(default = "default_prompt")]
    department_prompt: String,
    #[serde(default = "default_overlap")]
    voucher_overlap_days: u32,
    #[serde(default = "default_start_date")]
    voucher_start_date: String,
    #[serde(default = "default_max_rows")]
    max_rows: u32,
    #[serde(default)]
    soap_version: Option<serde_json::Value>,
}

fn default_setid() -> String {
    "SHARE".into()
}
fn default_po_ci() -> String {
    "PO_EXPRESS".into()
}
fn default_vendor_ci() -> String {
    "VNDR_ID".into()
}
fn default_account_ci() -> String {
    "ACCOUNT_CF".into()
}
fn default_department_ci() -> String {
    "DEPT_CF".into()
}
fn default_voucher_query() -> String {
    "MLC_VOUCHERS_SINCE".into()
}
fn default_supplier_query() -> String {
    "MLC_ACTIVE_SUPPLIERS".into()
}
fn default_account_query() -> String {
    "MLC_ACCOUNTS".into()
}
fn default_department_query() -> String {
    "MLC_DEPARTMENTS".into()
}
fn default_prompt() -> String {
    "BIND1".into()
}
fn default_overlap() -> u32 {
    1
}
fn default_start_date() -> String {
    "1900-01-01".into()
}
fn default_max_rows() -> u32 {
    500
}

/// Largest `max_rows` accepted: beyond it one reply would approach the XML size cap.
pub const MAX_ROWS_LIMIT: u32 = 20_000;

impl Config {
    /// Parses and validates a connection (`base_url` and `config` JSON text).
    pub fn parse(base_url: &str, config_json: &str) -> Result<Config, Failure> {
        let text = if config_json.trim().is_empty() {
            "{}"
        } else {
            config_json
        };
        let raw: RawConfig = serde_json::from_str(text)
            .map_err(|e| fail::config(format!("connection.config: {e}")))?;
        let base_url = base_url.trim().trim_end_matches('/').to_string();
        mlc_guest::http::split_url(&base_url).map_err(|e| {
            fail::config(format!(
                "connection.base_url {base_url:?} must be http(s)://host:port of the PeopleSoft gateway: {e:?}"
            ))
        })?;
        if base_url.contains('?') || base_url.contains('#') {
            return Err(fail::config(format!(
                "connection.base_url {base_url:?} must not carry a query or fragment"
            )));
        }
        let node = raw.node.ok_or_else(|| {
            fail::config("connection.config.node is required: the database's default local node, e.g. PSFT_EP")
        })?;
        let business_unit = raw.business_unit.ok_or_else(|| {
            fail::config("connection.config.business_unit is required: the purchasing business unit, e.g. US001")
        })?;
        let soap_version = match &raw.soap_version {
            None => SoapVersion::V11,
            Some(v) => match v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
                .as_str()
            {
                "1.1" => SoapVersion::V11,
                "1.2" => SoapVersion::V12,
                other => {
                    return Err(fail::config(format!(
                        "connection.config.soap_version must be \"1.1\" or \"1.2\", not {other}"
                    )));
                }
            },
        };
        let config = Config {
            base_url,
            node: ident("node", node)?,
            setid: ident("setid", raw.setid)?,
            business_unit: ident("business_unit", business_unit)?,
            purchase_order_ci: ident("purchase_order_ci", raw.purchase_order_ci)?,
            vendor_ci: ident("vendor_ci", raw.vendor_ci)?,
            account_ci: ident("account_ci", raw.account_ci)?,
            department_ci: ident("department_ci", raw.department_ci)?,
            voucher_query: query("voucher", raw.voucher_query, raw.voucher_prompt)?,
            supplier_query: query("supplier", raw.supplier_query, raw.supplier_prompt)?,
            account_query: query("account", raw.account_query, raw.account_prompt)?,
            department_query: query("department", raw.department_query, raw.department_prompt)?,
            voucher_overlap_days: raw.voucher_overlap_days,
            voucher_start_date: raw.voucher_start_date,
            max_rows: raw.max_rows,
            soap_version,
        };
        if crate::values::parse_date(&config.voucher_start_date).is_none() {
            return Err(fail::config(format!(
                "connection.config.voucher_start_date {:?} must be a date YYYY-MM-DD",
                config.voucher_start_date
            )));
        }
        if config.max_rows == 0 || config.max_rows > MAX_ROWS_LIMIT {
            return Err(fail::config(format!(
                "connection.config.max_rows must be between 1 and {MAX_ROWS_LIMIT}, not {}",
                config.max_rows
            )));
        }
        if config.voucher_overlap_days > 366 {
            return Err(fail::config(format!(
                "connection.config.voucher_overlap_days must be at most 366, not {}",
                config.voucher_overlap_days
            )));
        }
        Ok(config)
    }

    /// The SOAP listener of the node: where every request is posted.
    pub fn listener_url(&self) -> String {
        format!(
            "{}/PSIGW/PeopleSoftServiceListeningConnector/{}",
            self.base_url, self.node
        )
    }

    /// The WSDL URL of `service` (version 1).
    pub fn wsdl_url(&self, service: &str) -> String {
        format!("{}/{service}.1.wsdl", self.listener_url())
    }
}

/// PeopleSoft object names (node, SETID, business unit, CI, query, prompt) are
/// upper-case identifiers; checking them keeps URLs and element names sound.
fn ident(key: &str, value: String) -> Result<String, Failure> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(value)
    } else {
        Err(fail::config(format!(
            "connection.config.{key} {value:?} must be 1-64 letters, digits, '_' or '-'"
        )))
    }
}

fn query(what: &str, name: String, prompt: String) -> Result<QuerySetting, Failure> {
    Ok(QuerySetting {
        name: ident(&format!("{what}_query"), name)?,
        prompt: ident(&format!("{what}_prompt"), prompt)?,
    })
}

/// JSON Schema of `connection.config`, as published by `spec()`.
pub fn schema() -> serde_json::Value {
    let ident = |desc: &str, default: Option<&str>| {
        let mut v = serde_json::json!({
            "type": "string",
            "pattern": "^[A-Za-z0-9_-]{1,64}$",
            "description": desc,
        });
        if let Some(d) = default {
            v["default"] = serde_json::json!(d);
        }
        v
    };
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "PeopleSoft Integration Broker connection",
        "description": "connection.base_url is http(s)://host:port of the customer's PeopleSoft gateway (PSIGW). Authentication (wsse, basic, bearer, oauth2-client-credentials) is applied by the host.",
        "type": "object",
        "additionalProperties": false,
        "required": ["node", "business_unit"],
        "properties": {
            "node": ident("Default local node of the database, e.g. PSFT_EP; picks the listener URL {base_url}/PSIGW/PeopleSoftServiceListeningConnector/{node}", None),
            "setid": ident("SETID of shared vendors and ChartFields", Some("SHARE")),
            "business_unit": ident("Default purchasing business unit of purchase orders, e.g. US001", None),
            "purchase_order_ci": ident("Component Interface creating purchase orders (service CI_<name>)", Some("PO_EXPRESS")),
            "vendor_ci": ident("Component Interface creating suppliers", Some("VNDR_ID")),
            "account_ci": ident("Component Interface creating GL accounts", Some("ACCOUNT_CF")),
            "department_ci": ident("Component Interface creating departments", Some("DEPT_CF")),
            "voucher_query": ident("Public query of vouchers changed since a date, one row per voucher line, ordered by change date", Some("MLC_VOUCHERS_SINCE")),
            "voucher_prompt": ident("Prompt of voucher_query taking the date YYYY-MM-DD", Some("BIND1")),
            "supplier_query": ident("Public query of active suppliers", Some("MLC_ACTIVE_SUPPLIERS")),
            "supplier_prompt": ident("Prompt of supplier_query taking the SETID", Some("BIND1")),
            "account_query": ident("Public query of GL accounts", Some("MLC_ACCOUNTS")),
            "account_prompt": ident("Prompt of account_query taking the SETID", Some("BIND1")),
            "department_query": ident("Public query of departments", Some("MLC_DEPARTMENTS")),
            "department_prompt": ident("Prompt of department_query taking the SETID", Some("BIND1")),
            "voucher_overlap_days": {"type": "integer", "minimum": 0, "maximum": 366, "default": 1,
                "description": "Days re-read before the last voucher change date seen (the date filter is date-only)"},
            "voucher_start_date": {"type": "string", "format": "date", "default": "1900-01-01",
                "description": "Changed-since date of the first voucher read"},
            "max_rows": {"type": "integer", "minimum": 1, "maximum": MAX_ROWS_LIMIT, "default": 500,
                "description": "Rows per query call: voucher page size; cap of a full vendor/account/department scan (a scan reaching it fails asking to raise it)"},
            "soap_version": {"type": "string", "enum": ["1.1", "1.2"], "default": "1.1",
                "description": "SOAP version of requests"}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_message(f: Failure) -> String {
        match f {
            Failure::Config(m) => m,
            other => panic!("expected config failure, got {other:?}"),
        }
    }

    #[test]
    fn minimal_config_takes_documented_defaults() {
        let c = Config::parse(
            "http://ps.example:8000/",
            r#"{"node":"PSFT_EP","business_unit":"US001"}"#,
        )
        .unwrap();
        assert_eq!(c.base_url, "http://ps.example:8000");
        assert_eq!(c.setid, "SHARE");
        assert_eq!(c.purchase_order_ci, "PO_EXPRESS");
        assert_eq!(c.vendor_ci, "VNDR_ID");
        assert_eq!(c.account_ci, "ACCOUNT_CF");
        assert_eq!(c.department_ci, "DEPT_CF");
        assert_eq!(c.voucher_query.name, "MLC_VOUCHERS_SINCE");
        assert_eq!(c.supplier_query.name, "MLC_ACTIVE_SUPPLIERS");
        assert_eq!(c.account_query.name, "MLC_ACCOUNTS");
        assert_eq!(c.department_query.name, "MLC_DEPARTMENTS");
        assert_eq!(c.voucher_query.prompt, "BIND1");
        assert_eq!(c.voucher_overlap_days, 1);
        assert_eq!(c.max_rows, 500);
        assert_eq!(c.soap_version, SoapVersion::V11);
        assert_eq!(
            c.listener_url(),
            "http://ps.example:8000/PSIGW/PeopleSoftServiceListeningConnector/PSFT_EP"
        );
        assert_eq!(
            c.wsdl_url("CI_PO_EXPRESS"),
            "http://ps.example:8000/PSIGW/PeopleSoftServiceListeningConnector/PSFT_EP/CI_PO_EXPRESS.1.wsdl"
        );
    }

    #[test]
    fn unknown_key_is_a_config_failure_naming_it() {
        let m = config_message(
            Config::parse(
                "http://h:1",
                r#"{"node":"N","business_unit":"B","bussiness_unit":"X"}"#,
            )
            .unwrap_err(),
        );
        assert!(m.contains("bussiness_unit"), "{m}");
    }

    #[test]
    fn missing_node_and_business_unit_are_named() {
        let m =
            config_message(Config::parse("http://h:1", r#"{"business_unit":"B"}"#).unwrap_err());
        assert!(m.contains("node"), "{m}");
        let m = config_message(Config::parse("http://h:1", r#"{"node":"N"}"#).unwrap_err());
        assert!(m.contains("business_unit"), "{m}");
    }

    #[test]
    fn bad_values_are_refused_with_their_key() {
        let cases = [
            (r#"{"node":"PS/EP","business_unit":"B"}"#, "node"),
            (
                r#"{"node":"N","business_unit":"B","max_rows":0}"#,
                "max_rows",
            ),
            (
                r#"{"node":"N","business_unit":"B","soap_version":"2.0"}"#,
                "soap_version",
            ),
            (
                r#"{"node":"N","business_unit":"B","voucher_start_date":"2026-13-01"}"#,
                "voucher_start_date",
            ),
            (
                r#"{"node":"N","business_unit":"B","vendor_ci":""}"#,
                "vendor_ci",
            ),
        ];
        for (json, key) in cases {
            let m = config_message(Config::parse("http://h:1", json).unwrap_err());
            assert!(m.contains(key), "{json}: {m}");
        }
        let m = config_message(
            Config::parse("ftp://h", r#"{"node":"N","business_unit":"B"}"#).unwrap_err(),
        );
        assert!(m.contains("base_url"), "{m}");
    }

    #[test]
    fn soap_version_accepts_string_or_number() {
        for v in [r#""1.2""#, "1.2"] {
            let c = Config::parse(
                "http://h:1",
                &format!(r#"{{"node":"N","business_unit":"B","soap_version":{v}}}"#),
            )
            .unwrap();
            assert_eq!(c.soap_version, SoapVersion::V12);
        }
    }

    #[test]
    fn schema_lists_every_accepted_key() {
        let schema = schema();
        let props = schema["properties"].as_object().unwrap();
        // Every key the schema lists must be accepted by the parser, and vice versa
        // for the documented defaults.
        let mut full = serde_json::Map::new();
        for (k, v) in props {
            let value = v.get("default").cloned().unwrap_or(serde_json::json!("X1"));
            full.insert(k.clone(), value);
        }
        Config::parse("http://h:1", &serde_json::Value::Object(full).to_string()).unwrap();
        assert_eq!(props.len(), 19);
    }
}
