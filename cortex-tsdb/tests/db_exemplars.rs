//! Exemplars through a `Db`: appended and validated by the head appender, logged in the
//! WAL at commit, replayed on open (after a clean close, after a kill, through a
//! checkpoint, from records encoded as Prometheus writes them), queried with matcher
//! sets, resized at runtime, and used from several threads at once.

use std::path::Path;
use std::sync::Arc;

use cortex_tsdb::db::{Db, DbOptions};
use cortex_tsdb::exemplar::{Exemplar, ExemplarSeries};
use cortex_tsdb::head::ExemplarError;
use cortex_tsdb::labels::{Labels, MatchType, Matcher};
use cortex_tsdb::record::{Encoder, RecordBatch, RefExemplar, RefSample, RefSeries, encode_series};
use cortex_tsdb::wal::{
    CheckpointOptions, Compression, Wal, WalOptions, checkpoint, last_checkpoint,
};

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

fn opts(max_exemplars: usize) -> DbOptions {
    DbOptions {
        retention: None,
        max_exemplars,
        ..Default::default()
    }
}

fn all() -> Vec<Vec<Matcher>> {
    vec![vec![
        Matcher::new(MatchType::Regexp, "__name__", ".+").unwrap(),
    ]]
}

fn everything(db: &Db) -> Vec<ExemplarSeries> {
    db.exemplars(&all(), i64::MIN, i64::MAX).unwrap()
}

/// Appends a sample and an exemplar at `ts` for series `name` and commits; returns the
/// series reference.
fn append(db: &Db, name: &str, ts: i64, e: &Exemplar) -> u64 {
    let mut app = db.appender();
    let r = app.append(&ls(&[("__name__", name)]), ts, 1.0).unwrap();
    app.append_exemplar(r, e).unwrap();
    app.commit().unwrap();
    r
}

#[test]
fn committed_exemplars_are_queryable_and_pending_ones_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(100)).unwrap();
    let mut app = db.appender();
    let a = app
        .append(&ls(&[("__name__", "a"), ("job", "x")]), 10, 1.0)
        .unwrap();
    let b = app.append(&ls(&[("__name__", "b")]), 10, 1.0).unwrap();
    app.append_exemplar(a, &ex(10, 0.5, "t1")).unwrap();
    app.append_exemplar(b, &ex(9, 0.25, "t2")).unwrap();
    app.append_exemplar(a, &ex(11, 0.75, "t3")).unwrap();
    assert_eq!(app.num_exemplars(), 3);
    assert!(everything(&db).is_empty());
    app.commit().unwrap();

    let got = db
        .exemplars(&[vec![Matcher::equal("job", "x")]], 0, 100)
        .unwrap();
    assert_eq!(
        got,
        vec![ExemplarSeries {
            series_labels: ls(&[("__name__", "a"), ("job", "x")]),
            exemplars: vec![ex(10, 0.5, "t1"), ex(11, 0.75, "t3")],
        }]
    );
    // Several matcher sets are OR'ed; the time range is inclusive.
    let sets = vec![
        vec![Matcher::equal("__name__", "b")],
        vec![Matcher::equal("job", "x")],
    ];
    let got = db.exemplars(&sets, 9, 10).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].exemplars, vec![ex(10, 0.5, "t1")]);
    assert_eq!(got[1].exemplars, vec![ex(9, 0.25, "t2")]);
    let st = db.exemplar_stats();
    assert_eq!(st.exemplars_in_storage, 3);
    assert_eq!(st.series_with_exemplars, 2);
    assert_eq!(st.appended_total, 3);
}

#[test]
fn appender_refuses_bad_exemplars_and_ignores_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(100)).unwrap();
    append(&db, "a", 10, &ex(10, 1.0, "t"));
    let mut app = db.appender();
    let r = app.append(&ls(&[("__name__", "a")]), 20, 1.0).unwrap();
    // The same exemplar again: no error, not stored twice.
    app.append_exemplar(r, &ex(10, 1.0, "t")).unwrap();
    assert_eq!(app.num_exemplars(), 0);
    assert!(matches!(
        app.append_exemplar(r, &ex(9, 1.0, "t")),
        Err(ExemplarError::OutOfOrder {
            timestamp: 9,
            newest: 10,
            ..
        })
    ));
    let long = Exemplar {
        labels: ls(&[("trace_id", &"x".repeat(121))]),
        value: 0.0,
        ts: 20,
    };
    assert!(matches!(
        app.append_exemplar(r, &long),
        Err(ExemplarError::LabelLength { runes: 129 })
    ));
    assert_eq!(
        app.append_exemplar(9999, &ex(20, 0.0, "t")),
        Err(ExemplarError::UnknownSeries(9999))
    );
    app.append_exemplar(r, &ex(20, 2.0, "u")).unwrap();
    app.commit().unwrap();
    assert_eq!(
        everything(&db)[0].exemplars,
        vec![ex(10, 1.0, "t"), ex(20, 2.0, "u")]
    );
    assert_eq!(db.exemplar_stats().out_of_order_total, 1);
}

