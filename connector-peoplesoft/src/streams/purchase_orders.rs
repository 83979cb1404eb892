//! Stream `purchase_orders` (write, lookup): a JSON purchase order, validated
//! exactly (decimals as strings), becomes one CI Create with nested `PO_LINE` >
//! `PO_LINE_SHIP` > `PO_LINE_DISTRIB` rows, `PO_ID` `NEXT` and `PO_REF` = the
//! document key. The assigned PO_ID is the target key; lookup is a CI Find on PO_REF.
//!
//! Document body (fields marked `?` may be omitted or null):
//! ```json
//! {"po_ref": "REQ-1042"?, "business_unit": "US001"?, "vendor_setid": "SHARE"?,
//!  "vendor_id": "0000000101", "po_date": "2026-11-02"?, "buyer_id": "MLC_BUYER"?,
//!  "currency": "USD"?,
//!  "lines": [{"line_nbr": 1, "description": "Nitrile gloves"?, "unit_of_measure": "EA"?,
//!             "inv_item_id": null?, "category_id": null?,
//!             "schedules": [{"sched_nbr": 1, "quantity": "10", "price": "12.5",
//!                            "due_date": "2026-11-20"?, "shipto_id": null?,
//!                            "distributions": [{"distrib_line_num": 1, "quantity": "10",
//!                                "account": "610000", "deptid": "20100"?, "business_unit_gl": null?,
//!                                "operating_unit": null?, "fund_code": null?, "product": null?,
//!                                "project_id": null?}]}]}]}
//! ```

use std::collections::HashSet;

use mlc_guest::host::Level;
use mlc_guest::{Doc, Failure, fail};
use serde::Deserialize;

use super::{PURCHASE_ORDERS, check_required, check_text, parse_body};
use crate::ci::{Prop, field, opt_field};
use crate::client::Client;
use crate::config::Config;
use crate::values::{parse_date, parse_decimal};

/// Quantity digits (PeopleSoft `QTY_PO`: 15 digits, 4 decimals).
const QTY_DIGITS: (usize, usize) = (11, 4);
/// Price digits (PeopleSoft `PRICE_PO`: 15 digits, 5 decimals).
const PRICE_DIGITS: (usize, usize) = (10, 5);

/// A purchase order as the mapping programs produce it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchaseOrder {
    /// `PO_REF`: defaults to the document key and must equal it.
    pub po_ref: Option<String>,
    /// `BUSINESS_UNIT`: defaults to `business_unit` of the configuration.
    pub business_unit: Option<String>,
    /// `VENDOR_SETID`: defaults to `setid` of the configuration.
    pub vendor_setid: Option<String>,
    /// `VENDOR_ID`.
    pub vendor_id: String,
    /// `PO_DT` (`YYYY-MM-DD`); PeopleSoft uses today when absent.
    pub po_date: Option<String>,
    /// `BUYER_ID`.
    pub buyer_id: Option<String>,
    /// `CURRENCY_CD` (ISO 4217).
    pub currency: Option<String>,
    /// `PO_LINE` rows.
    pub lines: Vec<Line>,
}

/// One PO line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// `LINE_NBR` (unique, from 1).
    pub line_nbr: u32,
    /// `DESCR254_MIXED`.
    pub description: Option<String>,
    /// `UNIT_OF_MEASURE`.
    pub unit_of_measure: Option<String>,
    /// `INV_ITEM_ID`.
    pub inv_item_id: Option<String>,
    /// `CATEGORY_ID`.
    pub category_id: Option<String>,
    /// `PO_LINE_SHIP` rows.
    pub schedules: Vec<Schedule>,
}

/// One shipping schedule of a line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// `SCHED_NBR` (unique within the line).
    pub sched_nbr: u32,
    /// `QTY_PO`, a decimal string.
    pub quantity: serde_json::Value,
    /// `PRICE_PO`, a decimal string.
    pub price: serde_json::Value,
    /// `DUE_DT` (`YYYY-MM-DD`).
    pub due_date: Option<String>,
    /// `SHIPTO_ID`.
    pub shipto_id: Option<String>,
    /// `PO_LINE_DISTRIB` rows.
    pub distributions: Vec<Distribution>,
}

