//! Damaged chunk bytes: decoding real chunks cut short at every length, with bytes and
//! bits flipped, with unknown encoding bytes. Decoding must never panic and never end
//! quietly before the number of samples the header announces.

mod chunk_common;

use std::collections::BTreeMap;

use chunk_common::{FixtureChunk, block_chunks, blocks, decode, drain, header_of};
use cortex_tsdb::chunkenc::{ChunkError, ChunkIter, CounterResetHeader, Encoding};

/// The smallest fixture chunk of every (encoding, counter-reset header) pair.
fn sample_chunks() -> Vec<FixtureChunk> {
    let mut best: BTreeMap<(u8, CounterResetHeader), FixtureChunk> = BTreeMap::new();
    for set in ["native-histograms", "openmetrics-blocks"] {
        for block in blocks(set) {
            for fc in block_chunks(&block) {
                let header = match fc.encoding {
                    Encoding::Xor => CounterResetHeader::Unknown,
                    _ => header_of(&fc.data),
                };
                let key = (fc.encoding as u8, header);
                if best.get(&key).is_none_or(|b| fc.data.len() < b.data.len()) {
                    best.insert(key, fc);
                }
            }
        }
    }
    // XOR, and histogram and float histogram with each of the four headers.
    assert_eq!(best.len(), 9, "{:?}", best.keys().collect::<Vec<_>>());
    best.into_values().collect()
}

/// Decodes `data` as `enc`: an error, or every announced sample. `Ok` with fewer samples
/// than announced would be a silent loss.
fn check_decode(enc: Encoding, data: &[u8]) -> Result<usize, ChunkError> {
    let n = drain(enc, data)?;
    let announced = ChunkIter::new(enc, data).unwrap().num_samples();
    assert_eq!(
        n,
        usize::from(announced),
        "decoded fewer samples than announced"
    );
    Ok(n)
}

#[test]
fn truncation_at_every_length_is_an_error() {
    for fc in sample_chunks() {
        assert!(check_decode(fc.encoding, &fc.data).is_ok());
        for len in 0..fc.data.len() {
            let res = check_decode(fc.encoding, &fc.data[..len]);
            assert!(
                matches!(res, Err(ChunkError::Truncated(_))),
                "{:?} chunk of {} bytes cut to {len}: {res:?}",
                fc.encoding,
                fc.data.len()
            );
        }
    }
}

#[test]
fn flipped_bytes_and_bits_never_panic_or_end_early() {
    let mut errors = 0;
    let mut decoded = 0;
    for fc in sample_chunks() {
        let mut data = fc.data.clone();
        // Every byte of the header, layout and first samples; a spread over the rest.
        let head = data.len().min(256);
        let stride = ((data.len() - head) / 150).max(1);
        let positions = (0..head).chain((head..data.len()).step_by(stride));
        for i in positions {
            // Whole byte inverted, and (for a stride of bytes) each single bit.
            let masks: &[u8] = if i % 5 == 0 {
                &[0xFF, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80]
            } else {
                &[0xFF]
            };
            for &m in masks {
                data[i] ^= m;
                match check_decode(fc.encoding, &data) {
                    Ok(_) => decoded += 1,
                    Err(_) => errors += 1,
                }
                data[i] ^= m;
            }
        }
    }
    // Both outcomes occur: flips in values still decode, flips in structure do not.
    assert!(
        errors > 100 && decoded > 100,
        "{errors} errors, {decoded} decoded"
    );
}

#[test]
fn header_announcing_more_samples_than_present_is_an_error() {
    for fc in sample_chunks() {
        let mut data = fc.data.clone();
        let n = u16::from_be_bytes([data[0], data[1]]);
        // One more sample may decode from the zero padding at the end (an XOR sample with
        // unchanged timestamp delta and value is two zero bits); a hundred cannot.
        data[..2].copy_from_slice(&(n + 100).to_be_bytes());
        assert!(
            matches!(
                check_decode(fc.encoding, &data),
                Err(ChunkError::Truncated(_))
            ),
            "{:?} chunk announcing {} of {n} samples",
            fc.encoding,
            n + 100
        );
        // Announcing fewer is fine: the rest is trailing data, as in Prometheus.
        data[..2].copy_from_slice(&(n - 1).to_be_bytes());
        assert_eq!(check_decode(fc.encoding, &data), Ok(usize::from(n - 1)));
    }
}

#[test]
fn trailing_bytes_after_the_samples_are_ignored() {
    for fc in sample_chunks() {
        let want = decode(fc.encoding, &fc.data).unwrap().len();
        let mut data = fc.data.clone();
        data.extend_from_slice(&[0xFF, 0x00, 0xA5, 0x5A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(check_decode(fc.encoding, &data), Ok(want));
    }
}

#[test]
fn unknown_encoding_bytes_are_errors() {
    for b in (0..=255u8).filter(|b| !(1..=3).contains(b)) {
        assert_eq!(Encoding::from_u8(b), Err(ChunkError::UnknownEncoding(b)));
    }
    for (b, enc) in [
        (1, Encoding::Xor),
        (2, Encoding::Histogram),
        (3, Encoding::FloatHistogram),
    ] {
        assert_eq!(Encoding::from_u8(b), Ok(enc));
    }
}

#[test]
fn headers_shorter_than_the_encoding_needs_are_errors() {
    for (enc, min) in [
        (Encoding::Xor, 2),
        (Encoding::Histogram, 3),
        (Encoding::FloatHistogram, 3),
    ] {
        for len in 0..min {
            let data = vec![0u8; len];
            assert!(matches!(
                ChunkIter::new(enc, &data),
                Err(ChunkError::Truncated(_))
            ));
        }
        // A header with zero samples is an empty chunk.
        assert_eq!(check_decode(enc, &vec![0u8; min]), Ok(0));
    }
}

#[test]
fn huge_layouts_are_refused_without_allocating_them() {
    // Histogram header announcing one sample, zero threshold 0 (byte 0), schema 0 (bit
    // `0`), then a span count of 2^56 - 1 (varbit: prefix `11111110`, 56 one bits).
    let mut data = vec![0, 1, 0, 0x00];
    data.extend_from_slice(&[0b0111_1111, 0b0111_1111, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    data.push(0b1000_0000);
    for enc in [Encoding::Histogram, Encoding::FloatHistogram] {
        assert!(matches!(
            check_decode(enc, &data),
            Err(ChunkError::Truncated(_))
        ));
    }
}
