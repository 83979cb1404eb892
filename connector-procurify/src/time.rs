//! Timestamps: parsing the ISO 8601 forms Procurify sends (offsets, fractions,
//! plain dates), printing RFC 3339 UTC, and the day arithmetic the cursors need.
//! Pure integer calendar math, so no clock or time-zone database is involved.

use std::fmt;

/// An instant: whole seconds since the Unix epoch (UTC) plus nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub secs: i64,
    /// Nanoseconds within the second (0..1e9).
    pub nanos: u32,
}

/// Why a timestamp could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTimestamp(pub String);

impl fmt::Display for BadTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an ISO 8601 date or date-time: {}", self.0)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Reads exactly `n` ASCII digits at `*pos`.
fn digits(b: &[u8], pos: &mut usize, n: usize) -> Option<u32> {
    let s = b.get(*pos..*pos + n)?;
    if !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    *pos += n;
    Some(s.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

fn expect(b: &[u8], pos: &mut usize, c: u8) -> Option<()> {
    (b.get(*pos) == Some(&c)).then(|| *pos += 1)
}

impl Instant {
    /// Parses `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DD[T ]hh:mm[:ss[.fff…]][Z|±hh[:]mm]`
    /// (no offset means UTC, as Procurify's API serializes in UTC).
    pub fn parse(text: &str) -> Result<Instant, BadTimestamp> {
        Self::parse_inner(text.trim()).ok_or_else(|| BadTimestamp(mlc_guest::excerpt(text, 40)))
    }

    fn parse_inner(s: &str) -> Option<Instant> {
        let b = s.as_bytes();
        let mut p = 0;
        let year = digits(b, &mut p, 4)?;
        expect(b, &mut p, b'-')?;
        let month = digits(b, &mut p, 2)?;
        expect(b, &mut p, b'-')?;
        let day = digits(b, &mut p, 2)?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(i64::from(year), month) {
            return None;
        }
        let days = days_from_civil(i64::from(year), month, day);
        if p == b.len() {
            return Some(Instant {
                secs: days * 86_400,
                nanos: 0,
            });
        }
        match b.get(p) {
            Some(b'T' | b't' | b' ') => p += 1,
            _ => return None,
        }
        let hour = digits(b, &mut p, 2)?;
        expect(b, &mut p, b':')?;
        let minute = digits(b, &mut p, 2)?;
        let mut second = 0;
        let mut nanos = 0u32;
        if b.get(p) == Some(&b':') {
            p += 1;
            second = digits(b, &mut p, 2)?;
            if matches!(b.get(p), Some(b'.' | b',')) {
                p += 1;
                let start = p;
                while b.get(p).is_some_and(u8::is_ascii_digit) {
                    p += 1;
                }
                let frac = &s[start..p];
                if frac.is_empty() {
                    return None;
                }
                // Keep nanosecond precision; extra digits are truncated.
                let mut padded: String = frac.chars().take(9).collect();
                while padded.len() < 9 {
                    padded.push('0');
                }
                nanos = padded.parse().ok()?;
            }
        }
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let offset_secs: i64 = match b.get(p) {
            None => 0,
            Some(b'Z' | b'z') => {
                p += 1;
                0
            }
            Some(&sign @ (b'+' | b'-')) => {
                p += 1;
                let oh = digits(b, &mut p, 2)?;
                if b.get(p) == Some(&b':') {
                    p += 1;
                }
                let om = digits(b, &mut p, 2)?;
                if oh > 23 || om > 59 {
                    return None;
                }
                let off = i64::from(oh * 3600 + om * 60);
                if sign == b'-' { -off } else { off }
            }
            _ => return None,
        };
        if p != b.len() {
            return None;
        }
        let local = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
        Some(Instant {
            secs: local - offset_secs,
            nanos,
        })
    }

    /// The instant `secs` seconds earlier (saturating at the epoch's far past).
    pub fn minus_secs(self, secs: u64) -> Instant {
        Instant {
            secs: self
                .secs
                .saturating_sub(i64::try_from(secs).unwrap_or(i64::MAX)),
            nanos: self.nanos,
        }
    }

    /// The UTC calendar date, `YYYY-MM-DD` (what date-only filters take).
    pub fn date(self) -> String {
        let (y, m, d) = civil_from_days(self.secs.div_euclid(86_400));
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// RFC 3339 in UTC with a `Z`; fractional seconds only when non-zero
    /// (trailing zeros trimmed), e.g. `2026-11-01T08:30:00Z`, `…:00.25Z`.
    pub fn rfc3339(self) -> String {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
        let mut out = format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}");
        if self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        out.push('Z');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Instant::parse(s).unwrap().rfc3339()
    }

    #[test]
    fn spec_example_timestamps_become_utc_rfc3339() {
        assert_eq!(
            norm("2000-01-23T04:56:07.000+00:00"),
            "2000-01-23T04:56:07Z"
        );
        assert_eq!(norm("2026-11-01T08:30:00Z"), "2026-11-01T08:30:00Z");
        assert_eq!(norm("2026-11-01T08:30:00"), "2026-11-01T08:30:00Z");
        assert_eq!(
            norm("2026-11-01 08:30:00.250000"),
            "2026-11-01T08:30:00.25Z"
        );
    }

    #[test]
    fn offsets_are_converted_across_day_boundaries() {
        assert_eq!(norm("2026-03-01T01:00:00+02:00"), "2026-02-28T23:00:00Z");
        assert_eq!(norm("2024-02-28T23:30:00-0100"), "2024-02-29T00:30:00Z");
        assert_eq!(norm("1999-12-31T23:59-00:30"), "2000-01-01T00:29:00Z");
    }

    #[test]
    fn plain_dates_are_midnight_utc() {
        assert_eq!(norm("2026-11-01"), "2026-11-01T00:00:00Z");
        assert_eq!(Instant::parse("2026-11-01").unwrap().date(), "2026-11-01");
    }

    #[test]
    fn impossible_dates_and_garbage_are_refused() {
        for bad in [
            "",
            "2026-02-30",
            "2025-02-29",
            "2026-13-01",
            "2026-11-01T25:00:00Z",
            "2026-11-01T10:00:00+5",
            "20261101",
            "date",
            "2026-11-01T10:00:00Zjunk",
            "2026-11-01T10:00:00.Z",
        ] {
            assert!(Instant::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Instant::parse("2024-02-29").is_ok());
    }

    #[test]
    fn overlap_subtraction_moves_the_date_back() {
        let t = Instant::parse("2026-11-02T03:00:00Z").unwrap();
        assert_eq!(t.minus_secs(86_400).rfc3339(), "2026-11-01T03:00:00Z");
        assert_eq!(t.minus_secs(86_400).date(), "2026-11-01");
        assert_eq!(t.minus_secs(4 * 3600).date(), "2026-11-01");
        assert_eq!(t.minus_secs(0), t);
    }

    #[test]
    fn ordering_follows_time_not_text() {
        let a = Instant::parse("2026-11-01T10:00:00+02:00").unwrap();
        let b = Instant::parse("2026-11-01T09:00:00Z").unwrap();
        assert!(a < b);
    }

    #[test]
    fn calendar_round_trips_over_centuries() {
        for days in [-800_000i64, -1, 0, 59, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
