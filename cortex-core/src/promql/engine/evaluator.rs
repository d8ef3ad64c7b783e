//! The evaluator: evaluates an expression at every step of `[start, end]`, node by
//! node, into a matrix (one point per step per output series) or a string.
//!
//! Nodes whose value at a step depends only on their inputs at that step (operators,
//! most functions) go through [`Evaluator::range_eval`], which evaluates the inputs
//! once, then walks the steps gathering one vector per input. Selectors, range
//! functions, aggregations and subqueries have their own series-at-a-time paths.

use std::collections::HashMap;
use std::sync::Arc;

use cortex_tsdb::labels::{Labels, METRIC_NAME};

use super::QueryError;
pub(crate) use super::context::QueryCtx;
use crate::promql::annotations::Annotations;
use crate::promql::histogram::HistogramExt;
use crate::promql::parser::{Expr, ValueType, VectorMatching};
use crate::promql::value::{
    FPoint, HPoint, Matrix, Sample, Series, Vector, matrix_samples, no_labels, vector_samples,
};
use crate::querier::QuerierError;

/// Why evaluation stopped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EvalError {
    /// A user-facing error message.
    Msg(String),
    /// The sample limit was exceeded.
    TooManySamples,
    /// The deadline passed.
    Timeout,
    /// The query was canceled.
    Canceled,
    /// Storage failed.
    Storage(QuerierError),
}

impl EvalError {
    pub(crate) fn into_query_error(self) -> QueryError {
        match self {
            EvalError::Msg(m) => QueryError::Eval(m),
            EvalError::TooManySamples => QueryError::TooManySamples,
            EvalError::Timeout => QueryError::Timeout,
            EvalError::Canceled => QueryError::Canceled,
            EvalError::Storage(e) => QueryError::Storage(e),
        }
    }
}

/// Shorthand for a user-facing evaluation error.
pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError::Msg(msg.into()))
}

/// The error for two output series with the same labels.
pub(crate) const DUPLICATE_LABELSET: &str = "vector cannot contain metrics with the same labelset";

/// An evaluated node.
pub(crate) enum Val {
    /// Series with one point per step (or a range of points for range vectors).
    Matrix(Matrix),
    /// A string.
    String(String),
}

/// Per-node scratch state handed to operators and functions at each step.
#[derive(Default)]
pub(crate) struct NodeHelper {
    /// The evaluation timestamp.
    pub ts: i64,
    /// Output of the current step.
    pub out: Vector,
    /// Annotations produced by the node.
    pub annos: Annotations,
    /// Cache of classic-histogram groupings for `histogram_quantile` and friends.
    pub histogram_cache: crate::promql::functions::histogram::ClassicCache,
    /// A range-vector function's result for the current series and step.
    pub range_out: Option<crate::querier::SampleValue>,
}

/// The per-step callback of [`Evaluator::range_eval`]: input vectors, their match
/// signature ordinals, and the step state to write the output into.
pub(crate) type StepFn<'f> =
    &'f mut dyn FnMut(&[Vector], &[Vec<usize>], &mut NodeHelper) -> Result<(), EvalError>;

