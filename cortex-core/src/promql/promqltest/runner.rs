//! Running a parsed test script against the engine: loading data, evaluating every
//! `eval`, and for instant queries also the reference runner's extra checks — the
//! same query with `@` pinned to the evaluation time at other evaluation times, and
//! the same query evaluated as a range query around the evaluation time.

use std::sync::LazyLock;

use regex::Regex;

use super::compare::{check_annotations, compare_value, compare_vector};
use super::load::{Store, load, with_tsdb_hints};
use super::script::{Command, Eval, Expected, parse_script};
use crate::promql::engine::{Engine, QueryRange, QueryResult};
use crate::promql::parser::{Expr, parse_expr};
use crate::promql::value::{Sample, Value};
use crate::querier::memory::MemoryQuerier;

/// The outcome of one `eval`.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    /// 1-based line of the `eval` in the file.
    pub line: usize,
    /// The query.
    pub expr: String,
    /// Why it failed, or `None` if it passed.
    pub error: Option<String>,
}

/// Where a test script's data is kept and queried from.
pub trait ScriptStorage {
    /// Drops all data.
    fn clear(&mut self);
    /// Replaces the samples of series `labels` (sorted by time).
    fn set_series(
        &mut self,
        labels: &cortex_tsdb::labels::Labels,
        samples: Vec<crate::querier::Sample>,
    );
    /// The querier evaluations read.
    fn querier(&mut self) -> Result<&dyn crate::querier::Querier, String>;
}

impl ScriptStorage for MemoryQuerier {
    fn clear(&mut self) {
        MemoryQuerier::clear(self);
    }

    fn set_series(
        &mut self,
        labels: &cortex_tsdb::labels::Labels,
        samples: Vec<crate::querier::Sample>,
    ) {
        MemoryQuerier::set_series(self, labels, samples);
    }

    fn querier(&mut self) -> Result<&dyn crate::querier::Querier, String> {
        Ok(self)
    }
}

/// Runs a test file, returning one result per `eval`. Fails only when the file does
/// not parse.
pub fn run_script(input: &str, engine: &Engine) -> Result<Vec<CaseResult>, String> {
    run_script_with(input, engine, &mut MemoryQuerier::new())
}

/// Runs a test file with its data in `storage`.
pub fn run_script_with(
    input: &str,
    engine: &Engine,
    querier: &mut dyn ScriptStorage,
) -> Result<Vec<CaseResult>, String> {
    let cmds = parse_script(input)?;
    let mut store = Store::new();
    let mut results = Vec::new();
    for cmd in cmds {
        match cmd {
            Command::Clear => {
                store.clear();
                querier.clear();
            }
            Command::Load {
                interval_ms,
                with_nhcb,
                series,
            } => {
                let touched = load(&mut store, interval_ms, with_nhcb, &series)?;
                for l in touched {
                    let samples = store
                        .get(&l)
                        .map(|s| with_tsdb_hints(s))
                        .unwrap_or_default();
                    querier.set_series(&l, samples);
                }
            }
            Command::Eval(ev) => {
                let error = match querier.querier() {
                    Ok(q) => run_eval(&ev, engine, q).err(),
                    Err(e) => Some(format!("loading data: {e}")),
                };
                results.push(CaseResult {
                    line: ev.line,
                    expr: ev.expr.clone(),
                    error,
                });
            }
        }
    }
    Ok(results)
}

