//! Benchmarks of the block index: postings set operations on large lists, writing an index
//! of 100k series, and reading it back (open, postings for matchers, every series).

use std::collections::BTreeSet;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use cortex_tsdb::chunks::{ChunkMeta, ChunkRef};
use cortex_tsdb::index::{
    BigEndianPostings, BoxPostings, IndexReader, IndexWriter, Postings, postings,
};
use cortex_tsdb::labels::{Labels, MatchType, Matcher};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// `n` sorted distinct references drawn from `0..universe`, as stored in an index.
fn list(rng: &mut Rng, n: u64, universe: u64) -> Vec<u8> {
    let mut refs = BTreeSet::new();
    while (refs.len() as u64) < n {
        refs.insert(rng.next() % universe);
    }
    refs.iter()
        .flat_map(|&r| (r as u32).to_be_bytes())
        .collect()
}

fn boxed(b: &[u8]) -> BoxPostings<'_> {
    Box::new(BigEndianPostings::new(b))
}

fn drain(mut p: BoxPostings<'_>) -> usize {
    let mut n = 0;
    while p.next().is_some() {
        n += 1;
    }
    n
}

fn bench_postings(c: &mut Criterion) {
    let mut rng = Rng(42);
    const U: u64 = 2_000_000;
    let dense = list(&mut rng, 1_000_000, U);
    let half = list(&mut rng, 500_000, U);
    let sparse = list(&mut rng, 100_000, U);
    let sparse2 = list(&mut rng, 100_000, U);
    let tiny = list(&mut rng, 1_000, U);

    let mut g = c.benchmark_group("postings");
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    g.bench_function("intersect_100k_100k", |b| {
        b.iter(|| drain(postings::intersect(vec![boxed(&sparse), boxed(&sparse2)])))
    });
    g.bench_function("intersect_1M_100k", |b| {
        b.iter(|| drain(postings::intersect(vec![boxed(&dense), boxed(&sparse)])))
    });
    g.bench_function("intersect_1M_1k", |b| {
        b.iter(|| drain(postings::intersect(vec![boxed(&dense), boxed(&tiny)])))
    });
    g.bench_function("intersect_1M_500k_100k", |b| {
        b.iter(|| {
            drain(postings::intersect(vec![
                boxed(&dense),
                boxed(&half),
                boxed(&sparse),
            ]))
        })
    });
    g.bench_function("merge_500k_100k_100k", |b| {
        b.iter(|| {
            drain(postings::merge(vec![
                boxed(&half),
                boxed(&sparse),
                boxed(&sparse2),
            ]))
        })
    });
    g.bench_function("without_1M_500k", |b| {
        b.iter(|| drain(postings::without(boxed(&dense), boxed(&half))))
    });
    g.finish();
}

/// 100k series with 10 labels each and 3 chunks each, sorted, with their symbols.
fn dataset() -> (Vec<String>, Vec<(Labels, Vec<ChunkMeta>)>) {
    let n = 100_000u64;
    let mut series: Vec<Labels> = (0..n)
        .map(|i| {
            Labels::from_pairs([
                ("__name__", format!("metric_{:02}", i % 50)),
                ("cluster", format!("cluster-{}", i % 4)),
                ("container", format!("container-{:02}", i % 20)),
                (
                    "env",
                    ["prod", "staging", "dev"][(i % 3) as usize].to_string(),
                ),
                (
                    "instance",
                    format!("10.0.{}.{}:9100", (i / 7) % 40, (i / 3) % 25),
                ),
                ("job", format!("job-{}", i % 10)),
                ("namespace", format!("ns-{:02}", (i / 11) % 30)),
                ("pod", format!("pod-{:05}", (i * 7919) % 20_000)),
                ("region", format!("region-{}", (i / 13) % 5)),
                (
                    "uid",
                    format!("{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                ),
            ])
            .unwrap()
        })
        .collect();
    series.sort();
    series.dedup();
    let symbols: BTreeSet<String> = series
        .iter()
        .flat_map(|l| {
            l.iter()
                .flat_map(|l| [l.name.to_string(), l.value.to_string()])
        })
        .collect();
    let data = series
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let base = 1_700_000_000_000i64;
            let chunks = (0..3u64)
                .map(|c| ChunkMeta {
                    min_time: base + 7_200_000 * c as i64 / 3,
                    max_time: base + 7_200_000 * (c as i64 + 1) / 3 - 15_000,
                    chunk_ref: ChunkRef(8 + 300 * (3 * i as u64 + c)),
                })
                .collect();
            (l, chunks)
        })
        .collect();
    (symbols.into_iter().collect(), data)
}

fn write(path: &Path, symbols: &[String], data: &[(Labels, Vec<ChunkMeta>)]) {
    let mut w = IndexWriter::create(path).unwrap();
    for s in symbols {
        w.add_symbol(s).unwrap();
    }
    for (l, c) in data {
        w.add_series(l, c).unwrap();
    }
    w.finish().unwrap();
}

fn matchers() -> Vec<Vec<Matcher>> {
    let m = |k, n: &str, v: &str| Matcher::new(k, n, v).unwrap();
    use MatchType::*;
    vec![
        vec![m(Equal, "__name__", "metric_07"), m(Equal, "job", "job-7")],
        vec![
            m(Equal, "__name__", "metric_07"),
            m(Regexp, "pod", "pod-1.*"),
            m(NotEqual, "env", "dev"),
        ],
        vec![
            m(Regexp, "namespace", "ns-0[0-9]|ns-1[0-4]"),
            m(Equal, "cluster", "cluster-2"),
        ],
        vec![m(Regexp, "uid", "0.*")],
    ]
}

fn bench_index(c: &mut Criterion) {
    let (symbols, data) = dataset();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");

    let mut g = c.benchmark_group("index");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(data.len() as u64));
    g.bench_function("write_100k_series", |b| {
        b.iter(|| write(&path, &symbols, &data))
    });

    write(&path, &symbols, &data);
    eprintln!(
        "index of {} series: {} bytes",
        data.len(),
        std::fs::metadata(&path).unwrap().len()
    );
    g.bench_function("open", |b| {
        b.iter(|| black_box(IndexReader::open(&path).unwrap()))
    });
    let r = IndexReader::open(&path).unwrap();
    eprintln!("reader memory besides the mapping: {} bytes", r.memory());
    let ms = matchers();
    g.bench_function("postings_for_4_selectors", |b| {
        b.iter(|| {
            ms.iter()
                .map(|m| drain(r.postings_for_matchers(m).unwrap()))
                .sum::<usize>()
        })
    });
    let uids = r.label_values("uid").unwrap();
    let picks: Vec<&str> = uids.iter().step_by(97).copied().collect();
    g.bench_function("postings_lookup_1031_values", |b| {
        b.iter(|| drain(r.postings("uid", &picks).unwrap()))
    });
    g.bench_function("read_all_series", |b| {
        let mut chunks = Vec::new();
        b.iter(|| {
            let mut p = r.all_postings().unwrap();
            let mut n = 0;
            while let Some(id) = p.next() {
                n += r.series(id, &mut chunks).unwrap().len();
            }
            n
        })
    });
    g.bench_function("open_select_read", |b| {
        let mut chunks = Vec::new();
        b.iter(|| {
            let r = IndexReader::open(&path).unwrap();
            let mut n = 0;
            for m in &ms {
                let mut p = r.postings_for_matchers(m).unwrap();
                while let Some(id) = p.next() {
                    n += r.series(id, &mut chunks).unwrap().len();
                }
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench_postings, bench_index);
criterion_main!(benches);
