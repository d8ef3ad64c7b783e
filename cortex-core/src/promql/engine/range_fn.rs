//! Functions over range vectors (`rate(x[5m])`, `max_over_time(q[1h:1m])`):
//! evaluated series at a time, sliding each series' window across the steps and
//! reusing the points the windows share.

use cortex_tsdb::labels::METRIC_NAME;

use super::cursor::{Window, WindowCursor};
use super::evaluator::{EvalError, Evaluator, NodeHelper, Val, err};
use super::subquery::MatrixSeries;
use crate::promql::annotations::kinds;
use crate::promql::functions::{FnArgs, RangeArg, function_impl};
use crate::promql::histogram::HistogramExt;
use crate::promql::parser::{Call, Expr, VectorSelector};
use crate::promql::value::{FPoint, Matrix, Sample, Series, Vector, no_labels};
use crate::querier::{SampleValue, Series as StorageSeries};

/// Functions that accept an `anchored` range.
const ANCHORED_SAFE: &[&str] = &["changes", "delta", "increase", "rate", "resets"];
/// Functions that accept a `smoothed` range.
const SMOOTHED_SAFE: &[&str] = &["delta", "increase", "rate"];

impl Evaluator<'_> {
    /// Evaluates a call whose argument `idx` is a matrix selector or subquery.
    pub(crate) fn eval_range_call(&mut self, c: &Call, idx: usize) -> Result<Val, EvalError> {
        let mut mat: Matrix = Vec::new();
        self.range_call_each(c, idx, true, &mut |s| {
            mat.push(s);
            Ok(())
        })?;
        if c.func.name == "absent_over_time" {
            return Ok(Val::Matrix(self.absent_over_time(mat, &c.args[0], true)));
        }
        Ok(Val::Matrix(mat))
    }

    /// Evaluates a range-vector function series by series, handing each non-empty
    /// output series to `sink` in input order. With `hold`, the output counts
    /// towards the sample limit (the caller keeps it).
    pub(crate) fn range_call_each(
        &mut self,
        c: &Call,
        idx: usize,
        hold: bool,
        sink: &mut dyn FnMut(Series) -> Result<(), EvalError>,
    ) -> Result<(), EvalError> {
        let name = c.func.name;
        let Some(call) = function_impl(name) else {
            return err(format!("function {name:?} is not implemented"));
        };
        // The range argument: selector parameters and its series.
        type Source = (std::sync::Arc<dyn StorageSeries>, bool);
        let (vs_params, series): (VectorSelector, Vec<Source>) = match &c.args[idx] {
            Expr::MatrixSelector(ms) => {
                let list = self.ctx.series_for(&ms.vs)?;
                (
                    ms.vs.clone(),
                    list.iter().map(|s| (s.clone(), false)).collect(),
                )
            }
            Expr::Subquery(sq) => {
                let mat = self.eval_subquery_matrix(sq)?;
                let vs = VectorSelector {
                    name: String::new(),
                    matchers: Vec::new(),
                    offset_ms: sq.offset_ms,
                    offset_expr: None,
                    timestamp: sq.timestamp,
                    start_or_end: None,
                    anchored: false,
                    smoothed: false,
                    bypass_empty_matcher_check: false,
                    pos: Default::default(),
                };
                let series = mat
                    .into_iter()
                    .map(|s| {
                        let drop = s.drop_name;
                        (
                            std::sync::Arc::new(MatrixSeries::new(s))
                                as std::sync::Arc<dyn StorageSeries>,
                            drop,
                        )
                    })
                    .collect();
                (vs, series)
            }
            _ => return err("expected a range vector argument"),
        };
        let range_ms = match &c.args[idx] {
            Expr::MatrixSelector(ms) => ms.range_ms,
            Expr::Subquery(sq) => sq.range_ms,
            _ => 0,
        };
        if vs_params.anchored && !ANCHORED_SAFE.contains(&name) {
            return err(format!(
                "anchored modifier can only be used with: {} - not with {name}",
                ANCHORED_SAFE.join(", ")
            ));
        }
        if vs_params.smoothed && !SMOOTHED_SAFE.contains(&name) {
            return err(format!(
                "smoothed modifier can only be used with: {} - not with {name}",
                SMOOTHED_SAFE.join(", ")
            ));
        }
        // Scalar arguments, evaluated over all steps.
        let mut scalars: Vec<Option<Matrix>> = Vec::with_capacity(c.args.len());
        for (i, a) in c.args.iter().enumerate() {
            if i == idx {
                scalars.push(None);
            } else {
                scalars.push(Some(self.eval_matrix(a)?));
            }
        }
        let with_sts = matches!(name, "rate" | "irate" | "increase" | "resets");
        let drop_name = !matches!(name, "last_over_time" | "first_over_time");
        let arg_pos = c.args[idx].pos();
        // With `@`, Prometheus folds the pinned time into the offset relative to the
        // first step; functions see the window boundaries through that offset.
        let effective_offset = match vs_params.timestamp {
            Some(at) => vs_params.offset_ms + (self.start - at),
            None => vs_params.offset_ms,
        };
        let steps = self.num_steps();
        let mut w = Window::default();
        let mut vals: Vec<Vector> = vec![Vec::with_capacity(1); c.args.len().saturating_sub(1)];
        let mut enh = NodeHelper::default();
        for (s, input_drop) in &series {
            self.ctx.check_done()?;
            self.current_samples -= w.samples().min(self.current_samples);
            w.clear();
            let mut cursor = WindowCursor::new(s.samples());
            let metric = s.labels().clone();
            let mut out = Series::new(metric.clone());
            out.drop_name = drop_name || *input_drop;
            let mut ts = self.start;
            let mut step = 0usize;
            while ts <= self.end {
                let mut k = 0;
                for (j, m) in scalars.iter().enumerate() {
                    if j == idx {
                        continue;
                    }
                    vals[k].clear();
                    let v = m
                        .as_ref()
                        .and_then(|m| m.first())
                        .and_then(|s| s.floats.get(step))
                        .map_or(f64::NAN, |p| p.f);
                    vals[k].push(Sample::float(no_labels(), v));
                    k += 1;
                }
                if ts == self.start || vs_params.timestamp.is_none() {
                    let maxt = Self::ref_time(&vs_params, ts);
                    let (wmin, wmax) = self.extended_window(&vs_params, maxt - range_ms, maxt);
                    let (dropped, added) = cursor.advance(&mut w, wmin, wmax, with_sts)?;
                    self.current_samples = self.current_samples.saturating_sub(dropped) + added;
                    self.check_samples()?;
                }
                if !w.is_empty() {
                    let arg = RangeArg {
                        metric: &metric,
                        floats: w.floats(),
                        histograms: w.histograms(),
                        float_sts: if w.has_sts() {
                            Some(w.float_sts())
                        } else {
                            None
                        },
                        histogram_sts: if w.has_sts() {
                            Some(w.histogram_sts())
                        } else {
                            None
                        },
                        range_ms,
                        offset_ms: effective_offset,
                        anchored: vs_params.anchored,
                        smoothed: vs_params.smoothed,
                        pos: arg_pos,
                    };
                    enh.ts = ts;
                    enh.range_out = None;
                    let mut fa = FnArgs {
                        vals: &vals,
                        range: Some(&arg),
                        args: &c.args,
                        enh: &mut enh,
                    };
                    call(&mut fa)?;
                    match enh.range_out.take() {
                        None => {}
                        Some(SampleValue::Float(f)) => {
                            if out.floats.is_empty() {
                                out.floats.reserve(steps - step);
                            }
                            out.floats.push(FPoint { t: ts, f });
                        }
                        Some(SampleValue::Histogram(h)) => out
                            .histograms
                            .push(crate::promql::value::HPoint { t: ts, h }),
                    }
                }
                ts += self.interval;
                step += 1;
            }
            let n = out.floats.len()
                + out
                    .histograms
                    .iter()
                    .map(|p| (p.h.size() + 8) / 16)
                    .sum::<usize>();
            if n > 0 && hold {
                if self.current_samples + n > self.ctx.max_samples {
                    return Err(EvalError::TooManySamples);
                }
                self.current_samples += n;
            }
            if matches!(name, "rate" | "increase") && !out.floats.is_empty() {
                let mname = metric.get(METRIC_NAME).unwrap_or("");
                if !mname.is_empty()
                    && !["_total", "_sum", "_count", "_bucket"]
                        .iter()
                        .any(|sfx| mname.ends_with(sfx))
                {
                    self.ctx
                        .annotate(kinds::possible_non_counter(mname, c.args[0].pos()));
                }
            }
            if !out.is_empty() {
                sink(out)?;
            }
        }
        self.current_samples -= w.samples().min(self.current_samples);
        self.ctx.annotate_all(std::mem::take(&mut enh.annos));
        Ok(())
    }

    /// Turns the per-series presence of `absent_over_time` into one series that is 1
    /// at the steps where no series had a sample.
    fn absent_over_time(&self, mat: Matrix, arg: &Expr, drop_name: bool) -> Matrix {
        let steps = self.num_steps();
        if mat.iter().any(|s| s.len() == steps) {
            return Vec::new();
        }
        let mut found = std::collections::HashSet::new();
        for s in &mat {
            found.extend(s.floats.iter().map(|p| p.t));
            found.extend(s.histograms.iter().map(|p| p.t));
        }
        if found.len() == steps {
            return Vec::new();
        }
        let mut out = Series::new(crate::promql::functions::labels::absent_labels(arg));
        out.drop_name = drop_name;
        let mut ts = self.start;
        while ts <= self.end {
            if !found.contains(&ts) {
                out.floats.push(FPoint { t: ts, f: 1.0 });
            }
            ts += self.interval;
        }
        vec![out]
    }
}

