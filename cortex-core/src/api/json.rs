//! JSON primitives that write exactly what Prometheus' HTTP API writes: strings escaped
//! like Go's `encoding/json` (HTML-safe), sample timestamps as seconds with a
//! millisecond fraction, sample values as quoted Go floats with Prometheus' exponent
//! rule, and label sets as objects sorted by name.
//!
//! Everything appends to a `String`; nothing here allocates per call beyond the output.
//! The response shapes built from these live in `encode.rs`.

use std::fmt::Write;

use cortex_tsdb::float_format::{write_go_e, write_go_f};
use cortex_tsdb::labels::Labels;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string, escaped as Go's `encoding/json` does with HTML
/// escaping on: `"` and `\` with a backslash, `\n`, `\r` and `\t` short, other control
/// characters and `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes (lower-case hex).
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            _ => None,
        };
        let needs_u = matches!(
            c,
            '\u{0}'..='\u{1f}' | '<' | '>' | '&' | '\u{2028}' | '\u{2029}'
        );
        if esc.is_none() && !needs_u {
            continue;
        }
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let code = c as u32;
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[((code >> shift) & 0xf) as usize] as char);
                }
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..bytes.len()]);
    out.push('"');
}

/// Appends a sample timestamp (ms) as Prometheus writes it: whole seconds, then `.`
/// and exactly three digits when the millisecond part is not zero (`1.5` s is
/// `1.500`).
pub fn write_timestamp(out: &mut String, t: i64) {
    let abs = t.unsigned_abs();
    if t < 0 {
        out.push('-');
    }
    let _ = write!(out, "{}", abs / 1000);
    let frac = abs % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

/// Appends a sample value as a quoted string: Go's shortest `'f'` form, or `'e'` form
/// when `|v|` is below 1e-6 or at least 1e21; `NaN`, `+Inf`, `-Inf` as such.
pub fn write_value(out: &mut String, v: f64) {
    out.push('"');
    let abs = v.abs();
    if !v.is_finite() {
        write_go_f(out, v);
    } else if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        write_go_e(out, v);
    } else {
        // Rust's `Display` prints the shortest round-trip digits without an exponent,
        // exactly Go's `'f'` form with precision -1, and allocates nothing.
        let _ = write!(out, "{v}");
    }
    out.push('"');
}

/// Appends a value as a quoted string in Go's shortest `'f'` form (never an exponent),
/// as Prometheus writes scalar results.
pub fn write_value_fixed(out: &mut String, v: f64) {
    out.push('"');
    write_go_f(out, v);
    out.push('"');
}

/// Appends a finite float as Go's `encoding/json` writes a `float64` number: shortest
/// `'f'` form, `'e'` form below 1e-6 or from 1e21 on, with a negative exponent's
/// leading zero removed (`1e-7`, `1e+21`). Scalar and string results carry their
/// timestamp (in seconds) this way. Non-finite values, which Go refuses, are written
/// as `0`.
pub fn write_json_float(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push('0');
        return;
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let start = out.len();
        write_go_e(out, v);
        let b = &out.as_bytes()[start..];
        let n = b.len();
        if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
            out.remove(start + n - 2);
        }
    } else {
        write_go_f(out, v);
    }
}

/// Appends a label set as a JSON object, names in byte order (as Go sorts map keys).
pub fn write_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, l.name);
        out.push(':');
        write_string(out, l.value);
    }
    out.push('}');
}