/// Evaluates expressions over `[start, end]` every `interval` ms.
pub(crate) struct Evaluator<'a> {
    pub ctx: &'a QueryCtx<'a>,
    pub start: i64,
    pub end: i64,
    pub interval: i64,
    pub lookback: i64,
    pub no_step_interval: i64,
    pub current_samples: usize,
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(
        ctx: &'a QueryCtx<'a>,
        start: i64,
        end: i64,
        interval: i64,
        lookback: i64,
        no_step_interval: i64,
    ) -> Evaluator<'a> {
        Evaluator {
            ctx,
            start,
            end,
            interval,
            lookback,
            no_step_interval,
            current_samples: 0,
        }
    }

    /// A child evaluator over another time range, sharing the sample count.
    pub(crate) fn child(&self, start: i64, end: i64, interval: i64) -> Evaluator<'a> {
        Evaluator {
            ctx: self.ctx,
            start,
            end,
            interval,
            lookback: self.lookback,
            no_step_interval: self.no_step_interval,
            current_samples: self.current_samples,
        }
    }

    /// Number of steps.
    pub(crate) fn num_steps(&self) -> usize {
        if self.end < self.start {
            return 0;
        }
        ((self.end - self.start) / self.interval) as usize + 1
    }

    /// Fails when the sample limit is exceeded.
    pub(crate) fn check_samples(&self) -> Result<(), EvalError> {
        if self.current_samples > self.ctx.max_samples {
            return Err(EvalError::TooManySamples);
        }
        Ok(())
    }

    /// Evaluates the query's root and applies the delayed removal of metric names.
    pub(crate) fn eval_top(&mut self, e: &Expr) -> Result<Val, EvalError> {
        match self.eval(e)? {
            Val::Matrix(mut m) => {
                for s in &mut m {
                    if s.drop_name {
                        s.metric = drop_metadata(&s.metric);
                    }
                }
                Ok(Val::Matrix(merge_same_labelsets(m)?))
            }
            v => Ok(v),
        }
    }

    /// Evaluates a node that yields series.
    pub(crate) fn eval_matrix(&mut self, e: &Expr) -> Result<Matrix, EvalError> {
        match self.eval(e)? {
            Val::Matrix(m) => Ok(m),
            Val::String(_) => err("unexpected string value"),
        }
    }

    /// Evaluates `e` over the evaluator's steps.
    pub(crate) fn eval(&mut self, e: &Expr) -> Result<Val, EvalError> {
        self.ctx.check_done()?;
        if self.end < self.start {
            return Ok(Val::Matrix(Vec::new()));
        }
        Ok(Val::Matrix(match e {
            Expr::NumberLiteral(n) => self.constant(n.val)?,
            Expr::StringLiteral(s) => return Ok(Val::String(s.val.clone())),
            Expr::Paren(p) => return self.eval(&p.expr),
            Expr::Unary(u) => {
                let mut m = self.eval_matrix(&u.expr)?;
                if u.negate {
                    for s in &mut m {
                        s.drop_name = true;
                        for p in &mut s.floats {
                            p.f = -p.f;
                        }
                        for p in &mut s.histograms {
                            let mut h = (*p.h).clone();
                            h.mul(-1.0);
                            p.h = Arc::new(h);
                        }
                    }
                }
                m
            }
            Expr::Binary(b) => self.eval_binary(b)?,
            Expr::VectorSelector(vs) => self.eval_vector_selector(vs)?,
            Expr::MatrixSelector(ms) => {
                if self.start != self.end {
                    return err("cannot do range evaluation of matrix selector");
                }
                self.eval_matrix_selector(ms)?
            }
            Expr::Subquery(sq) => self.eval_subquery_node(sq)?,
            Expr::StepInvariant(si) => self.eval_step_invariant(&si.expr)?,
            Expr::Aggregate(a) => self.eval_aggregate(a)?,
            Expr::Call(c) => return self.eval_call(c),
            Expr::Duration(_) => return err("unexpected duration expression"),
        }))
    }

    /// A number at every step.
    fn constant(&mut self, v: f64) -> Result<Matrix, EvalError> {
        let n = self.num_steps();
        let floats: Vec<FPoint> = (0..n)
            .map(|i| FPoint {
                t: self.start + i as i64 * self.interval,
                f: v,
            })
            .collect();
        self.current_samples += n;
        self.check_samples()?;
        Ok(vec![Series {
            metric: no_labels(),
            floats,
            histograms: Vec::new(),
            drop_name: false,
        }])
    }

    fn eval_step_invariant(&mut self, inner: &Expr) -> Result<Matrix, EvalError> {
        let mut child = self.child(self.start, self.start, self.interval);
        let res = child.eval(inner)?;
        self.current_samples = child.current_samples;
        let Val::Matrix(mut m) = res else {
            return err("unexpected string in step invariant expression");
        };
        if matches!(inner, Expr::MatrixSelector(_) | Expr::Subquery(_)) {
            return Ok(m);
        }
        let steps = self.num_steps();
        for s in &mut m {
            if let Some(p) = s.floats.first().copied() {
                s.floats.reserve(steps.saturating_sub(1));
                for i in 1..steps {
                    s.floats.push(FPoint {
                        t: self.start + i as i64 * self.interval,
                        f: p.f,
                    });
                    self.current_samples += 1;
                }
            } else if let Some(p) = s.histograms.first().cloned() {
                let size = p.size();
                for i in 1..steps {
                    s.histograms.push(HPoint {
                        t: self.start + i as i64 * self.interval,
                        h: p.h.clone(),
                    });
                    self.current_samples += size;
                }
            }
            self.check_samples()?;
        }
        Ok(m)
    }

    /// Evaluates `exprs` (strings are skipped), then calls `f` at every step with one
    /// vector per expression and, when `matching` is given, the match-signature
    /// ordinal of every sample. `f` writes its result into `enh.out`.
    pub(crate) fn range_eval(
        &mut self,
        matching: Option<&VectorMatching>,
        exprs: &[&Expr],
        f: StepFn<'_>,
    ) -> Result<Matrix, EvalError> {
        let original = self.current_samples;
        let mut inputs: Vec<Matrix> = Vec::with_capacity(exprs.len());
        for e in exprs {
            if e.value_type() == ValueType::String {
                inputs.push(Vec::new());
                continue;
            }
            inputs.push(self.eval_matrix(e)?);
        }
        let sigs: Option<Vec<Vec<usize>>> = matching.map(|m| signature_ordinals(&inputs, m));
        let mut pos: Vec<Vec<(usize, usize)>> =
            inputs.iter().map(|m| vec![(0, 0); m.len()]).collect();
        let mut vectors: Vec<Vector> = inputs
            .iter()
            .map(|m| Vector::with_capacity(m.len()))
            .collect();
        let mut bufs: Vec<Vec<usize>> = vec![Vec::new(); inputs.len()];
        let biggest = inputs.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let mut enh = NodeHelper {
            out: Vector::with_capacity(biggest),
            ..Default::default()
        };
        let mut out: Matrix = Vec::new();
        let mut index: HashMap<Labels, (usize, i64)> = HashMap::new();
        let steps = self.num_steps();
        let mut temp = self.current_samples;
        let mut ts = self.start;
        while ts <= self.end {
            self.ctx.check_done()?;
            self.current_samples = temp;
            for (i, m) in inputs.iter().enumerate() {
                vectors[i].clear();
                bufs[i].clear();
                for (si, s) in m.iter().enumerate() {
                    let (fp, hp) = &mut pos[i][si];
                    let sample = if s.floats.get(*fp).is_some_and(|p| p.t == ts) {
                        let f = s.floats[*fp].f;
                        *fp += 1;
                        Sample {
                            metric: s.metric.clone(),
                            t: ts,
                            f,
                            h: None,
                            drop_name: s.drop_name,
                        }
                    } else if s.histograms.get(*hp).is_some_and(|p| p.t == ts) {
                        let h = s.histograms[*hp].h.clone();
                        *hp += 1;
                        Sample {
                            metric: s.metric.clone(),
                            t: ts,
                            f: 0.0,
                            h: Some(h),
                            drop_name: s.drop_name,
                        }
                    } else {
                        continue;
                    };
                    vectors[i].push(sample);
                    if let Some(sigs) = &sigs {
                        bufs[i].push(sigs[i][si]);
                    }
                    self.current_samples += 1;
                }
                self.check_samples()?;
            }
            enh.ts = ts;
            enh.out.clear();
            f(&vectors, &bufs, &mut enh)?;
            let n = vector_samples(&enh.out);
            self.current_samples += n;
            temp += n;
            self.check_samples()?;
            if self.start == self.end {
                let mat: Matrix = enh.out.drain(..).map(|s| point_series(s, ts)).collect();
                self.ctx.annotate_all(std::mem::take(&mut enh.annos));
                self.current_samples = original + matrix_samples(&mat);
                return Ok(mat);
            }
            for s in enh.out.drain(..) {
                match index.get_mut(&s.metric) {
                    Some((i, last)) => {
                        if *last == ts {
                            return err(DUPLICATE_LABELSET);
                        }
                        *last = ts;
                        add_point(&mut out[*i], ts, s.f, s.h);
                    }
                    None => {
                        index.insert(s.metric.clone(), (out.len(), ts));
                        let mut series = Series::new(s.metric);
                        series.drop_name = s.drop_name;
                        if s.h.is_none() {
                            series.floats.reserve(steps);
                        }
                        add_point(&mut series, ts, s.f, s.h);
                        out.push(series);
                    }
                }
            }
            ts += self.interval;
        }
        self.ctx.annotate_all(std::mem::take(&mut enh.annos));
        self.current_samples = original + matrix_samples(&out);
        Ok(out)
    }
}

