//! Name rules for labels and metric names.
//!
//! Prometheus 3 accepts any UTF-8 name, but many clients and the text exposition format
//! still assume the legacy rules (`[a-zA-Z_][a-zA-Z0-9_]*` for labels, plus `:` for metric
//! names). This module owns both checks; callers pick the rule their input requires.

use super::{LabelError, Labels, METRIC_NAME};

/// True when `name` is a legacy label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_legacy_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// True when `name` is a legacy metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_valid_legacy_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Checks a set against the legacy rules: it has a metric name, the metric name and every
/// label name are valid. (Values are any UTF-8, which [`Labels`] already guarantees.)
pub fn validate_labels(labels: &Labels) -> Result<(), LabelError> {
    let mut has_name = false;
    for l in labels.iter() {
        if l.name == METRIC_NAME {
            has_name = true;
            if !is_valid_legacy_metric_name(l.value) {
                return Err(LabelError::InvalidMetricName(l.value.to_string()));
            }
        } else if !is_valid_legacy_name(l.name) {
            return Err(LabelError::InvalidName(l.name.to_string()));
        }
    }
    if has_name {
        Ok(())
    } else {
        Err(LabelError::MissingMetricName)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_names() {
        for ok in ["a", "_", "abc_123", "A_b"] {
            assert!(is_valid_legacy_name(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a:b", "ä"] {
            assert!(!is_valid_legacy_name(bad), "{bad}");
        }
        assert!(is_valid_legacy_metric_name("job:rate5m:sum"));
        assert!(!is_valid_legacy_metric_name("5m"));
    }

    #[test]
    fn validate_requires_metric_name() {
        let l = Labels::from_pairs([("job", "x")]).unwrap();
        assert_eq!(validate_labels(&l), Err(LabelError::MissingMetricName));
        let l = Labels::from_pairs([("__name__", "up"), ("bad-name", "x")]).unwrap();
        assert_eq!(
            validate_labels(&l),
            Err(LabelError::InvalidName("bad-name".into()))
        );
        let l = Labels::from_pairs([("__name__", "up"), ("job", "x")]).unwrap();
        assert_eq!(validate_labels(&l), Ok(()));
    }
}
