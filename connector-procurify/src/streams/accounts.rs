//! `accounts`: the chart of accounts, one entry per account code and
//! department (`GET /api/v3/accounts/`, full scan). Key: account id as text.
//!
//! ```json
//! {"id": 12, "active": true,
//!  "account_code": {"id": 3, "code": "610000", "description": "Office Supplies", "account_type": 2},
//!  "department": {"id": 6, "name": "Finance", "external_id": "10100", "location": {"id": 1, "name": "Head Office"}},
//!  "budget": "5000", "start": null, "end": null}
//! ```

use serde_json::{Value, json};

use super::{Read, ScanSpec, Stream};
use crate::fields::{FieldError, Obj};

/// Stream name.
pub const NAME: &str = "accounts";

/// The stream's entry in the connector's table (spec and dispatch).
pub const STREAM: Stream = Stream {
    name: NAME,
    description: "Chart of accounts entries (account code x department), full scan; unchanged entries are not emitted \
        again. Doc: {id, active, account_code{id,code,description,account_type}, department{id,name,external_id,\
        location{id,name}}, budget, start, end}.",
    primary_key: "id",
    cursor_field: None,
    read: Some(Read::Scan(SCAN)),
    write: None,
    lookup: None,
};

/// How the scan reads it.
pub const SCAN: ScanSpec = ScanSpec {
    path: "/api/v3/accounts/",
    permission: crate::refs::PERMISSION_ACCOUNTS,
    normalize,
};

/// `{"id","name"}` of a location (branch) object.
pub fn location(o: Option<Obj<'_>>) -> Result<Value, FieldError> {
    let Some(l) = o else { return Ok(Value::Null) };
    Ok(json!({"id": l.opt_int("id")?, "name": l.opt_str("name")?}))
}

/// Normalizes a `ChartOfAccountsAccount`.
pub fn normalize(raw: &Value) -> Result<(String, Value), FieldError> {
    let o = Obj::new(raw)?;
    let id = o.int("id")?;
    let inner = || -> Result<Value, FieldError> {
        let code = match o.opt_obj("account_code")? {
            Some(c) => json!({
                "id": c.opt_int("id")?,
                "code": c.opt_str("code")?,
                "description": c.opt_str("description")?,
                "account_type": super::lines::status_code(&c, "account_type")?,
            }),
            None => return Err(FieldError("`account_code` is missing".into())),
        };
        let department = match o.opt_obj("department")? {
            Some(d) => json!({
                "id": d.opt_int("id")?,
                "name": d.opt_str("name")?,
                "external_id": d.opt_str("external_id")?,
                "location": location(d.opt_obj("branch")?)?,
            }),
            None => return Err(FieldError("`department` is missing".into())),
        };
        Ok(json!({
            "id": id,
            "active": o.opt_bool("active")?,
            "account_code": code,
            "department": department,
            "budget": o.opt_decimal("budget")?,
            "start": o.opt_rfc3339("start_datetime")?,
            "end": o.opt_rfc3339("end_datetime")?,
        }))
    };
    inner()
        .map(|b| (id.to_string(), b))
        .map_err(|e| e.within(format!("account {id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_joins_code_and_department() {
        let raw = json!({
            "balance_approved": "100.00", "start_datetime": null, "end_datetime": null,
            "account_code": {"applied_accounts_count": 3, "parent": null, "account_type": 2, "code": "610000", "description": "Office Supplies", "active": true, "id": 3},
            "active": true, "id": 12,
            "department": {"name": "Finance", "active": true, "external_id": "10100", "id": 6, "branch": {"headquarter": true, "name": "Head Office", "id": 1}},
            "budget": "5000.00"
        });
        let (key, b) = normalize(&raw).unwrap();
        assert_eq!(key, "12");
        assert_eq!(
            b["account_code"],
            json!({"id": 3, "code": "610000", "description": "Office Supplies", "account_type": 2})
        );
        assert_eq!(
            b["department"]["location"],
            json!({"id": 1, "name": "Head Office"})
        );
        assert_eq!(b["budget"], "5000");
    }

    #[test]
    fn spec_example_account_with_placeholder_budget_is_refused() {
        // From the OpenAPI example of ChartOfAccountsAccount.
        let raw = json!({"balance_approved": "balance_approved", "account_code": {"code": "code", "description": "description", "id": 3, "account_type": null},
                         "id": 0, "department": {"name": "name", "external_id": "external_id", "id": 6, "branch": {"name": "name", "id": 1}}, "budget": "budget"});
        assert_eq!(
            normalize(&raw).unwrap_err().0,
            "account 0: `budget`: not a decimal number: budget"
        );
        assert_eq!(
            normalize(&json!({"id": 1})).unwrap_err().0,
            "account 1: `account_code` is missing"
        );
    }
}
