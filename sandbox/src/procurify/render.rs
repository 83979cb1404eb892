//! JSON shapes of the Procurify API, one function per OpenAPI response
//! schema (`procurify-openapi.yaml`), with its exact field names, decimals as
//! strings with the field's own number of decimal places, and enums as integers.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::model::{
    Account, AccountCode, Bill, Currency, Department, Location, Order, OrderItem, ProcurifyState,
    PurchaseOrder, User, Vendor, po_state,
};

/// A date-time as DRF writes it (`isoformat()` with `Z`): microseconds only when non-zero.
pub fn ts(t: DateTime<Utc>) -> String {
    if t.timestamp_subsec_micros() == 0 {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    } else {
        t.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

/// A decimal rendered with exactly `places` decimal places, as a Django
/// `DecimalField(decimal_places=places)` serializes.
pub fn dec(d: Decimal, places: u32) -> String {
    format!("{:.*}", places as usize, d.round_dp(places))
}

fn opt_ts(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::String(ts(t)))
}

fn opt_str(s: &Option<String>) -> Value {
    s.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

fn float(d: Decimal) -> Value {
    // Schema `number` fields: a JSON number.
    let f: f64 = d.to_string().parse().unwrap_or(0.0);
    json!(f)
}

/// `CurrencySummary`.
pub fn currency_summary(c: &Currency) -> Value {
    json!({"id": c.id, "name": c.name, "rate": dec(c.rate, 6), "base": c.base})
}

/// `SimpleCurrency`.
pub fn simple_currency(c: &Currency) -> Value {
    json!({"id": c.id, "name": c.name, "rate": dec(c.rate, 6)})
}

/// `Currency` (the currencies list).
pub fn currency(c: &Currency) -> Value {
    json!({
        "description": c.description, "id": c.id, "name": c.name,
        "rate": dec(c.rate, 6), "base": c.base, "active": c.active,
    })
}

fn location_timezone(l: &Location) -> &'static str {
    match l.country.as_str() {
        "Canada" => "America/Toronto",
        "Netherlands" => "Europe/Amsterdam",
        _ => "America/Chicago",
    }
}

/// `Branch` (a location as requisitions embed it).
pub fn branch(l: &Location, s: &ProcurifyState) -> Value {
    json!({
        "id": l.id, "external_id": null, "name": l.name, "url": null, "logo": "",
        "language": 1, "multipleLocations": s.locations.len() > 1,
        "locationTimezone": location_timezone(l), "userLimit": 100,
        "budgetOvertureToggle": false, "purchase_filtering": false, "catalog_permission": true,
        "separate_expense_approval": false, "standalone_travel_approval": false,
        "phoneOne": l.phone, "phoneTwo": null, "fax": null, "email": null,
        "fiscalYearEndDay": 31, "fiscalYearEndMonth": 12,
        "beginDate": ts(s.generated_at - chrono::Duration::days(400)),
        "ported": false, "port_date": null, "active": true, "activated": true,
        "setup_stage": "FIN", "localCurrency": l.currency, "contactPerson": null,
        "buyerAddress": l.id, "shippingAddress": l.id,
    })
}

/// `Address`.
pub fn address(l: &Location) -> Value {
    json!({
        "id": l.id, "name": l.name, "addressLineOne": l.address_line, "city": l.city,
        "postalCode": l.postal_code, "state_province": l.state_province, "country": l.country,
    })
}

/// `AddressSummary`.
pub fn address_summary(l: &Location, s: &ProcurifyState) -> Value {
    let created = ts(s.generated_at - chrono::Duration::days(400));
    json!({
        "id": l.id, "is_active": true, "created_at": created, "updated_at": created,
        "name": l.name, "addressAssociation": 1, "addressLineOne": l.address_line,
        "addressLineTwo": "", "postalCode": l.postal_code, "city": l.city,
        "state_province": l.state_province, "country": l.country, "last_changed_by": null,
    })
}

/// `LocationView` (locations list and detail).
pub fn location_view(l: &Location, s: &ProcurifyState) -> Value {
    let currency_value = s.currency(l.currency).map_or(Value::Null, currency);
    json!({
        "id": l.id, "name": l.name, "url": null, "logo": "", "currency": currency_value,
        "phoneOne": l.phone, "fax": null, "email": null,
        "primary_billing_address": address(l), "primary_shipping_address": address(l),
        "shipping_addresses": [address(l)], "language": 1,
        "locationTimezone": location_timezone(l), "headquarter": l.headquarter,
        "department_count": s.departments.iter().filter(|d| d.branch == l.id).count(),
        "active": true, "external_id": null,
    })
}

fn branch_summary(s: &ProcurifyState, id: u64) -> Value {
    s.location(id)
        .map_or(Value::Null, |l| json!({"id": l.id, "name": l.name}))
}

/// `DepartmentSummary`.
pub fn department_summary(d: &Department, s: &ProcurifyState) -> Value {
    json!({
        "id": d.id, "branch": branch_summary(s, d.branch), "external_id": opt_str(&d.external_id),
        "name": d.name, "punchout_email": opt_str(&d.punchout_email), "active": d.active,
    })
}

/// `DepartmentRead` (departments list, create and update).
pub fn department_read(d: &Department, s: &ProcurifyState) -> Value {
    let branch = s.location(d.branch).map_or(
        Value::Null,
        |l| json!({"id": l.id, "name": l.name, "headquarter": l.headquarter}),
    );
    json!({
        "id": d.id, "branch": branch, "external_id": opt_str(&d.external_id), "name": d.name,
        "active": d.active, "punchout_email": opt_str(&d.punchout_email),
        "is_active_for_account_code": d.active,
    })
}

/// `AccountCodeRead`.
pub fn account_code_read(c: &AccountCode, s: &ProcurifyState) -> Value {
    json!({
        "description": c.description, "id": c.id,
        "applied_accounts_count": s.accounts.iter().filter(|a| a.account_code == c.id).count(),
        "code": c.code, "code_length": c.code.chars().count(), "account_type": c.account_type,
        "active": c.active, "parent": c.parent,
    })
}

/// `ChartOfAccountsAccount` (accounts list). Budgets are not consumed by the
/// emulator, so balances equal budgets.
pub fn chart_account(a: &Account, s: &ProcurifyState) -> Value {
    let code = s
        .account_code(a.account_code)
        .map_or(Value::Null, |c| account_code_read(c, s));
    let dept = s
        .department(a.department)
        .map_or(Value::Null, |d| department_read(d, s));
    json!({
        "id": a.id, "account_code": code, "department": dept,
        "start_datetime": null, "end_datetime": null, "budget": dec(a.budget, 2),
        "budget_used_approved": dec(Decimal::ZERO, 2), "budget_used_purchased": dec(Decimal::ZERO, 2),
        "balance_approved": dec(a.budget, 2), "balance_purchased": dec(a.budget, 2),
        "active": a.active,
    })
}

/// `AccountRead` (an account nested in a PO line).
pub fn account_read(a: &Account, s: &ProcurifyState) -> Value {
    let code = s
        .account_code(a.account_code)
        .map_or(Value::Null, |c| account_code_read(c, s));
    let dept = s
        .department(a.department)
        .map_or(Value::Null, |d| department_summary(d, s));
    json!({
        "id": a.id, "account_code": code, "department": dept, "warning_indicator": false,
        "budget_used_approved": 0.0, "budget_used_purchased": 0.0,
        "start_datetime": null, "end_datetime": null, "budget": dec(a.budget, 2),
        "balance_approved": dec(a.budget, 2), "balance_purchased": dec(a.budget, 2),
        "active": a.active,
    })
}

/// `UserSummary`.
pub fn user_summary(u: &User, s: &ProcurifyState) -> Value {
    let dept = s
        .department(u.department)
        .map_or(Value::Null, |d| department_summary(d, s));
    json!({
        "id": u.id, "department": dept, "created_at": ts(u.created_at),
        "updated_at": ts(u.created_at), "firstName": u.first_name, "lastName": u.last_name,
        "email": u.email, "position": u.position, "phone": null, "address": null,
        "notifications": true, "is_active": true, "mobile": false, "profile_image": null,
        "slack_user_id": "", "is_sso_enabled": false, "last_changed_by": null,
        "user": u.id + 1000, "approval_delegatee": null,
    })
}

fn user_value(s: &ProcurifyState, id: u64) -> Value {
    s.user(id).map_or(Value::Null, |u| user_summary(u, s))
}

/// `SimpleUser`.
pub fn simple_user(u: &User, s: &ProcurifyState) -> Value {
    let dept = s.department(u.department);
    json!({
        "id": u.id, "firstName": u.first_name, "lastName": u.last_name, "email": u.email,
        "profile_image": null,
        "department_name": dept.map_or("", |d| d.name.as_str()),
        "branch_name": dept.and_then(|d| s.location(d.branch)).map_or("", |l| l.name.as_str()),
    })
}

/// Fields shared by every vendor shape.
fn vendor_common(v: &Vendor) -> serde_json::Map<String, Value> {
    let value = json!({
        "id": v.id, "name": v.name, "active": v.active,
        "addressLineOne": opt_str(&v.address_line_one), "addressLineTwo": opt_str(&v.address_line_two),
        "postalCode": opt_str(&v.postal_code), "city": opt_str(&v.city),
        "state_province": opt_str(&v.state_province), "country": opt_str(&v.country),
        "phoneOne": opt_str(&v.phone_one), "phoneTwo": null, "fax": null,
        "email": v.email, "comments": opt_str(&v.comments), "contact": opt_str(&v.contact),
        "url": opt_str(&v.url), "external_id": opt_str(&v.external_id),
        "dateModified": ts(v.date_modified), "currency": v.currency,
        "tax": null, "type": v.vendor_type, "default_payment_method": null,
        "is_1099_eligible": v.is_1099_eligible,
        "is_auto_email_po_enabled": v.is_auto_email_po_enabled, "po_pdf_labels": v.po_pdf_labels,
    });
    match value {
        Value::Object(map) => map,
        // json! of an object literal is always an object.
        _ => serde_json::Map::new(),
    }
}

/// `OptimizedVendor` (vendors list and PATCH): score as a 3-place decimal string.
pub fn vendor_optimized(v: &Vendor) -> Value {
    let mut m = vendor_common(v);
    m.insert(
        "overall_score".into(),
        v.overall_score
            .map_or(Value::Null, |d| Value::String(dec(d, 3))),
    );
    for key in [
        "payment_term_ref",
        "shipping_term_ref",
        "payment_method_ref",
        "shipping_method_ref",
    ] {
        m.insert(key.into(), Value::Null);
    }
    m.insert("payment_methods".into(), json!([]));
    m.insert("creditcards".into(), json!([]));
    Value::Object(m)
}

/// `VendorDetail` (vendor create and retrieve), also `VendorRead` (nested in
/// POs): score as a number.
pub fn vendor_detail(v: &Vendor) -> Value {
    let mut m = vendor_common(v);
    m.insert(
        "overall_score".into(),
        v.overall_score.map_or(Value::Null, float),
    );
    for key in [
        "payment_term_ref",
        "shipping_term_ref",
        "payment_method_ref",
        "shipping_method_ref",
    ] {
        m.insert(key.into(), Value::Null);
    }
    m.insert("payment_methods".into(), json!([]));
    m.insert("creditcards".into(), json!([]));
    Value::Object(m)
}

/// `Vendor` (vendor PUT): term references as ids, score as a number.
pub fn vendor_plain(v: &Vendor) -> Value {
    vendor_detail(v)
}

fn vendor_value(s: &ProcurifyState, id: u64) -> Value {
    s.vendor(id).map_or(Value::Null, vendor_detail)
}

/// `SimpleVendor`.
pub fn simple_vendor(v: &Vendor) -> Value {
    json!({
        "id": v.id, "name": v.name, "active": v.active,
        "addressLineOne": opt_str(&v.address_line_one), "addressLineTwo": opt_str(&v.address_line_two),
        "postalCode": opt_str(&v.postal_code), "city": opt_str(&v.city),
        "state_province": opt_str(&v.state_province), "country": opt_str(&v.country),
        "overall_score": v.overall_score.map_or_else(String::new, |d| dec(d, 3)),
        "is_auto_email_po_enabled": v.is_auto_email_po_enabled,
    })
}

/// `OrderRead` (requisitions list).
pub fn order_read(o: &Order, s: &ProcurifyState) -> Value {
    let items: Vec<&OrderItem> = o.items.iter().filter_map(|id| s.item(*id)).collect();
    let total: Decimal = items.iter().map(|i| i.total_cost()).sum();
    let rate = s.currency(o.currency).map_or(Decimal::ONE, |c| c.rate);
    let base_total = if rate.is_zero() { total } else { total / rate };
    json!({
        "description": o.description, "num": o.num, "uuid": o.uuid,
        "branch": s.location(o.branch).map_or(Value::Null, |l| branch(l, s)),
        "user": user_value(s, o.user),
        "department": s.department(o.department).map_or(Value::Null, |d| department_summary(d, s)),
        "currency": s.currency(o.currency).map_or(Value::Null, currency_summary),
        "total_cost_in_base_currency": float(base_total.round_dp(2)),
        "logs": [], "item_count": items.len(), "ip_address": null,
        "date": ts(o.date), "dateRequired": ts(o.date_required), "dateModified": ts(o.date_modified),
        "lineCount": items.len(),
        "purchasedCount": items.iter().filter(|i| i.purchase_order.is_some()).count(),
        "totalPrice": dec(total, 2), "status": o.status,
        "next_approver": user_value(s, o.next_approver), "approval_delegatee": null,
        "punchout_group": null, "punchout_shipping_address": null,
        "punchout_items_rejected": false, "punchout_supplier_name": null,
        "punchout_supplier_icon": null, "punchout_vendor_reference": null,
        "has_blanket_order_items": false,
    })
}

/// Fields shared by `OrderItem` and `PurchaseOrderLineItemRead`.
fn item_common(i: &OrderItem, s: &ProcurifyState) -> serde_json::Map<String, Value> {
    let code = s
        .account(i.account)
        .and_then(|a| s.account_code(a.account_code))
        .map_or_else(String::new, |c| c.code.clone());
    let value = json!({
        "PO": i.purchase_order.map_or_else(Vec::new, |p| vec![p]),
        "PO_line_num": i.po_line_num, "accountCode": code, "active": true,
        "approved_currency_rate": i.approved_datetime.and_then(|_| s.currency(i.currency)).map(|c| dec(c.rate, 6)),
        "approved_datetime": opt_ts(i.approved_datetime),
        "approved_price": i.approved_price.map(|d| dec(d, 8)),
        "approved_shipping_amount": null, "approved_tax_amount": null,
        "created_at": ts(i.created_at), "dateInvoiced": null, "external_id": "", "hot": false,
        "id": i.id, "inventoryItem": null, "is_active": true, "last_changed_by": null,
        "last_modified": ts(i.last_modified), "lineComment": opt_str(&i.line_comment),
        "name": i.name, "num": i.num, "orderNum": i.order_num, "po_note": "", "po_version": 1,
        "price": dec(i.price, 8), "purchase_order": i.purchase_order,
        "shipping_amount": null, "sku": i.sku, "status": i.status, "tax_amount": null,
        "total_cost": dec(i.total_cost(), 2), "unit": i.unit, "updated_at": ts(i.last_modified),
        "receive_method": 0, "type": 0,
    });
    match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// `OrderItem` (order items list).
pub fn order_item(i: &OrderItem, s: &ProcurifyState) -> Value {
    let mut m = item_common(i, s);
    m.insert("account".into(), json!(i.account));
    m.insert(
        "approved_quantity".into(),
        json!(i.approved_quantity.map(|d| dec(d, 5))),
    );
    m.insert("attachments".into(), json!(""));
    m.insert("catalog_item".into(), Value::Null);
    m.insert("currency".into(), json!(i.currency));
    m.insert("item_attachments".into(), json!([]));
    m.insert("pref_vendor".into(), json!(i.pref_vendor));
    m.insert("purchaser".into(), json!(i.purchaser));
    m.insert("quantity".into(), json!(dec(i.quantity, 5)));
    m.insert("receivedFailQty".into(), json!(dec(Decimal::ZERO, 5)));
    m.insert("receivedPassQty".into(), json!(dec(i.received_pass_qty, 5)));
    m.insert(
        "vendor".into(),
        s.vendor(i.pref_vendor).map_or(Value::Null, |v| {
            Value::String(v.name.chars().take(100).collect())
        }),
    );
    Value::Object(m)
}

/// `PurchaseOrderLineItemRead` (lines of the PO detail).
pub fn po_line(i: &OrderItem, po: &PurchaseOrder, s: &ProcurifyState) -> Value {
    let mut m = item_common(i, s);
    let order = s.order(i.order_num);
    m.insert(
        "account".into(),
        s.account(i.account)
            .map_or(Value::Null, |a| account_read(a, s)),
    );
    m.insert(
        "approved_quantity".into(),
        float(i.approved_quantity.unwrap_or(i.quantity)),
    );
    m.insert("attachments".into(), json!([]));
    m.insert("catalog_item".into(), Value::Null);
    m.insert(
        "currency".into(),
        s.currency(i.currency).map_or(Value::Null, currency_summary),
    );
    m.insert("item_attachments".into(), json!([]));
    m.insert("pref_vendor".into(), vendor_value(s, i.pref_vendor));
    m.insert("purchaser".into(), user_value(s, po.purchaser));
    m.insert("quantity".into(), float(i.quantity));
    m.insert("receivedFailQty".into(), json!(0.0));
    m.insert("receivedPassQty".into(), float(i.received_pass_qty));
    m.insert(
        "vendor".into(),
        json!(s.vendor(i.pref_vendor).map_or("", |v| v.name.as_str())),
    );
    m.insert("recurrence".into(), Value::Null);
    m.insert("comments".into(), json!([]));
    m.insert("custom_fields".into(), json!([]));
    m.insert(
        "date_required".into(),
        json!(order.map_or_else(|| ts(i.created_at), |o| ts(o.date_required))),
    );
    m.insert(
        "has_sibling_items".into(),
        json!(order.is_some_and(|o| o.items.len() > 1)),
    );
    m.insert(
        "line_comment".into(),
        json!(i.line_comment.clone().unwrap_or_default()),
    );
    m.insert("logs".into(), json!([]));
    m.insert(
        "order_description".into(),
        json!(order.map_or("", |o| o.description.as_str())),
    );
    m.insert("order_status".into(), json!(order.map_or(0, |o| o.status)));
    if let Some(o) = order {
        m.insert("order_uuid".into(), json!(o.uuid));
        m.insert("submitted_date".into(), json!(ts(o.date)));
        m.insert(
            "requester".into(),
            s.user(o.user).map_or(Value::Null, |u| {
                json!({"id": u.id, "firstName": u.first_name, "lastName": u.last_name,
                       "email": u.email, "position": u.position, "profile_image": null,
                       "approval_delegatee": null})
            }),
        );
    }
    m.insert("purchase_order_number".into(), json!(po.number));
    m.insert("purchase_order_uuid".into(), json!(po.uuid));
    m.insert(
        "purchased_currency_rate".into(),
        json!(
            s.currency(po.currency)
                .map_or_else(|| dec(Decimal::ONE, 6), |c| dec(c.rate, 6))
        ),
    );
    m.insert("spend_allocation".into(), json!([]));
    m.insert("taxes".into(), json!([]));
    m.insert("receive_log_count".into(), json!(0));
    m.insert("approval_history".into(), json!([]));
    m.insert("flags".into(), json!([]));
    Value::Object(m)
}

/// Received quantity state of a PO: `empty`, `partial` or `full`.
pub fn fulfilment(po: &PurchaseOrder, s: &ProcurifyState) -> &'static str {
    let mut any = false;
    let mut all = true;
    for i in po.items.iter().filter_map(|id| s.item(*id)) {
        if i.received_pass_qty > Decimal::ZERO {
            any = true;
        }
        if i.received_pass_qty < i.approved_quantity.unwrap_or(i.quantity) {
            all = false;
        }
    }
    match (any, all) {
        (false, _) => "empty",
        (true, true) => "full",
        (true, false) => "partial",
    }
}

/// The PO total (sum of line costs).
pub fn po_total(po: &PurchaseOrder, s: &ProcurifyState) -> Decimal {
    po.items
        .iter()
        .filter_map(|id| s.item(*id))
        .map(OrderItem::total_cost)
        .sum()
}

/// `PurchaseOrderDocs` (PO list); `PurchaseOrderDetail` adds to it.
pub fn po_docs(po: &PurchaseOrder, s: &ProcurifyState) -> serde_json::Map<String, Value> {
    let loc = s.location(po.location);
    let vendor = s.vendor(po.vendor);
    let total = dec(po_total(po, s), 2);
    let vendor_field = |f: fn(&Vendor) -> &Option<String>| -> Value {
        vendor.map_or(Value::Null, |v| opt_str(f(v)))
    };
    let value = json!({
        "version": po.version, "number": po.number, "uuid": po.uuid,
        "purchaser": user_value(s, po.purchaser), "procurify_PO": po.id, "PO_Num": po.number,
        "date": ts(po.date),
        "buyer_name": loc.map_or("", |l| l.name.as_str()), "buyer_contact": "Purchasing",
        "buyer_addressLineOne": loc.map_or("", |l| l.address_line.as_str()),
        "buyer_postalCode": loc.map_or("", |l| l.postal_code.as_str()),
        "buyer_city": loc.map_or("", |l| l.city.as_str()),
        "buyer_state_province": loc.map_or("", |l| l.state_province.as_str()),
        "buyer_country": loc.map_or("", |l| l.country.as_str()),
        "buyer_address": loc.map_or(Value::Null, |l| address_summary(l, s)),
        "receiver_name": loc.map_or("", |l| l.name.as_str()), "receiver_contact": "Receiving dock",
        "receiver_addressLineOne": loc.map_or("", |l| l.address_line.as_str()),
        "receiver_postalCode": loc.map_or("", |l| l.postal_code.as_str()),
        "receiver_city": loc.map_or("", |l| l.city.as_str()),
        "receiver_state_province": loc.map_or("", |l| l.state_province.as_str()),
        "receiver_country": loc.map_or("", |l| l.country.as_str()),
        "receiver_address": loc.map_or(Value::Null, |l| address_summary(l, s)),
        "pref_vendor": vendor.map_or(Value::Null, vendor_detail),
        "vendor_name": vendor.map(|v| v.name.clone()),
        "vendor_contact": vendor_field(|v| &v.contact),
        "vendor_addressLineOne": vendor_field(|v| &v.address_line_one),
        "vendor_postalCode": vendor_field(|v| &v.postal_code),
        "vendor_city": vendor_field(|v| &v.city),
        "vendor_state_province": vendor_field(|v| &v.state_province),
        "vendor_country": vendor_field(|v| &v.country),
    });
    // Split in two: one json! literal this size exceeds the macro recursion limit.
    let rest = json!({
        "payment_terms": "Net 30", "shipping_terms": "FOB Destination", "shipping_method": "Ground",
        "promise_date": ts(po.promise_date), "subtotal": total, "freight": dec(Decimal::ZERO, 6),
        "tax": {"value": 0.0, "type": "amount"}, "discount": {"value": 0.0, "type": "amount"},
        "other": dec(Decimal::ZERO, 6), "total": total, "comment": null,
        "purchased_currency": s.currency(po.currency).map_or(Value::Null, currency_summary),
        "purchased_currency_rate": s.currency(po.currency).map(|c| dec(c.rate, 6)),
        "active": po.state != po_state::CANCELLED, "state": po.state,
        "fulfilment_status": fulfilment(po, s), "disclaimer_description": null,
        "disclaimer_text": null, "recorded_date": null, "closed_date": opt_ts(po.closed_date),
        "last_modified": ts(po.last_modified), "staged_for_export": false,
        "item_count": po.items.len(), "most_recent_version": po.version,
        "punchout_system": null, "purchase_agreement": null, "purchase_agreement_status": null,
        "punchout_vendor_reference": null, "punchout_supplier_icon": null,
        "punchout_supplier_name": null, "has_blanket_order_items": false, "expiry_date": null,
        "contract": null,
    });
    let mut map = match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    if let Value::Object(rest) = rest {
        map.extend(rest);
    }
    map
}

/// `PurchaseOrderDetail` (PO detail).
pub fn po_detail(po: &PurchaseOrder, s: &ProcurifyState) -> Value {
    let mut m = po_docs(po, s);
    m.insert(
        "shipping_method".into(),
        json!({"description": null, "id": 1, "name": "Ground", "active": true}),
    );
    m.insert(
        "order_items".into(),
        Value::Array(
            po.items
                .iter()
                .filter_map(|id| s.item(*id))
                .map(|i| po_line(i, po, s))
                .collect(),
        ),
    );
    m.insert("creditcard_is_editable".into(), json!(false));
    m.insert("custom_fields".into(), json!([]));
    m.insert("creditcard".into(), Value::Null);
    m.insert(
        "payment_term".into(),
        json!({"description": null, "id": 1, "name": "Net 30", "active": true}),
    );
    m.insert(
        "shipping_term".into(),
        json!({"description": null, "id": 1, "name": "FOB Destination", "active": true}),
    );
    let total = dec(po_total(po, s), 2);
    m.insert(
        "cost_details".into(),
        json!({"subtotal": total, "total_cost": total, "total_cost_in_base_currency": total,
               "tax_amount": dec(Decimal::ZERO, 2)}),
    );
    Value::Object(m)
}

/// `PurchaseOrderReadDocs` (close answer).
pub fn po_read_docs(po: &PurchaseOrder, s: &ProcurifyState) -> Value {
    let total = dec(po_total(po, s), 2);
    let currency_name = s.currency(po.currency).map_or("USD", |c| c.name.as_str());
    json!({
        "version": po.version, "id": po.id, "PO_Num": po.number, "date": ts(po.date),
        "discount": {"value": 0.0, "type": "amount"}, "freight": dec(Decimal::ZERO, 6),
        "fulfilment_status": fulfilment(po, s), "item_count": po.items.len(),
        "last_modified": ts(po.last_modified), "number": po.number, "other": dec(Decimal::ZERO, 6),
        "pref_vendor": s.vendor(po.vendor).map_or(Value::Null, simple_vendor),
        "procurify_PO": po.id, "promise_date": ts(po.promise_date), "punchout_system": null,
        "purchase_agreement": null, "purchase_agreement_status": null,
        "purchased_currency": s.currency(po.currency).map_or(Value::Null, simple_currency),
        "purchased_currency_rate": s.currency(po.currency).map(|c| dec(c.rate, 6)),
        "purchaser": s.user(po.purchaser).map_or(Value::Null, |u| simple_user(u, s)),
        "state": po.state, "subtotal": total, "total": total, "uuid": po.uuid,
        "punchout_items_rejected": false, "total_amount": total, "currency": currency_name,
        "email_status": null, "email_status_updated_at": null, "punchout_supplier_name": null,
        "punchout_supplier_icon": null, "punchout_vendor_reference": null,
        "has_blanket_order_items": false, "expiry_date": null,
    })
}

/// `SimpleBill` (bills list).
pub fn simple_bill(b: &Bill, s: &ProcurifyState) -> Value {
    json!({
        "version": 1, "id": b.id, "status": b.status, "locked": b.status >= 3,
        "currency": s.currency(b.currency).map_or(Value::Null, simple_currency),
        "uuid": b.uuid, "items": b.items,
        "vendor": s.vendor(b.vendor).map_or(Value::Null, |v| json!({"id": v.id, "name": v.name})),
        "due_date": ts(b.due_date), "total_cost_with_tax": float(b.total),
        "invoice_date": ts(b.invoice_date), "next_approver_choices": null,
        "last_modified_datetime": ts(b.last_modified), "submitted_date": ts(b.submitted_date),
        "gl_post_date": null, "invoice_number": b.invoice_number, "group": null, "type": 0,
        "user": s.user(b.user).map_or(Value::Null, |u| simple_user(u, s)),
        "approver": null, "past_due": b.due_date < s.generated_at && b.status < 3,
        "payment_uuid": null, "invoice_uuid": b.uuid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_have_the_fields_number_of_places() {
        assert_eq!(dec(Decimal::new(125, 1), 8), "12.50000000");
        assert_eq!(dec(Decimal::from(3), 5), "3.00000");
        assert_eq!(dec(Decimal::new(123_456, 3), 2), "123.46");
    }

    #[test]
    fn timestamps_are_drf_isoformat_with_z() {
        let t = DateTime::parse_from_rfc3339("2025-03-01T12:00:00.250000Z")
            .map(|d| d.with_timezone(&Utc))
            .expect("valid");
        assert_eq!(ts(t), "2025-03-01T12:00:00.250000Z");
        let whole = DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .expect("valid");
        assert_eq!(ts(whole), "2025-03-01T12:00:00Z");
    }
}
