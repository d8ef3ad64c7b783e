//! Index-headers built from the indexes Prometheus 2.42 wrote and from indexes our writer
//! wrote: every answer through the header (symbols, label names and values, every postings
//! list fetched by range) equals the full index reader's; the builder reads only the two
//! tables; damaged headers and indexes give errors, never panics.

mod index_common;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cortex_tsdb::chunks::{ChunkMeta, ChunkRef};
use cortex_tsdb::index::{IndexReader, IndexWriter, WriterOptions};
use cortex_tsdb::index_header::{
    FileRangeReader, IndexHeaderReader, PostingsRange, RangeReader, build_index_header,
    build_index_header_bytes, decode_postings,
};
use cortex_tsdb::labels::Labels;
use cortex_tsdb::{Error, Result};
use index_common::{fixtures, refs};

/// The fixture indexes, or `None` (with the reason printed) when the fixtures are absent
/// outside CI.
fn fixture_indexes() -> Option<Vec<PathBuf>> {
    if !fixtures().is_dir() {
        assert!(
            std::env::var("CI").is_err(),
            "{} is missing under CI",
            fixtures().display()
        );
        eprintln!("skipping: {} is missing", fixtures().display());
        return None;
    }
    Some(index_common::all_indexes())
}

/// `n` sorted series: a name of 7 values, an `instance` of 211 values (crossing the
/// 32-value sampling many times), a unique `id`, and a label every fifth series has.
fn dataset(n: usize) -> Vec<Labels> {
    let mut series: Vec<Labels> = (0..n)
        .map(|i| {
            let mut b = Labels::from_pairs([
                ("__name__", format!("metric_{}", i % 7)),
                ("instance", format!("host-{:04}:9100", i % 211)),
                ("id", format!("{i:07}")),
            ])
            .unwrap()
            .to_builder();
            if i % 5 == 0 {
                b.set("zone", &format!("z{}", i % 3));
            }
            b.build().unwrap()
        })
        .collect();
    series.sort();
    series
}

fn write_index(path: &Path, series: &[Labels], options: WriterOptions) {
    let syms: BTreeSet<&str> = series
        .iter()
        .flat_map(|l| l.iter().flat_map(|l| [l.name, l.value]))
        .collect();
    let mut w = IndexWriter::create_with(path, options).unwrap();
    for s in syms {
        w.add_symbol(s).unwrap();
    }
    for (i, l) in series.iter().enumerate() {
        let chunk = ChunkMeta {
            min_time: 1000 * i as i64,
            max_time: 1000 * i as i64 + 500,
            chunk_ref: ChunkRef(8 + 64 * i as u64),
        };
        w.add_series(l, &[chunk]).unwrap();
    }
    w.finish().unwrap();
}

/// Reads through `inner` and records every range asked for.
struct Recording<'a, R: RangeReader + ?Sized> {
    inner: &'a R,
    reads: RefCell<Vec<(u64, usize)>>,
}

impl<R: RangeReader + ?Sized> RangeReader for Recording<'_, R> {
    fn len(&self) -> Result<u64> {
        self.inner.len()
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        self.reads.borrow_mut().push((offset, len));
        self.inner.read_at(offset, len)
    }
}

