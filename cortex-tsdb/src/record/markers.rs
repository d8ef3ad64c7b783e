//! M-map marker records (type 5): "every sample of this series up to here is in the head
//! chunk file at this reference". Prometheus writes them to the out-of-order WBL.
//!
//! ```text
//! type=5 (1) | repeated: ref BE64 | chunk disk mapper ref BE64
//! ```

use super::codec::{RecDec, put_be_u64};
use super::{RecordError, RecordType};

/// A series and the head chunk its samples were m-mapped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefMmapMarker {
    /// The head's reference of the series.
    pub series_ref: u64,
    /// The chunk disk mapper reference (head chunk file and offset).
    pub mmap_ref: u64,
}

/// Appends an m-map marker record holding `markers` to `out`.
pub fn encode_mmap_markers(markers: &[RefMmapMarker], out: &mut Vec<u8>) {
    out.push(RecordType::MmapMarkers as u8);
    for m in markers {
        put_be_u64(out, m.series_ref);
        put_be_u64(out, m.mmap_ref);
    }
}

/// Decodes an m-map marker record into `out` (its previous contents are replaced).
pub fn decode_mmap_markers(rec: &[u8], out: &mut Vec<RefMmapMarker>) -> Result<(), RecordError> {
    out.clear();
    let (mut d, _) = RecDec::start(rec, &[RecordType::MmapMarkers])?;
    out.reserve(d.remaining() / 16);
    while !d.is_empty() {
        let series_ref = d.be_u64("series ref")?;
        let mmap_ref = d.be_u64("chunk ref")?;
        out.push(RefMmapMarker {
            series_ref,
            mmap_ref,
        });
    }
    d.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_two_be64_per_entry() {
        let m = [RefMmapMarker {
            series_ref: 1,
            mmap_ref: 0x0102_0304_0506_0708,
        }];
        let mut out = Vec::new();
        encode_mmap_markers(&m, &mut out);
        assert_eq!(out, [5, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8]);
        let mut got = Vec::new();
        decode_mmap_markers(&out, &mut got).unwrap();
        assert_eq!(got, m);
        assert!(decode_mmap_markers(&out[..16], &mut got).is_err());
    }
}
