//! Evaluation of selectors: instant vector selectors (the latest sample within the
//! lookback window at every step, staleness respected) and range vector selectors
//! in instant queries (all samples in the left-open window).

use super::cursor::{LookbackCursor, Window, WindowCursor};
use super::evaluator::{EvalError, Evaluator, err};
use crate::promql::parser::{MatrixSelector, VectorSelector};
use crate::promql::value::{FPoint, HPoint, Matrix, Series};
use crate::querier::SampleValue;

impl Evaluator<'_> {
    /// The time a selector reads at evaluation time `ts`.
    pub(crate) fn ref_time(vs: &VectorSelector, ts: i64) -> i64 {
        vs.timestamp.unwrap_or(ts) - vs.offset_ms
    }

    /// An instant vector selector at every step.
    pub(crate) fn eval_vector_selector(
        &mut self,
        vs: &VectorSelector,
    ) -> Result<Matrix, EvalError> {
        let series = self.ctx.series_for(vs)?;
        if vs.smoothed {
            return self.smoothed_series(vs, &series);
        }
        self.eval_series(&series, vs.offset_ms, vs.timestamp, false)
    }

    /// The latest sample (within the lookback) of each series at every step, read at
    /// `at` (or the step time) minus `offset`. With `record_t`, the value is the
    /// sample's timestamp instead of its value.
    pub(crate) fn eval_series(
        &mut self,
        series: &[std::sync::Arc<dyn crate::querier::Series>],
        offset: i64,
        at: Option<i64>,
        record_t: bool,
    ) -> Result<Matrix, EvalError> {
        let mut mat = Vec::with_capacity(series.len());
        self.series_each(series, offset, at, record_t, true, &mut |s| {
            mat.push(s);
            Ok(())
        })?;
        Ok(mat)
    }

    /// [`Evaluator::eval_series`] one series at a time: each non-empty output series
    /// goes to `sink` in input order. With `hold`, the output counts towards the
    /// sample limit (the caller keeps it).
    pub(crate) fn series_each(
        &mut self,
        series: &[std::sync::Arc<dyn crate::querier::Series>],
        offset: i64,
        at: Option<i64>,
        record_t: bool,
        hold: bool,
        sink: &mut dyn FnMut(Series) -> Result<(), EvalError>,
    ) -> Result<(), EvalError> {
        let steps = self.num_steps();
        for s in series.iter() {
            self.ctx.check_done()?;
            let mut cur = LookbackCursor::new(s.samples(), self.lookback)?;
            let mut out = Series::new(s.labels().clone());
            let mut ts = self.start;
            while ts <= self.end {
                if let Some(sample) = cur.at(at.unwrap_or(ts) - offset, self.lookback)? {
                    let value = match sample.value {
                        SampleValue::Float(_) if record_t => SampleValue::Float(sample.t as f64),
                        SampleValue::Histogram(_) if record_t => {
                            return err(format!(
                                "this should be an info metric, with float samples: {}",
                                out.metric
                            ));
                        }
                        v => v,
                    };
                    match value {
                        SampleValue::Float(f) => {
                            if out.floats.is_empty() {
                                out.floats.reserve(steps);
                            }
                            out.floats.push(FPoint { t: ts, f });
                            if hold {
                                self.current_samples += 1;
                            }
                        }
                        SampleValue::Histogram(h) => {
                            let p = HPoint { t: ts, h };
                            if hold {
                                self.current_samples += p.size();
                            }
                            out.histograms.push(p);
                        }
                    }
                    self.check_samples()?;
                }
                ts += self.interval;
            }
            if !out.is_empty() {
                sink(out)?;
            }
        }
        Ok(())
    }

    /// A range selector evaluated once (instant queries): every sample in
    /// `(t - range, t]`.
    pub(crate) fn eval_matrix_selector(
        &mut self,
        ms: &MatrixSelector,
    ) -> Result<Matrix, EvalError> {
        let vs = &ms.vs;
        let series = self.ctx.series_for(vs)?;
        let maxt = Self::ref_time(vs, self.start);
        let mint = maxt - ms.range_ms;
        let (wmin, wmax) = self.extended_window(vs, mint, maxt);
        let mut mat = Vec::with_capacity(series.len());
        for s in series.iter() {
            self.ctx.check_done()?;
            let mut w = Window::default();
            let mut cur = WindowCursor::new(s.samples());
            let (_, added) = cur.advance(&mut w, wmin, wmax, false)?;
            self.current_samples += added;
            self.check_samples()?;
            let mut out = Series::new(s.labels().clone());
            if vs.anchored || vs.smoothed {
                if !w.histograms().is_empty() {
                    let which = if vs.anchored { "anchored" } else { "smoothed" };
                    return err(format!("{which} modifier is not supported with histograms"));
                }
                out.floats = super::range_fn::extend_floats(w.floats(), mint, maxt, vs.smoothed);
            } else {
                (out.floats, out.histograms) = w.take();
            }
            if !out.is_empty() {
                mat.push(out);
            }
        }
        Ok(mat)
    }

    /// A smoothed instant selector: at each step the value interpolated between the
    /// samples around the step time (within the lookback on both sides).
    fn smoothed_series(
        &mut self,
        vs: &VectorSelector,
        series: &super::context::SeriesList,
    ) -> Result<Matrix, EvalError> {
        use crate::promql::annotations::kinds;
        use crate::promql::functions::histogram::interpolate_histograms;
        let mut mat = Vec::with_capacity(series.len());
        let pos = vs.pos;
        for s in series.iter() {
            self.ctx.check_done()?;
            let name = s
                .labels()
                .get(cortex_tsdb::labels::METRIC_NAME)
                .unwrap_or("")
                .to_string();
            let mut out = Series::new(s.labels().clone());
            let mut w = Window::default();
            let mut cur = WindowCursor::new(s.samples());
            let mut annos = crate::promql::annotations::Annotations::new();
            let mut ts = self.start;
            while ts <= self.end {
                let data_t = Self::ref_time(vs, ts);
                cur.advance(
                    &mut w,
                    data_t - self.lookback,
                    data_t + self.lookback,
                    false,
                )?;
                ts += self.interval;
                let ts = ts - self.interval;
                if w.is_empty() {
                    continue;
                }
                if !w.floats().is_empty() && !w.histograms().is_empty() {
                    annos.add(kinds::mixed_floats_histograms(&name, pos));
                    continue;
                }
                if !w.histograms().is_empty() {
                    let h = w.histograms();
                    let i = h.partition_point(|p| p.t < data_t);
                    if i < h.len() && h[i].t == data_t {
                        out.histograms.push(HPoint {
                            t: ts,
                            h: h[i].h.clone(),
                        });
                    } else if i > 0 && i < h.len() {
                        let (prev, next) = (&h[i - 1], &h[i]);
                        if prev.h.uses_custom_buckets() != next.h.uses_custom_buckets() {
                            annos.add(kinds::mixed_exponential_custom(&name, pos));
                            continue;
                        }
                        let counter = prev.h.counter_reset_hint
                            != cortex_tsdb::histogram::CounterResetHint::Gauge
                            || next.h.counter_reset_hint
                                != cortex_tsdb::histogram::CounterResetHint::Gauge;
                        if let Some(v) = interpolate_histograms(
                            prev, next, data_t, counter, &mut annos, &name, pos,
                        ) {
                            out.histograms.push(HPoint {
                                t: ts,
                                h: std::sync::Arc::new(v),
                            });
                        }
                    } else if i > 0 {
                        let mut v = (*h[i - 1].h).clone();
                        v.counter_reset_hint = cortex_tsdb::histogram::CounterResetHint::Unknown;
                        out.histograms.push(HPoint {
                            t: ts,
                            h: std::sync::Arc::new(v),
                        });
                    }
                } else {
                    let f = w.floats();
                    let i = f.partition_point(|p| p.t < data_t);
                    if i < f.len() && f[i].t == data_t {
                        out.floats.push(FPoint { t: ts, f: f[i].f });
                    } else if i > 0 && i < f.len() {
                        let (p, n) = (f[i - 1], f[i]);
                        let v = p.f + (n.f - p.f) * (data_t - p.t) as f64 / (n.t - p.t) as f64;
                        out.floats.push(FPoint { t: ts, f: v });
                    } else if i > 0 {
                        out.floats.push(FPoint {
                            t: ts,
                            f: f[i - 1].f,
                        });
                    }
                }
            }
            self.ctx.annotate_all(annos);
            if !out.is_empty() {
                mat.push(out);
            }
        }
        Ok(mat)
    }

    /// The window actually read for `(mint, maxt]`: anchored selectors also read the
    /// lookback before it, smoothed ones the lookback on both sides.
    pub(crate) fn extended_window(&self, vs: &VectorSelector, mint: i64, maxt: i64) -> (i64, i64) {
        if vs.anchored {
            (mint - self.lookback, maxt)
        } else if vs.smoothed {
            (mint - self.lookback, maxt + self.lookback)
        } else {
            (mint, maxt)
        }
    }
}
