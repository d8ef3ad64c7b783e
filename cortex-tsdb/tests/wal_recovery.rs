//! Recovery from on-disk damage: a torn tail of the last segment (partial page, partial
//! record, zero-filled tail, a final fragment whose CRC fails) ends reading cleanly and is
//! reported with segment, offset and size, and repairing it leaves a clean WAL; any other
//! damage (a flipped bit followed by valid records, a damaged earlier segment, a missing
//! segment, damage in a checkpoint) is `Error::Corrupted` naming the file and offset.
//! Never a panic, never fewer records without saying so.

mod wal_common;

use std::fs::{self, OpenOptions};
use std::path::Path;

use cortex_tsdb::wal::{
    Compression, PAGE_SIZE, Reader, Wal, checkpoint, checkpoint_dir, repair_torn_tail,
    replay_reader, segment_path,
};
use wal_common::{corrupted_at, opts, read_all, read_positions, record, write_unclosed};

/// Records of mixed sizes, some spanning pages, written uncompressed so offsets are
/// predictable.
fn sample_records() -> Vec<Vec<u8>> {
    [500, 20_000, 40_000, 30, 7_000, 33_000, 120, 9_000]
        .iter()
        .enumerate()
        .map(|(i, &n)| record(i as u64, n, false))
        .collect()
}

/// A smaller set for the exhaustive damage loops (two pages, one record spanning them).
fn small_records() -> Vec<Vec<u8>> {
    [300, 9_000, 30, 36_000, 50, 2_000]
        .iter()
        .enumerate()
        .map(|(i, &n)| record(i as u64 + 100, n, false))
        .collect()
}

/// A WAL in `dir` with the sample records in one segment, left as a killed process
/// leaves it; returns the records and each one's offset.
fn one_segment_wal(dir: &Path) -> (Vec<Vec<u8>>, Vec<u64>) {
    wal_of(dir, sample_records())
}

fn wal_of(dir: &Path, recs: Vec<Vec<u8>>) -> (Vec<Vec<u8>>, Vec<u64>) {
    write_unclosed(dir, opts(64, Compression::None), &recs);
    let pos = read_positions(Reader::open(dir).unwrap());
    assert_eq!(pos.len(), recs.len());
    (recs, pos.iter().map(|p| p.1).collect())
}

fn seg0(dir: &Path) -> std::path::PathBuf {
    segment_path(dir, 0)
}

fn set_len(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn patch(path: &Path, at: usize, bytes: &[u8]) {
    let mut b = fs::read(path).unwrap();
    b[at..at + bytes.len()].copy_from_slice(bytes);
    fs::write(path, b).unwrap();
}

/// Reads, expects a torn tail at the start of record `first_missing`, repairs it and
/// checks that the WAL then reads cleanly and accepts new records.
fn expect_torn_then_repair(dir: &Path, recs: &[Vec<u8>], offsets: &[u64], first_missing: usize) {
    let (got, torn) = read_all(Reader::open(dir).unwrap()).unwrap();
    assert_eq!(got, recs[..first_missing]);
    let torn = torn.expect("a torn tail is reported");
    assert_eq!(torn.segment, 0);
    assert_eq!(torn.path, seg0(dir));
    assert_eq!(torn.offset, offsets[first_missing]);
    let len = fs::metadata(seg0(dir)).unwrap().len();
    assert_eq!(torn.bytes, len - torn.offset);
    assert!(torn.to_string().contains("dropped"), "{torn}");

    repair_torn_tail(&torn).unwrap();
    let len = fs::metadata(seg0(dir)).unwrap().len();
    assert_eq!(len % PAGE_SIZE as u64, 0, "repair pads to a page boundary");
    let (again, torn) = read_all(Reader::open(dir).unwrap()).unwrap();
    assert_eq!((again.as_slice(), torn), (&recs[..first_missing], None));

    let mut w = Wal::open(dir, opts(64, Compression::Snappy)).unwrap();
    w.log(&[b"after repair"]).unwrap();
    w.close().unwrap();
    let (after, torn) = read_all(Reader::open(dir).unwrap()).unwrap();
    assert_eq!(torn, None);
    assert_eq!(after.last().unwrap(), b"after repair");
    assert_eq!(after.len(), first_missing + 1);
}

#[test]
fn replay_tolerates_a_torn_final_page() {
    let dir = tempfile::tempdir().unwrap();
    let (recs, offsets) = one_segment_wal(dir.path());
    // Cut 100 bytes into the page that holds the last record's last fragment.
    let last = *offsets.last().unwrap();
    set_len(&seg0(dir.path()), last + 100);
    expect_torn_then_repair(dir.path(), &recs, &offsets, recs.len() - 1);
}

#[test]
fn replay_tolerates_a_record_truncated_after_its_first_fragment() {
    let dir = tempfile::tempdir().unwrap();
    let (recs, offsets) = one_segment_wal(dir.path());
    // Record 5 (33 000 bytes) starts in one page and ends in the next: keep only its
    // first fragment, which ends exactly at a page boundary.
    let next_page = offsets[5].next_multiple_of(PAGE_SIZE as u64);
    set_len(&seg0(dir.path()), next_page);
    expect_torn_then_repair(dir.path(), &recs, &offsets, 5);
}

#[test]
fn replay_tolerates_a_file_ending_inside_a_fragment_header() {
    let dir = tempfile::tempdir().unwrap();
    let (recs, offsets) = one_segment_wal(dir.path());
    set_len(&seg0(dir.path()), offsets[6] + 3);
    expect_torn_then_repair(dir.path(), &recs, &offsets, 6);
}

#[test]
fn replay_tolerates_a_zero_filled_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (recs, offsets) = one_segment_wal(dir.path());
    // The file was extended but the last record's data never arrived: zeros from just
    // after its first header to two pages past the end.
    let path = seg0(dir.path());
    let len = fs::metadata(&path).unwrap().len();
    let from = offsets[7] as usize + 7;
    let mut b = fs::read(&path).unwrap();
    b.truncate(from);
    b.resize(len as usize + 2 * PAGE_SIZE, 0);
    fs::write(&path, b).unwrap();
    expect_torn_then_repair(dir.path(), &recs, &offsets, 7);
}

