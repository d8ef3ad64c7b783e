//! Fuzz target: arbitrary bytes as a store-gateway's index-header, as an index to build one
//! from, and as a postings list fetched by range. Every call must return a value or an
//! error; none may panic, hang or allocate beyond the input.
//!
//! Each header input is also tried with its checksums recomputed where its TOC says the
//! sections are, so mutations reach the decoders behind the CRC checks.

#![no_main]

use std::path::Path;

use cortex_tsdb::index::Postings;
use cortex_tsdb::index_header::{
    IndexHeaderReader, PostingsRange, build_index_header_bytes, decode_postings,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    exercise(data);
    let mut fixed = data.to_vec();
    repair_checksums(&mut fixed);
    if fixed != data {
        exercise(&fixed);
    }
    // The input as an index: whatever header the builder makes must open.
    if let Ok(header) = build_index_header_bytes(data) {
        let h = IndexHeaderReader::from_bytes(header, "built").expect("built header opens");
        query(&h);
    }
    // The input as a fetched postings list.
    let range = PostingsRange {
        start: 4096,
        end: 4096 + data.len() as u64,
    };
    if let Ok(mut p) = decode_postings(Path::new("index"), range, data) {
        while p.next().is_some() {}
    }
});

fn be32(data: &[u8], at: usize) -> Option<usize> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

fn be64(data: &[u8], at: usize) -> Option<usize> {
    let b = data.get(at..at.checked_add(8)?)?;
    Some(u64::from_be_bytes(b.try_into().ok()?).min(usize::MAX as u64) as usize)
}

/// Rewrites the CRC of the `len <4b> | body | crc <4b>` frame at `at`; returns its end.
fn fix_framed(data: &mut [u8], at: usize) -> Option<usize> {
    let len = be32(data, at)?;
    let body_end = at.checked_add(4)?.checked_add(len)?;
    let crc = crc32c::crc32c(data.get(at + 4..body_end)?);
    data.get_mut(body_end..body_end.checked_add(4)?)?
        .copy_from_slice(&crc.to_be_bytes());
    Some(body_end + 4)
}

fn repair_checksums(data: &mut [u8]) {
    let Some(toc_at) = data.len().checked_sub(20) else {
        return;
    };
    let (Some(symbols), Some(table)) = (be64(data, toc_at), be64(data, toc_at + 8)) else {
        return;
    };
    fix_framed(data, symbols);
    // The index's 52-byte TOC follows the postings offset table.
    if let Some(index_toc) = fix_framed(data, table)
        && index_toc.checked_add(52) == Some(toc_at)
    {
        let crc = crc32c::crc32c(&data[index_toc..index_toc + 48]);
        data[index_toc + 48..toc_at].copy_from_slice(&crc.to_be_bytes());
    }
    let crc = crc32c::crc32c(&data[toc_at..toc_at + 16]);
    data[toc_at + 16..].copy_from_slice(&crc.to_be_bytes());
}

fn exercise(data: &[u8]) {
    if let Ok(h) = IndexHeaderReader::from_bytes(data, "fuzz/index-header") {
        query(&h);
    }
}

fn query(h: &IndexHeaderReader) {
    for (i, s) in h.symbols().enumerate() {
        let _ = h.symbol(i as u32).map(|x| assert_eq!(x, s));
    }
    let _ = h.symbol(h.num_symbols());
    for name in h.label_names() {
        if let Ok(values) = h.label_values(name) {
            for v in &values {
                if let Ok(Some(r)) = h.postings_range(name, v) {
                    assert!(r.len() >= 12);
                }
            }
        }
        let _ = h.postings_ranges_matching(name, |v| v.len() % 2 == 0);
        let _ = h.postings_range(name, "x");
    }
    let _ = h.all_postings_range();
}