/// One accounting distribution of a schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distribution {
    /// `DISTRIB_LINE_NUM` (unique within the schedule).
    pub distrib_line_num: u32,
    /// `QTY_PO`, a decimal string; the schedule's distributions sum to its quantity.
    pub quantity: serde_json::Value,
    /// `ACCOUNT`.
    pub account: String,
    /// `DEPTID`.
    pub deptid: Option<String>,
    /// `BUSINESS_UNIT_GL`.
    pub business_unit_gl: Option<String>,
    /// `OPERATING_UNIT`.
    pub operating_unit: Option<String>,
    /// `FUND_CODE`.
    pub fund_code: Option<String>,
    /// `PRODUCT`.
    pub product: Option<String>,
    /// `PROJECT_ID`.
    pub project_id: Option<String>,
}

fn decimal_text<'a>(path: &str, value: &'a serde_json::Value) -> Result<&'a str, String> {
    value.as_str().ok_or_else(|| {
        format!(
            "{path} must be a decimal string like \"12.50\" (not {value}): numbers lose exactness"
        )
    })
}

fn check_date(path: &str, value: Option<&str>) -> Result<(), String> {
    match value {
        Some(v) if parse_date(v).is_none() => Err(format!("{path} {v:?} is not a date YYYY-MM-DD")),
        _ => Ok(()),
    }
}

fn check_opt(path: &str, value: Option<&str>, max: usize) -> Result<(), String> {
    value.map_or(Ok(()), |v| check_text(path, v, max))
}