#[test]
fn zeros_after_the_last_complete_record_are_just_padding() {
    let dir = tempfile::tempdir().unwrap();
    let (recs, _) = one_segment_wal(dir.path());
    let path = seg0(dir.path());
    let len = fs::metadata(&path).unwrap().len();
    set_len(&path, len + 3 * PAGE_SIZE as u64);
    let (got, torn) = read_all(Reader::open(dir.path()).unwrap()).unwrap();
    assert_eq!((got, torn), (recs, None));
}

#[test]
fn a_final_record_whose_crc_fails_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (recs, offsets) = one_segment_wal(dir.path());
    let path = seg0(dir.path());
    let len = fs::metadata(&path).unwrap().len() as usize;
    // The write of the last bytes was cut: they hold garbage that was never finished.
    let mut b = fs::read(&path).unwrap();
    b[len - 1] ^= 0x5a;
    fs::write(&path, b).unwrap();
    expect_torn_then_repair(dir.path(), &recs, &offsets, 7);
}

#[test]
fn a_flipped_bit_followed_by_valid_records_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let (_, offsets) = one_segment_wal(dir.path());
    let path = seg0(dir.path());
    // A bit in the data of record 3 (30 bytes, one full fragment).
    let at = offsets[3] as usize + 7 + 10;
    let mut b = fs::read(&path).unwrap();
    b[at] ^= 0x10;
    fs::write(&path, b).unwrap();
    let (file, offset, detail) = corrupted_at(read_all(Reader::open(dir.path()).unwrap()));
    assert_eq!(file, path);
    assert_eq!(offset, offsets[3]);
    assert!(detail.contains("CRC"), "{detail}");
    assert!(detail.contains("non-zero bytes follow"), "{detail}");
}

#[test]
fn every_flipped_bit_before_the_last_record_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let (recs, offsets) = wal_of(dir.path(), small_records());
    let path = seg0(dir.path());
    let clean = fs::read(&path).unwrap();
    let last = *offsets.last().unwrap() as usize;
    let mut checked = 0;
    for at in (0..clean.len()).step_by(17) {
        let mut b = clean.clone();
        b[at] ^= 1 << (at % 8);
        let res = read_all(Reader::from_bytes(&path, 0, b));
        if at < last {
            let (file, _, _) = corrupted_at(res);
            assert_eq!(file, path);
        } else {
            // Inside the last record: a torn tail or corruption, never silent.
            match res {
                Ok((got, torn)) => {
                    assert_eq!(got, recs[..recs.len() - 1]);
                    assert_eq!(torn.unwrap().offset, last as u64);
                }
                Err(e) => assert!(matches!(e, cortex_tsdb::Error::Corrupted { .. })),
            }
        }
        checked += 1;
    }
    assert!(checked > 2500, "{checked}");
}

