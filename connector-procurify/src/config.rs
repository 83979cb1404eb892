//! The connection's settings: parsing and validating `connection.config`
//! (unknown keys refused by name) and the JSON Schema `spec()` publishes.

use serde_json::{Map, Value, json};

use crate::decimal::kind;
use crate::time::Instant;

/// Default `page_size`: what Procurify recommends for integrations.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// Largest `page_size` accepted (Procurify suspends clients whose requests time out).
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Default re-read window for date-only filters: one day, their granularity.
pub const DEFAULT_OVERLAP_SECS: u64 = 86_400;
/// Largest overlap accepted (30 days).
pub const MAX_OVERLAP_SECS: u64 = 30 * 86_400;
/// Vendor type given to new vendors without one: 3 = PREFERRED, Procurify's default.
pub const DEFAULT_VENDOR_TYPE: i64 = 3;

/// Purchase-order status groups of `GET /api/v2/purchase_orders/{role}/{status}/`.
pub const PO_STATUSES: &[&str] = &["all", "open", "partial", "closed", "cancelled", "paid"];
/// Purchase-order roles of the same endpoint.
pub const PO_ROLES: &[&str] = &["purchased", "receivable"];

/// Every setting key, for "unknown key" messages and the schema.
pub const KEYS: &[&str] = &[
    "page_size",
    "overlap_secs",
    "since",
    "purchase_order_role",
    "purchase_order_status",
    "department_location_id",
    "vendor_type",
];

/// Validated settings of one connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Records per page requested from list endpoints.
    pub page_size: u32,
    /// Seconds re-read before the last modification seen, at each pass.
    pub overlap_secs: u64,
    /// Where the first pass of incremental streams starts (none: everything).
    pub since: Option<Instant>,
    /// `purchased` or `receivable`: whose purchase orders are read.
    pub purchase_order_role: String,
    /// Which purchase orders are read (`all`, `open`, …).
    pub purchase_order_status: String,
    /// Location (branch) id given to departments created without one.
    pub department_location_id: Option<i64>,
    /// Vendor type given to vendors created without one.
    pub vendor_type: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            page_size: DEFAULT_PAGE_SIZE,
            overlap_secs: DEFAULT_OVERLAP_SECS,
            since: None,
            purchase_order_role: "purchased".into(),
            purchase_order_status: "all".into(),
            department_location_id: None,
            vendor_type: DEFAULT_VENDOR_TYPE,
        }
    }
}

/// A connection resolved into what requests need.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// `scheme://host[:port][/prefix]` without a trailing slash.
    pub base_url: String,
    /// The validated settings.
    pub settings: Settings,
}

/// Validates `base_url` and parses `config` (empty text means all defaults).
/// Errors are `config` failure messages naming the setting to fix.
pub fn resolve(base_url: &str, config: &str) -> Result<Target, String> {
    Ok(Target {
        base_url: check_base_url(base_url)?,
        settings: parse(config)?,
    })
}

fn check_base_url(base_url: &str) -> Result<String, String> {
    let trimmed = base_url.trim().trim_end_matches('/');
    let parts = mlc_guest::http::split_url(trimmed).map_err(|e| {
        format!(
            "connection base_url {base_url:?} is not usable ({e:?}); expected https://<domain>.procurify.com"
        )
    })?;
    if parts.path_with_query.contains('?') || parts.path_with_query.contains('#') {
        return Err(format!(
            "connection base_url {base_url:?} must not contain a query or fragment; expected https://<domain>.procurify.com"
        ));
    }
    Ok(trimmed.to_string())
}

/// Parses the settings JSON. Unknown keys, wrong types and out-of-range
/// values are refused with the key and what is valid.
pub fn parse(config: &str) -> Result<Settings, String> {
    let mut settings = Settings::default();
    if config.trim().is_empty() {
        return Ok(settings);
    }
    let value: Value = serde_json::from_str(config).map_err(|e| {
        format!(
            "connection config is not JSON ({e}): {}",
            mlc_guest::excerpt(config, 80)
        )
    })?;
    let map: Map<String, Value> = match value {
        Value::Object(map) => map,
        Value::Null => return Ok(settings),
        other => {
            return Err(format!(
                "connection config must be a JSON object of settings, got {}",
                kind(&other)
            ));
        }
    };
    for (key, value) in &map {
        if value.is_null() {
            continue; // null means "use the default"
        }
        match key.as_str() {
            "page_size" => {
                settings.page_size = int_in(key, value, 1, i64::from(MAX_PAGE_SIZE))? as u32;
            }
            "overlap_secs" => {
                settings.overlap_secs = int_in(key, value, 0, MAX_OVERLAP_SECS as i64)? as u64;
            }
            "since" => {
                let text = value.as_str().ok_or_else(|| {
                    format!(
                        "config `since` must be a date string (YYYY-MM-DD or RFC 3339), got {}",
                        kind(value)
                    )
                })?;
                settings.since = Some(
                    Instant::parse(text)
                        .map_err(|e| format!("config `since`: {e}; use YYYY-MM-DD or RFC 3339"))?,
                );
            }
            "purchase_order_role" => settings.purchase_order_role = one_of(key, value, PO_ROLES)?,
            "purchase_order_status" => {
                settings.purchase_order_status = one_of(key, value, PO_STATUSES)?
            }
            "department_location_id" => {
                settings.department_location_id = Some(int_in(key, value, 1, i64::MAX)?)
            }
            "vendor_type" => settings.vendor_type = int_in(key, value, 1, 7)?,
            unknown => {
                return Err(format!(
                    "config has unknown setting `{unknown}`; valid settings are: {}",
                    KEYS.join(", ")
                ));
            }
        }
    }
    Ok(settings)
}

