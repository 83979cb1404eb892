//! `account_codes`: GL account codes. Read: `GET /api/v3/account-codes/`
//! (full scan). Write: create (`POST`) or update (`PUT …/{id}/`) by the
//! document's `id`, else by an existing code equal to `code`. Lookup: by code.
//! Key when read: the id as text; when written: the code (the target key is
//! the Procurify id).
//!
//! ```json
//! {"id": 3, "code": "610000", "description": "Office Supplies", "account_type": 2,
//!  "account_type_name": "expense", "active": true, "parent_id": null}
//! ```
//! Written documents take the same keys (`id`, `account_type_name` and
//! `active` are optional; `active` cannot be changed through Procurify's API
//! and is ignored) plus optional `departments` (department ids, on create).

use mlc_guest::upsert::{Upsert, upsert};
use mlc_guest::{Doc, Failure, Written};
use serde_json::{Map, Value, json};

use super::{Ctx, FieldsRequest, Read, ScanSpec, Stream, find_id_by, parse_write, send_write};
use crate::fields::{FieldError, Obj};

/// Stream name.
pub const NAME: &str = "account_codes";
/// Collection path.
pub const PATH: &str = "/api/v3/account-codes/";
/// Permission needed to read.
pub const PERMISSION_READ: &str = "view account codes";
/// Permission needed to write.
pub const PERMISSION_WRITE: &str = "add and change account codes";

/// The stream's entry in the connector's table (spec and dispatch).
pub const STREAM: Stream = Stream {
    name: NAME,
    description: "GL account codes, full scan (unchanged codes not emitted again); write creates or updates by id or \
        code; lookup by code. Doc: {id, code, description, account_type (0 assets, 1 liability, 2 expense, 3 income, \
        4 equity, 5 other), account_type_name, active, parent_id}; written docs may add departments[] (ids).",
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

const TYPES: &[&str] = &[
    "assets",
    "liability",
    "expense",
    "income",
    "equity",
    "other",
];

/// Name of an account type code.
pub fn type_name(code: i64) -> Option<&'static str> {
    usize::try_from(code)
        .ok()
        .and_then(|i| TYPES.get(i).copied())
}

/// Normalizes an `AccountCodeRead`.
pub fn normalize(raw: &Value) -> Result<(String, Value), FieldError> {
    let o = Obj::new(raw)?;
    let id = o.int("id")?;
    let inner = || -> Result<Value, FieldError> {
        let account_type = super::lines::status_code(&o, "account_type")?;
        Ok(json!({
            "id": id,
            "code": o.string("code")?,
            "description": o.opt_str("description")?,
            "account_type": account_type,
            "account_type_name": account_type.and_then(type_name),
            "active": o.opt_bool("active")?,
            "parent_id": o.opt_ref_id("parent")?,
        }))
    };
    inner()
        .map(|b| (id.to_string(), b))
        .map_err(|e| e.within(format!("account code {id}")))
}

const WRITE_KEYS: &[&str] = &[
    "id",
    "code",
    "description",
    "account_type",
    "account_type_name",
    "active",
    "parent_id",
    "departments",
];

/// The Procurify request body for a written document, and the id to update.
pub fn request_body(doc_key: &str, body: &Value) -> Result<FieldsRequest, FieldError> {
    let o = Obj::new(body)?;
    let mut out = Map::new();
    let code = o.opt_str("code")?.unwrap_or_else(|| doc_key.to_string());
    if code.trim().is_empty() {
        return Err(FieldError("`code` is empty".into()));
    }
    out.insert("code".into(), json!(code));
    out.insert("description".into(), json!(o.string("description")?));
    let account_type = match (o.get("account_type"), o.opt_str("account_type_name")?) {
        (Some(_), _) => super::lines::status_code(&o, "account_type")?,
        (None, Some(name)) => Some(
            TYPES
                .iter()
                .position(|t| t.eq_ignore_ascii_case(&name))
                .ok_or_else(|| {
                    FieldError(format!(
                        "`account_type_name` must be one of {}, got {name:?}",
                        TYPES.join(", ")
                    ))
                })? as i64,
        ),
        (None, None) => None,
    };
    if let Some(t) = account_type {
        if type_name(t).is_none() {
            return Err(FieldError(format!(
                "`account_type` must be 0 to 5, got {t}"
            )));
        }
        out.insert("account_type".into(), json!(t));
    }
    if let Some(p) = o.opt_int("parent_id")? {
        out.insert("parent".into(), json!(p));
    }
    if o.get("departments").is_some() {
        out.insert("departments".into(), json!(o.int_list("departments")?));
    }
    Ok(FieldsRequest {
        id: o.opt_int("id")?,
        fields: out,
    })
}

