//! Helpers shared by the WAL behaviour tests: deterministic test records, reading a
//! whole WAL, and small file surgery.

#![allow(dead_code)]

use std::path::Path;

use cortex_tsdb::wal::{Compression, Reader, TornTail, Wal, WalOptions};
use cortex_tsdb::{Error, Result};

/// Options with a small segment size (`pages` pages) and the given compression.
pub fn opts(pages: u64, compression: Compression) -> WalOptions {
    WalOptions {
        segment_size: pages * cortex_tsdb::wal::PAGE_SIZE as u64,
        compression,
    }
}

/// A deterministic record of `len` bytes; `compressible` ones repeat a short pattern.
pub fn record(seed: u64, len: usize, compressible: bool) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|i| {
            if compressible {
                (seed as usize + i % 7) as u8
            } else {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            }
        })
        .collect()
}

/// Records of assorted sizes: empty, tiny, around a page, several pages.
pub fn assorted_records() -> Vec<Vec<u8>> {
    let sizes = [
        0, 1, 7, 100, 1000, 32_761, 32_762, 40_000, 3, 70_000, 5, 12_345, 0, 200,
    ];
    sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| record(i as u64, n, i % 3 == 0))
        .collect()
}

/// Every record of `r` as owned bytes, and the torn tail if reading stopped at one.
pub fn read_all(mut r: Reader) -> Result<(Vec<Vec<u8>>, Option<TornTail>)> {
    let mut out = Vec::new();
    while let Some(rec) = r.next_record()? {
        out.push(rec.to_vec());
    }
    Ok((out, r.torn_tail().cloned()))
}

/// Records with the segment index and offset the reader reports for each.
pub fn read_positions(mut r: Reader) -> Vec<(u64, u64, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        let rec = rec.to_vec();
        out.push((r.record_segment().unwrap().index, r.record_offset(), rec));
    }
    out
}

/// Writes `records` (each its own `log` call) into a new WAL in `dir` and closes it
/// without padding, as a killed process leaves it.
pub fn write_unclosed(dir: &Path, o: WalOptions, records: &[Vec<u8>]) {
    let mut w = Wal::open(dir, o).unwrap();
    for r in records {
        w.log(&[r]).unwrap();
    }
    drop(w);
}

/// The file and offset of a `Corrupted` error; panics on other results.
pub fn corrupted_at(
    res: Result<(Vec<Vec<u8>>, Option<TornTail>)>,
) -> (std::path::PathBuf, u64, String) {
    match res {
        Err(Error::Corrupted {
            file,
            offset,
            detail,
            ..
        }) => (file, offset, detail),
        Err(e) => panic!("expected corruption, got {e}"),
        Ok((recs, torn)) => panic!(
            "expected corruption, read {} records, torn tail {torn:?}",
            recs.len()
        ),
    }
}
