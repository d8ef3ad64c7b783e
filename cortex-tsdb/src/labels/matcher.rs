//! Label matchers: `name="v"`, `name!="v"`, `name=~"re"`, `name!~"re"` with Prometheus
//! semantics.
//!
//! A series that lacks a label is matched as if the label's value were the empty string,
//! so `foo=""` selects series without `foo` and `foo!=""` selects series that have it.
//! Regular expressions use RE2 syntax and are fully anchored (`^(?s:re)$`). Perl classes
//! (`\d`, `\w`, `\s`, `\b`) are ASCII-only, as in Go's `regexp`, not Unicode-aware as the
//! `regex` crate would make them by default. Literal alternations (`a|b|c`) are recognised
//! so the index can look their values up directly instead of scanning every value.

use std::fmt;

use regex::{Regex, RegexBuilder};

use super::{LabelError, format::write_go_quoted, is_valid_legacy_name};

/// The four matching operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchType {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regexp,
    /// `!~`
    NotRegexp,
}

impl MatchType {
    /// The operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regexp => "=~",
            MatchType::NotRegexp => "!~",
        }
    }

    /// True for `!=` and `!~`.
    pub fn is_negative(self) -> bool {
        matches!(self, MatchType::NotEqual | MatchType::NotRegexp)
    }
}

/// How a regular expression matcher decides, cheapest form first.
#[derive(Clone)]
enum RegexKind {
    /// `.*`: every value.
    Any,
    /// `.+`: every non-empty value.
    NonEmpty,
    /// A literal alternation `a|b|c`, sorted and deduplicated.
    Set(Vec<String>),
    /// Anything else.
    General(Regex),
}

/// One label matcher.
#[derive(Clone)]
pub struct Matcher {
    name: String,
    value: String,
    kind: MatchType,
    re: Option<RegexKind>,
}

impl Matcher {
    /// Builds a matcher; a regular expression that does not compile is an error.
    pub fn new(kind: MatchType, name: &str, value: &str) -> Result<Matcher, LabelError> {
        let re = match kind {
            MatchType::Regexp | MatchType::NotRegexp => Some(compile(value)?),
            _ => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            value: value.to_string(),
            kind,
            re,
        })
    }

    /// `name="value"`.
    pub fn equal(name: &str, value: &str) -> Matcher {
        Matcher {
            name: name.to_string(),
            value: value.to_string(),
            kind: MatchType::Equal,
            re: None,
        }
    }

    /// The label name matched.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value or pattern as written.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The operator.
    pub fn kind(&self) -> MatchType {
        self.kind
    }

    /// True when `value` (the empty string for an absent label) satisfies the matcher.
    #[inline]
    pub fn matches(&self, value: &str) -> bool {
        match self.kind {
            MatchType::Equal => value == self.value,
            MatchType::NotEqual => value != self.value,
            MatchType::Regexp => self.regex_matches(value),
            MatchType::NotRegexp => !self.regex_matches(value),
        }
    }

    /// True when the matcher selects series that do not have the label at all.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// For `=` and for `=~` over a literal alternation: the exact values that match, sorted.
    /// Lets an index look values up instead of testing every value.
    pub fn set_matches(&self) -> Option<Vec<&str>> {
        match (&self.kind, &self.re) {
            (MatchType::Equal, _) => Some(vec![self.value.as_str()]),
            (MatchType::Regexp, Some(RegexKind::Set(v))) => {
                Some(v.iter().map(String::as_str).collect())
            }
            _ => None,
        }
    }

    /// The inverse matcher (`=` ↔ `!=`, `=~` ↔ `!~`), used to turn a negative matcher into
    /// a postings subtraction.
    pub fn inverse(&self) -> Matcher {
        let kind = match self.kind {
            MatchType::Equal => MatchType::NotEqual,
            MatchType::NotEqual => MatchType::Equal,
            MatchType::Regexp => MatchType::NotRegexp,
            MatchType::NotRegexp => MatchType::Regexp,
        };
        Matcher {
            kind,
            ..self.clone()
        }
    }

    #[inline]
    fn regex_matches(&self, value: &str) -> bool {
        match &self.re {
            Some(RegexKind::Any) => true,
            Some(RegexKind::NonEmpty) => !value.is_empty(),
            Some(RegexKind::Set(set)) => set.binary_search_by(|s| s.as_str().cmp(value)).is_ok(),
            Some(RegexKind::General(re)) => re.is_match(value),
            None => false,
        }
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.name == other.name && self.value == other.value
    }
}

impl Eq for Matcher {}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_valid_legacy_name(&self.name) {
            f.write_str(&self.name)?;
        } else {
            write_go_quoted(f, &self.name)?;
        }
        f.write_str(self.kind.as_str())?;
        write_go_quoted(f, &self.value)
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn compile(pattern: &str) -> Result<RegexKind, LabelError> {
    match pattern {
        ".*" => return Ok(RegexKind::Any),
        ".+" => return Ok(RegexKind::NonEmpty),
        _ => {}
    }
    if let Some(mut set) = literal_alternation(pattern) {
        set.sort_unstable();
        set.dedup();
        return Ok(RegexKind::Set(set));
    }
    let anchored = format!("^(?s:{})$", go_perl_classes(pattern));
    RegexBuilder::new(&anchored)
        .size_limit(64 << 20)
        .build()
        .map(RegexKind::General)
        .map_err(|e| LabelError::InvalidRegex {
            pattern: pattern.to_string(),
            reason: e.to_string(),
        })
}

