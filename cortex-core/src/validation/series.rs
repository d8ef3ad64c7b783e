//! The checks of one series and of one metadata entry, in Cortex's order.
//!
//! [`validate_series`] prepares a series the way Cortex's distributor does before
//! checking it (removes the tenant's `drop_labels`, checks the metric name, drops
//! empty-valued labels, sorts the labels if they are not sorted) and then checks labels,
//! sample timestamps, exemplars and native histograms; the first failure rejects the
//! whole series. The already-sorted case costs one pass over the labels and allocates
//! nothing; errors allocate their message parts.

use cortex_tsdb::histogram::{
    CUSTOM_BUCKETS_SCHEMA, MAX_EXPONENTIAL_SCHEMA, MIN_EXPONENTIAL_SCHEMA, Span,
};
use cortex_tsdb::labels::{METRIC_NAME, is_valid_legacy_metric_name, is_valid_legacy_name};

use super::format::{label_set, labels_string, metric_string};
use super::{MetadataField, ValidationError};
use crate::limits::Limits;
use crate::remote_write::{Exemplar, HistogramValue, Label, MetricMetadata, TimeSeries};

/// The most characters (label names and values together) an exemplar's labels may have
/// (OpenMetrics).
pub const EXEMPLAR_MAX_LABEL_SET_LENGTH: usize = 128;

/// The first `__name__` value, as Cortex finds it.
fn metric_name<'a>(labels: &[Label<'a>]) -> Option<&'a str> {
    labels
        .iter()
        .find(|l| l.name == METRIC_NAME)
        .map(|l| l.value)
}

/// Prepares and checks one series against `limits` at `now_ms` (milliseconds since the
/// epoch). On success the labels are sorted, without dropped or empty-valued labels, and
/// everything in the series is valid.
pub fn validate_series(
    ts: &mut TimeSeries<'_>,
    limits: &Limits,
    now_ms: i64,
) -> Result<(), ValidationError> {
    if ts.labels.is_empty() {
        return Err(ValidationError::EmptyLabels);
    }
    for name in &limits.drop_labels {
        if let Some(i) = ts.labels.iter().position(|l| l.name == name.as_str()) {
            ts.labels.remove(i);
        }
    }
    validate_metric_name(&ts.labels, limits)?;
    ts.labels.retain(|l| !l.value.is_empty());
    if ts.labels.is_empty() {
        return Err(ValidationError::AllLabelsRemoved);
    }
    if !ts.labels.is_sorted_by(|a, b| a.name <= b.name) {
        ts.labels.sort_unstable_by(|a, b| a.name.cmp(b.name));
    }
    validate_labels(&ts.labels, limits)?;
    for s in &ts.samples {
        validate_timestamp(&ts.labels, limits, now_ms, s.timestamp)?;
    }
    for e in &ts.exemplars {
        validate_exemplar(&ts.labels, e)?;
    }
    for h in &ts.histograms {
        validate_timestamp(&ts.labels, limits, now_ms, h.timestamp)?;
        validate_histogram(&ts.labels, limits, &h.value)?;
    }
    Ok(())
}