/// Appends a JSON array of strings.
pub fn write_string_array<S: AsRef<str>>(out: &mut String, items: &[S]) {
    out.push('[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, s.as_ref());
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut String)) -> String {
        let mut out = String::new();
        f(&mut out);
        out
    }

    #[test]
    fn strings_are_escaped_like_go() {
        assert_eq!(s(|o| write_string(o, "plain")), r#""plain""#);
        assert_eq!(s(|o| write_string(o, "a\"b\\c")), r#""a\"b\\c""#);
        assert_eq!(s(|o| write_string(o, "\n\r\t")), r#""\n\r\t""#);
        assert_eq!(
            s(|o| write_string(o, "\u{0}\u{8}\u{c}\u{1f}")),
            r#""\u0000\u0008\u000c\u001f""#
        );
        assert_eq!(s(|o| write_string(o, "<a&b>")), r#""\u003ca\u0026b\u003e""#);
        assert_eq!(
            s(|o| write_string(o, "x\u{2028}y\u{2029}é😀\u{7f}")),
            "\"x\\u2028y\\u2029é😀\u{7f}\""
        );
    }

    #[test]
    fn timestamps_keep_three_millisecond_digits() {
        assert_eq!(
            s(|o| write_timestamp(o, 1_435_781_451_781)),
            "1435781451.781"
        );
        assert_eq!(s(|o| write_timestamp(o, 1500)), "1.500");
        assert_eq!(s(|o| write_timestamp(o, 1005)), "1.005");
        assert_eq!(s(|o| write_timestamp(o, 1050)), "1.050");
        assert_eq!(s(|o| write_timestamp(o, 3000)), "3");
        assert_eq!(s(|o| write_timestamp(o, 0)), "0");
        assert_eq!(s(|o| write_timestamp(o, -1500)), "-1.500");
        assert_eq!(s(|o| write_timestamp(o, -7)), "-0.007");
        assert_eq!(s(|o| write_timestamp(o, i64::MIN)), "-9223372036854775.808");
    }

    #[test]
    fn values_follow_prometheus_exponent_rules() {
        let cases: &[(f64, &str)] = &[
            (1.0, "\"1\""),
            (0.0, "\"0\""),
            (-0.0, "\"-0\""),
            (0.1, "\"0.1\""),
            (1e-6, "\"0.000001\""),
            (1e-7, "\"1e-07\""),
            (1.5e-7, "\"1.5e-07\""),
            (1e20, "\"100000000000000000000\""),
            (1e21, "\"1e+21\""),
            (-1e22, "\"-1e+22\""),
            (123456789.125, "\"123456789.125\""),
            (0.30000000000000004, "\"0.30000000000000004\""),
            (5e-6, "\"0.000005\""),
            (-2.5, "\"-2.5\""),
            (f64::NAN, "\"NaN\""),
            (f64::INFINITY, "\"+Inf\""),
            (f64::NEG_INFINITY, "\"-Inf\""),
        ];
        for (v, want) in cases {
            assert_eq!(s(|o| write_value(o, *v)), *want, "{v:?}");
        }
        assert_eq!(
            s(|o| write_value_fixed(o, 1e22)),
            "\"10000000000000000000000\""
        );
    }

    #[test]
    fn display_equals_go_fixed_form_in_the_fixed_range() {
        // Random bit patterns, kept when they fall where `write_value` uses `Display`.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut checked = 0;
        while checked < 100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            let abs = v.abs();
            if !v.is_finite() || (abs != 0.0 && !(1e-6..1e21).contains(&abs)) {
                continue;
            }
            assert_eq!(format!("{v}"), cortex_tsdb::float_format::go_f(v), "{v:?}");
            checked += 1;
        }
    }

    #[test]
    fn json_floats_match_encoding_json() {
        let cases: &[(f64, &str)] = &[
            (1_700_000_000.5, "1700000000.5"),
            (1_700_000_000.0, "1700000000"),
            (1e-7, "1e-7"),
            (1.5e-10, "1.5e-10"),
            (1e21, "1e+21"),
            (0.001, "0.001"),
            (-3.25, "-3.25"),
        ];
        for (v, want) in cases {
            assert_eq!(s(|o| write_json_float(o, *v)), *want, "{v:?}");
        }
    }

    #[test]
    fn labels_are_an_object_in_name_order() {
        let l = Labels::from_pairs([("job", "a<b"), ("__name__", "up"), ("Z", "1")]).unwrap();
        assert_eq!(
            s(|o| write_labels(o, &l)),
            r#"{"Z":"1","__name__":"up","job":"a\u003cb"}"#
        );
        assert_eq!(s(|o| write_labels(o, &Labels::empty())), "{}");
    }
}
