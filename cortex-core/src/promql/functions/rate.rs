//! `rate`, `increase`, `delta` (extrapolated to the window boundaries, counter
//! resets corrected), `irate` and `idelta` (from the last two samples), for floats and
//! native histograms; and the anchored/smoothed variants of the first three.

use std::sync::Arc;

use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram};
use cortex_tsdb::labels::METRIC_NAME;

use super::{FnArgs, RangeArg};
use crate::promql::annotations::Annotations;
use crate::promql::annotations::kinds::{self, HistogramOp};
use crate::promql::engine::EvalError;
use crate::promql::histogram::HistogramExt;
use crate::promql::parser::PosRange;
use crate::promql::value::{FPoint, HPoint};

type R = Result<(), EvalError>;

/// `rate(v[d])`
pub(super) fn rate(a: &mut FnArgs<'_>) -> R {
    extrapolated(a, true, true)
}

/// `increase(v[d])`
pub(super) fn increase(a: &mut FnArgs<'_>) -> R {
    extrapolated(a, true, false)
}

/// `delta(v[d])`
pub(super) fn delta(a: &mut FnArgs<'_>) -> R {
    extrapolated(a, false, false)
}

/// `irate(v[d])`
pub(super) fn irate(a: &mut FnArgs<'_>) -> R {
    instant_value(a, true)
}

/// `idelta(v[d])`
pub(super) fn idelta(a: &mut FnArgs<'_>) -> R {
    instant_value(a, false)
}

fn metric_name(r: &RangeArg<'_>) -> String {
    r.metric.get(METRIC_NAME).unwrap_or("").to_string()
}

/// True when a start timestamp shows a counter reset between two samples.
pub(crate) fn is_st_reset(prev_st: i64, prev_t: i64, cur_st: i64, cur_t: i64) -> bool {
    if cur_st == 0 || cur_st >= cur_t || cur_st < prev_t {
        return false;
    }
    if cur_st > prev_t {
        return true;
    }
    if prev_st > prev_t {
        return false;
    }
    prev_st != 0 && prev_st != prev_t
}

/// True when a start timestamp overlaps the previous sample.
fn st_overlap(prev_st: i64, prev_t: i64, cur_st: i64) -> bool {
    cur_st != 0 && cur_st < prev_t && cur_st != prev_st
}

/// True when some value is below its predecessor. Branch-free, so it costs little
/// per point when, as usual, there is no counter reset.
fn has_decrease(f: &[FPoint]) -> bool {
    let mut decreased = false;
    let mut prev = f.first().map_or(f64::NAN, |p| p.f);
    for p in f {
        decreased |= p.f < prev;
        prev = p.f;
    }
    decreased
}

