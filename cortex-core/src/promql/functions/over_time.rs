//! Functions that summarise one series' window: the `*_over_time` family, `changes`,
//! `resets`, `deriv`, `predict_linear` and `double_exponential_smoothing`.

use std::sync::Arc;

use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram};
use cortex_tsdb::labels::METRIC_NAME;

use super::{FnArgs, RangeArg};
use crate::promql::annotations::kinds::{self, HistogramOp};
use crate::promql::engine::{EvalError, err};
use crate::promql::histogram::{HistogramExt, kahan_inc};
use crate::promql::quantile::quantile;
use crate::promql::value::FPoint;

type R = Result<(), EvalError>;

fn name(r: &RangeArg<'_>) -> String {
    r.metric.get(METRIC_NAME).unwrap_or("").to_string()
}

fn push_f(a: &mut FnArgs<'_>, f: f64) {
    a.emit_float(f);
}

fn push_h(a: &mut FnArgs<'_>, h: FloatHistogram) {
    a.emit_histogram(Arc::new(h));
}

/// Sum of histograms with Kahan compensation; `Err` when schemas mix.
fn sum_histograms(a: &mut FnArgs<'_>, r: &RangeArg<'_>, mean: bool) -> R {
    let hs = r.histograms;
    let mut reset = false;
    let mut not_reset = false;
    let mut reconciled = false;
    let mut track = |h: &FloatHistogram| match h.counter_reset_hint {
        CounterResetHint::CounterReset => reset = true,
        CounterResetHint::NotCounterReset => not_reset = true,
        _ => {}
    };
    let mut sum = (*hs[0].h).clone();
    track(&sum);
    let mut comp: Option<FloatHistogram> = None;
    let mut incremental: Option<FloatHistogram> = None;
    let mut count = 1.0;
    let mut failed = false;
    for (i, p) in hs[1..].iter().enumerate() {
        track(&p.h);
        count = (i + 2) as f64;
        if mean && incremental.is_none() {
            let mut s2 = sum.clone();
            match s2.kahan_add(&p.h, comp.clone()) {
                Err(_) => {
                    failed = true;
                    break;
                }
                Ok((c, res)) => {
                    reconciled |= res.nhcb_bounds_reconciled;
                    if !s2.has_overflow() {
                        sum = s2;
                        comp = Some(c);
                        continue;
                    }
                }
            }
            let mut m = sum.clone();
            m.div(count - 1.0);
            if let Some(c) = &mut comp {
                c.div(count - 1.0);
            }
            incremental = Some(m);
        }
        if let Some(m) = &mut incremental {
            let q = (count - 1.0) / count;
            if let Some(c) = &mut comp {
                c.mul(q);
            }
            let mut to_add = (*p.h).clone();
            to_add.div(count);
            m.mul(q);
            match m.kahan_add(&to_add, comp.take()) {
                Err(_) => {
                    failed = true;
                    break;
                }
                Ok((c, res)) => {
                    reconciled |= res.nhcb_bounds_reconciled;
                    comp = Some(c);
                }
            }
            continue;
        }
        match sum.kahan_add(&p.h, comp.take()) {
            Err(_) => {
                failed = true;
                break;
            }
            Ok((c, res)) => {
                reconciled |= res.nhcb_bounds_reconciled;
                comp = Some(c);
            }
        }
    }
    if reset && not_reset {
        a.enh
            .annos
            .add(kinds::counter_reset_collision(r.pos, HistogramOp::Agg));
    }
    if reconciled {
        a.enh
            .annos
            .add(kinds::mismatched_custom_buckets(r.pos, HistogramOp::Agg));
    }
    if failed {
        a.enh
            .annos
            .add(kinds::mixed_exponential_custom(&name(r), r.pos));
        return Ok(());
    }
    let result = match incremental {
        Some(mut m) => {
            if let Some(c) = &comp {
                let _ = m.add(c);
            }
            m
        }
        None => {
            if mean {
                sum.div(count);
            }
            if let Some(mut c) = comp {
                if mean {
                    c.div(count);
                }
                let _ = sum.add(&c);
            }
            sum
        }
    };
    push_h(a, result);
    Ok(())
}

/// `avg_over_time(v[d])`
pub(super) fn avg_over_time(a: &mut FnArgs<'_>) -> R {
    let Some(r) = a.range else { return Ok(()) };
    if !r.floats.is_empty() && !r.histograms.is_empty() {
        a.enh
            .annos
            .add(kinds::mixed_floats_histograms(&name(r), r.pos));
        return Ok(());
    }
    if r.floats.is_empty() {
        return sum_histograms(a, r, true);
    }
    let f = r.floats;
    let (mut sum, mut count) = (f[0].f, 1.0);
    let (mut mean, mut c) = (0.0, 0.0);
    let mut incremental = false;
    for (i, p) in f[1..].iter().enumerate() {
        count = (i + 2) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(p.f, sum, c);
            if !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(p.f / count, q * mean, q * c);
    }
    let v = if incremental {
        mean + c
    } else {
        sum / count + c / count
    };
    push_f(a, v);
    Ok(())
}

