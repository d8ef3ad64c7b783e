//! Exemplar records (type 4): exemplars with their own label sets.
//!
//! ```text
//! type=4 (1) | first ref BE64 | first t BE64
//!            | repeated: ref−first varint | t−first varint | value BE64 | label set
//! ```
//! The label set is encoded as in series records (uvarint count, then name and value
//! strings in name order) and may be empty.

use crate::encoding::put_varint;
use crate::labels::Labels;

use super::codec::{RecDec, put_be_u64, put_labels};
use super::{RecordError, RecordType};

/// An exemplar of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct RefExemplar {
    /// The head's reference of the series.
    pub series_ref: u64,
    /// Timestamp in ms.
    pub t: i64,
    /// The exemplar's value.
    pub v: f64,
    /// The exemplar's labels (e.g. a trace ID).
    pub labels: Labels,
}

/// Appends an exemplars record holding `exemplars` to `out`.
pub fn encode_exemplars(exemplars: &[RefExemplar], out: &mut Vec<u8>) {
    out.push(RecordType::Exemplars as u8);
    let Some(first) = exemplars.first() else {
        return;
    };
    put_be_u64(out, first.series_ref);
    put_be_u64(out, first.t as u64);
    for e in exemplars {
        put_varint(
            out,
            (e.series_ref as i64).wrapping_sub(first.series_ref as i64),
        );
        put_varint(out, e.t.wrapping_sub(first.t));
        put_be_u64(out, e.v.to_bits());
        put_labels(out, &e.labels);
    }
}

/// Decodes an exemplars record into `out` (its previous contents are replaced).
pub fn decode_exemplars(rec: &[u8], out: &mut Vec<RefExemplar>) -> Result<(), RecordError> {
    out.clear();
    let (mut d, _) = RecDec::start(rec, &[RecordType::Exemplars])?;
    if d.is_empty() {
        return Ok(());
    }
    let base_ref = d.be_u64("first series ref")?;
    let base_t = d.be_i64("first timestamp")?;
    while !d.is_empty() {
        let dref = d.varint("series ref delta")?;
        let dt = d.varint("timestamp delta")?;
        let v = d.be_f64("value")?;
        let labels = d.labels("label count")?;
        out.push(RefExemplar {
            series_ref: base_ref.wrapping_add(dref as u64),
            t: base_t.wrapping_add(dt),
            v,
            labels,
        });
    }
    d.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exemplars_round_trip_with_and_without_labels() {
        let ex = vec![
            RefExemplar {
                series_ref: 10,
                t: 5000,
                v: 0.25,
                labels: Labels::from_pairs([("trace_id", "abc")]).unwrap(),
            },
            RefExemplar {
                series_ref: 9,
                t: 4000,
                v: -1.0,
                labels: Labels::empty(),
            },
        ];
        let mut out = Vec::new();
        encode_exemplars(&ex, &mut out);
        assert_eq!(out[0], 4);
        assert_eq!(
            &out[1..17],
            &[0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0x13, 0x88]
        );
        let mut got = Vec::new();
        decode_exemplars(&out, &mut got).unwrap();
        assert_eq!(got, ex);
    }

    #[test]
    fn exemplar_without_labels_count_is_an_error() {
        let mut rec = vec![4];
        rec.extend_from_slice(&[0; 16]);
        rec.extend_from_slice(&[0, 0]);
        rec.extend_from_slice(&[0; 8]);
        let err = decode_exemplars(&rec, &mut Vec::new()).unwrap_err();
        assert!(err.detail.starts_with("label count"), "{err}");
    }
}