/// Validates `po` and builds the Create properties. Every error names the
/// field by its JSON path and its line/schedule/distribution number.
pub fn to_props(po: &PurchaseOrder, key: &str, config: &Config) -> Result<Vec<Prop>, String> {
    let po_ref = po.po_ref.as_deref().unwrap_or(key);
    check_required("po_ref", po_ref, 30)?;
    if po_ref != key {
        return Err(format!(
            "po_ref {po_ref:?} differs from the document key {key:?}; lookup by key would never find this order"
        ));
    }
    let business_unit = po.business_unit.as_deref().unwrap_or(&config.business_unit);
    check_required("business_unit", business_unit, 5)?;
    let vendor_setid = po.vendor_setid.as_deref().unwrap_or(&config.setid);
    check_required("vendor_setid", vendor_setid, 5)?;
    check_required("vendor_id", &po.vendor_id, 10)?;
    check_date("po_date", po.po_date.as_deref())?;
    check_opt("buyer_id", po.buyer_id.as_deref(), 30)?;
    if let Some(c) = &po.currency
        && !(c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Err(format!(
            "currency {c:?} must be a 3-letter ISO code like \"USD\""
        ));
    }
    if po.lines.is_empty() {
        return Err("lines is empty: a purchase order needs at least one line".into());
    }

    let mut props = vec![
        field("BUSINESS_UNIT", business_unit),
        field("PO_ID", "NEXT"),
        field("VENDOR_SETID", vendor_setid),
        field("VENDOR_ID", po.vendor_id.as_str()),
    ];
    props.extend(opt_field("PO_DT", po.po_date.as_deref()));
    props.extend(opt_field("BUYER_ID", po.buyer_id.as_deref()));
    props.extend(opt_field("CURRENCY_CD", po.currency.as_deref()));
    props.push(field("PO_REF", po_ref));

    let mut line_numbers = HashSet::new();
    for (li, line) in po.lines.iter().enumerate() {
        let lp = format!("lines[{li}] (line_nbr {})", line.line_nbr);
        if line.line_nbr == 0 || !line_numbers.insert(line.line_nbr) {
            return Err(format!("{lp}.line_nbr must be unique and at least 1"));
        }
        check_opt(
            &format!("{lp}.description"),
            line.description.as_deref(),
            254,
        )?;
        check_opt(
            &format!("{lp}.unit_of_measure"),
            line.unit_of_measure.as_deref(),
            3,
        )?;
        check_opt(
            &format!("{lp}.inv_item_id"),
            line.inv_item_id.as_deref(),
            18,
        )?;
        check_opt(
            &format!("{lp}.category_id"),
            line.category_id.as_deref(),
            18,
        )?;
        if line.schedules.is_empty() {
            return Err(format!(
                "{lp}.schedules is empty: each line needs a schedule"
            ));
        }
        let mut line_props = vec![field("LINE_NBR", line.line_nbr.to_string())];
        line_props.extend(opt_field("INV_ITEM_ID", line.inv_item_id.as_deref()));
        line_props.extend(opt_field("DESCR254_MIXED", line.description.as_deref()));
        line_props.extend(opt_field(
            "UNIT_OF_MEASURE",
            line.unit_of_measure.as_deref(),
        ));
        line_props.extend(opt_field("CATEGORY_ID", line.category_id.as_deref()));

        let mut sched_numbers = HashSet::new();
        for (si, sched) in line.schedules.iter().enumerate() {
            let sp = format!("{lp}.schedules[{si}] (sched_nbr {})", sched.sched_nbr);
            if sched.sched_nbr == 0 || !sched_numbers.insert(sched.sched_nbr) {
                return Err(format!(
                    "{sp}.sched_nbr must be unique within the line and at least 1"
                ));
            }
            let qty_text = decimal_text(&format!("{sp}.quantity"), &sched.quantity)?;
            let qty = parse_decimal(qty_text, QTY_DIGITS.0, QTY_DIGITS.1)
                .map_err(|e| format!("{sp}.quantity: {e}"))?;
            if !qty.is_positive() {
                return Err(format!("{sp}.quantity {qty_text:?} must be above zero"));
            }
            let price_text = decimal_text(&format!("{sp}.price"), &sched.price)?;
            let price = parse_decimal(price_text, PRICE_DIGITS.0, PRICE_DIGITS.1)
                .map_err(|e| format!("{sp}.price: {e}"))?;
            if price.is_negative() {
                return Err(format!("{sp}.price {price_text:?} must not be negative"));
            }
            check_date(&format!("{sp}.due_date"), sched.due_date.as_deref())?;
            check_opt(&format!("{sp}.shipto_id"), sched.shipto_id.as_deref(), 10)?;
            if sched.distributions.is_empty() {
                return Err(format!(
                    "{sp}.distributions is empty: each schedule needs an account distribution"
                ));
            }
            let mut sched_props = vec![
                field("SCHED_NBR", sched.sched_nbr.to_string()),
                field("QTY_PO", qty_text),
                field("PRICE_PO", price_text),
            ];
            sched_props.extend(opt_field("DUE_DT", sched.due_date.as_deref()));
            sched_props.extend(opt_field("SHIPTO_ID", sched.shipto_id.as_deref()));

            let mut dist_numbers = HashSet::new();
            let mut dist_total: i128 = 0;
            for (di, dist) in sched.distributions.iter().enumerate() {
                let dp = format!(
                    "{sp}.distributions[{di}] (distrib_line_num {})",
                    dist.distrib_line_num
                );
                if dist.distrib_line_num == 0 || !dist_numbers.insert(dist.distrib_line_num) {
                    return Err(format!(
                        "{dp}.distrib_line_num must be unique within the schedule and at least 1"
                    ));
                }
                let dq_text = decimal_text(&format!("{dp}.quantity"), &dist.quantity)?;
                let dq = parse_decimal(dq_text, QTY_DIGITS.0, QTY_DIGITS.1)
                    .map_err(|e| format!("{dp}.quantity: {e}"))?;
                if !dq.is_positive() {
                    return Err(format!("{dp}.quantity {dq_text:?} must be above zero"));
                }
                dist_total += dq.at_scale(QTY_DIGITS.1 as u32);
                check_required(&format!("{dp}.account"), &dist.account, 10)?;
                check_opt(&format!("{dp}.deptid"), dist.deptid.as_deref(), 10)?;
                check_opt(
                    &format!("{dp}.business_unit_gl"),
                    dist.business_unit_gl.as_deref(),
                    5,
                )?;
                check_opt(
                    &format!("{dp}.operating_unit"),
                    dist.operating_unit.as_deref(),
                    8,
                )?;
                check_opt(&format!("{dp}.fund_code"), dist.fund_code.as_deref(), 5)?;
                check_opt(&format!("{dp}.product"), dist.product.as_deref(), 6)?;
                check_opt(&format!("{dp}.project_id"), dist.project_id.as_deref(), 15)?;
                let mut dist_props = vec![
                    field("DISTRIB_LINE_NUM", dist.distrib_line_num.to_string()),
                    field("QTY_PO", dq_text),
                ];
                dist_props.extend(opt_field(
                    "BUSINESS_UNIT_GL",
                    dist.business_unit_gl.as_deref(),
                ));
                dist_props.push(field("ACCOUNT", dist.account.as_str()));
                dist_props.extend(opt_field("DEPTID", dist.deptid.as_deref()));
                dist_props.extend(opt_field("OPERATING_UNIT", dist.operating_unit.as_deref()));
                dist_props.extend(opt_field("FUND_CODE", dist.fund_code.as_deref()));
                dist_props.extend(opt_field("PRODUCT", dist.product.as_deref()));
                dist_props.extend(opt_field("PROJECT_ID", dist.project_id.as_deref()));
                sched_props.push(Prop::Row("PO_LINE_DISTRIB".into(), dist_props));
            }
            let sched_total = qty.at_scale(QTY_DIGITS.1 as u32);
            if dist_total != sched_total {
                return Err(format!(
                    "{sp}: distribution quantities add up to {}, the schedule quantity is {qty_text}",
                    crate::values::format_scaled(dist_total, QTY_DIGITS.1 as u32)
                ));
            }
            line_props.push(Prop::Row("PO_LINE_SHIP".into(), sched_props));
        }
        props.push(Prop::Row("PO_LINE".into(), line_props));
    }
    Ok(props)
}

