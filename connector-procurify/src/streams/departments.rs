//! `departments`: Procurify departments (PeopleSoft cost centers). Read:
//! `GET /api/v3/departments/` (full scan). Write: create (`POST`) or update
//! (`PUT …/{id}/`) by the document's `id`, else by an existing department
//! with the same `external_id`. Lookup: by external id, else by exact name
//! (both by reading the list: Procurify's `search` matches names only).
//! Key when read: the id as text; when written: the external id (DEPTID).
//!
//! ```json
//! {"id": 6, "name": "Finance", "external_id": "10100", "active": true,
//!  "location": {"id": 1, "name": "Head Office"}}
//! ```
//! Written documents take the same keys (`external_id` defaults to the
//! document key; `location.id` defaults to the `department_location_id`
//! setting, or to the existing department's location on update).

use mlc_guest::upsert::{Upsert, upsert};
use mlc_guest::{Doc, Failure, Written, fail};
use serde_json::{Map, Value, json};

use super::{Ctx, Read, ScanSpec, Stream, parse_write, send_write};
use crate::fields::{FieldError, Obj};

/// Stream name.
pub const NAME: &str = "departments";
/// Collection path.
pub const PATH: &str = "/api/v3/departments/";
/// Permission needed to read.
pub const PERMISSION_READ: &str = "view departments";
/// Permission needed to write.
pub const PERMISSION_WRITE: &str = "add and change departments";

/// The stream's entry in the connector's table (spec and dispatch).
pub const STREAM: Stream = Stream {
    name: NAME,
    description: "Departments (cost centers), full scan (unchanged ones not emitted again); write creates or updates by \
        id or external_id; lookup by external_id, else exact name. Doc: {id, name, external_id, active, \
        location{id,name}}.",
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

/// Normalizes a `DepartmentRead`.
pub fn normalize(raw: &Value) -> Result<(String, Value), FieldError> {
    let o = Obj::new(raw)?;
    let id = o.int("id")?;
    let inner = || -> Result<Value, FieldError> {
        Ok(json!({
            "id": id,
            "name": o.string("name")?,
            "external_id": o.opt_str("external_id")?,
            "active": o.opt_bool("active")?,
            "location": super::accounts::location(o.opt_obj("branch")?)?,
        }))
    };
    inner()
        .map(|b| (id.to_string(), b))
        .map_err(|e| e.within(format!("department {id}")))
}

const WRITE_KEYS: &[&str] = &["id", "name", "external_id", "active", "location"];

/// A written department as Procurify needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeptRequest {
    /// Procurify id to update, when the document gives one.
    pub id: Option<i64>,
    /// Location (branch) id, when the document gives one.
    pub location: Option<i64>,
    /// Request fields other than `branch` (decided by [`DepartmentUpsert`]).
    pub fields: Map<String, Value>,
}

/// Reads a written department document.
pub fn request_body(doc_key: &str, body: &Value) -> Result<DeptRequest, FieldError> {
    let o = Obj::new(body)?;
    let mut out = Map::new();
    out.insert("name".into(), json!(o.string("name")?));
    out.insert(
        "external_id".into(),
        json!(
            o.opt_str("external_id")?
                .unwrap_or_else(|| doc_key.to_string())
        ),
    );
    if let Some(a) = o.opt_bool("active")? {
        out.insert("active".into(), json!(a));
    }
    Ok(DeptRequest {
        id: o.opt_int("id")?,
        location: o.opt_ref_id("location")?,
        fields: out,
    })
}

/// The id and location (branch) id of a department record.
fn ids(v: &Value) -> Option<(i64, Option<i64>)> {
    let id = v.get("id").and_then(Value::as_i64)?;
    let branch = v
        .get("branch")
        .and_then(|b| b.get("id").or(Some(b)))
        .and_then(Value::as_i64);
    Some((id, branch))
}

/// Finds a department by exact `external_id`, else (when `by_name`) by exact
/// `name`. The list is read without a filter: its `search` matches names
/// only, and departments are few (one page or two).
fn find(
    ctx: &Ctx<'_>,
    what: &str,
    key: &str,
    by_name: bool,
) -> Result<Option<(i64, Option<i64>)>, Failure> {
    let mut named = None;
    let hit = ctx.client.find(what, PERMISSION_READ, PATH, &[], |v| {
        if by_name && named.is_none() && v.get("name").and_then(Value::as_str) == Some(key) {
            named = ids(v);
        }
        v.get("external_id").and_then(Value::as_str) == Some(key)
    })?;
    Ok(hit.as_ref().and_then(ids).or(named))
}

