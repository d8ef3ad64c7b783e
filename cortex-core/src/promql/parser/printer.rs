//! Prints expressions back as PromQL text, exactly as Prometheus' `String()` methods
//! do (so a printed tree parses back to an equal tree).

use std::fmt::{self, Display, Formatter, Write};

use cortex_tsdb::float_format::{go_f, go_g};
use cortex_tsdb::labels::{METRIC_NAME, MatchType, is_valid_legacy_name};

use super::ast::*;
use super::literal::{format_duration, go_quote, go_quote_bytes};
use super::token::TokenKind as K;

fn write_labels(f: &mut Formatter<'_>, labels: &[String]) -> fmt::Result {
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        if is_valid_legacy_name(l) {
            f.write_str(l)?;
        } else {
            f.write_str(&go_quote(l))?;
        }
    }
    Ok(())
}

fn write_offset(f: &mut Formatter<'_>, ms: i64, expr: Option<&Expr>) -> fmt::Result {
    if let Some(e) = expr {
        return write!(f, " offset {e}");
    }
    if ms > 0 {
        write!(f, " offset {}", format_duration(ms))
    } else if ms < 0 {
        write!(f, " offset -{}", format_duration(-ms))
    } else {
        Ok(())
    }
}

fn write_at(
    f: &mut Formatter<'_>,
    ts: Option<i64>,
    start_or_end: Option<AtPreprocessor>,
) -> fmt::Result {
    match (ts, start_or_end) {
        (Some(t), _) => write!(f, " @ {:.3}", t as f64 / 1000.0),
        (None, Some(AtPreprocessor::Start)) => f.write_str(" @ start()"),
        (None, Some(AtPreprocessor::End)) => f.write_str(" @ end()"),
        (None, None) => Ok(()),
    }
}

fn write_duration(f: &mut Formatter<'_>, ms: i64, expr: Option<&Expr>) -> fmt::Result {
    match expr {
        Some(e) => write!(f, "{e}"),
        None => f.write_str(&format_duration(ms)),
    }
}

impl VectorSelector {
    /// Writes the selector without its `@`, `offset` and `anchored`/`smoothed`
    /// modifiers.
    fn write_plain(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut strs: Vec<String> = self
            .matchers
            .iter()
            .filter(|m| {
                !(m.name() == METRIC_NAME
                    && m.kind() == MatchType::Equal
                    && m.value() == self.name
                    && !m.value().is_empty())
            })
            .map(|m| m.to_string())
            .collect();
        f.write_str(&self.name)?;
        if !strs.is_empty() {
            strs.sort();
            write!(f, "{{{}}}", strs.join(","))?;
        }
        Ok(())
    }
}

