//! Metadata records (type 6): metric type, unit and help text of series.
//!
//! ```text
//! type=6 (1) | repeated: ref uvarint | metric type (1) | uvarint field count
//!            |           | field count × (name string, value string)
//! ```
//! Prometheus writes two fields, `UNIT` and `HELP` (in that order); decoders skip fields
//! with other names so newer writers can add some. Strings are uvarint-length-prefixed
//! UTF-8.

use crate::encoding::put_uvarint;

use super::codec::{RecDec, put_str};
use super::{RecordError, RecordType};

const UNIT: &str = "UNIT";
const HELP: &str = "HELP";

/// The metric type byte of a metadata entry, as Prometheus numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum MetricType {
    /// Unknown or untyped.
    #[default]
    Unknown = 0,
    /// Counter.
    Counter = 1,
    /// Gauge.
    Gauge = 2,
    /// Histogram.
    Histogram = 3,
    /// Gauge histogram.
    GaugeHistogram = 4,
    /// Summary.
    Summary = 5,
    /// Info.
    Info = 6,
    /// State set.
    Stateset = 7,
}

impl MetricType {
    /// The type for a byte; bytes Prometheus does not define map to `Unknown`, as
    /// Prometheus maps them.
    pub fn from_u8(b: u8) -> MetricType {
        use MetricType::*;
        match b {
            1 => Counter,
            2 => Gauge,
            3 => Histogram,
            4 => GaugeHistogram,
            5 => Summary,
            6 => Info,
            7 => Stateset,
            _ => Unknown,
        }
    }
}

/// Metadata of one series.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RefMetadata {
    /// The head's reference of the series.
    pub series_ref: u64,
    /// The metric type byte as written ([`MetricType::from_u8`] interprets it).
    pub metric_type: u8,
    /// The unit (empty when none).
    pub unit: String,
    /// The help text (empty when none).
    pub help: String,
}

/// Appends a metadata record holding `metadata` to `out`.
pub fn encode_metadata(metadata: &[RefMetadata], out: &mut Vec<u8>) {
    out.push(RecordType::Metadata as u8);
    for m in metadata {
        put_uvarint(out, m.series_ref);
        out.push(m.metric_type);
        put_uvarint(out, 2);
        put_str(out, UNIT);
        put_str(out, &m.unit);
        put_str(out, HELP);
        put_str(out, &m.help);
    }
}

/// Decodes a metadata record into `out` (its previous contents are replaced; the
/// strings of entries already in `out` are reused).
pub fn decode_metadata(rec: &[u8], out: &mut Vec<RefMetadata>) -> Result<(), RecordError> {
    let mut n = 0;
    let res = fill(rec, out, &mut n);
    out.truncate(n);
    res
}

fn fill(rec: &[u8], out: &mut Vec<RefMetadata>, n: &mut usize) -> Result<(), RecordError> {
    let (mut d, _) = RecDec::start(rec, &[RecordType::Metadata])?;
    while !d.is_empty() {
        let series_ref = d.uvarint("series ref")?;
        let metric_type = d.u8("metric type")?;
        let fields = d.count("field count", 2)?;
        if *n == out.len() {
            out.push(RefMetadata::default());
        }
        let m = &mut out[*n];
        m.series_ref = series_ref;
        m.metric_type = metric_type;
        m.unit.clear();
        m.help.clear();
        for _ in 0..fields {
            let name = d.str("field name")?;
            let value = d.str("field value")?;
            match name {
                UNIT => m.unit.push_str(value),
                HELP => m.help.push_str(value),
                _ => {}
            }
        }
        *n += 1;
    }
    d.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_layout_is_prometheus() {
        let m = RefMetadata {
            series_ref: 300,
            metric_type: MetricType::Counter as u8,
            unit: "seconds".into(),
            help: "Total time.".into(),
        };
        let mut out = Vec::new();
        encode_metadata(std::slice::from_ref(&m), &mut out);
        let mut want = vec![6, 0xac, 0x02, 1, 2, 4];
        want.extend_from_slice(b"UNIT\x07seconds\x04HELP\x0bTotal time.");
        assert_eq!(out, want);
        let mut got = vec![RefMetadata::default(); 3];
        decode_metadata(&out, &mut got).unwrap();
        assert_eq!(got, vec![m]);
        assert_eq!(MetricType::from_u8(got[0].metric_type), MetricType::Counter);
    }

    #[test]
    fn unknown_fields_are_skipped_and_missing_ones_are_empty() {
        let mut rec = vec![6, 1, 2, 2];
        rec.extend_from_slice(b"\x04NOTE\x01x\x04HELP\x01h");
        let mut got = Vec::new();
        decode_metadata(&rec, &mut got).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].unit.as_str(), got[0].help.as_str()), ("", "h"));
        assert_eq!(MetricType::from_u8(200), MetricType::Unknown);
    }

    #[test]
    fn truncated_field_is_an_error_and_leaves_no_partial_entries() {
        let mut rec = vec![6, 1, 2, 1];
        rec.extend_from_slice(b"\x04UNIT\x05ab");
        let mut got = vec![RefMetadata::default()];
        let err = decode_metadata(&rec, &mut got).unwrap_err();
        assert!(err.detail.starts_with("field value"), "{err}");
        assert!(got.is_empty());
    }
}
