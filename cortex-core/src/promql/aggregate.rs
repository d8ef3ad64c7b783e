//! Aggregation operators over groups of series: `sum`, `avg`, `count`, `min`, `max`,
//! `group`, `stddev`, `stdvar`, `quantile` (this file) and `topk`, `bottomk`,
//! `limitk`, `limit_ratio`, `count_values` (`aggregate_k.rs`).
//!
//! Input series are mapped to their groups once; the points of a block of steps are
//! then folded into per-group, per-step accumulators, without building per-step
//! vectors.

use std::collections::HashMap;
use std::sync::Arc;

use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram};
use cortex_tsdb::labels::{Labels, METRIC_NAME};

use super::annotations::kinds::{self, HistogramOp};
use super::engine::{EvalError, Evaluator, err};
use super::histogram::{HistogramExt, kahan_inc};
use super::parser::{AggregateExpr, AggregateOp, Expr, literal::go_quote_bytes};
use super::quantile::quantile;
use super::value::{FPoint, HPoint, Matrix, Series, matrix_samples, no_labels};

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

/// Per-group state of one step.
#[derive(Default, Clone)]
struct Group {
    seen: bool,
    float_value: f64,
    float_mean: f64,
    float_kahan: f64,
    histogram_value: Option<FloatHistogram>,
    histogram_mean: Option<FloatHistogram>,
    histogram_kahan: Option<FloatHistogram>,
    count: f64,
    values: Vec<f64>,
    has_float: bool,
    has_histogram: bool,
    incompatible: bool,
    float_incremental: bool,
    histogram_incremental: bool,
    reset_seen: bool,
    not_reset_seen: bool,
    drop_name: bool,
}

