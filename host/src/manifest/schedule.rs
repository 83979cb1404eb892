//! When a flow runs: `every = "5m"` (s, m, h, d units) or a cron pattern
//! (`cron = "0 */15 * * *"`, UTC), or only on demand.

use std::str::FromStr;
use std::time::Duration;

/// A flow's schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Only when asked (`ml-connector sync`).
    OnDemand,
    /// At a fixed interval after the previous run started.
    Every(Duration),
    /// At the times a cron pattern matches (UTC).
    Cron {
        /// The pattern as written.
        pattern: String,
        /// The parsed pattern.
        cron: Box<croner::Cron>,
    },
}

impl Schedule {
    /// Parses `every` (e.g. `90s`, `5m`, `1h`, `1d`).
    pub fn every(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| {
            format!("{text:?} has no unit; write e.g. \"30s\", \"5m\", \"1h\" or \"1d\"")
        })?;
        let (number, unit) = text.split_at(split);
        let n: u64 = number
            .parse()
            .map_err(|_| format!("{text:?} does not start with a whole number"))?;
        let secs = match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            "d" => n * 86_400,
            other => {
                return Err(format!(
                    "unknown unit {other:?} in {text:?}; use s, m, h or d"
                ));
            }
        };
        if secs < 10 {
            return Err(format!(
                "{text:?} is too frequent; the shortest interval is 10s"
            ));
        }
        Ok(Schedule::Every(Duration::from_secs(secs)))
    }

    /// Parses a cron pattern (5 fields, or 6 with seconds).
    pub fn cron(pattern: &str) -> Result<Schedule, String> {
        let cron = croner::Cron::from_str(pattern)
            .map_err(|e| format!("cron pattern {pattern:?}: {e}"))?;
        Ok(Schedule::Cron {
            pattern: pattern.to_string(),
            cron: Box::new(cron),
        })
    }

    /// The next run time after a run that started at `last_start_ms` (or never),
    /// as seen at `now_ms`; `None` for on-demand flows.
    pub fn next_run_ms(&self, last_start_ms: Option<u64>, now_ms: u64) -> Option<u64> {
        match self {
            Schedule::OnDemand => None,
            Schedule::Every(interval) => Some(match last_start_ms {
                Some(last) => last + interval.as_millis() as u64,
                None => now_ms,
            }),
            Schedule::Cron { cron, .. } => {
                let now = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now_ms as i64)?;
                cron.find_next_occurrence(&now, false)
                    .ok()
                    .map(|t| t.timestamp_millis() as u64)
            }
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::OnDemand => f.write_str("on demand"),
            Schedule::Every(d) => write!(f, "every {}s", d.as_secs()),
            Schedule::Cron { pattern, .. } => write!(f, "cron {pattern}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_take_units() {
        assert!(matches!(Schedule::every("5m"), Ok(Schedule::Every(d)) if d.as_secs() == 300));
        assert!(matches!(Schedule::every("1d"), Ok(Schedule::Every(d)) if d.as_secs() == 86_400));
        assert!(Schedule::every("5").unwrap_err().contains("no unit"));
        assert!(Schedule::every("5w").unwrap_err().contains("unknown unit"));
        assert!(Schedule::every("1s").unwrap_err().contains("too frequent"));
    }

    #[test]
    fn cron_patterns_are_checked_and_give_the_next_time() {
        assert!(Schedule::cron("every tuesday").is_err());
        let s = Schedule::cron("0 * * * *").unwrap();
        // 2026-11-27T22:10:00Z -> 23:00.
        let next = s.next_run_ms(None, 1_795_817_400_000).unwrap();
        assert_eq!(next % 3_600_000, 0);
        assert!(next > 1_795_817_400_000 && next - 1_795_817_400_000 <= 3_600_000);
    }

    #[test]
    fn intervals_count_from_the_last_start() {
        let s = Schedule::every("10m").unwrap();
        assert_eq!(s.next_run_ms(None, 1000), Some(1000));
        assert_eq!(s.next_run_ms(Some(1000), 5000), Some(601_000));
    }
}
