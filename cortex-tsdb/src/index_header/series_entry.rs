//! Series entries and chunks fetched by byte range: a store-gateway reads a block's index
//! and chunk segments from object storage a piece at a time, so it needs to know how long
//! an entry is from its first bytes ([`framed_len`]) and to decode an entry or chunk that
//! is not part of a whole mapped file ([`decode_series`], [`decode_chunk`]).
//!
//! Both formats start with a uvarint length (spec sections "Series" and "Chunks"):
//!
//! ```text
//! series entry: len <uvarint> │ body (len bytes)                       │ CRC32 <4b>
//! chunk:        len <uvarint> │ encoding <1b> │ data (len bytes)       │ CRC32 <4b>
//! ```
//!
//! Errors name the object given and offsets in it, so a damaged byte in the bucket can be
//! found. Choosing what to fetch is the caller's job.

use std::path::Path;

use crate::chunkenc::Encoding;
use crate::chunks::{ChunkMeta, RawChunk};
use crate::encoding::{DecodeError as VarintError, uvarint};
use crate::index::encoding::{Decbuf, DecodeError, crc32c};
use crate::index::series::{decode_chunks, decode_label_refs};
use crate::{Error, Result};

/// What follows a length prefix besides the body: the checksum (and, for chunks, the
/// encoding byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A series entry: `len | body | CRC32`.
    Series,
    /// A chunk: `len | encoding | data | CRC32`.
    Chunk,
}

/// The total length of the entry that starts `bytes` (prefix, body, checksum), or `None`
/// when `bytes` end inside the length prefix. A prefix that is not a valid uvarint is
/// corrupt, reported at `offset` of `object`.
pub fn framed_len(
    object: &Path,
    offset: u64,
    bytes: &[u8],
    framing: Framing,
) -> Result<Option<u64>> {
    let section = match framing {
        Framing::Series => "series",
        Framing::Chunk => "chunk",
    };
    match uvarint(bytes) {
        Ok((len, n)) => {
            let extra = match framing {
                Framing::Series => 4,
                Framing::Chunk => 5,
            };
            Ok(Some(len.saturating_add(n as u64 + extra)))
        }
        Err(VarintError::UnexpectedEnd) => Ok(None),
        Err(e) => Err(Error::corrupted(
            object,
            section,
            offset,
            format!("length prefix: {e}"),
        )),
    }
}

/// A series entry decoded from fetched bytes: symbol references of its labels (name,
/// value) and its chunk metas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchedSeries {
    /// `(name, value)` symbol references, in the order stored (sorted by name).
    pub label_refs: Vec<(u32, u32)>,
    /// The series' chunks, in time order.
    pub chunks: Vec<ChunkMeta>,
}

/// Decodes the series entry at `offset` of the index `object` from `bytes`, which hold
/// exactly the entry ([`framed_len`] bytes): checks the length, the checksum and that
/// nothing follows the chunk metas.
pub fn decode_series(object: &Path, offset: u64, bytes: &[u8]) -> Result<FetchedSeries> {
    let corrupt = |e: DecodeError| Error::corrupted(object, "series", e.offset, e.detail);
    let base = usize::try_from(offset)
        .map_err(|_| Error::corrupted(object, "series", offset, "offset does not fit in memory"))?;
    let mut d = Decbuf::new(bytes, base);
    let len = d.uvarint_len().map_err(corrupt)?;
    let body_at = d.offset();
    let body = d.bytes(len).map_err(|_| {
        corrupt(DecodeError::new(
            base,
            format!(
                "series length {len} runs past the {} bytes fetched",
                bytes.len()
            ),
        ))
    })?;
    let crc_at = d.offset();
    let want = d.be32().map_err(|_| {
        corrupt(DecodeError::new(
            crc_at,
            "series checksum runs past the bytes fetched",
        ))
    })?;
    let got = crc32c(body);
    if want != got {
        return Err(corrupt(DecodeError::new(
            crc_at,
            format!("series checksum mismatch: stored {want:#010x}, computed {got:#010x}"),
        )));
    }
    if !d.is_empty() {
        return Err(corrupt(DecodeError::new(
            d.offset(),
            format!("{} bytes after the series entry", d.remaining()),
        )));
    }
    let mut out = FetchedSeries::default();
    let mut b = Decbuf::new(body, body_at);
    decode_label_refs(&mut b, |n, v| {
        out.label_refs.push((n, v));
        Ok(())
    })
    .map_err(corrupt)?;
    decode_chunks(&mut b, &mut out.chunks).map_err(corrupt)?;
    Ok(out)
}