/// `sum_over_time(v[d])`
pub(super) fn sum_over_time(a: &mut FnArgs<'_>) -> R {
    let Some(r) = a.range else { return Ok(()) };
    if !r.floats.is_empty() && !r.histograms.is_empty() {
        a.enh
            .annos
            .add(kinds::mixed_floats_histograms(&name(r), r.pos));
        return Ok(());
    }
    if r.floats.is_empty() {
        return sum_histograms(a, r, false);
    }
    let (mut sum, mut c) = (0.0, 0.0);
    for p in r.floats {
        (sum, c) = kahan_inc(p.f, sum, c);
    }
    push_f(a, if sum.is_infinite() { sum } else { sum + c });
    Ok(())
}

/// `count_over_time(v[d])`
pub(super) fn count_over_time(a: &mut FnArgs<'_>) -> R {
    let Some(r) = a.range else { return Ok(()) };
    let n = (r.floats.len() + r.histograms.len()) as f64;
    push_f(a, n);
    Ok(())
}

/// `present_over_time(v[d])`
pub(super) fn present_over_time(a: &mut FnArgs<'_>) -> R {
    push_f(a, 1.0);
    Ok(())
}

/// `absent_over_time(v[d])`: marks presence; the engine turns it into absence.
pub(super) fn absent_over_time(a: &mut FnArgs<'_>) -> R {
    push_f(a, 1.0);
    Ok(())
}

/// Floats of the window, with the mixed-range note when histograms were ignored;
/// `None` when there are no floats.
fn floats_only<'a>(a: &mut FnArgs<'_>, r: &'a RangeArg<'a>) -> Option<&'a [FPoint]> {
    if r.floats.is_empty() {
        return None;
    }
    if !r.histograms.is_empty() {
        a.enh
            .annos
            .add(kinds::histogram_ignored_in_mixed_range(&name(r), r.pos));
    }
    Some(r.floats)
}

fn compare_over_time(a: &mut FnArgs<'_>, better: fn(f64, f64) -> bool, want_ts: bool) -> R {
    let Some(r) = a.range else { return Ok(()) };
    let Some(f) = floats_only(a, r) else {
        return Ok(());
    };
    let (mut best, mut ts) = (f[0].f, f[0].t);
    for p in f {
        if better(p.f, best) {
            best = p.f;
            ts = p.t;
        }
    }
    push_f(a, if want_ts { ts as f64 / 1000.0 } else { best });
    Ok(())
}

/// `max_over_time(v[d])`
pub(super) fn max_over_time(a: &mut FnArgs<'_>) -> R {
    compare_over_time(a, |cur, m| cur > m || m.is_nan(), false)
}

/// `min_over_time(v[d])`
pub(super) fn min_over_time(a: &mut FnArgs<'_>) -> R {
    compare_over_time(a, |cur, m| cur < m || m.is_nan(), false)
}

/// `ts_of_max_over_time(v[d])`
pub(super) fn ts_of_max_over_time(a: &mut FnArgs<'_>) -> R {
    compare_over_time(a, |cur, m| cur >= m || m.is_nan(), true)
}

/// `ts_of_min_over_time(v[d])`
pub(super) fn ts_of_min_over_time(a: &mut FnArgs<'_>) -> R {
    compare_over_time(a, |cur, m| cur <= m || m.is_nan(), true)
}

/// `last_over_time(v[d])`: keeps the metric name.
pub(super) fn last_over_time(a: &mut FnArgs<'_>) -> R {
    let Some(r) = a.range else { return Ok(()) };
    let f = r.floats.last();
    let h = r.histograms.last();
    match (f, h) {
        (Some(f), Some(h)) if h.t < f.t => a.emit_float(f.f),
        (Some(f), None) => a.emit_float(f.f),
        (_, Some(h)) => a.emit_histogram(h.h.clone()),
        (None, None) => {}
    }
    Ok(())
}

/// `first_over_time(v[d])`: keeps the metric name.
pub(super) fn first_over_time(a: &mut FnArgs<'_>) -> R {
    let Some(r) = a.range else { return Ok(()) };
    let f = r.floats.first();
    let h = r.histograms.first();
    match (f, h) {
        (Some(f), Some(h)) if f.t < h.t => a.emit_float(f.f),
        (Some(f), None) => a.emit_float(f.f),
        (_, Some(h)) => a.emit_histogram(h.h.clone()),
        (None, None) => {}
    }
    Ok(())
}