impl Display for VectorSelector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.write_plain(f)?;
        write_at(f, self.timestamp, self.start_or_end)?;
        if self.anchored {
            f.write_str(" anchored")?;
        } else if self.smoothed {
            f.write_str(" smoothed")?;
        }
        write_offset(f, self.offset_ms, self.offset_expr.as_deref())
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Aggregate(a) => {
                f.write_str(a.op.as_str())?;
                if a.without {
                    f.write_str(" without (")?;
                    write_labels(f, &a.grouping)?;
                    f.write_str(") ")?;
                } else if !a.grouping.is_empty() {
                    f.write_str(" by (")?;
                    write_labels(f, &a.grouping)?;
                    f.write_str(") ")?;
                }
                f.write_char('(')?;
                if let Some(p) = &a.param {
                    write!(f, "{p}, ")?;
                }
                write!(f, "{})", a.expr)
            }
            Expr::Binary(b) => {
                write!(f, "{} {}", b.lhs, b.op.as_str())?;
                if b.return_bool {
                    f.write_str(" bool")?;
                }
                if let Some(m) = &b.matching {
                    let card = m.cardinality();
                    let grouped = matches!(card, Cardinality::ManyToOne | Cardinality::OneToMany);
                    if !m.matching_labels.is_empty() || m.on || grouped {
                        f.write_str(if m.on { " on (" } else { " ignoring (" })?;
                        write_labels(f, &m.matching_labels)?;
                        f.write_char(')')?;
                    }
                    if grouped {
                        f.write_str(if card == Cardinality::ManyToOne {
                            " group_left ("
                        } else {
                            " group_right ("
                        })?;
                        write_labels(f, &m.include)?;
                        f.write_char(')')?;
                    }
                    match (m.fill_lhs, m.fill_rhs) {
                        (Some(l), Some(r)) if l == r => write!(f, " fill ({})", go_g(l))?,
                        (l, r) => {
                            if let Some(l) = l {
                                write!(f, " fill_left ({})", go_g(l))?;
                            }
                            if let Some(r) = r {
                                write!(f, " fill_right ({})", go_g(r))?;
                            }
                        }
                    }
                }
                write!(f, " {}", b.rhs)
            }
            Expr::Call(c) => {
                write!(f, "{}(", c.func.name)?;
                for (i, a) in c.args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_char(')')
            }
            Expr::MatrixSelector(m) => {
                m.vs.write_plain(f)?;
                f.write_char('[')?;
                write_duration(f, m.range_ms, m.range_expr.as_deref())?;
                f.write_char(']')?;
                if m.vs.anchored {
                    f.write_str(" anchored")?;
                } else if m.vs.smoothed {
                    f.write_str(" smoothed")?;
                }
                write_at(f, m.vs.timestamp, m.vs.start_or_end)?;
                write_offset(f, m.vs.offset_ms, m.vs.offset_expr.as_deref())
            }
            Expr::Subquery(s) => {
                write!(f, "{}[", s.expr)?;
                write_duration(f, s.range_ms, s.range_expr.as_deref())?;
                f.write_char(':')?;
                if s.step_ms != 0 {
                    f.write_str(&format_duration(s.step_ms))?;
                } else if let Some(e) = &s.step_expr {
                    write!(f, "{e}")?;
                }
                f.write_char(']')?;
                write_at(f, s.timestamp, s.start_or_end)?;
                write_offset(f, s.offset_ms, s.offset_expr.as_deref())
            }
            Expr::NumberLiteral(n) => {
                if n.duration {
                    let ms = (n.val * 1000.0) as i64;
                    if n.val < 0.0 {
                        write!(f, "-{}", format_duration(-ms))
                    } else {
                        f.write_str(&format_duration(ms))
                    }
                } else {
                    f.write_str(&go_f(n.val))
                }
            }
            Expr::Paren(p) => write!(f, "({})", p.expr),
            Expr::StringLiteral(s) => match &s.invalid_utf8 {
                Some(b) => f.write_str(&go_quote_bytes(b)),
                None => f.write_str(&go_quote(&s.val)),
            },
            Expr::Unary(u) => write!(f, "{}{}", if u.negate { "-" } else { "+" }, u.expr),
            Expr::VectorSelector(vs) => write!(f, "{vs}"),
            Expr::StepInvariant(s) => write!(f, "{}", s.expr),
            Expr::Duration(d) => {
                if d.wrapped {
                    f.write_char('(')?;
                }
                match (d.op, &d.lhs, &d.rhs) {
                    (K::Step, _, _) => f.write_str("step()")?,
                    (K::Range, _, _) => f.write_str("range()")?,
                    (K::MinOf | K::MaxOf, Some(l), Some(r)) => {
                        let name = if d.op == K::MinOf { "min_of" } else { "max_of" };
                        write!(f, "{name}({l}, {r})")?;
                    }
                    (op, None, Some(r)) => {
                        if op == K::Sub {
                            f.write_char('-')?;
                        }
                        write!(f, "{r}")?;
                    }
                    (op, Some(l), Some(r)) => {
                        write!(f, "{l} {} {r}", op.fixed_str().unwrap_or("?"))?;
                    }
                    _ => {}
                }
                if d.wrapped {
                    f.write_char(')')?;
                }
                Ok(())
            }
        }
    }
}
