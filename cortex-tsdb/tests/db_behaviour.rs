//! The local TSDB's behaviour: appends and their errors, isolation, replay after reopen,
//! head compaction into blocks, block merges, retention, deletion, concurrency.

use std::sync::Arc;

use cortex_tsdb::chunkenc::ValueType;
use cortex_tsdb::db::{Db, DbOptions};
use cortex_tsdb::head::{AppendError, HeadOptions};
use cortex_tsdb::histogram::{Histogram, Span};
use cortex_tsdb::labels::{Labels, MatchType, Matcher};
use cortex_tsdb::querier::SampleIterator;

const H: i64 = 3_600_000;

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn opts() -> DbOptions {
    DbOptions {
        retention: None,
        ..Default::default()
    }
}

fn all() -> Vec<Matcher> {
    vec![Matcher::new(MatchType::Regexp, "__name__", ".+").unwrap()]
}

/// Every float sample of every series, as (labels, t, value bits).
fn dump(db: &Db, mint: i64, maxt: i64) -> Vec<(String, i64, u64)> {
    let mut out = Vec::new();
    for s in db.querier(mint, maxt).select(&all()).unwrap() {
        let mut it = s.iter();
        while let Some(vt) = it.next().unwrap() {
            if vt == ValueType::Float {
                let (t, v) = it.at();
                out.push((s.labels.to_string(), t, v.to_bits()));
            } else {
                let (t, h) = it.at_float_histogram();
                out.push((s.labels.to_string(), t, h.count.to_bits()));
            }
        }
    }
    out
}

#[test]
fn committed_samples_are_visible_and_uncommitted_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let a = ls(&[("__name__", "a"), ("job", "x")]);
    let mut app = db.appender();
    for i in 0..10 {
        app.append(&a, i * 1000, i as f64).unwrap();
    }
    assert!(
        dump(&db, i64::MIN, i64::MAX).is_empty(),
        "visible before commit"
    );
    let stats = app.commit().unwrap();
    assert_eq!(stats.appended, 10);
    assert_eq!(dump(&db, i64::MIN, i64::MAX).len(), 10);
    let mut app = db.appender();
    app.append(&a, 20_000, 1.0).unwrap();
    app.rollback();
    assert_eq!(
        dump(&db, i64::MIN, i64::MAX).len(),
        10,
        "rolled back sample visible"
    );
    assert_eq!(dump(&db, 3000, 5000).len(), 3);
}

#[test]
fn order_duplicate_and_bounds_errors_follow_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let a = ls(&[("__name__", "a")]);
    let mut app = db.appender();
    app.append(&a, 10 * H, 1.0).unwrap();
    app.commit().unwrap();
    let mut app = db.appender();
    assert!(matches!(
        app.append(&a, 10 * H - 1, 1.0),
        Err(AppendError::OutOfOrder { .. })
    ));
    assert!(matches!(
        app.append(&a, 10 * H, 2.0),
        Err(AppendError::Duplicate { .. })
    ));
    app.append(&a, 10 * H, 1.0).unwrap(); // same value: accepted and ignored
    // More than half a chunk range behind the newest sample: out of bounds.
    let b = ls(&[("__name__", "b")]);
    assert!(matches!(
        app.append(&b, 10 * H - 2 * H, 1.0),
        Err(AppendError::OutOfBounds { .. })
    ));
    app.append(&b, 10 * H - H / 2, 1.0).unwrap();
    // Within one appender, order is enforced too.
    app.append(&b, 10 * H - H / 4, 1.0).unwrap();
    assert!(matches!(
        app.append(&b, 10 * H - H / 3, 1.0),
        Err(AppendError::OutOfOrder { .. })
    ));
    let st = app.commit().unwrap();
    // The same-value duplicate was dropped when appended.
    assert_eq!((st.appended, st.duplicates_ignored, st.rejected), (2, 0, 0));
    assert_eq!(dump(&db, i64::MIN, i64::MAX).len(), 3);
}

#[test]
fn out_of_order_window_accepts_late_samples_and_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.head.out_of_order_window = 30 * 60_000;
    {
        let db = Db::open(dir.path(), o.clone()).unwrap();
        let a = ls(&[("__name__", "a")]);
        let mut app = db.appender();
        for t in [0, 60_000, 120_000] {
            app.append(&a, t, t as f64).unwrap();
        }
        app.commit().unwrap();
        let mut app = db.appender();
        app.append(&a, 30_000, 30_000.0).unwrap();
        app.append(&a, 90_000, 90_000.0).unwrap();
        // Too late even for the window.
        app.append(&a, 200 * 60_000, 1.0).unwrap();
        assert!(matches!(
            app.append(&a, 60 * 60_000, 1.0),
            Err(AppendError::OutOfOrder { .. })
        ));
        app.commit().unwrap();
        let times: Vec<i64> = dump(&db, i64::MIN, 150_000).iter().map(|x| x.1).collect();
        assert_eq!(times, vec![0, 30_000, 60_000, 90_000, 120_000]);
        db.close().unwrap();
    }
    // Survives a replay.
    let db = Db::open(dir.path(), o).unwrap();
    let times: Vec<i64> = dump(&db, i64::MIN, 150_000).iter().map(|x| x.1).collect();
    assert_eq!(times, vec![0, 30_000, 60_000, 90_000, 120_000]);
}

