//! `vendors`: Procurify vendors. Read: `GET /api/v3/vendors/` (full scan; each
//! document carries `modified` = Procurify's `dateModified`). Write: update
//! (`PATCH …/{id}/`) by the document's `id`, else by an existing vendor with
//! the same `external_id`, else create (`POST`); `external_id` defaults to the
//! document key (the PeopleSoft VENDOR_ID). Lookup: by external id, else by
//! exact name. Key when read: the id as text.
//!
//! ```json
//! {"id": 7, "name": "Acme Industrial Supply", "active": true, "type": 3, "type_name": "preferred",
//!  "external_id": "0000000101", "email": ["orders@acme.example"], "contact": "Jo Ames",
//!  "phone": "+1 555 0100", "phone_two": null, "fax": null, "url": null, "comments": null,
//!  "address": {"line1": "1 Main St", "line2": null, "city": "Springfield", "state_province": "IL",
//!              "postal_code": "62701", "country": "US"},
//!  "currency_id": 1, "modified": "2026-10-01T00:00:00Z"}
//! ```
//! Written documents take the same keys (all optional but `name` on create;
//! `type_name` and `modified` are ignored).

use mlc_guest::upsert::{Upsert, upsert};
use mlc_guest::{Doc, Failure, Written, fail};
use serde_json::{Map, Value, json};

use super::{Ctx, FieldsRequest, Read, ScanSpec, Stream, find_id_by, parse_write, send_write};
use crate::fields::{FieldError, Obj};

/// Stream name.
pub const NAME: &str = "vendors";
/// Collection path.
pub const PATH: &str = "/api/v3/vendors/";
/// Permission needed to read.
pub const PERMISSION_READ: &str = crate::refs::PERMISSION_VENDORS;
/// Permission needed to write.
pub const PERMISSION_WRITE: &str = "add and change vendors";

/// The stream's entry in the connector's table (spec and dispatch).
pub const STREAM: Stream = Stream {
    name: NAME,
    description: "Vendors, full scan (unchanged ones not emitted again); write creates or updates (by id, else \
        external_id) and sets external_id; lookup by external_id, else exact name. Doc: {id, name, active, type, \
        type_name, external_id, email[], contact, phone, phone_two, fax, url, comments, address{line1,line2,city,\
        state_province,postal_code,country}, currency_id, modified}.",
    primary_key: "id",
    cursor_field: None,
    read: Some(Read::Scan(SCAN)),
    write: Some(write),
    lookup: Some(lookup),
};

/// How the scan reads it.
pub const SCAN: ScanSpec = ScanSpec {
    path: PATH,
    permission: PERMISSION_READ,
    normalize,
};

/// Name of a vendor type code.
pub fn type_name(code: i64) -> Option<&'static str> {
    Some(match code {
        1 => "other",
        2 => "hidden",
        3 => "preferred",
        4 => "regular",
        5 => "employee",
        6 => "cc_provider",
        _ => return None,
    })
}

/// Document address keys and their Procurify field names.
const ADDRESS: &[(&str, &str)] = &[
    ("line1", "addressLineOne"),
    ("line2", "addressLineTwo"),
    ("city", "city"),
    ("state_province", "state_province"),
    ("postal_code", "postalCode"),
    ("country", "country"),
];

/// Document keys and Procurify field names of the plain text fields.
const TEXT: &[(&str, &str)] = &[
    ("name", "name"),
    ("external_id", "external_id"),
    ("contact", "contact"),
    ("phone", "phoneOne"),
    ("phone_two", "phoneTwo"),
    ("fax", "fax"),
    ("url", "url"),
    ("comments", "comments"),
];

