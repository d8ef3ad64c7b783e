//! Reading native histograms as statistics only: under `histogram_count`,
//! `histogram_sum` and `histogram_avg` the buckets are not needed, so selectors hand
//! out histograms with only count, sum and schema. Like Prometheus, this reader
//! detects counter resets itself and records them in the counter-reset hint.

use std::sync::Arc;

use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram};
use cortex_tsdb::labels::Labels;
use cortex_tsdb::value::is_stale_nan;

use crate::promql::histogram::HistogramExt;
use crate::querier::{QuerierError, Sample, SampleIterator, SampleValue, Series};

/// A series read through [`StatsIterator`].
pub(crate) struct StatsSeries(pub Arc<dyn Series>);

impl Series for StatsSeries {
    fn labels(&self) -> &Labels {
        self.0.labels()
    }

    fn samples(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(StatsIterator {
            inner: self.0.samples(),
            last: None,
            current_t: i64::MIN,
        })
    }
}

/// Strips histogram buckets and sets counter-reset hints by comparing each
/// histogram with the one read before it.
struct StatsIterator<'a> {
    inner: Box<dyn SampleIterator + 'a>,
    last: Option<Arc<FloatHistogram>>,
    current_t: i64,
}

impl StatsIterator<'_> {
    fn convert(&mut self, s: Option<Sample>) -> Option<Sample> {
        let s = s?;
        self.current_t = s.t;
        let SampleValue::Histogram(h) = &s.value else {
            return Some(s);
        };
        let mut stripped = FloatHistogram {
            counter_reset_hint: h.counter_reset_hint,
            schema: h.schema,
            count: h.count,
            sum: h.sum,
            ..Default::default()
        };
        if is_stale_nan(h.sum) {
            return Some(Sample {
                value: SampleValue::Histogram(Arc::new(stripped)),
                ..s
            });
        }
        if h.counter_reset_hint == CounterResetHint::Unknown {
            stripped.counter_reset_hint = match &self.last {
                None => CounterResetHint::Unknown,
                Some(last) if h.detect_reset(last) => CounterResetHint::CounterReset,
                Some(_) => CounterResetHint::NotCounterReset,
            };
        }
        self.last = Some(h.clone());
        Some(Sample {
            value: SampleValue::Histogram(Arc::new(stripped)),
            ..s
        })
    }
}

impl SampleIterator for StatsIterator<'_> {
    fn next(&mut self) -> Result<Option<Sample>, QuerierError> {
        let s = self.inner.next()?;
        Ok(self.convert(s))
    }

    fn seek(&mut self, t: i64) -> Result<Option<Sample>, QuerierError> {
        if t > self.current_t {
            self.last = None;
        }
        let s = self.inner.seek(t)?;
        Ok(self.convert(s))
    }
}
