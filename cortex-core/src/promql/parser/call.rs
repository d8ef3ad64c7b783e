//! Function calls (`rate(x[5m])`) and aggregations (`sum by (job) (x)`,
//! `topk(3, x) without (a)`): argument lists, grouping clauses before or after the
//! arguments, and the argument-count errors Prometheus gives.

use super::ast::*;
use super::expr::{PResult, Parser, aggregate_op};
use super::functions::get_function;
use super::literal::go_quote;
use super::token::TokenKind as K;

impl Parser<'_> {
    pub(super) fn parse_call(&mut self) -> PResult<Expr> {
        let name_tok = self.next();
        let name = self.text(name_tok);
        let Some(func) = get_function(name) else {
            return Err(self.error(
                PosRange::new(name_tok.pos, name_tok.pos + name_tok.len),
                format!("unknown function with name {}", go_quote(name)),
            ));
        };
        let args = self.parse_call_body()?;
        Ok(Expr::Call(Call {
            func,
            args,
            pos: PosRange::new(name_tok.pos, self.last_closing),
        }))
    }

    /// `( expr, expr, ... )`
    pub(super) fn parse_call_body(&mut self) -> PResult<Vec<Expr>> {
        self.expect(K::LeftParen, "", "\"(\"")?;
        let mut args = Vec::new();
        if self.peek().kind == K::RightParen {
            self.next();
            return Ok(args);
        }
        loop {
            args.push(self.parse_expr(0)?);
            match self.peek().kind {
                K::Comma => {
                    let comma = self.next();
                    if self.peek().kind == K::RightParen {
                        return Err(self.error(
                            PosRange::new(comma.pos, comma.pos + 1),
                            "trailing commas not allowed in function call args",
                        ));
                    }
                }
                K::RightParen => {
                    self.next();
                    return Ok(args);
                }
                _ => return Err(self.unexpected("", "")),
            }
        }
    }

    pub(super) fn parse_aggregate(&mut self) -> PResult<Expr> {
        let op_tok = self.next();
        let op = aggregate_op(op_tok.kind).unwrap_or(AggregateOp::Sum);
        let mut grouping = Vec::new();
        let mut without = false;
        let mut has_modifier = false;
        if matches!(self.peek().kind, K::By | K::Without) {
            without = self.next().kind == K::Without;
            grouping = self.parse_grouping_labels()?;
            has_modifier = true;
        }
        if self.peek().kind != K::LeftParen {
            return Err(self.unexpected("aggregation", ""));
        }
        let mut args = self.parse_call_body()?;
        if !has_modifier && matches!(self.peek().kind, K::By | K::Without) {
            without = self.next().kind == K::Without;
            grouping = self.parse_grouping_labels()?;
        }
        let pos = PosRange::new(op_tok.pos, self.last_closing);
        if args.is_empty() {
            return Err(self.error(pos, "no arguments for aggregate expression provided"));
        }
        let desired = if op.has_param() { 2 } else { 1 };
        if args.len() != desired {
            return Err(self.error(
                pos,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {desired}, got {}",
                    args.len()
                ),
            ));
        }
        let Some(expr) = args.pop() else {
            return Err(self.error(pos, "no arguments for aggregate expression provided"));
        };
        let param = args.pop().map(Box::new);
        let expr = Box::new(expr);
        Ok(Expr::Aggregate(AggregateExpr {
            op,
            expr,
            param,
            grouping,
            without,
            pos,
        }))
    }
}
