//! Stream `vendors` (read, write, lookup). Read: a full scan of the
//! active-suppliers query (prompt = SETID). Write: a VNDR_ID CI Create
//! (`VENDOR_ID` `NEXT` unless given); the target key is the VENDOR_ID.
//! Lookup: the key matched against VENDOR_ID, then exactly against NAME1.
//!
//! Document body (read and write share it; `?` = optional on write):
//! ```json
//! {"setid": "SHARE"?, "vendor_id": "0000000101"?, "name1": "Acme Industrial Supply",
//!  "name2": null?, "status": "A"?,
//!  "address": {"address1": "100 Industrial Way", "city": "Springfield", "state": "IL",
//!              "postal": "62701", "country": "USA"}?,
//!  "last_modified": "2026-10-02T08:00:00"}
//! ```
//! `last_modified` (the query's LASTUPDDTTM column, null when it has none) is
//! only in read documents; a write document must not carry it.

use mlc_guest::{BadRecord, Doc, Failure, Page, fail};
use serde::{Deserialize, Serialize};

use super::{VENDORS, check_required, check_text, parse_body};
use crate::ci::{Prop, field, opt_field};
use crate::client::Client;
use crate::qas::{QueryResult, Row};
use crate::values::date_of_unix_ms;

/// A supplier's address (`VENDOR_ADDR`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// `ADDRESS1`.
    pub address1: Option<String>,
    /// `CITY`.
    pub city: Option<String>,
    /// `STATE`.
    pub state: Option<String>,
    /// `POSTAL`.
    pub postal: Option<String>,
    /// `COUNTRY` (3 letters, e.g. `USA`).
    pub country: Option<String>,
}

/// A supplier to create.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVendor {
    /// `SETID`: defaults to the configuration's.
    pub setid: Option<String>,
    /// `VENDOR_ID`: `NEXT` (assigned by PeopleSoft) when absent.
    pub vendor_id: Option<String>,
    /// `NAME1`.
    pub name1: String,
    /// `NAME2`.
    pub name2: Option<String>,
    /// `VENDOR_STATUS`: `A` (default) or `I`.
    pub status: Option<String>,
    /// The supplier's address.
    pub address: Option<Address>,
}

/// A supplier as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VendorDoc {
    /// `SETID`.
    pub setid: String,
    /// `VENDOR_ID`.
    pub vendor_id: String,
    /// `NAME1`.
    pub name1: String,
    /// `NAME2`.
    pub name2: Option<String>,
    /// `VENDOR_STATUS`.
    pub status: Option<String>,
    /// Address columns, when the query selects any.
    pub address: Option<Address>,
    /// `LASTUPDDTTM`, when the query selects it.
    pub last_modified: Option<String>,
}

/// Validates `v` and builds the Create properties; `today` dates the address row.
pub fn to_props(
    v: &NewVendor,
    key: &str,
    default_setid: &str,
    today: &str,
) -> Result<Vec<Prop>, String> {
    let setid = v.setid.as_deref().unwrap_or(default_setid);
    check_required("setid", setid, 5)?;
    check_required("name1", &v.name1, 40)?;
    if let Some(id) = &v.vendor_id {
        check_required("vendor_id", id, 10)?;
    }
    if key != v.name1 && Some(key) != v.vendor_id.as_deref() {
        return Err(format!(
            "the document key {key:?} must be the vendor_id or the name1 of the supplier, so that lookup finds it again"
        ));
    }
    if let Some(n) = &v.name2 {
        check_text("name2", n, 40)?;
    }
    let status = v.status.as_deref().unwrap_or("A");
    if status != "A" && status != "I" {
        return Err(format!(
            "status {status:?} must be \"A\" (active) or \"I\" (inactive)"
        ));
    }
    let mut props = vec![
        field("SETID", setid),
        field("VENDOR_ID", v.vendor_id.as_deref().unwrap_or("NEXT")),
        field("NAME1", v.name1.as_str()),
    ];
    props.extend(opt_field("NAME2", v.name2.as_deref()));
    props.push(field("VENDOR_STATUS", status));
    if let Some(a) = &v.address {
        for (path, value, max) in [
            ("address.address1", &a.address1, 55),
            ("address.city", &a.city, 30),
            ("address.state", &a.state, 6),
            ("address.postal", &a.postal, 12),
            ("address.country", &a.country, 3),
        ] {
            if let Some(value) = value {
                check_text(path, value, max)?;
            }
        }
        let mut row = vec![
            field("ADDRESS_SEQ_NUM", "1"),
            field("EFFDT", today),
            field("EFF_STATUS", "A"),
        ];
        row.extend(opt_field("ADDRESS1", a.address1.as_deref()));
        row.extend(opt_field("CITY", a.city.as_deref()));
        row.extend(opt_field("STATE", a.state.as_deref()));
        row.extend(opt_field("POSTAL", a.postal.as_deref()));
        row.extend(opt_field("COUNTRY", a.country.as_deref()));
        props.push(Prop::Row("VENDOR_ADDR".into(), row));
    }
    Ok(props)
}