fn int_in(key: &str, value: &Value, min: i64, max: i64) -> Result<i64, String> {
    match value.as_i64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "config `{key}` must be an integer from {min} to {max}, got {value}"
        )),
    }
}

fn one_of(key: &str, value: &Value, allowed: &[&str]) -> Result<String, String> {
    match value.as_str() {
        Some(s) if allowed.contains(&s) => Ok(s.to_string()),
        _ => Err(format!(
            "config `{key}` must be one of {}, got {value}",
            allowed.join(", ")
        )),
    }
}

/// The JSON Schema of `connection.config`, published by `spec()`.
pub fn schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Procurify connection settings",
        "description": "Settings of a Procurify connection. The base URL is the customer's https://<domain>.procurify.com; \
            authentication (OAuth2 client credentials, JSON body, audience https://api.procurify.com/) is applied by the host. \
            Documents use snake_case keys, exact decimal strings for money and quantities (\"12.5\"), RFC 3339 UTC timestamps \
            and integer ids; see each stream's description for its shape.",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "page_size": {
                "type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE,
                "description": "Records per page requested from Procurify list endpoints (one page per read call)."
            },
            "overlap_secs": {
                "type": "integer", "minimum": 0, "maximum": MAX_OVERLAP_SECS, "default": DEFAULT_OVERLAP_SECS,
                "description": "Each incremental pass restarts this many seconds before the last modification seen, \
                    because Procurify's modified-date filters are date-only; repeats are removed by the host's ledger."
            },
            "since": {
                "type": "string",
                "description": "Start of the first pass of incremental streams (YYYY-MM-DD or RFC 3339), used only while a flow has no cursor yet; omitted: read everything."
            },
            "purchase_order_role": {
                "type": "string", "enum": PO_ROLES, "default": "purchased",
                "description": "Role of GET /api/v2/purchase_orders/{role}/{status}/ used by the purchase_orders stream."
            },
            "purchase_order_status": {
                "type": "string", "enum": PO_STATUSES, "default": "all",
                "description": "Status group of the same endpoint."
            },
            "department_location_id": {
                "type": "integer", "minimum": 1,
                "description": "Procurify location (branch) id for departments written without a location."
            },
            "vendor_type": {
                "type": "integer", "minimum": 1, "maximum": 7, "default": DEFAULT_VENDOR_TYPE,
                "description": "Procurify vendor type for vendors created without one (3 PREFERRED, 4 REGULAR)."
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_gives_the_documented_defaults() {
        for text in ["", "  ", "{}", "null"] {
            let s = parse(text).unwrap();
            assert_eq!(s, Settings::default());
            assert_eq!(s.page_size, 100);
            assert_eq!(s.overlap_secs, 86_400);
        }
    }

    #[test]
    fn every_setting_is_read() {
        let s = parse(
            r#"{"page_size": 250, "overlap_secs": 3600, "since": "2026-01-15",
                "purchase_order_role": "receivable", "purchase_order_status": "open",
                "department_location_id": 4, "vendor_type": 4}"#,
        )
        .unwrap();
        assert_eq!(s.page_size, 250);
        assert_eq!(s.overlap_secs, 3600);
        assert_eq!(s.since.unwrap().rfc3339(), "2026-01-15T00:00:00Z");
        assert_eq!(s.purchase_order_role, "receivable");
        assert_eq!(s.purchase_order_status, "open");
        assert_eq!(s.department_location_id, Some(4));
        assert_eq!(s.vendor_type, 4);
    }

    #[test]
    fn unknown_key_is_named_with_the_valid_ones() {
        let err = parse(r#"{"pagesize": 10}"#).unwrap_err();
        assert!(err.contains("unknown setting `pagesize`"), "{err}");
        assert!(err.contains("page_size, overlap_secs, since"), "{err}");
    }

    #[test]
    fn out_of_range_and_wrong_types_name_the_key_and_the_range() {
        let err = parse(r#"{"page_size": 5000}"#).unwrap_err();
        assert_eq!(
            err,
            "config `page_size` must be an integer from 1 to 1000, got 5000"
        );
        assert!(
            parse(r#"{"page_size": "100"}"#)
                .unwrap_err()
                .contains("`page_size`")
        );
        assert!(
            parse(r#"{"overlap_secs": -1}"#)
                .unwrap_err()
                .contains("`overlap_secs`")
        );
        let err = parse(r#"{"purchase_order_role": "buyer"}"#).unwrap_err();
        assert!(err.contains("purchased, receivable"), "{err}");
        assert!(
            parse(r#"{"since": "last week"}"#)
                .unwrap_err()
                .contains("`since`")
        );
        assert!(
            parse(r#"{"since": 20260101}"#)
                .unwrap_err()
                .contains("`since`")
        );
    }

    #[test]
    fn non_object_or_broken_json_is_refused() {
        assert!(parse("[1]").unwrap_err().contains("JSON object"));
        assert!(parse("{page_size:1}").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn base_url_loses_its_trailing_slash_and_must_be_http() {
        let t = resolve("https://acme.procurify.com/", "").unwrap();
        assert_eq!(t.base_url, "https://acme.procurify.com");
        assert_eq!(
            resolve("http://127.0.0.1:8080", "").unwrap().base_url,
            "http://127.0.0.1:8080"
        );
        assert!(
            resolve("acme.procurify.com", "")
                .unwrap_err()
                .contains("base_url")
        );
        assert!(resolve("ftp://acme", "").is_err());
        assert!(resolve("https://acme.procurify.com/?x=1", "").is_err());
    }

    #[test]
    fn schema_lists_exactly_the_accepted_keys() {
        let schema = schema();
        let props = schema["properties"].as_object().unwrap();
        let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut expected = KEYS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(schema["additionalProperties"], false);
    }
}