#[test]
fn two_appenders_racing_for_a_series_drop_the_late_exemplar_at_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(100)).unwrap();
    let r = append(&db, "a", 10, &ex(10, 1.0, "t"));
    let mut first = db.appender();
    let mut second = db.appender();
    first.append_exemplar(r, &ex(30, 1.0, "late")).unwrap();
    second.append_exemplar(r, &ex(40, 1.0, "early")).unwrap();
    second.commit().unwrap();
    // Valid when appended, out of order by the time it commits: dropped, no error.
    first.commit().unwrap();
    let ts: Vec<i64> = everything(&db)[0].exemplars.iter().map(|e| e.ts).collect();
    assert_eq!(ts, [10, 40]);
}

#[test]
fn rollback_drops_exemplars_from_memory_and_wal() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts(100)).unwrap();
        let mut app = db.appender();
        let r = app.append(&ls(&[("__name__", "a")]), 10, 1.0).unwrap();
        app.append_exemplar(r, &ex(10, 1.0, "t")).unwrap();
        app.rollback();
        assert!(everything(&db).is_empty());
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), opts(100)).unwrap();
    assert!(everything(&db).is_empty());
    assert_eq!(db.replay_stats().exemplars, 0);
}

#[test]
fn disabled_storage_drops_exemplars_silently_until_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(0)).unwrap();
    let mut app = db.appender();
    let r = app.append(&ls(&[("__name__", "a")]), 10, 1.0).unwrap();
    app.append_exemplar(r, &ex(10, 1.0, "t")).unwrap();
    // Even an unknown reference is not an error while disabled (Prometheus' order).
    app.append_exemplar(12345, &ex(10, 1.0, "t")).unwrap();
    assert_eq!(app.num_exemplars(), 0);
    app.commit().unwrap();
    assert!(everything(&db).is_empty());

    assert_eq!(db.set_max_exemplars(10).unwrap(), 0);
    append(&db, "a", 20, &ex(20, 1.0, "t"));
    assert_eq!(everything(&db)[0].exemplars, vec![ex(20, 1.0, "t")]);
    assert_eq!(db.exemplar_stats().max_exemplars, 10);
}

#[test]
fn exemplars_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let before;
    {
        let db = Db::open(dir.path(), opts(100)).unwrap();
        for i in 0..20 {
            let name = if i % 2 == 0 { "a" } else { "b" };
            append(&db, name, i * 10, &ex(i * 10, i as f64, &format!("t{i}")));
        }
        // An exemplar without labels round-trips too.
        let mut app = db.appender();
        let r = app.append(&ls(&[("__name__", "c")]), 500, 1.0).unwrap();
        app.append_exemplar(
            r,
            &Exemplar {
                labels: Labels::empty(),
                value: -1.5,
                ts: 500,
            },
        )
        .unwrap();
        app.commit().unwrap();
        before = everything(&db);
        assert_eq!(before.len(), 3);
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), opts(100)).unwrap();
    assert_eq!(everything(&db), before);
    assert_eq!(db.replay_stats().exemplars, 21);
    // Validation continues from the replayed state.
    let mut app = db.appender();
    let r = app.append(&ls(&[("__name__", "a")]), 1000, 1.0).unwrap();
    assert!(matches!(
        app.append_exemplar(r, &ex(100, 0.0, "x")),
        Err(ExemplarError::OutOfOrder { .. })
    ));
}

#[test]
fn exemplars_committed_before_a_kill_are_replayed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts(100)).unwrap();
        append(&db, "a", 10, &ex(10, 1.0, "t1"));
        append(&db, "a", 20, &ex(20, 2.0, "t2"));
        // Pending, never committed.
        let mut app = db.appender();
        let r = app.append(&ls(&[("__name__", "a")]), 30, 1.0).unwrap();
        app.append_exemplar(r, &ex(30, 3.0, "t3")).unwrap();
        std::mem::forget(app);
        // Dropped without close: no flush, no sync.
        drop(db);
    }
    let db = Db::open(dir.path(), opts(100)).unwrap();
    assert_eq!(
        everything(&db)[0].exemplars,
        vec![ex(10, 1.0, "t1"), ex(20, 2.0, "t2")]
    );
}

