//! Type checking of a parsed tree, with Prometheus' messages: argument types and counts
//! of calls and aggregations, operand types of binary and unary operators, vector
//! matching rules, and selectors that would select everything.
//!
//! The check also normalises one thing, as Prometheus does: set operators always use
//! many-to-many matching.

use cortex_tsdb::labels::METRIC_NAME;

use super::ParseError;
use super::ast::*;
use super::literal::go_quote;

/// Checks and normalises `expr` (parsed from `input`) in place, returning the first
/// error found.
pub(super) fn check_mut(expr: &mut Expr, input: &str) -> Result<(), ParseError> {
    Checker { input }.check(expr).map(|_| ())
}

struct Checker<'a> {
    input: &'a str,
}

impl Checker<'_> {
    fn err(&self, pos: PosRange, msg: String) -> ParseError {
        ParseError {
            pos,
            msg,
            query: self.input.to_string(),
        }
    }

    fn expect_type(&self, e: &mut Expr, want: ValueType, context: &str) -> Result<(), ParseError> {
        let t = self.check(e)?;
        if t != want {
            return Err(self.err(
                e.pos(),
                format!(
                    "expected type {} in {context}, got {}",
                    want.documented(),
                    t.documented()
                ),
            ));
        }
        Ok(())
    }

    /// The operator's source range: between the operands, trimmed of spaces.
    fn op_range(&self, lhs: &Expr, rhs: &Expr) -> PosRange {
        let b = self.input.as_bytes();
        let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
        let mut start = lhs.pos().end;
        while start < b.len() && is_space(b[start]) {
            start += 1;
        }
        let mut end = rhs.pos().start.saturating_sub(1);
        while end > start && end < b.len() && is_space(b[end]) {
            end -= 1;
        }
        PosRange::new(start, end)
    }

    fn check(&self, expr: &mut Expr) -> Result<ValueType, ParseError> {
        let pos = expr.pos();
        match expr {
            Expr::Aggregate(a) => {
                self.expect_type(&mut a.expr, ValueType::Vector, "aggregation expression")?;
                if let Some(p) = &mut a.param {
                    match a.op {
                        AggregateOp::Topk
                        | AggregateOp::Bottomk
                        | AggregateOp::Quantile
                        | AggregateOp::Limitk
                        | AggregateOp::LimitRatio => {
                            self.expect_type(p, ValueType::Scalar, "aggregation parameter")?;
                        }
                        AggregateOp::CountValues => {
                            self.expect_type(p, ValueType::String, "aggregation parameter")?;
                        }
                        _ => {}
                    }
                }
            }
            Expr::Binary(b) => {
                let lt = self.check(&mut b.lhs)?;
                let rt = self.check(&mut b.rhs)?;
                let op_range = self.op_range(&b.lhs, &b.rhs);
                if b.return_bool && !b.op.is_comparison() {
                    return Err(self.err(
                        op_range,
                        "bool modifier can only be used on comparison operators".into(),
                    ));
                }
                if b.op.is_comparison()
                    && !b.return_bool
                    && lt == ValueType::Scalar
                    && rt == ValueType::Scalar
                {
                    return Err(self.err(
                        op_range,
                        "comparisons between scalars must use BOOL modifier".into(),
                    ));
                }
                if let Some(m) = &mut b.matching {
                    if b.op.is_set() && m.card == Some(Cardinality::OneToOne) {
                        m.card = Some(Cardinality::ManyToMany);
                    }
                    if m.on {
                        for l in &m.matching_labels {
                            if m.include.contains(l) {
                                return Err(self.err(
                                    op_range,
                                    format!(
                                        "label {} must not occur in ON and GROUP clause at once",
                                        go_quote(l)
                                    ),
                                ));
                            }
                        }
                    }
                }
                if lt != ValueType::Scalar && lt != ValueType::Vector {
                    return Err(self.err(
                        b.lhs.pos(),
                        "binary expression must contain only scalar and instant vector types"
                            .into(),
                    ));
                }
                if rt != ValueType::Scalar && rt != ValueType::Vector {
                    return Err(self.err(
                        b.rhs.pos(),
                        "binary expression must contain only scalar and instant vector types"
                            .into(),
                    ));
                }
                if lt != ValueType::Vector || rt != ValueType::Vector {
                    if let Some(m) = &b.matching {
                        if !m.matching_labels.is_empty() {
                            return Err(self.err(
                                pos,
                                "vector matching only allowed between instant vectors".into(),
                            ));
                        }
                        if m.fill_lhs.is_some() || m.fill_rhs.is_some() {
                            return Err(self.err(
                                pos,
                                "filling in missing series only allowed between instant vectors"
                                    .into(),
                            ));
                        }
                    }
                    b.matching = None;
                } else if b.op.is_set()
                    && let Some(m) = &b.matching
                {
                    let card = m.cardinality();
                    if matches!(card, Cardinality::OneToMany | Cardinality::ManyToOne) {
                        return Err(self.err(
                            pos,
                            format!(
                                "no grouping allowed for {} operation",
                                go_quote(b.op.as_str())
                            ),
                        ));
                    }
                    if card != Cardinality::ManyToMany {
                        return Err(
                            self.err(pos, "set operations must always be many-to-many".into())
                        );
                    }
                    if m.fill_lhs.is_some() || m.fill_rhs.is_some() {
                        return Err(self.err(
                            pos,
                            "filling in missing series not allowed for set operators".into(),
                        ));
                    }
                }
                if (lt == ValueType::Scalar || rt == ValueType::Scalar) && b.op.is_set() {
                    return Err(self.err(
                        pos,
                        format!(
                            "set operator {} not allowed in binary scalar expression",
                            go_quote(b.op.as_str())
                        ),
                    ));
                }
            }
            Expr::Call(c) => {
                let nargs = c.func.arg_types.len();
                let name = go_quote(c.func.name);
                if c.func.variadic == 0 {
                    if nargs != c.args.len() {
                        return Err(self.err(
                            pos,
                            format!(
                                "expected {nargs} argument(s) in call to {name}, got {}",
                                c.args.len()
                            ),
                        ));
                    }
                } else {
                    let na = nargs - 1;
                    if na > c.args.len() {
                        return Err(self.err(
                            pos,
                            format!(
                                "expected at least {na} argument(s) in call to {name}, got {}",
                                c.args.len()
                            ),
                        ));
                    }
                    let max = na as i64 + i64::from(c.func.variadic);
                    if c.func.variadic > 0 && max < c.args.len() as i64 {
                        return Err(self.err(
                            pos,
                            format!(
                                "expected at most {max} argument(s) in call to {name}, got {}",
                                c.args.len()
                            ),
                        ));
                    }
                }
                if c.func.name == "info" && c.args.len() > 1 {
                    if c.args[1].value_type() != ValueType::Vector {
                        return Err(self.err(
                            pos,
                            format!(
                                "expected type {} in call to function {name}, got {}",
                                ValueType::Vector.documented(),
                                c.args[1].value_type().documented()
                            ),
                        ));
                    }
                    let arg_pos = c.args[1].pos();
                    match &mut c.args[1] {
                        Expr::VectorSelector(vs) if !vs.name.is_empty() => {
                            return Err(self.err(
                                arg_pos,
                                "expected label selectors only, got vector selector instead".into(),
                            ));
                        }
                        Expr::VectorSelector(vs) => vs.bypass_empty_matcher_check = true,
                        _ => {
                            return Err(self.err(arg_pos, "expected label selectors only".into()));
                        }
                    }
                }
                let func = c.func;
                for (i, arg) in c.args.iter_mut().enumerate() {
                    let idx = if i >= nargs {
                        if func.variadic == 0 {
                            break;
                        }
                        nargs - 1
                    } else {
                        i
                    };
                    let t = self.check(arg)?;
                    if t != func.arg_types[idx] {
                        return Err(self.err(
                            arg.pos(),
                            format!(
                                "expected type {} in call to function {name}, got {}",
                                func.arg_types[idx].documented(),
                                t.documented()
                            ),
                        ));
                    }
                }
            }
            Expr::Paren(p) => {
                self.check(&mut p.expr)?;
            }
            Expr::Unary(u) => {
                let t = self.check(&mut u.expr)?;
                if t != ValueType::Scalar && t != ValueType::Vector {
                    return Err(self.err(
                        pos,
                        format!(
                            "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                            go_quote(t.documented())
                        ),
                    ));
                }
            }
            Expr::Subquery(s) => {
                let t = self.check(&mut s.expr)?;
                if t != ValueType::Vector {
                    return Err(self.err(
                        pos,
                        format!(
                            "subquery is only allowed on instant vector, got {} instead",
                            t.short()
                        ),
                    ));
                }
            }
            Expr::MatrixSelector(m) => self.check_selector(&m.vs)?,
            Expr::VectorSelector(vs) => self.check_selector(vs)?,
            Expr::StepInvariant(s) => {
                self.check(&mut s.expr)?;
            }
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Duration(_) => {}
        }
        Ok(expr.value_type())
    }

    fn check_selector(&self, vs: &VectorSelector) -> Result<(), ParseError> {
        if !vs.name.is_empty() {
            let n = vs.matchers.len().saturating_sub(1);
            for m in &vs.matchers[..n] {
                if m.name() == METRIC_NAME {
                    return Err(self.err(
                        vs.pos,
                        format!(
                            "metric name must not be set twice: {} or {}",
                            go_quote(&vs.name),
                            go_quote(m.value())
                        ),
                    ));
                }
            }
            return Ok(());
        }
        if !vs.bypass_empty_matcher_check && !vs.matchers.iter().any(|m| !m.matches_empty()) {
            return Err(self.err(
                vs.pos,
                "vector selector must contain at least one non-empty matcher".into(),
            ));
        }
        Ok(())
    }
}
