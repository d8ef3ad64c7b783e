//! PromQL's value model: samples, series, vectors, matrices, scalars and strings, with
//! float points and native histogram points.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use cortex_tsdb::histogram::FloatHistogram;
use cortex_tsdb::labels::Labels;

use super::histogram::HistogramExt;

/// The empty label set. Clones share one buffer, so handing it out per sample does
/// not allocate.
pub fn no_labels() -> Labels {
    static EMPTY: LazyLock<Labels> = LazyLock::new(Labels::empty);
    EMPTY.clone()
}

/// A float point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FPoint {
    /// Timestamp (ms).
    pub t: i64,
    /// Value.
    pub f: f64,
}

/// A native histogram point.
#[derive(Debug, Clone, PartialEq)]
pub struct HPoint {
    /// Timestamp (ms).
    pub t: i64,
    /// Value (shared; copy before changing).
    pub h: Arc<FloatHistogram>,
}

impl HPoint {
    /// The point's weight in sample limits, relative to a float point.
    pub fn size(&self) -> usize {
        (self.h.size() + 8) / 16
    }
}

/// One sample of a vector: a float or a histogram with its series labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Series labels.
    pub metric: Labels,
    /// Timestamp (ms).
    pub t: i64,
    /// Float value (unused for histogram samples).
    pub f: f64,
    /// Histogram value, if this is a histogram sample.
    pub h: Option<Arc<FloatHistogram>>,
    /// The metric name is to be dropped from the result (set by functions and
    /// operators that change the meaning of the value).
    pub drop_name: bool,
}

impl Sample {
    /// A float sample.
    pub fn float(metric: Labels, f: f64) -> Sample {
        Sample {
            metric,
            t: 0,
            f,
            h: None,
            drop_name: false,
        }
    }
}

/// A series with its points over time (floats and histograms kept apart, each sorted
/// by time).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Series labels.
    pub metric: Labels,
    /// Float points.
    pub floats: Vec<FPoint>,
    /// Histogram points.
    pub histograms: Vec<HPoint>,
    /// The metric name is to be dropped from the result.
    pub drop_name: bool,
}

impl Series {
    /// A series without points.
    pub fn new(metric: Labels) -> Series {
        Series {
            metric,
            floats: Vec::new(),
            histograms: Vec::new(),
            drop_name: false,
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.floats.len() + self.histograms.len()
    }

    /// True when the series has no points.
    pub fn is_empty(&self) -> bool {
        self.floats.is_empty() && self.histograms.is_empty()
    }
}

/// A set of samples at one timestamp.
pub type Vector = Vec<Sample>;

/// A set of series.
pub type Matrix = Vec<Series>;

/// The result of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number at a timestamp.
    Scalar {
        /// Timestamp (ms).
        t: i64,
        /// Value.
        v: f64,
    },
    /// A string at a timestamp.
    String {
        /// Timestamp (ms).
        t: i64,
        /// Value.
        v: String,
    },
    /// An instant vector.
    Vector(Vector),
    /// A range vector (or the result of a range query).
    Matrix(Matrix),
}

/// Samples a vector accounts for in sample limits (histograms weigh more).
pub fn vector_samples(v: &[Sample]) -> usize {
    v.iter()
        .map(|s| 1 + s.h.as_ref().map_or(0, |h| h.size() / 16))
        .sum()
}

/// Points a matrix accounts for in sample limits.
pub fn matrix_samples(m: &[Series]) -> usize {
    m.iter()
        .map(|s| s.floats.len() + s.histograms.iter().map(HPoint::size).sum::<usize>())
        .sum()
}

/// True when two samples share a label set.
pub fn contains_same_labelset(v: &[Sample]) -> bool {
    match v.len() {
        0 | 1 => false,
        2 => v[0].metric == v[1].metric,
        _ => {
            let mut seen = HashSet::with_capacity(v.len());
            v.iter().any(|s| !seen.insert(&s.metric))
        }
    }
}