#[test]
fn every_truncation_and_zero_fill_reads_a_prefix_and_reports_what_it_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (recs, offsets) = wal_of(dir.path(), small_records());
    let path = seg0(dir.path());
    let clean = fs::read(&path).unwrap();
    let mut torn_seen = 0;
    for cut in (0..=clean.len()).step_by(29) {
        for zero_fill in [false, true] {
            let mut b = clean[..cut].to_vec();
            if zero_fill {
                b.resize(clean.len() + 100, 0);
            }
            let (mut got, torn) = read_all(Reader::from_bytes(&path, 0, b))
                .unwrap_or_else(|e| panic!("cut at {cut}, zero fill {zero_fill}: {e}"));
            if let Some(last) = got.last()
                && last.is_empty()
            {
                // Only the header's type byte survived before the zeros: that is how an
                // empty record looks (see the `tail` module docs).
                let n = got.len() - 1;
                assert!(zero_fill, "cut at {cut}");
                assert!(
                    cut as u64 > offsets[n] && cut as u64 <= offsets[n] + 2,
                    "cut at {cut}"
                );
                assert_eq!(torn, None);
                got.pop();
                assert_eq!(got, recs[..n]);
                continue;
            }
            assert_eq!(got, recs[..got.len()], "cut at {cut}");
            let n = got.len();
            match torn {
                Some(t) => {
                    torn_seen += 1;
                    assert_eq!(t.offset, offsets[n], "cut at {cut}");
                    assert!(cut as u64 > offsets[n]);
                }
                None => assert!(n == recs.len() || cut as u64 <= offsets[n], "cut at {cut}"),
            }
        }
    }
    assert!(torn_seen > 2500, "{torn_seen}");
}

#[test]
fn damage_in_a_segment_followed_by_one_holding_data_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let recs = sample_records();
    write_unclosed(dir.path(), opts(64, Compression::None), &recs[..4]);
    write_unclosed(dir.path(), opts(64, Compression::None), &recs[4..]);
    let offsets: Vec<u64> = read_positions(Reader::open(dir.path()).unwrap())
        .iter()
        .map(|p| p.1)
        .collect();
    // Segment 0 loses its last record's tail: torn in shape, but segment 1 has data.
    set_len(&seg0(dir.path()), offsets[3] + 20);
    let (file, offset, detail) = corrupted_at(read_all(Reader::open(dir.path()).unwrap()));
    assert_eq!((file, offset), (seg0(dir.path()), offsets[3]));
    assert!(detail.contains("00000001 holds data"), "{detail}");
}

#[test]
fn a_torn_tail_before_empty_segments_is_still_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (recs, offsets) = one_segment_wal(dir.path());
    set_len(&seg0(dir.path()), offsets[7] + 9);
    // Restarted twice: each start opened a new (empty) segment before its replay ran,
    // and a page of zeros does not count as data either.
    drop(Wal::open(dir.path(), opts(64, Compression::Snappy)).unwrap());
    fs::write(segment_path(dir.path(), 1), vec![0u8; PAGE_SIZE]).unwrap();
    let mut w = Wal::open(dir.path(), opts(64, Compression::Snappy)).unwrap();
    assert_eq!(w.segment(), 2);
    let (got, torn) = read_all(Reader::open(dir.path()).unwrap()).unwrap();
    assert_eq!(got, recs[..7]);
    let torn = torn.unwrap();
    assert_eq!((torn.segment, torn.offset), (0, offsets[7]));
    w.repair_torn_tail(&torn).unwrap();
    w.log(&[b"new"]).unwrap();
    drop(w);
    let (got, torn) = read_all(Reader::open(dir.path()).unwrap()).unwrap();
    assert_eq!((got.len(), torn), (8, None));
    assert_eq!(got[7], b"new");
}

#[test]
fn a_missing_segment_is_corruption_of_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(dir.path(), opts(4, Compression::None)).unwrap();
    for i in 0..3u8 {
        w.log(&[[i]]).unwrap();
        w.next_segment().unwrap();
    }
    w.close().unwrap();
    fs::remove_file(segment_path(dir.path(), 1)).unwrap();
    for err in [
        Reader::open(dir.path()).err().unwrap(),
        replay_reader(dir.path()).err().unwrap(),
    ] {
        match err {
            cortex_tsdb::Error::Corrupted { file, detail, .. } => {
                assert_eq!(file, dir.path());
                assert!(detail.contains("missing 00000001"), "{detail}");
            }
            e => panic!("{e}"),
        }
    }
}