/// Splits `a|b\.c|d` into its literal alternatives; `None` if any metacharacter is used.
fn literal_alternation(pattern: &str) -> Option<Vec<String>> {
    let mut out = vec![String::new()];
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '|' => out.push(String::new()),
            '\\' => {
                let e = chars.next()?;
                if !r"\.+*?()|[]{}^$".contains(e) {
                    return None;
                }
                out.last_mut()?.push(e);
            }
            '.' | '+' | '*' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '^' | '$' => return None,
            _ => out.last_mut()?.push(c),
        }
    }
    Some(out)
}

/// Rewrites Perl classes to their ASCII meaning, as Go's `regexp` defines them.
fn go_perl_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let rewrite = match (in_class, e) {
                    (false, 'd') => "[0-9]",
                    (false, 'D') => "[^0-9]",
                    (false, 's') => r"[\t\n\x0C\r ]",
                    (false, 'S') => r"[^\t\n\x0C\r ]",
                    (false, 'w') => "[0-9A-Za-z_]",
                    (false, 'W') => "[^0-9A-Za-z_]",
                    (false, 'b') => r"(?-u:\b)",
                    (false, 'B') => r"(?-u:\B)",
                    (true, 'd') => "0-9",
                    (true, 's') => r"\t\n\x0C\r ",
                    (true, 'w') => "0-9A-Za-z_",
                    _ => "",
                };
                if rewrite.is_empty() {
                    out.push('\\');
                    out.push(e);
                } else {
                    out.push_str(rewrite);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` or `^]` right after the opening bracket is a literal.
                let rest = chars.as_str();
                let lead = if rest.starts_with("^]") {
                    2
                } else if rest.starts_with(']') || rest.starts_with('^') {
                    1
                } else {
                    0
                };
                out.push_str(&rest[..lead]);
                for _ in 0..lead {
                    chars.next();
                }
            }
            '[' if in_class && chars.as_str().starts_with(':') => {
                // POSIX class like [:alpha:] inside a bracket expression.
                out.push('[');
                let rest = chars.as_str();
                if let Some(end) = rest.find(":]") {
                    out.push_str(&rest[..end + 2]);
                    for _ in 0..rest[..end + 2].chars().count() {
                        chars.next();
                    }
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kind: MatchType, name: &str, value: &str) -> Matcher {
        Matcher::new(kind, name, value).unwrap()
    }

    #[test]
    fn equality_and_empty_values() {
        let eq = m(MatchType::Equal, "job", "api");
        assert!(eq.matches("api"));
        assert!(!eq.matches("ap"));
        assert!(!eq.matches_empty());
        assert!(m(MatchType::Equal, "job", "").matches_empty());
        assert!(!m(MatchType::NotEqual, "job", "").matches_empty());
        assert!(m(MatchType::NotEqual, "job", "x").matches_empty());
    }

    #[test]
    fn regexes_are_fully_anchored() {
        let re = m(MatchType::Regexp, "job", "a.i");
        assert!(re.matches("api"));
        assert!(!re.matches("xapi"));
        assert!(!re.matches("apix"));
        let nre = m(MatchType::NotRegexp, "job", "a.*");
        assert!(!nre.matches("abc"));
        assert!(nre.matches("bc"));
        assert!(m(MatchType::Regexp, "x", ".*").matches(""));
        assert!(!m(MatchType::Regexp, "x", ".+").matches(""));
        // (?s): dot matches newline.
        assert!(m(MatchType::Regexp, "x", "a.b").matches("a\nb"));
        // Anchoring applies to the whole alternation.
        assert!(!m(MatchType::Regexp, "x", "a|b.*").matches("ca"));
    }

    #[test]
    fn perl_classes_are_ascii_like_go() {
        let d = m(MatchType::Regexp, "x", r"\d+");
        assert!(d.matches("123"));
        assert!(!d.matches("١٢٣")); // Arabic-Indic digits are not \d in Go.
        assert!(m(MatchType::Regexp, "x", r"[\d.]+").matches("1.5"));
        assert!(!m(MatchType::Regexp, "x", r"\w+").matches("é"));
        assert!(m(MatchType::Regexp, "x", r"[]a]+").matches("]a"));
        assert!(m(MatchType::Regexp, "x", r"[[:alpha:]]+").matches("abc"));
    }

    #[test]
    fn literal_alternations_become_sets() {
        let re = m(MatchType::Regexp, "job", r"b|a|c\.d|a");
        assert_eq!(re.set_matches(), Some(vec!["a", "b", "c.d"]));
        assert!(re.matches("c.d"));
        assert!(!re.matches("cxd"));
        assert!(!re.matches(""));
        assert!(m(MatchType::Regexp, "job", "a|").matches(""));
        assert_eq!(m(MatchType::Regexp, "job", "a.|b").set_matches(), None);
    }

    #[test]
    fn bad_regex_is_an_error() {
        let err = Matcher::new(MatchType::Regexp, "job", "a(").unwrap_err();
        assert!(matches!(err, LabelError::InvalidRegex { .. }), "{err}");
    }

    #[test]
    fn display_quotes_values() {
        assert_eq!(
            m(MatchType::NotRegexp, "job", "a\"b").to_string(),
            r#"job!~"a\"b""#
        );
    }
}
