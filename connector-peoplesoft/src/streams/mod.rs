//! The streams this connector offers, their specs, and dispatch of read, write
//! and lookup to the module of each stream. Document shapes are documented in
//! each stream's module and in the crate README.

pub mod chartfields;
pub mod purchase_orders;
pub mod vendors;
pub mod vouchers;

use mlc_guest::{Capabilities, Doc, Failure, Page, StreamSpec, Written, fail};

use crate::client::{Client, Env};

/// Stream of purchase orders created through the PO CI.
pub const PURCHASE_ORDERS: &str = "purchase_orders";
/// Stream of suppliers.
pub const VENDORS: &str = "vendors";
/// Stream of GL accounts.
pub const ACCOUNTS: &str = "accounts";
/// Stream of departments (cost centers).
pub const DEPARTMENTS: &str = "departments";
/// Stream of AP vouchers.
pub const VOUCHERS: &str = "vouchers";

const ALL: &str = "purchase_orders, vendors, accounts, departments, vouchers";

/// The streams `spec()` publishes.
pub fn specs() -> Vec<StreamSpec> {
    let spec = |name: &str, description: &str, key: &str, cursor: Option<&str>, caps| StreamSpec {
        name: name.to_string(),
        description: description.to_string(),
        primary_key: key.to_string(),
        cursor_field: cursor.map(str::to_string),
        capabilities: caps,
    };
    vec![
        spec(
            PURCHASE_ORDERS,
            "Purchase orders created through the PO Component Interface (PO_ID NEXT); the document key is PO_REF",
            "po_ref",
            None,
            Capabilities::WRITE | Capabilities::LOOKUP,
        ),
        spec(
            VENDORS,
            "Suppliers of the SETID: read through the active-suppliers query, created through the VNDR_ID CI",
            "vendor_id",
            None,
            Capabilities::READ | Capabilities::WRITE | Capabilities::LOOKUP,
        ),
        spec(
            ACCOUNTS,
            "GL account ChartField values of the SETID (query read, ACCOUNT_CF create)",
            "account",
            None,
            Capabilities::READ | Capabilities::WRITE | Capabilities::LOOKUP,
        ),
        spec(
            DEPARTMENTS,
            "Department ChartField values (cost centers) of the SETID (query read, DEPT_CF create)",
            "deptid",
            None,
            Capabilities::READ | Capabilities::WRITE | Capabilities::LOOKUP,
        ),
        spec(
            VOUCHERS,
            "AP vouchers changed since the cursor date, one document per voucher with its lines; key business_unit/voucher_id",
            "business_unit/voucher_id",
            Some("last_update_date"),
            Capabilities::READ,
        ),
    ]
}

fn unsupported(stream: &str, what: &str) -> Failure {
    let known = [PURCHASE_ORDERS, VENDORS, ACCOUNTS, DEPARTMENTS, VOUCHERS].contains(&stream);
    if known {
        fail::config(format!("stream {stream} does not support {what}"))
    } else {
        fail::config(format!(
            "unknown stream {stream:?}: this connector offers {ALL}"
        ))
    }
}

/// Reads one page of `stream`.
pub fn read<E: Env>(
    client: &Client<'_, E>,
    stream: &str,
    cursor: Option<&str>,
) -> Result<Page, Failure> {
    match stream {
        VENDORS => vendors::read(client),
        ACCOUNTS => chartfields::read(client, chartfields::Kind::Account),
        DEPARTMENTS => chartfields::read(client, chartfields::Kind::Department),
        VOUCHERS => vouchers::read(client, cursor),
        other => Err(unsupported(other, "read")),
    }
}

/// Writes one document to `stream`.
pub fn write<E: Env>(client: &Client<'_, E>, stream: &str, doc: &Doc) -> Result<Written, Failure> {
    let target_key = match stream {
        PURCHASE_ORDERS => purchase_orders::write(client, doc)?,
        VENDORS => vendors::write(client, doc)?,
        ACCOUNTS => chartfields::write(client, chartfields::Kind::Account, doc)?,
        DEPARTMENTS => chartfields::write(client, chartfields::Kind::Department, doc)?,
        other => return Err(unsupported(other, "write")),
    };
    Ok(Written {
        key: doc.key.clone(),
        target_key,
    })
}

/// Finds the record written earlier from document key `key`.
pub fn lookup<E: Env>(
    client: &Client<'_, E>,
    stream: &str,
    key: &str,
) -> Result<Option<String>, Failure> {
    match stream {
        PURCHASE_ORDERS => purchase_orders::lookup(client, key),
        VENDORS => vendors::lookup(client, key),
        ACCOUNTS => chartfields::lookup(client, chartfields::Kind::Account, key),
        DEPARTMENTS => chartfields::lookup(client, chartfields::Kind::Department, key),
        other => Err(unsupported(other, "lookup")),
    }
}

/// Checks a text value bound for a PeopleSoft character field: at most `max`
/// characters and no control characters XML 1.0 cannot carry. `path` names
/// the field in the document.
pub(crate) fn check_text(path: &str, value: &str, max: usize) -> Result<(), String> {
    if let Some(c) = value.chars().find(|c| {
        (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    }) {
        return Err(format!(
            "{path} contains control character U+{:04X}",
            c as u32
        ));
    }
    let n = value.chars().count();
    if n > max {
        return Err(format!(
            "{path} is {n} characters long, PeopleSoft holds at most {max}"
        ));
    }
    Ok(())
}

/// Checks a required text value: present, not blank, within `max`.
pub(crate) fn check_required(path: &str, value: &str, max: usize) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("{path} is required"));
    }
    check_text(path, value, max)
}

/// Parses a write document's JSON body into `T`, refusing unknown fields.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(
    stream: &str,
    doc: &Doc,
) -> Result<T, Failure> {
    serde_json::from_str(&doc.body)
        .map_err(|e| fail::rejected(format!("{stream} document {:?}: {e}", doc.key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_cover_every_stream_with_its_capabilities() {
        let s = specs();
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            vec![PURCHASE_ORDERS, VENDORS, ACCOUNTS, DEPARTMENTS, VOUCHERS]
        );
        assert!(!s[0].capabilities.contains(Capabilities::READ));
        assert!(s[0].capabilities.contains(Capabilities::LOOKUP));
        assert_eq!(s[4].capabilities, Capabilities::READ);
        assert_eq!(s[4].cursor_field.as_deref(), Some("last_update_date"));
    }

    #[test]
    fn text_checks_name_the_field() {
        assert!(check_text("name1", "東京精密機器株式会社", 40).is_ok());
        assert!(
            check_text("name1", "a\u{0}b", 40)
                .unwrap_err()
                .contains("U+0000")
        );
        assert!(
            check_text("po_ref", &"x".repeat(31), 30)
                .unwrap_err()
                .contains("po_ref is 31")
        );
        assert!(
            check_required("vendor_id", "  ", 10)
                .unwrap_err()
                .contains("vendor_id is required")
        );
    }
}