/// `ts_of_first_over_time(v[d])`
pub(super) fn ts_of_first_over_time(a: &mut FnArgs<'_>) -> R {
    let Some(r) = a.range else { return Ok(()) };
    let tf = r.floats.first().map_or(i64::MAX, |p| p.t);
    let th = r.histograms.first().map_or(i64::MAX, |p| p.t);
    a.emit_float(tf.min(th) as f64 / 1000.0);
    Ok(())
}

/// `ts_of_last_over_time(v[d])`
pub(super) fn ts_of_last_over_time(a: &mut FnArgs<'_>) -> R {
    let Some(r) = a.range else { return Ok(()) };
    let tf = r.floats.last().map_or(0, |p| p.t);
    let th = r.histograms.last().map_or(0, |p| p.t);
    a.emit_float(tf.max(th) as f64 / 1000.0);
    Ok(())
}

/// `quantile_over_time(q, v[d])`
pub(super) fn quantile_over_time(a: &mut FnArgs<'_>) -> R {
    let Some(r) = a.range else { return Ok(()) };
    let q = a.scalar(0);
    if r.floats.is_empty() {
        return Ok(());
    }
    if q.is_nan() || !(0.0..=1.0).contains(&q) {
        a.enh.annos.add(kinds::invalid_quantile(q, r.pos));
    }
    if !r.histograms.is_empty() {
        a.enh
            .annos
            .add(kinds::histogram_ignored_in_mixed_range(&name(r), r.pos));
    }
    let mut values: Vec<f64> = r.floats.iter().map(|p| p.f).collect();
    push_f(a, quantile(q, &mut values));
    Ok(())
}

fn variance(a: &mut FnArgs<'_>, sqrt: bool) -> R {
    let Some(r) = a.range else { return Ok(()) };
    let Some(f) = floats_only(a, r) else {
        return Ok(());
    };
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in f {
        count += 1.0;
        let delta = p.f - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (p.f - (mean + c_mean)), aux, c_aux);
    }
    let v = (aux + c_aux) / count;
    push_f(a, if sqrt { v.sqrt() } else { v });
    Ok(())
}

/// `stddev_over_time(v[d])`
pub(super) fn stddev_over_time(a: &mut FnArgs<'_>) -> R {
    variance(a, true)
}

/// `stdvar_over_time(v[d])`
pub(super) fn stdvar_over_time(a: &mut FnArgs<'_>) -> R {
    variance(a, false)
}

/// `mad_over_time(v[d])`: median absolute deviation.
pub(super) fn mad_over_time(a: &mut FnArgs<'_>) -> R {
    let Some(r) = a.range else { return Ok(()) };
    let Some(f) = floats_only(a, r) else {
        return Ok(());
    };
    if f.iter().any(|p| p.f.is_nan()) {
        push_f(a, f64::NAN);
        return Ok(());
    }
    let mut values: Vec<f64> = f.iter().map(|p| p.f).collect();
    let median = quantile(0.5, &mut values);
    let mut dev: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    push_f(a, quantile(0.5, &mut dev));
    Ok(())
}

/// A float or histogram sample of a window, in time order.
#[derive(Clone, Copy)]
enum Point<'a> {
    F(f64),
    H(&'a FloatHistogram),
}

/// The window's samples merged by time, from index `(ff, fh)` on.
fn merged<'a>(r: &'a RangeArg<'a>, ff: usize, fh: usize) -> Vec<(i64, i64, Point<'a>)> {
    let fst = |i: usize| r.float_sts.and_then(|s| s.get(i).copied()).unwrap_or(0);
    let hst = |i: usize| r.histogram_sts.and_then(|s| s.get(i).copied()).unwrap_or(0);
    let mut out = Vec::with_capacity(r.floats.len() + r.histograms.len());
    let (mut i, mut j) = (ff, fh);
    while i < r.floats.len() || j < r.histograms.len() {
        if j >= r.histograms.len() || (i < r.floats.len() && r.floats[i].t < r.histograms[j].t) {
            out.push((r.floats[i].t, fst(i), Point::F(r.floats[i].f)));
            i += 1;
        } else {
            out.push((r.histograms[j].t, hst(j), Point::H(&r.histograms[j].h)));
            j += 1;
        }
    }
    out
}