fn extrapolated(a: &mut FnArgs<'_>, is_counter: bool, is_rate: bool) -> R {
    let Some(r) = a.range else { return Ok(()) };
    if r.anchored || r.smoothed {
        return extended(a, r, is_counter, is_rate);
    }
    let range_start = a.enh.ts - (r.range_ms + r.offset_ms);
    let range_end = a.enh.ts - r.offset_ms;
    let annos = &mut a.enh.annos;
    if !r.histograms.is_empty() && !r.floats.is_empty() {
        annos.add(kinds::mixed_floats_histograms(&metric_name(r), r.pos));
        return Ok(());
    }
    let mut result_f = 0.0;
    let mut result_h: Option<FloatHistogram> = None;
    let (first_t, last_t, n_minus_one);
    let mut sts: &[i64] = &[];
    if !r.histograms.is_empty() {
        n_minus_one = r.histograms.len() - 1;
        first_t = r.histograms[0].t;
        last_t = r.histograms[n_minus_one].t;
        if let Some(s) = r.histogram_sts {
            sts = s;
        }
        if r.histograms.len() > 1 {
            match histogram_rate(r.histograms, sts, is_counter, r, annos) {
                Some(h) => result_h = Some(h),
                None => return Ok(()),
            }
        }
    } else if !r.floats.is_empty() {
        let f = r.floats;
        n_minus_one = f.len() - 1;
        first_t = f[0].t;
        last_t = f[n_minus_one].t;
        result_f = f[n_minus_one].f - f[0].f;
        if is_counter {
            if let Some(s) = r.float_sts {
                sts = s;
            }
            // Without start timestamps only decreasing values mark resets. Resets are
            // rare: a cheap scan finds whether there is any before summing them in
            // order.
            if sts.is_empty() && has_decrease(f) {
                let mut prev = f[0].f;
                for p in &f[1..] {
                    if p.f < prev {
                        result_f += prev;
                    }
                    prev = p.f;
                }
            }
            let mut overlap = false;
            for i in 1..if sts.is_empty() { 0 } else { f.len() } {
                let (prev, cur) = (f[i - 1], f[i]);
                if !overlap && i < sts.len() && st_overlap(sts[i - 1], prev.t, sts[i]) {
                    annos.add(kinds::start_time_overlap(&metric_name(r), r.pos));
                    overlap = true;
                }
                if cur.f < prev.f
                    || (i < sts.len() && is_st_reset(sts[i - 1], prev.t, sts[i], cur.t))
                {
                    result_f += prev.f;
                }
            }
        }
    } else {
        return Ok(());
    }
    let mut duration_to_start = (first_t - range_start) as f64 / 1000.0;
    let mut duration_to_end = (range_end - last_t) as f64 / 1000.0;
    let mut sampled = (last_t - first_t) as f64 / 1000.0;
    let avg = if n_minus_one > 0 {
        sampled / n_minus_one as f64
    } else {
        0.0
    };
    let threshold = avg * 1.1;
    if is_counter && !sts.is_empty() && sts[0] != 0 && sts[0] > range_start && sts[0] < first_t {
        duration_to_start = 0.0;
        sampled = (last_t - sts[0]) as f64 / 1000.0;
        if let Some(f) = r.floats.first() {
            result_f += f.f;
        } else if let Some(h0) = r.histograms.first() {
            match &mut result_h {
                None => result_h = Some((*h0.h).clone()),
                Some(h) => {
                    if !add_with_annos(h, &h0.h, annos, r) {
                        return Ok(());
                    }
                }
            }
        }
    } else if n_minus_one == 0 {
        return Ok(());
    } else {
        if duration_to_start >= threshold {
            duration_to_start = avg / 2.0;
        }
        if is_counter {
            let mut to_zero = duration_to_start;
            if result_f > 0.0 && !r.floats.is_empty() && r.floats[0].f >= 0.0 {
                to_zero = sampled * (r.floats[0].f / result_f);
            } else if let Some(h) = &result_h
                && h.count > 0.0
                && !r.histograms.is_empty()
                && r.histograms[0].h.count >= 0.0
            {
                to_zero = sampled * (r.histograms[0].h.count / h.count);
            }
            if to_zero < duration_to_start {
                duration_to_start = to_zero;
            }
        }
    }
    if duration_to_end >= threshold {
        duration_to_end = avg / 2.0;
    }
    let mut factor = if sampled != 0.0 {
        (sampled + duration_to_start + duration_to_end) / sampled
    } else {
        1.0
    };
    if is_rate {
        factor /= r.range_ms as f64 / 1000.0;
    }
    match result_h {
        None => a.emit_float(result_f * factor),
        Some(mut h) => {
            h.mul(factor);
            a.emit_histogram(Arc::new(h));
        }
    }
    Ok(())
}

fn add_with_annos(
    h: &mut FloatHistogram,
    o: &FloatHistogram,
    annos: &mut Annotations,
    r: &RangeArg<'_>,
) -> bool {
    match h.add(o) {
        Err(_) => {
            annos.add(kinds::mixed_exponential_custom(&metric_name(r), r.pos));
            false
        }
        Ok(c) => {
            if c.nhcb_bounds_reconciled {
                annos.add(kinds::mismatched_custom_buckets(r.pos, HistogramOp::Add));
            }
            true
        }
    }
}

