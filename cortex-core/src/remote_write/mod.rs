//! Remote write: the decoded form of a Prometheus remote-write request, shared by the
//! decoder (1.0 `prometheus.WriteRequest` and 2.0 `io.prometheus.write.v2.Request`),
//! the distributor's validation and the ingester.
//!
//! A [`WriteRequest`] borrows its strings from the decompressed request body, so
//! decoding allocates one vector per repeated field and no string copies. Nothing here
//! is validated beyond what the wire format requires (UTF-8 strings, well-formed
//! fields): label order, names, limits and sample ages are the distributor's job.
//!
//! - [`body`]: content negotiation, snappy with size limits, [`decode_request`].
//! - [`v1`] / [`v2`]: the 1.0 and 2.0 protobuf messages, decode and encode.
//! - [`wire`]: protobuf wire primitives.
//! - [`DecodeError`]: every decoding failure, with its HTTP status class.

pub mod body;
mod error;
pub(crate) mod histogram;
pub mod v1;
pub mod v2;
pub mod wire;

pub use body::{ContentHeaders, DEFAULT_MAX_RECV_MSG_SIZE, compress, decode_request, negotiate};
pub use error::DecodeError;
pub use v1::{decode_v1, encode_v1};
pub use v2::{WrittenCounts, decode_v2, encode_v2};

use cortex_tsdb::histogram::{FloatHistogram, Histogram};
use smallvec::SmallVec;

/// One label as received: not yet validated, in the order the sender gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label<'a> {
    /// Label name.
    pub name: &'a str,
    /// Label value.
    pub value: &'a str,
}

/// One float sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Timestamp in milliseconds since the epoch.
    pub timestamp: i64,
    /// The value (a staleness marker is Prometheus' stale NaN bit pattern).
    pub value: f64,
}

/// A native histogram's value: integer counts or float counts, as sent.
#[derive(Debug, Clone, PartialEq)]
pub enum HistogramValue {
    /// Integer bucket counts (sent as deltas on the wire, stored here as a
    /// `cortex_tsdb` histogram with delta-encoded buckets, exactly as the TSDB wants).
    Int(Box<Histogram>),
    /// Float bucket counts.
    Float(Box<FloatHistogram>),
}

/// One native histogram sample.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSample {
    /// Timestamp in milliseconds since the epoch.
    pub timestamp: i64,
    /// The histogram.
    pub value: HistogramValue,
}

/// One exemplar attached to a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar<'a> {
    /// The exemplar's own labels (for example `trace_id`).
    pub labels: Vec<Label<'a>>,
    /// The exemplar's value.
    pub value: f64,
    /// Timestamp in milliseconds since the epoch.
    pub timestamp: i64,
}

/// The kind of a metric, as in Prometheus' metadata (`MetricMetadata.MetricType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricType {
    /// Not given.
    #[default]
    Unknown,
    /// A counter.
    Counter,
    /// A gauge.
    Gauge,
    /// A (classic or native) histogram.
    Histogram,
    /// A gauge histogram.
    GaugeHistogram,
    /// A summary.
    Summary,
    /// An info metric.
    Info,
    /// A state set.
    StateSet,
}

impl MetricType {
    /// The lower-case name Prometheus' metadata API prints (`counter`, `gauge`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Unknown => "unknown",
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
        }
    }

    /// The type from its protobuf enum number (the same in 1.0's
    /// `MetricMetadata.MetricType` and 2.0's `Metadata.MetricType`); numbers this
    /// version does not know read as `Unknown`.
    pub fn from_proto(v: u64) -> MetricType {
        match v {
            1 => MetricType::Counter,
            2 => MetricType::Gauge,
            3 => MetricType::Histogram,
            4 => MetricType::GaugeHistogram,
            5 => MetricType::Summary,
            6 => MetricType::Info,
            7 => MetricType::StateSet,
            _ => MetricType::Unknown,
        }
    }

    /// The protobuf enum number.
    pub fn to_proto(self) -> u64 {
        match self {
            MetricType::Unknown => 0,
            MetricType::Counter => 1,
            MetricType::Gauge => 2,
            MetricType::Histogram => 3,
            MetricType::GaugeHistogram => 4,
            MetricType::Summary => 5,
            MetricType::Info => 6,
            MetricType::StateSet => 7,
        }
    }
}

/// Metadata about one metric family (type, help, unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetricMetadata<'a> {
    /// The metric family name.
    pub metric_family_name: &'a str,
    /// The family's type.
    pub metric_type: MetricType,
    /// The help text.
    pub help: &'a str,
    /// The unit.
    pub unit: &'a str,
}

