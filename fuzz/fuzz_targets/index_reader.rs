//! Fuzz target: arbitrary bytes opened as a block index. Every query a block reader makes
//! must return a value or an error; none may panic, hang or allocate beyond the input.
//!
//! Each input is tried twice: as it is, and with every checksum recomputed where the TOC
//! says sections are, so mutations reach the decoders behind the CRC checks.

#![no_main]

use cortex_tsdb::index::{IndexReader, Postings};
use cortex_tsdb::labels::{MatchType, Matcher};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    exercise(data);
    let mut fixed = data.to_vec();
    repair_checksums(&mut fixed);
    if fixed != data {
        exercise(&fixed);
    }
});

fn be32(data: &[u8], at: usize) -> Option<usize> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

fn be64(data: &[u8], at: usize) -> Option<usize> {
    let b = data.get(at..at + 8)?;
    Some(u64::from_be_bytes(b.try_into().ok()?).min(usize::MAX as u64) as usize)
}

/// Rewrites the CRC of the `len <4b> | body | crc <4b>` frame at `at`; returns its end.
fn fix_framed(data: &mut [u8], at: usize) -> Option<usize> {
    let len = be32(data, at)?;
    let body_end = at.checked_add(4)?.checked_add(len)?;
    let crc = crc32c::crc32c(data.get(at + 4..body_end)?);
    data.get_mut(body_end..body_end + 4)?
        .copy_from_slice(&crc.to_be_bytes());
    Some(body_end + 4)
}

fn uvarint(data: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut x = 0u64;
    for i in 0..10 {
        let b = *data.get(at + i)?;
        x |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some((x.min(usize::MAX as u64) as usize, i + 1));
        }
    }
    None
}

fn repair_checksums(data: &mut [u8]) {
    let Some(toc_at) = data.len().checked_sub(52) else {
        return;
    };
    let off: Vec<usize> = (0..6).filter_map(|i| be64(data, toc_at + 8 * i)).collect();
    let [
        symbols,
        series,
        label_indices,
        label_table,
        postings,
        postings_table,
    ] = off[..]
    else {
        return;
    };
    fix_framed(data, symbols);
    // Series: 16-byte aligned `uvarint len | body | crc`.
    let mut at = series;
    while at < label_indices.min(toc_at) {
        at = at.next_multiple_of(16);
        let Some((len, n)) = uvarint(data, at) else {
            break;
        };
        let Some(body_end) = at.checked_add(n).and_then(|b| b.checked_add(len)) else {
            break;
        };
        let Some(body) = data.get(at + n..body_end) else {
            break;
        };
        let crc = crc32c::crc32c(body);
        let Some(slot) = data.get_mut(body_end..body_end + 4) else {
            break;
        };
        slot.copy_from_slice(&crc.to_be_bytes());
        at = body_end + 4;
    }
    // Label indices and postings lists: 4-byte aligned frames.
    for (start, end) in [(label_indices, postings), (postings, label_table)] {
        let mut at = start;
        while at < end.min(toc_at) {
            at = at.next_multiple_of(4);
            match fix_framed(data, at) {
                Some(next) => at = next,
                None => break,
            }
        }
    }
    if label_table != postings_table {
        fix_framed(data, label_table);
    }
    fix_framed(data, postings_table);
    let crc = crc32c::crc32c(&data[toc_at..toc_at + 48]);
    data[toc_at + 48..].copy_from_slice(&crc.to_be_bytes());
}

fn exercise(data: &[u8]) {
    let Ok(r) = IndexReader::from_bytes(data, "fuzz/index") else {
        return;
    };
    for (i, s) in r.symbols().enumerate() {
        let _ = r.symbol(i as u32).map(|x| assert_eq!(x, s));
    }
    let names: Vec<String> = r.label_names().into_iter().map(String::from).collect();
    for name in &names {
        if let Ok(values) = r.label_values(name) {
            if let Ok(mut p) = r.postings(name, &values) {
                while p.next().is_some() {}
            }
            let _ = r.label_values_matching(name, &[Matcher::equal(name, "x")]);
        }
    }
    let mut chunks = Vec::new();
    if let Ok(mut all) = r.all_postings() {
        while let Some(id) = all.next() {
            let _ = r.series(id, &mut chunks);
        }
    }
    if let Some(name) = names.first() {
        for (kind, value) in [
            (MatchType::Equal, ""),
            (MatchType::NotEqual, "a"),
            (MatchType::Regexp, "a.*|b"),
            (MatchType::NotRegexp, ".+"),
        ] {
            if let Ok(m) = Matcher::new(kind, name, value)
                && let Ok(mut p) = r.postings_for_matchers(&[m])
            {
                while p.next().is_some() {}
            }
        }
    }
    let _ = r.label_names_matching(&[Matcher::equal("", "")]);
    let _ = r.verify();
}
