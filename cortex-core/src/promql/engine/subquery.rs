//! Subqueries: `expr[range:step]` evaluates `expr` in a child evaluator on its own
//! step grid (aligned to multiples of the step), yielding a range vector.

use std::sync::Arc;

use cortex_tsdb::histogram::CounterResetHint;
use cortex_tsdb::labels::Labels;

use super::evaluator::{EvalError, Evaluator, Val, err};
use crate::promql::parser::SubqueryExpr;
use crate::promql::value::{Matrix, Series};
use crate::querier::{QuerierError, Sample, SampleIterator, SampleValue, Series as StorageSeries};

impl Evaluator<'_> {
    /// The child evaluator's `(start, end, interval)` for subquery `sq`.
    fn subquery_range(&self, sq: &SubqueryExpr) -> (i64, i64, i64) {
        let off = sq.offset_ms;
        let (base_start, base_end) = match sq.timestamp {
            Some(at) => (at, at),
            None => {
                let end = if self.interval > 0 {
                    self.start + ((self.end - self.start) / self.interval) * self.interval
                } else {
                    self.end
                };
                (self.start, end)
            }
        };
        let interval = if sq.step_ms != 0 {
            sq.step_ms
        } else {
            self.no_step_interval
        }
        .max(1);
        let end = base_end - off;
        let lowest = base_start - off - sq.range_ms;
        let mut start = interval * (lowest / interval);
        if start <= lowest {
            start += interval;
        }
        (start, end, interval)
    }

    fn run_subquery(&mut self, sq: &SubqueryExpr) -> Result<Matrix, EvalError> {
        let (start, end, interval) = self.subquery_range(sq);
        let mut child = self.child(start, end, interval);
        let v = child.eval(&sq.expr)?;
        self.current_samples = child.current_samples;
        match v {
            Val::Matrix(m) => Ok(m),
            Val::String(_) => err("subquery over a string"),
        }
    }

    /// A subquery as a function argument: its series, with histogram counter-reset
    /// hints made unknown (a subquery may skip or repeat the samples that carried
    /// them).
    pub(crate) fn eval_subquery_matrix(&mut self, sq: &SubqueryExpr) -> Result<Matrix, EvalError> {
        let mut m = self.run_subquery(sq)?;
        for s in &mut m {
            for p in &mut s.histograms {
                if matches!(
                    p.h.counter_reset_hint,
                    CounterResetHint::CounterReset | CounterResetHint::NotCounterReset
                ) {
                    let mut h = (*p.h).clone();
                    h.counter_reset_hint = CounterResetHint::Unknown;
                    p.h = Arc::new(h);
                }
            }
        }
        Ok(m)
    }

    /// A subquery as the (instant) query's result: its series as evaluated.
    pub(crate) fn eval_subquery_node(&mut self, sq: &SubqueryExpr) -> Result<Matrix, EvalError> {
        self.run_subquery(sq)
    }
}

/// An evaluated series served through the storage interface, so range functions can
/// read subquery results like stored series.
pub(crate) struct MatrixSeries {
    series: Series,
}

impl MatrixSeries {
    pub(crate) fn new(series: Series) -> MatrixSeries {
        MatrixSeries { series }
    }
}

impl StorageSeries for MatrixSeries {
    fn labels(&self) -> &Labels {
        &self.series.metric
    }

    fn samples(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(MatrixSeriesIter {
            s: &self.series,
            fi: 0,
            hi: 0,
        })
    }
}

/// Merges a series' float and histogram points by time.
struct MatrixSeriesIter<'a> {
    s: &'a Series,
    fi: usize,
    hi: usize,
}

impl SampleIterator for MatrixSeriesIter<'_> {
    fn next(&mut self) -> Result<Option<Sample>, QuerierError> {
        let f = self.s.floats.get(self.fi);
        let h = self.s.histograms.get(self.hi);
        Ok(match (f, h) {
            (Some(f), Some(h)) if h.t < f.t => {
                self.hi += 1;
                Some(Sample {
                    t: h.t,
                    st: 0,
                    value: SampleValue::Histogram(h.h.clone()),
                })
            }
            (Some(f), _) => {
                self.fi += 1;
                Some(Sample {
                    t: f.t,
                    st: 0,
                    value: SampleValue::Float(f.f),
                })
            }
            (None, Some(h)) => {
                self.hi += 1;
                Some(Sample {
                    t: h.t,
                    st: 0,
                    value: SampleValue::Histogram(h.h.clone()),
                })
            }
            (None, None) => None,
        })
    }

    fn seek(&mut self, t: i64) -> Result<Option<Sample>, QuerierError> {
        self.fi += self.s.floats[self.fi..].partition_point(|p| p.t < t);
        self.hi += self.s.histograms[self.hi..].partition_point(|p| p.t < t);
        self.next()
    }
}
