//! Selectors and the modifiers that follow an operand: label matchers in braces,
//! range and subquery brackets, `offset`, `@`, `anchored` and `smoothed`, with
//! Prometheus' rules on which operand may carry which modifier.

use cortex_tsdb::labels::{METRIC_NAME, MatchType, Matcher};

use super::ast::*;
use super::expr::{
    Dur, OFFSET_CTX, PResult, Parser, RANGE_CTX, RANGE_EXPECTED, STEP_CTX, STEP_EXPECTED,
    seconds_to_ms,
};
use super::token::TokenKind as K;

impl Parser<'_> {
    /// `{ matcher, ... }`, returning the matchers and the source range of the braces.
    pub(super) fn parse_label_matchers(&mut self) -> PResult<(Vec<Matcher>, PosRange)> {
        let open = self.next();
        let mut matchers = Vec::new();
        if self.peek().kind == K::RightBrace {
            let close = self.next();
            return Ok((matchers, PosRange::new(open.pos, close.pos + 1)));
        }
        loop {
            matchers.push(self.parse_label_matcher()?);
            match self.peek().kind {
                K::Comma => {
                    self.next();
                    if self.peek().kind == K::RightBrace {
                        let close = self.next();
                        return Ok((matchers, PosRange::new(open.pos, close.pos + 1)));
                    }
                }
                K::RightBrace => {
                    let close = self.next();
                    return Ok((matchers, PosRange::new(open.pos, close.pos + 1)));
                }
                _ => return Err(self.unexpected("label matching", "\",\" or \"}\"")),
            }
        }
    }

    fn parse_label_matcher(&mut self) -> PResult<Matcher> {
        let name_tok = self.peek();
        let name = match name_tok.kind {
            K::Identifier => {
                self.next();
                if !matches!(
                    self.peek().kind,
                    K::Eql | K::Neq | K::EqlRegex | K::NeqRegex
                ) {
                    return Err(self.unexpected("label matching", "label matching operator"));
                }
                self.text(name_tok).to_string()
            }
            K::String => {
                self.next();
                let (name, _) = self.unquote_string(name_tok)?;
                if !matches!(
                    self.peek().kind,
                    K::Eql | K::Neq | K::EqlRegex | K::NeqRegex
                ) {
                    // A bare quoted string is a metric name.
                    return Ok(Matcher::equal(METRIC_NAME, &name));
                }
                name
            }
            _ => return Err(self.unexpected("label matching", "identifier or \"}\"")),
        };
        let op = self.next();
        let kind = match op.kind {
            K::Eql => MatchType::Equal,
            K::Neq => MatchType::NotEqual,
            K::EqlRegex => MatchType::Regexp,
            _ => MatchType::NotRegexp,
        };
        let val_tok = self.peek();
        if val_tok.kind != K::String {
            return Err(self.unexpected("label matching", "string"));
        }
        self.next();
        let (value, _) = self.unquote_string(val_tok)?;
        Matcher::new(kind, &name, &value).map_err(|e| {
            self.error(
                PosRange::new(name_tok.pos, val_tok.pos + val_tok.len),
                e.to_string(),
            )
        })
    }

    /// Range/subquery brackets, `offset`, `@`, `anchored` and `smoothed` after an
    /// operand.
    pub(super) fn parse_postfix(&mut self, mut expr: Expr) -> PResult<Expr> {
        loop {
            match self.peek().kind {
                K::LeftBracket => expr = self.parse_range_or_subquery(expr)?,
                K::Offset => {
                    self.next();
                    expr = self.parse_offset(expr)?;
                }
                K::At => {
                    self.next();
                    expr = self.parse_at(expr)?;
                }
                K::Anchored | K::Smoothed => {
                    let anchored = self.next().kind == K::Anchored;
                    expr = self.set_extended(expr, anchored)?;
                }
                _ => return Ok(expr),
            }
        }
    }

    fn parse_range_or_subquery(&mut self, expr: Expr) -> PResult<Expr> {
        let open = self.next();
        if matches!(self.peek().kind, K::RightBracket | K::Colon | K::Eof) && self.lex_err.is_none()
        {
            return Err(self.unexpected(
                "subquery or range selector",
                "number, duration, step(), or range()",
            ));
        }
        self.dur_ctx = (RANGE_CTX, RANGE_EXPECTED);
        let range = self.parse_positive_duration()?;
        match self.peek().kind {
            K::RightBracket => {
                let close = self.next();
                let vs_ok = match &expr {
                    Expr::VectorSelector(vs) => {
                        if vs.offset_ms != 0 || vs.offset_expr.is_some() {
                            Some("no offset modifiers allowed before range")
                        } else if vs.timestamp.is_some() || vs.start_or_end.is_some() {
                            Some("no @ modifiers allowed before range")
                        } else {
                            None
                        }
                    }
                    _ => Some("ranges only allowed for vector selectors"),
                };
                if let Some(msg) = vs_ok {
                    return Err(self.error(PosRange::new(open.pos, close.pos + 1), msg));
                }
                let (range_ms, range_expr) = split_duration(range);
                let Expr::VectorSelector(vs) = expr else {
                    return Err(self.error(
                        PosRange::new(open.pos, close.pos + 1),
                        "ranges only allowed for vector selectors",
                    ));
                };
                Ok(Expr::MatrixSelector(MatrixSelector {
                    vs,
                    range_ms,
                    range_expr,
                    end_pos: self.last_closing,
                }))
            }
            K::Colon => {
                self.next();
                let step = if self.peek().kind == K::RightBracket {
                    None
                } else if matches!(self.peek().kind, K::Eof) && self.lex_err.is_none()
                    || matches!(self.peek().kind, K::Colon | K::Comma)
                {
                    return Err(self.unexpected(
                        "subquery selector",
                        "number, duration, step(), range(), or \"]\"",
                    ));
                } else {
                    self.dur_ctx = (STEP_CTX, STEP_EXPECTED);
                    Some(self.parse_positive_duration()?)
                };
                if self.peek().kind != K::RightBracket {
                    return Err(self.unexpected("subquery selector", "\"]\""));
                }
                let close = self.next();
                let (range_ms, range_expr) = split_duration(range);
                let (step_ms, step_expr) = step.map_or((0, None), split_duration);
                Ok(Expr::Subquery(SubqueryExpr {
                    expr: Box::new(expr),
                    range_ms,
                    range_expr,
                    offset_ms: 0,
                    offset_expr: None,
                    timestamp: None,
                    start_or_end: None,
                    step_ms,
                    step_expr,
                    end_pos: close.pos + 1,
                }))
            }
            _ => Err(self.unexpected("subquery or range", "\":\" or \"]\"")),
        }
    }

    fn parse_offset(&mut self, mut expr: Expr) -> PResult<Expr> {
        self.dur_ctx = (OFFSET_CTX, RANGE_EXPECTED);
        let dur = self.parse_offset_duration()?;
        let pos = expr.pos();
        let (ms, dexpr) = split_duration(dur);
        let last_closing = self.last_closing;
        let (offset_ms, offset_expr, end) = match &mut expr {
            Expr::VectorSelector(vs) => (&mut vs.offset_ms, &mut vs.offset_expr, &mut vs.pos.end),
            Expr::MatrixSelector(m) => (&mut m.vs.offset_ms, &mut m.vs.offset_expr, &mut m.end_pos),
            Expr::Subquery(sq) => (&mut sq.offset_ms, &mut sq.offset_expr, &mut sq.end_pos),
            _ => {
                return Err(self.error(
                    pos,
                    "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                ));
            }
        };
        if *offset_ms != 0 || offset_expr.is_some() {
            return Err(self.error(pos, "offset may not be set multiple times"));
        }
        *offset_ms = ms;
        *offset_expr = dexpr;
        *end = last_closing;
        Ok(expr)
    }

    fn parse_at(&mut self, mut expr: Expr) -> PResult<Expr> {
        let t = self.peek();
        let mut preprocessor = None;
        let mut ts = 0.0;
        match t.kind {
            K::Start | K::End => {
                self.next();
                if self.peek().kind != K::LeftParen {
                    return Err(self.unexpected("@", "timestamp"));
                }
                self.next();
                self.expect(K::RightParen, "@", "timestamp")?;
                preprocessor = Some(if t.kind == K::Start {
                    AtPreprocessor::Start
                } else {
                    AtPreprocessor::End
                });
            }
            K::Add | K::Sub | K::Number | K::Duration => {
                let mut sign = 1.0;
                if matches!(t.kind, K::Add | K::Sub) {
                    self.next();
                    if t.kind == K::Sub {
                        sign = -1.0;
                    }
                    if !matches!(self.peek().kind, K::Number | K::Duration) {
                        return Err(self.unexpected("@", "timestamp"));
                    }
                }
                ts = sign * self.parse_number_duration_literal()?.val;
            }
            _ => return Err(self.unexpected("@", "timestamp")),
        }
        let pos = expr.pos();
        if preprocessor.is_none()
            && (ts.is_infinite() || ts.is_nan() || ts >= i64::MAX as f64 || ts <= i64::MIN as f64)
        {
            return Err(self.error(
                pos,
                format!("timestamp out of bounds for @ modifier: {}", go_fixed6(ts)),
            ));
        }
        let last_closing = self.last_closing;
        let (timestamp, start_or_end, end) = match &mut expr {
            Expr::VectorSelector(vs) => (&mut vs.timestamp, &mut vs.start_or_end, &mut vs.pos.end),
            Expr::MatrixSelector(m) => {
                (&mut m.vs.timestamp, &mut m.vs.start_or_end, &mut m.end_pos)
            }
            Expr::Subquery(sq) => (&mut sq.timestamp, &mut sq.start_or_end, &mut sq.end_pos),
            _ => {
                return Err(self.error(
                    pos,
                    "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                ));
            }
        };
        if timestamp.is_some() || start_or_end.is_some() {
            return Err(self.error(pos, "@ <timestamp> may not be set multiple times"));
        }
        match preprocessor {
            Some(p) => *start_or_end = Some(p),
            None => *timestamp = Some((ts * 1000.0).round() as i64),
        }
        *end = last_closing;
        Ok(expr)
    }

    fn set_extended(&mut self, mut expr: Expr, anchored: bool) -> PResult<Expr> {
        let pos = expr.pos();
        let name = if anchored { "anchored" } else { "smoothed" };
        let vs = match &mut expr {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(m) => &mut m.vs,
            Expr::Subquery(_) => {
                return Err(self.error(
                    pos,
                    format!("{name} modifier is not supported for subqueries"),
                ));
            }
            _ => return Err(self.error(pos, format!("{name} modifier not implemented"))),
        };
        if anchored {
            vs.anchored = true;
        } else {
            vs.smoothed = true;
        }
        if vs.anchored && vs.smoothed {
            return Err(self.error(
                pos,
                "anchored and smoothed modifiers cannot be used together",
            ));
        }
        Ok(expr)
    }
}

fn split_duration(d: Dur) -> (i64, Option<Box<Expr>>) {
    match d {
        Dur::Literal(secs) => (seconds_to_ms(secs), None),
        Dur::Expr(e) => (0, Some(Box::new(e))),
    }
}

/// Go's `%f`: six decimals, `+Inf`, `-Inf`, `NaN`.
fn go_fixed6(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v:.6}")
    }
}
