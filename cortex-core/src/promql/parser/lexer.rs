//! The PromQL lexer: turns a query into tokens, tracking braces, brackets and
//! parentheses the way Prometheus' lexer does (keywords are plain identifiers inside
//! braces; inside brackets only durations, numbers, `:` and duration operators appear).
//!
//! Lexing stops at the first error; the error carries the byte position where the
//! offending token starts, and the message Prometheus would give.

use super::literal::go_quote_rune;
use super::token::{Token, TokenKind as K, keyword};

/// A lexing failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    /// Byte offset where the bad token starts.
    pub pos: usize,
    /// What is wrong.
    pub msg: String,
}

/// Lexes `input` completely. Comments are dropped. The token list always ends with an
/// `Eof` token; on error, the tokens before the error are returned with it.
pub fn lex(input: &str) -> (Vec<Token>, Option<LexError>) {
    let mut l = Lexer {
        input,
        bytes: input.as_bytes(),
        pos: 0,
        paren_depth: 0,
        brace_open: false,
        bracket_open: false,
        got_colon: false,
        duration_expr: false,
        got_duration: false,
        tokens: Vec::new(),
    };
    let err = l.run().err();
    let end = err.as_ref().map_or(input.len(), |e| e.pos);
    l.tokens.push(Token {
        kind: K::Eof,
        pos: end,
        len: 0,
    });
    (l.tokens, err)
}

pub(super) struct Lexer<'a> {
    pub(super) input: &'a str,
    pub(super) bytes: &'a [u8],
    pub(super) pos: usize,
    pub(super) paren_depth: i32,
    pub(super) brace_open: bool,
    pub(super) bracket_open: bool,
    pub(super) got_colon: bool,
    /// Right after `[`, until the first number or duration: only duration
    /// arithmetic may appear.
    pub(super) duration_expr: bool,
    /// A number was lexed in duration-arithmetic mode (never reset, as in
    /// Prometheus).
    pub(super) got_duration: bool,
    tokens: Vec<Token>,
}

pub(super) fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

