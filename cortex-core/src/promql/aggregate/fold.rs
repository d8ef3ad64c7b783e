//! The per-group accumulators of `sum`, `avg`, `count`, `min`, `max`, `group`,
//! `stddev`, `stdvar` and `quantile`: folding one point in ([`fold`]) and producing
//! the group's value for a step ([`finish`]), for floats and native histograms,
//! with Prometheus' Kahan summation, incremental means on overflow, and annotations.

use std::sync::Arc;

use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram};
use cortex_tsdb::labels::METRIC_NAME;

use crate::promql::annotations::kinds::{self, HistogramOp};
use crate::promql::engine::{EvalError, QueryCtx, err};
use crate::promql::histogram::{HistogramExt, kahan_inc};
use crate::promql::parser::{AggregateOp, PosRange};
use crate::promql::quantile::quantile;
use crate::promql::value::Series;

/// Per-group state of one step.
#[derive(Default, Clone)]
pub(super) struct Group {
    pub(super) seen: bool,
    float_value: f64,
    float_mean: f64,
    float_kahan: f64,
    // Boxed: most groups never hold a histogram, and a small group keeps the
    // per-step accumulators of long queries compact.
    histogram_value: Option<Box<FloatHistogram>>,
    histogram_mean: Option<Box<FloatHistogram>>,
    histogram_kahan: Option<Box<FloatHistogram>>,
    count: f64,
    values: Vec<f64>,
    has_float: bool,
    has_histogram: bool,
    incompatible: bool,
    float_incremental: bool,
    histogram_incremental: bool,
    reset_seen: bool,
    not_reset_seen: bool,
    pub(super) drop_name: bool,
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

/// Adds one point to its group's accumulator.
pub(super) fn fold(
    ctx: &QueryCtx<'_>,
    op: AggregateOp,
    g: &mut Group,
    f: f64,
    h: Option<&Arc<FloatHistogram>>,
    s: &Series,
    epos: PosRange,
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
                    g.histogram_value = Some(Box::new((**h).clone()));
                    g.has_histogram = true;
                    g.track_hint(h);
                }
            },
            A::Stdvar | A::Stddev => {
                if h.is_some() {
                    g.seen = false;
                    ctx.annotate(kinds::histogram_ignored_in_aggregation(op.as_str(), epos));
                } else if f.is_nan() || f.is_infinite() {
                    g.float_value = f64::NAN;
                } else {
                    g.float_value = 0.0;
                }
            }
            A::Quantile => {
                if h.is_some() {
                    g.seen = false;
                    ctx.annotate(kinds::histogram_ignored_in_aggregation("quantile", epos));
                }
                g.values.clear();
                g.values.push(f);
            }
            A::Group => g.float_value = 1.0,
            A::Min | A::Max if h.is_some() => {
                g.seen = false;
                ctx.annotate(kinds::histogram_ignored_in_aggregation(op.as_str(), epos));
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
                if let Some(hv) = g.histogram_value.as_deref_mut() {
                    g.reset_seen |= h.counter_reset_hint == CounterResetHint::CounterReset;
                    g.not_reset_seen |= h.counter_reset_hint == CounterResetHint::NotCounterReset;
                    match hv.kahan_add(h, g.histogram_kahan.take().map(|c| *c)) {
                        Err(_) => {
                            ctx.annotate(kinds::mixed_exponential_custom(&name(s), epos));
                            g.incompatible = true;
                        }
                        Ok((c, res)) => {
                            g.histogram_kahan = Some(Box::new(c));
                            if res.nhcb_bounds_reconciled {
                                ctx.annotate(kinds::mismatched_custom_buckets(
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
                        avg_histogram(ctx, g, h, s, epos);
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
                ctx.annotate(kinds::histogram_ignored_in_aggregation("max", epos));
            } else if g.float_value < f || g.float_value.is_nan() {
                g.float_value = f;
            }
        }
        A::Min => {
            if h.is_some() {
                ctx.annotate(kinds::histogram_ignored_in_aggregation("min", epos));
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
                ctx.annotate(kinds::histogram_ignored_in_aggregation(op.as_str(), epos));
            }
        }
        A::Quantile => {
            if h.is_some() {
                ctx.annotate(kinds::histogram_ignored_in_aggregation("quantile", epos));
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
    ctx: &QueryCtx<'_>,
    g: &mut Group,
    h: &FloatHistogram,
    s: &Series,
    epos: PosRange,
) {
    let name = s.metric.get(METRIC_NAME).unwrap_or("").to_string();
    if !g.histogram_incremental {
        let Some(hv) = g.histogram_value.as_deref() else {
            return;
        };
        let mut v = hv.clone();
        match v.kahan_add(h, g.histogram_kahan.as_deref().cloned()) {
            Err(_) => {
                ctx.annotate(kinds::mixed_exponential_custom(&name, epos));
                g.incompatible = true;
                return;
            }
            Ok((c, res)) => {
                if res.nhcb_bounds_reconciled {
                    ctx.annotate(kinds::mismatched_custom_buckets(epos, HistogramOp::Agg));
                }
                if !v.has_overflow() {
                    g.histogram_value = Some(Box::new(v));
                    g.histogram_kahan = Some(Box::new(c));
                    return;
                }
            }
        }
        g.histogram_incremental = true;
        let mut mean = hv.clone();
        mean.div(g.count - 1.0);
        g.histogram_mean = Some(Box::new(mean));
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
    match mean.kahan_add(&to_add, g.histogram_kahan.take().map(|c| *c)) {
        Err(_) => {
            ctx.annotate(kinds::mixed_exponential_custom(&name, epos));
            g.incompatible = true;
        }
        Ok((c, res)) => {
            g.histogram_kahan = Some(Box::new(c));
            if res.nhcb_bounds_reconciled {
                ctx.annotate(kinds::mismatched_custom_buckets(epos, HistogramOp::Agg));
            }
        }
    }
}

/// A group's result at this step, or `None` when it has none (mixed types,
/// incompatible histograms).
pub(super) fn finish(
    ctx: &QueryCtx<'_>,
    op: AggregateOp,
    g: &mut Group,
    q: f64,
    epos: PosRange,
) -> Option<(f64, Option<FloatHistogram>)> {
    use AggregateOp as A;
    let mut hv = None;
    match op {
        A::Avg | A::Sum => {
            if g.has_float && g.has_histogram {
                ctx.annotate(kinds::mixed_floats_histograms_agg(epos));
                return None;
            }
            if g.incompatible {
                return None;
            }
            if g.has_histogram {
                let mut h = if op == A::Avg && g.histogram_incremental {
                    let mut m = *g.histogram_mean.take()?;
                    if let Some(c) = &g.histogram_kahan {
                        let _ = m.add(c);
                    }
                    m
                } else {
                    let mut h = *g.histogram_value.take()?;
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
        ctx.annotate(kinds::counter_reset_collision(epos, HistogramOp::Agg));
    }
    Some((g.float_value, hv))
}
