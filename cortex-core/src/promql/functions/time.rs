//! Calendar functions (`year`, `month`, `day_of_week`, ...) over Unix seconds, in UTC.

use super::FnArgs;
use crate::promql::engine::EvalError;
use crate::promql::value::{Sample, no_labels};

/// Year, month (1-12) and day (1-31) of the day `days` after 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Broken-down UTC time.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    weekday: i64,
    yday: i64,
}

fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    const CUM: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let mut yday = CUM[(month - 1) as usize] + i64::from(day);
    if month > 2 && is_leap(year) {
        yday += 1;
    }
    Civil {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: rem % 3600 / 60,
        weekday: (days + 4).rem_euclid(7),
        yday,
    }
}

/// Seconds as Go's `int64(float)` conversion gives them (truncated; NaN and
/// out-of-range values become the minimum).
fn go_int64(f: f64) -> i64 {
    if f.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

fn date_fn(a: &mut FnArgs<'_>, f: fn(&Civil) -> f64) -> Result<(), EvalError> {
    if a.args.is_empty() {
        let v = f(&civil(a.enh.ts.div_euclid(1000)));
        a.enh.out.push(Sample::float(no_labels(), v));
        return Ok(());
    }
    for el in &a.vals[0] {
        if el.h.is_some() {
            continue;
        }
        a.enh.out.push(Sample {
            metric: el.metric.clone(),
            t: 0,
            f: f(&civil(go_int64(el.f))),
            h: None,
            drop_name: true,
        });
    }
    Ok(())
}

fn days_in(c: &Civil) -> f64 {
    match c.month {
        2 if is_leap(c.year) => 29.0,
        2 => 28.0,
        4 | 6 | 9 | 11 => 30.0,
        _ => 31.0,
    }
}

/// `days_in_month(v)`
pub(super) fn days_in_month(a: &mut FnArgs<'_>) -> Result<(), EvalError> {
    date_fn(a, days_in)
}

/// `day_of_month(v)`
pub(super) fn day_of_month(a: &mut FnArgs<'_>) -> Result<(), EvalError> {
    date_fn(a, |c| f64::from(c.day))
}

/// `day_of_week(v)` (Sunday is 0)
pub(super) fn day_of_week(a: &mut FnArgs<'_>) -> Result<(), EvalError> {
    date_fn(a, |c| c.weekday as f64)
}

/// `day_of_year(v)`
pub(super) fn day_of_year(a: &mut FnArgs<'_>) -> Result<(), EvalError> {
    date_fn(a, |c| c.yday as f64)
}

/// `hour(v)`
pub(super) fn hour(a: &mut FnArgs<'_>) -> Result<(), EvalError> {
    date_fn(a, |c| c.hour as f64)
}

/// `minute(v)`
pub(super) fn minute(a: &mut FnArgs<'_>) -> Result<(), EvalError> {
    date_fn(a, |c| c.minute as f64)
}

/// `month(v)`
pub(super) fn month(a: &mut FnArgs<'_>) -> Result<(), EvalError> {
    date_fn(a, |c| f64::from(c.month))
}

/// `year(v)`
pub(super) fn year(a: &mut FnArgs<'_>) -> Result<(), EvalError> {
    date_fn(a, |c| c.year as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2006-01-02T22:04:05Z is 1136239445.
        let c = civil(1_136_239_445);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute),
            (2006, 1, 2, 22, 4)
        );
        assert_eq!(c.weekday, 1);
        assert_eq!(c.yday, 2);
        // 2016-02-29 is a leap day.
        let c = civil(1_456_790_399);
        assert_eq!((c.month, c.day, days_in(&c)), (2, 29, 29.0));
        assert_eq!(civil(-1).year, 1969);
    }
}