/// The location (branch) a department is written with: the document's, else
/// the existing record's, else the connection's `department_location_id`.
fn branch(
    ctx: &Ctx<'_>,
    what: &str,
    request: &DeptRequest,
    existing: Option<i64>,
) -> Result<i64, Failure> {
    request
        .location
        .or(existing)
        .or(ctx.client.target.settings.department_location_id)
        .ok_or_else(|| {
            fail::rejected(format!(
                "{what}: no location for the department: set `location.id` in the document or `department_location_id` in the connection config"
            ))
        })
}

/// Creates or updates departments (by id, else by external id).
pub struct DepartmentUpsert;

impl<'a> Upsert<Ctx<'a>> for DepartmentUpsert {
    const STREAM: &'static str = NAME;
    type Request = DeptRequest;
    /// The department's id and its location (branch) id.
    type Existing = (i64, Option<i64>);

    fn parse(&self, doc: &Doc) -> Result<DeptRequest, Failure> {
        parse_write(NAME, doc, WRITE_KEYS, request_body)
    }

    fn find(
        &self,
        ctx: &mut Ctx<'a>,
        what: &str,
        request: &DeptRequest,
    ) -> Result<Option<(i64, Option<i64>)>, Failure> {
        match request.id {
            Some(id) => Ok(Some((id, None))),
            None => {
                let external_id = request.fields.get("external_id").and_then(Value::as_str);
                find(ctx, what, external_id.unwrap_or_default(), false)
            }
        }
    }

    fn create(
        &self,
        ctx: &mut Ctx<'a>,
        what: &str,
        request: DeptRequest,
    ) -> Result<String, Failure> {
        let branch = branch(ctx, what, &request, None)?;
        let mut fields = request.fields;
        fields.insert("branch".into(), json!(branch));
        send_write(ctx, what, PERMISSION_WRITE, ("POST", PATH, None), fields)
    }

    fn update(
        &self,
        ctx: &mut Ctx<'a>,
        what: &str,
        (id, existing_branch): (i64, Option<i64>),
        request: DeptRequest,
    ) -> Result<String, Failure> {
        let branch = branch(ctx, what, &request, existing_branch)?;
        let mut fields = request.fields;
        fields.insert("branch".into(), json!(branch));
        send_write(ctx, what, PERMISSION_WRITE, ("PUT", PATH, Some(id)), fields)
    }
}

/// Creates or updates a department.
pub fn write(ctx: &mut Ctx<'_>, doc: &Doc) -> Result<Written, Failure> {
    upsert(&DepartmentUpsert, ctx, doc)
}

/// Finds the department whose external id (else name) is `key`.
pub fn lookup(ctx: &mut Ctx<'_>, key: &str) -> Result<Option<String>, Failure> {
    Ok(find(ctx, &format!("lookup {NAME} {key}"), key, true)?.map(|(id, _)| id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_department_normalizes() {
        // The OpenAPI example of DepartmentRead.
        let raw = json!({"punchout_email": "punchout_email", "name": "name", "active": true, "external_id": "external_id",
                         "id": 6, "branch": {"headquarter": true, "name": "name", "id": 1}, "is_active_for_account_code": true});
        let (key, b) = normalize(&raw).unwrap();
        assert_eq!(key, "6");
        assert_eq!(
            b,
            json!({"id": 6, "name": "name", "external_id": "external_id", "active": true, "location": {"id": 1, "name": "name"}})
        );
    }

    #[test]
    fn department_without_name_is_a_bad_record() {
        assert_eq!(
            normalize(&json!({"id": 8, "name": null})).unwrap_err().0,
            "department 8: `name` is missing"
        );
    }

    #[test]
    fn request_body_defaults_external_id_to_the_key() {
        let DeptRequest {
            id,
            location: loc,
            fields: req,
        } = request_body(
            "30100",
            &json!({"name": "Maintenance", "active": true, "location": {"id": 2, "name": "Plant"}}),
        )
        .unwrap();
        assert_eq!((id, loc), (None, Some(2)));
        assert_eq!(
            Value::Object(req),
            json!({"name": "Maintenance", "external_id": "30100", "active": true})
        );
    }
}