fn fill(db: &Db, series: usize, from: i64, to: i64, step: i64) {
    let mut t = from;
    while t < to {
        let mut app = db.appender();
        for s in 0..series {
            let l = ls(&[("__name__", "m"), ("s", &s.to_string())]);
            app.append(&l, t, (t / step + s as i64) as f64).unwrap();
        }
        app.commit().unwrap();
        t += step;
    }
}

#[test]
fn reopen_replays_wal_and_head_chunk_files() {
    let dir = tempfile::tempdir().unwrap();
    let before;
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        // 1500 samples per series: several full chunks go to chunks_head.
        fill(&db, 20, 0, 1500 * 4000, 4000);
        before = dump(&db, i64::MIN, i64::MAX);
        assert_eq!(before.len(), 20 * 1500);
    }
    assert!(
        std::fs::read_dir(dir.path().join("chunks_head"))
            .unwrap()
            .count()
            > 0
    );
    let db = Db::open(dir.path(), opts()).unwrap();
    let st = db.replay_stats().clone();
    assert!(
        st.mmapped_chunks > 0 && st.samples_in_chunk_files > 0,
        "{st:?}"
    );
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
    // And appending continues where it stopped.
    fill(&db, 20, 1500 * 4000, 1600 * 4000, 4000);
    assert_eq!(dump(&db, i64::MIN, i64::MAX).len(), 20 * 1600);
}

#[test]
fn head_is_cut_into_blocks_and_data_stays_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    // 7 hours at 15 s: the head spans more than 1.5 chunk ranges twice over.
    fill(&db, 10, 0, 7 * H, 15_000);
    let before = dump(&db, i64::MIN, i64::MAX);
    let st = db.compact().unwrap();
    assert!(st.head_blocks >= 2, "{st:?}");
    let blocks = db.blocks();
    assert_eq!(blocks[0].meta().min_time, 0);
    assert_eq!(blocks[0].meta().max_time, 2 * H);
    assert!(db.head().min_time() >= blocks.last().unwrap().meta().max_time);
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
    // Appends into compacted time are refused.
    let mut app = db.appender();
    assert!(matches!(
        app.append(&ls(&[("__name__", "m"), ("s", "0")]), H, 1.0),
        Err(AppendError::OutOfBounds { .. })
    ));
    drop(app);
    db.close().unwrap();
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
    // The WAL was checkpointed: replay skipped nothing it should not have read.
    assert_eq!(db.replay_stats().unknown_series_refs, 0);
}

#[test]
fn blocks_merge_into_larger_ranges_and_retention_deletes_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.head.chunk_range = 1000;
    o.max_block_duration = 9000;
    let db = Db::open(dir.path(), o.clone()).unwrap();
    fill(&db, 5, 0, 20_000, 100);
    let before = dump(&db, i64::MIN, i64::MAX);
    let st = db.compact().unwrap();
    assert!(st.head_blocks > 10 && st.merged_blocks > 0, "{st:?}");
    let metas: Vec<_> = db.blocks().iter().map(|b| b.meta().clone()).collect();
    assert!(
        metas
            .iter()
            .any(|m| m.compaction.level >= 2 && m.max_time - m.min_time > 1000),
        "{metas:?}"
    );
    let merged = metas.iter().find(|m| m.compaction.level >= 2).unwrap();
    assert!(merged.compaction.sources.len() >= 2 && !merged.compaction.parents.is_empty());
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
    drop(db);
    // Retention relative to the newest block.
    let mut o2 = o.clone();
    o2.retention = Some(5000);
    let db = Db::open(dir.path(), o2).unwrap();
    let newest = db.blocks().iter().map(|b| b.meta().max_time).max().unwrap();
    let st = db.compact().unwrap();
    assert!(st.deleted_blocks > 0, "{st:?}");
    assert!(
        db.blocks()
            .iter()
            .all(|b| newest - b.meta().max_time <= 5000)
    );
}

