//! WAL replay of hand-written logs: series records that repeat labels under a new
//! reference, samples naming references no series record introduced, and postings
//! that are complete when the open returns.

use std::path::Path;

use cortex_tsdb::chunkenc::ValueType;
use cortex_tsdb::db::{Db, DbOptions};
use cortex_tsdb::labels::{Labels, MatchType, Matcher};
use cortex_tsdb::querier::SampleIterator;
use cortex_tsdb::record::{Encoder, RecordBatch, RefSample, RefSeries, encode_series};
use cortex_tsdb::wal::{Compression, Wal, WalOptions};

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn opts() -> DbOptions {
    DbOptions {
        retention: None,
        ..Default::default()
    }
}

/// Writes each step as one WAL record: series, or samples of one reference.
enum Step {
    Series(Vec<(u64, Labels)>),
    Samples(u64, std::ops::Range<i64>),
}

fn write_wal(wal_dir: &Path, steps: &[Step]) {
    let mut w = Wal::open(
        wal_dir,
        WalOptions {
            segment_size: 1 << 20,
            compression: Compression::Snappy,
        },
    )
    .unwrap();
    let enc = Encoder::default();
    for step in steps {
        match step {
            Step::Series(series) => {
                let series: Vec<RefSeries> = series
                    .iter()
                    .map(|(r, l)| RefSeries {
                        series_ref: *r,
                        labels: l.clone(),
                    })
                    .collect();
                let mut rec = Vec::new();
                encode_series(&series, &mut rec);
                w.log(&[rec]).unwrap();
            }
            Step::Samples(r, ts) => {
                // Records of 500 samples, as a scrape loop would commit them.
                let all: Vec<i64> = ts.clone().collect();
                for part in all.chunks(500) {
                    let samples: Vec<RefSample> = part
                        .iter()
                        .map(|&t| RefSample {
                            series_ref: *r,
                            st: 0,
                            t: t * 1000,
                            v: t as f64,
                        })
                        .collect();
                    let mut b = RecordBatch::new();
                    enc.samples(&samples, &mut b);
                    w.log_batch(&b).unwrap();
                }
            }
        }
    }
    w.close().unwrap();
}

/// Every float sample, as (labels, timestamp in seconds).
fn dump(db: &Db, matchers: &[Matcher]) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for s in db.querier(i64::MIN, i64::MAX).select(matchers).unwrap() {
        let mut it = s.iter();
        while let Some(vt) = it.next().unwrap() {
            assert_eq!(vt, ValueType::Float);
            let (t, v) = it.at();
            assert_eq!(v, (t / 1000) as f64);
            out.push((s.labels.to_string(), t / 1000));
        }
    }
    out
}

fn name_is(v: &str) -> Vec<Matcher> {
    vec![Matcher::new(MatchType::Equal, "__name__", v).unwrap()]
}

#[test]
fn a_series_repeated_under_a_new_reference_keeps_all_its_samples_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = ls(&[("__name__", "a"), ("job", "j")]);
    let b = ls(&[("__name__", "b"), ("job", "j")]);
    // Reference 4 repeats the labels of reference 1 (as when a series was collected
    // and created again). The two references fall to different replay workers; the
    // samples under 4 follow those under 1 and must not overtake them.
    write_wal(
        &dir.path().join("wal"),
        &[
            Step::Series(vec![(1, a.clone()), (2, b.clone())]),
            Step::Samples(1, 1..6001),
            Step::Samples(2, 1..3001),
            Step::Series(vec![(4, a.clone())]),
            Step::Samples(4, 6001..12001),
            Step::Samples(2, 3001..6001),
        ],
    );
    let db = Db::open(dir.path(), opts()).unwrap();
    let st = db.replay_stats().clone();
    assert_eq!(st.series, 2, "{st:?}");
    assert_eq!(st.samples, 18_000, "{st:?}");
    assert_eq!(st.out_of_order, 0, "{st:?}");
    assert_eq!(st.unknown_series_refs, 0, "{st:?}");
    let got = dump(&db, &name_is("a"));
    let want: Vec<(String, i64)> = (1..12001).map(|t| (a.to_string(), t)).collect();
    assert_eq!(got, want);
    assert_eq!(dump(&db, &name_is("b")).len(), 6000);
    // Appends go on under the series' own reference after the open.
    let mut app = db.appender();
    app.append(&a, 12001 * 1000, 12001.0).unwrap();
    app.commit().unwrap();
    assert_eq!(dump(&db, &name_is("a")).len(), 12001);
}

#[test]
fn samples_of_unknown_references_are_counted_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let a = ls(&[("__name__", "a")]);
    write_wal(
        &dir.path().join("wal"),
        &[
            Step::Samples(9, 1..101),
            Step::Series(vec![(1, a.clone())]),
            Step::Samples(1, 1..3001),
            Step::Samples(2, 1..51),
        ],
    );
    let db = Db::open(dir.path(), opts()).unwrap();
    let st = db.replay_stats().clone();
    assert_eq!(st.unknown_series_refs, 150, "{st:?}");
    assert_eq!(st.samples, 3000, "{st:?}");
    assert_eq!(dump(&db, &name_is("a")).len(), 3000);
}

#[test]
fn every_replayed_series_is_in_the_postings() {
    let dir = tempfile::tempdir().unwrap();
    let series: Vec<(u64, Labels)> = (1..=5000u64)
        .map(|r| {
            let pod = format!("p{r}");
            let parity = if r % 2 == 0 { "even" } else { "odd" };
            (
                r,
                ls(&[("__name__", "m"), ("parity", parity), ("pod", &pod)]),
            )
        })
        .collect();
    let mut steps = vec![Step::Series(series)];
    steps.extend((1..=5000u64).map(|r| Step::Samples(r, 1..3)));
    write_wal(&dir.path().join("wal"), &steps);
    let db = Db::open(dir.path(), opts()).unwrap();
    let even = vec![
        Matcher::new(MatchType::Equal, "__name__", "m").unwrap(),
        Matcher::new(MatchType::Equal, "parity", "even").unwrap(),
    ];
    assert_eq!(dump(&db, &even).len(), 2 * 2500);
    let one = vec![Matcher::new(MatchType::Equal, "pod", "p4999").unwrap()];
    assert_eq!(
        dump(&db, &one),
        vec![
            (
                "{__name__=\"m\", parity=\"odd\", pod=\"p4999\"}".to_string(),
                1
            ),
            (
                "{__name__=\"m\", parity=\"odd\", pod=\"p4999\"}".to_string(),
                2
            )
        ]
    );
    let values = db.head().label_values("pod", &[]);
    assert_eq!(values.len(), 5000);
}
