//! Float sample records: type 2 (Prometheus 2.x and 3.x) and type 11 (`samples_v2`, with
//! start timestamps, newer 3.x).
//!
//! ```text
//! type=2  (1) | first ref BE64 | first t BE64
//!             | repeated: ref−first varint | t−first varint | value BE64 (f64 bits)
//! type=11 (1) | ref varint | t varint | st varint | value BE64            (first sample)
//!             | repeated: ref−previous ref varint | t−first t varint
//!             |           | st marker (1) [st−first st varint] | value BE64
//! ```
//! The st marker is 0 for "no start time" (st = 0), 1 for "same as the previous
//! sample's", 2 for an explicit value that follows. Type 2 has no start time: it decodes
//! as st = 0. Deltas wrap like Go's integer arithmetic.

use crate::encoding::put_varint;

use super::codec::{RecDec, put_be_u64};
use super::{RecordError, RecordType};

/// Start-time marker: the sample has no start time.
const NO_ST: u8 = 0;
/// Start-time marker: same start time as the previous sample.
const SAME_ST: u8 = 1;
/// Start-time marker: an explicit start time (varint delta to the first) follows.
const EXPLICIT_ST: u8 = 2;

/// A float sample of a series.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RefSample {
    /// The head's reference of the series.
    pub series_ref: u64,
    /// Start timestamp in ms (0 when unknown; only `samples_v2` records carry it).
    pub st: i64,
    /// Timestamp in ms.
    pub t: i64,
    /// The value (compared bit for bit: stale markers are a NaN pattern).
    pub v: f64,
}

/// Appends a type-2 samples record holding `samples` to `out` (start times are dropped).
pub fn encode_samples(samples: &[RefSample], out: &mut Vec<u8>) {
    out.push(RecordType::Samples as u8);
    let Some(first) = samples.first() else {
        return;
    };
    put_be_u64(out, first.series_ref);
    put_be_u64(out, first.t as u64);
    for s in samples {
        put_varint(
            out,
            (s.series_ref as i64).wrapping_sub(first.series_ref as i64),
        );
        put_varint(out, s.t.wrapping_sub(first.t));
        put_be_u64(out, s.v.to_bits());
    }
}

/// Appends a type-11 (`samples_v2`) record holding `samples` to `out`.
pub(crate) fn encode_samples_v2(samples: &[RefSample], out: &mut Vec<u8>) {
    out.push(RecordType::SamplesV2 as u8);
    let Some(first) = samples.first() else {
        return;
    };
    put_varint(out, first.series_ref as i64);
    put_varint(out, first.t);
    put_varint(out, first.st);
    put_be_u64(out, first.v.to_bits());
    for pair in samples.windows(2) {
        let (prev, s) = (&pair[0], &pair[1]);
        put_varint(
            out,
            (s.series_ref as i64).wrapping_sub(prev.series_ref as i64),
        );
        put_varint(out, s.t.wrapping_sub(first.t));
        put_st_marker(out, s.st, first.st, prev.st);
        put_be_u64(out, s.v.to_bits());
    }
}

/// Appends the start-time marker (and explicit delta) of one sample.
pub(crate) fn put_st_marker(out: &mut Vec<u8>, st: i64, first_st: i64, prev_st: i64) {
    if st == 0 {
        out.push(NO_ST);
    } else if st == prev_st {
        out.push(SAME_ST);
    } else {
        out.push(EXPLICIT_ST);
        put_varint(out, st.wrapping_sub(first_st));
    }
}

/// Reads a start-time marker (and explicit delta).
pub(crate) fn read_st_marker(
    d: &mut RecDec<'_>,
    first_st: i64,
    prev_st: i64,
) -> Result<i64, RecordError> {
    match d.u8("start time marker")? {
        NO_ST => Ok(0),
        SAME_ST => Ok(prev_st),
        EXPLICIT_ST => Ok(first_st.wrapping_add(d.varint("start time delta")?)),
        m => Err(d.err(format!("unknown start time marker {m}"))),
    }
}

