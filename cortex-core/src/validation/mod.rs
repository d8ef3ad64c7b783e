//! The distributor's validation of incoming series against a tenant's [`Limits`], with
//! Cortex's rules, error texts and discard reasons.
//!
//! Invalid series and metadata are dropped and counted by reason (the `reason` label of
//! `cortex_discarded_samples_total`, `cortex_discarded_exemplars_total` and
//! `cortex_discarded_metadata_total`); the rest of the request is still ingested, and the
//! push answers 400 with the first error's message.
//!
//! - `series.rs`: the checks of one series (labels, timestamps, exemplars, native
//!   histograms) and of one metadata entry.
//! - `request.rs`: a whole request, validated in place.
//! - `format.rs`: how the messages print series and strings.
//!
//! [`Limits`]: crate::limits::Limits

mod format;
mod request;
mod series;

pub use request::{Discarded, ReasonCounts, Validated, series_labels, validate_request};
pub use series::{
    EXEMPLAR_MAX_LABEL_SET_LENGTH, validate_exemplar, validate_histogram, validate_labels,
    validate_metadata, validate_metric_name, validate_series, validate_timestamp,
};

use cortex_tsdb::histogram::{MAX_EXPONENTIAL_SCHEMA, MIN_EXPONENTIAL_SCHEMA};
use format::q200;

/// The `reason` label values of the discarded-samples, -exemplars and -metadata counters,
/// as Cortex spells them.
pub mod reason {
    /// The series has no metric name (or the metadata has no metric family name).
    pub const MISSING_METRIC_NAME: &str = "missing_metric_name";
    /// The metric name breaks the naming rules.
    pub const INVALID_METRIC_NAME: &str = "metric_name_invalid";
    /// The sample is older than `reject_old_samples_max_age`.
    pub const GREATER_THAN_MAX_SAMPLE_AGE: &str = "greater_than_max_sample_age";
    /// More labels than `max_label_names_per_series`.
    pub const MAX_LABEL_NAMES_PER_SERIES: &str = "max_label_names_per_series";
    /// The sample is further in the future than `creation_grace_period`.
    pub const TOO_FAR_IN_FUTURE: &str = "too_far_in_future";
    /// A label name breaks the naming rules.
    pub const INVALID_LABEL: &str = "label_invalid";
    /// A label name longer than `max_label_name_length`.
    pub const LABEL_NAME_TOO_LONG: &str = "label_name_too_long";
    /// The same label name twice.
    pub const DUPLICATE_LABEL_NAMES: &str = "duplicate_label_names";
    /// Labels out of order.
    pub const LABELS_NOT_SORTED: &str = "labels_not_sorted";
    /// A label value longer than `max_label_value_length`.
    pub const LABEL_VALUE_TOO_LONG: &str = "label_value_too_long";
    /// Labels larger than `max_labels_size_bytes`.
    pub const LABELS_SIZE_BYTES_EXCEEDED: &str = "labels_size_bytes_exceeded";
    /// An exemplar without labels.
    pub const EXEMPLAR_LABELS_MISSING: &str = "exemplar_labels_missing";
    /// An exemplar whose labels exceed 128 characters.
    pub const EXEMPLAR_LABELS_TOO_LONG: &str = "exemplar_labels_too_long";
    /// An exemplar without a timestamp.
    pub const EXEMPLAR_TIMESTAMP_INVALID: &str = "exemplar_timestamp_invalid";
    /// A native histogram with more buckets than `max_native_histogram_buckets`.
    pub const NATIVE_HISTOGRAM_BUCKETS_EXCEEDED: &str = "native_histogram_buckets_exceeded";
    /// A native histogram with a schema outside the supported range.
    pub const NATIVE_HISTOGRAM_INVALID_SCHEMA: &str = "native_histogram_invalid_schema";
    /// A native histogram that is inconsistent in itself.
    pub const NATIVE_HISTOGRAM_INVALID: &str = "native_histogram_invalid";
    /// A metadata metric name longer than `max_metadata_length`.
    pub const METRIC_NAME_TOO_LONG: &str = "metric_name_too_long";
    /// A metadata help text longer than `max_metadata_length`.
    pub const HELP_TOO_LONG: &str = "help_too_long";
    /// A metadata unit longer than `max_metadata_length`.
    pub const UNIT_TOO_LONG: &str = "unit_too_long";
    /// Over the tenant's ingestion rate limit.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// The tenant has as many HA clusters as it may.
    pub const TOO_MANY_HA_CLUSTERS: &str = "too_many_ha_clusters";
    /// Over the tenant's native histogram ingestion rate limit.
    pub const NATIVE_HISTOGRAM_RATE_LIMITED: &str = "native_histogram_rate_limited";
    /// Every label was removed by the tenant's `drop_labels` (or was empty).
    pub const USER_LABEL_REMOVAL_CONFIGURATION: &str = "user_label_removal_configuration";
}

