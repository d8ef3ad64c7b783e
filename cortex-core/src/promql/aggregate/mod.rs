//! Aggregation operators over groups of series: `sum`, `avg`, `count`, `min`, `max`,
//! `group`, `stddev`, `stdvar`, `quantile` (this file, accumulators in `fold.rs`,
//! streaming input in `stream.rs`) and `topk`, `bottomk`, `limitk`, `limit_ratio`,
//! `count_values` (`topk.rs`).
//!
//! Input series are mapped to their groups once; the points of a block of steps are
//! then folded into per-group, per-step accumulators, without building per-step
//! vectors.

mod fold;
mod stream;
mod topk;

use std::collections::HashMap;
use std::sync::Arc;

use cortex_tsdb::histogram::FloatHistogram;
use cortex_tsdb::labels::{Labels, METRIC_NAME};

use super::annotations::kinds;
use super::engine::{EvalError, Evaluator, err};
use super::parser::{AggregateExpr, AggregateOp, Expr, literal::go_quote_bytes};
use super::value::{FPoint, HPoint, Matrix, Series, matrix_samples, no_labels};
use fold::{Group, finish, fold};

/// Go's `math.Max`: NaN wins.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN wins.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// The values of an aggregation's parameter over the steps.
pub(crate) struct Params {
    values: Vec<f64>,
    constant: Option<f64>,
    next: usize,
    /// Largest value (NaN if any is NaN).
    pub max: f64,
    /// Smallest value (NaN if any is NaN).
    pub min: f64,
    /// True when any value is NaN.
    pub any_nan: bool,
}

impl Params {
    /// The value at the next step.
    pub(crate) fn next(&mut self) -> f64 {
        if let Some(c) = self.constant {
            return c;
        }
        let v = self.values.get(self.next).copied().unwrap_or(0.0);
        self.next += 1;
        v
    }
}

/// Labels of the output group of a series.
pub(crate) fn grouping_labels(metric: &Labels, grouping: &[String], without: bool) -> Labels {
    if without {
        metric.filter(|l| l.name != METRIC_NAME && !grouping.iter().any(|g| g == l.name))
    } else if grouping.is_empty() {
        no_labels()
    } else {
        metric.filter(|l| grouping.iter().any(|g| g == l.name))
    }
}

/// Memory for the accumulators of one block of steps.
const BLOCK_BUDGET: usize = 1 << 20;
/// Most steps folded per block.
const MAX_BLOCK_STEPS: usize = 256;

/// The point of `s` at `ts`, advancing its cursor.
pub(crate) fn next_value<'m>(
    s: &'m Series,
    pos: &mut (usize, usize),
    ts: i64,
) -> Option<(f64, Option<&'m Arc<FloatHistogram>>)> {
    if let Some(p) = s.floats.get(pos.0)
        && p.t == ts
    {
        pos.0 += 1;
        return Some((p.f, None));
    }
    if let Some(p) = s.histograms.get(pos.1)
        && p.t == ts
    {
        pos.1 += 1;
        return Some((0.0, Some(&p.h)));
    }
    None
}

