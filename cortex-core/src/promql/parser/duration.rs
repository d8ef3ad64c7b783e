//! Durations in range brackets (`[5m]`, `[1h + step():30s]`) and after `offset`
//! (`offset -5m`, `offset (1h / 2)`): literals, and the experimental duration
//! arithmetic with `step()`, `range()`, `min_of()` and `max_of()`.

use super::ast::*;
use super::expr::{Dur, PResult, Parser};
use super::token::TokenKind as K;

/// Durations beyond what a nanosecond `i64` holds are rejected, as in Prometheus.
fn out_of_range(secs: f64) -> bool {
    !(-9_223_372_036.854_776..=9_223_372_036.854_776).contains(&secs)
}

fn dur_precedence(kind: K) -> Option<(u8, bool)> {
    Some(match kind {
        K::Add | K::Sub => (4, false),
        K::Mul | K::Div | K::Mod => (5, false),
        K::Pow => (6, true),
        _ => return None,
    })
}

impl Parser<'_> {
    /// Consumes a token of `kind` inside a duration, or fails with the enclosing
    /// context's error.
    fn dur_expect(&mut self, kind: K) -> PResult<super::token::Token> {
        if self.peek().kind == kind {
            Ok(self.next())
        } else {
            Err(self.unexpected(self.dur_ctx.0, self.dur_ctx.1))
        }
    }

    /// A duration that must be positive: a range or subquery step.
    pub(super) fn parse_positive_duration(&mut self) -> PResult<Dur> {
        let e = self.parse_dur_expr(0)?;
        match e {
            Expr::NumberLiteral(n) => {
                if n.val <= 0.0 {
                    return Err(self.error(n.pos, "duration must be greater than 0"));
                }
                Ok(Dur::Literal(n.val))
            }
            e => Ok(Dur::Expr(e)),
        }
    }

    /// The duration after `offset`: a (signed) literal, `step()`, `range()`,
    /// `min_of`/`max_of`, or a parenthesised duration expression.
    pub(super) fn parse_offset_duration(&mut self) -> PResult<Dur> {
        let t = self.peek();
        let e = match t.kind {
            K::Number | K::Duration => {
                let n = self.parse_number_duration_literal()?;
                if out_of_range(n.val) {
                    return Err(self.error(n.pos, "duration out of range"));
                }
                return Ok(Dur::Literal(n.val));
            }
            K::Add | K::Sub => {
                self.next();
                let negate = t.kind == K::Sub;
                match self.peek().kind {
                    K::Number | K::Duration => {
                        let n = self.parse_number_duration_literal()?;
                        let v = if negate { -n.val } else { n.val };
                        if out_of_range(v) {
                            return Err(self
                                .error(PosRange::new(t.pos, t.pos + 1), "duration out of range"));
                        }
                        return Ok(Dur::Literal(v));
                    }
                    K::Step | K::Range | K::MaxOf | K::MinOf => {
                        let inner = self.parse_dur_function()?;
                        Expr::Duration(DurationExpr {
                            op: t.kind,
                            lhs: None,
                            rhs: Some(Box::new(inner)),
                            wrapped: false,
                            start_pos: t.pos,
                            end_pos: self.last_closing,
                        })
                    }
                    K::LeftParen => {
                        let inner = self.parse_dur_paren()?;
                        self.apply_unary(t.kind, t.pos, inner)?
                    }
                    _ => {
                        return Err(
                            self.unexpected("offset", "number, duration, step(), or range()")
                        );
                    }
                }
            }
            K::Step | K::Range | K::MaxOf | K::MinOf => self.parse_dur_function()?,
            K::LeftParen => {
                let lhs = self.parse_dur_paren()?;
                self.parse_dur_continue(lhs, 0)?
            }
            _ => {
                return Err(self.unexpected("offset", "number, duration, step(), or range()"));
            }
        };
        Ok(match e {
            Expr::NumberLiteral(n) => Dur::Literal(n.val),
            e => Dur::Expr(e),
        })
    }

    fn parse_dur_expr(&mut self, min_prec: u8) -> PResult<Expr> {
        let lhs = self.parse_dur_unary()?;
        self.parse_dur_continue(lhs, min_prec)
    }

    fn parse_dur_continue(&mut self, mut lhs: Expr, min_prec: u8) -> PResult<Expr> {
        loop {
            let op = self.peek();
            let Some((prec, right)) = dur_precedence(op.kind) else {
                return Ok(lhs);
            };
            if prec < min_prec {
                return Ok(lhs);
            }
            self.next();
            let rhs = self.parse_dur_expr(if right { prec } else { prec + 1 })?;
            if let Expr::NumberLiteral(n) = &rhs
                && n.val == 0.0
            {
                match op.kind {
                    K::Div => {
                        return Err(
                            self.error(PosRange::new(op.pos, op.pos + 1), "division by zero")
                        );
                    }
                    K::Mod => {
                        return Err(self.error(PosRange::new(op.pos, op.pos + 1), "modulo by zero"));
                    }
                    _ => {}
                }
            }
            lhs = Expr::Duration(DurationExpr {
                op: op.kind,
                lhs: Some(Box::new(lhs)),
                rhs: Some(Box::new(rhs)),
                wrapped: false,
                start_pos: 0,
                end_pos: 0,
            });
        }
    }

    fn parse_dur_unary(&mut self) -> PResult<Expr> {
        let t = self.peek();
        if matches!(t.kind, K::Add | K::Sub) {
            self.next();
            let operand = self.parse_dur_expr(6)?;
            return self.apply_unary(t.kind, t.pos, operand);
        }
        self.parse_dur_primary()
    }

    fn apply_unary(&self, op: K, op_pos: usize, e: Expr) -> PResult<Expr> {
        match e {
            Expr::NumberLiteral(mut n) => {
                if op == K::Sub {
                    n.val = -n.val;
                }
                if out_of_range(n.val) {
                    return Err(
                        self.error(PosRange::new(op_pos, op_pos + 1), "duration out of range")
                    );
                }
                n.pos.start = op_pos;
                Ok(Expr::NumberLiteral(n))
            }
            Expr::Duration(d) if op == K::Sub => Ok(Expr::Duration(DurationExpr {
                op: K::Sub,
                lhs: None,
                rhs: Some(Box::new(Expr::Duration(d))),
                wrapped: false,
                start_pos: op_pos,
                end_pos: 0,
            })),
            e @ Expr::Duration(_) => Ok(e),
            _ => Err(self.error(
                PosRange::new(op_pos, op_pos + 1),
                "expected number literal or duration expression",
            )),
        }
    }

    fn parse_dur_primary(&mut self) -> PResult<Expr> {
        match self.peek().kind {
            K::Number | K::Duration => {
                let n = self.parse_number_duration_literal()?;
                if out_of_range(n.val) {
                    return Err(self.error(n.pos, "duration out of range"));
                }
                Ok(Expr::NumberLiteral(n))
            }
            K::Step | K::Range | K::MaxOf | K::MinOf => self.parse_dur_function(),
            K::LeftParen => self.parse_dur_paren(),
            _ => Err(self.unexpected(self.dur_ctx.0, self.dur_ctx.1)),
        }
    }

    /// `step()`, `range()`, `min_of(a, b)`, `max_of(a, b)`.
    fn parse_dur_function(&mut self) -> PResult<Expr> {
        let t = self.next();
        self.dur_expect(K::LeftParen)?;
        let (lhs, rhs) = if matches!(t.kind, K::MaxOf | K::MinOf) {
            let a = self.parse_dur_expr(0)?;
            self.dur_expect(K::Comma)?;
            let b = self.parse_dur_expr(0)?;
            (Some(Box::new(a)), Some(Box::new(b)))
        } else {
            (None, None)
        };
        let close = self.dur_expect(K::RightParen)?;
        Ok(Expr::Duration(DurationExpr {
            op: t.kind,
            lhs,
            rhs,
            wrapped: false,
            start_pos: t.pos,
            end_pos: close.pos + 1,
        }))
    }

    /// `( duration_expr )`; a parenthesised literal becomes a unary-plus duration
    /// expression so it prints back with its parentheses.
    fn parse_dur_paren(&mut self) -> PResult<Expr> {
        let open = self.next();
        let inner = self.parse_dur_expr(0)?;
        let close = self.dur_expect(K::RightParen)?;
        Ok(match inner {
            Expr::Duration(mut d) => {
                d.wrapped = true;
                Expr::Duration(d)
            }
            other => Expr::Duration(DurationExpr {
                op: K::Add,
                lhs: None,
                rhs: Some(Box::new(other)),
                wrapped: true,
                start_pos: open.pos,
                end_pos: close.pos + 1,
            }),
        })
    }
}
