//! Writing and reading the WAL: records come back byte for byte and in order with every
//! compression; pages, fragments and segments are laid out as Prometheus lays them out;
//! reopening, cutting and truncating behave like Prometheus' WAL.

mod wal_common;

use std::fs;

use cortex_tsdb::Error;
use cortex_tsdb::encoding::crc32c;
use cortex_tsdb::record::{Encoder, RecordBatch, RefSample, decode_samples};
use cortex_tsdb::wal::{
    Compression, PAGE_SIZE, Reader, SegmentRange, Wal, WalOptions, segment_path, segment_range,
};
use wal_common::{assorted_records, opts, read_all, read_positions, record, write_unclosed};

#[test]
fn logged_records_read_back_in_order_with_every_compression() {
    for c in [Compression::None, Compression::Snappy, Compression::Zstd] {
        let dir = tempfile::tempdir().unwrap();
        let recs = assorted_records();
        let mut w = Wal::open(dir.path(), opts(3, c)).unwrap();
        // Some records alone, some several per call.
        w.log(&recs[..1]).unwrap();
        w.log(&recs[1..6]).unwrap();
        for r in &recs[6..] {
            w.log(&[r]).unwrap();
        }
        let stats = w.stats();
        w.close().unwrap();
        assert_eq!(stats.records, recs.len() as u64);
        if c == Compression::None {
            assert_eq!(stats.compression_saved_bytes, 0);
        } else {
            assert!(stats.compression_saved_bytes > 10_000, "{c:?}: {stats:?}");
        }
        let (got, torn) = read_all(Reader::open(dir.path()).unwrap()).unwrap();
        assert_eq!(torn, None);
        assert_eq!(got, recs, "{c:?}");
    }
}

#[test]
fn a_record_is_one_full_fragment_with_the_documented_header() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(dir.path(), opts(4, Compression::None)).unwrap();
    w.log(&[b"abc"]).unwrap();
    // Written to the OS before `log` returns: visible without close or sync.
    let bytes = fs::read(segment_path(dir.path(), 0)).unwrap();
    let mut want = vec![0x01, 0x00, 0x03];
    want.extend_from_slice(&crc32c(b"abc").to_be_bytes());
    want.extend_from_slice(b"abc");
    assert_eq!(bytes, want);
    // The example drawn in wal/FORMAT.md.
    assert_eq!(
        bytes,
        [0x01, 0x00, 0x03, 0x36, 0x4b, 0x3f, 0xb7, b'a', b'b', b'c']
    );
    w.close().unwrap();
    let bytes = fs::read(segment_path(dir.path(), 0)).unwrap();
    assert_eq!(bytes.len(), PAGE_SIZE, "close pads the last page");
    assert!(bytes[10..].iter().all(|&b| b == 0));
}

#[test]
fn a_record_crossing_pages_is_split_into_first_middle_and_last_fragments() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(dir.path(), opts(8, Compression::None)).unwrap();
    w.log(&[b"abc"]).unwrap();
    let big = record(9, 2 * PAGE_SIZE, false);
    w.log(&[&big]).unwrap();
    w.close().unwrap();
    let b = fs::read(segment_path(dir.path(), 0)).unwrap();
    let first_len = PAGE_SIZE - 10 - 7;
    assert_eq!(b[10], 0x02, "first");
    assert_eq!(u16::from_be_bytes([b[11], b[12]]) as usize, first_len);
    assert_eq!(&b[17..PAGE_SIZE], &big[..first_len]);
    let p1 = PAGE_SIZE;
    assert_eq!(b[p1], 0x03, "middle");
    assert_eq!(
        u16::from_be_bytes([b[p1 + 1], b[p1 + 2]]) as usize,
        PAGE_SIZE - 7
    );
    let p2 = 2 * PAGE_SIZE;
    assert_eq!(b[p2], 0x04, "last");
    let last_len = big.len() - first_len - (PAGE_SIZE - 7);
    assert_eq!(
        u16::from_be_bytes([b[p2 + 1], b[p2 + 2]]) as usize,
        last_len
    );
    let crc = u32::from_be_bytes([b[p2 + 3], b[p2 + 4], b[p2 + 5], b[p2 + 6]]);
    assert_eq!(crc, crc32c(&big[big.len() - last_len..]));
    let (got, _) = read_all(Reader::open(dir.path()).unwrap()).unwrap();
    assert_eq!(got, vec![b"abc".to_vec(), big]);
}

