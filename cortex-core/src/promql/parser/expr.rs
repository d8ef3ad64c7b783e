//! The expression grammar: a precedence-climbing parser over the token stream that
//! builds [`Expr`] trees with the same operator precedence, modifier binding and error
//! messages as Prometheus' yacc grammar.
//!
//! Durations inside brackets and after `offset` are parsed in `duration.rs`; type
//! checking happens afterwards in `check.rs`.

use cortex_tsdb::labels::{METRIC_NAME, Matcher};

use super::ParseError;
use super::ast::*;
use super::lexer::{LexError, lex};
use super::literal::{go_quote, parse_duration, parse_number, unquote};
use super::token::{Token, TokenKind as K};

/// Parser state over one query.
pub(super) struct Parser<'a> {
    pub(super) input: &'a str,
    tokens: Vec<Token>,
    idx: usize,
    pub(super) lex_err: Option<LexError>,
    /// End of the last closing token (`)`, `}`, `]`, number, duration) consumed.
    pub(super) last_closing: usize,
    /// Where a duration is being parsed, as (context, expected) for syntax errors
    /// inside it: Prometheus reports them against the enclosing range, subquery
    /// step or offset.
    pub(super) dur_ctx: (&'static str, &'static str),
}

pub(super) type PResult<T> = Result<T, ParseError>;

/// Error context of the range part of `[...]`.
pub(super) const RANGE_CTX: &str = "subquery or range selector";
/// What the range part of `[...]` expects.
pub(super) const RANGE_EXPECTED: &str = "number, duration, step(), or range()";
/// Error context of a subquery step.
pub(super) const STEP_CTX: &str = "subquery selector";
/// What a subquery step expects.
pub(super) const STEP_EXPECTED: &str = "number, duration, step(), range(), or \"]\"";
/// Error context of an offset.
pub(super) const OFFSET_CTX: &str = "offset";

/// Binding power of a binary operator token, and whether it is right-associative.
fn binary_precedence(kind: K) -> Option<(u8, bool)> {
    Some(match kind {
        K::Lor => (1, false),
        K::Land | K::Lunless => (2, false),
        K::Eqlc | K::Neq | K::Lss | K::Lte | K::Gtr | K::Gte | K::TrimUpper | K::TrimLower => {
            (3, false)
        }
        K::Add | K::Sub => (4, false),
        K::Mul | K::Div | K::Mod | K::Atan2 => (5, false),
        K::Pow => (6, true),
        _ => return None,
    })
}

/// Precedence of unary `+`/`-` (that of `*`): only `^` binds tighter.
const UNARY_PRECEDENCE: u8 = 6;

fn bin_op(kind: K) -> BinOp {
    match kind {
        K::Add => BinOp::Add,
        K::Sub => BinOp::Sub,
        K::Mul => BinOp::Mul,
        K::Div => BinOp::Div,
        K::Mod => BinOp::Mod,
        K::Pow => BinOp::Pow,
        K::Atan2 => BinOp::Atan2,
        K::Eqlc => BinOp::Eql,
        K::Neq => BinOp::Neq,
        K::Lss => BinOp::Lss,
        K::Lte => BinOp::Lte,
        K::Gtr => BinOp::Gtr,
        K::Gte => BinOp::Gte,
        K::TrimUpper => BinOp::TrimUpper,
        K::TrimLower => BinOp::TrimLower,
        K::Land => BinOp::And,
        K::Lor => BinOp::Or,
        _ => BinOp::Unless,
    }
}

pub(super) fn aggregate_op(kind: K) -> Option<AggregateOp> {
    Some(match kind {
        K::Sum => AggregateOp::Sum,
        K::Avg => AggregateOp::Avg,
        K::Count => AggregateOp::Count,
        K::Min => AggregateOp::Min,
        K::Max => AggregateOp::Max,
        K::Group => AggregateOp::Group,
        K::Stddev => AggregateOp::Stddev,
        K::Stdvar => AggregateOp::Stdvar,
        K::Topk => AggregateOp::Topk,
        K::Bottomk => AggregateOp::Bottomk,
        K::CountValues => AggregateOp::CountValues,
        K::Quantile => AggregateOp::Quantile,
        K::Limitk => AggregateOp::Limitk,
        K::LimitRatio => AggregateOp::LimitRatio,
        _ => return None,
    })
}