/// A read document from one supplier row.
pub fn from_row(row: &Row, default_setid: &str) -> Result<VendorDoc, String> {
    let vendor_id = row.get("VENDOR_ID").ok_or("row has no VENDOR_ID")?;
    let name1 = row.get("NAME1").ok_or("row has no NAME1")?;
    let text = |f: &str| row.get(f).map(str::to_string);
    let address_columns = ["ADDRESS1", "CITY", "STATE", "POSTAL", "COUNTRY"];
    let address = address_columns.iter().any(|c| row.has(c)).then(|| Address {
        address1: text("ADDRESS1"),
        city: text("CITY"),
        state: text("STATE"),
        postal: text("POSTAL"),
        country: text("COUNTRY"),
    });
    Ok(VendorDoc {
        setid: row.get("SETID").unwrap_or(default_setid).to_string(),
        vendor_id: vendor_id.to_string(),
        name1: name1.to_string(),
        name2: text("NAME2"),
        status: text("VENDOR_STATUS"),
        address,
        last_modified: text("LASTUPDDTTM"),
    })
}

/// Turns a full-scan result into a page (bad rows reported, not dropped).
pub fn page_of(result: &QueryResult, default_setid: &str) -> Page {
    let mut docs = Vec::new();
    let mut bad_records = Vec::new();
    for row in &result.rows {
        match from_row(row, default_setid) {
            Ok(v) => docs.push(Doc {
                key: v.vendor_id.clone(),
                body: serde_json::to_string(&v).unwrap_or_default(),
            }),
            Err(reason) => bad_records.push(BadRecord {
                key: row.get("VENDOR_ID").unwrap_or("?").to_string(),
                reason: format!("supplier row {}: {reason}", row.number.unwrap_or(0)),
            }),
        }
    }
    Page {
        docs,
        bad_records,
        cursor: None,
        more: false,
    }
}

/// Runs a full-scan query with `MaxRow` = max_rows + 1 so that a scan the cap
/// would cut is detected instead of silently truncated.
pub(crate) fn full_scan(
    client: &Client<'_>,
    query: &crate::config::QuerySetting,
    value: &str,
) -> Result<QueryResult, Failure> {
    let max = client.config.max_rows;
    let result = client.query(query, value, max + 1)?;
    if result.rows.len() > max as usize {
        return Err(fail::config(format!(
            "query {} returns more than max_rows = {max} rows: raise connection.config.max_rows",
            query.name
        )));
    }
    Ok(result)
}

/// Reads every active supplier of the SETID.
pub fn read(client: &Client<'_>) -> Result<Page, Failure> {
    let cfg = client.config;
    let result = full_scan(client, &cfg.supplier_query, &cfg.setid)?;
    Ok(page_of(&result, &cfg.setid))
}

/// Creates a supplier; returns its VENDOR_ID.
pub fn write(client: &Client<'_>, doc: &Doc) -> Result<String, Failure> {
    let v: NewVendor = parse_body(VENDORS, doc)?;
    let today = date_of_unix_ms(client.env.now_ms()).to_string();
    let props = to_props(&v, &doc.key, &client.config.setid, &today)
        .map_err(|e| fail::rejected(format!("vendors document {:?}: {e}", doc.key)))?;
    let created = client.ci_create(&client.config.vendor_ci, &props, "VENDOR_ID")?;
    match created.key.filter(|k| k != "NEXT").or(v.vendor_id) {
        Some(id) => Ok(id),
        None => lookup(client, &v.name1)?.ok_or_else(|| {
            fail::protocol(format!(
                "supplier {:?} was accepted but neither the reply nor the suppliers query gave its VENDOR_ID",
                v.name1
            ))
        }),
    }
}