/// One series of a request with everything sent for it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeSeries<'a> {
    /// The series' labels, unvalidated, in the order sent.
    pub labels: SeriesLabels<'a>,
    /// Float samples, in the order sent.
    pub samples: SeriesSamples,
    /// Native histogram samples, in the order sent.
    pub histograms: Vec<HistogramSample>,
    /// Exemplars.
    pub exemplars: Vec<Exemplar<'a>>,
    /// Remote write 2.0 carries metadata per series; `None` for 1.0.
    pub metadata: Option<MetricMetadata<'a>>,
    /// Remote write 2.0's created timestamp (ms), 0 when not sent.
    pub created_timestamp: i64,
}

/// Labels a series keeps inline; a series with more allocates them.
pub const INLINE_LABELS: usize = 12;

/// A series' labels: inline up to [`INLINE_LABELS`], so that decoding a request does not
/// allocate per series (build one from a `Vec` with `.into()`).
pub type SeriesLabels<'a> = SmallVec<[Label<'a>; INLINE_LABELS]>;

/// A series' float samples: one inline (remote write sends most series with a single
/// sample per request), more on the heap.
pub type SeriesSamples = SmallVec<[Sample; 1]>;

/// Which protocol a request came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// `prometheus.WriteRequest` (remote write 1.0).
    #[default]
    V1,
    /// `io.prometheus.write.v2.Request` (remote write 2.0).
    V2,
}

/// A decoded remote-write request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WriteRequest<'a> {
    /// The series.
    pub timeseries: Vec<TimeSeries<'a>>,
    /// Metric metadata sent at request level (remote write 1.0).
    pub metadata: Vec<MetricMetadata<'a>>,
    /// The protocol the request came in.
    pub protocol: Protocol,
}

impl WriteRequest<'_> {
    /// True when both requests hold the same data with every float compared by bit
    /// pattern, so NaN payloads (the stale marker among them) and -0.0 count. `==`
    /// compares floats numerically and is never true for a NaN.
    pub fn bitwise_eq(&self, other: &WriteRequest<'_>) -> bool {
        self.protocol == other.protocol
            && self.metadata == other.metadata
            && self.timeseries.len() == other.timeseries.len()
            && self
                .timeseries
                .iter()
                .zip(&other.timeseries)
                .all(|(a, b)| a.bitwise_eq(b))
    }
}

impl TimeSeries<'_> {
    /// Like [`WriteRequest::bitwise_eq`], for one series.
    pub fn bitwise_eq(&self, other: &TimeSeries<'_>) -> bool {
        let sample = |a: &Sample, b: &Sample| {
            a.timestamp == b.timestamp && a.value.to_bits() == b.value.to_bits()
        };
        let exemplar = |a: &Exemplar<'_>, b: &Exemplar<'_>| {
            a.labels == b.labels
                && a.timestamp == b.timestamp
                && a.value.to_bits() == b.value.to_bits()
        };
        let histogram = |a: &HistogramSample, b: &HistogramSample| {
            a.timestamp == b.timestamp && histogram_bits(&a.value) == histogram_bits(&b.value)
        };
        self.labels[..] == other.labels[..]
            && self.metadata == other.metadata
            && self.created_timestamp == other.created_timestamp
            && all_pairs(&self.samples, &other.samples, sample)
            && all_pairs(&self.exemplars, &other.exemplars, exemplar)
            && all_pairs(&self.histograms, &other.histograms, histogram)
    }
}

fn all_pairs<T>(a: &[T], b: &[T], eq: impl Fn(&T, &T) -> bool) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| eq(x, y))
}

/// A histogram with every float replaced by its bits, for exact comparison.
fn histogram_bits(v: &HistogramValue) -> (bool, Histogram, Vec<u64>) {
    let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<u64>>();
    match v {
        HistogramValue::Int(h) => {
            let mut floats = bits(&h.custom_values);
            floats.extend([h.sum.to_bits(), h.zero_threshold.to_bits()]);
            let h = Histogram {
                sum: 0.0,
                zero_threshold: 0.0,
                custom_values: Vec::new(),
                ..(**h).clone()
            };
            (false, h, floats)
        }
        HistogramValue::Float(h) => {
            let mut floats = bits(&h.custom_values);
            floats.extend(bits(&h.positive_buckets));
            floats.extend(bits(&h.negative_buckets));
            floats.extend([
                h.sum.to_bits(),
                h.zero_threshold.to_bits(),
                h.count.to_bits(),
                h.zero_count.to_bits(),
            ]);
            let shape = Histogram {
                counter_reset_hint: h.counter_reset_hint,
                schema: h.schema,
                positive_spans: h.positive_spans.clone(),
                negative_spans: h.negative_spans.clone(),
                positive_buckets: vec![h.positive_buckets.len() as i64],
                ..Histogram::default()
            };
            (true, shape, floats)
        }
    }
}
