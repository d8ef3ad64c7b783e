//! The results cache's values: the extents of one cache key — each a stretch
//! `[start, end]` of a range query's evaluation timestamps with the series the query
//! returned there and its warnings and info notes — and their byte encoding.
//!
//! A value read back from the cache is untrusted (a shared memcached, a hash collision
//! of long keys), so it carries the full key it was stored under and a checksum, and
//! decoding checks every length, ordering and UTF-8 string; a value that fails is an
//! error the caller treats as a miss.
//!
//! ```text
//! value    := "CXRC" | version u8 (1) | key str | count u32 | extent* | crc u32
//! extent   := start i64 | end i64 | warnings strs | infos strs | count u32 | series*
//! series   := labels u32 | (name str, value str)* | floats u32 | (t i64, f f64)*
//!             | histograms u32 | (t i64, histogram)*
//! histogram:= hint u8 | schema i32 | zero_threshold f64 | zero_count f64 | count f64
//!             | sum f64 | positive spans | negative spans | positive f64s
//!             | negative f64s | custom_values f64s
//! spans    := count u32 | (offset i32, length u32)*
//! f64s     := count u32 | f64*
//! strs     := count u32 | str*
//! str      := length u32 | UTF-8 bytes
//! ```
//!
//! Integers and floats (IEEE-754 bits) are big-endian. `crc` is CRC-32C (Castagnoli)
//! of every byte before it. Series are sorted by labels, points by strictly
//! increasing timestamp, all of them within their extent.

use std::sync::Arc;

use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram, Span};
use cortex_tsdb::labels::Labels;

use crate::promql::value::{FPoint, HPoint, Matrix, Series};

const MAGIC: &[u8; 4] = b"CXRC";
const VERSION: u8 = 1;

/// Why a cached value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtentError {
    /// The value ends before `what` is complete.
    #[error("results cache value truncated in {what}")]
    Truncated {
        /// The field being read.
        what: &'static str,
    },
    /// The value does not start with this format's magic and version.
    #[error("results cache value has an unknown format")]
    Format,
    /// The checksum does not match the contents.
    #[error("results cache value checksum mismatch")]
    Checksum,
    /// The value was stored under another key (a hashed key collided).
    #[error("results cache value belongs to another key")]
    KeyMismatch,
    /// A field holds a value the format does not allow.
    #[error("results cache value is invalid: {0}")]
    Invalid(String),
}

/// Evaluation timestamps `[start, end]` of one query with its results there.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Extent {
    /// First evaluation timestamp covered (ms).
    pub start: i64,
    /// Last evaluation timestamp covered (ms).
    pub end: i64,
    /// The series, sorted by labels, with their points in `[start, end]`.
    pub matrix: Matrix,
    /// Warnings the query gave over this stretch.
    pub warnings: Vec<String>,
    /// Info notes the query gave over this stretch.
    pub infos: Vec<String>,
}

/// Encodes `extents` stored under `key`.
pub fn encode_extents(key: &str, extents: &[Extent]) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(64));
    w.0.extend_from_slice(MAGIC);
    w.0.push(VERSION);
    w.str(key);
    w.len(extents.len());
    for e in extents {
        w.i64(e.start);
        w.i64(e.end);
        w.strs(&e.warnings);
        w.strs(&e.infos);
        w.len(e.matrix.len());
        for s in &e.matrix {
            w.len(s.metric.len());
            for l in &s.metric {
                w.str(l.name);
                w.str(l.value);
            }
            w.len(s.floats.len());
            for p in &s.floats {
                w.i64(p.t);
                w.f64(p.f);
            }
            w.len(s.histograms.len());
            for p in &s.histograms {
                w.i64(p.t);
                w.histogram(&p.h);
            }
        }
    }
    let crc = crc32c::crc32c(&w.0);
    w.0.extend_from_slice(&crc.to_be_bytes());
    w.0
}

