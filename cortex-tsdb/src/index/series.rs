//! One series entry of the series section (spec section "Series"): its framing
//! (`len <uvarint> | body | CRC32 <4b>`), its label references and its delta-encoded chunk
//! metas. Shared by the writer (encoding) and the reader (decoding).
//!
//! Chunk times and references are encoded with Go's wrapping integer arithmetic, so
//! decoding any bytes never overflows and encoding reproduces Prometheus' bytes exactly.
//! Symbol lookups and [`crate::Labels`] building are the reader's job.

use crate::chunks::{ChunkMeta, ChunkRef};

use super::encoding::{DecResult, Decbuf, DecodeError, crc32c, put_be32, put_uvarint, put_varint};

/// Series entries start at offsets that are multiples of this; a series' reference is its
/// offset divided by it.
pub const SERIES_ALIGNMENT: u64 = 16;

/// Appends a complete series entry (length, body, CRC) to `out`. `body` is scratch space.
pub(crate) fn encode_series(
    out: &mut Vec<u8>,
    body: &mut Vec<u8>,
    label_refs: &[(u32, u32)],
    chunks: &[ChunkMeta],
) {
    body.clear();
    put_uvarint(body, label_refs.len() as u64);
    for &(n, v) in label_refs {
        put_uvarint(body, u64::from(n));
        put_uvarint(body, u64::from(v));
    }
    put_uvarint(body, chunks.len() as u64);
    if let Some((first, rest)) = chunks.split_first() {
        put_varint(body, first.min_time);
        put_uvarint(body, first.max_time.wrapping_sub(first.min_time) as u64);
        put_uvarint(body, first.chunk_ref.0);
        let mut t0 = first.max_time;
        let mut ref0 = first.chunk_ref.0 as i64;
        for c in rest {
            put_uvarint(body, c.min_time.wrapping_sub(t0) as u64);
            put_uvarint(body, c.max_time.wrapping_sub(c.min_time) as u64);
            t0 = c.max_time;
            put_varint(body, (c.chunk_ref.0 as i64).wrapping_sub(ref0));
            ref0 = c.chunk_ref.0 as i64;
        }
    }
    put_uvarint(out, body.len() as u64);
    out.extend_from_slice(body);
    put_be32(out, crc32c(body));
}

/// The body of the series entry at `off` (bounded by `end`, the end of the series section),
/// after checking its CRC, and the offset just past the entry.
pub(crate) fn series_body(data: &[u8], off: usize, end: usize) -> DecResult<(Decbuf<'_>, usize)> {
    let window = data
        .get(off..end.min(data.len()))
        .filter(|w| !w.is_empty())
        .ok_or_else(|| DecodeError::new(off, "series entry starts outside the series section"))?;
    let mut d = Decbuf::new(window, off);
    let len = d.uvarint_len()?;
    let body_at = d.offset();
    let body = d.bytes(len).map_err(|_| {
        DecodeError::new(
            off,
            format!("series length {len} runs past the series section"),
        )
    })?;
    let crc_at = d.offset();
    let want = d
        .be32()
        .map_err(|_| DecodeError::new(crc_at, "series checksum runs past the series section"))?;
    let got = crc32c(body);
    if got != want {
        return Err(DecodeError::new(
            crc_at,
            format!("series checksum mismatch: stored {want:#010x}, computed {got:#010x}"),
        ));
    }
    Ok((Decbuf::new(body, body_at), d.offset()))
}

/// Reads the label references of a series body, calling `f(name_ref, value_ref)` for each.
pub(crate) fn decode_label_refs(
    d: &mut Decbuf<'_>,
    mut f: impl FnMut(u32, u32) -> DecResult<()>,
) -> DecResult<()> {
    let n = d.uvarint64()?;
    for _ in 0..n {
        let name = d.uvarint32()?;
        let value = d.uvarint32()?;
        f(name, value)?;
    }
    Ok(())
}

