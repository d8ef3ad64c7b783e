//! Questions about the head's series that a caller asks before appending: does a series
//! exist, and how many series carry a label. Limits on series counts (per tenant, per
//! metric) are enforced with these; the head itself enforces none.

use super::Head;
use crate::labels::Labels;

impl Head {
    /// True when the head holds a series with exactly `labels`.
    pub fn contains_series(&self, labels: &Labels) -> bool {
        self.series
            .get_by_labels(labels.stable_hash(), labels)
            .is_some()
    }

    /// How many series in the head carry the label `name="value"` (for example how many
    /// series a metric name has).
    pub fn num_series_with_label(&self, name: &str, value: &str) -> u64 {
        self.postings.count(name, value)
    }
}

#[cfg(test)]
mod tests {
    use crate::head::{Head, HeadOptions};
    use crate::labels::Labels;

    #[test]
    fn lookups_follow_appends_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let (head, _) = Head::open(dir.path(), HeadOptions::default(), i64::MIN).unwrap();
        let a = Labels::from_pairs([("__name__", "up"), ("job", "a")]).unwrap();
        let b = Labels::from_pairs([("__name__", "up"), ("job", "b")]).unwrap();
        let c = Labels::from_pairs([("__name__", "other")]).unwrap();
        assert!(!head.contains_series(&a));
        let mut app = head.appender();
        app.append(&a, 1000, 1.0).unwrap();
        app.append(&b, 1000, 1.0).unwrap();
        app.append(&c, 1000, 1.0).unwrap();
        app.commit().unwrap();
        assert!(head.contains_series(&a));
        assert!(!head.contains_series(&Labels::from_pairs([("__name__", "up")]).unwrap()));
        assert_eq!(head.num_series_with_label("__name__", "up"), 2);
        assert_eq!(head.num_series_with_label("__name__", "other"), 1);
        assert_eq!(head.num_series_with_label("__name__", "none"), 0);
        head.truncate(2000).unwrap();
        assert!(!head.contains_series(&a));
        assert_eq!(head.num_series_with_label("__name__", "up"), 0);
    }
}
