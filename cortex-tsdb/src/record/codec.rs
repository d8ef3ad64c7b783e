//! Shared pieces of the record codecs: a checked reader that reports [`RecordError`]s
//! with the record type and position, string and label-set encodings, and the type-byte
//! check every decoder starts with.
//!
//! Multi-byte integers are big-endian (`BE64`) or Go varints (`encoding/binary`, zig-zag
//! for signed), strings are a uvarint length followed by UTF-8 bytes, and a label set is a
//! uvarint count followed by name and value strings in name order.

use crate::encoding::put_uvarint;
use crate::labels::Labels;

use super::{RecordError, RecordType};

/// Why a read failed (the message names the field).
#[derive(Clone, Copy)]
enum ReadError {
    End,
    Overflow,
}

/// A bounds-checked cursor over one record that names the record in its errors. The
/// reads are small and inlined: replays call them for every sample.
pub(crate) struct RecDec<'a> {
    buf: &'a [u8],
    pos: usize,
    kind: RecordType,
}

impl<'a> RecDec<'a> {
    /// Checks the type byte of `rec` against `allowed` and returns a cursor after it.
    pub(crate) fn start(
        rec: &'a [u8],
        allowed: &[RecordType],
    ) -> Result<(RecDec<'a>, RecordType), RecordError> {
        let Some(&b) = rec.first() else {
            return Err(RecordError {
                record: format!("expected {}", names(allowed)),
                offset: 0,
                detail: "empty record".into(),
            });
        };
        match RecordType::from_u8(b).filter(|t| allowed.contains(t)) {
            Some(kind) => Ok((
                RecDec {
                    buf: rec,
                    pos: 1,
                    kind,
                },
                kind,
            )),
            None => Err(RecordError {
                record: format!("type {b}"),
                offset: 0,
                detail: format!("expected a {} record", names(allowed)),
            }),
        }
    }

    /// True when every byte has been read.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Bytes not yet read.
    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// An error at the current position.
    #[cold]
    pub(crate) fn err(&self, detail: impl Into<String>) -> RecordError {
        self.err_at(self.pos, detail)
    }

    #[cold]
    fn err_at(&self, offset: usize, detail: impl Into<String>) -> RecordError {
        RecordError {
            record: self.kind.name().to_string(),
            offset,
            detail: detail.into(),
        }
    }

    #[cold]
    fn map(&self, e: ReadError, what: &str) -> RecordError {
        let why = match e {
            ReadError::End => "unexpected end of data",
            ReadError::Overflow => "varint overflows 64 bits",
        };
        self.err(format!("{what}: {why}"))
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], ReadError> {
        let end = self.pos.checked_add(n).ok_or(ReadError::End)?;
        let b = self.buf.get(self.pos..end).ok_or(ReadError::End)?;
        self.pos = end;
        Ok(b)
    }

