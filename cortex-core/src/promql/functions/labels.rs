//! Label helpers for functions: Go-compatible regular expressions and `$1`/`${name}`
//! template expansion for `label_replace`, label-name validation, and the labels
//! `absent()` derives from its selector.

use cortex_tsdb::labels::{Labels, LabelsBuilder, METRIC_NAME, MatchType};
use regex::{Captures, Regex, RegexBuilder};

use crate::promql::parser::Expr;

/// A label name Prometheus 3 accepts: non-empty (valid UTF-8 is guaranteed by `str`).
pub(crate) fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// Compiles `pattern` fully anchored, with Go's semantics for `.` (matches newlines
/// via `(?s)`) and ASCII-only Perl classes. `None` if it does not compile.
pub(crate) fn compile_go_regex(pattern: &str) -> Option<Regex> {
    let anchored = format!("^(?s:{})$", ascii_perl_classes(pattern));
    RegexBuilder::new(&anchored)
        .size_limit(64 << 20)
        .build()
        .ok()
}

/// Rewrites `\d`, `\w`, `\s` (and their negations) to their ASCII meaning, as in Go.
fn ascii_perl_classes(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 8);
    let mut chars = p.chars();
    let mut depth = 0; // inside a bracket expression
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let class = match e {
                    'd' => Some(("0-9", false)),
                    'D' => Some(("0-9", true)),
                    'w' => Some(("0-9A-Za-z_", false)),
                    'W' => Some(("0-9A-Za-z_", true)),
                    's' => Some(("\\t\\n\\x0C\\r ", false)),
                    'S' => Some(("\\t\\n\\x0C\\r ", true)),
                    _ => None,
                };
                match class {
                    Some((set, neg)) if depth == 0 => {
                        out.push('[');
                        if neg {
                            out.push('^');
                        }
                        out.push_str(set);
                        out.push(']');
                    }
                    Some((set, false)) => out.push_str(set),
                    _ => {
                        out.push('\\');
                        out.push(e);
                    }
                }
            }
            '[' if depth == 0 => {
                depth = 1;
                out.push('[');
                // `]` right after `[` or `[^` is a literal.
                let rest = chars.as_str();
                if let Some(r) = rest.strip_prefix("^]") {
                    out.push_str("^]");
                    chars = r.chars();
                } else if let Some(r) = rest.strip_prefix(']') {
                    out.push(']');
                    chars = r.chars();
                }
            }
            ']' if depth == 1 => {
                depth = 0;
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

/// Go's `Regexp.ExpandString`: `$1`, `${1}`, `$name`, `${name}`, `$$`. A name is
/// the longest run of letters, digits and `_` (so `$1x` is the group named `1x`).
pub(crate) fn expand_template(re: &Regex, caps: &Captures<'_>, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let (brace, body) = match rest.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let len: usize = body
            .char_indices()
            .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
            .last()
            .map_or(0, |(i, c)| i + c.len_utf8());
        if len == 0 || (brace && !body[len..].starts_with('}')) {
            out.push('$');
            continue;
        }
        let name = &body[..len];
        rest = if brace {
            &body[len + 1..]
        } else {
            &body[len..]
        };
        let num = if name.bytes().all(|b| b.is_ascii_digit())
            && !(name.len() > 1 && name.starts_with('0'))
        {
            name.parse::<usize>().ok()
        } else {
            None
        };
        let m = match num {
            Some(n) => caps.get(n),
            None => re
                .capture_names()
                .position(|n| n == Some(name))
                .and_then(|i| caps.get(i)),
        };
        if let Some(m) = m {
            out.push_str(m.as_str());
        }
    }
    out.push_str(rest);
    out
}

/// The labels `absent(x{...})` reports: the equality matchers of the selector,
/// except labels matched more than once, and never the metric name.
pub(crate) fn absent_labels(e: &Expr) -> Labels {
    let matchers = match e {
        Expr::VectorSelector(vs) => &vs.matchers,
        Expr::MatrixSelector(ms) => &ms.vs.matchers,
        _ => return Labels::empty(),
    };
    let mut b = LabelsBuilder::new();
    let mut has: Vec<&str> = Vec::new();
    for m in matchers {
        if m.name() == METRIC_NAME {
            continue;
        }
        if m.kind() == MatchType::Equal && !has.contains(&m.name()) {
            b.set(m.name(), m.value());
            has.push(m.name());
        } else {
            b.del(m.name());
        }
    }
    b.build().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_like_go() {
        let re = compile_go_regex("(?P<a>[a-z]+)-(\\d+)").unwrap();
        let caps = re.captures("abc-12").unwrap();
        assert_eq!(expand_template(&re, &caps, "$1/$2"), "abc/12");
        assert_eq!(expand_template(&re, &caps, "${a}x"), "abcx");
        // `$1x` names group "1x", which does not exist.
        assert_eq!(expand_template(&re, &caps, "$1x"), "");
        assert_eq!(expand_template(&re, &caps, "$$1"), "$1");
        assert_eq!(expand_template(&re, &caps, "a$"), "a$");
    }

    #[test]
    fn regexes_are_anchored_and_ascii() {
        let re = compile_go_regex("\\d+").unwrap();
        assert!(re.is_match("123"));
        assert!(!re.is_match("x123"));
        assert!(!re.is_match("١٢"));
        assert!(compile_go_regex("(.*").is_none());
        assert!(compile_go_regex("a.b").unwrap().is_match("a\nb"));
    }
}