/// Normalizes an `OptimizedVendor`/`VendorRead`.
pub fn normalize(raw: &Value) -> Result<(String, Value), FieldError> {
    let o = Obj::new(raw)?;
    let id = o.int("id")?;
    let inner = || -> Result<Value, FieldError> {
        let mut doc = Map::new();
        doc.insert("id".into(), json!(id));
        doc.insert("name".into(), json!(o.string("name")?));
        doc.insert("active".into(), json!(o.opt_bool("active")?));
        let t = super::lines::status_code(&o, "type")?;
        doc.insert("type".into(), json!(t));
        doc.insert("type_name".into(), json!(t.and_then(type_name)));
        for (key, field) in TEXT.iter().skip(1) {
            doc.insert((*key).into(), json!(o.opt_str(field)?));
        }
        doc.insert("email".into(), json!(o.str_list("email")?));
        let mut address = Map::new();
        for (key, field) in ADDRESS {
            address.insert((*key).into(), json!(o.opt_str(field)?));
        }
        doc.insert("address".into(), Value::Object(address));
        doc.insert("currency_id".into(), json!(o.opt_ref_id("currency")?));
        doc.insert("modified".into(), json!(o.opt_rfc3339("dateModified")?));
        Ok(Value::Object(doc))
    };
    inner()
        .map(|b| (id.to_string(), b))
        .map_err(|e| e.within(format!("vendor {id}")))
}

const WRITE_KEYS: &[&str] = &[
    "id",
    "name",
    "active",
    "type",
    "type_name",
    "external_id",
    "email",
    "contact",
    "phone",
    "phone_two",
    "fax",
    "url",
    "comments",
    "address",
    "currency_id",
    "modified",
];

