//! The table of contents: the fixed 52-byte trailer of an index file that says where each
//! section starts (spec section "TOC").
//!
//! This module encodes and decodes the TOC and checks that its offsets describe sections
//! in file order. It does not read the sections themselves.

use super::HEADER_LEN;
use super::encoding::{Decbuf, DecodeError, crc32c, put_be32, put_be64};

/// Where each section of an index file starts, as byte offsets from the file start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Toc {
    /// The symbol table.
    pub symbols: u64,
    /// The first series entry (16-byte aligned).
    pub series: u64,
    /// The first label index, which is also where the series section ends.
    pub label_indices: u64,
    /// The label offset table (equal to `postings_table` when the index has none).
    pub label_indices_table: u64,
    /// The postings section (before the padding that aligns the first list to 4 bytes).
    pub postings: u64,
    /// The postings offset table.
    pub postings_table: u64,
}

impl Toc {
    /// Encoded size: six big-endian u64 and a CRC-32C.
    pub const LEN: usize = 6 * 8 + 4;

    /// The 52 bytes of the TOC, checksum included.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(Toc::LEN);
        for v in [
            self.symbols,
            self.series,
            self.label_indices,
            self.label_indices_table,
            self.postings,
            self.postings_table,
        ] {
            put_be64(&mut buf, v);
        }
        let crc = crc32c(&buf);
        put_be32(&mut buf, crc);
        buf
    }

    /// Reads the TOC from the last 52 bytes of `data`, checks its CRC and that the
    /// sections it points to follow each other in file order before the TOC.
    pub(crate) fn decode(data: &[u8]) -> Result<Toc, DecodeError> {
        let Some(start) = data
            .len()
            .checked_sub(Toc::LEN)
            .filter(|&s| s >= HEADER_LEN)
        else {
            return Err(DecodeError::new(
                0,
                format!("file of {} bytes is too short to hold a TOC", data.len()),
            ));
        };
        Toc::decode_at(data.get(start..).unwrap_or_default(), start)
    }

    /// Reads the TOC from `raw`, its 52 bytes, which start at offset `start` of an index
    /// file; checks its CRC and that the sections it points to follow each other in file
    /// order before `start`. Used when only the file's tail is at hand.
    pub(crate) fn decode_at(raw: &[u8], start: usize) -> Result<Toc, DecodeError> {
        if raw.len() != Toc::LEN || start < HEADER_LEN {
            return Err(DecodeError::new(
                start,
                format!(
                    "TOC of {} bytes at offset {start}, want {} bytes after the header",
                    raw.len(),
                    Toc::LEN
                ),
            ));
        }
        let (body, crc) = raw.split_at(Toc::LEN - 4);
        let mut d = Decbuf::new(crc, start + Toc::LEN - 4);
        let want = d.be32()?;
        let got = crc32c(body);
        if want != got {
            return Err(DecodeError::new(
                start + Toc::LEN - 4,
                format!("checksum mismatch: stored {want:#010x}, computed {got:#010x}"),
            ));
        }
        let mut d = Decbuf::new(body, start);
        let toc = Toc {
            symbols: d.be64()?,
            series: d.be64()?,
            label_indices: d.be64()?,
            label_indices_table: d.be64()?,
            postings: d.be64()?,
            postings_table: d.be64()?,
        };
        toc.check_order(start as u64)
            .map_err(|detail| DecodeError::new(start, detail))?;
        Ok(toc)
    }

    /// Sections must start after the header, in the order the format lays them out, and
    /// before the TOC at `toc_start`.
    fn check_order(&self, toc_start: u64) -> Result<(), String> {
        let order = [
            ("symbols", self.symbols),
            ("series", self.series),
            ("label indices", self.label_indices),
            ("postings", self.postings),
            ("label offset table", self.label_indices_table),
            ("postings offset table", self.postings_table),
            ("TOC", toc_start),
        ];
        if self.symbols < HEADER_LEN as u64 {
            return Err(format!(
                "symbol table offset {} points into the header",
                self.symbols
            ));
        }
        for pair in order.windows(2) {
            let [(a, ao), (b, bo)] = pair else { continue };
            if ao > bo {
                return Err(format!("{a} at offset {ao} comes after {b} at offset {bo}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Toc {
        Toc {
            symbols: 5,
            series: 0x10a,
            label_indices: 0x55a,
            label_indices_table: 0x8f0,
            postings: 0x638,
            postings_table: 0x944,
        }
    }

    fn file_with(toc: &Toc, toc_start: usize) -> Vec<u8> {
        let mut data = vec![0u8; toc_start];
        data.extend_from_slice(&toc.encode());
        data
    }

    #[test]
    fn round_trips_and_is_52_bytes() {
        let toc = sample();
        let enc = toc.encode();
        assert_eq!(enc.len(), 52);
        assert_eq!(&enc[..8], &5u64.to_be_bytes());
        assert_eq!(Toc::decode(&file_with(&toc, 0x9ee)).unwrap(), toc);
    }

    #[test]
    fn bad_checksum_is_reported_at_the_crc() {
        let mut data = file_with(&sample(), 0x9ee);
        data[0x9ee + 3] ^= 0x40;
        let err = Toc::decode(&data).unwrap_err();
        assert_eq!(err.offset, 0x9ee + 48);
        assert!(err.detail.contains("checksum"));
    }

    #[test]
    fn sections_out_of_order_are_rejected() {
        let mut toc = sample();
        toc.postings_table = 0x500;
        let err = Toc::decode(&file_with(&toc, 0x9ee)).unwrap_err();
        assert!(err.detail.contains("comes after"), "{}", err.detail);
        // Pointing past the TOC itself.
        let err = Toc::decode(&file_with(&sample(), 0x900)).unwrap_err();
        assert!(err.detail.contains("TOC"), "{}", err.detail);
    }

    #[test]
    fn short_files_are_rejected() {
        assert!(Toc::decode(&[0u8; 20]).is_err());
        assert!(Toc::decode(&[]).is_err());
    }
}