/// The increase of a histogram counter over `points` (at least two), or `None` when
/// the histograms cannot be combined (annotated).
fn histogram_rate(
    points: &[HPoint],
    sts: &[i64],
    is_counter: bool,
    r: &RangeArg<'_>,
    annos: &mut Annotations,
) -> Option<FloatHistogram> {
    let name = metric_name(r);
    let mut prev: FloatHistogram = (*points[0].h).clone();
    let mut custom = prev.uses_custom_buckets();
    let last = &points[points.len() - 1].h;
    if is_counter
        && (prev.counter_reset_hint == CounterResetHint::Gauge
            || last.counter_reset_hint == CounterResetHint::Gauge)
    {
        annos.add(kinds::native_histogram_not_counter(&name, r.pos));
    }
    if is_counter {
        let second = &points[1].h;
        let st_reset = sts.len() > 1 && is_st_reset(sts[0], points[0].t, sts[1], points[1].t);
        if st_reset || second.detect_reset(&prev) {
            prev = FloatHistogram {
                schema: second.schema,
                custom_values: second.custom_values.clone(),
                ..Default::default()
            };
            custom = second.uses_custom_buckets();
        }
    }
    if last.uses_custom_buckets() != custom {
        annos.add(kinds::mixed_exponential_custom(&name, r.pos));
        return None;
    }
    let mut min_schema = last.schema.min(prev.schema);
    for p in &points[1..points.len() - 1] {
        if !is_counter {
            continue;
        }
        if p.h.counter_reset_hint == CounterResetHint::Gauge {
            annos.add(kinds::native_histogram_not_counter(&name, r.pos));
        }
        min_schema = min_schema.min(p.h.schema);
        if p.h.uses_custom_buckets() != custom {
            annos.add(kinds::mixed_exponential_custom(&name, r.pos));
            return None;
        }
    }
    let mut h = last.copy_to_schema(min_schema);
    match h.sub(&prev) {
        Err(_) => {
            annos.add(kinds::mixed_exponential_custom(&name, r.pos));
            return None;
        }
        Ok(c) => {
            if c.nhcb_bounds_reconciled {
                annos.add(kinds::mismatched_custom_buckets(r.pos, HistogramOp::Sub));
            }
        }
    }
    if is_counter {
        let mut overlap = false;
        let mut prev_ref: &FloatHistogram = &prev;
        for i in 1..points.len() {
            let cur = &points[i].h;
            if !overlap && i < sts.len() && st_overlap(sts[i - 1], points[i - 1].t, sts[i]) {
                annos.add(kinds::start_time_overlap(&name, r.pos));
                overlap = true;
            }
            let st_reset =
                i < sts.len() && is_st_reset(sts[i - 1], points[i - 1].t, sts[i], points[i].t);
            if st_reset || cur.detect_reset(prev_ref) {
                match h.add(prev_ref) {
                    Err(_) => {
                        annos.add(kinds::mixed_exponential_custom(&name, r.pos));
                        return None;
                    }
                    Ok(c) => {
                        if c.nhcb_bounds_reconciled {
                            annos.add(kinds::mismatched_custom_buckets(r.pos, HistogramOp::Add));
                        }
                    }
                }
            }
            prev_ref = cur;
        }
    } else if points[0].h.counter_reset_hint != CounterResetHint::Gauge
        || last.counter_reset_hint != CounterResetHint::Gauge
    {
        annos.add(kinds::native_histogram_not_gauge(&name, r.pos));
    }
    h.counter_reset_hint = CounterResetHint::Gauge;
    h.compact();
    Some(h)
}

/// `irate`/`idelta`: from the last two samples in the window.
fn instant_value(a: &mut FnArgs<'_>, is_rate: bool) -> R {
    let Some(r) = a.range else { return Ok(()) };
    if r.floats.len() + r.histograms.len() < 2 {
        return Ok(());
    }
    // The last two samples of either kind, oldest first: (t, st, float, histogram).
    type S = (i64, i64, f64, Option<Arc<FloatHistogram>>);
    let mut ss: Vec<S> = Vec::with_capacity(4);
    let fst = |i: usize| r.float_sts.and_then(|s| s.get(i).copied()).unwrap_or(0);
    let hst = |i: usize| r.histogram_sts.and_then(|s| s.get(i).copied()).unwrap_or(0);
    for i in r.floats.len().saturating_sub(2)..r.floats.len() {
        ss.push((r.floats[i].t, fst(i), r.floats[i].f, None));
    }
    for i in r.histograms.len().saturating_sub(2)..r.histograms.len() {
        let s: S = (
            r.histograms[i].t,
            hst(i),
            0.0,
            Some(r.histograms[i].h.clone()),
        );
        match ss.len() {
            0 => ss.push(s),
            1 => {
                if s.0 < ss[0].0 {
                    ss.insert(0, s);
                } else {
                    ss.push(s);
                }
            }
            _ => {
                if s.0 < ss[0].0 {
                } else if s.0 > ss[1].0 {
                    ss[0] = ss[1].clone();
                    ss[1] = s;
                } else {
                    ss[0] = s;
                }
            }
        }
    }
    let (s0, s1) = (&ss[0], &ss[1]);
    let interval = s1.0 - s0.0;
    if interval == 0 {
        return Ok(());
    }
    let name = metric_name(r);
    let pos = PosRange::new(
        a.args[0].pos().start,
        a.args.last().map_or(0, |x| x.pos().end),
    );
    let mut out_f = s1.2;
    let mut out_h: Option<FloatHistogram> = None;
    match (&s0.3, &s1.3) {
        (None, None) => {
            if !is_rate || !(s1.2 < s0.2 || is_st_reset(s0.1, s0.0, s1.1, s1.0)) {
                out_f = s1.2 - s0.2;
            }
        }
        (Some(h0), Some(h1)) => {
            let mut h = (**h1).clone();
            if is_rate
                && (h1.counter_reset_hint == CounterResetHint::Gauge
                    || h0.counter_reset_hint == CounterResetHint::Gauge)
            {
                a.enh
                    .annos
                    .add(kinds::native_histogram_not_counter(&name, pos));
            }
            if !is_rate
                && (h1.counter_reset_hint != CounterResetHint::Gauge
                    || h0.counter_reset_hint != CounterResetHint::Gauge)
            {
                a.enh
                    .annos
                    .add(kinds::native_histogram_not_gauge(&name, pos));
            }
            if !is_rate || (!is_st_reset(s0.1, s0.0, s1.1, s1.0) && !h1.detect_reset(h0)) {
                match h.sub(h0) {
                    Err(_) => {
                        a.enh.annos.add(kinds::mixed_exponential_custom(&name, pos));
                        return Ok(());
                    }
                    Ok(c) => {
                        if c.nhcb_bounds_reconciled {
                            a.enh
                                .annos
                                .add(kinds::mismatched_custom_buckets(pos, HistogramOp::Sub));
                        }
                    }
                }
            }
            h.counter_reset_hint = CounterResetHint::Gauge;
            h.compact();
            out_h = Some(h);
        }
        _ => {
            a.enh.annos.add(kinds::mixed_floats_histograms(&name, pos));
            return Ok(());
        }
    }
    if is_rate {
        let secs = interval as f64 / 1000.0;
        match &mut out_h {
            None => out_f /= secs,
            Some(h) => {
                h.div(secs);
            }
        }
    }
    match out_h {
        None => a.emit_float(out_f),
        Some(h) => a.emit_histogram(Arc::new(h)),
    }
    Ok(())
}