/// For anchored windows: start at the last sample at or before the window start.
/// `None` when no sample lies after the start.
fn first_indices(a: &FnArgs<'_>, r: &RangeArg<'_>) -> Option<(usize, usize)> {
    if !r.anchored {
        return Some((0, 0));
    }
    let start = a.enh.ts - (r.range_ms + r.offset_ms);
    let lf = r.floats.partition_point(|p| p.t <= start) as i64 - 1;
    let lh = r.histograms.partition_point(|p| p.t <= start) as i64 - 1;
    if lf + 1 >= r.floats.len() as i64 && lh + 1 >= r.histograms.len() as i64 {
        return None;
    }
    Some(if lf < 0 && lh < 0 {
        (0, 0)
    } else if lh < 0 || (lf >= 0 && r.floats[lf as usize].t >= r.histograms[lh as usize].t) {
        (lf as usize, (lh + 1) as usize)
    } else {
        ((lf + 1) as usize, lh as usize)
    })
}

/// `changes(v[d])`
pub(super) fn changes(a: &mut FnArgs<'_>) -> R {
    let Some(r) = a.range else { return Ok(()) };
    let Some((ff, fh)) = first_indices(a, r) else {
        return Ok(());
    };
    let pts = merged(r, ff, fh);
    let mut n = 0;
    for w in pts.windows(2) {
        n += match (w[0].2, w[1].2) {
            (Point::F(p), Point::F(c)) => usize::from(c != p && !(c.is_nan() && p.is_nan())),
            (Point::H(p), Point::H(c)) => usize::from(!c.equals(p)),
            _ => 1,
        };
    }
    push_f(a, n as f64);
    Ok(())
}

/// `resets(v[d])`
pub(super) fn resets(a: &mut FnArgs<'_>) -> R {
    let Some(r) = a.range else { return Ok(()) };
    let Some((ff, fh)) = first_indices(a, r) else {
        return Ok(());
    };
    let pts = merged(r, ff, fh);
    let mut n = 0;
    for w in pts.windows(2) {
        let ((pt, pst, p), (ct, cst, c)) = (w[0], w[1]);
        let st_reset = super::rate::is_st_reset(pst, pt, cst, ct);
        n += match (p, c) {
            (Point::F(p), Point::F(c)) => usize::from(c < p || st_reset),
            (Point::H(p), Point::H(c)) => usize::from(st_reset || c.detect_reset(p)),
            _ => 1,
        };
    }
    push_f(a, n as f64);
    Ok(())
}

/// Least-squares slope and intercept (at `intercept_t`) of the points.
fn linear_regression(points: &[FPoint], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init_y = points[0].f;
    let mut const_y = true;
    for (i, p) in points.iter().enumerate() {
        if const_y && i > 0 && p.f != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (p.t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(p.f, sy, cy);
        (sxy, cxy) = kahan_inc(x * p.f, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Floats for the regression functions; annotates a lone float among histograms.
fn regression_floats<'a>(a: &mut FnArgs<'_>, r: &'a RangeArg<'a>) -> Option<&'a [FPoint]> {
    if r.floats.len() < 2 {
        if r.floats.len() == 1 && !r.histograms.is_empty() {
            a.enh
                .annos
                .add(kinds::histogram_ignored_in_mixed_range(&name(r), r.pos));
        }
        return None;
    }
    if !r.histograms.is_empty() {
        a.enh
            .annos
            .add(kinds::histogram_ignored_in_mixed_range(&name(r), r.pos));
    }
    Some(r.floats)
}

/// `deriv(v[d])`
pub(super) fn deriv(a: &mut FnArgs<'_>) -> R {
    let Some(r) = a.range else { return Ok(()) };
    let Some(f) = regression_floats(a, r) else {
        return Ok(());
    };
    let (slope, _) = linear_regression(f, f[0].t);
    push_f(a, slope);
    Ok(())
}

/// `predict_linear(v[d], t)`
pub(super) fn predict_linear(a: &mut FnArgs<'_>) -> R {
    let Some(r) = a.range else { return Ok(()) };
    let duration = a.scalar(0);
    let Some(f) = regression_floats(a, r) else {
        return Ok(());
    };
    let (slope, intercept) = linear_regression(f, a.enh.ts);
    push_f(a, slope * duration + intercept);
    Ok(())
}

/// `double_exponential_smoothing(v[d], sf, tf)`
pub(super) fn double_exponential_smoothing(a: &mut FnArgs<'_>) -> R {
    let Some(r) = a.range else { return Ok(()) };
    let (sf, tf) = (a.scalar(0), a.scalar(1));
    if !(sf > 0.0 && sf < 1.0) {
        return err(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
        ));
    }
    if !(tf > 0.0 && tf < 1.0) {
        return err(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
        ));
    }
    let Some(f) = regression_floats(a, r) else {
        return Ok(());
    };
    let (mut s0, mut s1) = (0.0, f[0].f);
    let mut b = f[1].f - f[0].f;
    for (i, p) in f.iter().enumerate().skip(1) {
        let x = sf * p.f;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    push_f(a, s1);
    Ok(())
}