/// A series holding one point.
pub(crate) fn point_series(s: Sample, ts: i64) -> Series {
    let mut series = Series::new(s.metric);
    series.drop_name = s.drop_name;
    add_point(&mut series, ts, s.f, s.h);
    series
}

/// Appends a float or histogram point.
pub(crate) fn add_point(
    s: &mut Series,
    t: i64,
    f: f64,
    h: Option<Arc<cortex_tsdb::histogram::FloatHistogram>>,
) {
    match h {
        Some(h) => s.histograms.push(HPoint { t, h }),
        None => s.floats.push(FPoint { t, f }),
    }
}

/// Assigns every input series the ordinal of its match signature (the labels listed
/// in `on(...)`, or all but those in `ignoring(...)` and the metric name).
fn signature_ordinals(inputs: &[Matrix], m: &VectorMatching) -> Vec<Vec<usize>> {
    let mut ordinals: HashMap<Labels, usize> = HashMap::new();
    inputs
        .iter()
        .map(|mat| {
            mat.iter()
                .map(|s| {
                    let sig = match_signature(&s.metric, m);
                    let n = ordinals.len();
                    *ordinals.entry(sig).or_insert(n)
                })
                .collect()
        })
        .collect()
}

/// The labels two series must share to match.
pub(crate) fn match_signature(metric: &Labels, m: &VectorMatching) -> Labels {
    if m.on {
        metric.filter(|l| m.matching_labels.iter().any(|n| n == l.name))
    } else {
        metric.filter(|l| l.name != METRIC_NAME && !m.matching_labels.iter().any(|n| n == l.name))
    }
}