/// Converts seconds to whole milliseconds the way Prometheus converts a duration
/// literal (rounded to nanoseconds, then truncated to milliseconds).
pub(super) fn seconds_to_ms(secs: f64) -> i64 {
    let ns = (secs * 1e9).round();
    (ns as i64) / 1_000_000
}

impl<'a> Parser<'a> {
    pub(super) fn new(input: &'a str) -> Parser<'a> {
        let (tokens, lex_err) = lex(input);
        Parser {
            input,
            tokens,
            idx: 0,
            lex_err,
            last_closing: 0,
            dur_ctx: (RANGE_CTX, RANGE_EXPECTED),
        }
    }

    /// Parses a complete expression.
    pub(super) fn parse(mut self) -> PResult<Expr> {
        if self.peek().kind == K::Eof {
            self.check_lex_error()?;
            return Err(self.error(PosRange::default(), "no expression found in input"));
        }
        let expr = self.parse_expr(0)?;
        if self.peek().kind != K::Eof {
            return Err(self.unexpected("", ""));
        }
        self.check_lex_error()?;
        Ok(expr)
    }

    pub(super) fn peek(&self) -> Token {
        self.tokens[self.idx]
    }

    pub(super) fn peek_kind_at(&self, off: usize) -> K {
        self.tokens.get(self.idx + off).map_or(K::Eof, |t| t.kind)
    }

    pub(super) fn next(&mut self) -> Token {
        let t = self.tokens[self.idx];
        if t.kind != K::Eof {
            self.idx += 1;
        }
        if matches!(
            t.kind,
            K::RightBrace | K::RightParen | K::RightBracket | K::Duration | K::Number
        ) {
            self.last_closing = t.pos + t.len;
        }
        t
    }

    pub(super) fn text(&self, t: Token) -> &'a str {
        t.text(self.input)
    }

    pub(super) fn error(&self, pos: PosRange, msg: impl Into<String>) -> ParseError {
        ParseError {
            pos,
            msg: msg.into(),
            query: self.input.to_string(),
        }
    }

    /// The lexer error, if the parser reached the point where lexing failed.
    fn check_lex_error(&self) -> PResult<()> {
        match &self.lex_err {
            Some(e) => Err(self.error(PosRange::new(e.pos, self.input.len()), e.msg.clone())),
            None => Ok(()),
        }
    }

    /// Prometheus' "unexpected <item> in <context>, expected <what>" error for the
    /// next token (or the lexer error if that is where we stand).
    pub(super) fn unexpected(&self, context: &str, expected: &str) -> ParseError {
        let t = self.peek();
        if t.kind == K::Eof
            && let Some(e) = &self.lex_err
        {
            return self.error(PosRange::new(e.pos, self.input.len()), e.msg.clone());
        }
        let mut msg = format!("unexpected {}", t.describe(self.input));
        if !context.is_empty() {
            msg.push_str(" in ");
            msg.push_str(context);
        }
        if !expected.is_empty() {
            msg.push_str(", expected ");
            msg.push_str(expected);
        }
        self.error(PosRange::new(t.pos, t.pos + t.len), msg)
    }

    pub(super) fn expect(&mut self, kind: K, context: &str, expected: &str) -> PResult<Token> {
        if self.peek().kind == kind {
            Ok(self.next())
        } else {
            Err(self.unexpected(context, expected))
        }
    }

    /// Parses an expression whose binary operators bind at least as tightly as
    /// `min_prec`.
    pub(super) fn parse_expr(&mut self, min_prec: u8) -> PResult<Expr> {
        let mut lhs = self.parse_unary()?;
        loop {
            let op_tok = self.peek();
            let Some((prec, right_assoc)) = binary_precedence(op_tok.kind) else {
                break;
            };
            if prec < min_prec {
                break;
            }
            self.next();
            let (matching, return_bool) = self.parse_bin_modifiers()?;
            let next_min = if right_assoc { prec } else { prec + 1 };
            let rhs = self.parse_expr(next_min)?;
            lhs = Expr::Binary(BinaryExpr {
                op: bin_op(op_tok.kind),
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                matching: Some(matching),
                return_bool,
            });
        }
        Ok(lhs)
    }

