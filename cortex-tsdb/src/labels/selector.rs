//! Parsing series selectors — `up{job="api", instance=~"i.*"}` — into matchers, for
//! tools and APIs that take a selector but not a whole PromQL expression.
//!
//! The syntax is PromQL's vector selector without range, offset or `@`: an optional
//! metric name, then optional `{...}` with `name op "value"` matchers (a bare quoted
//! string inside the braces is a metric name). Strings use Go's quoting in `"..."` and
//! `'...'` (escapes `\n`, `\x41`, `\u00e9`, octal, ...) and are raw in `` `...` ``. Like
//! Prometheus' `ParseMetricSelector`, a selector whose matchers all match the empty string
//! is accepted here; PromQL queries reject it, and callers that need that rule apply it.

use super::{LabelError, METRIC_NAME, MatchType, Matcher};

/// Why a selector could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The text does not follow the syntax.
    #[error("parse error at char {pos}: {message}")]
    Syntax {
        /// 1-based character position.
        pos: usize,
        /// What was expected.
        message: String,
    },
    /// A matcher is invalid (for example a bad regular expression).
    #[error(transparent)]
    Matcher(#[from] LabelError),
}

/// Parses a series selector into its matchers (the metric name becomes a `__name__`
/// matcher first).
pub fn parse_selector(input: &str) -> Result<Vec<Matcher>, SelectorError> {
    let mut p = Parser { s: input, pos: 0 };
    let mut out = Vec::new();
    p.skip_ws();
    if let Some(name) = p.ident(true) {
        out.push(Matcher::equal(METRIC_NAME, name));
    }
    p.skip_ws();
    if p.eat('{') {
        loop {
            p.skip_ws();
            if p.eat('}') {
                break;
            }
            let name = if let Some(q) = p.peek_quote() {
                let s = p.string(q)?;
                p.skip_ws();
                if matches!(p.peek(), Some(',') | Some('}')) {
                    // A bare quoted string is the metric name.
                    out.push(Matcher::equal(METRIC_NAME, &s));
                    p.skip_ws();
                    p.eat(',');
                    continue;
                }
                s
            } else {
                p.ident(false)
                    .ok_or_else(|| p.err("expected label matcher"))?
                    .to_string()
            };
            p.skip_ws();
            let op = p
                .op()
                .ok_or_else(|| p.err("expected label matching operator"))?;
            p.skip_ws();
            let q = p.peek_quote().ok_or_else(|| p.err("expected string"))?;
            let value = p.string(q)?;
            out.push(Matcher::new(op, &name, &value)?);
            p.skip_ws();
            if p.eat(',') {
                continue;
            }
            if !p.eat('}') {
                return Err(p.err("expected comma or closing brace"));
            }
            break;
        }
    }
    p.skip_ws();
    if p.pos < p.s.len() {
        return Err(p.err("unexpected input after selector"));
    }
    if out.is_empty() {
        return Err(SelectorError::Syntax {
            pos: 1,
            message: "vector selector must contain label matchers or metric name".into(),
        });
    }
    Ok(out)
}

