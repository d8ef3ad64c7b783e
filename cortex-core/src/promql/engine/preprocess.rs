//! Preparing a parsed expression for evaluation: `start()`/`end()`/`range()`/
//! `step()` become numbers, duration expressions are evaluated, `@ start()`/`@ end()`
//! become timestamps, step-invariant subtrees are wrapped so they are evaluated once,
//! and every selector gets the storage hints Prometheus would pass to `Select`.

use std::collections::{HashMap, HashSet};

use super::QueryRange;
use crate::promql::parser::{
    AtPreprocessor, Call, Expr, NumberLiteral, StepInvariantExpr, VectorSelector, token::TokenKind,
};
use crate::querier::SelectHints;

/// Functions whose value changes with the evaluation time even when their arguments
/// do not, so `@` cannot make them step-invariant.
pub(crate) const AT_MODIFIER_UNSAFE_FUNCTIONS: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "end",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "range",
    "start",
    "step",
    "time",
    "timestamp",
];

/// A prepared query: the rewritten tree and the hints for each selector.
pub(crate) struct Prepared {
    /// The rewritten expression (boxed: selectors are identified by address).
    pub expr: Box<Expr>,
    /// Storage hints by selector address.
    pub hints: HashMap<usize, SelectHints>,
    /// Selectors that only need histogram count and sum, by address.
    pub stats_only: HashSet<usize>,
}

/// The key under which a selector's hints and series are kept.
pub(crate) fn selector_key(vs: &VectorSelector) -> usize {
    std::ptr::from_ref(vs) as usize
}

pub(crate) fn prepare(
    expr: &Expr,
    range: QueryRange,
    lookback: i64,
    no_step_interval: i64,
) -> Result<Prepared, String> {
    let mut e = expr.clone();
    fold_query_context(&mut e, range);
    eval_durations(&mut e, range)?;
    let (_, wrap) = step_invariant(&mut e, range);
    if wrap {
        e = Expr::StepInvariant(StepInvariantExpr { expr: Box::new(e) });
    }
    let boxed = Box::new(e);
    let mut hints = HashMap::new();
    let mut stats_only = HashSet::new();
    let interval = range.step;
    let mut path = Vec::new();
    collect_hints(&boxed, &mut path, 0, &mut |vs, path, eval_range| {
        let h = hints_for(
            vs,
            path,
            eval_range,
            range,
            lookback,
            interval,
            no_step_interval,
        );
        hints.insert(selector_key(vs), h);
        if only_needs_histogram_stats(path) {
            stats_only.insert(selector_key(vs));
        }
    });
    Ok(Prepared {
        expr: boxed,
        hints,
        stats_only,
    })
}

/// True when every use of the selector's histograms on the way up is a
/// `histogram_count`, `histogram_sum` or `histogram_avg` (and no subquery, trim
/// operator or quantile/fraction function needs the buckets).
fn only_needs_histogram_stats(path: &[&Expr]) -> bool {
    use crate::promql::parser::BinOp;
    let mut skip = false;
    for n in path.iter().rev() {
        match n {
            Expr::Subquery(_) => return false,
            Expr::Call(c) => match c.func.name {
                "histogram_count" | "histogram_sum" | "histogram_avg" => skip = true,
                "histogram_quantile" | "histogram_quantiles" | "histogram_fraction" => {
                    return false;
                }
                _ => {}
            },
            Expr::Binary(b) if matches!(b.op, BinOp::TrimUpper | BinOp::TrimLower) => return false,
            _ => {}
        }
    }
    skip
}

fn number(val: f64, call: &Call) -> Expr {
    Expr::NumberLiteral(NumberLiteral {
        val,
        duration: false,
        pos: call.pos,
    })
}