/// Removes the metric name and the other reserved metadata labels.
pub(crate) fn drop_metadata(l: &Labels) -> Labels {
    if !l.iter().any(|x| is_metadata_label(x.name)) {
        return l.clone();
    }
    l.filter(|x| !is_metadata_label(x.name))
}

/// `__name__`, `__type__` and `__unit__`.
pub(crate) fn is_metadata_label(name: &str) -> bool {
    matches!(name, "__name__" | "__type__" | "__unit__")
}

/// Merges series that ended up with the same labels (after dropping metric names);
/// an error when two of them have a point at the same time.
pub(crate) fn merge_same_labelsets(mat: Matrix) -> Result<Matrix, EvalError> {
    if mat.len() <= 1 {
        return Ok(mat);
    }
    let mut seen: HashMap<&Labels, usize> = HashMap::with_capacity(mat.len());
    let mut dup = false;
    for (i, s) in mat.iter().enumerate() {
        if seen.insert(&s.metric, i).is_some() {
            dup = true;
            break;
        }
    }
    if !dup {
        return Ok(mat);
    }
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Matrix = Vec::with_capacity(mat.len());
    for s in mat {
        match index.get(&s.metric) {
            Some(&i) => {
                let base = &mut out[i];
                base.floats.extend(s.floats);
                base.histograms.extend(s.histograms);
            }
            None => {
                index.insert(s.metric.clone(), out.len());
                out.push(s);
            }
        }
    }
    for s in &mut out {
        s.floats.sort_by_key(|p| p.t);
        s.histograms.sort_by_key(|p| p.t);
        if s.floats.windows(2).any(|w| w[0].t == w[1].t)
            || s.histograms.windows(2).any(|w| w[0].t == w[1].t)
        {
            return err(DUPLICATE_LABELSET);
        }
    }
    Ok(out)
}