/// Unquotes a Go string literal (`"..."`, `'...'` or `` `...` ``), as PromQL does.
pub fn unquote_go_string(lit: &str) -> Option<String> {
    let mut p = Parser { s: lit, pos: 0 };
    let q = p.peek_quote()?;
    let s = p.string(q).ok()?;
    (p.pos == lit.len()).then_some(s)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn err(&self, message: &str) -> SelectorError {
        SelectorError::Syntax {
            pos: self.s[..self.pos].chars().count() + 1,
            message: message.to_string(),
        }
    }

    /// A metric name (with colons) or label name at the cursor.
    fn ident(&mut self, metric: bool) -> Option<&'a str> {
        let rest = &self.s[self.pos..];
        let ok_first = |c: u8| c.is_ascii_alphabetic() || c == b'_' || (metric && c == b':');
        let ok = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || (metric && c == b':');
        let b = rest.as_bytes();
        if !b.first().is_some_and(|c| ok_first(*c)) {
            return None;
        }
        let n = 1 + b[1..].iter().take_while(|c| ok(**c)).count();
        self.pos += n;
        Some(&rest[..n])
    }

    fn op(&mut self) -> Option<MatchType> {
        let rest = &self.s[self.pos..];
        let (op, n) = if rest.starts_with("=~") {
            (MatchType::Regexp, 2)
        } else if rest.starts_with("!~") {
            (MatchType::NotRegexp, 2)
        } else if rest.starts_with("!=") {
            (MatchType::NotEqual, 2)
        } else if rest.starts_with('=') {
            (MatchType::Equal, 1)
        } else {
            return None;
        };
        self.pos += n;
        Some(op)
    }

    fn peek_quote(&self) -> Option<char> {
        self.peek().filter(|c| matches!(c, '"' | '\'' | '`'))
    }

    /// Reads a quoted string starting at the opening quote `q`.
    fn string(&mut self, q: char) -> Result<String, SelectorError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err("unterminated quoted string"));
            };
            self.pos += c.len_utf8();
            if c == q {
                return Ok(out);
            }
            if q == '`' {
                out.push(c);
                continue;
            }
            if c == '\n' {
                return Err(self.err("unterminated quoted string"));
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(e) = self.peek() else {
                return Err(self.err("unterminated quoted string"));
            };
            self.pos += e.len_utf8();
            let simple = match e {
                'a' => Some('\u{7}'),
                'b' => Some('\u{8}'),
                'f' => Some('\u{c}'),
                'n' => Some('\n'),
                'r' => Some('\r'),
                't' => Some('\t'),
                'v' => Some('\u{b}'),
                '\\' => Some('\\'),
                '"' | '\'' if e == q => Some(e),
                _ => None,
            };
            if let Some(c) = simple {
                out.push(c);
                continue;
            }
            let (digits, radix) = match e {
                'x' => (2, 16),
                'u' => (4, 16),
                'U' => (8, 16),
                '0'..='7' => {
                    self.pos -= 1;
                    (3, 8)
                }
                _ => return Err(self.err("unknown escape sequence")),
            };
            let hex = self
                .s
                .get(self.pos..self.pos + digits)
                .ok_or_else(|| self.err("short escape sequence"))?;
            let v =
                u32::from_str_radix(hex, radix).map_err(|_| self.err("invalid escape sequence"))?;
            self.pos += digits;
            if e == 'x' || radix == 8 {
                if v > 0xff {
                    return Err(self.err("octal escape value > 255"));
                }
                // Go would insert a raw byte; only ASCII keeps the string valid UTF-8.
                if v > 0x7f {
                    return Err(self.err("escaped byte is not valid UTF-8 on its own"));
                }
            }
            out.push(
                char::from_u32(v)
                    .ok_or_else(|| self.err("escape sequence is an invalid Unicode code point"))?,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(s: &str) -> Vec<String> {
        parse_selector(s)
            .unwrap()
            .iter()
            .map(|m| m.to_string())
            .collect()
    }

    #[test]
    fn parses_names_and_matchers() {
        assert_eq!(sel("up"), vec![r#"__name__="up""#]);
        assert_eq!(
            sel(r#" up { job = "api", instance=~'i.*' , x!=`a\b`, } "#),
            vec![
                r#"__name__="up""#,
                r#"job="api""#,
                r#"instance=~"i.*""#,
                r#"x!="a\\b""#
            ]
        );
        assert_eq!(
            sel(r#"{__name__=~"(?s:.*)"}"#),
            vec![r#"__name__=~"(?s:.*)""#]
        );
        assert_eq!(
            sel(r#"{"my.metric", a!~"b"}"#),
            vec![r#"__name__="my.metric""#, r#"a!~"b""#]
        );
        assert_eq!(sel(r#"{a="\u00e9\x41\101\n"}"#), vec!["a=\"éAA\\n\""]);
    }

    #[test]
    fn rejects_bad_selectors() {
        for s in [
            "",
            "{}",
            "up{",
            r#"up{a="b""#,
            r#"up{a}"#,
            r#"up{a="b"} x"#,
            r#"{a="\q"}"#,
            r#"{a=~"("}"#,
        ] {
            assert!(parse_selector(s).is_err(), "{s:?}");
        }
    }

    #[test]
    fn unquotes_go_strings() {
        assert_eq!(unquote_go_string(r#""a\"b""#).as_deref(), Some("a\"b"));
        assert_eq!(unquote_go_string("`raw\\n`").as_deref(), Some("raw\\n"));
        assert_eq!(unquote_go_string(r#""open"#), None);
    }
}