#[test]
fn no_fragment_starts_in_the_last_six_bytes_of_a_page() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(dir.path(), opts(4, Compression::None)).unwrap();
    // Leaves 3 bytes in the first page: too few for a header.
    let fill = record(1, PAGE_SIZE - 7 - 3, false);
    w.log(&[&fill, &b"next".to_vec()]).unwrap();
    w.close().unwrap();
    let b = fs::read(segment_path(dir.path(), 0)).unwrap();
    assert_eq!(&b[PAGE_SIZE - 3..PAGE_SIZE], &[0, 0, 0]);
    assert_eq!(b[PAGE_SIZE], 0x01);
    assert_eq!(&b[PAGE_SIZE + 7..PAGE_SIZE + 11], b"next");
    let (got, _) = read_all(Reader::open(dir.path()).unwrap()).unwrap();
    assert_eq!(got, vec![fill, b"next".to_vec()]);
}

#[test]
fn snappy_is_used_only_when_it_shrinks_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(dir.path(), opts(4, Compression::Snappy)).unwrap();
    let compressible = vec![b'x'; 1000];
    w.log(&[b"ab".to_vec(), compressible.clone()]).unwrap();
    w.close().unwrap();
    let b = fs::read(segment_path(dir.path(), 0)).unwrap();
    assert_eq!(b[0], 0x01, "two bytes stay uncompressed");
    assert_eq!(
        b[9],
        0x01 | 0x08,
        "the repetitive record carries the snappy flag"
    );
    assert!(u16::from_be_bytes([b[10], b[11]]) < 100);
    let (got, _) = read_all(Reader::open(dir.path()).unwrap()).unwrap();
    assert_eq!(got, vec![b"ab".to_vec(), compressible]);
}

#[test]
fn records_never_span_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(dir.path(), opts(2, Compression::None)).unwrap();
    let recs: Vec<Vec<u8>> = (0..12).map(|i| record(i, 20_000, false)).collect();
    for r in &recs {
        w.log(&[r]).unwrap();
    }
    w.close().unwrap();
    let range = segment_range(dir.path()).unwrap().unwrap();
    // Three 20 000-byte records fit into the 65 522 payload bytes of two pages.
    assert_eq!((range.first, range.last), (0, 3));
    for i in range.first..=range.last {
        let len = fs::metadata(segment_path(dir.path(), i)).unwrap().len();
        assert!(len <= 2 * PAGE_SIZE as u64, "segment {i} is {len} bytes");
    }
    let got = read_positions(Reader::open(dir.path()).unwrap());
    assert_eq!(got.len(), recs.len());
    for (i, ((seg, _, rec), want)) in got.iter().zip(&recs).enumerate() {
        assert_eq!(rec, want);
        assert_eq!(*seg, i as u64 / 3);
    }
}

#[test]
fn a_record_larger_than_a_segment_gets_one_larger_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(dir.path(), opts(1, Compression::None)).unwrap();
    let small = record(1, 100, false);
    let huge = record(2, 3 * PAGE_SIZE, false);
    w.log(&[&small]).unwrap();
    w.log(&[&huge]).unwrap();
    w.log(&[&small]).unwrap();
    w.close().unwrap();
    assert_eq!(
        segment_range(dir.path()).unwrap(),
        Some(SegmentRange { first: 0, last: 2 })
    );
    let len1 = fs::metadata(segment_path(dir.path(), 1)).unwrap().len();
    assert_eq!(len1, 4 * PAGE_SIZE as u64);
    let got = read_positions(Reader::open(dir.path()).unwrap());
    let segs: Vec<u64> = got.iter().map(|g| g.0).collect();
    assert_eq!(segs, vec![0, 1, 2]);
    assert_eq!(got[1].2, huge);
}

