//! Questions about the head's series that a caller asks before appending or for its
//! statistics: does a series exist, how many series carry a label, how many were
//! written to recently. Limits on series counts (per tenant, per metric) are enforced
//! with these; the head itself enforces none.

use std::sync::atomic::Ordering;
use std::time::Duration;

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

    /// Time since the head was opened: the clock commits stamp series with.
    pub fn clock(&self) -> Duration {
        self.opened.elapsed()
    }

    /// How many series a commit stored a sample in within the last `window` (to the
    /// second; Cortex's active series). Series only replayed from the WAL do not count
    /// until they get a new sample. Visits every series.
    pub fn active_series(&self, window: Duration) -> usize {
        let now = self.clock().as_secs();
        // `touched` is seconds plus one; a series touched at second `s` is active while
        // `now - s <= window`.
        let oldest = now.saturating_sub(window.as_secs()) + 1;
        self.series
            .count_where(|s| u64::from(s.touched.load(Ordering::Relaxed)) >= oldest)
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

    #[test]
    fn handles_append_without_a_second_lookup_and_survive_collection() {
        let dir = tempfile::tempdir().unwrap();
        let (head, _) = Head::open(dir.path(), HeadOptions::default(), i64::MIN).unwrap();
        let a = Labels::from_pairs([("__name__", "up"), ("job", "a")]).unwrap();
        let mut app = head.appender();
        assert!(app.find(&a, a.stable_hash()).is_none());
        let h = app.append_new(&a, 1000, 1.0).unwrap();
        app.append_to(&h, 2000, 2.0).unwrap();
        assert!(app.append_to(&h, 1500, 3.0).is_err(), "out of order");
        app.commit().unwrap();
        let app = head.appender();
        let found = app.find(&a, a.stable_hash()).unwrap();
        assert_eq!(found.series_ref(), h.series_ref());
        assert_eq!(found.labels(), &a);
        drop(app);
        // Collected while a handle is held: a later sample goes to a fresh series.
        head.truncate(3000).unwrap();
        assert!(!head.contains_series(&a));
        let mut app = head.appender();
        app.append_to(&found, 4000, 4.0).unwrap();
        app.commit().unwrap();
        let app = head.appender();
        let fresh = app.find(&a, a.stable_hash()).unwrap();
        assert_ne!(fresh.series_ref(), found.series_ref());
    }

    #[test]
    fn a_series_with_pending_samples_survives_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let (head, _) = Head::open(dir.path(), HeadOptions::default(), i64::MIN).unwrap();
        let a = Labels::from_pairs([("__name__", "up"), ("job", "a")]).unwrap();
        let mut app = head.appender();
        let r = app.append(&a, 1000, 1.0).unwrap();
        app.commit().unwrap();
        // Added by reference, so nothing but the head holds the series while its
        // sample waits; the truncation drops its only committed sample.
        let mut app = head.appender();
        app.append_ref(r, 5000, 5.0).unwrap();
        head.truncate(3000).unwrap();
        assert!(
            head.contains_series(&a),
            "a series with pending samples stays"
        );
        let stats = app.commit().unwrap();
        assert_eq!((stats.appended, stats.rejected), (1, 0));
        head.truncate(3000).unwrap();
        assert!(
            head.contains_series(&a),
            "it holds a sample after the truncation"
        );
        let app = head.appender();
        assert_eq!(app.find(&a, a.stable_hash()).unwrap().series_ref(), r);
        // Without a sample it goes at the next truncation past its data.
        drop(app);
        head.truncate(6000).unwrap();
        assert!(!head.contains_series(&a));
    }

    #[test]
    fn active_series_counts_series_written_within_the_window() {
        let dir = tempfile::tempdir().unwrap();
        // Samples before 5000 are out of bounds.
        let (head, _) = Head::open(dir.path(), HeadOptions::default(), 5000).unwrap();
        let window = std::time::Duration::from_secs(600);
        assert_eq!(head.active_series(window), 0);
        let mut app = head.appender();
        for job in ["a", "b", "c"] {
            let l = Labels::from_pairs([("__name__", "up"), ("job", job)]).unwrap();
            app.append(&l, 6000, 1.0).unwrap();
        }
        // A refused sample neither creates its series nor makes it active.
        let d = Labels::from_pairs([("__name__", "up"), ("job", "d")]).unwrap();
        assert!(app.append(&d, 1000, 1.0).is_err());
        assert!(app.append_new(&d, 1000, 1.0).is_err());
        app.commit().unwrap();
        assert!(!head.contains_series(&d));
        assert_eq!(head.active_series(window), 3);
    }

    #[test]
    fn replayed_series_are_not_active_until_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let l = Labels::from_pairs([("__name__", "up")]).unwrap();
        {
            let (head, _) = Head::open(dir.path(), HeadOptions::default(), i64::MIN).unwrap();
            let mut app = head.appender();
            app.append(&l, 1000, 1.0).unwrap();
            app.commit().unwrap();
        }
        let (head, _) = Head::open(dir.path(), HeadOptions::default(), i64::MIN).unwrap();
        let window = std::time::Duration::from_secs(600);
        assert!(head.contains_series(&l));
        assert_eq!(head.active_series(window), 0);
        let mut app = head.appender();
        app.append(&l, 2000, 1.0).unwrap();
        app.commit().unwrap();
        assert_eq!(head.active_series(window), 1);
    }
}