/// The points of an anchored or smoothed window: the samples inside `(mint, maxt)`
/// plus a point at each boundary, taken from the nearest sample outside (anchored) or
/// interpolated between the samples around it (smoothed).
pub(crate) fn extend_floats(
    floats: &[FPoint],
    mint: i64,
    maxt: i64,
    smoothed: bool,
) -> Vec<FPoint> {
    if floats.is_empty() {
        return Vec::new();
    }
    let mut last = floats.len() - 1;
    let first = floats[..last]
        .partition_point(|p| p.t <= mint)
        .saturating_sub(1);
    if smoothed {
        last = floats[..last].partition_point(|p| p.t < maxt);
    }
    if floats[last].t <= mint {
        return Vec::new();
    }
    let left = crate::promql::functions::rate::pick_left(floats, first, mint, smoothed, false);
    let right = crate::promql::functions::rate::pick_right(floats, last, maxt, smoothed, false);
    let mut lo = first;
    if floats[lo].t <= mint {
        lo += 1;
    }
    let mut hi = last as i64;
    if floats[last].t >= maxt {
        hi -= 1;
    }
    let mut out = Vec::with_capacity(floats.len() + 2);
    out.push(FPoint { t: mint, f: left });
    if hi >= lo as i64 {
        out.extend_from_slice(&floats[lo..=hi as usize]);
    }
    out.push(FPoint { t: maxt, f: right });
    out
}