/// Reads the chunk metas that follow the labels of a series body into `out` (cleared
/// first), and checks nothing follows them.
pub(crate) fn decode_chunks(d: &mut Decbuf<'_>, out: &mut Vec<ChunkMeta>) -> DecResult<()> {
    out.clear();
    let n = d.uvarint64()?;
    if n > 0 {
        // Each meta takes at least three bytes: bound the reservation by the data.
        out.reserve((n as usize).min(d.remaining() / 3 + 1));
        let mut t0 = d.varint64()?;
        let mut maxt = (d.uvarint64()? as i64).wrapping_add(t0);
        let mut ref0 = d.uvarint64()? as i64;
        out.push(ChunkMeta {
            min_time: t0,
            max_time: maxt,
            chunk_ref: ChunkRef(ref0 as u64),
        });
        t0 = maxt;
        for _ in 1..n {
            let mint = (d.uvarint64()? as i64).wrapping_add(t0);
            maxt = (d.uvarint64()? as i64).wrapping_add(mint);
            ref0 = ref0.wrapping_add(d.varint64()?);
            t0 = maxt;
            out.push(ChunkMeta {
                min_time: mint,
                max_time: maxt,
                chunk_ref: ChunkRef(ref0 as u64),
            });
        }
    }
    if !d.is_empty() {
        return Err(DecodeError::new(
            d.offset(),
            format!("{} unexpected bytes after the chunk metas", d.remaining()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn meta(min: i64, max: i64, r: u64) -> ChunkMeta {
        ChunkMeta {
            min_time: min,
            max_time: max,
            chunk_ref: ChunkRef(r),
        }
    }

    /// Label references, chunk metas and end offset of a decoded entry.
    type Decoded = (Vec<(u32, u32)>, Vec<ChunkMeta>, usize);

    fn decode(entry: &[u8]) -> DecResult<Decoded> {
        let (mut d, end) = series_body(entry, 0, entry.len())?;
        let mut labels = Vec::new();
        decode_label_refs(&mut d, |n, v| {
            labels.push((n, v));
            Ok(())
        })?;
        let mut chunks = Vec::new();
        decode_chunks(&mut d, &mut chunks)?;
        Ok((labels, chunks, end))
    }

    #[test]
    fn matches_a_prometheus_series_entry() {
        // The first series of openmetrics-blocks/01M81BZRC0Q1GW9BQ5GFGZAWV2/index.
        let want: &[u8] = &[
            0x25, 0x04, 0x08, 0x0d, 0x0c, 0x06, 0x11, 0x0e, 0x12, 0x09, 0x03, 0x80, 0xa0, 0xab,
            0xfe, 0xf9, 0x62, 0xd0, 0x80, 0x82, 0x01, 0x08, 0x98, 0x75, 0xb8, 0x8b, 0x81, 0x01,
            0xd8, 0x03, 0x98, 0x75, 0xb8, 0x8b, 0x81, 0x01, 0xe0, 0x03, 0x96, 0xd8, 0x28, 0xab,
        ];
        let (labels, chunks, end) = decode(want).unwrap();
        assert_eq!(labels, vec![(8, 13), (12, 6), (17, 14), (18, 9)]);
        assert_eq!(end, want.len());
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0].min_time, 1_700_000_000_000);
        assert_eq!(chunks[0].chunk_ref, ChunkRef(8));
        let mut out = Vec::new();
        encode_series(&mut out, &mut Vec::new(), &labels, &chunks);
        assert_eq!(out, want);
    }

    #[test]
    fn bad_crc_and_trailing_bytes_are_errors() {
        let mut out = Vec::new();
        encode_series(&mut out, &mut Vec::new(), &[(1, 2)], &[meta(0, 10, 8)]);
        let mut bad = out.clone();
        bad[2] ^= 0x10;
        assert!(decode(&bad).unwrap_err().detail.contains("checksum"));
        // Cut short: the length runs past the section.
        assert!(decode(&out[..out.len() - 2]).is_err());
        // A body with a spare byte after the metas.
        let mut body = out[1..out.len() - 4].to_vec();
        body.push(0);
        let mut entry = vec![body.len() as u8];
        entry.extend_from_slice(&body);
        put_be32(&mut entry, crc32c(&body));
        assert!(
            decode(&entry)
                .unwrap_err()
                .detail
                .contains("unexpected bytes")
        );
    }

    #[test]
    fn huge_counts_fail_without_allocating() {
        let mut body = Vec::new();
        put_uvarint(&mut body, 0); // no labels
        put_uvarint(&mut body, u64::MAX); // absurd chunk count
        let mut entry = vec![body.len() as u8];
        entry.extend_from_slice(&body);
        put_be32(&mut entry, crc32c(&body));
        assert!(decode(&entry).is_err());
    }

    proptest! {
        #[test]
        fn encode_then_decode_is_identity(
            labels in prop::collection::vec((any::<u32>(), any::<u32>()), 0..12),
            raw in prop::collection::vec((any::<i64>(), any::<i64>(), any::<u64>()), 0..8),
        ) {
            // Arbitrary values, even unordered ones, survive thanks to wrapping arithmetic.
            let chunks: Vec<ChunkMeta> = raw.iter().map(|&(a, b, r)| meta(a, b, r)).collect();
            let mut out = Vec::new();
            encode_series(&mut out, &mut Vec::new(), &labels, &chunks);
            let (l, c, end) = decode(&out).unwrap();
            prop_assert_eq!(l, labels);
            prop_assert_eq!(c, chunks);
            prop_assert_eq!(end, out.len());
        }
    }
}
