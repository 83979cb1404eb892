//! `approved_requisitions`: requisitions (Procurify "orders") in status 1
//! APPROVED, read from `GET /api/v2/global/orders/?status=1&modified_date_0=…`,
//! each with all its lines from `GET /api/v3/order-items/?orderNum=<num>`.
//! Key: the requisition number (`num`) as text. Cursor field: `modified`.
//!
//! ```json
//! {"id": 1042, "uuid": "046b6c7f-0b8a-43b9-b35d-6489e6daee91", "status": 1, "status_name": "approved",
//!  "description": "Shop floor restock", "created": "2026-11-01T08:00:00Z",
//!  "modified": "2026-11-02T09:15:00Z", "required_by": "2026-11-15T00:00:00Z",
//!  "total": "4625", "currency": {"id": 1, "code": "USD", "rate": "1"},
//!  "requester": {"id": 5, "user_id": 9, "first_name": "Ada", "last_name": "Byron", "email": "ada@acme.example"},
//!  "department": {"id": 6, "name": "Finance", "external_id": "10100"},
//!  "location": {"id": 1, "name": "Head Office", "external_id": "HQ"},
//!  "line_count": 2, "lines": [ /* line shape, see streams::lines */ ]}
//! ```
//! A requisition with any unreadable line is reported as a bad record (a
//! partial requisition must not become a partial purchase order).

use mlc_guest::Failure;
use serde_json::{Value, json};

use super::{Ctx, Fetched, Outcome, Read, Stream, lines, page_query};
use crate::cursor::Incremental;
use crate::fields::{FieldError, Obj, key_of};
use crate::refs::{CurrencyRef, Needs};
use crate::time::Instant;

/// Stream name.
pub const NAME: &str = "approved_requisitions";
/// Orders list path.
pub const PATH: &str = "/api/v2/global/orders/";
/// Order items path (lines).
pub const LINES_PATH: &str = "/api/v3/order-items/";
/// Permission needed to list every requisition.
pub const PERMISSION: &str = "view all requisitions (global orders) and order items";

/// The stream's entry in the connector's table (spec and dispatch).
pub const STREAM: Stream = Stream {
    name: NAME,
    description: "Approved requisitions (order status 1) with all their lines. Doc: {id, uuid, status, status_name, \
        description, created, modified, required_by, total, currency{id,code,rate}, requester{id,user_id,first_name,\
        last_name,email}, department{id,name,external_id}, location{id,name,external_id}, line_count, lines[{id, num, \
        requisition_id, name, sku, unit, quantity, unit_price, requested_quantity, requested_unit_price, total_cost, \
        tax_amount, shipping_amount, currency, vendor{id,name,external_id}, vendor_text, account{id,account_code_id,code,\
        description}, department{id,name,external_id}, status, status_name, comment, external_id, purchase_order, \
        po_line_number, created, approved_at, modified}]}; decimals are exact strings, times RFC 3339 UTC.",
    primary_key: "id",
    cursor_field: Some("modified"),
    read: Some(Read::Incremental(fetch)),
    write: None,
    lookup: None,
};

/// Name of a requisition (order) status code.
pub fn status_name(code: i64) -> Option<&'static str> {
    Some(match code {
        0 => "pending",
        1 => "approved",
        2 => "rejected",
        3 => "purchased",
        4 => "cancelled",
        5 => "received",
        6 => "draft",
        _ => return None,
    })
}

/// A requisition header, normalized, without lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Requisition number.
    pub num: i64,
    /// Last modification.
    pub modified: Option<Instant>,
    /// The requisition's currency (lines fall back to it).
    pub currency: Option<CurrencyRef>,
    /// Document fields other than `lines` and `line_count`.
    pub body: Value,
}

fn person(o: Option<Obj<'_>>) -> Result<Value, FieldError> {
    let Some(u) = o else { return Ok(Value::Null) };
    Ok(json!({
        "id": u.opt_int("id")?,
        "user_id": u.opt_int("user")?,
        "first_name": u.opt_str("firstName")?,
        "last_name": u.opt_str("lastName")?,
        "email": u.opt_str("email")?,
    }))
}

