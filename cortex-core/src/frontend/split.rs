//! Where a range query is cut: its start and end aligned to the step (Cortex's
//! `align_queries_with_step`), and its evaluation timestamps split at interval
//! boundaries (`split_queries_by_interval`, usually a day) so each part can be run and
//! cached on its own.
//!
//! A range query is evaluated at `start, start + step, ..., ≤ end`; every part keeps
//! that grid, so the parts' results put together are the whole query's.

/// `start` and `end` moved down to multiples of `step` (ms). `step` must be positive.
pub fn align_to_step(start: i64, end: i64, step: i64) -> (i64, i64) {
    (start - start.rem_euclid(step), end - end.rem_euclid(step))
}

/// The last evaluation timestamp of the query that is at or before `t`, on the grid
/// `start + k * step`; `None` when `t < start`.
pub fn grid_floor(start: i64, step: i64, t: i64) -> Option<i64> {
    if t < start {
        return None;
    }
    let k = (t as i128 - start as i128) / step as i128;
    Some((start as i128 + k * step as i128) as i64)
}

/// The first evaluation timestamp at or after `t` on the grid `start + k * step`
/// (`start` when `t` is before it).
pub fn grid_ceil(start: i64, step: i64, t: i64) -> i64 {
    if t <= start {
        return start;
    }
    let k = (t as i128 - start as i128 + step as i128 - 1) / step as i128;
    (start as i128 + k * step as i128).min(i64::MAX as i128) as i64
}

/// The interval (`t / interval`, rounded down) that timestamp `t` falls in.
pub fn interval_of(t: i64, interval: i64) -> i64 {
    t.div_euclid(interval)
}

/// The query `[start, end]` at `step` cut into parts `[s, e]` that each lie within one
/// interval of `interval` ms. Every part starts and ends on the query's evaluation
/// grid, and the parts cover the grid exactly once, in order. With `interval` 0 (no
/// splitting) the query is one part. `step` must be positive and `start <= end`.
pub fn split_by_interval(start: i64, end: i64, step: i64, interval: i64) -> Vec<(i64, i64)> {
    if interval <= 0 {
        return vec![(start, end)];
    }
    let mut parts = Vec::new();
    let mut s = start;
    loop {
        let boundary = (interval_of(s, interval) as i128 + 1) * interval as i128;
        // The last grid point before the next interval starts, but not past `end`.
        let last = if boundary > end as i128 {
            end
        } else {
            grid_floor(start, step, (boundary - 1) as i64).unwrap_or(s)
        };
        parts.push((s, last));
        if last >= end {
            break;
        }
        match last.checked_add(step) {
            Some(next) if next <= end => s = next,
            _ => break,
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;

    /// Every evaluation timestamp of `[start, end]` at `step`.
    fn grid(start: i64, end: i64, step: i64) -> Vec<i64> {
        (0..)
            .map(|k| start + k * step)
            .take_while(|t| *t <= end)
            .collect()
    }

    #[test]
    fn alignment_rounds_down_to_the_step() {
        assert_eq!(
            align_to_step(61_000, 3_599_000, 60_000),
            (60_000, 3_540_000)
        );
        assert_eq!(align_to_step(-1, 0, 1000), (-1000, 0));
        assert_eq!(align_to_step(0, 0, 7), (0, 0));
    }

    #[test]
    fn a_query_within_one_interval_is_not_split() {
        assert_eq!(
            split_by_interval(HOUR, 2 * HOUR, 60_000, DAY),
            vec![(HOUR, 2 * HOUR)]
        );
        assert_eq!(split_by_interval(0, 3 * DAY, 60_000, 0), vec![(0, 3 * DAY)]);
    }

    #[test]
    fn parts_end_on_the_grid_before_each_day_boundary() {
        // Starting at 23:00:30 with a 1m step crosses midnight between 23:59:30 and
        // 00:00:30.
        let start = DAY - HOUR + 30_000;
        let parts = split_by_interval(start, DAY + HOUR, 60_000, DAY);
        assert_eq!(
            parts,
            vec![(start, DAY - 30_000), (DAY + 30_000, DAY + HOUR)]
        );
    }

    #[test]
    fn parts_cover_the_grid_exactly_once() {
        for (start, end, step) in [
            (0, 3 * DAY, 60_000),
            (12_345, 2 * DAY + 7, 7_000),
            (DAY - 1, DAY + 1, 1),
            (DAY - 1, DAY + 1, 5 * DAY),
            (-DAY - 5, DAY + 5, 3_600_001),
            (5, 5, 1000),
        ] {
            let parts = split_by_interval(start, end, step, DAY);
            let mut got = Vec::new();
            for (s, e) in &parts {
                assert!(s <= e, "{parts:?}");
                assert_eq!(interval_of(*s, DAY), interval_of(*e, DAY), "{parts:?}");
                got.extend(grid(*s, *e, step));
            }
            assert_eq!(got, grid(start, end, step), "{start} {end} {step}");
        }
    }

    #[test]
    fn grid_rounding() {
        assert_eq!(grid_floor(10, 5, 9), None);
        assert_eq!(grid_floor(10, 5, 19), Some(15));
        assert_eq!(grid_floor(10, 5, 20), Some(20));
        assert_eq!(grid_ceil(10, 5, 11), 15);
        assert_eq!(grid_ceil(10, 5, 3), 10);
        assert_eq!(grid_ceil(10, 5, 20), 20);
    }
}