pub(super) fn is_alpha(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

pub(super) fn is_alnum(c: u8) -> bool {
    is_alpha(c) || c.is_ascii_digit()
}

impl<'a> Lexer<'a> {
    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub(super) fn peek_at(&self, off: usize) -> Option<u8> {
        self.bytes.get(self.pos + off).copied()
    }

    pub(super) fn emit(&mut self, kind: super::token::TokenKind, start: usize) {
        self.tokens.push(Token {
            kind,
            pos: start,
            len: self.pos - start,
        });
    }

    pub(super) fn err<T>(&self, pos: usize, msg: String) -> Result<T, LexError> {
        Err(LexError { pos, msg })
    }

    /// The character at the current position (for messages).
    pub(super) fn char_at(&self, pos: usize) -> char {
        self.input[pos..].chars().next().unwrap_or('\u{0}')
    }

    fn run(&mut self) -> Result<(), LexError> {
        loop {
            if self.brace_open {
                if self.lex_inside_braces()? {
                    return Ok(());
                }
            } else if self.duration_expr {
                self.lex_duration_expr()?;
            } else if self.lex_statement()? {
                return Ok(());
            }
        }
    }

    fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == b'\n' || c == b'\r' {
                break;
            }
            self.pos += 1;
        }
    }

    /// Lexes one token outside braces. Returns true at the end of input.
    fn lex_statement(&mut self) -> Result<bool, LexError> {
        let start = self.pos;
        let Some(c) = self.peek() else {
            if self.paren_depth != 0 {
                return self.err(start, "unclosed left parenthesis".into());
            }
            if self.bracket_open {
                return self.err(start, "unclosed left bracket".into());
            }
            return Ok(true);
        };
        if c == b'#' {
            self.skip_comment();
            return Ok(false);
        }
        if is_space(c) {
            self.pos += 1;
            return Ok(false);
        }
        if c.is_ascii_digit() || (c == b'.' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit()))
        {
            return self.lex_number_or_duration().map(|_| false);
        }
        if is_alpha(c) || c == b':' {
            if !self.bracket_open {
                self.lex_keyword_or_identifier();
                return Ok(false);
            }
            if c == b':' {
                if self.got_colon {
                    return self.err(start, "unexpected colon ':'".into());
                }
                self.pos += 1;
                self.emit(K::Colon, start);
                self.got_colon = true;
                return Ok(false);
            }
            if self.lex_duration_keyword() {
                return Ok(false);
            }
            return self.err(
                start,
                format!(
                    "unexpected character: {}, expected ':'",
                    go_quote_rune(self.char_at(start))
                ),
            );
        }
        self.pos += 1;
        let kind = match c {
            b',' => K::Comma,
            b'*' => K::Mul,
            b'/' => K::Div,
            b'%' => K::Mod,
            b'+' => K::Add,
            b'-' => K::Sub,
            b'^' => K::Pow,
            b'@' => K::At,
            b'=' => match self.peek() {
                Some(b'=') => {
                    self.pos += 1;
                    K::Eqlc
                }
                Some(b'~') => {
                    return self.err(start, "unexpected character after '=': '~'".into());
                }
                _ => K::Eql,
            },
            b'!' => match self.peek() {
                Some(b'=') => {
                    self.pos += 1;
                    K::Neq
                }
                other => {
                    let shown = match other {
                        Some(_) => go_quote_rune(self.char_at(self.pos)),
                        None => "U+FFFFFFFFFFFFFFFF".to_string(),
                    };
                    return self.err(start, format!("unexpected character after '!': {shown}"));
                }
            },
            b'<' => match self.peek() {
                Some(b'=') => {
                    self.pos += 1;
                    K::Lte
                }
                Some(b'/') => {
                    self.pos += 1;
                    K::TrimUpper
                }
                _ => K::Lss,
            },
            b'>' => match self.peek() {
                Some(b'=') => {
                    self.pos += 1;
                    K::Gte
                }
                Some(b'/') => {
                    self.pos += 1;
                    K::TrimLower
                }
                _ => K::Gtr,
            },
            b'"' | b'\'' => {
                self.lex_string(c, start)?;
                return Ok(false);
            }
            b'`' => {
                self.lex_raw_string(start)?;
                return Ok(false);
            }
            b'(' => {
                self.paren_depth += 1;
                K::LeftParen
            }
            b')' => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.err(self.pos, "unexpected right parenthesis ')'".into());
                }
                K::RightParen
            }
            b'{' => {
                self.brace_open = true;
                K::LeftBrace
            }
            b'[' => {
                if self.bracket_open {
                    return self.err(start, "unexpected left bracket '['".into());
                }
                self.got_colon = false;
                self.emit(K::LeftBracket, start);
                while self.peek().is_some_and(is_space) {
                    self.pos += 1;
                }
                self.bracket_open = true;
                self.duration_expr = true;
                return Ok(false);
            }
            b']' => {
                if !self.bracket_open {
                    return self.err(start, "unexpected right bracket ']'".into());
                }
                self.bracket_open = false;
                self.got_colon = false;
                K::RightBracket
            }
            _ => {
                return self.err(
                    start,
                    format!(
                        "unexpected character: {}",
                        go_quote_rune(self.char_at(start))
                    ),
                );
            }
        };
        self.emit(kind, start);
        Ok(false)
    }

    fn lex_keyword_or_identifier(&mut self) {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if is_alnum(c) || c == b':' {
                self.pos += 1;
            } else {
                break;
            }
        }
        let word = &self.input[start..self.pos];
        let kind = match keyword(&word.to_ascii_lowercase()) {
            Some(k @ (K::Fill | K::FillLeft | K::FillRight)) => {
                if self.followed_by_left_paren() {
                    k
                } else {
                    K::Identifier
                }
            }
            Some(k) => k,
            None if word.contains(':') => K::MetricIdentifier,
            None => K::Identifier,
        };
        self.emit(kind, start);
    }

    fn followed_by_left_paren(&self) -> bool {
        self.bytes[self.pos..]
            .iter()
            .find(|c| !is_space(**c))
            .is_some_and(|c| *c == b'(')
    }

    pub(super) fn lex_number_or_duration(&mut self) -> Result<(), LexError> {
        let start = self.pos;
        if self.scan_number() {
            self.emit(K::Number, start);
            return Ok(());
        }
        if self.accept_remaining_duration() {
            self.emit(K::Duration, start);
            return Ok(());
        }
        self.err(
            start,
            format!(
                "bad number or duration syntax: {}",
                super::literal::go_quote(&self.input[start..self.pos.min(self.input.len())])
            ),
        )
    }

    /// Lexes one token inside `{...}`. Returns true at the end of input (an error).
    fn lex_inside_braces(&mut self) -> Result<bool, LexError> {
        let start = self.pos;
        let Some(c) = self.peek() else {
            return self.err(start, "unexpected end of input inside braces".into());
        };
        if c == b'#' {
            self.skip_comment();
            return Ok(false);
        }
        if is_space(c) {
            self.pos += 1;
            return Ok(false);
        }
        if is_alpha(c) {
            while self.peek().is_some_and(is_alnum) {
                self.pos += 1;
            }
            self.emit(K::Identifier, start);
            return Ok(false);
        }
        self.pos += 1;
        let kind = match c {
            b',' => K::Comma,
            b'"' | b'\'' => {
                self.lex_string(c, start)?;
                return Ok(false);
            }
            b'`' => {
                self.lex_raw_string(start)?;
                return Ok(false);
            }
            b'=' => {
                if self.accept(b"~") {
                    K::EqlRegex
                } else {
                    K::Eql
                }
            }
            b'!' => match self.peek() {
                Some(b'~') => {
                    self.pos += 1;
                    K::NeqRegex
                }
                Some(b'=') => {
                    self.pos += 1;
                    K::Neq
                }
                _ => {
                    let shown = if self.pos < self.bytes.len() {
                        go_quote_rune(self.char_at(self.pos))
                    } else {
                        "U+FFFFFFFFFFFFFFFF".to_string()
                    };
                    return self.err(
                        start,
                        format!("unexpected character after '!' inside braces: {shown}"),
                    );
                }
            },
            b'{' => return self.err(start, "unexpected left brace '{'".into()),
            b'}' => {
                self.brace_open = false;
                K::RightBrace
            }
            _ => {
                return self.err(
                    start,
                    format!(
                        "unexpected character inside braces: {}",
                        go_quote_rune(self.char_at(start))
                    ),
                );
            }
        };
        self.emit(kind, start);
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<super::super::token::TokenKind> {
        let (toks, err) = lex(input);
        assert!(err.is_none(), "{input}: {err:?}");
        toks.iter().map(|t| t.kind).collect()
    }

    #[test]
    fn lexes_selectors_and_operators() {
        assert_eq!(
            kinds(r#"sum by (job) (rate(x{a=~"b"}[5m])) > bool 1"#),
            vec![
                K::Sum,
                K::By,
                K::LeftParen,
                K::Identifier,
                K::RightParen,
                K::LeftParen,
                K::Identifier,
                K::LeftParen,
                K::Identifier,
                K::LeftBrace,
                K::Identifier,
                K::EqlRegex,
                K::String,
                K::RightBrace,
                K::LeftBracket,
                K::Duration,
                K::RightBracket,
                K::RightParen,
                K::RightParen,
                K::Gtr,
                K::Bool,
                K::Number,
                K::Eof
            ]
        );
    }

    #[test]
    fn keywords_are_identifiers_inside_braces() {
        assert_eq!(
            kinds("{by=\"x\"}"),
            vec![
                K::LeftBrace,
                K::Identifier,
                K::Eql,
                K::String,
                K::RightBrace,
                K::Eof
            ]
        );
    }

    #[test]
    fn numbers_and_durations() {
        assert_eq!(kinds("1.5e3"), vec![K::Number, K::Eof]);
        assert_eq!(kinds("0x1F"), vec![K::Number, K::Eof]);
        assert_eq!(kinds("1h30m"), vec![K::Duration, K::Eof]);
        assert_eq!(kinds("Inf"), vec![K::Number, K::Eof]);
        assert_eq!(
            kinds("x[5m:1m]")[2..5],
            [K::Duration, K::Colon, K::Duration]
        );
    }

    #[test]
    fn fill_is_a_keyword_only_before_a_paren() {
        assert_eq!(
            kinds("fill + fill"),
            vec![K::Identifier, K::Add, K::Identifier, K::Eof]
        );
        assert_eq!(kinds("fill(1)")[0], K::Fill);
    }

    #[test]
    fn errors_have_positions_and_messages() {
        let (_, err) = lex("foo $");
        assert_eq!(
            err,
            Some(LexError {
                pos: 4,
                msg: "unexpected character: '$'".into()
            })
        );
        let (_, err) = lex("sum(x");
        assert_eq!(err.unwrap().msg, "unclosed left parenthesis");
        let (_, err) = lex("\"abc");
        assert_eq!(err.unwrap().msg, "unterminated quoted string");
        let (_, err) = lex(r#""\q""#);
        assert_eq!(err.unwrap().msg, "unknown escape sequence U+0071 'q'");
        let (_, err) = lex("x)");
        assert_eq!(err.unwrap().msg, "unexpected right parenthesis ')'");
    }

    #[test]
    fn comments_are_skipped() {
        assert_eq!(
            kinds("x # comment\n + 1"),
            vec![K::Identifier, K::Add, K::Number, K::Eof]
        );
    }
}