/// Which metadata field is too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataField {
    /// The metric family name.
    MetricName,
    /// The help text.
    Help,
    /// The unit.
    Unit,
}

impl MetadataField {
    /// The name Cortex's message uses (`METRIC_NAME`, `HELP`, `UNIT`).
    pub fn as_str(self) -> &'static str {
        match self {
            MetadataField::MetricName => "METRIC_NAME",
            MetadataField::Help => "HELP",
            MetadataField::Unit => "UNIT",
        }
    }
}

/// Why a series, exemplar or metadata entry was refused. The messages are Cortex's
/// (series print as Cortex prints them, long strings cut at 200 characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A series without labels: the whole request is refused.
    #[error("empty labels found")]
    EmptyLabels,
    /// Every label was removed by `drop_labels` or was empty; dropped silently.
    #[error("all labels of the series were removed by the tenant's configuration")]
    AllLabelsRemoved,
    /// No `__name__` label.
    #[error("sample missing metric name")]
    MissingMetricName,
    /// The metric name breaks the naming rules.
    #[error("sample invalid metric name: {}", q200(.name))]
    InvalidMetricName {
        /// The metric name.
        name: String,
    },
    /// More labels than `max_label_names_per_series`.
    #[error("series has too many labels (actual: {actual}, limit: {limit}) series: '{series}'")]
    TooManyLabels {
        /// The number of labels.
        actual: usize,
        /// The limit.
        limit: usize,
        /// The series, as a Prometheus metric prints.
        series: String,
    },
    /// A label name breaks the naming rules.
    #[error("sample invalid label: {} metric {}", q200(.name), q200(.series))]
    InvalidLabel {
        /// The label name.
        name: String,
        /// The series.
        series: String,
    },
    /// A label name longer than `max_label_name_length`.
    #[error(
        "label name too long for metric (actual: {}, limit: {limit}) metric: {} label name: {}",
        .name.len(), q200(.series), q200(.name)
    )]
    LabelNameTooLong {
        /// The label name.
        name: String,
        /// The limit.
        limit: usize,
        /// The series.
        series: String,
    },
    /// A label value longer than `max_label_value_length`.
    #[error(
        "label value too long for metric (actual: {}, limit: {limit}) metric: {} label name: {} label value: {}",
        .value.len(), q200(.series), q200(.name), q200(.value)
    )]
    LabelValueTooLong {
        /// The label name.
        name: String,
        /// The label value.
        value: String,
        /// The limit.
        limit: usize,
        /// The series.
        series: String,
    },
    /// The same label name twice.
    #[error("duplicate label name: {} metric {}", q200(.name), q200(.series))]
    DuplicateLabelNames {
        /// The repeated name.
        name: String,
        /// The series.
        series: String,
    },
    /// Labels out of order (only reachable through [`validate_labels`]: requests are
    /// sorted before validation, as Cortex does).
    #[error("labels not sorted: {} metric {}", q200(.name), q200(.series))]
    LabelsNotSorted {
        /// The first name out of order.
        name: String,
        /// The series.
        series: String,
    },
    /// Labels larger than `max_labels_size_bytes` (sizes as protobuf encodes them).
    #[error(
        "labels size bytes exceeded for metric (actual: {actual}, limit: {limit}) metric: {}",
        q200(.series)
    )]
    LabelsSizeBytesExceeded {
        /// The encoded size of the labels.
        actual: usize,
        /// The limit.
        limit: usize,
        /// The series.
        series: String,
    },
    /// A sample older than `reject_old_samples_max_age`.
    #[error("timestamp too old: {timestamp} metric: {}", q200(.metric))]
    SampleTooOld {
        /// The sample's timestamp (ms).
        timestamp: i64,
        /// The metric name.
        metric: String,
    },
    /// A sample further in the future than `creation_grace_period`.
    #[error("timestamp too new: {timestamp} metric: {}", q200(.metric))]
    SampleTooNew {
        /// The sample's timestamp (ms).
        timestamp: i64,
        /// The metric name.
        metric: String,
    },
    /// An exemplar without labels.
    #[error("exemplar missing labels, timestamp: {timestamp} series: {series} labels: {{}}")]
    ExemplarLabelsMissing {
        /// The exemplar's timestamp (ms).
        timestamp: i64,
        /// The series, as Prometheus labels print.
        series: String,
    },
    /// An exemplar with timestamp 0.
    #[error("exemplar missing timestamp, timestamp: {timestamp} series: {series} labels: {labels}")]
    ExemplarTimestampMissing {
        /// The exemplar's timestamp (ms).
        timestamp: i64,
        /// The series, as Prometheus labels print.
        series: String,
        /// The exemplar's labels.
        labels: String,
    },
    /// An exemplar whose label names and values exceed 128 characters together.
    #[error(
        "exemplar combined labelset exceeds 128 characters, timestamp: {timestamp} series: {series} labels: {labels}"
    )]
    ExemplarLabelsTooLong {
        /// The exemplar's timestamp (ms).
        timestamp: i64,
        /// The series, as Prometheus labels print.
        series: String,
        /// The exemplar's labels.
        labels: String,
    },
    /// A native histogram schema outside -4..=8 (and not custom buckets).
    #[error(
        "invalid native histogram schema {schema} for metric: {}. supported schema from {MIN_EXPONENTIAL_SCHEMA} to {MAX_EXPONENTIAL_SCHEMA}",
        q200(.series)
    )]
    HistogramInvalidSchema {
        /// The schema sent.
        schema: i32,
        /// The series.
        series: String,
    },
    /// More buckets than `max_native_histogram_buckets`.
    #[error("native histogram bucket count exceeded for metric (limit: {limit}) metric: {}", q200(.series))]
    HistogramBucketLimitExceeded {
        /// The limit.
        limit: usize,
        /// The series.
        series: String,
    },
    /// A native histogram whose spans and buckets disagree.
    #[error("invalid native histogram, validation err: {cause}, metric: {}", q200(.series))]
    HistogramInvalid {
        /// What is inconsistent, as Prometheus words it.
        cause: String,
        /// The series.
        series: String,
    },
    /// Metadata without a metric family name.
    #[error("metadata missing metric name")]
    MetadataMissingMetricName,
    /// A metadata field longer than `max_metadata_length`.
    #[error("metadata '{}' value too long: {} metric {}", .field.as_str(), q200(.value), q200(.metric))]
    MetadataTooLong {
        /// The field.
        field: MetadataField,
        /// Its value.
        value: String,
        /// The metric family name.
        metric: String,
    },
}