/// Builds the header of the index at `index` into a directory, checks every answer it
/// gives against the full index, and returns the header's size.
fn check_against_index(index: &Path) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("index-header");
    let src = FileRangeReader::open(index).unwrap();
    let size = build_index_header(&src, &out).unwrap();
    assert_eq!(std::fs::metadata(&out).unwrap().len(), size);
    assert!(!dir.path().join("index-header.tmp").exists());
    let h = IndexHeaderReader::open(&out).unwrap();
    let r = IndexReader::open(index).unwrap();
    let bytes = std::fs::read(index).unwrap();
    assert_eq!(h.size(), size);
    assert_eq!(h.index_toc(), r.toc());
    assert_eq!(h.index_version(), 2);

    assert_eq!(h.num_symbols(), r.num_symbols());
    assert!(h.symbols().eq(r.symbols()));
    for i in 0..r.num_symbols() {
        assert_eq!(h.symbol(i).unwrap(), r.symbol(i).unwrap());
    }
    assert!(h.symbol(r.num_symbols()).is_err());

    assert_eq!(h.label_names(), r.label_names());
    let fetch = |rng: PostingsRange| {
        let b = &bytes[rng.start as usize..rng.end as usize];
        refs(decode_postings(index, rng, b).unwrap())
    };
    let mut lists = 0;
    let mut names = r.label_names();
    names.push("");
    for name in names {
        let values = r.label_values(name).unwrap();
        assert_eq!(h.label_values(name).unwrap(), values, "values of {name:?}");
        let all = h.postings_ranges_matching(name, |_| true).unwrap();
        assert_eq!(all.len(), values.len());
        for (v, (mv, mrng)) in values.iter().zip(&all) {
            assert_eq!(v, mv);
            let rng = h.postings_range(name, v).unwrap().expect("listed value");
            assert_eq!(rng, *mrng);
            assert_eq!(
                fetch(rng),
                refs(r.postings(name, &[v]).unwrap()),
                "{name}={v}"
            );
            lists += 1;
        }
        assert_eq!(
            h.postings_range(name, "\u{10ffff}no such value").unwrap(),
            None
        );
        // Between two existing values.
        for v in values.iter().step_by(7) {
            let between = format!("{v}\u{0}");
            if !values.contains(&between.as_str()) {
                assert_eq!(h.postings_range(name, &between).unwrap(), None);
            }
        }
    }
    assert_eq!(h.postings_range("no such name", "x").unwrap(), None);
    assert!(h.label_values("no such name").unwrap().is_empty());
    let all = h.all_postings_range().unwrap().unwrap();
    assert_eq!(fetch(all), refs(r.all_postings().unwrap()));
    // Lists are contiguous: the ranges tile the postings section exactly.
    let mut ranges: Vec<PostingsRange> = h
        .label_names()
        .into_iter()
        .chain([""])
        .flat_map(|n| h.postings_ranges_matching(n, |_| true).unwrap())
        .map(|(_, rng)| rng)
        .collect();
    ranges.sort_by_key(|rng| rng.start);
    assert_eq!(ranges.len(), lists);
    for w in ranges.windows(2) {
        assert_eq!(w[0].end, w[1].start);
    }
    assert_eq!(ranges.last().unwrap().end, r.toc().label_indices_table);
    size
}

#[test]
fn fixture_headers_answer_like_the_full_index() {
    let Some(indexes) = fixture_indexes() else {
        return;
    };
    for index in indexes {
        let size = check_against_index(&index);
        let full = std::fs::metadata(&index).unwrap().len();
        eprintln!(
            "{}: index {full} bytes, index-header {size} bytes ({:.1}%)",
            index.parent().unwrap().display(),
            100.0 * size as f64 / full as f64
        );
        assert!(size < full);
    }
}

#[test]
fn written_headers_answer_like_the_full_index_in_both_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let series = dataset(5000);
    for label_indices in [true, false] {
        let path = dir.path().join(format!("index-{label_indices}"));
        write_index(&path, &series, WriterOptions { label_indices });
        let size = check_against_index(&path);
        let full = std::fs::metadata(&path).unwrap().len();
        eprintln!("5000 series (label indices {label_indices}): index {full}, header {size}");
    }
}

#[test]
fn header_is_the_two_tables_copied_between_a_header_and_a_toc() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    write_index(&path, &dataset(300), WriterOptions::default());
    let index = std::fs::read(&path).unwrap();
    let toc = *IndexReader::open(&path).unwrap().toc();
    let h = build_index_header_bytes(&index).unwrap();
    let (symbols, series, table) = (
        toc.symbols as usize,
        toc.series as usize,
        toc.postings_table as usize,
    );
    assert_eq!(&h[..4], &[0xba, 0xaa, 0xd7, 0x92]);
    assert_eq!(h[4], 1, "index-header version");
    assert_eq!(h[5], 2, "index version");
    assert_eq!(&h[6..14], &toc.postings_table.to_be_bytes());
    let sym_len = series - symbols;
    assert_eq!(&h[14..14 + sym_len], &index[symbols..series]);
    let table_at = 14 + sym_len;
    assert_eq!(&h[table_at..h.len() - 20], &index[table..]);
    let trailer = &h[h.len() - 20..];
    assert_eq!(&trailer[..8], &14u64.to_be_bytes());
    assert_eq!(&trailer[8..16], &(table_at as u64).to_be_bytes());
    assert_eq!(
        &trailer[16..],
        &crc32c::crc32c(&trailer[..16]).to_be_bytes()
    );
    assert_eq!(h.len(), 14 + sym_len + (index.len() - table) + 20);
}

#[test]
fn builder_reads_only_header_toc_and_the_two_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    write_index(&path, &dataset(3000), WriterOptions::default());
    let toc = *IndexReader::open(&path).unwrap().toc();
    let file = FileRangeReader::open(&path).unwrap();
    let rec = Recording {
        inner: &file,
        reads: RefCell::new(Vec::new()),
    };
    let h = build_index_header_bytes(&rec).unwrap();
    let reads = rec.reads.into_inner();
    let total: u64 = reads.iter().map(|&(_, n)| n as u64).sum();
    let size = file.len().unwrap();
    // Everything read ends up in the header, plus the index's 5-byte header; the header
    // adds its own 14 bytes and 20-byte TOC.
    assert_eq!(total, h.len() as u64 - 14 - 20 + 5);
    for (off, n) in reads {
        let end = off + n as u64;
        let in_head = end <= 5;
        let in_symbols = off >= toc.symbols && end <= toc.series;
        let in_tail = off >= toc.postings_table && end <= size;
        assert!(in_head || in_symbols || in_tail, "read {off}+{n}");
    }
}

