//! `ordered_items`: order lines that were purchased (on a Procurify PO), from
//! `GET /api/v3/order-items/?is_purchased=true&last_modified_0=…`. The
//! document is the line shape of [`super::lines`] (with `purchase_order`, the
//! Procurify PO number, and `po_line_number` set). Key: the item id as text.
//! Cursor field: `modified`. Lines not purchased (no PO, status before
//! purchase) are skipped even if the server ignores the filter.

use mlc_guest::Failure;
use serde_json::Value;

use super::{Ctx, Fetched, Outcome, Read, Stream, lines, page_query};
use crate::cursor::Incremental;
use crate::fields::{Obj, key_of};
use crate::refs::{Needs, Refs};

/// Stream name.
pub const NAME: &str = "ordered_items";
/// List path.
pub const PATH: &str = "/api/v3/order-items/";
/// Permission needed.
pub const PERMISSION: &str = "view order items (procure)";

/// The stream's entry in the connector's table (spec and dispatch).
pub const STREAM: Stream = Stream {
    name: NAME,
    description: "Purchased order lines with their Procurify PO. Doc: the line shape {id, num, requisition_id, name, \
        sku, unit, quantity, unit_price, requested_quantity, requested_unit_price, total_cost, tax_amount, \
        shipping_amount, currency{id,code,rate}, vendor{id,name,external_id}, vendor_text, account{id,account_code_id,\
        code,description}, department{id,name,external_id}, status, status_name, comment, external_id, purchase_order, \
        po_line_number, created, approved_at, modified}.",
    primary_key: "id",
    cursor_field: Some("modified"),
    read: Some(Read::Incremental(fetch)),
    write: None,
    lookup: None,
};

/// Item statuses that mean "purchased": receive pending, received, partial, fulfilled.
const PURCHASED: &[i64] = &[2, 3, 5, 6];

/// True when a raw order item was purchased (it names a PO, or its status says so).
pub fn is_purchased(raw: &Value) -> bool {
    let Ok(o) = Obj::new(raw) else { return true }; // let normalize report it
    let on_po = matches!(o.get("purchase_order"), Some(Value::Number(_)));
    let status = lines::status_code(&o, "status").ok().flatten();
    on_po || status.is_some_and(|s| PURCHASED.contains(&s))
}

/// Normalizes one page of raw order items with resolved references.
pub fn normalize_page(data: &[Value], refs: &Refs) -> Vec<Outcome> {
    data.iter()
        .map(|raw| {
            if !is_purchased(raw) {
                return Outcome::Skip;
            }
            match lines::normalize(raw, refs, None) {
                Ok(line) => Outcome::Doc {
                    key: line.id.to_string(),
                    body: line.body,
                    modified: line.modified,
                },
                Err(e) => Outcome::bad(key_of(raw, "id"), e),
            }
        })
        .collect()
}

/// Reads one page of purchased items.
pub fn fetch(ctx: &mut Ctx<'_>, what: &str, cursor: &Incremental) -> Result<Fetched, Failure> {
    let mut filters = vec![("is_purchased", "true".to_string())];
    if let Some(since) = cursor.since_instant() {
        filters.push(("last_modified_0", since.date()));
    }
    let query = page_query(&ctx.client, cursor.page, filters);
    let listed = ctx.client.list(what, PERMISSION, PATH, &query)?;
    let mut needs = Needs::default();
    for raw in listed.data.iter().filter(|r| is_purchased(r)) {
        lines::collect_needs(raw, &mut needs);
    }
    let refs = ctx.cache.resolve(&ctx.client, what, &needs)?;
    Ok(Fetched {
        outcomes: normalize_page(&listed.data, &refs),
        next: listed.next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unpurchased_lines_are_skipped_and_bad_ones_reported_without_losing_the_page() {
        let data = vec![
            json!({"id": 1, "quantity": "1", "price": "2", "status": 0, "purchase_order": null}),
            json!({"id": 2, "quantity": "1", "price": "2.50", "status": 2, "purchase_order": 3001, "PO_line_num": 1}),
            json!({"id": 3, "quantity": "x", "price": "2", "status": 3, "purchase_order": 3001}),
            json!({"id": 4, "quantity": "4", "price": "1", "status": 6}),
            json!(["not", "an", "item"]),
        ];
        let out = normalize_page(&data, &Refs::default());
        assert_eq!(out[0], Outcome::Skip);
        match &out[1] {
            Outcome::Doc { key, body, .. } => {
                assert_eq!(key, "2");
                assert_eq!(body["purchase_order"], 3001);
                assert_eq!(body["unit_price"], "2.5");
            }
            other => panic!("{other:?}"),
        }
        match &out[2] {
            Outcome::Bad(b) => {
                assert_eq!(b.key, "3");
                assert!(b.reason.contains("`quantity`"), "{}", b.reason);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&out[3], Outcome::Doc { key, .. } if key == "4"));
        assert!(matches!(&out[4], Outcome::Bad(b) if b.key == "?"));
    }
}