/// Creates the purchase order; returns the assigned PO_ID.
pub fn write(client: &Client<'_>, doc: &Doc) -> Result<String, Failure> {
    let po: PurchaseOrder = parse_body(PURCHASE_ORDERS, doc)?;
    let props = to_props(&po, &doc.key, client.config)
        .map_err(|e| fail::rejected(format!("purchase_orders document {:?}: {e}", doc.key)))?;
    let created = client.ci_create(&client.config.purchase_order_ci, &props, "PO_ID")?;
    if let Some(po_id) = created.key
        && po_id != "NEXT"
    {
        return Ok(po_id);
    }
    // Created, but the reply did not carry the key block: find it by PO_REF
    // rather than report a failure that would make the host post it again.
    client.env.log(
        Level::Warn,
        &format!(
            "purchase order {:?} created but the reply carried no PO_ID; finding it by PO_REF",
            doc.key
        ),
    );
    lookup(client, &doc.key)?.ok_or_else(|| {
        fail::protocol(format!(
            "purchase order {:?} was accepted but neither the reply nor a Find by PO_REF gave its PO_ID",
            doc.key
        ))
    })
}

/// The PO_ID of the order whose PO_REF is exactly `key`, if any.
pub fn lookup(client: &Client<'_>, key: &str) -> Result<Option<String>, Failure> {
    check_required("po_ref", key, 30)
        .map_err(|e| fail::rejected(format!("purchase_orders lookup: {e}")))?;
    let rows = client.ci_find(
        &client.config.purchase_order_ci,
        &[field("PO_REF", key)],
        "PO_ID",
    )?;
    Ok(pick_exact(&rows, key, client))
}