#[test]
fn reopening_with_a_smaller_buffer_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts(100)).unwrap();
        for i in 0..10 {
            append(&db, "a", i, &ex(i, 0.0, "t"));
        }
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), opts(3)).unwrap();
    let ts: Vec<i64> = everything(&db)[0].exemplars.iter().map(|e| e.ts).collect();
    assert_eq!(ts, [7, 8, 9]);
    drop(db);
    // Disabled: the records are skipped.
    let db = Db::open(dir.path(), opts(0)).unwrap();
    assert!(everything(&db).is_empty());
    assert_eq!(db.replay_stats().exemplars, 0);
}

#[test]
fn runtime_resize_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(5)).unwrap();
    for i in 0..8 {
        let name = if i % 2 == 0 { "a" } else { "b" };
        append(&db, name, i, &ex(i, 0.0, "t"));
    }
    assert_eq!(db.set_max_exemplars(3).unwrap(), 3);
    let got: Vec<Vec<i64>> = everything(&db)
        .iter()
        .map(|s| s.exemplars.iter().map(|e| e.ts).collect())
        .collect();
    assert_eq!(got, [vec![6], vec![5, 7]]);
    assert_eq!(db.set_max_exemplars(10).unwrap(), 3);
    append(&db, "a", 8, &ex(8, 0.0, "t"));
    assert_eq!(db.exemplar_stats().exemplars_in_storage, 4);
    assert_eq!(db.set_max_exemplars(0).unwrap(), 0);
    assert!(everything(&db).is_empty());
}

/// A WAL written the way Prometheus writes one: series, samples and exemplar records,
/// one of them assembled byte by byte from the format description.
fn write_prometheus_wal(wal_dir: &Path) {
    let mut w = Wal::open(
        wal_dir,
        WalOptions {
            segment_size: 32 * 1024,
            compression: Compression::Snappy,
        },
    )
    .unwrap();
    let series: Vec<RefSeries> = (1..=3)
        .map(|r| RefSeries {
            series_ref: r,
            labels: ls(&[
                ("__name__", "http_requests_total"),
                ("pod", &format!("p{r}")),
            ]),
        })
        .collect();
    let mut rec = Vec::new();
    encode_series(&series, &mut rec);
    w.log(&[rec]).unwrap();
    let enc = Encoder::default();
    for seg in 0..4i64 {
        let mut b = RecordBatch::new();
        let samples: Vec<RefSample> = (1..=3)
            .map(|r| RefSample {
                series_ref: r,
                st: 0,
                t: 1000 * seg,
                v: seg as f64,
            })
            .collect();
        enc.samples(&samples, &mut b);
        let exemplars: Vec<RefExemplar> = (1..=3)
            .map(|r| RefExemplar {
                series_ref: r,
                t: 1000 * seg,
                v: seg as f64 + 0.5,
                labels: ls(&[("trace_id", &format!("{r}-{seg}"))]),
            })
            .collect();
        enc.exemplars(&exemplars, &mut b);
        w.log_batch(&b).unwrap();
        w.next_segment().unwrap();
    }
    // Type 4, ref 2 and t 5000 as BE64, zero deltas, value 7.25, one label.
    let mut rec = vec![4u8];
    rec.extend_from_slice(&2u64.to_be_bytes());
    rec.extend_from_slice(&5000u64.to_be_bytes());
    rec.extend_from_slice(&[0, 0]);
    rec.extend_from_slice(&7.25f64.to_bits().to_be_bytes());
    rec.extend_from_slice(&[1, 8]);
    rec.extend_from_slice(b"trace_id");
    rec.extend_from_slice(&[3]);
    rec.extend_from_slice(b"abc");
    w.log(&[rec]).unwrap();
    w.close().unwrap();
}

/// An exemplar as (timestamp, value, trace ID).
type Row = (i64, f64, String);

