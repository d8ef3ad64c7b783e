//! Parameter parsing of Prometheus' HTTP API, with its exact rules and messages:
//! times as unix seconds (fractions rounded to the millisecond) or RFC 3339, the
//! boundary times clients send for "everything", durations as seconds or Prometheus
//! duration strings, `match[]` selectors.

use cortex_tsdb::labels::Matcher;
use cortex_tsdb::labels::parse_selector;

use crate::promql::parser::{Expr, parse_expr};

/// The earliest time the API accepts, as Prometheus defines it (ms).
pub const MIN_TIME: i64 = (i64::MIN / 1000 + 62_135_596_801) * 1000;
/// The latest time the API accepts, as Prometheus defines it (ms).
pub const MAX_TIME: i64 = (i64::MAX / 1000 - 62_135_596_801) * 1000 + 999;

/// [`MIN_TIME`] in RFC 3339, as clients send it.
pub const MIN_TIME_FORMATTED: &str = "-292273086-05-16T16:47:06Z";
/// [`MAX_TIME`] in RFC 3339, as clients send it.
pub const MAX_TIME_FORMATTED: &str = "292277025-08-18T07:12:54.999999999Z";

/// Parses a time: unix seconds with an optional fraction (rounded to milliseconds) or
/// RFC 3339 with optional nanoseconds. Returns milliseconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Some(t) = parse_go_float(s) {
        if t.is_finite() && t.abs() < 9.2e15 {
            let sec = t.trunc();
            let frac = ((t - sec) * 1000.0).round() / 1000.0;
            let nanos = (frac * 1e9) as i64;
            let total = sec as i128 * 1_000_000_000 + nanos as i128;
            return Ok(total.div_euclid(1_000_000) as i64);
        }
    } else if let Some(ms) = parse_rfc3339(s) {
        return Ok(ms);
    }
    match s {
        MIN_TIME_FORMATTED => Ok(MIN_TIME),
        MAX_TIME_FORMATTED => Ok(MAX_TIME),
        _ => Err(format!("cannot parse \"{s}\" to a valid timestamp")),
    }
}

/// Parses an optional time parameter, with Prometheus' message for a bad one.
pub fn parse_time_param(value: Option<&str>, name: &str, default: i64) -> Result<i64, String> {
    match value {
        None | Some("") => Ok(default),
        Some(v) => parse_time(v).map_err(|e| format!("Invalid time value for '{name}': {e}")),
    }
}

/// Parses a duration: seconds with an optional fraction, or a Prometheus duration
/// string (`1h30m`, `5m`, `100ms`). Returns nanoseconds, as Go's `time.Duration`.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if let Some(d) = parse_go_float(s) {
        let ns = d * 1e9;
        if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
            return Err(format!(
                "cannot parse \"{s}\" to a valid duration. It overflows int64"
            ));
        }
        // Go turns NaN into the smallest int64 on amd64.
        return Ok(if ns.is_nan() { i64::MIN } else { ns as i64 });
    }
    if let Some(ms) = parse_prometheus_duration(s) {
        return Ok(ms.saturating_mul(1_000_000));
    }
    Err(format!("cannot parse \"{s}\" to a valid duration"))
}

/// Parses `match[]` selectors. Every set needs a matcher that does not match the
/// empty string.
pub fn parse_matchers_param(selectors: &[String]) -> Result<Vec<Vec<Matcher>>, String> {
    let mut sets = Vec::with_capacity(selectors.len());
    for s in selectors {
        sets.push(parse_metric_selector(s)?);
    }
    for set in &sets {
        if !set.iter().any(|m| !m.matches("")) {
            return Err("match[] must contain at least one non-empty matcher".into());
        }
    }
    Ok(sets)
}

/// Parses one series selector into its matchers, with PromQL's parse errors.
pub fn parse_metric_selector(s: &str) -> Result<Vec<Matcher>, String> {
    match parse_expr(s) {
        Ok(Expr::VectorSelector(vs)) if vs.offset_ms == 0 && vs.timestamp.is_none() => {
            Ok(vs.matchers)
        }
        Ok(_) => Err(format!(
            "1:1: parse error: unexpected expression, expected a series selector: {s}"
        )),
        // PromQL refuses selectors whose matchers all match the empty string; the
        // API reports those with its own message, so retry as a bare selector.
        Err(e) => parse_selector(s).map_err(|_| e.to_string()),
    }
}