    fn parse_unary(&mut self) -> PResult<Expr> {
        let t = self.peek();
        if matches!(t.kind, K::Add | K::Sub) {
            self.next();
            let operand = self.parse_expr(UNARY_PRECEDENCE)?;
            if let Expr::NumberLiteral(mut n) = operand {
                if t.kind == K::Sub {
                    n.val = -n.val;
                }
                n.pos.start = t.pos;
                return Ok(Expr::NumberLiteral(n));
            }
            return Ok(Expr::Unary(UnaryExpr {
                negate: t.kind == K::Sub,
                expr: Box::new(operand),
                start_pos: t.pos,
            }));
        }
        let primary = self.parse_primary()?;
        self.parse_postfix(primary)
    }

    /// `bool`, `on`/`ignoring`, `group_left`/`group_right`, `fill*` after a binary
    /// operator.
    fn parse_bin_modifiers(&mut self) -> PResult<(VectorMatching, bool)> {
        let mut m = VectorMatching {
            card: Some(Cardinality::OneToOne),
            ..Default::default()
        };
        let mut return_bool = false;
        if self.peek().kind == K::Bool {
            self.next();
            return_bool = true;
        }
        if matches!(self.peek().kind, K::On | K::Ignoring) {
            m.on = self.next().kind == K::On;
            m.matching_labels = self.parse_grouping_labels()?;
            if matches!(self.peek().kind, K::GroupLeft | K::GroupRight) {
                let t = self.next();
                m.card = Some(if t.kind == K::GroupLeft {
                    Cardinality::ManyToOne
                } else {
                    Cardinality::OneToMany
                });
                if self.peek().kind == K::LeftParen {
                    m.include = self.parse_grouping_labels()?;
                }
            }
        }
        let mut seen_left = false;
        let mut seen_right = false;
        loop {
            match self.peek().kind {
                K::Fill if !seen_left && !seen_right => {
                    self.next();
                    let v = self.parse_fill_value()?;
                    m.fill_lhs = Some(v);
                    m.fill_rhs = Some(v);
                    break;
                }
                K::FillLeft if !seen_left => {
                    self.next();
                    m.fill_lhs = Some(self.parse_fill_value()?);
                    seen_left = true;
                }
                K::FillRight if !seen_right => {
                    self.next();
                    m.fill_rhs = Some(self.parse_fill_value()?);
                    seen_right = true;
                }
                _ => break,
            }
        }
        Ok((m, return_bool))
    }

    fn parse_fill_value(&mut self) -> PResult<f64> {
        self.expect(K::LeftParen, "fill modifier", "\"(\"")?;
        let mut sign = 1.0;
        if matches!(self.peek().kind, K::Add | K::Sub) && self.next().kind == K::Sub {
            sign = -1.0;
        }
        let lit = self.parse_number_duration_literal()?;
        self.expect(K::RightParen, "fill modifier", "\")\"")?;
        Ok(sign * lit.val)
    }

    /// `( label, label, ... )` after `by`, `without`, `on`, `ignoring`, `group_*`.
    pub(super) fn parse_grouping_labels(&mut self) -> PResult<Vec<String>> {
        if self.peek().kind != K::LeftParen {
            return Err(self.unexpected("grouping opts", "\"(\""));
        }
        self.next();
        let mut labels = Vec::new();
        if self.peek().kind == K::RightParen {
            self.next();
            return Ok(labels);
        }
        loop {
            let t = self.peek();
            if t.kind.is_maybe_label() {
                self.next();
                labels.push(self.text(t).to_string());
            } else if t.kind == K::String {
                self.next();
                let raw = self.text(t);
                let bytes = unquote(raw).ok_or_else(|| {
                    self.error(
                        PosRange::new(t.pos, t.pos + t.len),
                        format!("error unquoting string {}: invalid syntax", go_quote(raw)),
                    )
                })?;
                match String::from_utf8(bytes) {
                    Ok(s) if !s.is_empty() => labels.push(s),
                    Ok(s) => {
                        return Err(self.error(
                            PosRange::new(t.pos, t.pos + t.len),
                            format!("invalid label name for grouping: {}", go_quote(&s)),
                        ));
                    }
                    Err(e) => {
                        return Err(self.error(
                            PosRange::new(t.pos, t.pos + t.len),
                            format!(
                                "invalid label name for grouping: {}",
                                super::literal::go_quote_bytes(e.as_bytes())
                            ),
                        ));
                    }
                }
            } else {
                return Err(self.unexpected("grouping opts", "label"));
            }
            match self.peek().kind {
                K::Comma => {
                    self.next();
                    if self.peek().kind == K::RightParen {
                        self.next();
                        return Ok(labels);
                    }
                }
                K::RightParen => {
                    self.next();
                    return Ok(labels);
                }
                _ => return Err(self.unexpected("grouping opts", "\",\" or \")\"")),
            }
        }
    }

