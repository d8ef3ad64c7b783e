//! What opening a TSDB does with a damaged WAL: a torn tail (a write cut short) is
//! reported and cut off, losing only the incomplete record; a zero-filled tail is the
//! normal state of a preallocated page; damage followed by valid data is corruption,
//! reported with the segment and offset, and nothing is silently skipped.

use std::path::{Path, PathBuf};

use cortex_tsdb::db::{Db, DbOptions};
use cortex_tsdb::labels::{Labels, MatchType, Matcher};
use cortex_tsdb::querier::SampleIterator;

fn opts() -> DbOptions {
    DbOptions {
        retention: None,
        ..Default::default()
    }
}

/// Commits 50 batches of 20 series into a fresh TSDB and returns the last WAL segment.
fn write(dir: &Path) -> PathBuf {
    let db = Db::open(dir, opts()).unwrap();
    for i in 0..50i64 {
        let mut app = db.appender();
        for s in 0..20 {
            let l = Labels::from_pairs([("__name__", "m"), ("s", &s.to_string())]).unwrap();
            app.append(&l, i * 1000, i as f64).unwrap();
        }
        app.commit().unwrap();
    }
    db.close().unwrap();
    drop(db);
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| std::fs::metadata(p).unwrap().len() > 0)
        .collect();
    segs.sort();
    segs.pop().unwrap()
}

fn count(db: &Db) -> usize {
    let all = [Matcher::new(MatchType::Regexp, "__name__", ".+").unwrap()];
    let mut n = 0;
    for s in db.querier(i64::MIN, i64::MAX).select(&all).unwrap() {
        let mut it = s.iter();
        while it.next().unwrap().is_some() {
            n += 1;
        }
    }
    n
}

/// Offset just past the last non-zero byte.
fn data_end(b: &[u8]) -> usize {
    b.iter().rposition(|x| *x != 0).map_or(0, |p| p + 1)
}

#[test]
fn torn_final_record_is_reported_repaired_and_only_it_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let seg = write(dir.path());
    let b = std::fs::read(&seg).unwrap();
    let end = data_end(&b);
    // Cut the last record (one commit of 20 samples) in half.
    std::fs::write(&seg, &b[..end - 30]).unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let tail = db
        .replay_stats()
        .torn_tail
        .clone()
        .expect("torn tail reported");
    assert!(tail.path.ends_with(seg.file_name().unwrap()), "{tail:?}");
    assert_eq!(count(&db), 49 * 20);
    drop(db);
    // Repaired: the next open reads cleanly.
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(db.replay_stats().torn_tail.is_none());
    assert_eq!(count(&db), 49 * 20);
}

#[test]
fn zero_filled_tail_is_the_normal_end() {
    let dir = tempfile::tempdir().unwrap();
    let seg = write(dir.path());
    let mut b = std::fs::read(&seg).unwrap();
    b.resize(b.len() + 3 * 32 * 1024, 0);
    std::fs::write(&seg, &b).unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(db.replay_stats().torn_tail.is_none());
    assert_eq!(count(&db), 50 * 20);
}

#[test]
fn bit_flip_before_valid_records_is_corruption_naming_the_segment() {
    let dir = tempfile::tempdir().unwrap();
    let seg = write(dir.path());
    let mut b = std::fs::read(&seg).unwrap();
    let mid = data_end(&b) / 2;
    b[mid] ^= 0x08;
    std::fs::write(&seg, &b).unwrap();
    let err = match Db::open(dir.path(), opts()) {
        Ok(_) => panic!("a flipped bit in the middle of the WAL went unnoticed"),
        Err(e) => e.to_string(),
    };
    let name = seg.file_name().unwrap().to_str().unwrap().to_string();
    assert!(err.contains(&name), "{err}");
    // Read-only inspection reports the same.
    assert!(
        Db::open(
            dir.path(),
            DbOptions {
                read_only: true,
                ..opts()
            }
        )
        .is_err()
    );
}

#[test]
fn damaged_head_chunk_files_fall_back_to_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        let l = Labels::from_pairs([("__name__", "m")]).unwrap();
        for i in 0..1000i64 {
            let mut app = db.appender();
            app.append(&l, i * 1000, i as f64).unwrap();
            app.commit().unwrap();
        }
        db.close().unwrap();
    }
    let files: Vec<PathBuf> = std::fs::read_dir(dir.path().join("chunks_head"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!files.is_empty());
    let mut b = std::fs::read(&files[0]).unwrap();
    b[40] ^= 0xff;
    std::fs::write(&files[0], &b).unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(db.replay_stats().chunk_files_discarded.is_some());
    assert_eq!(count(&db), 1000);
}