/// Find matches "begins with": keep only rows whose PO_REF is exactly `key`
/// (a row without PO_REF is trusted only when it is the single match).
fn pick_exact(
    rows: &[std::collections::HashMap<String, String>],
    key: &str,
    client: &Client<'_>,
) -> Option<String> {
    let exact: Vec<&String> = rows
        .iter()
        .filter(|r| r.get("PO_REF").is_some_and(|v| v == key))
        .filter_map(|r| r.get("PO_ID"))
        .collect();
    if exact.len() > 1 {
        client.env.log(
            Level::Warn,
            &format!(
                "{} purchase orders carry PO_REF {key:?} ({}); using the first",
                exact.len(),
                exact
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    if let Some(first) = exact.first() {
        return Some((*first).clone());
    }
    match rows {
        [only] if !only.contains_key("PO_REF") => only.get("PO_ID").cloned(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::WsdlCache;
    use crate::client::testing::*;
    use crate::xml::{parse_str, to_string};

    fn config() -> Config {
        Config::parse(
            "http://ps.test:8000",
            r#"{"node":"PSFT_EP","business_unit":"US001"}"#,
        )
        .unwrap()
    }

    fn sample() -> serde_json::Value {
        serde_json::json!({
            "po_ref": "REQ-1042", "vendor_id": "0000000101", "po_date": "2026-11-02",
            "buyer_id": "MLC_BUYER", "currency": "USD",
            "lines": [
                {"line_nbr": 1, "description": "Nitrile gloves & <masks>", "unit_of_measure": "EA",
                 "schedules": [{"sched_nbr": 1, "quantity": "10", "price": "12.5", "due_date": "2026-11-20",
                   "distributions": [
                     {"distrib_line_num": 1, "quantity": "6", "account": "610000", "deptid": "20100"},
                     {"distrib_line_num": 2, "quantity": "4", "account": "610000", "deptid": "20200"}]}]},
                {"line_nbr": 2, "description": "Café filters", "category_id": "SUPPLIES",
                 "schedules": [{"sched_nbr": 1, "quantity": "0.5", "price": "3.25",
                   "distributions": [{"distrib_line_num": 1, "quantity": "0.5", "account": "621000", "business_unit_gl": "US001"}]}]}
            ]
        })
    }

    fn props_of(value: serde_json::Value) -> Result<Vec<Prop>, String> {
        let po: PurchaseOrder = serde_json::from_value(value).map_err(|e| e.to_string())?;
        to_props(&po, "REQ-1042", &config())
    }

    #[test]
    fn po_becomes_a_nested_ci_create_with_next_and_po_ref() {
        let props = props_of(sample()).unwrap();
        let xml = to_string(&crate::ci::body(
            "Create__CompIntfc__PO_EXPRESS",
            Some("urn:m"),
            &props,
        ));
        assert_eq!(
            xml,
            concat!(
                r#"<Create__CompIntfc__PO_EXPRESS xmlns="urn:m"><BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>NEXT</PO_ID>"#,
                r#"<VENDOR_SETID>SHARE</VENDOR_SETID><VENDOR_ID>0000000101</VENDOR_ID><PO_DT>2026-11-02</PO_DT>"#,
                r#"<BUYER_ID>MLC_BUYER</BUYER_ID><CURRENCY_CD>USD</CURRENCY_CD><PO_REF>REQ-1042</PO_REF>"#,
                r#"<PO_LINE><LINE_NBR>1</LINE_NBR><DESCR254_MIXED>Nitrile gloves &amp; &lt;masks&gt;</DESCR254_MIXED><UNIT_OF_MEASURE>EA</UNIT_OF_MEASURE>"#,
                r#"<PO_LINE_SHIP><SCHED_NBR>1</SCHED_NBR><QTY_PO>10</QTY_PO><PRICE_PO>12.5</PRICE_PO><DUE_DT>2026-11-20</DUE_DT>"#,
                r#"<PO_LINE_DISTRIB><DISTRIB_LINE_NUM>1</DISTRIB_LINE_NUM><QTY_PO>6</QTY_PO><ACCOUNT>610000</ACCOUNT><DEPTID>20100</DEPTID></PO_LINE_DISTRIB>"#,
                r#"<PO_LINE_DISTRIB><DISTRIB_LINE_NUM>2</DISTRIB_LINE_NUM><QTY_PO>4</QTY_PO><ACCOUNT>610000</ACCOUNT><DEPTID>20200</DEPTID></PO_LINE_DISTRIB>"#,
                r#"</PO_LINE_SHIP></PO_LINE>"#,
                r#"<PO_LINE><LINE_NBR>2</LINE_NBR><DESCR254_MIXED>Café filters</DESCR254_MIXED><CATEGORY_ID>SUPPLIES</CATEGORY_ID>"#,
                r#"<PO_LINE_SHIP><SCHED_NBR>1</SCHED_NBR><QTY_PO>0.5</QTY_PO><PRICE_PO>3.25</PRICE_PO>"#,
                r#"<PO_LINE_DISTRIB><DISTRIB_LINE_NUM>1</DISTRIB_LINE_NUM><QTY_PO>0.5</QTY_PO><BUSINESS_UNIT_GL>US001</BUSINESS_UNIT_GL><ACCOUNT>621000</ACCOUNT></PO_LINE_DISTRIB>"#,
                r#"</PO_LINE_SHIP></PO_LINE></Create__CompIntfc__PO_EXPRESS>"#
            )
        );
        // And it parses back with the hostile description intact.
        let back = parse_str(&xml).unwrap();
        assert_eq!(
            back.child("PO_LINE").unwrap().child_text("DESCR254_MIXED"),
            Some("Nitrile gloves & <masks>")
        );
    }

    fn error_of(edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut v = sample();
        edit(&mut v);
        props_of(v).unwrap_err()
    }

    #[test]
    fn malformed_quantity_is_refused_naming_line_and_field() {
        let e = error_of(|v| v["lines"][1]["schedules"][0]["quantity"] = "1,5".into());
        assert!(
            e.starts_with("lines[1] (line_nbr 2).schedules[0] (sched_nbr 1).quantity:"),
            "{e}"
        );
        assert!(e.contains("1,5"), "{e}");
    }

    #[test]
    fn numeric_json_decimal_is_refused() {
        let e = error_of(|v| v["lines"][0]["schedules"][0]["price"] = serde_json::json!(12.5));
        assert!(
            e.contains("(line_nbr 1).schedules[0] (sched_nbr 1).price must be a decimal string"),
            "{e}"
        );
    }

    #[test]
    fn too_many_decimals_and_negative_values_are_refused() {
        let e = error_of(|v| v["lines"][0]["schedules"][0]["price"] = "1.123456".into());
        assert!(
            e.contains("price") && e.contains("after the decimal point"),
            "{e}"
        );
        let e = error_of(|v| {
            v["lines"][0]["schedules"][0]["distributions"][0]["quantity"] = "-6".into()
        });
        assert!(
            e.contains("distributions[0] (distrib_line_num 1).quantity"),
            "{e}"
        );
        let e = error_of(|v| v["lines"][0]["schedules"][0]["price"] = "-1".into());
        assert!(e.contains("must not be negative"), "{e}");
    }

    #[test]
    fn distributions_must_add_up_to_the_schedule_quantity() {
        let e = error_of(|v| {
            v["lines"][0]["schedules"][0]["distributions"][1]["quantity"] = "3.9999".into()
        });
        assert!(
            e.contains("add up to 9.9999, the schedule quantity is 10"),
            "{e}"
        );
    }

    #[test]
    fn long_po_ref_and_mismatched_key_are_refused() {
        let long = "R".repeat(31);
        let po: PurchaseOrder = serde_json::from_value(serde_json::json!({
            "vendor_id": "V", "lines": sample()["lines"].clone()
        }))
        .unwrap();
        let e = to_props(&po, &long, &config()).unwrap_err();
        assert!(e.contains("po_ref is 31 characters long"), "{e}");
        let e = error_of(|v| v["po_ref"] = "OTHER".into());
        assert!(e.contains("differs from the document key"), "{e}");
    }

    #[test]
    fn structural_errors_name_their_field() {
        let e = error_of(|v| v["lines"] = serde_json::json!([]));
        assert!(e.contains("lines is empty"), "{e}");
        let e = error_of(|v| v["lines"][1]["line_nbr"] = 1.into());
        assert!(e.contains("line_nbr must be unique"), "{e}");
        let e = error_of(|v| v["lines"][0]["schedules"][0]["due_date"] = "2026-02-30".into());
        assert!(e.contains("due_date"), "{e}");
        let e = error_of(|v| v["currency"] = "usd".into());
        assert!(e.contains("currency"), "{e}");
        let e =
            error_of(|v| v["lines"][0]["schedules"][0]["distributions"][0]["account"] = "".into());
        assert!(e.contains("account is required"), "{e}");
        let e = error_of(|v| v["lines"][0]["colour"] = "red".into());
        assert!(e.contains("unknown field `colour`"), "{e}");
    }

    #[test]
    fn business_unit_and_setid_default_from_config_and_can_be_overridden() {
        let props = props_of(sample()).unwrap();
        assert_eq!(props[0], field("BUSINESS_UNIT", "US001"));
        assert_eq!(props[2], field("VENDOR_SETID", "SHARE"));
        let mut v = sample();
        v["business_unit"] = "US002".into();
        v["vendor_setid"] = "SET2".into();
        let props = props_of(v).unwrap();
        assert_eq!(props[0], field("BUSINESS_UNIT", "US002"));
        assert_eq!(props[2], field("VENDOR_SETID", "SET2"));
    }

    fn po_env() -> Scripted {
        let env = fake_env();
        env.on("CI_PO_EXPRESS.1.wsdl", |_| {
            ok(ci_wsdl("PO_EXPRESS", &["C", "F"], 55))
        });
        env
    }

    #[test]
    fn write_returns_the_assigned_po_id() {
        let env = po_env();
        env.on("CI_PO_EXPRESS_C.V1", |_| {
            ok(envelope("<Create__CompIntfc__PO_EXPRESSResponse><notification>1</notification><detail><keys><BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>0000100001</PO_ID></keys></detail></Create__CompIntfc__PO_EXPRESSResponse>"))
        });
        let cfg = config();
        let cache = WsdlCache::default();
        let client = Client::new(&cfg, &env, &cache);
        let doc = Doc {
            key: "REQ-1042".into(),
            body: sample().to_string(),
        };
        assert_eq!(write(&client, &doc).unwrap(), "0000100001");
        let posted = env.posted("CI_PO_EXPRESS_C.V1");
        assert_eq!(posted.len(), 1);
        assert!(posted[0].contains("<PO_REF>REQ-1042</PO_REF>"));
    }

    #[test]
    fn invalid_po_is_rejected_before_anything_is_sent() {
        let env = po_env();
        let cfg = config();
        let cache = WsdlCache::default();
        let client = Client::new(&cfg, &env, &cache);
        let mut v = sample();
        v["lines"][0]["schedules"][0]["quantity"] = "ten".into();
        let doc = Doc {
            key: "REQ-1042".into(),
            body: v.to_string(),
        };
        assert!(
            matches!(write(&client, &doc), Err(Failure::Rejected(m)) if m.contains("line_nbr 1"))
        );
        assert!(env.sent.borrow().is_empty());
        let doc = Doc {
            key: "REQ-1042".into(),
            body: "not json".into(),
        };
        assert!(matches!(write(&client, &doc), Err(Failure::Rejected(_))));
    }

    #[test]
    fn write_without_key_block_finds_the_po_by_po_ref() {
        let env = po_env();
        env.on("CI_PO_EXPRESS_C.V1", |_| {
            ok(envelope("<Create__CompIntfc__PO_EXPRESSResponse><notification>1</notification></Create__CompIntfc__PO_EXPRESSResponse>"))
        });
        env.on("CI_PO_EXPRESS_F.V1", |_| {
            ok(envelope("<Find__CompIntfc__PO_EXPRESSResponse><PO_EXPRESS><PO_ID>0000100009</PO_ID><PO_REF>REQ-1042</PO_REF></PO_EXPRESS></Find__CompIntfc__PO_EXPRESSResponse>"))
        });
        let cfg = config();
        let cache = WsdlCache::default();
        let client = Client::new(&cfg, &env, &cache);
        let doc = Doc {
            key: "REQ-1042".into(),
            body: sample().to_string(),
        };
        assert_eq!(write(&client, &doc).unwrap(), "0000100009");
    }

    #[test]
    fn lookup_ignores_begins_with_matches() {
        let env = po_env();
        env.on("CI_PO_EXPRESS_F.V1", |_| {
            ok(envelope(concat!(
                "<Find__CompIntfc__PO_EXPRESSResponse>",
                "<PO_EXPRESS><BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>0000100010</PO_ID><PO_REF>REQ-10</PO_REF></PO_EXPRESS>",
                "<PO_EXPRESS><BUSINESS_UNIT>US001</BUSINESS_UNIT><PO_ID>0000100001</PO_ID><PO_REF>REQ-1</PO_REF></PO_EXPRESS>",
                "</Find__CompIntfc__PO_EXPRESSResponse>"
            )))
        });
        let cfg = config();
        let cache = WsdlCache::default();
        let client = Client::new(&cfg, &env, &cache);
        assert_eq!(
            lookup(&client, "REQ-1").unwrap().as_deref(),
            Some("0000100001")
        );
        assert_eq!(lookup(&client, "REQ-").unwrap(), None);
        let find = &env.posted("CI_PO_EXPRESS_F.V1")[0];
        assert!(find.contains("<Find__CompIntfc__PO_EXPRESS xmlns=\"http://xmlns.oracle.com/Enterprise/Tools/schemas/M55.V1\"><PO_REF>REQ-1</PO_REF></Find__CompIntfc__PO_EXPRESS>"), "{find}");
    }

    #[test]
    fn lookup_of_unknown_po_ref_is_none() {
        let env = po_env();
        env.on("CI_PO_EXPRESS_F.V1", |_| {
            ok(envelope("<Find__CompIntfc__PO_EXPRESSResponse/>"))
        });
        let cfg = config();
        let cache = WsdlCache::default();
        let client = Client::new(&cfg, &env, &cache);
        assert_eq!(lookup(&client, "REQ-404").unwrap(), None);
    }
}
