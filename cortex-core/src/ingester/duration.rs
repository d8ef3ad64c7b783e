//! Durations in configuration files, written as Go writes them (`2h`, `1m30s`, `500ms`,
//! `1.5h`, `0`), which is how Cortex's YAML spells every duration option.
//!
//! Parsing accepts what Go's `time.ParseDuration` accepts for non-negative values;
//! printing follows Go's `Duration.String` (`2h0m0s`, `1m30s`, `500ms`, `0s`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration read from and written to configuration in Go's notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    /// Whole hours.
    pub const fn hours(h: u64) -> GoDuration {
        GoDuration(Duration::from_secs(h * 3600))
    }

    /// Whole minutes.
    pub const fn minutes(m: u64) -> GoDuration {
        GoDuration(Duration::from_secs(m * 60))
    }

    /// Zero.
    pub const ZERO: GoDuration = GoDuration(Duration::ZERO);

    /// True for a zero duration (Cortex's "disabled" for most options).
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// Milliseconds, saturating at `i64::MAX`.
    pub fn as_millis_i64(self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }

    /// Parses Go's notation: a sequence of decimal numbers with units `ns`, `us` (or
    /// `µs`), `ms`, `s`, `m`, `h`; a bare `0` is zero. Negative durations are refused.
    pub fn parse(s: &str) -> Result<GoDuration, String> {
        let bad = || format!("invalid duration {s:?}");
        let mut rest = s.trim();
        if let Some(r) = rest.strip_prefix('+') {
            rest = r;
        }
        if rest.starts_with('-') {
            return Err(format!("negative duration {s:?} is not allowed"));
        }
        if rest == "0" {
            return Ok(GoDuration::ZERO);
        }
        if rest.is_empty() {
            return Err(bad());
        }
        let mut total: u128 = 0;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            let (num, tail) = rest.split_at(num_len);
            if num.is_empty() || num == "." {
                return Err(bad());
            }
            let unit_len = tail
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(tail.len());
            let (unit, tail) = tail.split_at(unit_len);
            let scale: u128 = match unit {
                "ns" => 1,
                "us" | "µs" | "μs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                _ => return Err(bad()),
            };
            let (int, frac) = num.split_once('.').unwrap_or((num, ""));
            let int: u128 = if int.is_empty() {
                0
            } else {
                int.parse().map_err(|_| bad())?
            };
            let mut part = int.checked_mul(scale).ok_or_else(bad)?;
            let mut div = 1u128;
            for c in frac.chars().take(18) {
                div *= 10;
                let d = u128::from(c.to_digit(10).ok_or_else(bad)?);
                part = part.checked_add(d * scale / div).ok_or_else(bad)?;
            }
            total = total.checked_add(part).ok_or_else(bad)?;
            rest = tail;
        }
        let secs = u64::try_from(total / 1_000_000_000).map_err(|_| bad())?;
        Ok(GoDuration(Duration::new(
            secs,
            (total % 1_000_000_000) as u32,
        )))
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.is_zero() {
            return f.write_str("0s");
        }
        if d < Duration::from_secs(1) {
            let ns = d.subsec_nanos();
            return if ns.is_multiple_of(1_000_000) {
                write!(f, "{}ms", ns / 1_000_000)
            } else if ns.is_multiple_of(1_000) {
                write!(f, "{}µs", ns / 1_000)
            } else {
                write!(f, "{ns}ns")
            };
        }
        let secs = d.as_secs();
        let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        let frac = d.subsec_nanos();
        if h > 0 {
            write!(f, "{h}h{m}m")?;
        } else if m > 0 {
            write!(f, "{m}m")?;
        }
        if frac == 0 {
            write!(f, "{s}s")
        } else {
            let digits = format!("{frac:09}");
            write!(f, "{s}.{}s", digits.trim_end_matches('0'))
        }
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<GoDuration, D::Error> {
        let s = String::deserialize(d)?;
        GoDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_notation() {
        let p = |s| GoDuration::parse(s).unwrap().0;
        assert_eq!(p("2h"), Duration::from_secs(7200));
        assert_eq!(p("1m30s"), Duration::from_secs(90));
        assert_eq!(p("1.5h"), Duration::from_secs(5400));
        assert_eq!(p("500ms"), Duration::from_millis(500));
        assert_eq!(p("0"), Duration::ZERO);
        assert_eq!(p("2h0m0s"), Duration::from_secs(7200));
        for bad in ["", "5", "1x", "-1h", "h", "1..5s"] {
            assert!(GoDuration::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prints_like_go() {
        assert_eq!(GoDuration::hours(2).to_string(), "2h0m0s");
        assert_eq!(GoDuration::minutes(10).to_string(), "10m0s");
        assert_eq!(GoDuration(Duration::from_secs(90)).to_string(), "1m30s");
        assert_eq!(GoDuration(Duration::from_millis(500)).to_string(), "500ms");
        assert_eq!(GoDuration(Duration::from_millis(1500)).to_string(), "1.5s");
        assert_eq!(GoDuration::ZERO.to_string(), "0s");
    }
}
