//! Behaviour of the exemplar storage: Prometheus' validation rules, circular eviction,
//! resizing, queries and stats.

use super::*;
use crate::labels::{MatchType, Matcher};

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn ex(ts: i64, value: f64, trace: &str) -> Exemplar {
    Exemplar {
        labels: ls(&[("trace_id", trace)]),
        value,
        ts,
    }
}

fn all() -> Vec<Vec<Matcher>> {
    vec![vec![
        Matcher::new(MatchType::Regexp, "__name__", ".+").unwrap(),
    ]]
}

/// (series name, timestamps) of everything stored, per series.
fn dump(s: &ExemplarStorage) -> Vec<(String, Vec<i64>)> {
    s.select(&all(), i64::MIN, i64::MAX)
        .into_iter()
        .map(|se| {
            (
                se.series_labels.metric_name().unwrap_or("").to_string(),
                se.exemplars.iter().map(|e| e.ts).collect(),
            )
        })
        .collect()
}

#[test]
fn stored_exemplars_come_back_per_series_in_time_order() {
    let s = ExemplarStorage::new(10, 0).unwrap();
    let a = ls(&[("__name__", "a"), ("job", "x")]);
    let b = ls(&[("__name__", "b")]);
    assert_eq!(s.add(1, &a, &ex(10, 1.0, "t1")), Ok(true));
    assert_eq!(s.add(2, &b, &ex(11, 2.0, "t2")), Ok(true));
    assert_eq!(s.add(1, &a, &ex(20, 3.0, "t3")), Ok(true));
    let got = s.select(&all(), 0, 100);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].series_labels, a);
    assert_eq!(got[0].exemplars, vec![ex(10, 1.0, "t1"), ex(20, 3.0, "t3")]);
    assert_eq!(got[1].series_labels, b);
    assert_eq!(got[1].exemplars, vec![ex(11, 2.0, "t2")]);
}