#[test]
fn deleted_samples_stay_deleted_through_reopen_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db, 3, 0, 5 * H, 60_000);
    db.compact().unwrap();
    assert!(!db.blocks().is_empty());
    let victim = [Matcher::equal("s", "1")];
    // Across a block and the head.
    let (mint, maxt) = (H, 4 * H);
    assert!(db.delete(mint, maxt, &victim).unwrap() >= 2);
    let check = |db: &Db| {
        let d = dump(db, i64::MIN, i64::MAX);
        assert!(
            !d.iter()
                .any(|(l, t, _)| l.contains("s=\"1\"") && (mint..=maxt).contains(t))
        );
        assert!(d.iter().any(|(l, t, _)| l.contains("s=\"1\"") && *t < mint));
        assert!(
            d.iter()
                .any(|(l, t, _)| l.contains("s=\"2\"") && (mint..=maxt).contains(t))
        );
        d
    };
    let after = check(&db);
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(check(&db), after);
    // Compaction rewrites blocks with tombstones without the deleted samples.
    db.compact().unwrap();
    assert!(db.blocks().iter().all(|b| b.tombstones().is_empty()));
    assert_eq!(check(&db), after);
}

#[test]
fn histograms_go_through_head_blocks_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let l = ls(&[("__name__", "h")]);
    let mk = |i: u64| Histogram {
        schema: 1,
        count: 3 * i + 3,
        sum: i as f64 * 1.5,
        positive_spans: vec![Span {
            offset: 0,
            length: 2,
        }],
        positive_buckets: vec![i as i64 + 1, i as i64 + 1],
        zero_count: i + 1,
        zero_threshold: 0.001,
        ..Default::default()
    };
    let want: Vec<(i64, f64)>;
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        for i in 0..1200u64 {
            let mut app = db.appender();
            app.append_histogram(&l, i as i64 * 20_000, &mk(i)).unwrap();
            app.commit().unwrap();
        }
        db.compact().unwrap();
        assert!(!db.blocks().is_empty());
        let got = dump(&db, i64::MIN, i64::MAX);
        want = (0..1200u64)
            .map(|i| (i as i64 * 20_000, (3 * i + 3) as f64))
            .collect();
        assert_eq!(
            got.iter()
                .map(|x| (x.1, f64::from_bits(x.2)))
                .collect::<Vec<_>>(),
            want
        );
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    let got = dump(&db, i64::MIN, i64::MAX);
    assert_eq!(
        got.iter()
            .map(|x| (x.1, f64::from_bits(x.2)))
            .collect::<Vec<_>>(),
        want
    );
}

#[test]
fn concurrent_appenders_and_readers_see_whole_commits() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..300i64 {
                    // Each commit writes the same timestamp to a pair of series.
                    let mut app = db.appender();
                    for side in ["a", "b"] {
                        let l = ls(&[("__name__", "pair"), ("w", &w.to_string()), ("side", side)]);
                        app.append(&l, i * 1000, i as f64).unwrap();
                    }
                    app.commit().unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let db: Arc<Db> = db.clone();
        std::thread::spawn(move || {
            for _ in 0..200 {
                let series = db.querier(i64::MIN, i64::MAX).select(&all()).unwrap();
                let mut counts = std::collections::BTreeMap::new();
                for s in &series {
                    let mut it = s.iter();
                    let mut n = 0;
                    while it.next().unwrap().is_some() {
                        n += 1;
                    }
                    counts.insert(
                        (
                            s.labels.get("w").unwrap().to_string(),
                            s.labels.get("side").unwrap().to_string(),
                        ),
                        n,
                    );
                }
                for w in ["0", "1"] {
                    let a = counts
                        .get(&(w.to_string(), "a".to_string()))
                        .copied()
                        .unwrap_or(0);
                    let b = counts
                        .get(&(w.to_string(), "b".to_string()))
                        .copied()
                        .unwrap_or(0);
                    assert_eq!(a, b, "a reader saw half a commit of writer {w}");
                }
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    reader.join().unwrap();
    assert_eq!(dump(&db, i64::MIN, i64::MAX).len(), 2 * 2 * 300);
}

#[test]
fn a_second_writer_cannot_open_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _db = Db::open(dir.path(), opts()).unwrap();
    assert!(Db::open(dir.path(), opts()).is_err());
    // Reading alongside is fine.
    let ro = DbOptions {
        read_only: true,
        ..opts()
    };
    Db::open(dir.path(), ro).unwrap();
}

#[test]
fn head_options_default_to_prometheus_values() {
    let o = HeadOptions::default();
    assert_eq!(o.chunk_range, 2 * H);
    assert_eq!(o.out_of_order_window, 0);
    assert!(o.wal);
}