    fn parse_primary(&mut self) -> PResult<Expr> {
        let t = self.peek();
        match t.kind {
            K::Number | K::Duration => {
                Ok(Expr::NumberLiteral(self.parse_number_duration_literal()?))
            }
            K::String => {
                self.next();
                let (val, invalid_utf8) = self.unquote_string(t)?;
                Ok(Expr::StringLiteral(StringLiteral {
                    val,
                    invalid_utf8,
                    pos: PosRange::new(t.pos, t.pos + t.len),
                }))
            }
            K::LeftParen => {
                self.next();
                let inner = self.parse_expr(0)?;
                let close = self.expect(K::RightParen, "", "")?;
                Ok(Expr::Paren(ParenExpr {
                    expr: Box::new(inner),
                    pos: PosRange::new(t.pos, close.pos + 1),
                }))
            }
            K::LeftBrace => {
                let (matchers, pos) = self.parse_label_matchers()?;
                Ok(Expr::VectorSelector(self.vector_selector(
                    String::new(),
                    matchers,
                    pos,
                )))
            }
            K::Identifier if self.peek_kind_at(1) == K::LeftParen => self.parse_call(),
            K::Start | K::End | K::Step | K::Range | K::MaxOf | K::MinOf
                if self.peek_kind_at(1) == K::LeftParen =>
            {
                self.parse_call()
            }
            k if k.is_aggregator()
                && matches!(self.peek_kind_at(1), K::LeftParen | K::By | K::Without) =>
            {
                self.parse_aggregate()
            }
            k if k.is_metric_identifier() => {
                self.next();
                let name = self.text(t).to_string();
                let (mut matchers, pos) = if self.peek().kind == K::LeftBrace {
                    let (m, p) = self.parse_label_matchers()?;
                    (m, PosRange::new(t.pos, p.end))
                } else {
                    (Vec::new(), PosRange::new(t.pos, t.pos + t.len))
                };
                matchers.push(Matcher::equal(METRIC_NAME, &name));
                Ok(Expr::VectorSelector(
                    self.vector_selector(name, matchers, pos),
                ))
            }
            _ => Err(self.unexpected("", "")),
        }
    }

    pub(super) fn vector_selector(
        &self,
        name: String,
        matchers: Vec<Matcher>,
        pos: PosRange,
    ) -> VectorSelector {
        VectorSelector {
            name,
            matchers,
            offset_ms: 0,
            offset_expr: None,
            timestamp: None,
            start_or_end: None,
            anchored: false,
            smoothed: false,
            bypass_empty_matcher_check: false,
            pos,
        }
    }

    pub(super) fn parse_number_duration_literal(&mut self) -> PResult<NumberLiteral> {
        let t = self.peek();
        let pos = PosRange::new(t.pos, t.pos + t.len);
        match t.kind {
            K::Number => {
                self.next();
                let val = parse_number(self.text(t)).map_err(|e| self.error(pos, e))?;
                Ok(NumberLiteral {
                    val,
                    duration: false,
                    pos,
                })
            }
            K::Duration => {
                self.next();
                let ms = parse_duration(self.text(t)).map_err(|e| self.error(pos, e))?;
                Ok(NumberLiteral {
                    val: ms as f64 / 1000.0,
                    duration: true,
                    pos,
                })
            }
            _ => Err(self.unexpected("", "number or duration")),
        }
    }

    pub(super) fn unquote_string(&self, t: Token) -> PResult<(String, Option<Vec<u8>>)> {
        let raw = self.text(t);
        let bytes = unquote(raw).ok_or_else(|| {
            self.error(
                PosRange::new(t.pos, t.pos + t.len),
                format!("error unquoting string {}: invalid syntax", go_quote(raw)),
            )
        })?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => (s, None),
            Err(e) => {
                let bytes = e.into_bytes();
                (String::from_utf8_lossy(&bytes).into_owned(), Some(bytes))
            }
        })
    }
}

/// A parsed duration: a number of seconds or a duration expression.
pub(super) enum Dur {
    /// A literal, in seconds.
    Literal(f64),
    /// An expression evaluated by the engine.
    Expr(Expr),
}
