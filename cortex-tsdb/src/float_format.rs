//! Float formatting identical to Go's `strconv.FormatFloat(v, fmt, -1, 64)`.
//!
//! Prometheus prints sample values with the shortest decimal that round-trips, in Go's
//! layout: `'g'` switches to an exponent below 1e-4 and from 1e6 on
//! (`1e+06`), with a signed exponent of at least two digits; `'f'` never uses an exponent.
//! Tools compare our output with Prometheus' text byte for byte, so both layouts are
//! reproduced exactly. Rust's `{:e}` gives the same shortest digits; only the layout
//! differs.

use std::fmt::Write;

/// Appends `v` as Go's `strconv.FormatFloat(v, 'g', -1, 64)` does.
pub fn write_go_g(out: &mut String, v: f64) {
    if let Some(s) = special(v) {
        out.push_str(s);
        return;
    }
    let (neg, digits, dp) = shortest_digits(v);
    if neg {
        out.push('-');
    }
    let exp = dp - 1;
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exp.unsigned_abs());
    } else {
        write_fixed(out, &digits, dp);
    }
}

/// Appends `v` as Go's `strconv.FormatFloat(v, 'f', -1, 64)` does.
pub fn write_go_f(out: &mut String, v: f64) {
    if let Some(s) = special(v) {
        out.push_str(s);
        return;
    }
    let (neg, digits, dp) = shortest_digits(v);
    if neg {
        out.push('-');
    }
    write_fixed(out, &digits, dp);
}

/// `v` formatted as Go's `'g'` shortest form.
pub fn go_g(v: f64) -> String {
    let mut s = String::new();
    write_go_g(&mut s, v);
    s
}

/// `v` formatted as Go's `'f'` shortest form.
pub fn go_f(v: f64) -> String {
    let mut s = String::new();
    write_go_f(&mut s, v);
    s
}

/// Appends `v` as Go's `strconv.FormatFloat(v, 'e', -1, 64)` does: shortest
/// round-trip digits, one before the point, and a signed exponent of at least two
/// digits (`1.5e-07`, `1e+21`).
pub fn write_go_e(out: &mut String, v: f64) {
    if let Some(s) = special(v) {
        out.push_str(s);
        return;
    }
    let (neg, digits, dp) = shortest_digits(v);
    if neg {
        out.push('-');
    }
    let exp = if v == 0.0 { 0 } else { dp - 1 };
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(out, "{:02}", exp.unsigned_abs());
}

fn special(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("+Inf")
    } else if v == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// Shortest round-trip digits of a finite `v`: (negative, digits without leading or
/// trailing zeros except a lone "0", decimal point position).
fn shortest_digits(v: f64) -> (bool, String, i32) {
    let neg = v.is_sign_negative();
    if v == 0.0 {
        return (neg, "0".to_string(), 1);
    }
    // `{:e}` prints the shortest round-trip digits as `d.ddddde<exp>`.
    let sci = format!("{:e}", v.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    (neg, digits, exp + 1)
}

fn write_fixed(out: &mut String, digits: &str, dp: i32) {
    let nd = digits.len() as i32;
    if dp <= 0 {
        out.push_str("0.");
        for _ in 0..-dp {
            out.push('0');
        }
        out.push_str(digits);
    } else if dp >= nd {
        out.push_str(digits);
        for _ in 0..dp - nd {
            out.push('0');
        }
    } else {
        out.push_str(&digits[..dp as usize]);
        out.push('.');
        out.push_str(&digits[dp as usize..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_matches_go() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (10.0, "10"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1024000.0, "1.024e+06"),
            (1.018908672e9, "1.018908672e+09"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (8.7718e-05, "8.7718e-05"),
            (-9.223372036854776e18, "-9.223372036854776e+18"),
            (0.1, "0.1"),
            (1.5, "1.5"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (v, want) in cases {
            assert_eq!(go_g(*v), *want, "{v:?}");
        }
    }

    #[test]
    fn e_matches_go() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0e+00"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-07"),
            (-2.5e22, "-2.5e+22"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
            (123456.789, "1.23456789e+05"),
            (f64::NAN, "NaN"),
        ];
        for (v, want) in cases {
            let mut s = String::new();
            write_go_e(&mut s, *v);
            assert_eq!(s, *want, "{v:?}");
        }
    }

    #[test]
    fn f_matches_go() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (1e6, "1000000"),
            (2f64.powi(-10), "0.0009765625"),
            (1.5e-7, "0.00000015"),
            (-12.25, "-12.25"),
            (1e21, "1000000000000000000000"),
        ];
        for (v, want) in cases {
            assert_eq!(go_f(*v), *want, "{v:?}");
        }
    }
}
