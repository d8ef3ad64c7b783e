//! Output helpers that reproduce Go's formatting, so our tools print what `promtool`
//! prints: `time.Duration` strings and `text/tabwriter` column alignment.

use std::fmt::Write;

/// Formats milliseconds as Go's `time.Duration.String()` (`1h46m30.001s`, `2h0m0s`,
/// `150ms`, `0s`).
pub fn go_duration_ms(ms: i64) -> String {
    go_duration_ns(i128::from(ms) * 1_000_000)
}

/// Formats nanoseconds as Go's `time.Duration.String()`.
pub fn go_duration_ns(ns: i128) -> String {
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if u < 1_000_000_000 {
        // Sub-second: the largest of ns, µs, ms that keeps the integer part non-zero.
        let (unit, scale) = match u {
            0 => return "0s".to_string(),
            1..=999 => ("ns", 1u128),
            1_000..=999_999 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        write_fraction(&mut out, u, scale);
        out.push_str(unit);
        return out;
    }
    let secs = u / 1_000_000_000;
    let frac = u % 1_000_000_000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if h > 0 || m > 0 {
        let _ = write!(out, "{m}m");
    }
    write_fraction(&mut out, s * 1_000_000_000 + frac, 1_000_000_000);
    out.push('s');
    out
}

/// Writes `v / scale` with the fraction's trailing zeros removed.
fn write_fraction(out: &mut String, v: u128, scale: u128) {
    let _ = write!(out, "{}", v / scale);
    let frac = v % scale;
    if frac != 0 {
        let width = scale.ilog10() as usize;
        let digits = format!("{frac:0width$}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// Aligns tab-separated cells like Go's `tabwriter.NewWriter(w, minwidth, 0, padding, ' ',
/// 0)`: every cell that ends in a tab is padded to its column's width (the widest cell
/// plus `padding`, at least `minwidth`); the last cell of a line is not padded.
pub fn tabwrite(lines: &[Vec<String>], minwidth: usize, padding: usize) -> String {
    let cols = lines
        .iter()
        .map(|l| l.len().saturating_sub(1))
        .max()
        .unwrap_or(0);
    let mut widths = vec![minwidth; cols];
    for l in lines {
        for (i, cell) in l.iter().take(l.len().saturating_sub(1)).enumerate() {
            widths[i] = widths[i].max(cell.chars().count() + padding);
        }
    }
    let mut out = String::new();
    for l in lines {
        for (i, cell) in l.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < l.len() {
                for _ in cell.chars().count()..widths[i] {
                    out.push(' ');
                }
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_match_go() {
        assert_eq!(go_duration_ms(0), "0s");
        assert_eq!(go_duration_ms(7_200_000), "2h0m0s");
        assert_eq!(go_duration_ms(4_815_000), "1h20m15s");
        assert_eq!(go_duration_ms(6_390_001), "1h46m30.001s");
        assert_eq!(go_duration_ms(61_000), "1m1s");
        assert_eq!(go_duration_ms(1_500), "1.5s");
        assert_eq!(go_duration_ms(150), "150ms");
        assert_eq!(go_duration_ms(-1_500), "-1.5s");
        assert_eq!(go_duration_ns(1_500), "1.5µs");
        assert_eq!(go_duration_ns(7), "7ns");
    }

    #[test]
    fn tabwriter_pads_all_but_the_last_cell() {
        let lines = vec![
            vec![
                "BLOCK ULID".to_string(),
                "MIN".to_string(),
                "SIZE".to_string(),
            ],
            vec![
                "01M81FQXDH9TG6AAKRFGXRBCN3".to_string(),
                "1795329585000".to_string(),
                "55098".to_string(),
            ],
        ];
        let out = tabwrite(&lines, 13, 2);
        assert_eq!(
            out,
            "BLOCK ULID                  MIN            SIZE\n01M81FQXDH9TG6AAKRFGXRBCN3  1795329585000  55098\n"
        );
    }
}