#[test]
fn damaged_indexes_are_refused_and_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    write_index(&path, &dataset(200), WriterOptions::default());
    let index = std::fs::read(&path).unwrap();
    let toc = *IndexReader::open(&path).unwrap().toc();
    let out = dir.path().join("index-header");
    for (at, section) in [
        (toc.symbols as usize + 9, "symbols"),
        (toc.postings_table as usize + 9, "postings offset table"),
        (index.len() - 10, "TOC"),
        (1, "header"),
    ] {
        let mut bad = index.clone();
        bad[at] ^= 0x20;
        match build_index_header(&bad, &out).unwrap_err() {
            Error::Corrupted { section: s, .. } => assert_eq!(s, section),
            e => panic!("{section}: {e}"),
        }
        assert!(!out.exists());
        assert!(!dir.path().join("index-header.tmp").exists());
    }
    // Damage in the series section is not the builder's business: it never reads it.
    let mut bad = index.clone();
    bad[toc.series as usize + 20] ^= 0x20;
    assert!(build_index_header(&bad, &out).is_ok());
    // Too short to be an index.
    assert!(build_index_header_bytes(&index[..40].to_vec()).is_err());
}

/// Everything a store-gateway asks, on a header that opened.
fn exercise(h: &IndexHeaderReader) {
    for i in 0..h.num_symbols() {
        let _ = h.symbol(i);
    }
    for name in h.label_names() {
        if let Ok(values) = h.label_values(name) {
            for v in values {
                let _ = h.postings_range(name, v);
            }
        }
        let _ = h.postings_ranges_matching(name, |_| true);
    }
}

#[test]
fn every_flipped_byte_or_truncation_of_a_header_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    write_index(&path, &dataset(100), WriterOptions::default());
    let header = build_index_header_bytes(&std::fs::read(&path).unwrap()).unwrap();
    exercise(&IndexHeaderReader::from_bytes(header.clone(), "ok").unwrap());
    // Every byte is covered by a check: the magic, the versions, the recorded table
    // offset (compared with the copied index TOC), and checksums over all the rest.
    for at in 0..header.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = header.clone();
            bad[at] ^= bit;
            match IndexHeaderReader::from_bytes(bad, "bad") {
                Err(Error::Corrupted { .. }) => {}
                Err(e) => panic!("byte {at}: unexpected error {e}"),
                Ok(h) => panic!("byte {at} bit {bit:#x}: damaged header opened: {h:?}"),
            }
        }
    }
    for len in 0..header.len() {
        assert!(
            IndexHeaderReader::from_bytes(&header[..len], "short").is_err(),
            "truncated to {len}"
        );
    }
    // A file on disk: truncated and empty.
    let p = dir.path().join("index-header");
    std::fs::write(&p, &header[..header.len() / 2]).unwrap();
    assert!(matches!(
        IndexHeaderReader::open(&p),
        Err(Error::Corrupted { .. })
    ));
    std::fs::write(&p, b"").unwrap();
    assert!(IndexHeaderReader::open(&p).is_err());
    assert!(matches!(
        IndexHeaderReader::open(dir.path().join("missing")),
        Err(Error::Io { .. })
    ));
}

#[test]
fn header_of_a_100k_series_index_is_small() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let series = dataset(100_000);
    write_index(&path, &series, WriterOptions::default());
    let out = dir.path().join("index-header");
    let size = build_index_header(&FileRangeReader::open(&path).unwrap(), &out).unwrap();
    let full = std::fs::metadata(&path).unwrap().len();
    let h = IndexHeaderReader::open(&out).unwrap();
    let r = IndexReader::open(&path).unwrap();
    eprintln!(
        "100000 series: index {full} bytes, index-header {size} bytes ({:.1}%), \
         header reader memory {} bytes",
        100.0 * size as f64 / full as f64,
        h.memory()
    );
    assert!(size < full / 2, "header {size} of index {full}");
    // Spot checks across the id values (the full comparison runs on smaller indexes).
    let bytes = std::fs::read(&path).unwrap();
    let ids = h.label_values("id").unwrap();
    assert_eq!(ids.len(), 100_000);
    for v in ids.iter().step_by(997) {
        let rng = h.postings_range("id", v).unwrap().unwrap();
        let got = refs(
            decode_postings(&path, rng, &bytes[rng.start as usize..rng.end as usize]).unwrap(),
        );
        assert_eq!(got, refs(r.postings("id", &[v]).unwrap()));
    }
    assert_eq!(
        h.label_values("instance").unwrap(),
        r.label_values("instance").unwrap()
    );
}