impl ValidationError {
    /// The discard reason Cortex counts this error under; `None` for
    /// [`ValidationError::EmptyLabels`], which refuses the whole request uncounted.
    pub fn reason(&self) -> Option<&'static str> {
        use ValidationError as E;
        Some(match self {
            E::EmptyLabels => return None,
            E::AllLabelsRemoved => reason::USER_LABEL_REMOVAL_CONFIGURATION,
            E::MissingMetricName | E::MetadataMissingMetricName => reason::MISSING_METRIC_NAME,
            E::InvalidMetricName { .. } => reason::INVALID_METRIC_NAME,
            E::TooManyLabels { .. } => reason::MAX_LABEL_NAMES_PER_SERIES,
            E::InvalidLabel { .. } => reason::INVALID_LABEL,
            E::LabelNameTooLong { .. } => reason::LABEL_NAME_TOO_LONG,
            E::LabelValueTooLong { .. } => reason::LABEL_VALUE_TOO_LONG,
            E::DuplicateLabelNames { .. } => reason::DUPLICATE_LABEL_NAMES,
            E::LabelsNotSorted { .. } => reason::LABELS_NOT_SORTED,
            E::LabelsSizeBytesExceeded { .. } => reason::LABELS_SIZE_BYTES_EXCEEDED,
            E::SampleTooOld { .. } => reason::GREATER_THAN_MAX_SAMPLE_AGE,
            E::SampleTooNew { .. } => reason::TOO_FAR_IN_FUTURE,
            E::ExemplarLabelsMissing { .. } => reason::EXEMPLAR_LABELS_MISSING,
            E::ExemplarTimestampMissing { .. } => reason::EXEMPLAR_TIMESTAMP_INVALID,
            E::ExemplarLabelsTooLong { .. } => reason::EXEMPLAR_LABELS_TOO_LONG,
            E::HistogramInvalidSchema { .. } => reason::NATIVE_HISTOGRAM_INVALID_SCHEMA,
            E::HistogramBucketLimitExceeded { .. } => reason::NATIVE_HISTOGRAM_BUCKETS_EXCEEDED,
            E::HistogramInvalid { .. } => reason::NATIVE_HISTOGRAM_INVALID,
            E::MetadataTooLong { field, .. } => match field {
                MetadataField::MetricName => reason::METRIC_NAME_TOO_LONG,
                MetadataField::Help => reason::HELP_TOO_LONG,
                MetadataField::Unit => reason::UNIT_TOO_LONG,
            },
        })
    }

    /// Whether the push reports this error to the client. Series whose labels were all
    /// removed by configuration are dropped and counted without an error.
    pub fn is_reported(&self) -> bool {
        !matches!(self, ValidationError::AllLabelsRemoved)
    }
}

#[cfg(test)]
mod tests;
