//! Labels: the identity of a series.
//!
//! A series is a sorted set of `name="value"` pairs ([`Labels`]); selectors pick series
//! with [`Matcher`]s. This module owns the set type, name/value validation, matching with
//! Prometheus semantics and the Prometheus text form of a set.

mod format;
mod matcher;
mod selector;
mod set;
mod validate;

pub use format::{write_go_quoted, write_labels};
pub use matcher::{MatchType, Matcher};
pub use selector::{SelectorError, parse_selector, unquote_go_string};
pub use set::{Iter, Label, Labels, LabelsBuilder, METRIC_NAME, stable_hash_of};
pub use validate::{is_valid_legacy_metric_name, is_valid_legacy_name, validate_labels};

/// Why a label set or matcher could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// The same name appears twice in one set.
    #[error("duplicate label name {0:?}")]
    DuplicateName(String),
    /// Pairs given as sorted were not.
    #[error("labels are not sorted: {name:?} follows {previous:?}")]
    Unsorted {
        /// The name before the offending one.
        previous: String,
        /// The offending name.
        name: String,
    },
    /// A name breaks the naming rules.
    #[error("invalid label name {0:?}")]
    InvalidName(String),
    /// A metric name breaks the naming rules.
    #[error("invalid metric name {0:?}")]
    InvalidMetricName(String),
    /// A set without a metric name where one is required.
    #[error("label set has no metric name (__name__)")]
    MissingMetricName,
    /// A regular expression in a matcher does not compile.
    #[error("invalid regular expression {pattern:?}: {reason}")]
    InvalidRegex {
        /// The pattern as given.
        pattern: String,
        /// What the regex compiler said.
        reason: String,
    },
}