#[test]
fn opening_continues_in_a_new_segment() {
    let dir = tempfile::tempdir().unwrap();
    let a = assorted_records();
    // Killed without close: segment 0 ends inside a page.
    write_unclosed(dir.path(), opts(64, Compression::Snappy), &a[..5]);
    assert_ne!(
        fs::metadata(segment_path(dir.path(), 0)).unwrap().len() % PAGE_SIZE as u64,
        0
    );
    let mut w = Wal::open(dir.path(), opts(64, Compression::Snappy)).unwrap();
    assert_eq!(w.segment(), 1);
    w.log(&a[5..]).unwrap();
    w.close().unwrap();
    // Opened and closed without writing: an empty segment 2.
    Wal::open(dir.path(), WalOptions::default())
        .unwrap()
        .close()
        .unwrap();
    assert_eq!(fs::metadata(segment_path(dir.path(), 2)).unwrap().len(), 0);
    let mut w = Wal::open(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(w.segment(), 3);
    w.log(&[b"after the empty one"]).unwrap();
    drop(w);
    let (got, torn) = read_all(Reader::open(dir.path()).unwrap()).unwrap();
    assert_eq!(torn, None);
    let mut want = a.clone();
    want.push(b"after the empty one".to_vec());
    assert_eq!(got, want);
}

#[test]
fn next_segment_and_truncate_manage_the_segment_range() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(dir.path(), opts(4, Compression::Snappy)).unwrap();
    for i in 0..4u64 {
        w.log(&[record(i, 10, false)]).unwrap();
        assert_eq!(w.next_segment().unwrap(), i + 1);
    }
    // A cut completes the previous segment's page.
    assert_eq!(
        fs::metadata(segment_path(dir.path(), 0)).unwrap().len(),
        PAGE_SIZE as u64
    );
    w.truncate(2).unwrap();
    assert_eq!(w.segments().unwrap(), SegmentRange { first: 2, last: 4 });
    // Never deletes the segment being written.
    w.truncate(100).unwrap();
    assert_eq!(w.segments().unwrap(), SegmentRange { first: 4, last: 4 });
    w.log(&[b"x"]).unwrap();
    w.close().unwrap();
    let (got, _) = read_all(Reader::open(dir.path()).unwrap()).unwrap();
    assert_eq!(got, vec![b"x".to_vec()]);
}

#[test]
fn a_range_reader_reads_only_the_requested_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(dir.path(), opts(4, Compression::None)).unwrap();
    for i in 0..5u8 {
        w.log(&[[i]]).unwrap();
        w.next_segment().unwrap();
    }
    w.close().unwrap();
    let (got, _) = read_all(Reader::open_range(dir.path(), Some(1), Some(3)).unwrap()).unwrap();
    assert_eq!(got, vec![vec![1], vec![2], vec![3]]);
    let (got, _) = read_all(Reader::open_range(dir.path(), Some(4), None).unwrap()).unwrap();
    assert_eq!(got, vec![vec![4]]);
}

#[test]
fn a_commit_batch_is_logged_in_one_call_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(dir.path(), WalOptions::default()).unwrap();
    let enc = Encoder::default();
    let mut batch = RecordBatch::new();
    let samples: Vec<RefSample> = (0..1000)
        .map(|i| RefSample {
            series_ref: i % 10,
            st: 0,
            t: 1_700_000_000_000 + i as i64,
            v: i as f64,
        })
        .collect();
    enc.samples(&samples[..500], &mut batch);
    enc.samples(&samples[500..], &mut batch);
    w.log_batch(&batch).unwrap();
    w.sync().unwrap();
    assert_eq!(w.stats().records, 2);
    drop(w);
    let mut r = Reader::open(dir.path()).unwrap();
    let mut got = Vec::new();
    let mut buf = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        decode_samples(rec, &mut buf).unwrap();
        got.extend_from_slice(&buf);
    }
    assert_eq!(got, samples);
}

#[test]
fn segment_size_must_be_whole_pages() {
    let dir = tempfile::tempdir().unwrap();
    for size in [0, 1000, PAGE_SIZE as u64 + 1] {
        let o = WalOptions {
            segment_size: size,
            compression: Compression::None,
        };
        assert!(matches!(
            Wal::open(dir.path(), o),
            Err(Error::InvalidArgument(_))
        ));
    }
}

#[test]
fn opening_a_directory_with_a_missing_segment_fails() {
    let dir = tempfile::tempdir().unwrap();
    for n in ["00000000", "00000002"] {
        fs::write(dir.path().join(n), b"").unwrap();
    }
    let err = Wal::open(dir.path(), WalOptions::default()).err().unwrap();
    assert!(
        matches!(&err, Error::Corrupted { file, .. } if file == dir.path()),
        "{err}"
    );
}
