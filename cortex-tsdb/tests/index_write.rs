//! Writing indexes: what the writer accepts and rejects, and that everything it writes
//! reads back (series, values across sampling boundaries, matchers) in both layouts.

mod index_common;

use std::collections::BTreeSet;
use std::path::Path;

use cortex_tsdb::Error;
use cortex_tsdb::chunks::{ChunkMeta, ChunkRef};
use cortex_tsdb::index::{IndexReader, IndexWriter, WriterOptions};
use cortex_tsdb::labels::{Labels, MatchType, Matcher};
use index_common::{brute_force, read_series, refs};

fn meta(min: i64, max: i64, r: u64) -> ChunkMeta {
    ChunkMeta {
        min_time: min,
        max_time: max,
        chunk_ref: ChunkRef(r),
    }
}

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

/// A synthetic data set: `n` series, sorted, with a name of 5 values, an `instance` of
/// 97 values, a unique `id`, and a label only every third series has.
fn dataset(n: usize) -> Vec<(Labels, Vec<ChunkMeta>)> {
    let mut series: Vec<Labels> = (0..n)
        .map(|i| {
            let mut b = Labels::from_pairs([
                ("__name__", format!("metric_{}", i % 5)),
                ("instance", format!("host-{:03}:9100", i % 97)),
                ("id", format!("{i:06}")),
            ])
            .unwrap()
            .to_builder();
            if i % 3 == 0 {
                b.set("sometimes", &format!("v{}", i % 40));
            }
            b.build().unwrap()
        })
        .collect();
    series.sort();
    series
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let base = 10_000 * i as i64;
            let chunks = (0..(i % 4) as u64)
                .map(|c| {
                    meta(
                        base + 100 * c as i64,
                        base + 100 * c as i64 + 50,
                        8 + 64 * (4 * i as u64 + c),
                    )
                })
                .collect();
            (l, chunks)
        })
        .collect()
}

fn write(path: &Path, data: &[(Labels, Vec<ChunkMeta>)], options: WriterOptions) {
    let syms: BTreeSet<&str> = data
        .iter()
        .flat_map(|(l, _)| l.iter().flat_map(|l| [l.name, l.value]))
        .collect();
    let mut w = IndexWriter::create_with(path, options).unwrap();
    for s in syms {
        w.add_symbol(s).unwrap();
    }
    for (l, c) in data {
        w.add_series(l, c).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn written_series_read_back_with_their_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let data = dataset(2000);
    write(&path, &data, WriterOptions::default());
    let r = IndexReader::open(&path).unwrap();
    let series = read_series(&r).unwrap();
    assert_eq!(series.len(), data.len());
    for (s, (l, c)) in series.iter().zip(&data) {
        assert_eq!(&s.labels, l);
        assert_eq!(&s.chunks, c);
    }
    let stats = r.verify().unwrap();
    assert_eq!(stats.series, 2000);
    assert_eq!(
        stats.chunks,
        data.iter().map(|(_, c)| c.len() as u64).sum::<u64>()
    );
    assert_eq!(
        r.label_names(),
        vec!["__name__", "id", "instance", "sometimes"]
    );
    assert_eq!(r.label_values("id").unwrap().len(), 2000);
    assert_eq!(r.label_values("instance").unwrap().len(), 97);
}

#[test]
fn value_lookups_cross_sampling_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let data = dataset(2000);
    write(&path, &data, WriterOptions::default());
    let r = IndexReader::open(&path).unwrap();
    let series = read_series(&r).unwrap();
    let ids = r.label_values("id").unwrap();
    // Values at and around every multiple of 32, requested together and out of order.
    let mut picks: Vec<&str> = (0..ids.len())
        .filter(|i| matches!(i % 32, 0 | 1 | 31))
        .map(|i| ids[i])
        .collect();
    picks.reverse();
    picks.push("not-there");
    picks.push("000000x");
    let got = refs(r.postings("id", &picks).unwrap());
    let want: Vec<u64> = series
        .iter()
        .filter(|s| picks.contains(&s.labels.get("id").unwrap()))
        .map(|s| s.id)
        .collect();
    assert_eq!(got.len(), picks.len() - 2);
    assert_eq!(got, want);
}

#[test]
fn matchers_on_written_index_agree_with_testing_every_series() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    write(&path, &dataset(1500), WriterOptions::default());
    let r = IndexReader::open(&path).unwrap();
    let series = read_series(&r).unwrap();
    let m = |k, n: &str, v: &str| Matcher::new(k, n, v).unwrap();
    use MatchType::*;
    let cases = vec![
        vec![m(Equal, "__name__", "metric_3")],
        vec![
            m(Regexp, "id", "0000.*"),
            m(NotEqual, "instance", "host-001:9100"),
        ],
        vec![
            m(Regexp, "instance", "host-0[0-4][0-9]:9100"),
            m(Equal, "sometimes", ""),
        ],
        vec![
            m(NotRegexp, "sometimes", "v1.*"),
            m(Equal, "__name__", "metric_1"),
        ],
        vec![m(Regexp, "sometimes", "v1|v2|v3"), m(Regexp, "id", ".+")],
        vec![m(NotEqual, "sometimes", "")],
        vec![
            m(Regexp, "__name__", "metric_[0-2]"),
            m(NotRegexp, "instance", ".*:9100"),
        ],
    ];
    for ms in cases {
        let got = refs(r.postings_for_matchers(&ms).unwrap());
        assert_eq!(got, brute_force(&series, &ms), "{ms:?}");
    }
}