#[test]
fn damage_at_the_end_of_a_checkpoint_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(dir.path(), opts(4, Compression::None)).unwrap();
    let mut enc_batch = cortex_tsdb::record::RecordBatch::new();
    let series: Vec<cortex_tsdb::record::RefSeries> = (0..50)
        .map(|i| cortex_tsdb::record::RefSeries {
            series_ref: i,
            labels: cortex_tsdb::Labels::from_pairs([("n", i.to_string())]).unwrap(),
        })
        .collect();
    cortex_tsdb::record::Encoder::default().series(&series, &mut enc_batch);
    w.log_batch(&enc_batch).unwrap();
    w.next_segment().unwrap();
    w.close().unwrap();
    checkpoint(dir.path(), 0, 0, |_| true, 0, Default::default()).unwrap();
    let cp_seg = segment_path(&checkpoint_dir(dir.path(), 0), 0);
    let cp_len = fs::metadata(&cp_seg).unwrap().len();
    assert_eq!(cp_len, PAGE_SIZE as u64);
    // Cut the checkpoint's only record short: the shape of a torn write, but a
    // checkpoint was complete before it became visible.
    let rec_len =
        u16::from_be_bytes([fs::read(&cp_seg).unwrap()[1], fs::read(&cp_seg).unwrap()[2]]);
    set_len(&cp_seg, 7 + u64::from(rec_len) / 2);
    let (file, offset, detail) = corrupted_at(read_all(replay_reader(dir.path()).unwrap()));
    assert_eq!((file, offset), (cp_seg, 0));
    assert!(detail.contains("checkpoint"), "{detail}");
}

#[test]
fn invalid_bytes_at_the_very_end_are_corruption_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (_, offsets) = one_segment_wal(dir.path());
    let path = seg0(dir.path());
    let clean = fs::read(&path).unwrap();
    // Fragment type 7 does not exist.
    let mut b = clean.clone();
    b[offsets[7] as usize] = 0x07;
    let (_, off, detail) = corrupted_at(read_all(Reader::from_bytes(&path, 0, b)));
    assert_eq!(off, offsets[7]);
    assert!(detail.contains("invalid fragment type"), "{detail}");
    // A non-zero byte in the padding after the last record.
    let mut b = clean.clone();
    b.resize(clean.len().next_multiple_of(PAGE_SIZE), 0);
    let at = b.len() - 5;
    b[at] = 1;
    let (_, off, detail) = corrupted_at(read_all(Reader::from_bytes(&path, 0, b)));
    assert_eq!(off, at as u64);
    assert!(detail.contains("padding"), "{detail}");
    // A length that overflows the page.
    let mut b = clean.clone();
    patch_in(&mut b, offsets[7] as usize + 1, &[0xff, 0xf0]);
    let (_, off, detail) = corrupted_at(read_all(Reader::from_bytes(&path, 0, b)));
    assert_eq!(off, offsets[7]);
    assert!(detail.contains("overflows its page"), "{detail}");
}

#[test]
fn a_snappy_record_that_does_not_decompress_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::open(dir.path(), opts(4, Compression::None)).unwrap();
    w.log(&[b"plain".to_vec(), b"next".to_vec()]).unwrap();
    drop(w);
    // Set the snappy flag on the first record: its CRC still matches.
    patch(&seg0(dir.path()), 0, &[0x09]);
    let (file, off, detail) = corrupted_at(read_all(Reader::open(dir.path()).unwrap()));
    assert_eq!((file, off), (seg0(dir.path()), 0));
    assert!(detail.contains("decompress"), "{detail}");
}

fn patch_in(b: &mut [u8], at: usize, bytes: &[u8]) {
    b[at..at + bytes.len()].copy_from_slice(bytes);
}

#[test]
fn the_writer_repairs_only_older_segments_with_nothing_written_after_them() {
    let dir = tempfile::tempdir().unwrap();
    let (_, offsets) = one_segment_wal(dir.path());
    set_len(&seg0(dir.path()), offsets[7] + 9);
    let (_, torn) = read_all(Reader::open(dir.path()).unwrap()).unwrap();
    let torn = torn.unwrap();
    // Someone wrote a segment after the torn one: repairing would reorder records.
    write_unclosed(
        dir.path(),
        opts(64, Compression::None),
        &[b"later".to_vec()],
    );
    let mut w = Wal::open(dir.path(), opts(64, Compression::None)).unwrap();
    let err = w.repair_torn_tail(&torn).unwrap_err();
    assert!(err.to_string().contains("holds data"), "{err}");
    let mut fake = torn.clone();
    fake.segment = w.segment();
    fake.path = segment_path(dir.path(), w.segment());
    assert!(w.repair_torn_tail(&fake).is_err());
}