/// Matches `key` against VENDOR_ID, then exactly against NAME1.
pub fn match_key(rows: &[Row], key: &str) -> Result<Option<String>, String> {
    if rows.iter().any(|r| r.get("VENDOR_ID") == Some(key)) {
        return Ok(Some(key.to_string()));
    }
    let named: Vec<&str> = rows
        .iter()
        .filter(|r| r.get("NAME1") == Some(key))
        .filter_map(|r| r.get("VENDOR_ID"))
        .collect();
    match named.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).to_string())),
        many => Err(format!(
            "{} suppliers are named {key:?} ({}): give the vendor_id instead",
            many.len(),
            many.join(", ")
        )),
    }
}

/// The VENDOR_ID of the supplier whose VENDOR_ID or NAME1 is `key`.
pub fn lookup(client: &Client<'_>, key: &str) -> Result<Option<String>, Failure> {
    let cfg = client.config;
    let result = full_scan(client, &cfg.supplier_query, &cfg.setid)?;
    match_key(&result.rows, key).map_err(|e| fail::rejected(format!("vendors lookup: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::WsdlCache;
    use crate::client::testing::*;
    use crate::config::Config;
    use crate::xml::to_string;

    fn row(fields: &[(&str, &str)]) -> Row {
        Row {
            number: Some(1),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn new_vendor(json: serde_json::Value) -> NewVendor {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn new_vendor_uses_next_and_nests_its_address() {
        let v = new_vendor(serde_json::json!({
            "name1": "O'Brien \"Quality\" Fasteners",
            "address": {"address1": "1 Main St", "city": "Springfield", "country": "USA"}
        }));
        let props = to_props(&v, "O'Brien \"Quality\" Fasteners", "SHARE", "2026-11-18").unwrap();
        assert_eq!(
            to_string(&crate::ci::body("Create__CompIntfc__VNDR_ID", None, &props)),
            concat!(
                "<Create__CompIntfc__VNDR_ID><SETID>SHARE</SETID><VENDOR_ID>NEXT</VENDOR_ID>",
                "<NAME1>O&apos;Brien &quot;Quality&quot; Fasteners</NAME1><VENDOR_STATUS>A</VENDOR_STATUS>",
                "<VENDOR_ADDR><ADDRESS_SEQ_NUM>1</ADDRESS_SEQ_NUM><EFFDT>2026-11-18</EFFDT><EFF_STATUS>A</EFF_STATUS>",
                "<ADDRESS1>1 Main St</ADDRESS1><CITY>Springfield</CITY><COUNTRY>USA</COUNTRY></VENDOR_ADDR>",
                "</Create__CompIntfc__VNDR_ID>"
            )
        );
    }

    #[test]
    fn new_vendor_errors_name_the_field() {
        let long = new_vendor(serde_json::json!({"name1": "x".repeat(41)}));
        assert!(
            to_props(&long, &"x".repeat(41), "SHARE", "2026-01-01")
                .unwrap_err()
                .contains("name1 is 41")
        );
        let v = new_vendor(serde_json::json!({"name1": "Acme", "status": "X"}));
        assert!(
            to_props(&v, "Acme", "SHARE", "2026-01-01")
                .unwrap_err()
                .contains("status")
        );
        let v = new_vendor(serde_json::json!({"name1": "Acme"}));
        assert!(
            to_props(&v, "procurify-17", "SHARE", "2026-01-01")
                .unwrap_err()
                .contains("document key")
        );
        let v = new_vendor(
            serde_json::json!({"name1": "Acme", "vendor_id": "V1", "address": {"country": "United States"}}),
        );
        assert!(
            to_props(&v, "V1", "SHARE", "2026-01-01")
                .unwrap_err()
                .contains("address.country")
        );
    }

    #[test]
    fn rows_become_documents_and_bad_rows_are_reported() {
        let result = QueryResult {
            query_name: None,
            num_rows: Some(2),
            rows: vec![
                row(&[
                    ("SETID", "SHARE"),
                    ("VENDOR_ID", "0000000104"),
                    ("NAME1", "東京精密機器株式会社"),
                    ("VENDOR_STATUS", "A"),
                    ("CITY", "Tokyo"),
                    ("LASTUPDDTTM", "2026-10-02T08:00:00"),
                ]),
                row(&[("VENDOR_ID", "0000000105")]),
            ],
        };
        let page = page_of(&result, "SHARE");
        assert_eq!(page.docs.len(), 1);
        assert_eq!(page.docs[0].key, "0000000104");
        let body: serde_json::Value = serde_json::from_str(&page.docs[0].body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"setid": "SHARE", "vendor_id": "0000000104", "name1": "東京精密機器株式会社",
                "name2": null, "status": "A",
                "address": {"address1": null, "city": "Tokyo", "state": null, "postal": null, "country": null},
                "last_modified": "2026-10-02T08:00:00"})
        );
        assert_eq!(page.bad_records.len(), 1);
        assert_eq!(page.bad_records[0].key, "0000000105");
        assert!(page.bad_records[0].reason.contains("NAME1"));
        assert!(!page.more);
    }

    #[test]
    fn lookup_matches_vendor_id_then_exact_name() {
        let rows = vec![
            row(&[
                ("VENDOR_ID", "0000000102"),
                ("NAME1", "Barnes & Noble Office <B2B>"),
            ]),
            row(&[("VENDOR_ID", "0000000103"), ("NAME1", "Barnes & Noble")]),
        ];
        assert_eq!(
            match_key(&rows, "0000000103").unwrap().as_deref(),
            Some("0000000103")
        );
        assert_eq!(
            match_key(&rows, "Barnes & Noble").unwrap().as_deref(),
            Some("0000000103")
        );
        assert_eq!(match_key(&rows, "Barnes").unwrap(), None);
        let dup = vec![
            row(&[("VENDOR_ID", "1"), ("NAME1", "X")]),
            row(&[("VENDOR_ID", "2"), ("NAME1", "X")]),
        ];
        assert!(match_key(&dup, "X").unwrap_err().contains("2 suppliers"));
    }

    #[test]
    fn full_scan_reaching_max_rows_fails_asking_to_raise_it() {
        let env = fake_env();
        env.on("QAS_QRY_SERVICE.1.wsdl", |_| {
            ok(include_str!("../../tests/fixtures/QAS_QRY_SERVICE.1.wsdl"))
        });
        env.on("QAS_EXECUTEQRYSYNC_OPER.VERSION_1", |_| {
            ok(envelope(concat!(
                r#"<QAS_EXEQRY_SYNC_RESP_MSG><QAS_QUERYRESULTS_XMLP_RESP><query numrows="3" queryname="MLC_ACTIVE_SUPPLIERS">"#,
                r#"<row rownumber="1"><VENDOR_ID>1</VENDOR_ID><NAME1>A</NAME1></row>"#,
                r#"<row rownumber="2"><VENDOR_ID>2</VENDOR_ID><NAME1>B</NAME1></row>"#,
                r#"<row rownumber="3"><VENDOR_ID>3</VENDOR_ID><NAME1>C</NAME1></row>"#,
                r#"</query></QAS_QUERYRESULTS_XMLP_RESP></QAS_EXEQRY_SYNC_RESP_MSG>"#
            )))
        });
        let cache = WsdlCache::default();
        let small = Config::parse(
            "http://h:1",
            r#"{"node":"N","business_unit":"B","max_rows":2}"#,
        )
        .unwrap();
        let r = read(&Client::new(&small, &env, &cache));
        assert!(
            matches!(&r, Err(Failure::Config(m)) if m.contains("max_rows")),
            "{r:?}"
        );
        assert!(env.posted("QAS_EXECUTEQRYSYNC_OPER.VERSION_1")[0].contains("<MaxRow>3</MaxRow>"));
        let big = Config::parse(
            "http://h:1",
            r#"{"node":"N","business_unit":"B","max_rows":3}"#,
        )
        .unwrap();
        let page = read(&Client::new(&big, &env, &cache)).unwrap();
        assert_eq!(page.docs.len(), 3);
    }
}
