//! Crash safety: a writer process that is SIGKILLed at a random moment — mid-append,
//! mid-commit, mid-compaction — loses no sample whose commit it reported, every time.
//!
//! The test binary runs itself as the writer (selected by an environment variable). The
//! writer appends a batch to every series, commits, and prints the committed timestamp;
//! a compaction thread cuts blocks concurrently (tiny chunk ranges make that frequent).
//! The parent kills it after a random delay, reopens the directory, and checks every
//! reported commit. Rounds continue on the same directory.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cortex_tsdb::chunkenc::ValueType;
use cortex_tsdb::db::{Db, DbOptions};
use cortex_tsdb::labels::{Labels, MatchType, Matcher};
use cortex_tsdb::querier::SampleIterator;

const SERIES: usize = 40;
const STEP: i64 = 100;
const ROUNDS: u64 = 25;
const CHILD_ENV: &str = "CORTEX_TSDB_CRASH_CHILD_DIR";

fn options() -> DbOptions {
    let mut o = DbOptions {
        retention: None,
        compaction_interval: Some(Duration::from_millis(20)),
        max_block_duration: 90_000,
        ..Default::default()
    };
    o.head.chunk_range = 10_000;
    // Small segments: segment cuts and checkpoints happen often.
    o.head.wal_segment_size = 4 * 32 * 1024;
    o
}

fn labels(s: usize) -> Labels {
    Labels::from_pairs([("__name__", "crash_test"), ("series", &s.to_string())]).unwrap()
}

fn value(s: usize, t: i64) -> f64 {
    (t / STEP) as f64 * 1.5 + s as f64
}

fn writer(dir: &str, start: i64) {
    let db = Db::open(std::path::Path::new(dir), options()).expect("open");
    let mut t = start;
    let out = std::io::stdout();
    loop {
        let mut app = db.appender();
        for s in 0..SERIES {
            app.append(&labels(s), t, value(s, t)).expect("append");
        }
        let st = app.commit().expect("commit");
        // Samples a killed predecessor committed without reporting come back as
        // identical duplicates and are ignored; nothing may be refused.
        assert_eq!(st.rejected, 0);
        let mut o = out.lock();
        writeln!(o, "COMMITTED {t}").unwrap();
        o.flush().unwrap();
        t += STEP;
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// A small deterministic generator for the kill delays.
fn next_rand(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn sigkilled_writer_loses_no_committed_sample() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let start = std::env::var("CORTEX_TSDB_CRASH_START")
            .unwrap()
            .parse()
            .unwrap();
        writer(&dir, start);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut committed: Vec<i64> = Vec::new();
    // `CORTEX_TSDB_CRASH_SEED` and `CORTEX_TSDB_CRASH_ROUNDS` vary the kill moments and
    // lengthen the run when hunting for rare interleavings.
    let mut rng = env_u64("CORTEX_TSDB_CRASH_SEED").unwrap_or(0x2545_f491_4f6c_dd1d) | 1;
    let rounds = env_u64("CORTEX_TSDB_CRASH_ROUNDS").unwrap_or(ROUNDS);
    let mut start = 0i64;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "sigkilled_writer_loses_no_committed_sample",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .env("CORTEX_TSDB_CRASH_START", start.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(t) = line.strip_prefix("COMMITTED ") {
                    let _ = tx.send(t.parse::<i64>().unwrap());
                }
            }
        });
        // Wait for the writer to get going, then kill it at a random moment.
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("writer never committed");
        committed.push(first);
        std::thread::sleep(Duration::from_millis(5 + next_rand(&mut rng) % 300));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        committed.extend(rx.try_iter());
        start = committed.last().copied().unwrap() + STEP;

        // Reopen and check every reported commit.
        let db = Db::open(
            dir.path(),
            DbOptions {
                compaction_interval: None,
                ..options()
            },
        )
        .unwrap();
        let q = db.querier(i64::MIN, i64::MAX);
        let all = [Matcher::new(MatchType::Regexp, "__name__", ".+").unwrap()];
        let mut stored: HashMap<(usize, i64), f64> = HashMap::new();
        for s in q.select(&all).unwrap() {
            let idx: usize = s.labels.get("series").unwrap().parse().unwrap();
            let mut it = s.iter();
            while let Some(vt) = it.next().unwrap() {
                assert_eq!(vt, ValueType::Float);
                let (t, v) = it.at();
                stored.insert((idx, t), v);
            }
        }
        for &t in &committed {
            for s in 0..SERIES {
                assert_eq!(
                    stored.get(&(s, t)).copied(),
                    Some(value(s, t)),
                    "round {round}: committed sample of series {s} at {t} is missing or wrong"
                );
            }
        }
        drop(q);
        if round == rounds - 1 {
            assert!(!db.blocks().is_empty(), "the writers never compacted");
        }
        db.close().unwrap();
    }
    assert!(
        committed.len() > rounds as usize * 2,
        "only {} commits in {rounds} rounds",
        committed.len()
    );
}