/// Decodes the chunk at `offset` of the segment `object` from `bytes`, which hold exactly
/// the chunk ([`framed_len`] bytes), verifying its CRC-32C (over encoding and data).
pub fn decode_chunk<'a>(object: &Path, offset: u64, bytes: &'a [u8]) -> Result<RawChunk<'a>> {
    let bad = |at: usize, detail: String| {
        Error::corrupted(object, "chunk", offset.saturating_add(at as u64), detail)
    };
    let (len, n) = uvarint(bytes).map_err(|e| bad(0, format!("length: {e}")))?;
    let total = framed_len(object, offset, bytes, Framing::Chunk)?.unwrap_or(u64::MAX);
    if total != bytes.len() as u64 {
        return Err(bad(
            0,
            format!(
                "chunk of {len} bytes needs {total} bytes with its framing, {} were fetched",
                bytes.len()
            ),
        ));
    }
    let end = bytes.len() - 4;
    let want = u32::from_be_bytes([bytes[end], bytes[end + 1], bytes[end + 2], bytes[end + 3]]);
    let got = crc32c(&bytes[n..end]);
    if want != got {
        return Err(bad(
            end,
            format!("CRC-32C mismatch: stored {want:#010x}, computed {got:#010x}"),
        ));
    }
    let encoding = Encoding::from_u8(bytes[n]).map_err(|e| bad(n, e.to_string()))?;
    Ok(RawChunk {
        encoding,
        data: &bytes[n + 1..end],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::ChunkRef;
    use crate::index::series::encode_series;

    fn entry() -> (Vec<u8>, Vec<ChunkMeta>) {
        let metas = vec![
            ChunkMeta {
                min_time: 10,
                max_time: 20,
                chunk_ref: ChunkRef(8),
            },
            ChunkMeta {
                min_time: 21,
                max_time: 40,
                chunk_ref: ChunkRef(60),
            },
        ];
        let mut out = Vec::new();
        encode_series(&mut out, &mut Vec::new(), &[(1, 2), (3, 4)], &metas);
        (out, metas)
    }

    #[test]
    fn series_entries_decode_from_their_exact_bytes() {
        let (b, metas) = entry();
        let p = Path::new("t/b/index");
        assert_eq!(
            framed_len(p, 0, &b, Framing::Series).unwrap(),
            Some(b.len() as u64)
        );
        assert_eq!(framed_len(p, 0, &[], Framing::Series).unwrap(), None);
        assert_eq!(framed_len(p, 0, &[0x80], Framing::Series).unwrap(), None);
        let s = decode_series(p, 160, &b).unwrap();
        assert_eq!(s.label_refs, vec![(1, 2), (3, 4)]);
        assert_eq!(s.chunks, metas);
    }

    #[test]
    fn damaged_or_misframed_series_are_corrupt_at_object_offsets() {
        let (b, _) = entry();
        let p = Path::new("t/b/index");
        let mut bad = b.clone();
        bad[3] ^= 1;
        match decode_series(p, 1600, &bad).unwrap_err() {
            Error::Corrupted {
                file,
                section,
                offset,
                detail,
            } => {
                assert_eq!(file, p);
                assert_eq!(section, "series");
                assert_eq!(offset, 1600 + b.len() as u64 - 4);
                assert!(detail.contains("checksum"), "{detail}");
            }
            e => panic!("{e}"),
        }
        assert!(decode_series(p, 0, &b[..b.len() - 1]).is_err());
        let mut long = b.clone();
        long.push(0);
        assert!(decode_series(p, 0, &long).is_err());
        assert!(framed_len(p, 0, &[0xff; 11], Framing::Series).is_err());
    }

    #[test]
    fn chunks_decode_from_their_exact_bytes_and_check_the_crc() {
        let data = [0u8, 1, 2, 3];
        let mut b = vec![data.len() as u8, Encoding::Xor as u8];
        b.extend_from_slice(&data);
        let crc = crc32c(&b[1..]);
        b.extend_from_slice(&crc.to_be_bytes());
        let p = Path::new("t/b/chunks/000001");
        assert_eq!(
            framed_len(p, 8, &b, Framing::Chunk).unwrap(),
            Some(b.len() as u64)
        );
        let c = decode_chunk(p, 8, &b).unwrap();
        assert_eq!(c.encoding, Encoding::Xor);
        assert_eq!(c.data, &data);
        let mut bad = b.clone();
        bad[3] ^= 0x40;
        let err = decode_chunk(p, 8, &bad).unwrap_err();
        assert!(
            matches!(&err, Error::Corrupted { offset, section, .. } if *offset == 8 + b.len() as u64 - 4 && section == "chunk"),
            "{err}"
        );
        assert!(decode_chunk(p, 8, &b[..b.len() - 1]).is_err());
        assert!(decode_chunk(p, 8, &[]).is_err());
    }
}