    #[inline]
    fn read_uvarint(&mut self) -> Result<u64, ReadError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        if let Some(&b) = rest.first()
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        let mut x: u64 = 0;
        for (i, &b) in rest.iter().enumerate().take(10) {
            if b < 0x80 {
                if i == 9 && b > 1 {
                    return Err(ReadError::Overflow);
                }
                self.pos += i + 1;
                return Ok(x | (u64::from(b) << (7 * i)));
            }
            x |= u64::from(b & 0x7f) << (7 * i);
        }
        Err(if rest.len() >= 10 {
            ReadError::Overflow
        } else {
            ReadError::End
        })
    }

    /// One byte.
    #[inline]
    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, RecordError> {
        match self.take(1) {
            Ok(b) => Ok(b[0]),
            Err(e) => Err(self.map(e, what)),
        }
    }

    /// A big-endian u64.
    #[inline]
    pub(crate) fn be_u64(&mut self, what: &str) -> Result<u64, RecordError> {
        match self.take(8) {
            Ok(b) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Ok(u64::from_be_bytes(a))
            }
            Err(e) => Err(self.map(e, what)),
        }
    }

    /// A big-endian two's-complement i64.
    #[inline]
    pub(crate) fn be_i64(&mut self, what: &str) -> Result<i64, RecordError> {
        Ok(self.be_u64(what)? as i64)
    }

    /// A big-endian IEEE 754 double.
    #[inline]
    pub(crate) fn be_f64(&mut self, what: &str) -> Result<f64, RecordError> {
        Ok(f64::from_bits(self.be_u64(what)?))
    }

    /// An unsigned varint.
    #[inline]
    pub(crate) fn uvarint(&mut self, what: &str) -> Result<u64, RecordError> {
        match self.read_uvarint() {
            Ok(v) => Ok(v),
            Err(e) => Err(self.map(e, what)),
        }
    }

    /// A zig-zag signed varint.
    #[inline]
    pub(crate) fn varint(&mut self, what: &str) -> Result<i64, RecordError> {
        let u = self.uvarint(what)?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// An unsigned varint that must fit 32 bits.
    pub(crate) fn uvarint_u32(&mut self, what: &str) -> Result<u32, RecordError> {
        let pos = self.pos;
        let v = self.uvarint(what)?;
        u32::try_from(v).map_err(|_| self.err_at(pos, format!("{what}: {v} does not fit 32 bits")))
    }

    /// A signed varint that must fit 32 bits.
    pub(crate) fn varint_i32(&mut self, what: &str) -> Result<i32, RecordError> {
        let pos = self.pos;
        let v = self.varint(what)?;
        i32::try_from(v).map_err(|_| self.err_at(pos, format!("{what}: {v} does not fit 32 bits")))
    }

    /// A uvarint-prefixed byte string.
    pub(crate) fn bytes(&mut self, what: &str) -> Result<&'a [u8], RecordError> {
        let n = self.uvarint(what)?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        match self.take(n) {
            Ok(b) => Ok(b),
            Err(e) => Err(self.map(e, what)),
        }
    }

    /// A uvarint-prefixed UTF-8 string.
    pub(crate) fn str(&mut self, what: &str) -> Result<&'a str, RecordError> {
        let pos = self.pos;
        let b = self.bytes(what)?;
        std::str::from_utf8(b).map_err(|e| self.err_at(pos, format!("{what} is not UTF-8: {e}")))
    }

    /// A count of following entries, each at least `min_entry_bytes` long: counts that
    /// the rest of the record cannot hold are errors, so callers may reserve that many.
    pub(crate) fn count(
        &mut self,
        what: &str,
        min_entry_bytes: usize,
    ) -> Result<usize, RecordError> {
        let pos = self.pos;
        let n = self.uvarint(what)?;
        let fits = self.remaining() / min_entry_bytes.max(1);
        match usize::try_from(n) {
            Ok(n) if n <= fits => Ok(n),
            _ => Err(self.err_at(
                pos,
                format!(
                    "{what} {n} exceeds what the remaining {} bytes hold",
                    self.remaining()
                ),
            )),
        }
    }

    /// A label set: uvarint count, then name and value strings in name order.
    pub(crate) fn labels(&mut self, what: &str) -> Result<Labels, RecordError> {
        let pos = self.pos;
        let n = self.count(what, 2)?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            let name = self.str("label name")?;
            let value = self.str("label value")?;
            pairs.push((name, value));
        }
        Labels::from_sorted(pairs).map_err(|e| self.err_at(pos, format!("{what}: {e}")))
    }

    /// Fails unless the record is fully consumed.
    pub(crate) fn finish(&self) -> Result<(), RecordError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.err(format!("{} unexpected bytes left", self.remaining())))
        }
    }
}

fn names(types: &[RecordType]) -> String {
    types
        .iter()
        .map(|t| t.name())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Appends a big-endian u64.
pub(crate) fn put_be_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a uvarint-prefixed string.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Appends a label set: uvarint count, then name and value strings in name order.
pub(crate) fn put_labels(out: &mut Vec<u8>, labels: &Labels) {
    put_uvarint(out, labels.len() as u64);
    for l in labels.iter() {
        put_str(out, l.name);
        put_str(out, l.value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::Decoder;
    use proptest::prelude::*;

    fn cursor(body: &[u8]) -> RecDec<'_> {
        RecDec {
            buf: body,
            pos: 0,
            kind: RecordType::Samples,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

        /// The inlined varint reader agrees with the crate's checked decoder, value,
        /// length and failure alike.
        #[test]
        fn varints_agree_with_the_encoding_module(b in prop::collection::vec(any::<u8>(), 0..14), v in any::<u64>()) {
            for bytes in [b.clone(), { let mut e = Vec::new(); put_uvarint(&mut e, v); e.extend(&b); e }] {
                let mut ours = cursor(&bytes);
                let mut theirs = Decoder::new(&bytes);
                match (ours.uvarint("x"), theirs.uvarint()) {
                    (Ok(a), Ok(b)) => {
                        prop_assert_eq!(a, b);
                        prop_assert_eq!(ours.pos, theirs.position());
                    }
                    (Err(_), Err(_)) => prop_assert_eq!(ours.pos, 0),
                    (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
                }
            }
        }
    }

    #[test]
    fn reads_past_the_end_name_the_field_and_position() {
        let mut d = cursor(&[1, 2, 3]);
        assert_eq!(d.u8("a").unwrap(), 1);
        let e = d.be_u64("field").unwrap_err();
        assert_eq!(
            (e.offset, e.detail.as_str()),
            (1, "field: unexpected end of data")
        );
        let e = cursor(&[0xff; 11]).uvarint("v").unwrap_err();
        assert_eq!(e.detail, "v: varint overflows 64 bits");
        let e = cursor(&[0x80, 0x80]).uvarint("v").unwrap_err();
        assert_eq!(e.detail, "v: unexpected end of data");
    }
}
