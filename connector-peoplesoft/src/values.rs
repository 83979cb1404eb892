//! Exact value checks shared by the streams: decimal strings (never floats),
//! calendar dates `YYYY-MM-DD` and day arithmetic for the voucher cursor.

/// A decimal parsed exactly: `units / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    /// The digits as an integer (sign included).
    pub units: i128,
    /// Digits after the decimal point.
    pub scale: u32,
}

impl Decimal {
    /// This value scaled to `scale` decimals (`scale` >= self.scale).
    pub fn at_scale(self, scale: u32) -> i128 {
        self.units * 10i128.pow(scale.saturating_sub(self.scale))
    }

    /// Whether the value is above zero.
    pub fn is_positive(self) -> bool {
        self.units > 0
    }

    /// Whether the value is below zero.
    pub fn is_negative(self) -> bool {
        self.units < 0
    }
}

/// Parses a plain decimal (`12`, `-3.50`, `0.125`) with at most `int_digits`
/// before and `frac_digits` after the point. No exponent, no `+`, no
/// separators, no surrounding spaces: what is sent is exactly what was given.
pub fn parse_decimal(text: &str, int_digits: usize, frac_digits: usize) -> Result<Decimal, String> {
    let body = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty()
        || !digits_only(int)
        || !digits_only(frac)
        || (body.contains('.') && frac.is_empty())
    {
        return Err(format!("{text:?} is not a decimal like \"12.50\""));
    }
    let significant = int.trim_start_matches('0');
    if significant.len() > int_digits {
        return Err(format!(
            "{text:?} has more than {int_digits} digits before the decimal point"
        ));
    }
    if frac.len() > frac_digits {
        return Err(format!(
            "{text:?} has more than {frac_digits} digits after the decimal point"
        ));
    }
    let mut units: i128 = 0;
    for b in significant.bytes().chain(frac.bytes()) {
        units = units * 10 + i128::from(b - b'0');
    }
    if text.starts_with('-') {
        units = -units;
    }
    Ok(Decimal {
        units,
        scale: frac.len() as u32,
    })
}

/// Formats `units / 10^scale` as a plain decimal without trailing zeros.
pub fn format_scaled(units: i128, scale: u32) -> String {
    let negative = units < 0;
    let abs = units.unsigned_abs();
    let pow = 10u128.pow(scale);
    let int = abs / pow;
    let mut frac = format!("{:0width$}", abs % pow, width = scale as usize);
    while frac.ends_with('0') {
        frac.pop();
    }
    let sign = if negative { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Year (1..=9999).
    pub year: i32,
    /// Month (1..=12).
    pub month: u32,
    /// Day of month.
    pub day: u32,
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Parses exactly `YYYY-MM-DD` (a real calendar date).
pub fn parse_date(text: &str) -> Option<Date> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |s: &str| -> Option<u32> {
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let year = num(&text[0..4])? as i32;
    let month = num(&text[5..7])?;
    let day = num(&text[8..10])?;
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(Date { year, month, day })
}

/// The date part of a PeopleSoft date or datetime value (`2026-11-03`,
/// `2026-11-03T10:15:00`, `2026-11-03-10.15.00.000000`, `2026-11-03 10:15:00`).
pub fn date_part(text: &str) -> Option<Date> {
    let t = text.trim();
    let head = t.get(0..10)?;
    let rest = &t[10..];
    if !(rest.is_empty() || rest.starts_with(['T', ' ', '-'])) {
        return None;
    }
    parse_date(head)
}

/// Days since 1970-01-01 (proleptic Gregorian; Howard Hinnant's algorithm).
pub fn days_from_civil(d: Date) -> i64 {
    let y = i64::from(d.year) - i64::from(d.month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(d.month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d.day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` days after 1970-01-01.
pub fn civil_from_days(days: i64) -> Date {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    Date { year, month, day }
}

/// `date` moved back by `days` days.
pub fn minus_days(date: Date, days: u32) -> Date {
    civil_from_days(days_from_civil(date) - i64::from(days))
}

/// The UTC date of a Unix time in milliseconds.
pub fn date_of_unix_ms(ms: u64) -> Date {
    civil_from_days((ms / 86_400_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly_within_their_digit_limits() {
        assert_eq!(
            parse_decimal("12.50", 11, 4).unwrap(),
            Decimal {
                units: 1250,
                scale: 2
            }
        );
        assert_eq!(parse_decimal("-0.1", 11, 4).unwrap().units, -1);
        assert_eq!(parse_decimal("007", 1, 0).unwrap().units, 7);
        for bad in [
            "", "1.", ".5", "1e3", "+1", "1,5", " 1", "1 ", "abc", "1.2.3", "--1", "NaN",
        ] {
            assert!(parse_decimal(bad, 11, 4).is_err(), "{bad:?} accepted");
        }
        assert!(
            parse_decimal("1.23456", 11, 4)
                .unwrap_err()
                .contains("after")
        );
        assert!(
            parse_decimal("123456789012", 11, 4)
                .unwrap_err()
                .contains("before")
        );
    }

    #[test]
    fn scaled_sums_compare_exactly() {
        let a = parse_decimal("0.1", 11, 4).unwrap().at_scale(5);
        let b = parse_decimal("0.2", 11, 4).unwrap().at_scale(5);
        let c = parse_decimal("0.30", 11, 4).unwrap().at_scale(5);
        assert_eq!(a + b, c);
        assert_eq!(format_scaled(30_000, 5), "0.3");
        assert_eq!(format_scaled(-1_250_000, 5), "-12.5");
        assert_eq!(format_scaled(1_000_000, 5), "10");
    }

    #[test]
    fn dates_are_validated_and_shifted_across_months_and_leap_years() {
        assert_eq!(
            parse_date("2024-02-29").map(|d| d.to_string()).as_deref(),
            Some("2024-02-29")
        );
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-1-01",
            "2026/01/01",
            "20260101",
            "2026-00-10",
        ] {
            assert!(parse_date(bad).is_none(), "{bad} accepted");
        }
        let d = parse_date("2024-03-01").unwrap();
        assert_eq!(minus_days(d, 1).to_string(), "2024-02-29");
        assert_eq!(
            minus_days(parse_date("2026-01-01").unwrap(), 1).to_string(),
            "2025-12-31"
        );
        assert_eq!(minus_days(d, 0), d);
        assert_eq!(civil_from_days(0).to_string(), "1970-01-01");
        assert_eq!(date_of_unix_ms(1_795_000_000_000).to_string(), "2026-11-18");
    }

    #[test]
    fn date_part_reads_peoplesoft_datetimes() {
        for t in [
            "2026-11-03",
            "2026-11-03T10:15:00",
            "2026-11-03-10.15.00.000000",
            " 2026-11-03 10:15:00",
        ] {
            assert_eq!(
                date_part(t).map(|d| d.to_string()).as_deref(),
                Some("2026-11-03"),
                "{t}"
            );
        }
        assert!(date_part("2026-11-0312").is_none());
        assert!(date_part("11/03/2026").is_none());
    }
}