/// With `enforce_metric_name`, the series must have a `__name__` label whose value is a
/// valid metric name.
pub fn validate_metric_name(labels: &[Label<'_>], limits: &Limits) -> Result<(), ValidationError> {
    if !limits.enforce_metric_name {
        return Ok(());
    }
    match metric_name(labels) {
        None => Err(ValidationError::MissingMetricName),
        Some(name) if !is_valid_legacy_metric_name(name) => {
            Err(ValidationError::InvalidMetricName {
                name: name.to_string(),
            })
        }
        Some(_) => Ok(()),
    }
}

/// The size of a label as protobuf encodes it (tag, length, bytes per non-empty string):
/// what `max_labels_size_bytes` limits.
fn encoded_size(l: &Label<'_>) -> usize {
    fn field(len: usize) -> usize {
        if len == 0 {
            return 0;
        }
        let mut varint = 1;
        let mut v = len >> 7;
        while v > 0 {
            varint += 1;
            v >>= 7;
        }
        1 + varint + len
    }
    field(l.name.len()) + field(l.value.len())
}

/// Checks sorted labels: their number, each name's validity and length, each value's
/// length, order and uniqueness of names, then their total encoded size.
pub fn validate_labels(labels: &[Label<'_>], limits: &Limits) -> Result<(), ValidationError> {
    if labels.len() > limits.max_label_names_per_series {
        return Err(ValidationError::TooManyLabels {
            actual: labels.len(),
            limit: limits.max_label_names_per_series,
            series: metric_string(labels),
        });
    }
    let mut last = "";
    let mut size = 0;
    for l in labels {
        if !is_valid_legacy_name(l.name) {
            return Err(ValidationError::InvalidLabel {
                name: l.name.to_string(),
                series: label_set(labels),
            });
        }
        if l.name.len() > limits.max_label_name_length {
            return Err(ValidationError::LabelNameTooLong {
                name: l.name.to_string(),
                limit: limits.max_label_name_length,
                series: label_set(labels),
            });
        }
        if l.value.len() > limits.max_label_value_length {
            return Err(ValidationError::LabelValueTooLong {
                name: l.name.to_string(),
                value: l.value.to_string(),
                limit: limits.max_label_value_length,
                series: label_set(labels),
            });
        }
        if last >= l.name {
            let name = l.name.to_string();
            let series = label_set(labels);
            return Err(if last == l.name {
                ValidationError::DuplicateLabelNames { name, series }
            } else {
                ValidationError::LabelsNotSorted { name, series }
            });
        }
        last = l.name;
        size += encoded_size(l);
    }
    if limits.max_labels_size_bytes > 0 && size > limits.max_labels_size_bytes {
        return Err(ValidationError::LabelsSizeBytesExceeded {
            actual: size,
            limit: limits.max_labels_size_bytes,
            series: label_set(labels),
        });
    }
    Ok(())
}

/// A sample (or histogram) timestamp must not be older than `reject_old_samples_max_age`
/// (when `reject_old_samples` is on) nor newer than `now + creation_grace_period`.
pub fn validate_timestamp(
    labels: &[Label<'_>],
    limits: &Limits,
    now_ms: i64,
    timestamp: i64,
) -> Result<(), ValidationError> {
    let metric = || metric_name(labels).unwrap_or_default().to_string();
    if limits.reject_old_samples
        && timestamp < now_ms.saturating_sub(limits.reject_old_samples_max_age.as_millis())
    {
        return Err(ValidationError::SampleTooOld {
            timestamp,
            metric: metric(),
        });
    }
    if timestamp > now_ms.saturating_add(limits.creation_grace_period.as_millis()) {
        return Err(ValidationError::SampleTooNew {
            timestamp,
            metric: metric(),
        });
    }
    Ok(())
}

/// An exemplar needs labels, a timestamp, and at most
/// [`EXEMPLAR_MAX_LABEL_SET_LENGTH`] characters of label names and values.
pub fn validate_exemplar(
    series: &[Label<'_>],
    exemplar: &Exemplar<'_>,
) -> Result<(), ValidationError> {
    let timestamp = exemplar.timestamp;
    if exemplar.labels.is_empty() {
        return Err(ValidationError::ExemplarLabelsMissing {
            timestamp,
            series: labels_string(series),
        });
    }
    if timestamp == 0 {
        return Err(ValidationError::ExemplarTimestampMissing {
            timestamp,
            series: labels_string(series),
            labels: labels_string(&exemplar.labels),
        });
    }
    let length: usize = exemplar
        .labels
        .iter()
        .map(|l| l.name.chars().count() + l.value.chars().count())
        .sum();
    if length > EXEMPLAR_MAX_LABEL_SET_LENGTH {
        return Err(ValidationError::ExemplarLabelsTooLong {
            timestamp,
            series: labels_string(series),
            labels: labels_string(&exemplar.labels),
        });
    }
    Ok(())
}

/// A native histogram needs a supported schema, spans that match its buckets, and (with
/// `max_native_histogram_buckets`) no more buckets than the limit.
pub fn validate_histogram(
    series: &[Label<'_>],
    limits: &Limits,
    value: &HistogramValue,
) -> Result<(), ValidationError> {
    let shape = match value {
        HistogramValue::Int(h) => Shape {
            schema: h.schema,
            pos_spans: &h.positive_spans,
            pos_len: h.positive_buckets.len(),
            neg_spans: &h.negative_spans,
            neg_len: h.negative_buckets.len(),
            custom_values: &h.custom_values,
            zero_count_set: h.zero_count != 0,
            zero_threshold: h.zero_threshold,
        },
        HistogramValue::Float(h) => Shape {
            schema: h.schema,
            pos_spans: &h.positive_spans,
            pos_len: h.positive_buckets.len(),
            neg_spans: &h.negative_spans,
            neg_len: h.negative_buckets.len(),
            custom_values: &h.custom_values,
            zero_count_set: h.zero_count != 0.0,
            zero_threshold: h.zero_threshold,
        },
    };
    let schema = shape.schema;
    let custom = schema == CUSTOM_BUCKETS_SCHEMA;
    if !custom && !(MIN_EXPONENTIAL_SCHEMA..=MAX_EXPONENTIAL_SCHEMA).contains(&schema) {
        return Err(ValidationError::HistogramInvalidSchema {
            schema,
            series: label_set(series),
        });
    }
    let checked = if custom {
        check_custom(&shape)
    } else {
        check_exponential(&shape)
    };
    if let Err(cause) = checked {
        return Err(ValidationError::HistogramInvalid {
            cause,
            series: label_set(series),
        });
    }
    let (pos_len, neg_len) = (shape.pos_len, shape.neg_len);
    let limit = limits.max_native_histogram_buckets;
    if limit > 0 && pos_len + neg_len > limit {
        return Err(ValidationError::HistogramBucketLimitExceeded {
            limit,
            series: label_set(series),
        });
    }
    Ok(())
}

/// What the structural checks need from an integer or float histogram.
struct Shape<'a> {
    schema: i32,
    pos_spans: &'a [Span],
    pos_len: usize,
    neg_spans: &'a [Span],
    neg_len: usize,
    custom_values: &'a [f64],
    zero_count_set: bool,
    zero_threshold: f64,
}

/// Prometheus' checks of an exponential-schema histogram's structure.
fn check_exponential(h: &Shape<'_>) -> Result<(), String> {
    check_spans(h.pos_spans, h.pos_len, false).map_err(|e| format!("positive side: {e}"))?;
    check_spans(h.neg_spans, h.neg_len, false).map_err(|e| format!("negative side: {e}"))?;
    if !h.custom_values.is_empty() {
        return Err("histogram with exponential schema must not have custom bounds".to_string());
    }
    Ok(())
}

/// Prometheus' checks of a custom-buckets histogram's structure.
fn check_custom(h: &Shape<'_>) -> Result<(), String> {
    let mut prev = f64::NEG_INFINITY;
    for (i, &b) in h.custom_values.iter().enumerate() {
        if b.is_nan() {
            return Err("custom buckets: histogram custom bounds must not be NaN".to_string());
        }
        if i > 0 && b <= prev {
            return Err(format!(
                "custom buckets: previous bound is {} and current is {}: histogram custom bounds must be in strictly increasing order",
                go_f6(prev),
                go_f6(b)
            ));
        }
        prev = b;
    }
    if prev == f64::INFINITY {
        return Err("custom buckets: last +Inf bound must not be explicitly defined: histogram custom bounds must be finite".to_string());
    }
    check_spans(h.pos_spans, h.pos_len, true).map_err(|e| format!("custom buckets: {e}"))?;
    let covered: i64 = h
        .pos_spans
        .iter()
        .map(|s| i64::from(s.offset) + i64::from(s.length))
        .sum();
    let bounds = h.custom_values.len();
    if (bounds as i64) + 1 < covered {
        return Err(format!(
            "custom buckets: only {bounds} custom bounds defined which is insufficient to cover total span length of {covered}: histogram custom bounds are too few"
        ));
    }
    if h.zero_count_set {
        return Err("custom buckets: must have zero count of 0".to_string());
    }
    if h.zero_threshold != 0.0 {
        return Err("custom buckets: must have zero threshold of 0".to_string());
    }
    if !h.neg_spans.is_empty() {
        return Err("custom buckets: must not have negative spans".to_string());
    }
    if h.neg_len > 0 {
        return Err("custom buckets: must not have negative buckets".to_string());
    }
    Ok(())
}

/// Go's `%f`: six decimals, `+Inf`/`-Inf`/`NaN` for the specials.
fn go_f6(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v:.6}")
    }
}

/// Prometheus' span check: offsets after the first (every offset, for custom buckets)
/// are not negative, and the spans' lengths add up to the number of buckets.
fn check_spans(spans: &[Span], buckets: usize, all_offsets: bool) -> Result<(), String> {
    let mut need: u64 = 0;
    for (n, s) in spans.iter().enumerate() {
        if (n > 0 || all_offsets) && s.offset < 0 {
            return Err(format!(
                "span number {} with offset {}: histogram has a span whose offset is negative",
                n + 1,
                s.offset
            ));
        }
        need += u64::from(s.length);
    }
    if need != buckets as u64 {
        return Err(format!(
            "spans need {need} buckets, have {buckets} buckets: histogram spans specify different number of buckets than provided"
        ));
    }
    Ok(())
}

/// Metadata needs a metric family name (with `enforce_metadata_metric_name`), and its
/// name, help and unit must each fit `max_metadata_length`.
pub fn validate_metadata(m: &MetricMetadata<'_>, limits: &Limits) -> Result<(), ValidationError> {
    if limits.enforce_metadata_metric_name && m.metric_family_name.is_empty() {
        return Err(ValidationError::MetadataMissingMetricName);
    }
    let max = limits.max_metadata_length;
    let too_long = [
        (MetadataField::MetricName, m.metric_family_name),
        (MetadataField::Help, m.help),
        (MetadataField::Unit, m.unit),
    ]
    .into_iter()
    .find(|(_, v)| v.len() > max);
    match too_long {
        Some((field, value)) => Err(ValidationError::MetadataTooLong {
            field,
            value: value.to_string(),
            metric: m.metric_family_name.to_string(),
        }),
        None => Ok(()),
    }
}
