//! Literals as Prometheus reads and writes them: numbers (Go's `ParseInt` with base
//! prefixes, then `ParseFloat`), durations (`1h30m`), quoted strings with Go escapes,
//! and Go's `%q` quoting used in messages.

use std::fmt::Write;

use cortex_tsdb::labels::write_go_quoted;

/// Milliseconds per unit of a duration, in the order units must appear.
const UNITS: [(&str, i64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
];

/// Parses a Prometheus duration (`1h30m`, `5m`, `0`) into milliseconds. Units must
/// appear from largest to smallest, each at most once.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    match s {
        "0" => return Ok(0),
        "" => return Err("empty duration string".to_string()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", go_quote(s));
    let mut rest = s;
    let mut total: u128 = 0;
    let mut last_unit = None;
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
        let Some(idx) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!(
                "unknown unit {} in duration {}",
                go_quote(unit),
                go_quote(s)
            ));
        };
        if last_unit.is_some_and(|l| idx <= l) {
            return Err(invalid());
        }
        last_unit = Some(idx);
        // Durations are nanoseconds in Prometheus; keep its overflow limit.
        let ns = u128::from(value) * (UNITS[idx].1 as u128) * 1_000_000;
        total += ns;
        if total > i64::MAX as u128 {
            return Err("duration out of range".to_string());
        }
    }
    Ok((total / 1_000_000) as i64)
}

/// Formats milliseconds the way Prometheus prints durations (`1h30m`, `0s`, `2w`).
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut ms = ms;
    let mut out = String::new();
    for (i, (unit, mult)) in UNITS.iter().enumerate() {
        // Years and weeks only when they divide the duration exactly.
        if i < 2 && ms % mult != 0 {
            continue;
        }
        let v = ms / mult;
        if v > 0 {
            let _ = write!(out, "{v}{unit}");
            ms -= v * mult;
        }
    }
    out
}

