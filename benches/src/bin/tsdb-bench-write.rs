//! Head append throughput, memory per series and WAL replay time, measured side by side
//! with Prometheus' `promtool tsdb bench write` on the same label sets.
//!
//! The label sets (about ten labels each, realistic cardinalities) are written to a file
//! in the format promtool reads: one JSON object per line. Both engines then ingest the
//! same workload the same way: shards of 1000 series, each shard committing one scrape at
//! a time (100 scrapes per round, 30 s apart, series handles cached after the first
//! append, as promtool caches series references), on as many threads as the machine has
//! cores, with the WAL on and compaction off. Then each reopens the data directory,
//! replaying its WAL. Besides samples per second, each engine's samples per CPU second
//! while ingesting (all its threads, user plus system time) are reported: throughput
//! per core, which does not depend on how well either spreads over the cores. Our WAL is snappy-compressed by default (promtool's is not, but an
//! uncompressed WAL makes ours slower, as it writes three times the bytes);
//! `--wal-compression` picks another. It allocates with mimalloc, as the `cortex` binary
//! does.
//!
//! ```text
//! tsdb-bench-write [--series N] [--scrapes S] [--out DIR] [--no-prometheus]
//!                  [--wal-compression none|snappy|zstd]
//! ```

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cortex_benches::e2e::servers::ProcUsage;
use cortex_tsdb::db::{Db, DbOptions};
use cortex_tsdb::head::SeriesHandle;
use cortex_tsdb::labels::Labels;
use cortex_tsdb::wal::Compression;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TIME_DELTA: i64 = 30_000;
const SHARD: usize = 1000;

struct Args {
    series: usize,
    scrapes: usize,
    out: PathBuf,
    prometheus: bool,
    wal_compression: Compression,
}

const USAGE: &str = "usage: tsdb-bench-write [--series N] [--scrapes S] [--out DIR] \
[--no-prometheus] [--wal-compression none|snappy|zstd]";