fn fold_query_context(e: &mut Expr, r: QueryRange) {
    if let Expr::Call(c) = e {
        let v = match c.func.name {
            "start" => Some(r.start as f64 / 1000.0),
            "end" => Some(r.end as f64 / 1000.0),
            "range" => Some((r.end - r.start) as f64 / 1000.0),
            "step" => Some(if r.start != r.end {
                r.step as f64 / 1000.0
            } else {
                0.0
            }),
            _ => None,
        };
        if let Some(v) = v {
            *e = number(v, c);
            return;
        }
    }
    for_each_child_mut(e, &mut |c| fold_query_context(c, r));
}

/// Calls `f` on every child expression (not on the selector inside a matrix selector).
pub(crate) fn for_each_child_mut(e: &mut Expr, f: &mut dyn FnMut(&mut Expr)) {
    match e {
        Expr::Aggregate(a) => {
            f(&mut a.expr);
            if let Some(p) = &mut a.param {
                f(p);
            }
        }
        Expr::Binary(b) => {
            f(&mut b.lhs);
            f(&mut b.rhs);
        }
        Expr::Call(c) => c.args.iter_mut().for_each(f),
        Expr::Subquery(s) => f(&mut s.expr),
        Expr::Paren(p) => f(&mut p.expr),
        Expr::Unary(u) => f(&mut u.expr),
        Expr::StepInvariant(s) => f(&mut s.expr),
        Expr::MatrixSelector(_)
        | Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::Duration(_) => {}
    }
}

/// Evaluates a duration expression to seconds.
fn eval_duration_expr(e: &Expr, r: QueryRange) -> Result<f64, String> {
    match e {
        Expr::NumberLiteral(n) => Ok(n.val),
        Expr::Duration(d) => {
            let pos = e.pos();
            let lhs = d
                .lhs
                .as_deref()
                .map(|x| eval_duration_expr(x, r))
                .transpose()?;
            let rhs = d
                .rhs
                .as_deref()
                .map(|x| eval_duration_expr(x, r))
                .transpose()?;
            let (l, rr) = (lhs.unwrap_or(0.0), rhs.unwrap_or(0.0));
            Ok(match d.op {
                TokenKind::Step => {
                    if r.start != r.end {
                        r.step as f64 / 1000.0
                    } else {
                        0.0
                    }
                }
                TokenKind::Range => (r.end - r.start) as f64 / 1000.0,
                TokenKind::MinOf => l.min(rr),
                TokenKind::MaxOf => l.max(rr),
                TokenKind::Add => {
                    if lhs.is_none() {
                        rr
                    } else {
                        l + rr
                    }
                }
                TokenKind::Sub => {
                    if lhs.is_none() {
                        -rr
                    } else {
                        l - rr
                    }
                }
                TokenKind::Mul => l * rr,
                TokenKind::Div => {
                    if rr == 0.0 {
                        return Err(format!("{}:{}: division by zero", pos.start, pos.end));
                    }
                    l / rr
                }
                TokenKind::Mod => {
                    if rr == 0.0 {
                        return Err(format!("{}:{}: modulo by zero", pos.start, pos.end));
                    }
                    l % rr
                }
                TokenKind::Pow => l.powf(rr),
                op => return Err(format!("unexpected duration expression operator {op:?}")),
            })
        }
        _ => Err("unexpected duration expression".into()),
    }
}

/// A duration expression's value in milliseconds, validated as Prometheus does.
fn duration_ms(e: &Expr, r: QueryRange, allow_negative: bool) -> Result<i64, String> {
    let secs = eval_duration_expr(e, r)?;
    let pos = e.pos();
    if secs.is_nan() || secs.is_infinite() {
        return Err(format!(
            "{}:{}: duration is NaN or infinite",
            pos.start, pos.end
        ));
    }
    if secs <= 0.0 && !allow_negative {
        return Err(format!(
            "{}:{}: duration must be greater than 0",
            pos.start, pos.end
        ));
    }
    if !(-9_223_372_036.854_776..=9_223_372_036.854_776).contains(&secs) {
        return Err(format!(
            "{}:{}: duration is out of range",
            pos.start, pos.end
        ));
    }
    Ok((secs * 1000.0) as i64)
}