/// Go's `strconv.ParseFloat` for the forms clients use: decimal with optional sign,
/// fraction and exponent, `Inf`/`Infinity`/`NaN` in any case.
fn parse_go_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    let special = matches!(lower.as_str(), "inf" | "infinity" | "nan");
    let plain = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && body.bytes().any(|b| b.is_ascii_digit());
    if !special && !plain {
        return None;
    }
    s.parse::<f64>().ok()
}

/// A Prometheus duration string (`[0-9]+` followed by `y`, `w`, `d`, `h`, `m`, `s` or
/// `ms`, units in that order, each at most once; or `0`) in milliseconds.
pub fn parse_prometheus_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let b = s.as_bytes();
    let mut i = 0;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let n: i64 = s[start..i].parse().ok()?;
        let unit = if s[i..].starts_with("ms") {
            "ms"
        } else {
            s.get(i..i + 1)?
        };
        let pos = UNITS[next_unit..].iter().position(|(u, _)| *u == unit)? + next_unit;
        next_unit = pos + 1;
        i += unit.len();
        total = total.checked_add(n.checked_mul(UNITS[pos].1)?)?;
    }
    Some(total)
}

/// RFC 3339 (`2015-07-01T20:10:51.781Z`, `2015-07-01T22:10:51+02:00`) in milliseconds.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, min, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 59
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        nanos = digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32);
    }
    let offset = match &s[i..] {
        "Z" => 0,
        rest if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            if rest.as_bytes()[3] != b':' {
                return None;
            }
            let h = num(i + 1, 2)?;
            let m = num(i + 4, 2)?;
            if h > 23 || m > 59 {
                return None;
            }
            let o = h * 3600 + m * 60;
            if rest.starts_with('-') { -o } else { o }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset;
    Some(secs * 1000 + nanos / 1_000_000)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_like_prometheus() {
        assert_eq!(parse_time("1435781451.781"), Ok(1_435_781_451_781));
        assert_eq!(parse_time("1435781451"), Ok(1_435_781_451_000));
        assert_eq!(parse_time("1.0006"), Ok(1001));
        // 1.0005 is 1.000499… in binary, which rounds down, as in Go.
        assert_eq!(parse_time("1.0005"), Ok(1000));
        assert_eq!(parse_time("-1.5"), Ok(-1500));
        assert_eq!(parse_time("1e3"), Ok(1_000_000));
        assert_eq!(
            parse_time("2015-07-01T20:10:51.781Z"),
            Ok(1_435_781_451_781)
        );
        assert_eq!(
            parse_time("2015-07-01T22:10:51+02:00"),
            Ok(1_435_781_451_000)
        );
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_time(MIN_TIME_FORMATTED), Ok(MIN_TIME));
        assert_eq!(parse_time(MAX_TIME_FORMATTED), Ok(MAX_TIME));
        assert_eq!(
            parse_time("abc"),
            Err("cannot parse \"abc\" to a valid timestamp".into())
        );
        assert!(parse_time("2015-02-30T00:00:00Z").is_err());
        assert!(parse_time("").is_err());
        assert_eq!(
            parse_time_param(Some("x"), "start", 0),
            Err("Invalid time value for 'start': cannot parse \"x\" to a valid timestamp".into())
        );
        assert_eq!(parse_time_param(None, "start", 7), Ok(7));
    }

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration("15"), Ok(15_000_000_000));
        assert_eq!(parse_duration("0.5"), Ok(500_000_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000_000_000));
        assert_eq!(parse_duration("100ms"), Ok(100_000_000));
        assert_eq!(parse_duration("1d2h"), Ok(26 * 3_600_000_000_000));
        assert_eq!(parse_duration("-5"), Ok(-5_000_000_000));
        assert!(parse_duration("1s1h").is_err());
        assert!(parse_duration("1.5m").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(
            parse_duration("1e300"),
            Err("cannot parse \"1e300\" to a valid duration. It overflows int64".into())
        );
        assert_eq!(
            parse_duration("x"),
            Err("cannot parse \"x\" to a valid duration".into())
        );
    }

    #[test]
    fn match_params_need_a_non_empty_matcher() {
        let sets = parse_matchers_param(&["up".into(), "{job=~\"a.*\"}".into()]).unwrap();
        assert_eq!(sets.len(), 2);
        assert_eq!(
            parse_matchers_param(&["{job=\"\"}".into()]),
            Err("match[] must contain at least one non-empty matcher".into())
        );
        assert!(
            parse_matchers_param(&["up{".into()])
                .unwrap_err()
                .contains("parse error")
        );
        assert!(parse_matchers_param(&["rate(up[5m])".into()]).is_err());
    }
}