#[test]
fn a_prometheus_wal_with_exemplars_and_a_checkpoint_loads() {
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join("wal");
    write_prometheus_wal(&wal_dir);
    // Fold the first two segments into a checkpoint keeping series 1 and 2 and data
    // from t=1000 on (what a head truncation does).
    let stats = checkpoint(
        &wal_dir,
        0,
        1,
        |r| r != 3,
        1000,
        CheckpointOptions::default(),
    )
    .unwrap();
    assert_eq!(stats.total_exemplars, 6);
    assert_eq!(stats.dropped_exemplars, 3);
    assert_eq!(last_checkpoint(&wal_dir).unwrap().unwrap().1, 1);
    for seg in ["00000000", "00000001"] {
        std::fs::remove_file(wal_dir.join(seg)).unwrap();
    }

    let db = Db::open(dir.path(), opts(100)).unwrap();
    let got = everything(&db);
    let view: Vec<(String, Vec<Row>)> = got
        .iter()
        .map(|s| {
            (
                s.series_labels.get("pod").unwrap().to_string(),
                s.exemplars
                    .iter()
                    .map(|e| (e.ts, e.value, e.labels.get("trace_id").unwrap().to_string()))
                    .collect(),
            )
        })
        .collect();
    let row = |r: i64, segs: &[i64]| -> Vec<Row> {
        segs.iter()
            .map(|&s| (1000 * s, s as f64 + 0.5, format!("{r}-{s}")))
            .collect()
    };
    let mut p2 = row(2, &[1, 2, 3]);
    p2.push((5000, 7.25, "abc".into()));
    // Series 3 was dropped by the checkpoint: its later exemplars name a reference no
    // series record introduces, so they are skipped, as in Prometheus.
    assert_eq!(
        view,
        vec![("p1".into(), row(1, &[1, 2, 3])), ("p2".into(), p2)]
    );
    assert_eq!(db.replay_stats().exemplars, 7);
    assert!(db.replay_stats().unknown_series_refs >= 2);
}

#[test]
fn head_truncation_checkpoints_exemplars_of_kept_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(100_000);
    o.head.chunk_range = 1000;
    o.head.wal_segment_size = 32 * 1024;
    let names: Vec<String> = (0..30).map(|i| format!("s{i}")).collect();
    let before;
    let min_valid;
    {
        let db = Db::open(dir.path(), o.clone()).unwrap();
        for t in (0..6000).step_by(20) {
            let mut app = db.appender();
            for (i, n) in names.iter().enumerate() {
                let r = app.append(&ls(&[("__name__", n)]), t, t as f64).unwrap();
                if (t / 20) % 5 == i as i64 % 5 {
                    app.append_exemplar(r, &ex(t, i as f64, &format!("{n}-{t}")))
                        .unwrap();
                }
            }
            app.commit().unwrap();
        }
        let st = db.compact().unwrap();
        assert!(st.head_blocks >= 2, "{st:?}");
        assert!(
            last_checkpoint(&dir.path().join("wal")).unwrap().is_some(),
            "the truncation wrote no checkpoint"
        );
        min_valid = db.head().min_valid_time();
        assert!(min_valid > 0);
        // The buffer keeps exemplars older than the head until they are evicted.
        assert!(everything(&db)[0].exemplars[0].ts < min_valid);
        before = db.exemplars(&all(), min_valid, i64::MAX).unwrap();
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), o).unwrap();
    assert_eq!(everything(&db), before);
    assert_eq!(db.replay_stats().unknown_series_refs, 0);
}

#[test]
fn concurrent_appenders_and_queriers_see_ordered_bounded_exemplars() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(500)).unwrap();
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for t in 0..400i64 {
                    let mut app = db.appender();
                    for s in 0..4 {
                        let name = format!("w{w}_s{s}");
                        let r = app.append(&ls(&[("__name__", &name)]), t, 1.0).unwrap();
                        app.append_exemplar(r, &ex(t, t as f64, "x")).unwrap();
                    }
                    app.commit().unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let got = everything(&db);
                    let total: usize = got.iter().map(|s| s.exemplars.len()).sum();
                    assert!(total <= 500, "{total} exemplars in a buffer of 500");
                    for s in &got {
                        assert!(
                            s.exemplars.windows(2).all(|w| w[0].ts < w[1].ts),
                            "exemplars of {:?} out of time order",
                            s.series_labels
                        );
                    }
                    let _ = db.exemplar_stats();
                }
            })
        })
        .collect();
    let resizer = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || {
            for n in [400, 600, 500] {
                db.set_max_exemplars(n).unwrap();
            }
        })
    };
    for h in writers.into_iter().chain(readers).chain([resizer]) {
        h.join().unwrap();
    }
    let st = db.exemplar_stats();
    assert_eq!(st.appended_total, 3 * 4 * 400);
    // 500, unless the resizer ran after the last commit (it keeps 400 then).
    assert!((400..=500).contains(&st.exemplars_in_storage), "{st:?}");
    // The newest exemplar of every series is still there.
    for s in everything(&db) {
        assert_eq!(s.exemplars.last().unwrap().ts, 399);
    }
}
