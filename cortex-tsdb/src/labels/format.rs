//! The Prometheus text form of a label set: `{__name__="up", job="api"}`.
//!
//! Values (and names that are not legacy names) are quoted the way Go's `strconv.Quote`
//! quotes, because tools such as `promtool tsdb dump` print them that way and our output
//! must match theirs byte for byte.

use std::fmt::{self, Write};

use super::{Labels, is_valid_legacy_name};

/// Writes `labels` as Prometheus prints them: `{a="1", b="2"}`.
pub fn write_labels(out: &mut impl Write, labels: &Labels) -> fmt::Result {
    out.write_char('{')?;
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.write_str(", ")?;
        }
        if is_valid_legacy_name(l.name) {
            out.write_str(l.name)?;
        } else {
            write_go_quoted(out, l.name)?;
        }
        out.write_char('=')?;
        write_go_quoted(out, l.value)?;
    }
    out.write_char('}')
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_labels(f, self)
    }
}

/// Writes `s` in double quotes, escaped as Go's `strconv.Quote` escapes it: `\"` and `\\`,
/// the C escapes for control characters, `\xNN` for other ASCII controls, and `\uXXXX` /
/// `\UXXXXXXXX` for characters that are not printable.
///
/// "Printable" follows Go's `unicode.IsPrint` for everything a label normally holds; for
/// exotic code points (unassigned ones, for instance) we cannot tell without Unicode
/// tables and print them as they are.
pub fn write_go_quoted(out: &mut impl Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\u{07}' => Some("\\a"),
            '\u{08}' => Some("\\b"),
            '\u{0c}' => Some("\\f"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{0b}' => Some("\\v"),
            _ => None,
        };
        if esc.is_none() && is_go_printable(c) {
            continue;
        }
        out.write_str(&s[start..i])?;
        start = i + c.len_utf8();
        match esc {
            Some(e) => out.write_str(e)?,
            None if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32)?,
            None if (c as u32) < 0x10000 => write!(out, "\\u{:04x}", c as u32)?,
            None => write!(out, "\\U{:08x}", c as u32)?,
        }
    }
    out.write_str(&s[start..])?;
    out.write_char('"')
}

/// Go's `unicode.IsPrint`, for the code points we can classify without tables: controls,
/// separators other than the ASCII space, format characters and private-use characters
/// are not printable.
fn is_go_printable(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..0x7f).contains(&u);
    }
    !matches!(u,
        0x80..=0xa0 // C1 controls and NO-BREAK SPACE
        | 0xad // SOFT HYPHEN (Cf)
        | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890 | 0x891 | 0x8e2 | 0x180e
        | 0x1680 // OGHAM SPACE MARK (Zs)
        | 0x2000..=0x200f // spaces and format characters
        | 0x2028..=0x202f // line/paragraph separators, embedding controls, NNBSP
        | 0x205f..=0x2064 | 0x2066..=0x206f
        | 0x3000 // IDEOGRAPHIC SPACE
        | 0xd800..=0xf8ff // surrogates (unreachable in a char) and private use
        | 0xfeff | 0xfff9..=0xfffb
        | 0xfffe | 0xffff
        | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a
        | 0xe0001 | 0xe0020..=0xe007f
        | 0xf0000..=0x10ffff // private use planes
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> String {
        let mut out = String::new();
        write_go_quoted(&mut out, s).unwrap();
        out
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(quoted("plain"), "\"plain\"");
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quoted("tab\there\nnl"), "\"tab\\there\\nnl\"");
        assert_eq!(quoted("\u{1}\u{7f}"), "\"\\x01\\x7f\"");
        assert_eq!(quoted("grüße 日本"), "\"grüße 日本\"");
        assert_eq!(quoted("\u{a0}\u{feff}"), "\"\\u00a0\\ufeff\"");
        assert_eq!(quoted("\u{f0000}"), "\"\\U000f0000\"");
    }

    #[test]
    fn labels_print_like_prometheus() {
        let l = Labels::from_pairs([
            ("job", "api"),
            ("__name__", "http_requests_total"),
            ("service.name", "x\"y"),
        ])
        .unwrap();
        assert_eq!(
            l.to_string(),
            r#"{__name__="http_requests_total", job="api", "service.name"="x\"y"}"#
        );
        assert_eq!(Labels::empty().to_string(), "{}");
    }
}
