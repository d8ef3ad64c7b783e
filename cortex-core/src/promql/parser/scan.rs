//! Scanning of the lexer's multi-character tokens: numbers (with Prometheus' rules
//! for `.`, exponents, `_` and hex), durations (`1h30m`), and quoted strings with
//! their escape sequences.

use super::lexer::{LexError, Lexer, is_alnum};
use super::literal::go_quote_rune;
use super::token::TokenKind as K;

impl Lexer<'_> {
    pub(super) fn accept(&mut self, set: &[u8]) -> bool {
        match self.peek() {
            Some(c) if set.contains(&c) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn is(&self, set: &[u8]) -> bool {
        self.peek().is_some_and(|c| set.contains(&c))
    }

    /// Prometheus' `scanNumber`: decimal, hex, with `_` separators and exponents. The
    /// token need not be a valid number; the parser checks that.
    pub(super) fn scan_number(&mut self) -> bool {
        const DEC: &[u8] = b"0123456789";
        const HEX: &[u8] = b"0123456789abcdefABCDEF";
        let initial = self.pos;
        let mut digits = DEC;
        if self.accept(b"0") && self.accept(b"xX") {
            self.accept(b"_");
            digits = HEX;
        }
        self.accept(b".");
        self.accept(digits);
        let mut dot = false;
        let mut exp = false;
        loop {
            let any: Vec<u8> = [digits, b"._eE"].concat();
            if !self.is(&any) {
                break;
            }
            if self.is(b".") && dot {
                self.accept(b".");
                return false;
            }
            if self.is(b"eE") && exp && digits.len() == 10 {
                self.accept(b"eE");
                return false;
            }
            if self.accept(b".") {
                dot = true;
                if self.accept(b"_.") {
                    return false;
                }
                if digits.len() > 10 {
                    return false;
                }
                continue;
            }
            if digits.len() == 10 && self.accept(b"eE") {
                exp = true;
                self.accept(b"+-");
                if self.accept(b"._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            if self.accept(b"_") {
                if self.accept(b"._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            while self.accept(digits) {}
        }
        if self.pos == initial {
            return false;
        }
        !self.peek().is_some_and(is_alnum)
    }

    pub(super) fn accept_remaining_duration(&mut self) -> bool {
        if !self.accept(b"smhdwy") {
            return false;
        }
        self.accept(b"s");
        while self.accept(b"0123456789") {
            while self.accept(b"0123456789") {}
            if !self.accept(b"smhdw") {
                return false;
            }
            self.accept(b"s");
        }
        if self.peek().is_some_and(is_alnum) {
            // The offending character is part of the reported text.
            self.pos += 1;
            return false;
        }
        true
    }

    pub(super) fn lex_string(&mut self, quote: u8, start: usize) -> Result<(), LexError> {
        loop {
            let Some(c) = self.peek() else {
                return self.err(start, "unterminated quoted string".into());
            };
            self.pos += 1;
            match c {
                b'\\' => self.lex_escape(quote, start)?,
                b'\n' => return self.err(start, "unterminated quoted string".into()),
                c if c == quote => break,
                _ => {}
            }
        }
        self.emit(K::String, start);
        Ok(())
    }

    fn lex_escape(&mut self, quote: u8, start: usize) -> Result<(), LexError> {
        let Some(c) = self.peek() else {
            return self.err(start, "escape sequence not terminated".into());
        };
        let (n, base, max): (usize, u32, u32) = match c {
            b'a' | b'b' | b'f' | b'n' | b'r' | b't' | b'v' | b'\\' => {
                self.pos += 1;
                return Ok(());
            }
            c if c == quote => {
                self.pos += 1;
                return Ok(());
            }
            b'0'..=b'7' => (3, 8, 255),
            b'x' => {
                self.pos += 1;
                (2, 16, 255)
            }
            b'u' => {
                self.pos += 1;
                (4, 16, 0x10ffff)
            }
            b'U' => {
                self.pos += 1;
                (8, 16, 0x10ffff)
            }
            _ => {
                let ch = self.char_at(self.pos);
                return self.err(start, format!("unknown escape sequence {}", go_unicode(ch)));
            }
        };
        let mut x: u32 = 0;
        for _ in 0..n {
            let Some(d) = self.peek() else {
                return self.err(start, "escape sequence not terminated".into());
            };
            let v = (d as char).to_digit(16).unwrap_or(16);
            if v >= base {
                let ch = self.char_at(self.pos);
                return self.err(
                    start,
                    format!("illegal character {} in escape sequence", go_unicode(ch)),
                );
            }
            x = x.wrapping_mul(base).wrapping_add(v);
            self.pos += 1;
        }
        if x > max || (0xd800..0xe000).contains(&x) {
            return self.err(
                start,
                "escape sequence is an invalid Unicode code point".into(),
            );
        }
        Ok(())
    }

    pub(super) fn lex_raw_string(&mut self, start: usize) -> Result<(), LexError> {
        loop {
            let Some(c) = self.peek() else {
                return self.err(start, "unterminated raw string".into());
            };
            self.pos += 1;
            if c == b'`' {
                break;
            }
        }
        self.emit(K::String, start);
        Ok(())
    }
}

/// Go's `%#U`: `U+0041 'A'`.
fn go_unicode(c: char) -> String {
    format!("U+{:04X} {}", c as u32, go_quote_rune(c))
}