/// `{"id","name","external_id"}` of a department, location or branch object.
pub fn place(o: Option<Obj<'_>>) -> Result<Value, FieldError> {
    let Some(p) = o else { return Ok(Value::Null) };
    Ok(json!({
        "id": p.opt_int("id")?,
        "name": p.opt_str("name")?,
        "external_id": p.opt_str("external_id")?,
    }))
}

/// Normalizes an `OrderRead` record (the header).
pub fn header(raw: &Value) -> Result<Header, FieldError> {
    let o = Obj::new(raw)?;
    let num = o.int("num")?;
    let inner = || -> Result<Header, FieldError> {
        let currency = o
            .opt_obj("currency")?
            .map(CurrencyRef::parse)
            .transpose()
            .map_err(|e| e.within("`currency`"))?;
        let status = lines::status_code(&o, "status")?;
        let modified = o.opt_time("dateModified")?;
        let body = json!({
            "id": num,
            "uuid": o.opt_str("uuid")?,
            "status": status,
            "status_name": status.and_then(status_name),
            "description": o.opt_str("description")?,
            "created": o.opt_rfc3339("date")?,
            "modified": modified.map(Instant::rfc3339),
            "required_by": o.opt_rfc3339("dateRequired")?,
            "total": o.opt_decimal("totalPrice")?,
            "currency": currency.as_ref().map_or(Value::Null, CurrencyRef::to_json),
            "requester": person(o.opt_obj("user")?).map_err(|e| e.within("`user`"))?,
            "department": place(o.opt_obj("department")?).map_err(|e| e.within("`department`"))?,
            "location": place(o.opt_obj("branch")?).map_err(|e| e.within("`branch`"))?,
        });
        Ok(Header {
            num,
            modified,
            currency,
            body,
        })
    };
    inner().map_err(|e| e.within(format!("requisition {num}")))
}

/// Joins a header and its raw lines into the requisition document, or the
/// reason it is a bad record.
pub fn assemble(header: Header, raw_lines: &[Value], refs: &crate::refs::Refs) -> Outcome {
    let key = header.num.to_string();
    let mut out = Vec::with_capacity(raw_lines.len());
    for raw in raw_lines {
        match lines::normalize(raw, refs, header.currency.as_ref()) {
            Ok(line) => out.push(line.body),
            Err(e) => return Outcome::bad(key, e.within(format!("requisition {}", header.num))),
        }
    }
    let mut body = header.body;
    if let Value::Object(map) = &mut body {
        map.insert("line_count".into(), json!(out.len()));
        map.insert("lines".into(), Value::Array(out));
    }
    Outcome::Doc {
        key,
        body,
        modified: header.modified,
    }
}

/// Every line of requisition `num`, following the item list's pages.
fn fetch_lines(ctx: &Ctx<'_>, what: &str, num: i64) -> Result<Vec<Value>, Failure> {
    let mut all = Vec::new();
    let query = [("orderNum", num.to_string())];
    ctx.client.each_page(
        &format!("{what}: requisition {num} lines"),
        PERMISSION,
        LINES_PATH,
        &query,
        |data| {
            // Keep only this requisition's lines, in case the filter was not applied.
            all.extend(data.into_iter().filter(|l| match l.get("orderNum") {
                Some(Value::Number(n)) => n.as_i64() == Some(num),
                _ => true,
            }));
            true
        },
    )?;
    Ok(all)
}

