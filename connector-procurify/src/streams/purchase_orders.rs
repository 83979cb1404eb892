//! `purchase_orders`: Procurify purchase orders with their lines, listed from
//! `GET /api/v2/purchase_orders/{role}/{status}/?modified_date_0=…` (role and
//! status from the settings) and read in full from
//! `GET /api/v2/purchase_orders/{procurify_PO}/`. Key: `procurify_PO` as text.
//! Cursor field: `modified`.
//!
//! ```json
//! {"id": 3001, "number": "3001", "uuid": "…", "po_number": "PO-3001", "state": 0, "state_name": "purchased",
//!  "active": true, "date": "2026-11-03T10:00:00Z", "modified": "2026-11-03T10:00:00Z",
//!  "promise_date": null, "closed_at": null,
//!  "vendor": {"id": 7, "name": "Acme Industrial Supply", "external_id": "0000000101"},
//!  "currency": {"id": 1, "code": "USD", "rate": "1"}, "currency_rate": "1",
//!  "subtotal": "125", "freight": "0", "other": "0", "total": "125",
//!  "tax": {"value": "0", "type": "amount"}, "discount": {"value": "0", "type": "percentage"},
//!  "payment_terms": "Net 30", "shipping_terms": "", "comment": null,
//!  "buyer": {"name": "Acme Corp", "contact": "Purchasing"},
//!  "purchaser": {"id": 5, "first_name": "Ada", "last_name": "Byron", "email": "ada@acme.example"},
//!  "line_count": 1, "lines": [ /* line shape, see streams::lines */ ]}
//! ```

use mlc_guest::Failure;
use serde_json::{Value, json};

use super::{Ctx, Fetched, Outcome, Read, Stream, lines, page_query};
use crate::cursor::Incremental;
use crate::fields::{FieldError, Obj, key_of};
use crate::refs::{CurrencyRef, Needs, Refs, VendorRef};
use crate::time::Instant;

/// Stream name.
pub const NAME: &str = "purchase_orders";
/// Permission needed.
pub const PERMISSION: &str = "view purchase orders";

/// The stream's entry in the connector's table (spec and dispatch).
pub const STREAM: Stream = Stream {
    name: NAME,
    description: "Procurify purchase orders with lines. Doc: {id (procurify_PO), number, uuid, po_number, state, \
        state_name, active, date, modified, promise_date, closed_at, vendor{id,name,external_id}, currency{id,code,rate}, \
        currency_rate, subtotal, freight, other, total, tax{value,type}, discount{value,type}, payment_terms, \
        shipping_terms, comment, buyer{name,contact}, purchaser{id,first_name,last_name,email}, line_count, lines[line \
        shape as in ordered_items]}.",
    primary_key: "id",
    cursor_field: Some("modified"),
    read: Some(Read::Incremental(fetch)),
    write: None,
    lookup: None,
};

/// Name of a purchase-order state code.
pub fn state_name(code: i64) -> Option<&'static str> {
    Some(match code {
        0 => "purchased",
        1 => "cancelled",
        2 => "legacy",
        3 => "closed",
        4 => "paid",
        5 => "reopened",
        _ => return None,
    })
}

fn modifier(o: Option<Obj<'_>>) -> Result<Value, FieldError> {
    let Some(m) = o else { return Ok(Value::Null) };
    Ok(json!({"value": m.opt_decimal("value")?, "type": m.opt_str("type")?}))
}

/// Normalizes a purchase order (`PurchaseOrderDetail`; a list record
/// without `order_items` gives an empty `lines`).
pub fn normalize(raw: &Value, refs: &Refs) -> Result<(i64, Value, Option<Instant>), FieldError> {
    let o = Obj::new(raw)?;
    let id = o.int("procurify_PO")?;
    let inner = || -> Result<(i64, Value, Option<Instant>), FieldError> {
        let currency = o
            .opt_obj("purchased_currency")?
            .map(CurrencyRef::parse)
            .transpose()
            .map_err(|e| e.within("`purchased_currency`"))?;
        let vendor = match o.get("pref_vendor") {
            Some(Value::Object(_)) => o
                .opt_obj("pref_vendor")?
                .map(VendorRef::parse)
                .transpose()
                .map_err(|e| e.within("`pref_vendor`"))?,
            _ => o.opt_int("pref_vendor")?.map(|vid| {
                refs.vendors.get(&vid).cloned().unwrap_or(VendorRef {
                    id: vid,
                    name: None,
                    external_id: None,
                })
            }),
        };
        let vendor_name = o.opt_str("vendor_name")?;
        let vendor_json = match vendor {
            Some(mut v) => {
                if v.name.is_none() {
                    v.name = vendor_name;
                }
                v.to_json()
            }
            None => vendor_name.map_or(
                Value::Null,
                |n| json!({"id": null, "name": n, "external_id": null}),
            ),
        };
        let mut out_lines = Vec::new();
        if let Some(items) = o.get("order_items") {
            let items = items
                .as_array()
                .ok_or_else(|| FieldError("`order_items` should be a list".into()))?;
            for item in items {
                out_lines.push(lines::normalize(item, refs, currency.as_ref())?.body);
            }
        }
        let state = lines::status_code(&o, "state")?;
        let modified = o.opt_time("last_modified")?;
        let purchaser = o.opt_obj("purchaser")?;
        let body = json!({
            "id": id,
            "number": o.opt_str("number")?,
            "uuid": o.opt_str("uuid")?,
            "po_number": o.opt_str("PO_Num")?,
            "state": state,
            "state_name": state.and_then(state_name),
            "active": o.opt_bool("active")?,
            "date": o.opt_rfc3339("date")?,
            "modified": modified.map(Instant::rfc3339),
            "promise_date": o.opt_rfc3339("promise_date")?,
            "closed_at": o.opt_rfc3339("closed_date")?,
            "vendor": vendor_json,
            "currency": currency.as_ref().map_or(Value::Null, CurrencyRef::to_json),
            "currency_rate": o.opt_decimal("purchased_currency_rate")?,
            "subtotal": o.opt_decimal("subtotal")?,
            "freight": o.opt_decimal("freight")?,
            "other": o.opt_decimal("other")?,
            "total": o.opt_decimal("total")?,
            "tax": modifier(o.opt_obj("tax")?).map_err(|e| e.within("`tax`"))?,
            "discount": modifier(o.opt_obj("discount")?).map_err(|e| e.within("`discount`"))?,
            "payment_terms": o.opt_str("payment_terms")?,
            "shipping_terms": o.opt_str("shipping_terms")?,
            "comment": o.opt_str("comment")?,
            "buyer": {"name": o.opt_str("buyer_name")?, "contact": o.opt_str("buyer_contact")?},
            "purchaser": match purchaser {
                Some(p) => json!({
                    "id": p.opt_int("id")?,
                    "first_name": p.opt_str("firstName")?,
                    "last_name": p.opt_str("lastName")?,
                    "email": p.opt_str("email")?,
                }),
                None => Value::Null,
            },
            "line_count": out_lines.len(),
            "lines": out_lines,
        });
        Ok((id, body, modified))
    };
    inner().map_err(|e| e.within(format!("purchase order {id}")))
}