fn find_by_code(ctx: &Ctx<'_>, what: &str, code: &str) -> Result<Option<i64>, Failure> {
    find_id_by(ctx, what, (PERMISSION_READ, PATH), "code", code)
}

/// Creates or updates account codes (by id, else by code).
pub struct AccountCodeUpsert;

impl<'a> Upsert<Ctx<'a>> for AccountCodeUpsert {
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
            None => find_by_code(ctx, what, request.text("code")),
        }
    }

    fn create(
        &self,
        ctx: &mut Ctx<'a>,
        what: &str,
        request: FieldsRequest,
    ) -> Result<String, Failure> {
        send_write(
            ctx,
            what,
            PERMISSION_WRITE,
            ("POST", PATH, None),
            request.fields,
        )
    }

    fn update(
        &self,
        ctx: &mut Ctx<'a>,
        what: &str,
        id: i64,
        request: FieldsRequest,
    ) -> Result<String, Failure> {
        let mut fields = request.fields;
        // The update serializer takes code, description and account_type only.
        fields.remove("parent");
        fields.remove("departments");
        send_write(ctx, what, PERMISSION_WRITE, ("PUT", PATH, Some(id)), fields)
    }
}

/// Creates or updates an account code.
pub fn write(ctx: &mut Ctx<'_>, doc: &Doc) -> Result<Written, Failure> {
    upsert(&AccountCodeUpsert, ctx, doc)
}

/// Finds the account code whose code is `key`.
pub fn lookup(ctx: &mut Ctx<'_>, key: &str) -> Result<Option<String>, Failure> {
    Ok(find_by_code(ctx, &format!("lookup {NAME} {key}"), key)?.map(|id| id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_page_normalizes_with_type_names_and_parent() {
        let page = crate::api::parse_list(include_bytes!(
            "../../tests/fixtures/account_codes_page1.json"
        ))
        .unwrap();
        let (key, b) = normalize(&page.data[0]).unwrap();
        assert_eq!(key, "3");
        assert_eq!(
            b,
            json!({"id": 3, "code": "610000", "description": "Office Supplies", "account_type": 2, "account_type_name": "expense", "active": true, "parent_id": null})
        );
        let (_, b) = normalize(&page.data[1]).unwrap();
        assert_eq!(b["parent_id"], 3);
        assert_eq!(b["account_type"], Value::Null);
        assert_eq!(b["active"], false);
    }

    #[test]
    fn request_body_takes_the_code_from_the_key_and_the_type_by_name() {
        let FieldsRequest { id, fields: req } = request_body(
            "640000",
            &json!({"description": "Freight & Shipping", "account_type_name": "Expense"}),
        )
        .unwrap();
        assert_eq!(id, None);
        assert_eq!(
            Value::Object(req),
            json!({"code": "640000", "description": "Freight & Shipping", "account_type": 2})
        );
        let FieldsRequest { id, fields: req } = request_body("k", &json!({"id": 9, "code": "650000", "description": "Pro", "account_type": 2, "parent_id": 3, "departments": [6, 7]})).unwrap();
        assert_eq!(id, Some(9));
        assert_eq!(req["parent"], 3);
        assert_eq!(req["departments"], json!([6, 7]));
    }

    #[test]
    fn request_body_refuses_missing_description_and_bad_types() {
        assert_eq!(
            request_body("1", &json!({})).unwrap_err().0,
            "`description` is missing"
        );
        assert!(
            request_body("1", &json!({"description": "d", "account_type": 9}))
                .unwrap_err()
                .0
                .contains("0 to 5")
        );
        assert!(
            request_body(
                "1",
                &json!({"description": "d", "account_type_name": "revenue"})
            )
            .unwrap_err()
            .0
            .contains("assets, liability")
        );
    }
}