/// Decodes a samples record (type 2 or 11) into `out` (its previous contents are
/// replaced).
pub fn decode_samples(rec: &[u8], out: &mut Vec<RefSample>) -> Result<(), RecordError> {
    out.clear();
    let (mut d, kind) = RecDec::start(rec, &[RecordType::Samples, RecordType::SamplesV2])?;
    if d.is_empty() {
        return Ok(());
    }
    // Each sample takes at least two one-byte varints and the value.
    out.reserve(d.remaining() / 10);
    if kind == RecordType::Samples {
        let base_ref = d.be_u64("first series ref")?;
        let base_t = d.be_i64("first timestamp")?;
        while !d.is_empty() {
            let dref = d.varint("series ref delta")?;
            let dt = d.varint("timestamp delta")?;
            let v = d.be_f64("value")?;
            out.push(RefSample {
                series_ref: (base_ref as i64).wrapping_add(dref) as u64,
                st: 0,
                t: base_t.wrapping_add(dt),
                v,
            });
        }
        return d.finish();
    }
    let first_ref = d.varint("first series ref")?;
    let first_t = d.varint("first timestamp")?;
    let first_st = d.varint("first start time")?;
    let v = d.be_f64("value")?;
    out.push(RefSample {
        series_ref: first_ref as u64,
        st: first_st,
        t: first_t,
        v,
    });
    let mut prev = out[0];
    while !d.is_empty() {
        let dref = d.varint("series ref delta")?;
        let dt = d.varint("timestamp delta")?;
        let st = read_st_marker(&mut d, first_st, prev.st)?;
        let v = d.be_f64("value")?;
        prev = RefSample {
            series_ref: (prev.series_ref as i64).wrapping_add(dref) as u64,
            st,
            t: first_t.wrapping_add(dt),
            v,
        };
        out.push(prev);
    }
    d.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(series_ref: u64, st: i64, t: i64, v: f64) -> RefSample {
        RefSample {
            series_ref,
            st,
            t,
            v,
        }
    }

    #[test]
    fn v1_layout_is_be64_bases_then_signed_varint_deltas() {
        let mut out = Vec::new();
        encode_samples(&[s(5, 0, 1000, 1.0), s(4, 0, 999, 2.0)], &mut out);
        let mut want = vec![2];
        want.extend_from_slice(&5u64.to_be_bytes());
        want.extend_from_slice(&1000u64.to_be_bytes());
        want.extend_from_slice(&[0, 0]);
        want.extend_from_slice(&1.0f64.to_bits().to_be_bytes());
        // -1 zig-zags to 1.
        want.extend_from_slice(&[1, 1]);
        want.extend_from_slice(&2.0f64.to_bits().to_be_bytes());
        assert_eq!(out, want);
        let mut got = Vec::new();
        decode_samples(&out, &mut got).unwrap();
        assert_eq!(got, vec![s(5, 0, 1000, 1.0), s(4, 0, 999, 2.0)]);
    }

    #[test]
    fn v2_layout_uses_markers_for_start_times() {
        let mut out = Vec::new();
        let samples = [
            s(7, 100, 1000, 1.0),
            s(8, 100, 1001, 2.0),
            s(9, 0, 1002, 3.0),
            s(3, 50, 1003, 4.0),
        ];
        encode_samples_v2(&samples, &mut out);
        let mut want = vec![11, 14, 0xd0, 0x0f, 0xc8, 0x01];
        want.extend_from_slice(&1.0f64.to_bits().to_be_bytes());
        want.extend_from_slice(&[2, 2, SAME_ST]);
        want.extend_from_slice(&2.0f64.to_bits().to_be_bytes());
        want.extend_from_slice(&[2, 4, NO_ST]);
        want.extend_from_slice(&3.0f64.to_bits().to_be_bytes());
        // ref 9 → 3 is −6 (zig-zag 11), st 50 − 100 = −50 (zig-zag 99).
        want.extend_from_slice(&[11, 6, EXPLICIT_ST, 99]);
        want.extend_from_slice(&4.0f64.to_bits().to_be_bytes());
        assert_eq!(out, want);
        let mut got = vec![s(1, 1, 1, 1.0)];
        decode_samples(&out, &mut got).unwrap();
        assert_eq!(got, samples);
    }

    #[test]
    fn empty_records_decode_to_nothing() {
        for b in [2u8, 11] {
            let mut got = vec![s(1, 1, 1, 1.0)];
            decode_samples(&[b], &mut got).unwrap();
            assert!(got.is_empty());
        }
    }

    #[test]
    fn unknown_start_time_marker_is_an_error() {
        let mut rec = vec![11, 2, 2, 0];
        rec.extend_from_slice(&1.0f64.to_bits().to_be_bytes());
        rec.extend_from_slice(&[0, 0, 3]);
        let err = decode_samples(&rec, &mut Vec::new()).unwrap_err();
        assert!(err.detail.contains("marker 3"), "{err}");
        assert_eq!(err.offset, 15);
    }

    #[test]
    fn truncated_value_is_an_error_with_position() {
        let mut out = Vec::new();
        encode_samples(&[s(1, 0, 5, 1.5)], &mut out);
        out.pop();
        let err = decode_samples(&out, &mut Vec::new()).unwrap_err();
        assert!(err.detail.starts_with("value"), "{err}");
        assert_eq!(err.offset, 19);
    }
}
