//! The PromQL engine: runs instant and range queries against a [`Querier`], with
//! Prometheus 3.x semantics, sample limits, a timeout and cancellation.
//!
//! A query is parsed, preprocessed (`preprocess.rs`: `@ start()`/`@ end()`, duration
//! expressions, step-invariant subtrees, storage hints) and evaluated
//! (`evaluator.rs`), then shaped into the result type its expression has.

pub(crate) mod call;
mod context;
mod cursor;
mod evaluator;
mod info;
mod preprocess;
mod range_fn;
mod selector;
mod stats;
mod subquery;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::annotations::Annotations;
use super::parser::{Expr, ParseError, ValueType, parse_expr};
use super::value::{Sample, Value};
use crate::querier::{Querier, QuerierError};

pub(crate) use evaluator::{
    EvalError, Evaluator, NodeHelper, QueryCtx, err, is_metadata_label, match_signature,
};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineOpts {
    /// Most samples a query may hold in memory at once.
    pub max_samples: usize,
    /// Longest a query may run.
    pub timeout: Duration,
    /// How far back an instant selector looks for a sample.
    pub lookback_delta: Duration,
    /// Step of subqueries that do not give one (`x[1h:]`).
    pub no_step_subquery_interval: Duration,
}

impl Default for EngineOpts {
    fn default() -> Self {
        EngineOpts {
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            lookback_delta: Duration::from_secs(300),
            no_step_subquery_interval: Duration::from_secs(60),
        }
    }
}

/// Why a query failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The query does not parse.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// A range query over something that is not a scalar or instant vector.
    #[error("invalid expression type \"{0}\" for range query, must be Scalar or instant Vector")]
    InvalidRangeType(&'static str),
    /// The sample limit was exceeded.
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,
    /// The timeout passed.
    #[error("query timed out in expression evaluation")]
    Timeout,
    /// The query was canceled.
    #[error("query was canceled in expression evaluation")]
    Canceled,
    /// Storage failed.
    #[error("expanding series: {0}")]
    Storage(QuerierError),
    /// Evaluation failed (duplicate series, bad function arguments, ...).
    #[error("{0}")]
    Eval(String),
}

/// Cancels a running query from another thread.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not canceled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels every query that watches this token.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// True once canceled.
    pub fn is_canceled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A query's result and its annotations.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The value: a vector, scalar, string or matrix for instant queries; always a
    /// matrix (sorted by labels) for range queries.
    pub value: Value,
    /// Warnings and info notes.
    pub annotations: Annotations,
    /// The query text (annotation positions refer to it).
    pub query: String,
}

impl QueryResult {
    /// The warnings, as Prometheus shows them (`PromQL warning: ... (1:5)`).
    pub fn warnings(&self) -> Vec<String> {
        self.annotations.warnings(&self.query)
    }

    /// The info notes, as Prometheus shows them.
    pub fn infos(&self) -> Vec<String> {
        self.annotations.infos(&self.query)
    }
}

/// The time range and resolution of a query (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryRange {
    /// First evaluation timestamp.
    pub start: i64,
    /// Last evaluation timestamp.
    pub end: i64,
    /// Distance between evaluations; 0 for an instant query.
    pub step: i64,
}

/// The PromQL engine. Cheap to share; holds no per-query state.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    opts: EngineOpts,
}

impl Engine {
    /// An engine with the given settings.
    pub fn new(opts: EngineOpts) -> Engine {
        Engine { opts }
    }

    /// The engine's settings.
    pub fn opts(&self) -> &EngineOpts {
        &self.opts
    }

    /// Evaluates `query` at time `ts` (ms).
    pub fn instant_query(
        &self,
        querier: &dyn Querier,
        query: &str,
        ts: i64,
    ) -> Result<QueryResult, QueryError> {
        let expr = parse_expr(query)?;
        self.exec(
            querier,
            &expr,
            query,
            QueryRange {
                start: ts,
                end: ts,
                step: 0,
            },
            None,
        )
    }

    /// Evaluates `query` at every `step` ms from `start` to `end`.
    pub fn range_query(
        &self,
        querier: &dyn Querier,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult, QueryError> {
        let expr = parse_expr(query)?;
        self.exec(querier, &expr, query, QueryRange { start, end, step }, None)
    }

    /// Evaluates a parsed expression (`query` is its text, for annotation positions).
    /// An instant query has `start == end` and `step == 0`.
    pub fn exec(
        &self,
        querier: &dyn Querier,
        expr: &Expr,
        query: &str,
        range: QueryRange,
        cancel: Option<&CancelToken>,
    ) -> Result<QueryResult, QueryError> {
        let instant = range.start == range.end && range.step == 0;
        let ty = expr.value_type();
        if !instant && ty != ValueType::Vector && ty != ValueType::Scalar {
            return Err(QueryError::InvalidRangeType(ty.documented()));
        }
        if !instant && range.step <= 0 {
            return Err(QueryError::Eval(
                "zero or negative query resolution step widths are not accepted".into(),
            ));
        }
        let lookback = self.opts.lookback_delta.as_millis() as i64;
        let prepared = preprocess::prepare(expr, range, lookback, self.no_step_interval())
            .map_err(QueryError::Eval)?;
        let ctx = QueryCtx::new(
            querier,
            &prepared.hints,
            &prepared.stats_only,
            self.opts.max_samples,
            Instant::now() + self.opts.timeout,
            cancel,
        );
        let interval = if instant { 1 } else { range.step };
        let mut ev = Evaluator::new(
            &ctx,
            range.start,
            range.end,
            interval,
            lookback,
            self.no_step_interval(),
        );
        let result = ev.eval_top(&prepared.expr);
        let annotations = ctx.take_annotations();
        let val = result.map_err(EvalError::into_query_error)?;
        let value = match val {
            evaluator::Val::String(s) => Value::String {
                t: range.start,
                v: s,
            },
            evaluator::Val::Matrix(mut mat) => {
                if instant {
                    match ty {
                        ValueType::Vector => Value::Vector(
                            mat.into_iter()
                                .map(|s| {
                                    let h = s.histograms.first().map(|p| p.h.clone());
                                    Sample {
                                        metric: s.metric,
                                        t: range.start,
                                        f: s.floats.first().map_or(0.0, |p| p.f),
                                        h,
                                        drop_name: s.drop_name,
                                    }
                                })
                                .collect(),
                        ),
                        ValueType::Scalar => Value::Scalar {
                            t: range.start,
                            v: mat
                                .first()
                                .and_then(|s| s.floats.first())
                                .map_or(f64::NAN, |p| p.f),
                        },
                        _ => {
                            mat.sort_by(|a, b| a.metric.cmp(&b.metric));
                            Value::Matrix(mat)
                        }
                    }
                } else {
                    mat.sort_by(|a, b| a.metric.cmp(&b.metric));
                    Value::Matrix(mat)
                }
            }
        };
        Ok(QueryResult {
            value,
            annotations,
            query: query.to_string(),
        })
    }

    fn no_step_interval(&self) -> i64 {
        self.opts.no_step_subquery_interval.as_millis() as i64
    }
}