impl Group {
    fn track_hint(&mut self, h: &FloatHistogram) {
        match h.counter_reset_hint {
            CounterResetHint::CounterReset => self.reset_seen = true,
            CounterResetHint::NotCounterReset => self.not_reset_seen = true,
            _ => {}
        }
    }
}

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
        let params = self.params(a.param.as_deref())?;
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
        if a.op == AggregateOp::Quantile {
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
                    self.fold(a.op, &mut groups[base + k], f, h, s, epos)?;
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
                    let Some((f, h)) = self.finish(a.op, g, q, epos) else {
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

    /// Adds one point to its group's accumulator.
    fn fold(
        &self,
        op: AggregateOp,
        g: &mut Group,
        f: f64,
        h: Option<&Arc<FloatHistogram>>,
        s: &Series,
        epos: super::parser::PosRange,
    ) -> Result<(), EvalError> {
        use AggregateOp as A;
        let name = |s: &Series| s.metric.get(METRIC_NAME).unwrap_or("").to_string();
        if !g.seen {
            *g = Group {
                seen: true,
                float_value: f,
                float_mean: f,
                count: 1.0,
                drop_name: s.drop_name,
                values: std::mem::take(&mut g.values),
                ..Default::default()
            };
            match op {
                A::Avg | A::Sum => match h {
                    None => g.has_float = true,
                    Some(h) => {
                        g.histogram_value = Some((**h).clone());
                        g.has_histogram = true;
                        g.track_hint(h);
                    }
                },
                A::Stdvar | A::Stddev => {
                    if h.is_some() {
                        g.seen = false;
                        self.ctx
                            .annotate(kinds::histogram_ignored_in_aggregation(op.as_str(), epos));
                    } else if f.is_nan() || f.is_infinite() {
                        g.float_value = f64::NAN;
                    } else {
                        g.float_value = 0.0;
                    }
                }
                A::Quantile => {
                    if h.is_some() {
                        g.seen = false;
                        self.ctx
                            .annotate(kinds::histogram_ignored_in_aggregation("quantile", epos));
                    }
                    g.values.clear();
                    g.values.push(f);
                }
                A::Group => g.float_value = 1.0,
                A::Min | A::Max if h.is_some() => {
                    g.seen = false;
                    self.ctx
                        .annotate(kinds::histogram_ignored_in_aggregation(op.as_str(), epos));
                }
                _ => {}
            }
            return Ok(());
        }
        if g.incompatible {
            return Ok(());
        }
        if s.drop_name {
            g.drop_name = true;
        }
        match op {
            A::Sum => match h {
                Some(h) => {
                    g.has_histogram = true;
                    if let Some(hv) = &mut g.histogram_value {
                        g.reset_seen |= h.counter_reset_hint == CounterResetHint::CounterReset;
                        g.not_reset_seen |=
                            h.counter_reset_hint == CounterResetHint::NotCounterReset;
                        match hv.kahan_add(h, g.histogram_kahan.take()) {
                            Err(_) => {
                                self.ctx
                                    .annotate(kinds::mixed_exponential_custom(&name(s), epos));
                                g.incompatible = true;
                            }
                            Ok((c, res)) => {
                                g.histogram_kahan = Some(c);
                                if res.nhcb_bounds_reconciled {
                                    self.ctx.annotate(kinds::mismatched_custom_buckets(
                                        epos,
                                        HistogramOp::Agg,
                                    ));
                                }
                            }
                        }
                    }
                }
                None => {
                    g.has_float = true;
                    (g.float_value, g.float_kahan) = kahan_inc(f, g.float_value, g.float_kahan);
                }
            },
            A::Avg => {
                g.count += 1.0;
                match h {
                    Some(h) => {
                        g.has_histogram = true;
                        if g.histogram_value.is_some() {
                            g.track_hint(h);
                            self.avg_histogram(g, h, s, epos);
                        }
                    }
                    None => {
                        g.has_float = true;
                        if !g.float_incremental {
                            let (nv, nc) = kahan_inc(f, g.float_value, g.float_kahan);
                            if !nv.is_infinite() {
                                g.float_value = nv;
                                g.float_kahan = nc;
                                return Ok(());
                            }
                            g.float_incremental = true;
                            g.float_mean = g.float_value / (g.count - 1.0);
                            g.float_kahan /= g.count - 1.0;
                        }
                        let q = (g.count - 1.0) / g.count;
                        (g.float_mean, g.float_kahan) =
                            kahan_inc(f / g.count, q * g.float_mean, q * g.float_kahan);
                    }
                }
            }
            A::Group => {}
            A::Max => {
                if h.is_some() {
                    self.ctx
                        .annotate(kinds::histogram_ignored_in_aggregation("max", epos));
                } else if g.float_value < f || g.float_value.is_nan() {
                    g.float_value = f;
                }
            }
            A::Min => {
                if h.is_some() {
                    self.ctx
                        .annotate(kinds::histogram_ignored_in_aggregation("min", epos));
                } else if g.float_value > f || g.float_value.is_nan() {
                    g.float_value = f;
                }
            }
            A::Count => g.count += 1.0,
            A::Stdvar | A::Stddev => {
                if h.is_none() {
                    g.count += 1.0;
                    let delta = f - g.float_mean;
                    g.float_mean += delta / g.count;
                    g.float_value += delta * (f - g.float_mean);
                } else {
                    self.ctx
                        .annotate(kinds::histogram_ignored_in_aggregation(op.as_str(), epos));
                }
            }
            A::Quantile => {
                if h.is_some() {
                    self.ctx
                        .annotate(kinds::histogram_ignored_in_aggregation("quantile", epos));
                } else {
                    g.values.push(f);
                }
            }
            _ => {
                return err(format!(
                    "expected aggregation operator but got {:?}",
                    op.as_str()
                ));
            }
        }
        Ok(())
    }

    /// The running mean of histograms, switching to incremental means on overflow.
    fn avg_histogram(
        &self,
        g: &mut Group,
        h: &FloatHistogram,
        s: &Series,
        epos: super::parser::PosRange,
    ) {
        let name = s.metric.get(METRIC_NAME).unwrap_or("").to_string();
        if !g.histogram_incremental {
            let Some(hv) = &g.histogram_value else { return };
            let mut v = hv.clone();
            match v.kahan_add(h, g.histogram_kahan.clone()) {
                Err(_) => {
                    self.ctx
                        .annotate(kinds::mixed_exponential_custom(&name, epos));
                    g.incompatible = true;
                    return;
                }
                Ok((c, res)) => {
                    if res.nhcb_bounds_reconciled {
                        self.ctx
                            .annotate(kinds::mismatched_custom_buckets(epos, HistogramOp::Agg));
                    }
                    if !v.has_overflow() {
                        g.histogram_value = Some(v);
                        g.histogram_kahan = Some(c);
                        return;
                    }
                }
            }
            g.histogram_incremental = true;
            let mut mean = hv.clone();
            mean.div(g.count - 1.0);
            g.histogram_mean = Some(mean);
            if let Some(c) = &mut g.histogram_kahan {
                c.div(g.count - 1.0);
            }
        }
        let q = (g.count - 1.0) / g.count;
        if let Some(c) = &mut g.histogram_kahan {
            c.mul(q);
        }
        let mut to_add = h.clone();
        to_add.div(g.count);
        let Some(mean) = &mut g.histogram_mean else {
            return;
        };
        mean.mul(q);
        match mean.kahan_add(&to_add, g.histogram_kahan.take()) {
            Err(_) => {
                self.ctx
                    .annotate(kinds::mixed_exponential_custom(&name, epos));
                g.incompatible = true;
            }
            Ok((c, res)) => {
                g.histogram_kahan = Some(c);
                if res.nhcb_bounds_reconciled {
                    self.ctx
                        .annotate(kinds::mismatched_custom_buckets(epos, HistogramOp::Agg));
                }
            }
        }
    }

    /// A group's result at this step, or `None` when it has none (mixed types,
    /// incompatible histograms).
    fn finish(
        &self,
        op: AggregateOp,
        g: &mut Group,
        q: f64,
        epos: super::parser::PosRange,
    ) -> Option<(f64, Option<FloatHistogram>)> {
        use AggregateOp as A;
        let mut hv = None;
        match op {
            A::Avg | A::Sum => {
                if g.has_float && g.has_histogram {
                    self.ctx.annotate(kinds::mixed_floats_histograms_agg(epos));
                    return None;
                }
                if g.incompatible {
                    return None;
                }
                if g.has_histogram {
                    let mut h = if op == A::Avg && g.histogram_incremental {
                        let mut m = g.histogram_mean.take()?;
                        if let Some(c) = &g.histogram_kahan {
                            let _ = m.add(c);
                        }
                        m
                    } else {
                        let mut h = g.histogram_value.take()?;
                        if op == A::Avg {
                            h.div(g.count);
                        }
                        if let Some(mut c) = g.histogram_kahan.take() {
                            if op == A::Avg {
                                c.div(g.count);
                            }
                            let _ = h.add(&c);
                        }
                        h
                    };
                    h.compact();
                    hv = Some(h);
                } else if op == A::Avg {
                    g.float_value = if g.float_incremental {
                        g.float_mean + g.float_kahan
                    } else {
                        g.float_value / g.count + g.float_kahan / g.count
                    };
                } else {
                    g.float_value += g.float_kahan;
                }
            }
            A::Count => g.float_value = g.count,
            A::Stdvar => g.float_value /= g.count,
            A::Stddev => g.float_value = (g.float_value / g.count).sqrt(),
            A::Quantile => g.float_value = quantile(q, &mut g.values),
            _ => {}
        }
        if g.reset_seen && g.not_reset_seen {
            self.ctx
                .annotate(kinds::counter_reset_collision(epos, HistogramOp::Agg));
        }
        Some((g.float_value, hv))
    }
}
