//! Tombstone records (type 3): deleted time ranges of series.
//!
//! ```text
//! type=3 (1) | repeated: ref BE64 | mint varint | maxt varint
//! ```
//! One entry per interval; a series with several deleted ranges has several entries.
//! The triples are the same as in a block's `tombstones` file ([`crate::tombstones`]).

use crate::encoding::put_varint;
use crate::tombstones::Interval;

use super::codec::{RecDec, put_be_u64};
use super::{RecordError, RecordType};

/// One deleted interval (inclusive on both ends) of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefTombstone {
    /// The head's reference of the series.
    pub series_ref: u64,
    /// The deleted range.
    pub interval: Interval,
}

/// Appends a tombstones record holding `stones` to `out`.
pub fn encode_tombstones(stones: &[RefTombstone], out: &mut Vec<u8>) {
    out.push(RecordType::Tombstones as u8);
    for s in stones {
        put_be_u64(out, s.series_ref);
        put_varint(out, s.interval.mint);
        put_varint(out, s.interval.maxt);
    }
}

/// Decodes a tombstones record into `out` (its previous contents are replaced).
pub fn decode_tombstones(rec: &[u8], out: &mut Vec<RefTombstone>) -> Result<(), RecordError> {
    out.clear();
    let (mut d, _) = RecDec::start(rec, &[RecordType::Tombstones])?;
    while !d.is_empty() {
        let series_ref = d.be_u64("series ref")?;
        let mint = d.varint("mint")?;
        let maxt = d.varint("maxt")?;
        out.push(RefTombstone {
            series_ref,
            interval: Interval { mint, maxt },
        });
    }
    d.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tombstones_layout_and_round_trip() {
        let stones = [
            RefTombstone {
                series_ref: 3,
                interval: Interval { mint: -1, maxt: 2 },
            },
            RefTombstone {
                series_ref: 3,
                interval: Interval { mint: 10, maxt: 20 },
            },
        ];
        let mut out = Vec::new();
        encode_tombstones(&stones, &mut out);
        assert_eq!(&out[..12], &[3, 0, 0, 0, 0, 0, 0, 0, 3, 1, 4, 0]);
        let mut got = Vec::new();
        decode_tombstones(&out, &mut got).unwrap();
        assert_eq!(got, stones);
    }

    #[test]
    fn missing_maxt_is_an_error() {
        let err = decode_tombstones(&[3, 0, 0, 0, 0, 0, 0, 0, 3, 1], &mut Vec::new()).unwrap_err();
        assert!(err.detail.starts_with("maxt"), "{err}");
    }
}