/// Functions whose presence skips the `@` re-checks.
const AT_UNSAFE: &[&str] = &[
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

/// Pins every outermost selector and subquery to `@ ts`; `None` when the query uses
/// a function whose value depends on the evaluation time.
fn pin_at(expr: &Expr, ts: i64) -> Option<Expr> {
    let mut unsafe_fn = false;
    expr.inspect(&mut |e, _| {
        if let Expr::Call(c) = e
            && AT_UNSAFE.contains(&c.func.name)
        {
            unsafe_fn = true;
        }
        true
    });
    if unsafe_fn {
        return None;
    }
    let mut e = expr.clone();
    pin(&mut e, ts);
    Some(e)
}

fn pin(e: &mut Expr, ts: i64) {
    match e {
        Expr::VectorSelector(vs) => {
            if vs.timestamp.is_none() {
                vs.timestamp = Some(ts);
                vs.start_or_end = None;
            }
        }
        Expr::MatrixSelector(ms) => {
            if ms.vs.timestamp.is_none() {
                ms.vs.timestamp = Some(ts);
                ms.vs.start_or_end = None;
            }
        }
        Expr::Subquery(sq) => {
            if sq.timestamp.is_none() {
                sq.timestamp = Some(ts);
                sq.start_or_end = None;
            }
        }
        Expr::Aggregate(a) => {
            pin(&mut a.expr, ts);
            if let Some(p) = &mut a.param {
                pin(p, ts);
            }
        }
        Expr::Binary(b) => {
            pin(&mut b.lhs, ts);
            pin(&mut b.rhs, ts);
        }
        Expr::Call(c) => c.args.iter_mut().for_each(|a| pin(a, ts)),
        Expr::Paren(p) => pin(&mut p.expr, ts),
        Expr::Unary(u) => pin(&mut u.expr, ts),
        Expr::StepInvariant(s) => pin(&mut s.expr, ts),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Duration(_) => {}
    }
}

fn run_eval(ev: &Eval, engine: &Engine, q: &dyn crate::querier::Querier) -> Result<(), String> {
    if ev.range {
        let res = exec(
            engine,
            q,
            &ev.expr,
            QueryRange {
                start: ev.start,
                end: ev.end,
                step: ev.step,
            },
        );
        return check(ev, &ev.expr, res).map(|_| ());
    }
    let eval_t = if ev.range_vector { ev.end } else { ev.start };
    let mut queries = vec![(ev.expr.clone(), eval_t)];
    let parsed = parse_expr(&ev.expr).map_err(|e| format!("line {}: {e}", ev.line))?;
    if let Some(pinned) = pin_at(&parsed, eval_t) {
        let text = pinned.to_string();
        let times: Vec<i64> = if eval_t == 0 {
            vec![-1000, 0, 1000]
        } else {
            vec![-10 * eval_t, 0, eval_t / 5, eval_t, 10 * eval_t]
        };
        queries.extend(times.into_iter().map(|t| (text.clone(), t)));
    }
    static CONTEXT_FNS: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"(start|end|range|step)\(\)").ok());
    let Some(context_fns) = CONTEXT_FNS.as_ref() else {
        return Err("pattern does not compile".into());
    };
    for (text, t) in queries {
        let res = exec(
            engine,
            q,
            &text,
            QueryRange {
                start: t,
                end: t,
                step: 0,
            },
        );
        let Some(result) = check(ev, &text, res)? else {
            continue;
        };
        if ev.exclude_from_range || context_fns.is_match(&text) {
            continue;
        }
        let range = exec(
            engine,
            q,
            &text,
            QueryRange {
                start: t - 60_000,
                end: t + 60_000,
                step: 60_000,
            },
        )
        .map_err(|e| format!("error evaluating query {text:?} in range mode: {e}"))?;
        if ev.ordered {
            continue;
        }
        let Value::Matrix(mat) = range.value else {
            return Err("range query did not return a matrix".into());
        };
        if mat.windows(2).any(|w| w[0].metric > w[1].metric) {
            return Err("range query result is not sorted".into());
        }
        let mut vec: Vec<Sample> = Vec::new();
        for s in mat {
            if let Some(p) = s.floats.iter().find(|p| p.t == t) {
                vec.push(Sample::float(s.metric.clone(), p.f));
            }
            if let Some(p) = s.histograms.iter().find(|p| p.t == t) {
                vec.push(Sample {
                    metric: s.metric.clone(),
                    t,
                    f: 0.0,
                    h: Some(p.h.clone()),
                    drop_name: false,
                });
            }
        }
        let r = if let Value::Scalar { .. } = result.value {
            match (&ev.expected, vec.first()) {
                (Expected::Scalar(e), Some(s))
                    if crate::promql::quantile::almost_equal(*e, s.f, 1e-6) =>
                {
                    Ok(())
                }
                _ => Err(format!(
                    "scalar mismatch in range mode: {:?}",
                    vec.first().map(|s| s.f)
                )),
            }
        } else {
            compare_vector(ev, &vec)
        };
        r.map_err(|e| format!("{text} (range mode at {t}): {e}"))?;
    }
    Ok(())
}

fn exec(
    engine: &Engine,
    q: &dyn crate::querier::Querier,
    text: &str,
    range: QueryRange,
) -> Result<QueryResult, String> {
    let expr = parse_expr(text).map_err(|e| e.to_string())?;
    engine
        .exec(q, &expr, text, range, None)
        .map_err(|e| e.to_string())
}

/// Checks one query's outcome; returns the result when it succeeded as expected.
fn check(
    ev: &Eval,
    text: &str,
    res: Result<QueryResult, String>,
) -> Result<Option<QueryResult>, String> {
    match (res, &ev.fail) {
        (Err(e), Some(m)) => {
            if m.matches(&e) {
                Ok(None)
            } else {
                Err(format!(
                    "expected error matching {m:?} for {text:?}, got: {e}"
                ))
            }
        }
        (Err(e), None) => Err(format!("error evaluating query {text:?}: {e}")),
        (Ok(_), Some(_)) => Err(format!(
            "expected error evaluating query {text:?} but got none"
        )),
        (Ok(r), None) => {
            check_annotations(ev, &r.annotations, text).map_err(|e| format!("{text}: {e}"))?;
            compare_value(ev, &r.value).map_err(|e| format!("{text}: {e}"))?;
            Ok(Some(r))
        }
    }
}