/// Decodes a value that must have been stored under `key`.
pub fn decode_extents(key: &str, bytes: &[u8]) -> Result<Vec<Extent>, ExtentError> {
    if bytes.len() < MAGIC.len() + 1 + 4 {
        return Err(ExtentError::Truncated { what: "header" });
    }
    if &bytes[..4] != MAGIC || bytes[4] != VERSION {
        return Err(ExtentError::Format);
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let crc = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32c::crc32c(body) != crc {
        return Err(ExtentError::Checksum);
    }
    let mut r = Reader { rest: &body[5..] };
    if r.str("key")? != key {
        return Err(ExtentError::KeyMismatch);
    }
    let n = r.count("extents", 16)?;
    let mut out = Vec::with_capacity(n);
    let mut prev_end = None;
    for _ in 0..n {
        let e = r.extent()?;
        if prev_end.is_some_and(|p| e.start <= p) {
            return Err(ExtentError::Invalid(
                "extents overlap or are unsorted".into(),
            ));
        }
        prev_end = Some(e.end);
        out.push(e);
    }
    if !r.rest.is_empty() {
        return Err(ExtentError::Invalid("bytes after the last extent".into()));
    }
    Ok(out)
}

struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_bits().to_be_bytes());
    }
    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn strs(&mut self, items: &[String]) {
        self.len(items.len());
        for s in items {
            self.str(s);
        }
    }
    fn f64s(&mut self, v: &[f64]) {
        self.len(v.len());
        for f in v {
            self.f64(*f);
        }
    }
    fn spans(&mut self, spans: &[Span]) {
        self.len(spans.len());
        for s in spans {
            self.0.extend_from_slice(&s.offset.to_be_bytes());
            self.u32(s.length);
        }
    }
    fn histogram(&mut self, h: &FloatHistogram) {
        self.0.push(h.counter_reset_hint as u8);
        self.0.extend_from_slice(&h.schema.to_be_bytes());
        self.f64(h.zero_threshold);
        self.f64(h.zero_count);
        self.f64(h.count);
        self.f64(h.sum);
        self.spans(&h.positive_spans);
        self.spans(&h.negative_spans);
        self.f64s(&h.positive_buckets);
        self.f64s(&h.negative_buckets);
        self.f64s(&h.custom_values);
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ExtentError> {
        let (head, rest) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(ExtentError::Truncated { what })?;
        self.rest = rest;
        Ok(*head)
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, ExtentError> {
        self.take::<4>(what).map(u32::from_be_bytes)
    }
    fn i32(&mut self, what: &'static str) -> Result<i32, ExtentError> {
        self.take::<4>(what).map(i32::from_be_bytes)
    }
    fn i64(&mut self, what: &'static str) -> Result<i64, ExtentError> {
        self.take::<8>(what).map(i64::from_be_bytes)
    }
    fn f64(&mut self, what: &'static str) -> Result<f64, ExtentError> {
        self.take::<8>(what)
            .map(|b| f64::from_bits(u64::from_be_bytes(b)))
    }
    /// A count of items at least `min_size` bytes each: refused when the rest of the
    /// value cannot hold that many, so a bad count never allocates much.
    fn count(&mut self, what: &'static str, min_size: usize) -> Result<usize, ExtentError> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(min_size) > self.rest.len() {
            return Err(ExtentError::Truncated { what });
        }
        Ok(n)
    }
    fn str(&mut self, what: &'static str) -> Result<&'a str, ExtentError> {
        let n = self.count(what, 1)?;
        let (s, rest) = self.rest.split_at(n);
        self.rest = rest;
        std::str::from_utf8(s).map_err(|_| ExtentError::Invalid(format!("{what} is not UTF-8")))
    }
    fn strs(&mut self, what: &'static str) -> Result<Vec<String>, ExtentError> {
        let n = self.count(what, 4)?;
        (0..n).map(|_| self.str(what).map(str::to_string)).collect()
    }
    fn f64s(&mut self, what: &'static str) -> Result<Vec<f64>, ExtentError> {
        let n = self.count(what, 8)?;
        (0..n).map(|_| self.f64(what)).collect()
    }
    fn spans(&mut self, what: &'static str) -> Result<Vec<Span>, ExtentError> {
        let n = self.count(what, 8)?;
        (0..n)
            .map(|_| {
                Ok(Span {
                    offset: self.i32(what)?,
                    length: self.u32(what)?,
                })
            })
            .collect()
    }
    fn histogram(&mut self) -> Result<FloatHistogram, ExtentError> {
        let [hint] = self.take::<1>("histogram")?;
        let counter_reset_hint = CounterResetHint::from_u8(hint)
            .ok_or_else(|| ExtentError::Invalid(format!("counter reset hint {hint}")))?;
        Ok(FloatHistogram {
            counter_reset_hint,
            schema: self.i32("histogram")?,
            zero_threshold: self.f64("histogram")?,
            zero_count: self.f64("histogram")?,
            count: self.f64("histogram")?,
            sum: self.f64("histogram")?,
            positive_spans: self.spans("histogram spans")?,
            negative_spans: self.spans("histogram spans")?,
            positive_buckets: self.f64s("histogram buckets")?,
            negative_buckets: self.f64s("histogram buckets")?,
            custom_values: self.f64s("histogram custom values")?,
        })
    }
    fn extent(&mut self) -> Result<Extent, ExtentError> {
        let start = self.i64("extent")?;
        let end = self.i64("extent")?;
        if end < start {
            return Err(ExtentError::Invalid(format!(
                "extent ends ({end}) before it starts ({start})"
            )));
        }
        let warnings = self.strs("warnings")?;
        let infos = self.strs("infos")?;
        let n = self.count("series", 12)?;
        let mut matrix: Matrix = Vec::with_capacity(n);
        for _ in 0..n {
            let s = self.series(start, end)?;
            if matrix.last().is_some_and(|p| p.metric >= s.metric) {
                return Err(ExtentError::Invalid("series are not sorted".into()));
            }
            matrix.push(s);
        }
        Ok(Extent {
            start,
            end,
            matrix,
            warnings,
            infos,
        })
    }
    fn series(&mut self, start: i64, end: i64) -> Result<Series, ExtentError> {
        let n = self.count("labels", 8)?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            pairs.push((self.str("label name")?, self.str("label value")?));
        }
        let metric = Labels::from_sorted(pairs.iter().copied())
            .map_err(|e| ExtentError::Invalid(e.to_string()))?;
        let mut s = Series::new(metric);
        let in_extent = |t: i64, prev: Option<i64>| {
            if t < start || t > end || prev.is_some_and(|p| t <= p) {
                Err(ExtentError::Invalid(format!(
                    "point at {t} out of order or outside [{start}, {end}]"
                )))
            } else {
                Ok(())
            }
        };
        let n = self.count("floats", 16)?;
        s.floats.reserve(n);
        for _ in 0..n {
            let t = self.i64("float point")?;
            in_extent(t, s.floats.last().map(|p| p.t))?;
            s.floats.push(FPoint {
                t,
                f: self.f64("float point")?,
            });
        }
        let n = self.count("histograms", 8)?;
        for _ in 0..n {
            let t = self.i64("histogram point")?;
            in_extent(t, s.histograms.last().map(|p| p.t))?;
            let h = Arc::new(self.histogram()?);
            s.histograms.push(HPoint { t, h });
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    fn sample_extents() -> Vec<Extent> {
        let mut a = Series::new(labels(&[("__name__", "up"), ("job", "a")]));
        a.floats = vec![FPoint { t: 0, f: 1.0 }, FPoint { t: 60, f: f64::NAN }];
        let mut b = Series::new(labels(&[("job", "b")]));
        b.histograms = vec![HPoint {
            t: 60,
            h: Arc::new(FloatHistogram {
                counter_reset_hint: CounterResetHint::Gauge,
                schema: 3,
                zero_threshold: 1e-128,
                zero_count: 2.0,
                count: 9.5,
                sum: -4.25,
                positive_spans: vec![Span {
                    offset: -2,
                    length: 2,
                }],
                positive_buckets: vec![3.0, 4.5],
                ..Default::default()
            }),
        }];
        vec![
            Extent {
                start: 0,
                end: 60,
                matrix: vec![a, b],
                warnings: vec!["PromQL warning: x".into()],
                infos: vec![],
            },
            Extent {
                start: 180,
                end: 240,
                ..Default::default()
            },
        ]
    }

    #[test]
    fn extents_round_trip() {
        let e = sample_extents();
        let bytes = encode_extents("k", &e);
        let got = decode_extents("k", &bytes).unwrap();
        assert_eq!(got.len(), 2);
        assert!(got[0].matrix[0].floats[1].f.is_nan());
        assert_eq!(got[0].matrix[1], e[0].matrix[1]);
        assert_eq!(got[0].warnings, e[0].warnings);
        assert_eq!((got[1].start, got[1].end), (180, 240));
    }

    #[test]
    fn a_value_of_another_key_is_refused() {
        let bytes = encode_extents("k", &sample_extents());
        assert_eq!(decode_extents("j", &bytes), Err(ExtentError::KeyMismatch));
    }

    #[test]
    fn every_truncation_and_bit_flip_is_an_error() {
        let bytes = encode_extents("key", &sample_extents());
        for n in 0..bytes.len() {
            assert!(
                decode_extents("key", &bytes[..n]).is_err(),
                "truncated at {n}"
            );
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(decode_extents("key", &b).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn unsorted_points_are_refused_even_with_a_good_checksum() {
        let mut e = sample_extents();
        e[0].matrix[0].floats.swap(0, 1);
        let bytes = encode_extents("k", &e);
        assert!(matches!(
            decode_extents("k", &bytes),
            Err(ExtentError::Invalid(_))
        ));
    }
}
