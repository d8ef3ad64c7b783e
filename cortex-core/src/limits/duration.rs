//! The duration type of Cortex and Prometheus configuration: `2w`, `10m`, `1h30m`, `0s`.
//!
//! Parsing and printing follow Prometheus' `model.Duration`: units `y w d h m s ms`,
//! each at most once and from the largest to the smallest, no fractions, no sign; a bare
//! `0` is allowed. Printing picks the largest units, using years and weeks only when they
//! divide the value exactly (`14d` prints as `2w`, `90d` stays `90d`).

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const MS: u64 = 1_000_000;
const SECOND: u64 = 1000 * MS;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;
const YEAR: u64 = 365 * DAY;

/// Units from the largest to the smallest: (suffix, nanoseconds).
const UNITS: [(&str, u64); 7] = [
    ("y", YEAR),
    ("w", WEEK),
    ("d", DAY),
    ("h", HOUR),
    ("m", MINUTE),
    ("s", SECOND),
    ("ms", MS),
];

/// The largest duration accepted (Go's `time.Duration` range).
const MAX_NANOS: u64 = i64::MAX as u64;

/// A non-negative duration as written in configuration, nanosecond precision (printing
/// shows whole milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(u64);

/// Why a duration string was refused; the texts are Prometheus'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The string is empty.
    #[error("empty duration string")]
    Empty,
    /// The string is not a sequence of `<digits><unit>` in decreasing unit order.
    #[error("not a valid duration string: {0:?}")]
    Invalid(String),
    /// A unit other than `y w d h m s ms`.
    #[error("unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole string.
        input: String,
    },
    /// More than about 292 years.
    #[error("duration out of range")]
    OutOfRange,
}

impl Duration {
    /// Zero.
    pub const ZERO: Duration = Duration(0);

    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Duration {
        Duration(ms.saturating_mul(MS))
    }

    /// A duration of `s` seconds.
    pub const fn from_secs(s: u64) -> Duration {
        Duration(s.saturating_mul(SECOND))
    }

    /// The duration in whole milliseconds (what timestamps are compared in).
    pub const fn as_millis(self) -> i64 {
        (self.0 / MS) as i64
    }

    /// The duration in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// True for a zero duration (which many limits read as "disabled").
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// As a standard library duration.
    pub const fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.0)
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Duration {
        Duration(
            u64::try_from(d.as_nanos())
                .unwrap_or(u64::MAX)
                .min(MAX_NANOS),
        )
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(input: &str) -> Result<Duration, DurationError> {
        match input {
            "0" => return Ok(Duration::ZERO),
            "" => return Err(DurationError::Empty),
            _ => {}
        }
        let invalid = || DurationError::Invalid(input.to_string());
        let mut rest = input;
        let mut total: u64 = 0;
        // Index into UNITS of the last unit seen; the next must come after it.
        let mut next_unit = 0;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(invalid());
            }
            let value: u64 = rest[..digits].parse().map_err(|_| invalid())?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
            if unit_len == 0 {
                return Err(invalid());
            }
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let Some(pos) = UNITS.iter().position(|(u, _)| *u == unit) else {
                return Err(DurationError::UnknownUnit {
                    unit: unit.to_string(),
                    input: input.to_string(),
                });
            };
            if pos < next_unit {
                return Err(invalid());
            }
            next_unit = pos + 1;
            let nanos = value
                .checked_mul(UNITS[pos].1)
                .ok_or(DurationError::OutOfRange)?;
            total = total.checked_add(nanos).ok_or(DurationError::OutOfRange)?;
            if total > MAX_NANOS {
                return Err(DurationError::OutOfRange);
            }
        }
        Ok(Duration(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0 / MS;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (i, (unit, nanos)) in UNITS.iter().enumerate() {
            let mult = nanos / MS;
            // Years and weeks only when they divide the rest exactly.
            if i < 2 && !ms.is_multiple_of(mult) {
                continue;
            }
            let v = ms / mult;
            if v > 0 {
                write!(f, "{v}{unit}")?;
                ms -= v * mult;
            }
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as 10m, 1h30m or 2w")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        v.parse().map_err(E::custom)
    }

    // YAML reads an unquoted `0` (or `30`) as a number; treat it as the string it is.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        self.visit_str(&v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Duration {
        s.parse().unwrap()
    }

    #[test]
    fn parses_unit_sequences() {
        assert_eq!(d("0"), Duration::ZERO);
        assert_eq!(d("0s"), Duration::ZERO);
        assert_eq!(d("10m"), Duration::from_secs(600));
        assert_eq!(d("1h30m"), Duration::from_secs(5400));
        assert_eq!(d("2w"), Duration::from_secs(14 * 86400));
        assert_eq!(d("1y"), Duration::from_secs(365 * 86400));
        assert_eq!(d("1s500ms"), Duration::from_millis(1500));
        assert_eq!(d("1d2h3m4s5ms").as_millis(), 93_784_005);
    }

    #[test]
    fn refuses_with_prometheus_messages() {
        let err = |s: &str| s.parse::<Duration>().unwrap_err().to_string();
        assert_eq!(err(""), "empty duration string");
        assert_eq!(err("5"), "not a valid duration string: \"5\"");
        assert_eq!(err("m"), "not a valid duration string: \"m\"");
        assert_eq!(err("1.5h"), "unknown unit \".\" in duration \"1.5h\"");
        assert_eq!(err("-1h"), "not a valid duration string: \"-1h\"");
        assert_eq!(err("30m1h"), "not a valid duration string: \"30m1h\"");
        assert_eq!(err("1h1h"), "not a valid duration string: \"1h1h\"");
        assert_eq!(err("3x"), "unknown unit \"x\" in duration \"3x\"");
        assert_eq!(err("300y"), "duration out of range");
        assert_eq!(
            err("99999999999999999999s"),
            "not a valid duration string: \"99999999999999999999s\""
        );
    }

    #[test]
    fn prints_like_prometheus() {
        let cases = [
            ("0s", "0s"),
            ("0", "0s"),
            ("14d", "2w"),
            ("90d", "90d"),
            ("10m", "10m"),
            ("90m", "1h30m"),
            ("1500ms", "1s500ms"),
            ("365d", "1y"),
            ("8d", "8d"),
            ("25h", "1d1h"),
        ];
        for (input, printed) in cases {
            assert_eq!(d(input).to_string(), printed, "{input}");
        }
    }

    #[test]
    fn yaml_round_trip() {
        let v: Duration = serde_yaml::from_str("1h30m").unwrap();
        assert_eq!(v, Duration::from_secs(5400));
        assert_eq!(serde_yaml::to_string(&v).unwrap().trim(), "1h30m");
        let zero: Duration = serde_yaml::from_str("0").unwrap();
        assert_eq!(zero, Duration::ZERO);
        let err = serde_yaml::from_str::<Duration>("30")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a valid duration string"), "{err}");
    }
}