/// Parses a number as Prometheus does: an integer with Go's base prefixes (`0x1f`,
/// `0o17`, `017`, `0b11`) if possible, otherwise a float (`1.5e3`, `Inf`, `NaN`).
/// Underscores may separate digits.
pub fn parse_number(s: &str) -> Result<f64, String> {
    if let Some(i) = parse_go_int(s) {
        return Ok(i as f64);
    }
    match parse_go_float(s) {
        // A finite literal too large for f64 is an error, as in Go.
        Some(f) if f.is_infinite() && !s.to_ascii_lowercase().contains("inf") => Err(format!(
            "error parsing number: strconv.ParseFloat: parsing {}: value out of range",
            go_quote(s)
        )),
        Some(f) => Ok(f),
        None => Err(format!(
            "error parsing number: strconv.ParseFloat: parsing {}: invalid syntax",
            go_quote(s)
        )),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d, true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    if !underscores_ok(digits, prefixed) {
        return None;
    }
    let cleaned: String = digits.chars().filter(|c| *c != '_').collect();
    if cleaned.is_empty() {
        return None;
    }
    let mag = u64::from_str_radix(&cleaned, radix).ok()?;
    if neg {
        if mag > i64::MAX as u64 + 1 {
            return None;
        }
        Some((mag as i64).wrapping_neg())
    } else {
        i64::try_from(mag).ok()
    }
}

/// Underscores must sit between digits (a base prefix counts as a digit).
fn underscores_ok(digits: &str, prefixed: bool) -> bool {
    let mut prev_digit = prefixed;
    let mut prev_underscore = false;
    for c in digits.chars() {
        if c == '_' {
            if !prev_digit {
                return false;
            }
            prev_underscore = true;
            prev_digit = false;
        } else {
            prev_digit = true;
            prev_underscore = false;
        }
    }
    !prev_underscore
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal forms the lexer produces.
fn parse_go_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if matches!(unsigned, "inf" | "infinity" | "nan") {
        return lower.parse::<f64>().ok();
    }
    if s.contains('_') {
        // Underscores only between digits.
        let b = s.as_bytes();
        for (i, c) in b.iter().enumerate() {
            if *c == b'_' {
                let before = i > 0 && b[i - 1].is_ascii_digit();
                let after = i + 1 < b.len() && b[i + 1].is_ascii_digit();
                if !before || !after {
                    return None;
                }
            }
        }
    }
    let cleaned: String = s.chars().filter(|c| *c != '_').collect();
    if cleaned.is_empty() || cleaned.contains("0x") || cleaned.contains("0X") {
        return None;
    }
    cleaned.parse::<f64>().ok()
}

/// Unquotes a PromQL string literal (`"..."`, `'...'` or `` `...` ``) into bytes, with
/// Go's escapes. `None` when the literal is malformed.
pub fn unquote(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() < 2 || b[0] != b[b.len() - 1] {
        return None;
    }
    let quote = b[0];
    let inner = &s[1..s.len() - 1];
    if quote == b'`' {
        return if inner.contains('`') {
            None
        } else {
            Some(inner.as_bytes().to_vec())
        };
    }
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    if inner.contains('\n') {
        return None;
    }
    let mut out = Vec::with_capacity(inner.len());
    let ib = inner.as_bytes();
    let mut i = 0;
    while i < ib.len() {
        let c = ib[i];
        if c == quote {
            return None;
        }
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let e = *ib.get(i + 1)?;
        i += 2;
        match e {
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'\\' => out.push(b'\\'),
            b'\'' | b'"' => {
                if e != quote {
                    return None;
                }
                out.push(e);
            }
            b'x' | b'u' | b'U' => {
                let n = match e {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let hex = ib.get(i..i + n)?;
                let mut v: u32 = 0;
                for h in hex {
                    v = v << 4 | (*h as char).to_digit(16)?;
                }
                i += n;
                if e == b'x' {
                    out.push(v as u8);
                } else {
                    let ch = char::from_u32(v)?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
            }
            b'0'..=b'7' => {
                let rest = ib.get(i..i + 2)?;
                let mut v = u32::from(e - b'0');
                for d in rest {
                    if !(b'0'..=b'7').contains(d) {
                        return None;
                    }
                    v = v << 3 | u32::from(d - b'0');
                }
                i += 2;
                if v > 255 {
                    return None;
                }
                out.push(v as u8);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Go's `strconv.Quote` of a string.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    let _ = write_go_quoted(&mut out, s);
    out
}

/// Go's `strconv.Quote` of a byte string that may hold invalid UTF-8 (each invalid byte
/// is written as `\xNN`).
pub fn go_quote_bytes(b: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in b.utf8_chunks() {
        let q = go_quote(chunk.valid());
        out.push_str(&q[1..q.len() - 1]);
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out.push('"');
    out
}

/// Go's `%q` of a rune: `'a'`, `'\n'`, `'\''`.
pub fn go_quote_rune(c: char) -> String {
    match c {
        '\'' => "'\\''".to_string(),
        '"' => "'\"'".to_string(),
        _ => {
            let q = go_quote(&c.to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_unit_order() {
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("1y"), Ok(365 * 86_400_000));
        assert_eq!(parse_duration("100ms"), Ok(100));
        assert!(parse_duration("30m1h").is_err());
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("1x").unwrap_err().contains("unknown unit"));
        assert_eq!(parse_duration("300y").unwrap_err(), "duration out of range");
    }

    #[test]
    fn durations_format_like_prometheus() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(14 * 86_400_000), "2w");
        assert_eq!(format_duration(90 * 86_400_000), "90d");
        assert_eq!(format_duration(1500), "1s500ms");
    }

    #[test]
    fn numbers_follow_go_rules() {
        assert_eq!(parse_number("10"), Ok(10.0));
        assert_eq!(parse_number("010"), Ok(8.0));
        assert_eq!(parse_number("0x1f"), Ok(31.0));
        assert_eq!(parse_number("1_000"), Ok(1000.0));
        assert_eq!(parse_number("1e3"), Ok(1000.0));
        assert_eq!(parse_number(".5"), Ok(0.5));
        assert_eq!(parse_number("2."), Ok(2.0));
        assert_eq!(parse_number("Inf"), Ok(f64::INFINITY));
        assert!(parse_number("NaN").unwrap().is_nan());
        assert_eq!(parse_number("99999999999999999999"), Ok(1e20));
        assert!(parse_number("1__0").is_err());
    }

    #[test]
    fn strings_unquote_with_go_escapes() {
        assert_eq!(unquote(r#""a\"b""#).unwrap(), b"a\"b");
        assert_eq!(unquote(r"'a\'b'").unwrap(), b"a'b");
        assert_eq!(
            unquote(r#""\x41\u00e9\101""#).unwrap(),
            "Aé A".replace(' ', "").as_bytes()
        );
        assert_eq!(unquote("`a\\b`").unwrap(), b"a\\b");
        assert_eq!(unquote(r#""\xc5""#).unwrap(), vec![0xc5]);
        assert!(unquote(r#""\'""#).is_none());
        assert!(unquote(r#""\q""#).is_none());
    }

    #[test]
    fn quoting_matches_go() {
        assert_eq!(go_quote_bytes(b"a\xc5z"), r#""a\xc5z""#);
        assert_eq!(go_quote_rune('$'), "'$'");
        assert_eq!(go_quote_rune('\n'), r"'\n'");
        assert_eq!(go_quote_rune('\''), r"'\''");
    }
}