fn eval_durations(e: &mut Expr, r: QueryRange) -> Result<(), String> {
    match e {
        Expr::VectorSelector(vs) => {
            if let Some(o) = &vs.offset_expr {
                vs.offset_ms = duration_ms(o, r, true)?;
            }
        }
        Expr::MatrixSelector(ms) => {
            if let Some(o) = &ms.vs.offset_expr {
                ms.vs.offset_ms = duration_ms(o, r, true)?;
            }
            if let Some(re) = &ms.range_expr {
                ms.range_ms = duration_ms(re, r, false)?;
            }
        }
        Expr::Subquery(s) => {
            if let Some(o) = &s.offset_expr {
                s.offset_ms = duration_ms(o, r, true)?;
            }
            if let Some(st) = &s.step_expr {
                s.step_ms = duration_ms(st, r, false)?;
            }
            if let Some(re) = &s.range_expr {
                s.range_ms = duration_ms(re, r, false)?;
            }
        }
        _ => {}
    }
    let mut result = Ok(());
    for_each_child_mut(e, &mut |c| {
        if result.is_ok() {
            result = eval_durations(c, r);
        }
    });
    result
}

fn resolve_at(ts: &mut Option<i64>, start_or_end: Option<AtPreprocessor>, r: QueryRange) {
    match start_or_end {
        Some(AtPreprocessor::Start) => *ts = Some(r.start),
        Some(AtPreprocessor::End) => *ts = Some(r.end),
        None => {}
    }
}

fn unwrap_parens(e: &mut Expr) {
    while let Expr::Paren(p) = e {
        let inner = std::mem::replace(&mut *p.expr, placeholder());
        *e = inner;
    }
}

fn placeholder() -> Expr {
    Expr::NumberLiteral(NumberLiteral {
        val: 0.0,
        duration: false,
        pos: Default::default(),
    })
}

fn wrap(e: &mut Expr) {
    let inner = std::mem::replace(e, placeholder());
    *e = Expr::StepInvariant(StepInvariantExpr {
        expr: Box::new(inner),
    });
}

/// Returns (is step-invariant, should be wrapped), wrapping the highest invariant
/// subtrees below `e`.
fn step_invariant(e: &mut Expr, r: QueryRange) -> (bool, bool) {
    match e {
        Expr::VectorSelector(vs) => {
            resolve_at(&mut vs.timestamp, vs.start_or_end, r);
            let inv = vs.timestamp.is_some();
            (inv, inv)
        }
        Expr::Aggregate(a) => {
            unwrap_parens(&mut a.expr);
            if let Some(p) = &mut a.param {
                unwrap_parens(p);
                if step_invariant(p, r).1 {
                    wrap(p);
                }
            }
            step_invariant(&mut a.expr, r)
        }
        Expr::Binary(b) => {
            let (li, lw) = step_invariant(&mut b.lhs, r);
            let (ri, rw) = step_invariant(&mut b.rhs, r);
            if li && ri {
                return (true, true);
            }
            if lw {
                wrap(&mut b.lhs);
            }
            if rw {
                wrap(&mut b.rhs);
            }
            (false, false)
        }
        Expr::Call(c) => {
            let mut inv = !AT_MODIFIER_UNSAFE_FUNCTIONS.contains(&c.func.name);
            let mut timestamp_special = c.func.name == "timestamp";
            let mut should_wrap = Vec::with_capacity(c.args.len());
            for a in c.args.iter_mut() {
                unwrap_parens(a);
                let (ai, aw) = step_invariant(a, r);
                should_wrap.push(aw);
                inv = inv && ai;
                if !ai || !matches!(a, Expr::VectorSelector(_)) {
                    timestamp_special = false;
                }
            }
            if inv || timestamp_special {
                return (true, true);
            }
            for (a, w) in c.args.iter_mut().zip(should_wrap) {
                if w {
                    wrap(a);
                }
            }
            (false, false)
        }
        Expr::MatrixSelector(ms) => {
            resolve_at(&mut ms.vs.timestamp, ms.vs.start_or_end, r);
            (ms.vs.timestamp.is_some(), false)
        }
        Expr::Subquery(s) => {
            let (inv, _) = step_invariant(&mut s.expr, r);
            if inv {
                wrap(&mut s.expr);
            }
            resolve_at(&mut s.timestamp, s.start_or_end, r);
            (s.timestamp.is_some(), false)
        }
        Expr::Paren(p) => step_invariant(&mut p.expr, r),
        Expr::Unary(u) => step_invariant(&mut u.expr, r),
        Expr::StringLiteral(_) | Expr::NumberLiteral(_) | Expr::Duration(_) => (true, false),
        Expr::StepInvariant(_) => (true, false),
    }
}

