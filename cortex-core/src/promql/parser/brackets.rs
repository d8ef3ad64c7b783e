//! Lexing right after `[`: Prometheus 3.x lexes the start of a range or subquery
//! as duration arithmetic (`[step() * 2 + 1m]`), with its own error messages, until
//! the first number or duration hands back to the statement lexer.

use super::lexer::{LexError, Lexer, is_alpha, is_space};
use super::literal::go_quote_rune;
use super::token::TokenKind as K;

impl Lexer<'_> {
    /// Lexes one token of duration arithmetic right after `[`; a number or duration
    /// hands over to the statement lexer.
    pub(super) fn lex_duration_expr(&mut self) -> Result<(), LexError> {
        let start = self.pos;
        let Some(c) = self.peek() else {
            return self.err(
                start,
                "unexpected end of input in duration expression".into(),
            );
        };
        if c.is_ascii_digit() || (c == b'.' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit()))
        {
            self.got_duration = true;
            self.duration_expr = false;
            return self.lex_number_or_duration();
        }
        if is_space(c) {
            self.pos += 1;
            return Ok(());
        }
        if matches!(c.to_ascii_lowercase(), b's' | b'r' | b'm') {
            if self.lex_duration_keyword() {
                return Ok(());
            }
            return self.err(
                start,
                format!(
                    "unexpected character in duration expression: {}",
                    go_quote_rune(c as char)
                ),
            );
        }
        self.pos += 1;
        let kind = match c {
            b']' => {
                self.bracket_open = false;
                self.got_colon = false;
                self.duration_expr = false;
                K::RightBracket
            }
            b':' => {
                self.emit(K::Colon, start);
                if !self.got_duration {
                    return self.err(
                        self.pos,
                        "unexpected colon before duration in duration expression".into(),
                    );
                }
                if self.got_colon {
                    return self.err(
                        self.pos,
                        "unexpected repeated colon in duration expression".into(),
                    );
                }
                self.got_colon = true;
                return Ok(());
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
            b'+' => K::Add,
            b'-' => K::Sub,
            b'*' => K::Mul,
            b'/' => K::Div,
            b'%' => K::Mod,
            b'^' => K::Pow,
            b',' => K::Comma,
            _ => {
                return self.err(
                    start,
                    format!(
                        "unexpected character in duration expression: {}",
                        go_quote_rune(self.char_at(start))
                    ),
                );
            }
        };
        self.emit(kind, start);
        Ok(())
    }

    /// Inside brackets: `step`, `range`, `max_of`, `min_of`.
    pub(super) fn lex_duration_keyword(&mut self) -> bool {
        let start = self.pos;
        let mut end = start;
        while end < self.bytes.len() && is_alpha(self.bytes[end]) {
            end += 1;
        }
        let word = self.input[start..end].to_ascii_lowercase();
        let kind = match word.as_str() {
            "step" => K::Step,
            "range" => K::Range,
            "max_of" => K::MaxOf,
            "min_of" => K::MinOf,
            _ => return false,
        };
        self.pos = end;
        self.emit(kind, start);
        true
    }
}
