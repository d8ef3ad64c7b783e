//! Chunk encoding speed: XOR encode and decode of realistic float series (counters,
//! gauges, constants; 15 s scrapes with a little jitter, 120 samples per chunk), and of
//! integer and float counter histograms, reported per sample, plus the resulting bytes per
//! sample (printed once per series kind).

use std::hint::black_box;

use cortex_tsdb::chunkenc::{
    ChunkIter, Encoding, FloatHistogramChunk, HistogramChunk, HistogramIter, XorChunk, XorIter,
};
use cortex_tsdb::histogram::{FloatHistogram, Histogram, Span};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Samples per chunk, as Prometheus' head cuts them.
const SAMPLES_PER_CHUNK: usize = 120;
/// Distinct series per kind, so one chunk's branch pattern is not simply memorized.
const SERIES: usize = 100;

/// A small deterministic PRNG (xorshift64*), so runs are repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Scrape timestamps: 15 s apart, one in 50 a few milliseconds off. That gives about 4%
/// non-zero deltas of deltas, the share in the real Prometheus 2.42 scrape fixture
/// (`../shared/fixtures/prometheus-2.42/scrape-wal`: 1068 of 28094).
fn timestamps(rng: &mut Rng) -> Vec<i64> {
    let mut t = 1_700_000_000_000 + rng.below(15_000) as i64;
    (0..SAMPLES_PER_CHUNK)
        .map(|_| {
            let jitter = if rng.below(50) == 0 {
                rng.below(7) as i64 - 3
            } else {
                0
            };
            t += 15_000;
            t + jitter
        })
        .collect()
}

/// Counters: integer totals growing by a few per scrape, sometimes idle.
fn counter(rng: &mut Rng) -> Vec<(i64, f64)> {
    let mut v = rng.below(1_000_000) as f64;
    timestamps(rng)
        .into_iter()
        .map(|t| {
            if rng.below(5) != 0 {
                v += rng.below(50) as f64;
            }
            (t, v)
        })
        .collect()
}

/// Gauges: a random walk with two decimal places (temperatures, queue lengths, ratios).
fn gauge(rng: &mut Rng) -> Vec<(i64, f64)> {
    let mut cents = 2_000 + rng.below(4_000) as i64;
    timestamps(rng)
        .into_iter()
        .map(|t| {
            cents += rng.below(41) as i64 - 20;
            (t, cents as f64 / 100.0)
        })
        .collect()
}

/// Constants: `up`-like series that never change.
fn constant(rng: &mut Rng) -> Vec<(i64, f64)> {
    let v = if rng.below(2) == 0 { 1.0 } else { 0.0 };
    timestamps(rng).into_iter().map(|t| (t, v)).collect()
}

fn encode(samples: &[(i64, f64)]) -> XorChunk {
    let mut c = XorChunk::new();
    let mut app = c.appender().expect("new chunk");
    for &(t, v) in samples {
        app.append(t, v).expect("chunk has room");
    }
    c
}

fn bench_xor(c: &mut Criterion) {
    type Gen = fn(&mut Rng) -> Vec<(i64, f64)>;
    let kinds: [(&str, Gen); 3] = [
        ("counter", counter),
        ("gauge", gauge),
        ("constant", constant),
    ];
    for (name, generate) in kinds {
        let mut rng = Rng(0x5EED_0000 ^ name.len() as u64);
        let series: Vec<Vec<(i64, f64)>> = (0..SERIES).map(|_| generate(&mut rng)).collect();
        let chunks: Vec<XorChunk> = series.iter().map(|s| encode(s)).collect();
        let bytes: usize = chunks.iter().map(|c| c.bytes().len()).sum();
        let samples = (SERIES * SAMPLES_PER_CHUNK) as f64;
        println!("xor {name}: {:.3} bytes/sample", bytes as f64 / samples);

        let mut group = c.benchmark_group(format!("xor/{name}"));
        group.throughput(Throughput::Elements((SERIES * SAMPLES_PER_CHUNK) as u64));
        group.bench_function("encode", |b| {
            b.iter(|| {
                for s in &series {
                    black_box(encode(black_box(s)));
                }
            })
        });
        // Both fold every sample into a checksum (cheap integer ops, so the loop measures
        // decoding rather than a floating-point addition chain). `decode` moves one
        // iterator from chunk to chunk, as the block and head readers do (and as
        // Prometheus' own iterator benchmark does); `decode_new_iter` builds a new iterator
        // for every chunk.
        group.bench_function("decode", |b| {
            b.iter(|| {
                let mut acc = 0u64;
                let mut it = XorIter::new(chunks[0].bytes()).expect("header");
                for chunk in &chunks {
                    it.reset(black_box(chunk.bytes())).expect("header");
                    while it.next().expect("valid chunk") {
                        let (t, v) = it.at();
                        acc = acc.rotate_left(1) ^ v.to_bits() ^ t as u64;
                    }
                }
                black_box(acc)
            })
        });
        group.bench_function("decode_new_iter", |b| {
            b.iter(|| {
                let mut acc = 0u64;
                for chunk in &chunks {
                    let mut it = XorIter::new(black_box(chunk.bytes())).expect("header");
                    while it.next().expect("valid chunk") {
                        let (t, v) = it.at();
                        acc = acc.rotate_left(1) ^ v.to_bits() ^ t as u64;
                    }
                }
                black_box(acc)
            })
        });
        group.finish();
    }
}