#[test]
fn select_ors_matcher_sets_and_bounds_time_inclusively() {
    let s = ExemplarStorage::new(10, 0).unwrap();
    let a = ls(&[("__name__", "a"), ("job", "x")]);
    let b = ls(&[("__name__", "b"), ("job", "y")]);
    let c = ls(&[("__name__", "c")]);
    for (r, l) in [(1, &a), (2, &b), (3, &c)] {
        for ts in [10, 20, 30] {
            s.add(r, l, &ex(ts, 0.0, "t")).unwrap();
        }
    }
    let sets = vec![
        vec![Matcher::equal("job", "x")],
        vec![
            Matcher::equal("__name__", "b"),
            Matcher::new(MatchType::NotEqual, "job", "z").unwrap(),
        ],
    ];
    let got = s.select(&sets, 20, 30);
    let names: Vec<_> = got
        .iter()
        .map(|g| g.series_labels.metric_name().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert!(got.iter().all(|g| g.exemplars.len() == 2));
    // A matcher on an absent label sees the empty value.
    let absent = vec![vec![Matcher::equal("job", "")]];
    assert_eq!(s.select(&absent, 0, 100).len(), 1);
    // No matcher set selects nothing; an inverted range selects nothing.
    assert!(s.select(&[], 0, 100).is_empty());
    assert!(s.select(&all(), 31, 100).is_empty());
    assert!(s.select(&all(), 30, 20).is_empty());
    assert_eq!(s.select(&all(), 30, 30).len(), 3);
}

#[test]
fn full_buffer_evicts_the_oldest_ingested_exemplar() {
    let s = ExemplarStorage::new(3, 0).unwrap();
    let a = ls(&[("__name__", "a")]);
    let b = ls(&[("__name__", "b")]);
    s.add(1, &a, &ex(100, 0.0, "1")).unwrap();
    s.add(2, &b, &ex(1, 0.0, "2")).unwrap();
    s.add(1, &a, &ex(101, 0.0, "3")).unwrap();
    // Series b's exemplar is the oldest by timestamp, but a's first one was ingested
    // first: that one goes.
    s.add(2, &b, &ex(2, 0.0, "4")).unwrap();
    assert_eq!(
        dump(&s),
        vec![("a".into(), vec![101]), ("b".into(), vec![1, 2])]
    );
    s.add(2, &b, &ex(3, 0.0, "5")).unwrap();
    s.add(2, &b, &ex(4, 0.0, "6")).unwrap();
    // a lost its last exemplar and is gone from the index.
    assert_eq!(dump(&s), vec![("b".into(), vec![2, 3, 4])]);
    let st = s.stats();
    assert_eq!(st.exemplars_in_storage, 3);
    assert_eq!(st.series_with_exemplars, 1);
    assert_eq!(st.appended_total, 6);
    assert_eq!(st.oldest_timestamp, Some(2));
}

#[test]
fn duplicates_are_ignored_and_older_exemplars_are_out_of_order() {
    let s = ExemplarStorage::new(10, 0).unwrap();
    let a = ls(&[("__name__", "a")]);
    s.add(1, &a, &ex(10, 1.0, "t")).unwrap();
    assert_eq!(
        s.validate(1, &ex(10, 1.0, "t")),
        Err(ExemplarError::Duplicate)
    );
    assert_eq!(s.add(1, &a, &ex(10, 1.0, "t")), Ok(false));
    let ooo = ExemplarError::OutOfOrder {
        series_ref: 1,
        timestamp: 9,
        newest: 10,
    };
    assert_eq!(s.validate(1, &ex(9, 1.0, "u")), Err(ooo.clone()));
    assert_eq!(s.add(1, &a, &ex(9, 1.0, "u")), Err(ooo));
    // Same timestamp: a smaller value is out of order, a larger one is accepted (native
    // histograms have several exemplars per timestamp).
    assert!(matches!(
        s.validate(1, &ex(10, 0.5, "t")),
        Err(ExemplarError::OutOfOrder { .. })
    ));
    assert_eq!(s.add(1, &a, &ex(10, 2.0, "t")), Ok(true));
    // Another series is not affected.
    assert_eq!(s.validate(2, &ex(1, 0.0, "t")), Ok(()));
    assert_eq!(s.stats().out_of_order_total, 3);
    assert_eq!(s.stats().exemplars_in_storage, 2);
    assert_eq!(ooo_message(), "out of order exemplar");
}

fn ooo_message() -> String {
    ExemplarError::OutOfOrder {
        series_ref: 0,
        timestamp: 0,
        newest: 0,
    }
    .to_string()
}

#[test]
fn same_timestamp_and_value_are_ordered_by_label_hash() {
    let s = ExemplarStorage::new(10, 0).unwrap();
    let a = ls(&[("__name__", "a")]);
    let (x, y) = (ex(10, 1.0, "x"), ex(10, 1.0, "y"));
    let (low, high) = if x.labels.stable_hash() < y.labels.stable_hash() {
        (x, y)
    } else {
        (y, x)
    };
    s.add(1, &a, &high).unwrap();
    assert!(matches!(
        s.add(1, &a, &low),
        Err(ExemplarError::OutOfOrder { .. })
    ));
    let s = ExemplarStorage::new(10, 0).unwrap();
    s.add(1, &a, &low).unwrap();
    assert_eq!(s.add(1, &a, &high), Ok(true));
}

#[test]
fn out_of_order_window_accepts_late_exemplars_in_time_order() {
    let s = ExemplarStorage::new(10, 50).unwrap();
    let a = ls(&[("__name__", "a")]);
    for ts in [100, 120, 90, 110, 75] {
        assert_eq!(s.add(1, &a, &ex(ts, 0.0, "t")), Ok(true), "ts {ts}");
    }
    assert_eq!(dump(&s), vec![("a".into(), vec![75, 90, 100, 110, 120])]);
    // At or beyond the window: out of order.
    assert!(matches!(
        s.add(1, &a, &ex(70, 0.0, "t")),
        Err(ExemplarError::OutOfOrder { .. })
    ));
    // Inside the span at a stored timestamp: taken for a duplicate.
    assert_eq!(s.add(1, &a, &ex(110, 5.0, "other")), Ok(false));
    let got = s.select(&all(), 95, 115);
    assert_eq!(
        got[0].exemplars.iter().map(|e| e.ts).collect::<Vec<_>>(),
        [100, 110]
    );
}

#[test]
fn label_sets_longer_than_128_characters_are_refused() {
    let s = ExemplarStorage::new(10, 0).unwrap();
    // "trace_id" is 8 characters; 120 two-byte characters make 128 exactly.
    let ok = Exemplar {
        labels: ls(&[("trace_id", &"é".repeat(120))]),
        value: 0.0,
        ts: 1,
    };
    assert_eq!(s.validate(1, &ok), Ok(()));
    let long = Exemplar {
        labels: ls(&[("trace_id", &"é".repeat(121))]),
        value: 0.0,
        ts: 1,
    };
    assert_eq!(
        s.validate(1, &long),
        Err(ExemplarError::LabelLength { runes: 129 })
    );
    assert_eq!(
        s.add(1, &ls(&[("__name__", "a")]), &long),
        Err(ExemplarError::LabelLength { runes: 129 })
    );
    assert_eq!(
        ExemplarError::LabelLength { runes: 129 }.to_string(),
        "label length for exemplar exceeds maximum of 128 UTF-8 characters"
    );
}

#[test]
fn disabled_storage_refuses_and_can_be_enabled_later() {
    let s = ExemplarStorage::new(0, 0).unwrap();
    let a = ls(&[("__name__", "a")]);
    assert!(!s.is_enabled());
    assert_eq!(
        s.validate(1, &ex(1, 0.0, "t")),
        Err(ExemplarError::Disabled)
    );
    assert_eq!(s.add(1, &a, &ex(1, 0.0, "t")), Err(ExemplarError::Disabled));
    assert!(s.select(&all(), i64::MIN, i64::MAX).is_empty());
    assert_eq!(s.resize(2), Ok(0));
    assert_eq!(s.add(1, &a, &ex(1, 0.0, "t")), Ok(true));
    assert_eq!(s.stats().max_exemplars, 2);
    assert!(matches!(
        s.resize(usize::MAX),
        Err(ExemplarError::TooLarge { .. })
    ));
}

#[test]
fn resizing_keeps_the_newest_exemplars() {
    let s = ExemplarStorage::new(4, 0).unwrap();
    let a = ls(&[("__name__", "a")]);
    let b = ls(&[("__name__", "b")]);
    // Wrap around once so the oldest is not at the start of the buffer.
    for ts in 0..6 {
        let (r, l) = if ts % 2 == 0 { (1, &a) } else { (2, &b) };
        s.add(r, l, &ex(ts, 0.0, "t")).unwrap();
    }
    assert_eq!(
        dump(&s),
        vec![("a".into(), vec![2, 4]), ("b".into(), vec![3, 5])]
    );
    // Growing keeps everything, then fills before evicting.
    assert_eq!(s.resize(6), Ok(4));
    s.add(1, &a, &ex(6, 0.0, "t")).unwrap();
    s.add(2, &b, &ex(7, 0.0, "t")).unwrap();
    assert_eq!(
        dump(&s),
        vec![("a".into(), vec![2, 4, 6]), ("b".into(), vec![3, 5, 7])]
    );
    s.add(1, &a, &ex(8, 0.0, "t")).unwrap();
    assert_eq!(
        dump(&s),
        vec![("a".into(), vec![4, 6, 8]), ("b".into(), vec![3, 5, 7])]
    );
    // Shrinking drops the oldest ingested: 3 and 4.
    assert_eq!(s.resize(4), Ok(4));
    assert_eq!(
        dump(&s),
        vec![("a".into(), vec![6, 8]), ("b".into(), vec![5, 7])]
    );
    s.add(2, &b, &ex(9, 0.0, "t")).unwrap();
    assert_eq!(
        dump(&s),
        vec![("a".into(), vec![6, 8]), ("b".into(), vec![7, 9])]
    );
    assert_eq!(s.resize(1), Ok(1));
    assert_eq!(dump(&s), vec![("b".into(), vec![9])]);
    // Validation still sees the newest exemplar after resizing.
    assert!(matches!(
        s.validate(2, &ex(8, 0.0, "t")),
        Err(ExemplarError::OutOfOrder { .. })
    ));
    assert_eq!(s.resize(0), Ok(0));
    assert_eq!(s.stats().exemplars_in_storage, 0);
    assert_eq!(s.stats().series_with_exemplars, 0);
}

#[test]
fn for_each_walks_in_ingestion_order() {
    let s = ExemplarStorage::new(3, 0).unwrap();
    let a = ls(&[("__name__", "a")]);
    let b = ls(&[("__name__", "b")]);
    s.add(1, &a, &ex(5, 0.0, "t")).unwrap();
    s.add(2, &b, &ex(1, 0.0, "t")).unwrap();
    s.add(1, &a, &ex(6, 0.0, "t")).unwrap();
    s.add(2, &b, &ex(2, 0.0, "t")).unwrap();
    let mut seen = Vec::new();
    s.for_each(|r, l, e| seen.push((r, l.metric_name().unwrap().to_string(), e.ts)));
    assert_eq!(
        seen,
        [(2, "b".into(), 1), (1, "a".into(), 6), (2, "b".into(), 2)]
    );
}

#[test]
fn exemplars_of_a_recreated_series_are_merged_by_labels() {
    let s = ExemplarStorage::new(10, 0).unwrap();
    let a = ls(&[("__name__", "a")]);
    s.add(1, &a, &ex(10, 0.0, "t")).unwrap();
    s.add(7, &a, &ex(5, 0.0, "t")).unwrap();
    assert_eq!(dump(&s), vec![("a".into(), vec![5, 10])]);
}

#[test]
fn a_randomised_workload_keeps_the_newest_capacity_exemplars() {
    // A model check: the storage must hold exactly the newest `cap` accepted exemplars
    // in ingestion order, each series' in time order, through adds and resizes.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let labels: Vec<Labels> = (0..5)
        .map(|i| ls(&[("__name__", &format!("s{i}"))]))
        .collect();
    let s = ExemplarStorage::new(8, 30).unwrap();
    let mut cap = 8usize;
    let mut model: Vec<(u64, i64)> = Vec::new();
    let mut clock = 0i64;
    for step in 0..3000 {
        if rnd(50) == 0 {
            cap = rnd(12) as usize;
            s.resize(cap).unwrap();
            let keep = model.len().min(cap);
            model.drain(..model.len() - keep);
            continue;
        }
        clock += rnd(5) as i64;
        let r = rnd(5);
        let ts = clock - rnd(40) as i64;
        let e = ex(ts, step as f64, "t");
        if let Ok(true) = s.add(r, &labels[r as usize], &e) {
            model.push((r, ts));
            let keep = model.len().min(cap);
            model.drain(..model.len() - keep);
        }
        if step % 97 == 0 {
            let mut want: Vec<(String, Vec<i64>)> = Vec::new();
            for (i, l) in labels.iter().enumerate() {
                let mut ts: Vec<i64> = model
                    .iter()
                    .filter(|(r, _)| *r == i as u64)
                    .map(|(_, t)| *t)
                    .collect();
                ts.sort();
                if !ts.is_empty() {
                    want.push((l.metric_name().unwrap().to_string(), ts));
                }
            }
            assert_eq!(dump(&s), want, "step {step}");
            assert_eq!(s.stats().exemplars_in_storage, model.len() as u64);
        }
    }
}