#[test]
fn layout_without_label_indices_reads_the_same_and_is_smaller() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("v2"), dir.path().join("v3"));
    let data = dataset(500);
    write(&a, &data, WriterOptions::default());
    write(
        &b,
        &data,
        WriterOptions {
            label_indices: false,
        },
    );
    let (ra, rb) = (
        IndexReader::open(&a).unwrap(),
        IndexReader::open(&b).unwrap(),
    );
    assert_eq!(read_series(&ra).unwrap(), read_series(&rb).unwrap());
    assert_eq!(rb.verify().unwrap().label_indices, 0);
    assert_eq!(ra.verify().unwrap().label_indices, 4);
    let toc = rb.toc();
    assert_eq!(toc.label_indices, toc.postings);
    assert_eq!(toc.label_indices_table, toc.postings_table);
    let sa = ra.toc();
    let label_sections =
        (sa.postings - sa.label_indices) + (sa.postings_table - sa.label_indices_table);
    // Without the label sections, postings start at a 4-byte boundary in both files, so
    // the padding before them can differ by up to 3 bytes.
    let saved = ra.size() - rb.size();
    assert!(
        saved.abs_diff(label_sections) <= 3,
        "{saved} vs {label_sections}"
    );
}

#[test]
fn empty_index_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    IndexWriter::create(&path).unwrap().finish().unwrap();
    let r = IndexReader::open(&path).unwrap();
    assert_eq!(r.num_symbols(), 0);
    assert!(read_series(&r).unwrap().is_empty());
    assert!(r.label_names().is_empty());
    let stats = r.verify().unwrap();
    assert_eq!((stats.series, stats.postings_lists), (0, 1));
    let all = Matcher::new(MatchType::Regexp, "x", ".*").unwrap();
    assert!(refs(r.postings_for_matchers(&[all]).unwrap()).is_empty());
}

fn invalid(e: Error) -> String {
    match e {
        Error::InvalidArgument(s) => s,
        other => panic!("expected InvalidArgument, got {other}"),
    }
}

#[test]
fn writer_rejects_out_of_order_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = IndexWriter::create(dir.path().join("index")).unwrap();
    w.add_symbol("a").unwrap();
    assert!(invalid(w.add_symbol("a").unwrap_err()).contains("out of order"));
    assert!(invalid(w.add_symbol("0").unwrap_err()).contains("out of order"));
    for s in ["b", "c", "x"] {
        w.add_symbol(s).unwrap();
    }
    // Header (5) and symbol table (20) end at 25: the first series starts at 32.
    let first = w.add_series(&ls(&[("a", "b")]), &[]).unwrap();
    assert_eq!(first, 2);
    assert!(invalid(w.add_symbol("y").unwrap_err()).contains("after series"));
    assert!(invalid(w.add_series(&ls(&[("a", "b")]), &[]).unwrap_err()).contains("out-of-order"));
    assert!(invalid(w.add_series(&ls(&[("a", "a")]), &[]).unwrap_err()).contains("out-of-order"));
    assert!(invalid(w.add_series(&ls(&[("a", "q")]), &[]).unwrap_err()).contains("\"q\""));
    // A rejected series leaves the writer usable.
    assert_eq!(w.add_series(&ls(&[("a", "c")]), &[]).unwrap(), first + 1);
    w.finish().unwrap();
}

#[test]
fn writer_rejects_bad_chunk_metas() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = IndexWriter::create(dir.path().join("index")).unwrap();
    for s in ["a", "b", "c", "d"] {
        w.add_symbol(s).unwrap();
    }
    let s = |v| ls(&[("a", v)]);
    assert!(
        invalid(w.add_series(&s("b"), &[meta(10, 5, 8)]).unwrap_err()).contains("before its min")
    );
    assert!(
        invalid(
            w.add_series(&s("b"), &[meta(0, 10, 8), meta(10, 20, 16)])
                .unwrap_err()
        )
        .contains("not after")
    );
    w.add_series(&s("b"), &[meta(0, 10, 100)]).unwrap();
    // Chunk references never go backwards across series.
    assert!(invalid(w.add_series(&s("c"), &[meta(0, 10, 50)]).unwrap_err()).contains("unsorted"));
    w.add_series(&s("c"), &[meta(0, 10, 100), meta(11, 12, 200)])
        .unwrap();
    w.finish().unwrap();
}