/// The value at the window's start: the first sample, or (smoothed) the value
/// interpolated between the samples around the start.
pub(crate) fn pick_left(
    f: &[FPoint],
    first: usize,
    start: i64,
    smoothed: bool,
    counter: bool,
) -> f64 {
    if smoothed && f[first].t < start && first + 1 < f.len() {
        return interpolate(f[first], f[first + 1], start, counter);
    }
    f[first].f
}

/// The value at the window's end: the last sample, or (smoothed) the value
/// interpolated between the samples around the end.
pub(crate) fn pick_right(
    f: &[FPoint],
    last: usize,
    end: i64,
    smoothed: bool,
    counter: bool,
) -> f64 {
    if smoothed && last > 0 && f[last].t > end {
        return interpolate(f[last - 1], f[last], end, counter);
    }
    f[last].f
}

fn interpolate(p1: FPoint, p2: FPoint, t: i64, counter: bool) -> f64 {
    let mut y1 = p1.f;
    let y2 = p2.f;
    if counter && y2 < y1 {
        y1 = 0.0;
    }
    y1 + (y2 - y1) * (t - p1.t) as f64 / (p2.t - p1.t) as f64
}

/// Counter-reset correction between `left`, the inner points and `right`.
fn reset_correction(left: f64, right: f64, points: &[FPoint]) -> f64 {
    let mut c = 0.0;
    let mut prev = left;
    for p in points {
        if p.f < prev {
            c += prev;
        }
        prev = p.f;
    }
    if right < prev {
        c += prev;
    }
    c
}

/// Anchored/smoothed `rate`, `increase` and `delta`: no extrapolation; the window's
/// boundary values come from the samples at or around the boundaries.
fn extended(a: &mut FnArgs<'_>, r: &RangeArg<'_>, is_counter: bool, is_rate: bool) -> R {
    if !r.histograms.is_empty() && !r.floats.is_empty() {
        a.enh
            .annos
            .add(kinds::mixed_floats_histograms(&metric_name(r), r.pos));
        return Ok(());
    }
    if !r.histograms.is_empty() {
        return super::histogram::extended_histogram_rate(a, r, is_counter, is_rate);
    }
    let f = r.floats;
    if f.is_empty() {
        return Ok(());
    }
    let range_start = a.enh.ts - (r.range_ms + r.offset_ms);
    let range_end = a.enh.ts - r.offset_ms;
    let mut last = f.len() - 1;
    let mut first = f[..last]
        .partition_point(|p| p.t <= range_start)
        .saturating_sub(1);
    if r.smoothed {
        last = f[..last].partition_point(|p| p.t < range_end);
    }
    if f[last].t <= range_start || (r.smoothed && f[first].t > range_end) {
        return Ok(());
    }
    let left = pick_left(f, first, range_start, r.smoothed, is_counter);
    let right = pick_right(f, last, range_end, r.smoothed, is_counter);
    let mut result = right - left;
    if is_counter {
        if f[first].t <= range_start {
            first += 1;
        }
        let mut hi = last as i64;
        if f[last].t >= range_end {
            hi -= 1;
        }
        let inner = if hi >= first as i64 {
            &f[first..=hi as usize]
        } else {
            &[][..]
        };
        result += reset_correction(left, right, inner);
    }
    if is_rate {
        result /= r.range_ms as f64 / 1000.0;
    }
    a.emit_float(result);
    Ok(())
}
