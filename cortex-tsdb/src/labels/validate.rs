//! Name rules for labels and metric names.
//!
//! Prometheus 3 accepts any UTF-8 name, but many clients and the text exposition format
//! still assume the legacy rules (`[a-zA-Z_][a-zA-Z0-9_]*` for labels, plus `:` for metric
//! names). This module owns both checks; callers pick the rule their input requires.

use super::{LabelError, Labels, METRIC_NAME};

/// True when `name` is a legacy label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_legacy_name(name: &str) -> bool {
    matches_classes(name, FIRST, NAME)
}

/// True when `name` is a legacy metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_valid_legacy_metric_name(name: &str) -> bool {
    matches_classes(name, METRIC_FIRST, METRIC)
}

/// Character classes of legacy names, as bits of [`CLASSES`]: allowed first in a label
/// name, anywhere in a label name, first in a metric name, anywhere in a metric name.
const FIRST: u8 = 1;
const NAME: u8 = 2;
const METRIC_FIRST: u8 = 4;
const METRIC: u8 = 8;

/// The classes of every byte: one table lookup per byte instead of a chain of range
/// tests (these checks run on every label of every pushed series).
static CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let alpha = c.is_ascii_alphabetic() || c == b'_';
        let digit = c.is_ascii_digit();
        if alpha {
            t[b] |= FIRST | NAME | METRIC_FIRST | METRIC;
        }
        if digit {
            t[b] |= NAME | METRIC;
        }
        if c == b':' {
            t[b] |= METRIC_FIRST | METRIC;
        }
        b += 1;
    }
    t
};

#[inline]
fn matches_classes(name: &str, first: u8, rest: u8) -> bool {
    match name.as_bytes().split_first() {
        Some((&b, tail)) => {
            CLASSES[usize::from(b)] & first != 0
                && tail.iter().all(|&c| CLASSES[usize::from(c)] & rest != 0)
        }
        None => false,
    }
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

    /// The class table agrees with the rules spelled out, for every byte first and
    /// after a valid first byte.
    #[test]
    fn class_table_matches_the_rules() {
        let name_first = |c: u8| c.is_ascii_alphabetic() || c == b'_';
        let name_rest = |c: u8| name_first(c) || c.is_ascii_digit();
        let metric_first = |c: u8| name_first(c) || c == b':';
        let metric_rest = |c: u8| name_rest(c) || c == b':';
        for c in 0u8..=127 {
            let first = String::from(char::from(c));
            assert_eq!(is_valid_legacy_name(&first), name_first(c), "{c}");
            assert_eq!(is_valid_legacy_metric_name(&first), metric_first(c), "{c}");
            let later = format!("a{}", char::from(c));
            assert_eq!(is_valid_legacy_name(&later), name_rest(c), "{c}");
            assert_eq!(is_valid_legacy_metric_name(&later), metric_rest(c), "{c}");
        }
        assert!(!is_valid_legacy_metric_name(""));
        assert!(!is_valid_legacy_metric_name("up\u{e9}"));
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
