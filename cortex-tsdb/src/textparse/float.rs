//! Parsing floats exactly as Prometheus' text parsers do: Go's `strconv.ParseFloat`
//! without the Go 1.13 additions (no hex floats, no underscores).
//!
//! The differences from Rust's `str::parse::<f64>` that matter: a signed `NaN` is an
//! error, a finite literal that overflows to infinity is an error (Go's `ErrRange`), and a
//! parsed `NaN` has Go's bit pattern `0x7ff8000000000001`, which ends up in chunks and
//! must match byte for byte.

/// Go's `math.NaN()` bit pattern.
pub const GO_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

/// Parses `s` as Prometheus' `parseFloat` does; `None` when Go would return an error.
pub fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.bytes().any(|b| matches!(b, b'p' | b'P' | b'_')) {
        return None;
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if unsigned.eq_ignore_ascii_case("nan") {
        // Go accepts NaN only without a sign.
        return (unsigned.len() == s.len()).then_some(f64::from_bits(GO_NAN_BITS));
    }
    let is_inf_literal =
        unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity");
    if !is_inf_literal {
        // Only decimal literals from here on: digits, one '.', an exponent.
        let b = unsigned.as_bytes();
        if !b.first().is_some_and(|c| c.is_ascii_digit() || *c == b'.') {
            return None;
        }
        if unsigned.starts_with("0x") || unsigned.starts_with("0X") {
            return None;
        }
    }
    let v: f64 = s.parse().ok()?;
    if v.is_infinite() && !is_inf_literal {
        return None;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_go_accepts() {
        assert_eq!(parse_go_float("1"), Some(1.0));
        assert_eq!(parse_go_float("-1.5e3"), Some(-1500.0));
        assert_eq!(parse_go_float(".5"), Some(0.5));
        assert_eq!(parse_go_float("5."), Some(5.0));
        assert_eq!(parse_go_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_go_float("Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("1e-400"), Some(0.0));
        assert_eq!(parse_go_float("NaN").map(f64::to_bits), Some(GO_NAN_BITS));
    }

    #[test]
    fn rejects_what_go_rejects() {
        for s in [
            "", "+NaN", "-nan", "0x1p3", "1_000", "1e400", "-1e400", "abc", "1.2.3", " 1", "e5",
        ] {
            assert_eq!(parse_go_float(s), None, "{s:?}");
        }
    }
}
