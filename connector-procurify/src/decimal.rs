//! Exact decimal normalization: Procurify sends money and quantities as decimal
//! strings (`"12.50000000"`) and a few as JSON numbers; documents carry them as
//! canonical decimal strings (`"12.5"`), never through `f64` arithmetic.

use serde_json::Value;

/// Why a value is not a decimal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotDecimal(pub String);

impl std::fmt::Display for NotDecimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not a decimal number: {}", self.0)
    }
}

/// Largest exponent accepted in `1e<exp>` notation; bigger ones are not money.
const MAX_EXPONENT: i64 = 64;

/// Canonical form of a decimal written as text: no leading `+`, no leading
/// zeros, no trailing fractional zeros, no exponent, `"0"` for any zero.
///
/// Accepts `-1.50`, `.5`, `5.`, `1e3`, `1.5E-2`, surrounding spaces.
pub fn normalize(text: &str) -> Result<String, NotDecimal> {
    let bad = || NotDecimal(mlc_guest::excerpt(text, 40));
    let s = text.trim();
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => {
            let exp: i64 = s[i + 1..].parse().map_err(|_| bad())?;
            if exp.abs() > MAX_EXPONENT {
                return Err(bad());
            }
            (&s[..i], exp)
        }
        None => (s, 0),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(bad());
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    // All digits, with the decimal point moved by the exponent: value =
    // digits * 10^(point_shift) where point_shift counts digits after the point.
    let digits: String = format!("{int_part}{frac_part}");
    let point = int_part.len() as i64 + exponent; // position of the point in `digits`
    let (int_digits, frac_digits) = if point <= 0 {
        (
            String::new(),
            format!("{}{}", "0".repeat((-point) as usize), digits),
        )
    } else if point as usize >= digits.len() {
        (
            format!("{}{}", digits, "0".repeat(point as usize - digits.len())),
            String::new(),
        )
    } else {
        (
            digits[..point as usize].to_string(),
            digits[point as usize..].to_string(),
        )
    };
    let int_trimmed = int_digits.trim_start_matches('0');
    let frac_trimmed = frac_digits.trim_end_matches('0');
    let mut out = String::with_capacity(int_trimmed.len() + frac_trimmed.len() + 3);
    if int_trimmed.is_empty() && frac_trimmed.is_empty() {
        return Ok("0".to_string());
    }
    if negative {
        out.push('-');
    }
    if int_trimmed.is_empty() {
        out.push('0');
    } else {
        out.push_str(int_trimmed);
    }
    if !frac_trimmed.is_empty() {
        out.push('.');
        out.push_str(frac_trimmed);
    }
    Ok(out)
}

/// Canonical decimal of a JSON value that should hold one: a string, or a
/// number (printed by serde_json in its shortest round-trip form, so `2.5`
/// stays `2.5`). `null` gives `None`.
pub fn from_json(value: &Value) -> Result<Option<String>, NotDecimal> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => normalize(s).map(Some),
        Value::Number(n) => normalize(&n.to_string()).map(Some),
        other => Err(NotDecimal(format!("{} value", kind(other)))),
    }
}

/// A short name of a JSON value's type, for error messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trailing_zeros_of_procurify_prices_are_dropped() {
        assert_eq!(normalize("12.50000000").unwrap(), "12.5");
        assert_eq!(normalize("100.00").unwrap(), "100");
        assert_eq!(normalize("0.00100").unwrap(), "0.001");
    }

    #[test]
    fn zeros_and_signs_have_one_form() {
        assert_eq!(normalize("0").unwrap(), "0");
        assert_eq!(normalize("-0.000").unwrap(), "0");
        assert_eq!(normalize("+3").unwrap(), "3");
        assert_eq!(normalize("-007.10").unwrap(), "-7.1");
        assert_eq!(normalize(".5").unwrap(), "0.5");
        assert_eq!(normalize("5.").unwrap(), "5");
        assert_eq!(normalize(" 42 ").unwrap(), "42");
    }

    #[test]
    fn exponent_notation_is_expanded_exactly() {
        assert_eq!(normalize("1e3").unwrap(), "1000");
        assert_eq!(normalize("1.5E-2").unwrap(), "0.015");
        assert_eq!(normalize("12.345e1").unwrap(), "123.45");
        assert_eq!(normalize("-2.5e-7").unwrap(), "-0.00000025");
    }

    #[test]
    fn long_values_keep_every_digit() {
        // More digits than an f64 holds: must survive unchanged.
        assert_eq!(
            normalize("1234567890123.12345678").unwrap(),
            "1234567890123.12345678"
        );
    }

    #[test]
    fn garbage_is_refused_with_an_excerpt() {
        for bad in [
            "", "-", ".", "abc", "1.2.3", "1,5", "1e", "1e999", "price", "NaN", "--1",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            normalize("price").unwrap_err().to_string(),
            "not a decimal number: price"
        );
    }

    #[test]
    fn json_numbers_strings_and_null_are_accepted() {
        assert_eq!(from_json(&json!("7.00000")).unwrap().as_deref(), Some("7"));
        assert_eq!(from_json(&json!(2.5)).unwrap().as_deref(), Some("2.5"));
        assert_eq!(from_json(&json!(0.1)).unwrap().as_deref(), Some("0.1"));
        assert_eq!(from_json(&json!(3)).unwrap().as_deref(), Some("3"));
        assert_eq!(from_json(&json!(null)).unwrap(), None);
        assert!(from_json(&json!(true)).is_err());
        assert!(from_json(&json!({"a": 1})).is_err());
    }
}
