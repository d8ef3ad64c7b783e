//! Timestamps printed as Go prints `time.Time` in UTC with `RFC3339Nano`
//! (`2024-05-01T12:00:00.123Z`, trailing zeros of the fraction dropped), which Cortex
//! uses in ingest error messages and Thanos in `meta.json`'s `upload_time`.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::promql::functions::time::civil_from_days;

/// `ms` milliseconds since the epoch as RFC 3339 with a trimmed fraction, in UTC.
pub fn rfc3339_millis(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    rfc3339_nanos(nanos)
}

/// The current time as RFC 3339 with a trimmed fraction, in UTC.
pub fn rfc3339_now() -> String {
    let nanos = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    };
    rfc3339_nanos(nanos)
}

fn rfc3339_nanos(nanos: i128) -> String {
    let secs = nanos.div_euclid(1_000_000_000) as i64;
    let frac = nanos.rem_euclid(1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if frac != 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go_rfc3339nano() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_millis(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(rfc3339_millis(1_700_000_000_100), "2023-11-14T22:13:20.1Z");
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert!(rfc3339_now().ends_with('Z'));
    }
}
