//! WAL speed: logging sample records (one record of 1000 samples per commit, as a head
//! appender commits a scrape of 1000 series) uncompressed, with snappy and with zstd, and
//! reading them back (framing, CRC and decompression; then also decoding the samples).
//! Throughput is in record bytes before compression; records per second follow from
//! the time per record (log) or per 2000 records (read). The record size and the
//! compression ratios are printed once.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use cortex_tsdb::record::{Encoder, RecordBatch, RefSample, decode_samples};
use cortex_tsdb::wal::{Compression, Reader, Wal, WalOptions};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Series per commit.
const SERIES: u64 = 1000;
/// Records in the WAL the read benchmarks read.
const READ_RECORDS: usize = 2000;
/// Records logged between deletions of old segments (outside the timed part).
const LOG_CHUNK: u64 = 2000;

/// A deterministic PRNG (xorshift64*), so runs are repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// One samples record per scrape: every series at one timestamp. Two fifths of the series
/// are constant (build info, limits), two fifths counters that grow by a few in about
/// half of the scrapes, one fifth gauges with arbitrary values. Snappy shrinks these
/// records 1.48× (the samples records of the Prometheus 2.42 scrape fixture shrink 1.84×).
fn scrape_records(scrapes: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(0x5eed);
    let mut values: Vec<f64> = (0..SERIES)
        .map(|i| match i % 5 {
            0 | 1 => (rng.next() % 4) as f64,
            _ => (rng.next() % 100_000) as f64,
        })
        .collect();
    let enc = Encoder::default();
    let mut batch = RecordBatch::new();
    let mut samples = Vec::with_capacity(SERIES as usize);
    (0..scrapes)
        .map(|k| {
            let t = 1_700_000_000_000 + 15_000 * k as i64;
            samples.clear();
            for (i, v) in values.iter_mut().enumerate() {
                match i % 5 {
                    0 | 1 => {}
                    2 | 3 => {
                        if rng.next().is_multiple_of(2) {
                            *v += (1 + rng.next() % 8) as f64;
                        }
                    }
                    _ => *v = (rng.next() >> 11) as f64 / (1u64 << 40) as f64 * 100.0,
                }
                samples.push(RefSample {
                    series_ref: i as u64 + 1,
                    st: 0,
                    t,
                    v: *v,
                });
            }
            batch.clear();
            enc.samples(&samples, &mut batch);
            batch.get(0).unwrap_or_default().to_vec()
        })
        .collect()
}

fn open(dir: &Path, compression: Compression) -> Wal {
    Wal::open(
        dir,
        WalOptions {
            compression,
            ..WalOptions::default()
        },
    )
    .unwrap()
}

const MODES: [(&str, Compression); 3] = [
    ("none", Compression::None),
    ("snappy", Compression::Snappy),
    ("zstd", Compression::Zstd),
];

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

fn bench_log(c: &mut Criterion) {
    let recs = scrape_records(64);
    let rec_len = recs[0].len();
    eprintln!("samples record: {SERIES} samples, {rec_len} bytes");
    let mut g = c.benchmark_group("wal_log_1000_samples");
    g.throughput(Throughput::Bytes(rec_len as u64));
    for (name, mode) in MODES {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = open(dir.path(), mode);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let n = (iters - done).min(LOG_CHUNK);
                    let start = Instant::now();
                    for i in 0..n {
                        wal.log(&[&recs[(done + i) as usize % recs.len()]]).unwrap();
                    }
                    timed += start.elapsed();
                    done += n;
                    let current = wal.segment();
                    wal.truncate(current).unwrap();
                }
                timed
            })
        });
    }
    g.finish();
}

fn bench_read(c: &mut Criterion) {
    let recs = scrape_records(READ_RECORDS);
    let raw: u64 = recs.iter().map(|r| r.len() as u64).sum();
    let mut g = c.benchmark_group("wal_read_2000_records");
    g.throughput(Throughput::Bytes(raw));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(10));
    for (name, mode) in MODES {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = open(dir.path(), mode);
        for r in &recs {
            wal.log(&[r]).unwrap();
        }
        wal.close().unwrap();
        eprintln!(
            "{name}: {raw} record bytes in {} bytes of segments",
            dir_size(dir.path())
        );
        g.bench_function(format!("{name}/records"), |b| {
            b.iter(|| {
                let mut r = Reader::open(dir.path()).unwrap();
                let mut n = 0usize;
                while let Some(rec) = r.next_record().unwrap() {
                    n += black_box(rec).len();
                }
                assert_eq!(n as u64, raw);
            })
        });
        g.bench_function(format!("{name}/samples"), |b| {
            let mut samples = Vec::new();
            b.iter(|| {
                let mut r = Reader::open(dir.path()).unwrap();
                let mut n = 0usize;
                while let Some(rec) = r.next_record().unwrap() {
                    decode_samples(rec, &mut samples).unwrap();
                    n += black_box(&samples).len();
                }
                assert_eq!(n, READ_RECORDS * SERIES as usize);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_log, bench_read);
criterion_main!(benches);
