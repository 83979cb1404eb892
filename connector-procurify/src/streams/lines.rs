//! Order lines (Procurify "order items"), normalized once for every stream
//! that carries them: requisition lines, ordered items and purchase-order lines.
//!
//! Line shape (`ordered_items` docs are this shape; requisitions and purchase
//! orders nest it under `lines`):
//! ```json
//! {"id": 5001, "num": "1042-1", "requisition_id": 1042,
//!  "name": "Nitrile gloves, box of 100", "sku": "GLV-100", "unit": "box",
//!  "quantity": "10", "unit_price": "12.5",
//!  "requested_quantity": "12", "requested_unit_price": "12.5",
//!  "total_cost": "125", "tax_amount": null, "shipping_amount": null,
//!  "currency": {"id": 1, "code": "USD", "rate": "1"},
//!  "vendor": {"id": 7, "name": "Acme Industrial Supply", "external_id": "0000000101"},
//!  "vendor_text": "Acme Industrial Supply",
//!  "account": {"id": 12, "account_code_id": 3, "code": "610000", "description": "Office Supplies"},
//!  "department": {"id": 6, "name": "Finance", "external_id": "10100"},
//!  "status": 0, "status_name": "purchase_pending", "comment": null,
//!  "external_id": null, "purchase_order": null, "po_line_number": null,
//!  "created": "2026-11-01T08:00:00Z", "approved_at": "2026-11-02T09:15:00Z",
//!  "modified": "2026-11-02T09:15:00Z"}
//! ```
//! `quantity`/`unit_price` are the approved values when Procurify has them,
//! else the requested ones. `vendor`, `account` and `department` are resolved
//! through `/api/v3/vendors/{id}/` and `/api/v3/accounts/` (the line's
//! `account` id); a reference that cannot be resolved keeps its id with `null`
//! details (and `department: null`), so the mapping can park the record.
//! `po_line_number` is `null` unless the line is on a PO (`purchase_order`).

use serde_json::{Value, json};

use crate::fields::{FieldError, Obj};
use crate::refs::{AccountRef, CurrencyRef, Needs, Refs, VendorRef};
use crate::time::Instant;

/// Name of an order-item status code.
pub fn item_status_name(code: i64) -> Option<&'static str> {
    Some(match code {
        0 => "purchase_pending",
        1 => "purchase_inuse",
        2 => "receive_pending",
        3 => "received",
        4 => "rejected_for_purchase",
        5 => "receive_partial",
        6 => "fulfilled",
        7 => "approval_denied",
        8 => "request_draft",
        _ => return None,
    })
}

/// A normalized line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Order-item id.
    pub id: i64,
    /// Last modification, when Procurify gave one.
    pub modified: Option<Instant>,
    /// Procurify PO number the line was purchased on, if any.
    pub purchase_order: Option<i64>,
    /// The document shape above.
    pub body: Value,
}

/// Adds the ids `raw` refers to by bare id (not nested) to `needs`.
/// Unreadable records are skipped here; `normalize` reports them.
pub fn collect_needs(raw: &Value, needs: &mut Needs) {
    let Ok(o) = Obj::new(raw) else { return };
    if let Some(Value::Number(n)) = o.get("pref_vendor")
        && let Some(id) = n.as_i64()
    {
        needs.vendors.insert(id);
    }
    if let Some(Value::Number(n)) = o.get("account")
        && let Some(id) = n.as_i64()
    {
        needs.accounts.insert(id);
    }
    if let Some(Value::Number(n)) = o.get("currency")
        && let Some(id) = n.as_i64()
    {
        needs.currencies.insert(id);
    }
}

/// An integer status that may come as a number, a numeric string, `""` or null.
pub fn status_code(o: &Obj<'_>, key: &str) -> Result<Option<i64>, FieldError> {
    match o.get(key) {
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        _ => o.opt_int(key),
    }
}

