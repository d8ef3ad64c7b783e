//! Series records (type 1): the head's series references and their label sets.
//!
//! ```text
//! type=1 (1) | repeated: ref BE64 | uvarint n | n × (uvarint len, name, uvarint len, value)
//! ```
//! Labels are written in name order; the decoder builds them with
//! [`Labels::from_sorted`], so unsorted or duplicate names and non-UTF-8 strings are
//! errors.

use crate::labels::Labels;

use super::codec::{RecDec, put_be_u64, put_labels};
use super::{RecordError, RecordType};

/// A series reference and the labels it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefSeries {
    /// The head's reference of the series.
    pub series_ref: u64,
    /// The series' labels.
    pub labels: Labels,
}

/// Appends a series record holding `series` to `out`.
pub fn encode_series(series: &[RefSeries], out: &mut Vec<u8>) {
    out.push(RecordType::Series as u8);
    for s in series {
        put_be_u64(out, s.series_ref);
        put_labels(out, &s.labels);
    }
}

/// Decodes a series record into `out` (its previous contents are replaced).
pub fn decode_series(rec: &[u8], out: &mut Vec<RefSeries>) -> Result<(), RecordError> {
    out.clear();
    let (mut d, _) = RecDec::start(rec, &[RecordType::Series])?;
    while !d.is_empty() {
        let series_ref = d.be_u64("series ref")?;
        let labels = d.labels("label count")?;
        out.push(RefSeries { series_ref, labels });
    }
    d.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(r: u64, pairs: &[(&str, &str)]) -> RefSeries {
        RefSeries {
            series_ref: r,
            labels: Labels::from_pairs(pairs.iter().copied()).unwrap(),
        }
    }

    #[test]
    fn series_layout_is_prometheus() {
        let mut out = Vec::new();
        encode_series(
            &[series(0x0102, &[("a", "b"), ("__name__", "up")])],
            &mut out,
        );
        let mut want = vec![1, 0, 0, 0, 0, 0, 0, 1, 2, 2];
        want.extend_from_slice(b"\x08__name__\x02up\x01a\x01b");
        assert_eq!(out, want);
        let mut got = Vec::new();
        decode_series(&out, &mut got).unwrap();
        assert_eq!(got, vec![series(0x0102, &[("a", "b"), ("__name__", "up")])]);
    }

    #[test]
    fn unsorted_labels_are_an_error() {
        let mut rec = vec![1, 0, 0, 0, 0, 0, 0, 0, 1, 2];
        rec.extend_from_slice(b"\x01b\x01x\x01a\x01y");
        let err = decode_series(&rec, &mut Vec::new()).unwrap_err();
        assert!(err.detail.contains("not sorted"), "{err}");
        assert_eq!(err.offset, 9);
    }

    #[test]
    fn label_count_beyond_the_record_is_an_error_not_an_allocation() {
        let mut rec = vec![1, 0, 0, 0, 0, 0, 0, 0, 1];
        rec.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        let err = decode_series(&rec, &mut Vec::new()).unwrap_err();
        assert!(err.detail.contains("exceeds"), "{err}");
    }

    #[test]
    fn truncated_series_names_the_field() {
        let err = decode_series(&[1, 0, 0, 0], &mut Vec::new()).unwrap_err();
        assert!(err.detail.starts_with("series ref"), "{err}");
        assert_eq!(err.record, "series");
    }

    #[test]
    fn wrong_type_is_an_error() {
        let err = decode_series(&[2], &mut Vec::new()).unwrap_err();
        assert_eq!(err.record, "type 2");
    }
}