/// Reads one page of approved requisitions with their lines.
pub fn fetch(ctx: &mut Ctx<'_>, what: &str, cursor: &Incremental) -> Result<Fetched, Failure> {
    let mut filters = vec![("status", "1".to_string())];
    if let Some(since) = cursor.since_instant() {
        filters.push(("modified_date_0", since.date()));
    }
    let query = page_query(&ctx.client, cursor.page, filters);
    let listed = ctx.client.list(what, PERMISSION, PATH, &query)?;

    // Headers first; lines for the readable ones; one reference resolution.
    let mut parts: Vec<Result<(Header, Vec<Value>), Outcome>> =
        Vec::with_capacity(listed.data.len());
    let mut needs = Needs::default();
    for raw in &listed.data {
        match header(raw) {
            Ok(h) => {
                let raw_lines = fetch_lines(ctx, what, h.num)?;
                for l in &raw_lines {
                    lines::collect_needs(l, &mut needs);
                }
                parts.push(Ok((h, raw_lines)));
            }
            Err(e) => parts.push(Err(Outcome::bad(key_of(raw, "num"), e))),
        }
    }
    let refs = ctx.cache.resolve(&ctx.client, what, &needs)?;
    let outcomes = parts
        .into_iter()
        .map(|p| match p {
            Ok((h, raw_lines)) => assemble(h, &raw_lines, &refs),
            Err(bad) => bad,
        })
        .collect();
    Ok(Fetched {
        outcomes,
        next: listed.next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refs::Refs;

    fn orders() -> Value {
        serde_json::from_str(include_str!("../../tests/fixtures/orders_page.json")).unwrap()
    }

    #[test]
    fn header_carries_requester_department_location_and_exact_total() {
        let h = header(&orders()["data"][0]).unwrap();
        assert_eq!(h.num, 1042);
        let b = &h.body;
        assert_eq!(b["status_name"], "approved");
        assert_eq!(b["total"], "4625");
        assert_eq!(b["modified"], "2026-11-02T09:15:00Z");
        assert_eq!(
            b["requester"],
            json!({"id": 5, "user_id": 9, "first_name": "Ada", "last_name": "Byron", "email": "ada@acme.example"})
        );
        assert_eq!(
            b["department"],
            json!({"id": 6, "name": "Finance", "external_id": "10100"})
        );
        assert_eq!(
            b["location"],
            json!({"id": 1, "name": "Head Office", "external_id": "HQ"})
        );
        assert_eq!(b["currency"], json!({"id": 1, "code": "USD", "rate": "1"}));
    }

    #[test]
    fn spec_example_order_is_refused_naming_the_placeholder_field() {
        // The OpenAPI example of OrderRead has placeholder decimals ("rate": "rate").
        let err = header(&orders()["data"][1]).unwrap_err();
        assert_eq!(
            err.0,
            "requisition 0: `currency`: `rate`: not a decimal number: rate"
        );
        let mut fixed = orders()["data"][1].clone();
        fixed["currency"]["rate"] = json!("1.0");
        let err = header(&fixed).unwrap_err();
        assert_eq!(
            err.0,
            "requisition 0: `totalPrice`: not a decimal number: totalPrice"
        );
        fixed["totalPrice"] = json!(null);
        let h = header(&fixed).unwrap();
        assert_eq!(h.body["status"], Value::Null);
        assert_eq!(h.body["total"], Value::Null);
    }

    #[test]
    fn requisition_with_a_bad_line_is_one_bad_record() {
        let h = header(&orders()["data"][0]).unwrap();
        let items: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/order_items_page.json"))
                .unwrap();
        let all = items["data"].as_array().unwrap();
        match assemble(h.clone(), &all[..2], &Refs::default()) {
            Outcome::Doc { key, body, .. } => {
                assert_eq!(key, "1042");
                assert_eq!(body["line_count"], 2);
                assert_eq!(body["lines"][1]["unit_price"], "1500");
                // Line currency id 1 matches the requisition's currency: its code is known.
                assert_eq!(body["lines"][0]["currency"]["code"], "USD");
            }
            other => panic!("{other:?}"),
        }
        match assemble(h, all, &Refs::default()) {
            Outcome::Bad(b) => {
                assert_eq!(b.key, "1042");
                assert_eq!(
                    b.reason,
                    "requisition 1042: line 2: `quantity`: not a decimal number: quantity"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