/// Normalizes one order line. `fallback_currency` (the requisition's or
/// PO's) is used when the line's currency id is not otherwise known.
pub fn normalize(
    raw: &Value,
    refs: &Refs,
    fallback_currency: Option<&CurrencyRef>,
) -> Result<Line, FieldError> {
    let o = Obj::new(raw)?;
    let id = o.int("id")?;
    let inner = || -> Result<Line, FieldError> {
        let requested_quantity = o.decimal("quantity")?;
        let requested_price = o.decimal("price")?;
        let quantity = o
            .opt_decimal("approved_quantity")?
            .unwrap_or_else(|| requested_quantity.clone());
        let unit_price = o
            .opt_decimal("approved_price")?
            .unwrap_or_else(|| requested_price.clone());
        let vendor_text = o.opt_str("vendor")?;

        let vendor = match o.get("pref_vendor") {
            Some(Value::Object(_)) => Some(
                o.opt_obj("pref_vendor")?
                    .map(VendorRef::parse)
                    .transpose()
                    .map_err(|e| e.within("`pref_vendor`"))?,
            )
            .flatten(),
            _ => o.opt_int("pref_vendor")?.map(|vid| {
                refs.vendors.get(&vid).cloned().unwrap_or(VendorRef {
                    id: vid,
                    name: vendor_text.clone(),
                    external_id: None,
                })
            }),
        };
        let vendor_json = match (&vendor, &vendor_text) {
            (Some(v), _) => {
                let mut v = v.clone();
                if v.name.is_none() {
                    v.name = vendor_text.clone();
                }
                v.to_json()
            }
            (None, Some(name)) => json!({"id": null, "name": name, "external_id": null}),
            (None, None) => Value::Null,
        };

        let account_code_text = o.opt_str("accountCode")?;
        let account: Option<AccountRef> = match o.get("account") {
            Some(Value::Object(_)) => o
                .opt_obj("account")?
                .map(AccountRef::parse)
                .transpose()
                .map_err(|e| e.within("`account`"))?,
            _ => o.opt_int("account")?.map(|aid| {
                refs.accounts.get(&aid).cloned().unwrap_or(AccountRef {
                    id: aid,
                    account_code_id: None,
                    code: None,
                    description: None,
                    department: None,
                })
            }),
        };
        let (account_json, department_json) = match &account {
            Some(a) => (
                json!({
                    "id": a.id,
                    "account_code_id": a.account_code_id,
                    "code": a.code.clone().or_else(|| account_code_text.clone()),
                    "description": a.description,
                }),
                a.department.as_ref().map_or(Value::Null, |d| d.to_json()),
            ),
            None => (
                account_code_text.as_ref().map_or(Value::Null, |code| {
                    json!({"id": null, "account_code_id": null, "code": code, "description": null})
                }),
                Value::Null,
            ),
        };

        let currency = match o.get("currency") {
            Some(Value::Object(_)) => o
                .opt_obj("currency")?
                .map(CurrencyRef::parse)
                .transpose()
                .map_err(|e| e.within("`currency`"))?,
            _ => o.opt_int("currency")?.map(|cid| {
                refs.currencies
                    .get(&cid)
                    .or(fallback_currency.filter(|c| c.id == Some(cid)))
                    .cloned()
                    .unwrap_or(CurrencyRef {
                        id: Some(cid),
                        code: None,
                        rate: None,
                    })
            }),
        }
        .or_else(|| fallback_currency.cloned());

        let status = status_code(&o, "status")?;
        let modified = o.opt_time("last_modified")?.or(o.opt_time("updated_at")?);
        let purchase_order = o.opt_int("purchase_order")?;
        let body = json!({
            "id": id,
            "num": o.opt_str("num")?,
            "requisition_id": o.opt_int("orderNum")?,
            "name": o.opt_str("name")?,
            "sku": o.opt_str("sku")?.filter(|s| !s.is_empty()),
            "unit": o.opt_str("unit")?,
            "quantity": quantity,
            "unit_price": unit_price,
            "requested_quantity": requested_quantity,
            "requested_unit_price": requested_price,
            "total_cost": o.opt_decimal("total_cost")?,
            "tax_amount": o.opt_decimal("approved_tax_amount")?.or(o.opt_decimal("tax_amount")?),
            "shipping_amount": o.opt_decimal("approved_shipping_amount")?.or(o.opt_decimal("shipping_amount")?),
            "currency": currency.map_or(Value::Null, |c| c.to_json()),
            "vendor": vendor_json,
            "vendor_text": vendor_text,
            "account": account_json,
            "department": department_json,
            "status": status,
            "status_name": status.and_then(item_status_name),
            "comment": o.opt_str("lineComment")?,
            "external_id": o.opt_str("external_id")?.filter(|s| !s.is_empty()),
            "purchase_order": purchase_order,
            // Procurify sends 0 for lines not on a PO; that is no line number.
            "po_line_number": o.opt_int("PO_line_num")?.filter(|_| purchase_order.is_some()),
            "created": o.opt_rfc3339("created_at")?,
            "approved_at": o.opt_rfc3339("approved_datetime")?,
            "modified": modified.map(Instant::rfc3339),
        });
        Ok(Line {
            id,
            modified,
            purchase_order,
            body,
        })
    };
    inner().map_err(|e| e.within(format!("line {id}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refs::DepartmentRef;

    fn refs() -> Refs {
        let mut r = Refs::default();
        r.vendors.insert(
            7,
            VendorRef {
                id: 7,
                name: Some("Acme Industrial Supply".into()),
                external_id: Some("0000000101".into()),
            },
        );
        r.accounts.insert(
            12,
            AccountRef {
                id: 12,
                account_code_id: Some(3),
                code: Some("610000".into()),
                description: Some("Office Supplies".into()),
                department: Some(DepartmentRef {
                    id: 6,
                    name: Some("Finance".into()),
                    external_id: Some("10100".into()),
                }),
            },
        );
        r.currencies.insert(
            1,
            CurrencyRef {
                id: Some(1),
                code: Some("USD".into()),
                rate: Some("1".into()),
            },
        );
        r
    }

    fn fixture() -> Value {
        serde_json::from_str(include_str!("../../tests/fixtures/order_items_page.json")).unwrap()
    }

    #[test]
    fn line_gets_exact_decimals_and_resolved_vendor_account_department() {
        let page = fixture();
        let line = normalize(&page["data"][0], &refs(), None).unwrap();
        assert_eq!(line.id, 5001);
        let b = &line.body;
        assert_eq!(b["quantity"], "10");
        assert_eq!(b["unit_price"], "12.5");
        assert_eq!(b["requested_quantity"], "12");
        assert_eq!(b["total_cost"], "125");
        assert_eq!(b["unit"], "box");
        assert_eq!(
            b["vendor"],
            json!({"id": 7, "name": "Acme Industrial Supply", "external_id": "0000000101"})
        );
        assert_eq!(b["account"]["code"], "610000");
        assert_eq!(
            b["department"],
            json!({"id": 6, "name": "Finance", "external_id": "10100"})
        );
        assert_eq!(b["currency"], json!({"id": 1, "code": "USD", "rate": "1"}));
        assert_eq!(b["status_name"], "purchase_pending");
        assert_eq!(b["approved_at"], "2026-11-02T09:15:00Z");
        assert_eq!(b["modified"], "2026-11-02T09:15:00Z");
        assert_eq!(b["requisition_id"], 1042);
        assert_eq!(b["sku"], "GLV-100");
    }

    #[test]
    fn unresolved_references_keep_their_ids_and_the_line_text() {
        let page = fixture();
        let line = normalize(&page["data"][0], &Refs::default(), None).unwrap();
        let b = &line.body;
        assert_eq!(
            b["vendor"],
            json!({"id": 7, "name": "Acme Industrial Supply", "external_id": null})
        );
        assert_eq!(
            b["account"],
            json!({"id": 12, "account_code_id": null, "code": "610000", "description": null})
        );
        assert_eq!(b["department"], Value::Null);
        assert_eq!(b["currency"], json!({"id": 1, "code": null, "rate": null}));
    }

    #[test]
    fn nulls_the_spec_allows_stay_null() {
        let page = fixture();
        let line = normalize(&page["data"][1], &refs(), None).unwrap();
        let b = &line.body;
        // approved_* null: the requested values are used.
        assert_eq!(b["quantity"], "3");
        assert_eq!(b["unit_price"], "1500");
        assert_eq!(b["approved_at"], Value::Null);
        assert_eq!(b["comment"], Value::Null);
        assert_eq!(b["sku"], Value::Null);
        assert_eq!(b["status"], Value::Null);
        assert_eq!(
            b["vendor"],
            json!({"id": null, "name": "Café Société Catering", "external_id": null})
        );
    }

    #[test]
    fn spec_placeholder_values_make_a_bad_line_naming_the_field() {
        // The OpenAPI example of OrderItem has "price": "price".
        let page = fixture();
        let err = normalize(&page["data"][2], &refs(), None).unwrap_err();
        assert_eq!(err.0, "line 2: `quantity`: not a decimal number: quantity");
        let err = normalize(
            &json!({"id": 9, "quantity": "1", "price": null}),
            &refs(),
            None,
        )
        .unwrap_err();
        assert_eq!(err.0, "line 9: `price` is missing");
        assert!(
            normalize(&json!({"quantity": "1"}), &refs(), None)
                .unwrap_err()
                .0
                .contains("`id` is missing")
        );
        assert!(normalize(&json!(42), &refs(), None).is_err());
    }

    #[test]
    fn nested_purchase_order_line_references_are_read_in_place() {
        let raw = json!({
            "id": 77, "name": "Drill", "quantity": 2.0, "price": "99.90000000", "unit": "ea",
            "pref_vendor": {"id": 8, "name": "Grainger Industrial", "external_id": "0000000106", "email": []},
            "account": {"id": 40, "account_code": {"id": 4, "code": "620000", "description": "Maintenance & Repairs"},
                        "department": {"id": 9, "name": "Maintenance", "external_id": "30100", "branch": {"id": 1, "name": "HQ"}}},
            "currency": {"id": 1, "name": "USD", "rate": "1.000000", "base": true},
            "purchase_order": 3001, "PO_line_num": 1, "status": 2
        });
        let line = normalize(&raw, &Refs::default(), None).unwrap();
        let b = &line.body;
        assert_eq!(b["quantity"], "2");
        assert_eq!(b["unit_price"], "99.9");
        assert_eq!(b["vendor"]["external_id"], "0000000106");
        assert_eq!(b["account"]["code"], "620000");
        assert_eq!(b["department"]["external_id"], "30100");
        assert_eq!(b["currency"]["code"], "USD");
        assert_eq!(b["purchase_order"], 3001);
        assert_eq!(b["status_name"], "receive_pending");
        assert_eq!(line.purchase_order, Some(3001));
    }

    #[test]
    fn needs_collect_bare_ids_only() {
        let mut needs = Needs::default();
        for raw in fixture()["data"].as_array().unwrap() {
            collect_needs(raw, &mut needs);
        }
        collect_needs(&json!({"pref_vendor": {"id": 99}}), &mut needs);
        assert_eq!(needs.vendors.iter().copied().collect::<Vec<_>>(), vec![7]);
        assert_eq!(
            needs.accounts.iter().copied().collect::<Vec<_>>(),
            vec![1, 12, 13]
        );
        assert_eq!(
            needs.currencies.iter().copied().collect::<Vec<_>>(),
            vec![1, 5]
        );
    }
}