/// Reads one page of purchase orders, each completed by its detail call.
pub fn fetch(ctx: &mut Ctx<'_>, what: &str, cursor: &Incremental) -> Result<Fetched, Failure> {
    let settings = &ctx.client.target.settings;
    let path = format!(
        "/api/v2/purchase_orders/{}/{}/",
        settings.purchase_order_role, settings.purchase_order_status
    );
    let mut filters = Vec::new();
    if let Some(since) = cursor.since_instant() {
        filters.push(("modified_date_0", since.date()));
    }
    let query = page_query(&ctx.client, cursor.page, filters);
    let listed = ctx.client.list(what, PERMISSION, &path, &query)?;

    let mut details: Vec<Result<Value, Outcome>> = Vec::with_capacity(listed.data.len());
    let mut needs = Needs::default();
    for raw in &listed.data {
        let Some(po) = Obj::new(raw)
            .ok()
            .and_then(|o| o.opt_int("procurify_PO").ok().flatten())
        else {
            details.push(Err(Outcome::bad(
                key_of(raw, "procurify_PO"),
                FieldError("purchase order without an integer `procurify_PO`".into()),
            )));
            continue;
        };
        let detail_path = format!("/api/v2/purchase_orders/{po}/");
        match ctx.client.object(
            &format!("{what}: purchase order {po}"),
            PERMISSION,
            "GET",
            &detail_path,
            None,
        ) {
            Ok(detail) => {
                if let Some(Value::Array(items)) = detail.get("order_items") {
                    items
                        .iter()
                        .for_each(|i| lines::collect_needs(i, &mut needs));
                }
                if let Some(Value::Number(n)) = detail.get("pref_vendor")
                    && let Some(v) = n.as_i64()
                {
                    needs.vendors.insert(v);
                }
                details.push(Ok(detail));
            }
            // Deleted between the list and the detail call.
            Err(Failure::Rejected(m)) => {
                details.push(Err(Outcome::bad(po.to_string(), FieldError(m))));
            }
            Err(f) => return Err(f),
        }
    }
    let refs = ctx.cache.resolve(&ctx.client, what, &needs)?;
    let outcomes = details
        .into_iter()
        .map(|d| match d {
            Ok(detail) => match normalize(&detail, &refs) {
                Ok((id, body, modified)) => Outcome::Doc {
                    key: id.to_string(),
                    body,
                    modified,
                },
                Err(e) => Outcome::bad(key_of(&detail, "procurify_PO"), e),
            },
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

    fn detail() -> Value {
        serde_json::from_str(include_str!(
            "../../tests/fixtures/purchase_order_detail.json"
        ))
        .unwrap()
    }

    #[test]
    fn purchase_order_detail_becomes_a_po_with_lines() {
        let (id, b, modified) = normalize(&detail()["data"], &Refs::default()).unwrap();
        assert_eq!(id, 3001);
        assert_eq!(modified.unwrap().rfc3339(), "2026-11-03T10:00:00Z");
        assert_eq!(b["state_name"], "purchased");
        assert_eq!(b["total"], "125");
        assert_eq!(b["tax"], json!({"value": "0", "type": "amount"}));
        assert_eq!(
            b["vendor"],
            json!({"id": 7, "name": "Acme Industrial Supply", "external_id": "0000000101"})
        );
        assert_eq!(b["line_count"], 1);
        let line = &b["lines"][0];
        assert_eq!(line["quantity"], "10");
        assert_eq!(line["unit_price"], "12.5");
        assert_eq!(line["department"]["external_id"], "10100");
        assert_eq!(line["currency"]["code"], "USD");
    }

    #[test]
    fn list_record_without_items_has_no_lines_and_bad_items_name_the_line() {
        let mut d = detail()["data"].clone();
        d.as_object_mut().unwrap().remove("order_items");
        let (_, b, _) = normalize(&d, &Refs::default()).unwrap();
        assert_eq!(b["lines"], json!([]));
        let mut d = detail()["data"].clone();
        d["order_items"][0]["price"] = json!({"amount": 1});
        let e = normalize(&d, &Refs::default()).unwrap_err();
        assert_eq!(
            e.0,
            "purchase order 3001: line 5001: `price`: not a decimal number: object value"
        );
    }
}