/// Counter histograms: schema 3, 24 buckets in three spans, a few observations per scrape.
fn histograms(rng: &mut Rng) -> Vec<(i64, Histogram)> {
    let spans = vec![
        Span {
            offset: -10,
            length: 8,
        },
        Span {
            offset: 2,
            length: 12,
        },
        Span {
            offset: 5,
            length: 4,
        },
    ];
    let mut counts = [0u64; 24];
    let mut zero = 0u64;
    let mut sum = 0.0;
    timestamps(rng)
        .into_iter()
        .map(|t| {
            for c in counts.iter_mut() {
                *c += rng.below(4);
            }
            zero += rng.below(2);
            sum += rng.below(1000) as f64 / 16.0;
            let mut prev = 0i64;
            let buckets = counts
                .iter()
                .map(|&c| {
                    let d = c as i64 - prev;
                    prev = c as i64;
                    d
                })
                .collect();
            let h = Histogram {
                schema: 3,
                zero_threshold: 2f64.powi(-128),
                zero_count: zero,
                count: zero + counts.iter().sum::<u64>(),
                sum,
                positive_spans: spans.clone(),
                positive_buckets: buckets,
                ..Histogram::default()
            };
            (t, h)
        })
        .collect()
}

fn bench_histograms(c: &mut Criterion) {
    let mut rng = Rng(0x4157_0000);
    let series: Vec<Vec<(i64, Histogram)>> = (0..20).map(|_| histograms(&mut rng)).collect();
    let floats: Vec<Vec<(i64, FloatHistogram)>> = series
        .iter()
        .map(|s| s.iter().map(|(t, h)| (*t, h.to_float())).collect())
        .collect();
    let int_chunks: Vec<HistogramChunk> = series
        .iter()
        .map(|s| {
            let mut c = HistogramChunk::new();
            let mut app = c.appender().expect("new chunk");
            for (t, h) in s {
                app.append(*t, h).expect("same layout");
            }
            c
        })
        .collect();
    let float_chunks: Vec<FloatHistogramChunk> = floats
        .iter()
        .map(|s| {
            let mut c = FloatHistogramChunk::new();
            let mut app = c.appender().expect("new chunk");
            for (t, h) in s {
                app.append(*t, h).expect("same layout");
            }
            c
        })
        .collect();
    let samples = (series.len() * SAMPLES_PER_CHUNK) as f64;
    let bytes: usize = int_chunks.iter().map(|c| c.bytes().len()).sum();
    println!("histogram: {:.3} bytes/sample", bytes as f64 / samples);
    let bytes: usize = float_chunks.iter().map(|c| c.bytes().len()).sum();
    println!("floathistogram: {:.3} bytes/sample", bytes as f64 / samples);

    let mut group = c.benchmark_group("histogram");
    group.throughput(Throughput::Elements(
        (series.len() * SAMPLES_PER_CHUNK) as u64,
    ));
    group.bench_function("encode", |b| {
        b.iter(|| {
            for s in &series {
                let mut c = HistogramChunk::new();
                let mut app = c.appender().expect("new chunk");
                for (t, h) in black_box(s) {
                    app.append(*t, h).expect("same layout");
                }
                black_box(c);
            }
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for chunk in &int_chunks {
                let mut it = HistogramIter::new(black_box(chunk.bytes())).expect("header");
                while it.next().expect("valid chunk") {
                    let (t, h) = it.at_histogram();
                    acc ^= h.count ^ t as u64 ^ h.positive_buckets[3] as u64;
                }
            }
            black_box(acc)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("floathistogram");
    group.throughput(Throughput::Elements(
        (series.len() * SAMPLES_PER_CHUNK) as u64,
    ));
    group.bench_function("encode", |b| {
        b.iter(|| {
            for s in &floats {
                let mut c = FloatHistogramChunk::new();
                let mut app = c.appender().expect("new chunk");
                for (t, h) in black_box(s) {
                    app.append(*t, h).expect("same layout");
                }
                black_box(c);
            }
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for chunk in &float_chunks {
                let mut it =
                    ChunkIter::new(Encoding::FloatHistogram, black_box(chunk.bytes())).expect("ok");
                while it.next().expect("valid chunk").is_some() {
                    let (t, h) = it.at_float_histogram();
                    acc ^= h.count.to_bits() ^ t as u64 ^ h.positive_buckets[3].to_bits();
                }
            }
            black_box(acc)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_xor, bench_histograms);
criterion_main!(benches);
