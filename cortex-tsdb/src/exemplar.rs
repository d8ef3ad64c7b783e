//! Exemplars: a value and timestamp with a small label set (typically a trace ID) that
//! point from a series' sample to something outside the TSDB.
//!
//! This module owns the public [`Exemplar`] type, the query result
//! ([`ExemplarSeries`]) and OpenMetrics' limit on the size of an exemplar's label set.
//! Storing exemplars is the head's job (`head::ExemplarStorage`); their WAL record is
//! in [`crate::record`].

use crate::labels::Labels;

/// OpenMetrics' limit: the names and values of an exemplar's labels together may hold at
/// most this many UTF-8 characters (runes, not bytes; no quotes, `=` or commas counted).
pub const MAX_LABEL_SET_RUNES: usize = 128;

/// An exemplar of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The exemplar's own labels (e.g. `trace_id`); may be empty.
    pub labels: Labels,
    /// The exemplar's value.
    pub value: f64,
    /// Timestamp in ms.
    pub ts: i64,
}

impl Exemplar {
    /// Prometheus' notion of the same exemplar: equal timestamp, value (`==`, so a NaN is
    /// never the same as anything) and labels.
    pub fn same_as(&self, other: &Exemplar) -> bool {
        self.ts == other.ts && self.value == other.value && self.labels == other.labels
    }
}

/// The exemplars of one series, as a query returns them.
#[derive(Debug, Clone, PartialEq)]
pub struct ExemplarSeries {
    /// The labels of the series the exemplars belong to.
    pub series_labels: Labels,
    /// The exemplars, oldest first.
    pub exemplars: Vec<Exemplar>,
}

/// Characters (runes) of the names and values of `labels` together, as OpenMetrics
/// counts them against [`MAX_LABEL_SET_RUNES`].
pub fn label_set_runes(labels: &Labels) -> usize {
    labels
        .iter()
        .map(|l| l.name.chars().count() + l.value.chars().count())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runes_count_characters_not_bytes() {
        let l = Labels::from_pairs([("trace_id", "ü€")]).unwrap();
        assert_eq!(label_set_runes(&l), 10);
        assert_eq!(label_set_runes(&Labels::empty()), 0);
    }

    #[test]
    fn nan_exemplars_are_never_the_same() {
        let a = Exemplar {
            labels: Labels::empty(),
            value: f64::NAN,
            ts: 1,
        };
        assert!(!a.same_as(&a.clone()));
        let b = Exemplar { value: 1.0, ..a };
        assert!(b.same_as(&b.clone()));
        assert!(!b.same_as(&Exemplar { ts: 2, ..b.clone() }));
    }
}
