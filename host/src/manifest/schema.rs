//! Checks a connection's settings against the JSON Schema its connector
//! publishes in `spec()`: the subset connectors use (types, required and
//! unknown properties, enums, bounds, lengths, arrays), with errors that name
//! the manifest key.

use serde_json::Value;

/// Every violation of `schema` by `value`; `at` is the manifest key of `value`.
pub fn violations(schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let mut out = Vec::new();
    check(schema, value, at, &mut out);
    out
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => true,
    }
}

fn check(schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    if let Some(t) = schema.get("type") {
        let allowed: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !allowed.is_empty() && !allowed.iter().any(|t| type_matches(t, value)) {
            out.push(format!(
                "{at}: expected {}, got {value}",
                allowed.join(" or ")
            ));
            return;
        }
    }
    if let Some(Value::Array(options)) = schema.get("enum")
        && !options.contains(value)
    {
        let list: Vec<String> = options.iter().map(Value::to_string).collect();
        out.push(format!("{at}: {value} is not one of {}", list.join(", ")));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            out.push(format!("{at}: {value} is below the minimum {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            out.push(format!("{at}: {value} is above the maximum {max}"));
        }
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && len < min
        {
            out.push(format!("{at}: shorter than {min} characters"));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && len > max
        {
            out.push(format!("{at}: longer than {max} characters"));
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check(items, item, &format!("{at}[{i}]"), out);
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    out.push(format!("{at}.{name}: required but missing"));
                }
            }
        }
        for (name, v) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(sub) => check(sub, v, &format!("{at}.{name}"), out),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    let known: Vec<&str> = properties
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    out.push(format!(
                        "{at}.{name}: unknown setting; valid settings are {}",
                        known.join(", ")
                    ));
                }
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object", "additionalProperties": false, "required": ["node"],
            "properties": {
                "node": {"type": "string", "maxLength": 8},
                "page_size": {"type": "integer", "minimum": 1, "maximum": 1000},
                "soap_version": {"type": "string", "enum": ["1.1", "1.2"]}
            }
        })
    }

    #[test]
    fn valid_settings_pass() {
        assert!(
            violations(
                &schema(),
                &json!({"node": "PSFT_EP", "page_size": 100}),
                "c"
            )
            .is_empty()
        );
    }

    #[test]
    fn every_violation_names_its_key() {
        let v = violations(
            &schema(),
            &json!({"page_size": 0, "soap_version": "2.0", "nod": "x"}),
            "tenants.acme.connections.ps.config",
        );
        let text = v.join("\n");
        assert!(
            text.contains("tenants.acme.connections.ps.config.node: required but missing"),
            "{text}"
        );
        assert!(
            text.contains("config.page_size: 0 is below the minimum 1"),
            "{text}"
        );
        assert!(
            text.contains("config.soap_version: \"2.0\" is not one of \"1.1\", \"1.2\""),
            "{text}"
        );
        assert!(
            text.contains(
                "config.nod: unknown setting; valid settings are node, page_size, soap_version"
            ),
            "{text}"
        );
    }

    #[test]
    fn wrong_types_are_reported_with_the_expected_type() {
        let v = violations(&schema(), &json!({"node": 5}), "c");
        assert_eq!(v, vec!["c.node: expected string, got 5".to_string()]);
    }
}
