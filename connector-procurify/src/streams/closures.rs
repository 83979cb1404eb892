//! `purchase_order_closures` (write and lookup only): closes a Procurify
//! purchase order, e.g. once PeopleSoft has fully matched its voucher.
//!
//! Document: `{"purchase_order": 3001, "source": …}`: `purchase_order` is the
//! Procurify PO number (`procurify_PO`, integer or numeric text) and defaults
//! to the document key; `source` is free-form context for the audit trail and
//! is not sent. Write reads the PO (`GET /api/v2/purchase_orders/{po}/`),
//! returns at once if it is already closed (state 3), else calls
//! `POST /api/v3/purchase-orders/{po}/close/`. The target key is the PO
//! number. Lookup takes a PO number and answers it when that PO is closed.

use mlc_guest::upsert::{Upsert, upsert};
use mlc_guest::{Doc, Failure, Written, fail};
use serde_json::Value;

use super::{Ctx, Stream, bad_input, check_keys, parse_body};
use crate::api::{self, Subject};
use crate::fields::{FieldError, Obj};

/// Stream name.
pub const NAME: &str = "purchase_order_closures";
/// Permission needed to read a PO.
pub const PERMISSION_READ: &str = "view purchase orders";
/// Permission needed to close a PO.
pub const PERMISSION_CLOSE: &str = "close purchase orders";
/// State code of a closed purchase order.
pub const CLOSED: i64 = 3;

/// The stream's entry in the connector's table (spec and dispatch).
pub const STREAM: Stream = Stream {
    name: NAME,
    description: "Closes Procurify purchase orders (write) and tells whether one is closed (lookup by PO number). Doc: \
        {purchase_order: Procurify PO number (default: the document key), source: optional context, not sent}; target \
        key: the PO number.",
    primary_key: "purchase_order",
    cursor_field: None,
    read: None,
    write: Some(write),
    lookup: Some(lookup),
};

/// The PO number a closure document targets.
pub fn target_po(doc_key: &str, body: &Value) -> Result<i64, FieldError> {
    let o = Obj::new(body)?;
    match o.opt_int("purchase_order")? {
        Some(po) if po > 0 => Ok(po),
        Some(po) => Err(FieldError(format!("`purchase_order` must be a positive PO number, got {po}"))),
        None => doc_key.trim().parse::<i64>().ok().filter(|po| *po > 0).ok_or_else(|| {
            FieldError(format!(
                "no `purchase_order` in the document and the key {doc_key:?} is not a Procurify PO number"
            ))
        }),
    }
}

/// The state of PO `po` (`None` when the reply has none).
fn state_of(ctx: &Ctx<'_>, what: &str, po: i64) -> Result<Option<i64>, Failure> {
    let detail = ctx.client.object(
        what,
        PERMISSION_READ,
        "GET",
        &format!("/api/v2/purchase_orders/{po}/"),
        None,
    )?;
    let o = Obj::new(&detail).map_err(|e| fail::protocol(format!("{what}: {e}")))?;
    super::lines::status_code(&o, "state")
        .map_err(|e| fail::protocol(format!("{what}: purchase order {po}: {e}")))
}

/// Closes purchase orders: the record a closure document "finds" is its PO
/// already closed (nothing to change); otherwise the close is posted.
pub struct ClosureUpsert;

impl<'a> Upsert<Ctx<'a>> for ClosureUpsert {
    const STREAM: &'static str = NAME;
    /// The PO number.
    type Request = i64;
    /// The PO is closed already.
    type Existing = ();

    fn parse(&self, doc: &Doc) -> Result<i64, Failure> {
        let body = parse_body(NAME, doc)?;
        check_keys(NAME, &doc.key, &body, &["purchase_order", "source"])?;
        target_po(&doc.key, &body).map_err(|e| bad_input(NAME, &doc.key, e))
    }

    fn what(&self, doc: &Doc, po: &i64) -> String {
        format!("write {NAME} {}: purchase order {po}", doc.key)
    }

    fn find(&self, ctx: &mut Ctx<'a>, what: &str, po: &i64) -> Result<Option<()>, Failure> {
        Ok((state_of(ctx, what, *po)? == Some(CLOSED)).then_some(()))
    }

    fn create(&self, ctx: &mut Ctx<'a>, what: &str, po: i64) -> Result<String, Failure> {
        let path = format!("/api/v3/purchase-orders/{po}/close/");
        let response = ctx.client.call(
            what,
            PERMISSION_CLOSE,
            Subject::Object,
            "POST",
            &path,
            &[],
            None,
        )?;
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(po.to_string()); // a bare 200/204 is a success too
        }
        let reply = api::parse_single(&response.body)
            .map_err(|e| fail::protocol(format!("{what}: POST {path}: {e}")))?;
        match reply.get("state").and_then(Value::as_i64) {
            Some(state) if state != CLOSED => Err(fail::protocol(format!(
                "{what}: Procurify answered the close with state {state}, not {CLOSED} (closed)"
            ))),
            _ => Ok(po.to_string()),
        }
    }

    fn update(&self, _ctx: &mut Ctx<'a>, _what: &str, (): (), po: i64) -> Result<String, Failure> {
        Ok(po.to_string())
    }
}

/// Closes the purchase order a document names.
pub fn write(ctx: &mut Ctx<'_>, doc: &Doc) -> Result<Written, Failure> {
    upsert(&ClosureUpsert, ctx, doc)
}

/// `Some(po)` when purchase order `key` is closed.
pub fn lookup(ctx: &mut Ctx<'_>, key: &str) -> Result<Option<String>, Failure> {
    let po = target_po(key, &Value::Object(Default::default()))
        .map_err(|e| fail::rejected(format!("lookup {NAME} {key}: {e}")))?;
    let what = format!("lookup {NAME} {key}");
    Ok((state_of(ctx, &what, po)? == Some(CLOSED)).then(|| po.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn po_number_comes_from_the_document_or_the_key() {
        assert_eq!(
            target_po("V-1", &json!({"purchase_order": 3001})).unwrap(),
            3001
        );
        assert_eq!(
            target_po("V-1", &json!({"purchase_order": "3002"})).unwrap(),
            3002
        );
        assert_eq!(target_po("3003", &json!({})).unwrap(), 3003);
        assert!(
            target_po("V-1", &json!({}))
                .unwrap_err()
                .0
                .contains("not a Procurify PO number")
        );
        assert!(
            target_po("1", &json!({"purchase_order": -4}))
                .unwrap_err()
                .0
                .contains("positive")
        );
    }
}