/// The Procurify fields a written document sets, and the id to update.
/// `external_id` defaults to the document key.
pub fn request_body(doc_key: &str, body: &Value) -> Result<FieldsRequest, FieldError> {
    let o = Obj::new(body)?;
    let mut out = Map::new();
    for (key, field) in TEXT {
        if o.get(key).is_some() || body.get(key).is_some_and(Value::is_null) {
            out.insert((*field).into(), json!(o.opt_str(key)?));
        }
    }
    if !out.contains_key("external_id") || out["external_id"].is_null() {
        out.insert("external_id".into(), json!(doc_key));
    }
    if let Some(a) = o.opt_bool("active")? {
        out.insert("active".into(), json!(a));
    }
    if let Some(t) = super::lines::status_code(&o, "type")? {
        if !(1..=7).contains(&t) {
            return Err(FieldError(format!(
                "`type` must be a Procurify vendor type 1 to 7, got {t}"
            )));
        }
        out.insert("type".into(), json!(t));
    }
    match o.get("email") {
        Some(Value::String(s)) => {
            out.insert("email".into(), json!([s]));
        }
        Some(_) => {
            out.insert("email".into(), json!(o.str_list("email")?));
        }
        None => {}
    }
    if let Some(addr) = o.opt_obj("address")? {
        for k in addr.keys() {
            if !ADDRESS.iter().any(|(a, _)| a == k) {
                return Err(FieldError(format!(
                    "unknown field `address.{k}`; address fields are: {}",
                    ADDRESS
                        .iter()
                        .map(|(a, _)| *a)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        for (key, field) in ADDRESS {
            if let Some(v) = addr.opt_str(key).map_err(|e| e.within("`address`"))? {
                out.insert((*field).into(), json!(v));
            }
        }
    }
    if let Some(c) = o.opt_int("currency_id")? {
        out.insert("currency".into(), json!(c));
    }
    Ok(FieldsRequest {
        id: o.opt_int("id")?,
        fields: out,
    })
}

/// Finds a vendor id by exact external id, and (when `by_name`) else by exact name.
fn find(ctx: &Ctx<'_>, what: &str, key: &str, by_name: bool) -> Result<Option<i64>, Failure> {
    match find_id_by(ctx, what, (PERMISSION_READ, PATH), "external_id", key)? {
        None if by_name => find_id_by(ctx, what, (PERMISSION_READ, PATH), "name", key),
        found => Ok(found),
    }
}

/// Creates or updates vendors (by id, else by external id).
pub struct VendorUpsert;

impl<'a> Upsert<Ctx<'a>> for VendorUpsert {
    const STREAM: &'static str = NAME;
    type Request = FieldsRequest;
    type Existing = i64;

    fn parse(&self, doc: &Doc) -> Result<FieldsRequest, Failure> {
        parse_write(NAME, doc, WRITE_KEYS, request_body)
    }

    fn find(
        &self,
        ctx: &mut Ctx<'a>,
        what: &str,
        request: &FieldsRequest,
    ) -> Result<Option<i64>, Failure> {
        match request.id {
            Some(id) => Ok(Some(id)),
            None => find(ctx, what, request.text("external_id"), false),
        }
    }

    fn create(
        &self,
        ctx: &mut Ctx<'a>,
        what: &str,
        request: FieldsRequest,
    ) -> Result<String, Failure> {
        let mut fields = request.fields;
        let named = fields
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty());
        if !named {
            return Err(fail::rejected(format!(
                "{what}: `name` is required to create a vendor"
            )));
        }
        // Fields the create serializer requires.
        fields
            .entry("type")
            .or_insert(json!(ctx.client.target.settings.vendor_type));
        fields.entry("email").or_insert(json!([]));
        fields.entry("overall_score").or_insert(Value::Null);
        send_write(ctx, what, PERMISSION_WRITE, ("POST", PATH, None), fields)
    }

    fn update(
        &self,
        ctx: &mut Ctx<'a>,
        what: &str,
        id: i64,
        request: FieldsRequest,
    ) -> Result<String, Failure> {
        send_write(
            ctx,
            what,
            PERMISSION_WRITE,
            ("PATCH", PATH, Some(id)),
            request.fields,
        )
    }
}

/// Creates or updates a vendor.
pub fn write(ctx: &mut Ctx<'_>, doc: &Doc) -> Result<Written, Failure> {
    upsert(&VendorUpsert, ctx, doc)
}

/// Finds the vendor whose external id (else exact name) is `key`.
pub fn lookup(ctx: &mut Ctx<'_>, key: &str) -> Result<Option<String>, Failure> {
    Ok(find(ctx, &format!("lookup {NAME} {key}"), key, true)?.map(|id| id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_normalizes_address_emails_and_modified() {
        let raw = json!({"id": 7, "name": "Barnes & Noble Office <B2B>", "active": true, "type": 3, "external_id": "0000000102",
                         "addressLineOne": "1 Main St", "addressLineTwo": null, "postalCode": "62701", "city": "Springfield",
                         "state_province": "IL", "country": "US", "phoneOne": "+1 555 0100", "email": ["ap@bn.example"],
                         "currency": null, "dateModified": "2026-10-01T00:00:00.000+00:00", "overall_score": null, "payment_methods": []});
        let (key, b) = normalize(&raw).unwrap();
        assert_eq!(key, "7");
        assert_eq!(b["name"], "Barnes & Noble Office <B2B>");
        assert_eq!(b["type_name"], "preferred");
        assert_eq!(
            b["address"],
            json!({"line1": "1 Main St", "line2": null, "city": "Springfield", "state_province": "IL", "postal_code": "62701", "country": "US"})
        );
        assert_eq!(b["phone"], "+1 555 0100");
        assert_eq!(b["email"], json!(["ap@bn.example"]));
        assert_eq!(b["modified"], "2026-10-01T00:00:00Z");
        assert_eq!(b["currency_id"], Value::Null);
    }

    #[test]
    fn vendor_with_non_list_email_is_a_bad_record() {
        let e = normalize(&json!({"id": 9, "name": "X", "email": "a@b"})).unwrap_err();
        assert_eq!(
            e.0,
            "vendor 9: `email` should be an array, got string \"a@b\""
        );
    }

    #[test]
    fn written_vendor_maps_to_procurify_fields_and_keeps_the_key_as_external_id() {
        let FieldsRequest { id, fields: req } = request_body(
            "0000000201",
            &json!({"name": "東京精密機器株式会社", "email": "sales@tokyo.example", "address": {"city": "Tokyo", "country": "JP"}, "active": true}),
        )
        .unwrap();
        assert_eq!(id, None);
        assert_eq!(
            Value::Object(req),
            json!({"name": "東京精密機器株式会社", "external_id": "0000000201", "email": ["sales@tokyo.example"],
                   "city": "Tokyo", "country": "JP", "active": true})
        );
    }

    #[test]
    fn written_vendor_refuses_unknown_address_fields_and_bad_types() {
        assert!(
            request_body("k", &json!({"address": {"zip": "1"}}))
                .unwrap_err()
                .0
                .contains("address.zip")
        );
        assert!(
            request_body("k", &json!({"type": 12}))
                .unwrap_err()
                .0
                .contains("1 to 7")
        );
        assert!(
            request_body("k", &json!({"active": "yes"}))
                .unwrap_err()
                .0
                .contains("`active`")
        );
    }
}
