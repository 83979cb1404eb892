//! Typed, non-panicking access to the fields of one JSON record, with errors
//! that name the field. Missing and `null` read as "absent" for optional
//! fields; a present value of the wrong type is an error, never a guess.

use serde_json::{Map, Value};

use crate::decimal::{self, kind};
use crate::time::Instant;

/// What is wrong with a record, naming the field (`price: not a decimal number: abc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError(pub String);

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl FieldError {
    /// The same error, prefixed with where it happened (`line 88: …`).
    pub fn within(self, place: impl std::fmt::Display) -> FieldError {
        FieldError(format!("{place}: {}", self.0))
    }
}

/// A JSON object being read.
#[derive(Debug, Clone, Copy)]
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
}

fn wrong(key: &str, expected: &str, got: &Value) -> FieldError {
    FieldError(format!(
        "`{key}` should be {expected}, got {}",
        describe(got)
    ))
}

/// `string "abc"` / `number 1.5` / `object`: what a value is, briefly.
fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("string {:?}", mlc_guest::excerpt(s, 30)),
        Value::Number(n) => format!("number {n}"),
        Value::Bool(b) => format!("boolean {b}"),
        other => kind(other).to_string(),
    }
}

impl<'a> Obj<'a> {
    /// Views `value` as an object.
    pub fn new(value: &'a Value) -> Result<Obj<'a>, FieldError> {
        match value {
            Value::Object(map) => Ok(Obj { map }),
            other => Err(FieldError(format!(
                "record should be an object, got {}",
                describe(other)
            ))),
        }
    }

    /// The raw value of `key`, `None` when absent or `null`.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A required integer (an integer-valued string is accepted too).
    pub fn int(&self, key: &str) -> Result<i64, FieldError> {
        self.opt_int(key)?
            .ok_or_else(|| FieldError(format!("`{key}` is missing")))
    }

    /// An optional integer.
    pub fn opt_int(&self, key: &str) -> Result<Option<i64>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| wrong(key, "an integer", &Value::Number(n.clone()))),
            Some(v @ Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| wrong(key, "an integer", v)),
            Some(v) => Err(wrong(key, "an integer", v)),
        }
    }

    /// An optional string; numbers are accepted and printed (external ids
    /// sometimes come back numeric).
    pub fn opt_str(&self, key: &str) -> Result<Option<String>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(v) => Err(wrong(key, "a string", v)),
        }
    }

    /// A required, non-empty string.
    pub fn string(&self, key: &str) -> Result<String, FieldError> {
        match self.opt_str(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(FieldError(format!("`{key}` is empty"))),
            None => Err(FieldError(format!("`{key}` is missing"))),
        }
    }

    /// An optional boolean.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(wrong(key, "a boolean", v)),
        }
    }

    /// A required decimal, canonical (`"12.50000000"` -> `"12.5"`).
    pub fn decimal(&self, key: &str) -> Result<String, FieldError> {
        self.opt_decimal(key)?
            .ok_or_else(|| FieldError(format!("`{key}` is missing")))
    }

    /// An optional decimal, canonical.
    pub fn opt_decimal(&self, key: &str) -> Result<Option<String>, FieldError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(v) => decimal::from_json(v).map_err(|e| FieldError(format!("`{key}`: {e}"))),
        }
    }

    /// An optional timestamp (RFC 3339 or plain date).
    pub fn opt_time(&self, key: &str) -> Result<Option<Instant>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Instant::parse(s)
                .map(Some)
                .map_err(|e| FieldError(format!("`{key}`: {e}"))),
            Some(v) => Err(wrong(key, "a date-time string", v)),
        }
    }

    /// An optional timestamp printed as RFC 3339 UTC.
    pub fn opt_rfc3339(&self, key: &str) -> Result<Option<String>, FieldError> {
        Ok(self.opt_time(key)?.map(Instant::rfc3339))
    }

    /// An optional nested object.
    pub fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj { map })),
            Some(v) => Err(wrong(key, "an object", v)),
        }
    }

    /// A list of strings (absent or null: empty).
    pub fn str_list(&self, key: &str) -> Result<Vec<String>, FieldError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_null())
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(wrong(&format!("{key}[{i}]"), "a string", other)),
                })
                .collect(),
            Some(v) => Err(wrong(key, "an array", v)),
        }
    }

    /// A list of integers (absent or null: empty).
    pub fn int_list(&self, key: &str) -> Result<Vec<i64>, FieldError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_i64()
                        .ok_or_else(|| wrong(&format!("{key}[{i}]"), "an integer", v))
                })
                .collect(),
            Some(v) => Err(wrong(key, "an array", v)),
        }
    }

    /// An id that may come as a bare integer or as an object with `id`
    /// (Procurify nests some references in one endpoint and not in another).
    pub fn opt_ref_id(&self, key: &str) -> Result<Option<i64>, FieldError> {
        match self.get(key) {
            Some(Value::Object(map)) => Obj { map }
                .opt_int("id")
                .map_err(|e| e.within(format!("`{key}`"))),
            _ => self.opt_int(key),
        }
    }

    /// The keys present in this object.
    pub fn keys(&self) -> impl Iterator<Item = &'a String> {
        self.map.keys()
    }
}

/// The best identity of a record that may be malformed, for bad-record reports.
pub fn key_of(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => "?".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrong_types_name_the_field_and_what_came() {
        let v = json!({"id": "x1", "active": "yes", "price": [1], "name": 5});
        let o = Obj::new(&v).unwrap();
        assert_eq!(
            o.int("id").unwrap_err().0,
            "`id` should be an integer, got string \"x1\""
        );
        assert_eq!(
            o.opt_bool("active").unwrap_err().0,
            "`active` should be a boolean, got string \"yes\""
        );
        assert_eq!(
            o.decimal("price").unwrap_err().0,
            "`price`: not a decimal number: array value"
        );
        assert_eq!(o.opt_str("name").unwrap().as_deref(), Some("5"));
    }

    #[test]
    fn nulls_and_missing_fields_read_as_absent() {
        let v = json!({"a": null});
        let o = Obj::new(&v).unwrap();
        assert_eq!(o.opt_int("a").unwrap(), None);
        assert_eq!(o.opt_str("b").unwrap(), None);
        assert_eq!(o.opt_decimal("a").unwrap(), None);
        assert_eq!(o.opt_time("a").unwrap(), None);
        assert!(o.str_list("a").unwrap().is_empty());
        assert_eq!(o.int("a").unwrap_err().0, "`a` is missing");
    }

    #[test]
    fn references_may_be_ids_or_nested_objects() {
        let v = json!({"currency": 5, "vendor": {"id": 7, "name": "Acme"}, "x": {"name": 1}});
        let o = Obj::new(&v).unwrap();
        assert_eq!(o.opt_ref_id("currency").unwrap(), Some(5));
        assert_eq!(o.opt_ref_id("vendor").unwrap(), Some(7));
        assert_eq!(o.opt_ref_id("x").unwrap(), None);
    }

    #[test]
    fn non_objects_are_refused_and_keys_still_found_when_possible() {
        assert!(Obj::new(&json!([1])).is_err());
        assert_eq!(key_of(&json!({"id": 12}), "id"), "12");
        assert_eq!(key_of(&json!("junk"), "id"), "?");
    }
}