/// Visits every selector with the path of its ancestors and the range of the matrix
/// selector around it (0 for instant selectors).
fn collect_hints<'a>(
    e: &'a Expr,
    path: &mut Vec<&'a Expr>,
    eval_range: i64,
    f: &mut dyn FnMut(&'a VectorSelector, &[&'a Expr], i64),
) {
    match e {
        Expr::VectorSelector(vs) => f(vs, path, eval_range),
        Expr::MatrixSelector(ms) => {
            path.push(e);
            f(&ms.vs, path, ms.range_ms);
            path.pop();
        }
        _ => {
            path.push(e);
            for c in e.children() {
                collect_hints(c, path, 0, f);
            }
            path.pop();
        }
    }
}

/// Sum of offsets and ranges of the subqueries on `path` (restarting at a subquery
/// with `@`), and the closest `@` timestamp.
pub(crate) fn subquery_times(path: &[&Expr]) -> (i64, i64, Option<i64>) {
    let (mut off, mut rng, mut ts) = (0, 0, None);
    for n in path {
        if let Expr::Subquery(s) = n {
            off += s.offset_ms;
            rng += s.range_ms;
            if let Some(t) = s.timestamp {
                off = s.offset_ms;
                rng = s.range_ms;
                ts = Some(t);
            }
        }
    }
    (off, rng, ts)
}

fn hints_for(
    vs: &VectorSelector,
    path: &[&Expr],
    eval_range: i64,
    r: QueryRange,
    lookback: i64,
    interval: i64,
    no_step_interval: i64,
) -> SelectHints {
    let (mut start, mut end) = (r.start, r.end);
    let (sq_off, sq_range, sq_ts) = subquery_times(path);
    if let Some(t) = sq_ts {
        start = t;
        end = t;
    }
    if let Some(t) = vs.timestamp {
        start = t;
        end = t;
    } else {
        start = start - sq_off - sq_range;
        end -= sq_off;
    }
    if eval_range == 0 {
        start -= lookback - 1;
        if vs.smoothed {
            end += lookback;
        }
    } else if vs.anchored {
        start -= lookback + eval_range - 1;
    } else if vs.smoothed {
        start -= lookback + eval_range - 1;
        end += lookback;
    } else {
        start -= eval_range - 1;
    }
    start -= vs.offset_ms;
    end -= vs.offset_ms;

    let mut step = 0;
    for n in path {
        if let Expr::Subquery(s) = n {
            step = if s.step_ms == 0 {
                no_step_interval
            } else {
                s.step_ms
            };
        }
    }
    if step == 0 {
        step = interval;
    }
    let mut func = None;
    for n in path.iter().rev() {
        match n {
            Expr::Aggregate(a) => {
                func = Some(a.op.as_str().to_string());
                break;
            }
            Expr::Call(c) => {
                func = Some(c.func.name.to_string());
                break;
            }
            Expr::Binary(_) => break,
            _ => {}
        }
    }
    let (by, grouping) = match path.last() {
        Some(Expr::Aggregate(a)) => (!a.without, a.grouping.clone()),
        _ => (false, Vec::new()),
    };
    SelectHints {
        start,
        end,
        step,
        range: eval_range,
        func,
        grouping,
        by,
    }
}