impl Evaluator<'_> {
    pub(crate) fn eval_aggregate(&mut self, a: &AggregateExpr) -> Result<Matrix, EvalError> {
        let mut grouping = a.grouping.clone();
        grouping.sort();
        if a.op == AggregateOp::CountValues {
            let Some(Expr::StringLiteral(lit)) = a.param.as_deref() else {
                return err("count_values needs a string parameter");
            };
            if lit.invalid_utf8.is_some() || lit.val.is_empty() {
                let shown = match &lit.invalid_utf8 {
                    Some(b) => go_quote_bytes(b),
                    None => "\"\"".into(),
                };
                return err(format!("invalid label name {shown}"));
            }
            if !a.without {
                grouping.push(lit.val.clone());
                grouping.sort();
            }
            return self.count_values(a, &grouping, &lit.val);
        }
        let original = self.current_samples;
        let mut params = self.params(a.param.as_deref())?;
        if let Some(result) = self.stream_aggregate(a, &grouping, &mut params)? {
            self.current_samples = original + matrix_samples(&result);
            return Ok(result);
        }
        let input = self.eval_matrix(&a.expr)?;
        let result = match a.op {
            AggregateOp::Topk
            | AggregateOp::Bottomk
            | AggregateOp::Limitk
            | AggregateOp::LimitRatio => self.aggregate_k(a, &grouping, input, params)?,
            _ => self.aggregate(a, &grouping, input, params)?,
        };
        self.current_samples = original + matrix_samples(&result);
        Ok(result)
    }

    /// Notes out-of-range `quantile` parameters.
    fn annotate_quantile_params(&self, a: &AggregateExpr, params: &Params) {
        if a.op != AggregateOp::Quantile {
            return;
        }
        let pos = a.param.as_ref().map(|p| p.pos()).unwrap_or_default();
        if params.any_nan {
            self.ctx.annotate(kinds::invalid_quantile(f64::NAN, pos));
        }
        if params.max > 1.0 {
            self.ctx.annotate(kinds::invalid_quantile(params.max, pos));
        }
        if params.min < 0.0 {
            self.ctx.annotate(kinds::invalid_quantile(params.min, pos));
        }
    }

    fn params(&mut self, e: Option<&Expr>) -> Result<Params, EvalError> {
        let mut p = Params {
            values: Vec::new(),
            constant: None,
            next: 0,
            max: 0.0,
            min: 0.0,
            any_nan: false,
        };
        let Some(e) = e else { return Ok(p) };
        let constant = matches!(e, Expr::NumberLiteral(_));
        let m = self.eval_matrix(e)?;
        let Some(s) = m.into_iter().next() else {
            return Ok(p);
        };
        p.values = s.floats.iter().map(|f| f.f).collect();
        if constant {
            let c = p.values.first().copied().unwrap_or(0.0);
            p.constant = Some(c);
            p.max = c;
            p.min = c;
            p.any_nan = c.is_nan();
            return Ok(p);
        }
        p.max = -f64::MAX;
        p.min = f64::MAX;
        for &v in &p.values {
            p.max = go_max(p.max, v);
            p.min = go_min(p.min, v);
            p.any_nan |= v.is_nan();
        }
        Ok(p)
    }

    /// `sum`, `avg`, `count`, `min`, `max`, `group`, `stddev`, `stdvar`, `quantile`.
    fn aggregate(
        &mut self,
        a: &AggregateExpr,
        grouping: &[String],
        input: Matrix,
        mut params: Params,
    ) -> Result<Matrix, EvalError> {
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut out: Matrix = Vec::new();
        let mut series_group = Vec::with_capacity(input.len());
        for s in &input {
            let key = grouping_labels(&s.metric, grouping, a.without);
            let i = match index.get(&key) {
                Some(&i) => i,
                None => {
                    index.insert(key.clone(), out.len());
                    out.push(Series::new(key));
                    out.len() - 1
                }
            };
            series_group.push(i);
        }
        self.annotate_quantile_params(a, &params);
        // Steps are folded a block at a time, series by series within the block, so
        // each input series is read in runs rather than one point per step. Each
        // (group, step) accumulator still sees its points in input order, as when
        // folding step by step.
        let block = (BLOCK_BUDGET / (out.len().max(1) * std::mem::size_of::<Group>()))
            .clamp(1, MAX_BLOCK_STEPS);
        let mut groups = vec![Group::default(); out.len() * block];
        let mut pos = vec![(0usize, 0usize); input.len()];
        let temp = self.current_samples;
        let steps = self.num_steps();
        let epos = a.expr.pos();
        let mut first = 0;
        while first < steps {
            let n = block.min(steps - first);
            self.ctx.check_done()?;
            for g in groups.iter_mut() {
                g.seen = false;
            }
            for (si, s) in input.iter().enumerate() {
                let base = series_group[si] * block;
                for k in 0..n {
                    let ts = self.start + (first + k) as i64 * self.interval;
                    let Some((f, h)) = next_value(s, &mut pos[si], ts) else {
                        continue;
                    };
                    fold(self.ctx, a.op, &mut groups[base + k], f, h, s, epos)?;
                }
            }
            for k in 0..n {
                let ts = self.start + (first + k) as i64 * self.interval;
                let q = params.next();
                self.current_samples = temp;
                for (gi, series) in out.iter_mut().enumerate() {
                    let g = &mut groups[gi * block + k];
                    if !g.seen {
                        continue;
                    }
                    let Some((f, h)) = finish(self.ctx, a.op, g, q, epos) else {
                        continue;
                    };
                    match h {
                        Some(h) => series.histograms.push(HPoint {
                            t: ts,
                            h: Arc::new(h),
                        }),
                        None => {
                            if series.floats.is_empty() {
                                series.floats.reserve(steps);
                            }
                            series.floats.push(FPoint { t: ts, f });
                        }
                    }
                    series.drop_name = g.drop_name;
                    self.current_samples += 1;
                }
                self.check_samples()?;
            }
            first += n;
        }
        out.retain(|s| !s.is_empty());
        Ok(out)
    }
}