fn parse_args() -> Args {
    let mut a = Args {
        series: 1_000_000,
        scrapes: 100,
        out: std::env::temp_dir().join("cortex-tsdb-bench-write"),
        prometheus: true,
        wal_compression: Compression::Snappy,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--series" => a.series = it.next().and_then(|v| v.parse().ok()).expect("--series N"),
            "--scrapes" => a.scrapes = it.next().and_then(|v| v.parse().ok()).expect("--scrapes N"),
            "--out" => a.out = PathBuf::from(it.next().expect("--out DIR")),
            "--no-prometheus" => a.prometheus = false,
            "--wal-compression" => {
                a.wal_compression = match it.next().as_deref() {
                    Some("none") => Compression::None,
                    Some("snappy") => Compression::Snappy,
                    Some("zstd") => Compression::Zstd,
                    _ => panic!("--wal-compression none|snappy|zstd"),
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => {
                eprintln!("unknown argument {other}\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    a
}

/// Writes `n` distinct label sets of ten labels: 200 metric names, 20 jobs, 5 regions,
/// 3 environments, 2000 instances, and per-metric labels that make each set unique.
fn write_labels(path: &Path, n: usize) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = std::io::BufWriter::new(f);
    for i in 0..n {
        let metric = i % 200;
        let instance = (i / 200) % 2000;
        let extra = i / (200 * 2000);
        writeln!(
            w,
            r#"{{"__name__":"metric_{metric}_total","job":"job_{}","instance":"host-{instance}.example.com","region":"region-{}","env":"{}","team":"team-{}","cluster":"cluster-{}","code":"{}","method":"{}","shard":"shard-{extra}"}}"#,
            instance % 20,
            instance % 5,
            ["prod", "staging", "dev"][instance % 3],
            metric % 12,
            instance % 7,
            ["200", "404", "500", "503"][(i / 7) % 4],
            ["GET", "POST", "PUT"][(i / 11) % 3],
        )
        .unwrap();
    }
}

/// Reads label sets as promtool does: strip quotes and braces, split on `,` and `:`.
fn read_labels(path: &Path, n: usize) -> Vec<Labels> {
    let f = std::fs::File::open(path).unwrap();
    let mut out = Vec::with_capacity(n);
    let mut seen = std::collections::HashSet::new();
    for line in std::io::BufReader::new(f).lines() {
        if out.len() >= n {
            break;
        }
        let line = line.unwrap().replace(['"', '{', '}'], "");
        let pairs = line.split(',').filter_map(|kv| kv.split_once(':'));
        let l = Labels::from_pairs(pairs).unwrap();
        if seen.insert(l.stable_hash()) {
            out.push(l);
        }
    }
    out
}

/// User plus system CPU seconds process `pid` has used; 0 if it cannot be read.
fn cpu_seconds(pid: u32) -> f64 {
    ProcUsage::of(pid).map_or(0.0, |u| u.cpu_s)
}

fn rss_bytes(pid: &str, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn ingest(db: &Arc<Db>, labels: &Arc<Vec<Labels>>, scrapes: usize) -> u64 {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let shards = labels.len().div_ceil(SHARD);
    let mut total = 0u64;
    let mut refs: Vec<Vec<SeriesHandle>> = vec![Vec::new(); shards];
    let mut round = 0;
    while round < scrapes {
        let next = Arc::new(AtomicUsize::new(0));
        let results: Vec<(usize, Vec<SeriesHandle>, u64)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let next = next.clone();
                    let refs = &refs;
                    s.spawn(move || {
                        let mut done = Vec::new();
                        loop {
                            let shard = next.fetch_add(1, Ordering::Relaxed);
                            if shard >= shards {
                                break;
                            }
                            let batch =
                                &labels[shard * SHARD..((shard + 1) * SHARD).min(labels.len())];
                            let mut my_refs = refs[shard].clone();
                            let mut n = 0u64;
                            let mut value = 123_456_789i64;
                            let mut ts = TIME_DELTA * round as i64;
                            for _ in 0..100.min(scrapes - round) {
                                ts += TIME_DELTA;
                                value += 1000;
                                let mut app = db.appender();
                                for (j, l) in batch.iter().enumerate() {
                                    if let Some(h) = my_refs.get(j) {
                                        app.append_to(h, ts, value as f64).unwrap();
                                    } else {
                                        my_refs.push(app.append_new(l, ts, value as f64).unwrap());
                                    }
                                    n += 1;
                                }
                                app.commit().unwrap();
                            }
                            done.push((shard, my_refs, n));
                        }
                        done
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        for (shard, r, n) in results {
            refs[shard] = r;
            total += n;
        }
        round += 100;
    }
    total
}

struct Report {
    samples_per_sec: f64,
    /// Samples appended per CPU second (user plus system, all threads) while
    /// ingesting: throughput per core.
    samples_per_cpu_sec: f64,
    rss_per_series: f64,
    replay: Duration,
}

fn run_ours(args: &Args, labels_path: &Path) -> Report {
    let dir = args.out.join("cortex");
    let _ = std::fs::remove_dir_all(&dir);
    let labels = Arc::new(read_labels(labels_path, args.series));
    println!(
        "cortex: RSS with the label sets loaded: {} MiB",
        rss_bytes("self", "VmRSS:") >> 20
    );
    let mut opts = DbOptions {
        retention: None,
        ..Default::default()
    };
    opts.head.wal_compression = args.wal_compression;
    let db = Db::open(&dir, opts.clone()).unwrap();
    let cpu_before = cpu_seconds(std::process::id());
    let start = Instant::now();
    let total = ingest(&db, &labels, args.scrapes);
    let took = start.elapsed();
    let cpu = cpu_seconds(std::process::id()) - cpu_before;
    let rss = rss_bytes("self", "VmRSS:");
    println!(
        "cortex: {total} samples in {took:.2?} ({cpu:.2} CPU s): {:.0} samples/s; RSS {} MiB",
        total as f64 / took.as_secs_f64(),
        rss >> 20
    );
    db.close().unwrap();
    drop(db);
    let start = Instant::now();
    let db = Db::open(&dir, opts).unwrap();
    let replay = start.elapsed();
    println!(
        "cortex: replayed {} series, {} samples in {replay:.2?}",
        db.head().num_series(),
        db.replay_stats().samples
    );
    Report {
        samples_per_sec: total as f64 / took.as_secs_f64(),
        samples_per_cpu_sec: total as f64 / cpu,
        rss_per_series: rss as f64 / labels.len() as f64,
        replay,
    }
}

fn run_prometheus(args: &Args, labels_path: &Path) -> Option<Report> {
    let out = args.out.join("prometheus");
    let _ = std::fs::remove_dir_all(&out);
    let mut child = Command::new("promtool")
        .args([
            "tsdb",
            "bench",
            "write",
            "--metrics",
            &args.series.to_string(),
            "--scrapes",
            &args.scrapes.to_string(),
            "--out",
        ])
        .arg(&out)
        .arg(labels_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| eprintln!("promtool not runnable ({e}); skipping Prometheus"))
        .ok()?;
    let pid = child.id();
    // promtool prints its stages as they start and end: the CPU time it used between
    // the start and the end of ingestion is read as the lines arrive.
    let stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let (mut text, mut cpu_start, mut cpu_end) = (String::new(), None, None);
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains("start stage=ingestScrapes") {
                cpu_start = Some(cpu_seconds(pid));
            } else if line.contains("completed stage=ingestScrapes") {
                cpu_end = Some(cpu_seconds(pid));
            }
            text.push_str(&line);
            text.push('\n');
        }
        (text, cpu_start.zip(cpu_end).map(|(a, b)| b - a))
    });
    let mut peak = 0;
    while child.try_wait().ok()?.is_none() {
        peak = peak.max(rss_bytes(&pid.to_string(), "VmRSS:"));
        std::thread::sleep(Duration::from_millis(50));
    }
    let (text, cpu) = reader.join().ok()?;
    let rate: f64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("> samples/sec:"))
        .and_then(|v| v.trim().parse().ok())?;
    let total: f64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("> total samples:"))
        .and_then(|v| v.trim().parse().ok())?;
    let Some(cpu) = cpu.filter(|&c| c > 0.0) else {
        eprintln!("promtool did not report its ingestion stage; skipping Prometheus");
        return None;
    };
    println!(
        "prometheus: {rate:.0} samples/s ({cpu:.2} CPU s ingesting); peak RSS {} MiB",
        peak >> 20
    );
    // Replay: open the directory read-only and query nothing, which replays the WAL.
    let start = Instant::now();
    let st = Command::new("promtool")
        .args(["tsdb", "dump", "--match", r#"{__name__="no_such_metric"}"#])
        .arg(out.join("storage"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    let replay = start.elapsed();
    println!("prometheus: replay (promtool tsdb dump of nothing) {replay:.2?}, {st}");
    Some(Report {
        samples_per_sec: rate,
        samples_per_cpu_sec: total / cpu,
        rss_per_series: peak as f64 / args.series as f64,
        replay,
    })
}

fn main() {
    let args = parse_args();
    std::fs::create_dir_all(&args.out).unwrap();
    let labels_path = args.out.join("labels.json");
    write_labels(&labels_path, args.series);
    println!(
        "{} series, {} scrapes, {} threads",
        args.series,
        args.scrapes,
        std::thread::available_parallelism().map_or(2, |n| n.get())
    );
    let ours = run_ours(&args, &labels_path);
    let theirs = if args.prometheus {
        run_prometheus(&args, &labels_path)
    } else {
        None
    };
    println!();
    println!("| | cortex | prometheus 2.42 | ratio |");
    println!("|---|---|---|---|");
    match theirs {
        Some(p) => {
            println!(
                "| append samples/s | {:.0} | {:.0} | {:.2}x |",
                ours.samples_per_sec,
                p.samples_per_sec,
                ours.samples_per_sec / p.samples_per_sec
            );
            println!(
                "| append samples per CPU second | {:.0} | {:.0} | {:.2}x |",
                ours.samples_per_cpu_sec,
                p.samples_per_cpu_sec,
                ours.samples_per_cpu_sec / p.samples_per_cpu_sec
            );
            println!(
                "| RSS bytes/series | {:.0} | {:.0} | {:.2}x less |",
                ours.rss_per_series,
                p.rss_per_series,
                p.rss_per_series / ours.rss_per_series
            );
            println!(
                "| WAL replay | {:.2?} | {:.2?} | {:.2}x faster |",
                ours.replay,
                p.replay,
                p.replay.as_secs_f64() / ours.replay.as_secs_f64()
            );
        }
        None => {
            println!("| append samples/s | {:.0} | - | - |", ours.samples_per_sec);
            println!(
                "| append samples per CPU second | {:.0} | - | - |",
                ours.samples_per_cpu_sec
            );
            println!("| RSS bytes/series | {:.0} | - | - |", ours.rss_per_series);
            println!("| WAL replay | {:.2?} | - | - |", ours.replay);
        }
    }
}
