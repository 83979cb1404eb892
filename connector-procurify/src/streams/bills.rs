//! `bills`: AP bills from `GET /api/v3/ap/bills/?last_modified_datetime_0=…`
//! (a date-time filter; the overlap window is applied all the same). Read only:
//! Procurify refuses bill creation through the API. Key: bill id as text.
//! Cursor field: `modified`.
//!
//! ```json
//! {"id": 9001, "uuid": "…", "invoice_number": "INV-2026-118", "status": 2, "type": 0,
//!  "locked": false, "past_due": false, "vendor": {"id": 7, "name": "Acme Industrial Supply"},
//!  "currency": {"id": 1, "code": "USD", "rate": "1"}, "total_with_tax": "1250.5",
//!  "invoice_date": "2026-11-04T00:00:00Z", "due_date": "2026-12-04T00:00:00Z",
//!  "gl_post_date": null, "submitted_date": "2026-11-04T12:00:00Z",
//!  "modified": "2026-11-04T12:00:00Z", "item_ids": [5001, 5002], "version": 3}
//! ```

use mlc_guest::Failure;
use serde_json::{Value, json};

use super::{Ctx, Fetched, Outcome, Read, Stream, lines, page_query};
use crate::cursor::Incremental;
use crate::fields::{FieldError, Obj, key_of};
use crate::refs::CurrencyRef;
use crate::time::Instant;

/// Stream name.
pub const NAME: &str = "bills";
/// List path.
pub const PATH: &str = "/api/v3/ap/bills/";
/// Permission needed.
pub const PERMISSION: &str = "view bills (accounts payable)";

/// The stream's entry in the connector's table (spec and dispatch).
pub const STREAM: Stream = Stream {
    name: NAME,
    description: "AP bills (read only). Doc: {id, uuid, invoice_number, status, type, locked, past_due, vendor{id,name}, \
        currency{id,code,rate}, total_with_tax, invoice_date, due_date, gl_post_date, submitted_date, modified, \
        item_ids[], version}.",
    primary_key: "id",
    cursor_field: Some("modified"),
    read: Some(Read::Incremental(fetch)),
    write: None,
    lookup: None,
};

/// Normalizes a `SimpleBill`.
pub fn normalize(raw: &Value) -> Result<(i64, Value, Option<Instant>), FieldError> {
    let o = Obj::new(raw)?;
    let id = o.int("id")?;
    let inner = || -> Result<(i64, Value, Option<Instant>), FieldError> {
        let vendor = match o.opt_obj("vendor")? {
            Some(v) => json!({"id": v.opt_int("id")?, "name": v.opt_str("name")?}),
            None => Value::Null,
        };
        let currency = o
            .opt_obj("currency")?
            .map(CurrencyRef::parse)
            .transpose()
            .map_err(|e| e.within("`currency`"))?;
        let modified = o.opt_time("last_modified_datetime")?;
        let body = json!({
            "id": id,
            "uuid": o.opt_str("uuid")?,
            "invoice_number": o.opt_str("invoice_number")?,
            "status": lines::status_code(&o, "status")?,
            "type": lines::status_code(&o, "type")?,
            "locked": o.opt_bool("locked")?,
            "past_due": o.opt_bool("past_due")?,
            "vendor": vendor,
            "currency": currency.as_ref().map_or(Value::Null, CurrencyRef::to_json),
            "total_with_tax": o.opt_decimal("total_cost_with_tax")?,
            "invoice_date": o.opt_rfc3339("invoice_date")?,
            "due_date": o.opt_rfc3339("due_date")?,
            "gl_post_date": o.opt_rfc3339("gl_post_date")?,
            "submitted_date": o.opt_rfc3339("submitted_date")?,
            "modified": modified.map(Instant::rfc3339),
            "item_ids": o.int_list("items")?,
            "version": o.opt_int("version")?,
        });
        Ok((id, body, modified))
    };
    inner().map_err(|e| e.within(format!("bill {id}")))
}

/// Reads one page of bills.
pub fn fetch(ctx: &mut Ctx<'_>, what: &str, cursor: &Incremental) -> Result<Fetched, Failure> {
    let mut filters = Vec::new();
    if let Some(since) = cursor.since_instant() {
        filters.push(("last_modified_datetime_0", since.rfc3339()));
    }
    let query = page_query(&ctx.client, cursor.page, filters);
    let listed = ctx.client.list(what, PERMISSION, PATH, &query)?;
    let outcomes = listed
        .data
        .iter()
        .map(|raw| match normalize(raw) {
            Ok((id, body, modified)) => Outcome::Doc {
                key: id.to_string(),
                body,
                modified,
            },
            Err(e) => Outcome::bad(key_of(raw, "id"), e),
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

    #[test]
    fn bill_total_float_becomes_an_exact_decimal_string() {
        let raw = json!({
            "version": 3, "id": 9001, "status": 2, "locked": false,
            "currency": {"id": 1, "name": "USD", "rate": "1.000000"},
            "uuid": "b1", "items": [5001, 5002], "vendor": {"id": 7, "name": "Acme Industrial Supply"},
            "due_date": "2026-12-04T00:00:00Z", "total_cost_with_tax": 1250.5,
            "invoice_date": "2026-11-04T00:00:00Z", "last_modified_datetime": "2026-11-04T12:00:00.000000Z",
            "submitted_date": null, "gl_post_date": null, "invoice_number": "INV-2026-118", "type": 0,
            "user": {"id": 1}, "past_due": false
        });
        let (id, b, m) = normalize(&raw).unwrap();
        assert_eq!(id, 9001);
        assert_eq!(b["total_with_tax"], "1250.5");
        assert_eq!(b["item_ids"], json!([5001, 5002]));
        assert_eq!(b["modified"], "2026-11-04T12:00:00Z");
        assert_eq!(m.unwrap().rfc3339(), "2026-11-04T12:00:00Z");
        assert_eq!(b["currency"]["code"], "USD");
    }

    #[test]
    fn bill_with_wrong_item_list_is_refused_naming_it() {
        let e = normalize(&json!({"id": 4, "items": ["a"]})).unwrap_err();
        assert_eq!(
            e.0,
            "bill 4: `items[0]` should be an integer, got string \"a\""
        );
    }
}
