//! The streams this connector offers, declared once in [`STREAMS`] (spec,
//! dispatch of read, write and lookup to each stream's module, and the
//! errors for unknown streams). Document shapes are documented in
//! each stream's module and in the crate README.

pub mod chartfields;
pub mod purchase_orders;
pub mod vendors;
pub mod vouchers;

use mlc_guest::streams::{Stream, Table};
use mlc_guest::{Doc, Failure, Page, Written, fail};

use crate::client::Client;
use chartfields::Kind;

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

/// Reads one page (the cursor, when the stream has one).
pub type ReadFn = fn(&Client<'_>, Option<&str>) -> Result<Page, Failure>;
/// Writes one document; returns its PeopleSoft key.
pub type WriteFn = fn(&Client<'_>, &Doc) -> Result<String, Failure>;
/// Finds the record written earlier from a document key.
pub type LookupFn = fn(&Client<'_>, &str) -> Result<Option<String>, Failure>;

/// Every stream, declared once, in the order `spec()` lists them: the table
/// drives the spec, dispatch and the errors for unknown streams.
pub const STREAMS: Table<ReadFn, WriteFn, LookupFn> = Table {
    connector: crate::NAME,
    streams: &[
        Stream {
            name: PURCHASE_ORDERS,
            description: "Purchase orders created through the PO Component Interface (PO_ID NEXT); the document key is PO_REF",
            primary_key: "po_ref",
            cursor_field: None,
            read: None,
            write: Some(purchase_orders::write),
            lookup: Some(purchase_orders::lookup),
        },
        Stream {
            name: VENDORS,
            description: "Suppliers of the SETID: read through the active-suppliers query, created through the VNDR_ID CI",
            primary_key: "vendor_id",
            cursor_field: None,
            read: Some(|c, _| vendors::read(c)),
            write: Some(vendors::write),
            lookup: Some(vendors::lookup),
        },
        Stream {
            name: ACCOUNTS,
            description: "GL account ChartField values of the SETID (query read, ACCOUNT_CF create)",
            primary_key: "account",
            cursor_field: None,
            read: Some(|c, _| chartfields::read(c, Kind::Account)),
            write: Some(|c, doc| chartfields::write(c, Kind::Account, doc)),
            lookup: Some(|c, key| chartfields::lookup(c, Kind::Account, key)),
        },
        Stream {
            name: DEPARTMENTS,
            description: "Department ChartField values (cost centers) of the SETID (query read, DEPT_CF create)",
            primary_key: "deptid",
            cursor_field: None,
            read: Some(|c, _| chartfields::read(c, Kind::Department)),
            write: Some(|c, doc| chartfields::write(c, Kind::Department, doc)),
            lookup: Some(|c, key| chartfields::lookup(c, Kind::Department, key)),
        },
        Stream {
            name: VOUCHERS,
            description: "AP vouchers changed since the cursor date, one document per voucher with its lines; key business_unit/voucher_id",
            primary_key: "business_unit/voucher_id",
            cursor_field: Some("last_update_date"),
            read: Some(vouchers::read),
            write: None,
            lookup: None,
        },
    ],
};

/// Reads one page of `stream`.
pub fn read(client: &Client<'_>, stream: &str, cursor: Option<&str>) -> Result<Page, Failure> {
    (STREAMS.read(stream)?)(client, cursor)
}

/// Writes one document to `stream`.
pub fn write(client: &Client<'_>, stream: &str, doc: &Doc) -> Result<Written, Failure> {
    let target_key = (STREAMS.write(stream)?)(client, doc)?;
    Ok(Written {
        key: doc.key.clone(),
        target_key,
    })
}

/// Finds the record written earlier from document key `key`.
pub fn lookup(client: &Client<'_>, stream: &str, key: &str) -> Result<Option<String>, Failure> {
    (STREAMS.lookup(stream)?)(client, key)
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
    use mlc_guest::Capabilities;

    #[test]
    fn specs_cover_every_stream_with_its_capabilities() {
        let s = STREAMS.specs();
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
