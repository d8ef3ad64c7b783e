//! Shared pieces of the record codecs: a checked reader that reports [`RecordError`]s
//! with the record type and position, string and label-set encodings, and the type-byte
//! check every decoder starts with.
//!
//! Multi-byte integers are big-endian (`BE64`) or Go varints (`encoding/binary`, zig-zag
//! for signed), strings are a uvarint length followed by UTF-8 bytes, and a label set is a
//! uvarint count followed by name and value strings in name order.

use crate::encoding::{DecodeError, Decoder, put_uvarint};
use crate::labels::Labels;

use super::{RecordError, RecordType};

/// A bounds-checked cursor over one record that names the record in its errors.
pub(crate) struct RecDec<'a> {
    d: Decoder<'a>,
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
            Some(kind) => {
                let mut d = Decoder::new(rec);
                // The type byte, known to be there.
                let _ = d.u8();
                Ok((RecDec { d, kind }, kind))
            }
            None => Err(RecordError {
                record: format!("type {b}"),
                offset: 0,
                detail: format!("expected a {} record", names(allowed)),
            }),
        }
    }

    /// True when every byte has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.d.remaining() == 0
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.d.remaining()
    }

    /// An error at the current position.
    pub(crate) fn err(&self, detail: impl Into<String>) -> RecordError {
        RecordError {
            record: self.kind.name().to_string(),
            offset: self.d.position(),
            detail: detail.into(),
        }
    }

    fn map(&self, e: DecodeError, what: &str) -> RecordError {
        self.err(format!("{what}: {e}"))
    }

    /// One byte.
    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, RecordError> {
        self.d.u8().map_err(|e| self.map(e, what))
    }

    /// A big-endian u64.
    pub(crate) fn be_u64(&mut self, what: &str) -> Result<u64, RecordError> {
        self.d.be_u64().map_err(|e| self.map(e, what))
    }

    /// A big-endian two's-complement i64.
    pub(crate) fn be_i64(&mut self, what: &str) -> Result<i64, RecordError> {
        Ok(self.be_u64(what)? as i64)
    }

    /// A big-endian IEEE 754 double.
    pub(crate) fn be_f64(&mut self, what: &str) -> Result<f64, RecordError> {
        Ok(f64::from_bits(self.be_u64(what)?))
    }

    /// An unsigned varint.
    pub(crate) fn uvarint(&mut self, what: &str) -> Result<u64, RecordError> {
        self.d.uvarint().map_err(|e| self.map(e, what))
    }

    /// A zig-zag signed varint.
    pub(crate) fn varint(&mut self, what: &str) -> Result<i64, RecordError> {
        self.d.varint().map_err(|e| self.map(e, what))
    }

    /// An unsigned varint that must fit 32 bits.
    pub(crate) fn uvarint_u32(&mut self, what: &str) -> Result<u32, RecordError> {
        let pos = self.d.position();
        let v = self.uvarint(what)?;
        u32::try_from(v).map_err(|_| RecordError {
            record: self.kind.name().to_string(),
            offset: pos,
            detail: format!("{what}: {v} does not fit 32 bits"),
        })
    }

    /// A signed varint that must fit 32 bits.
    pub(crate) fn varint_i32(&mut self, what: &str) -> Result<i32, RecordError> {
        let pos = self.d.position();
        let v = self.varint(what)?;
        i32::try_from(v).map_err(|_| RecordError {
            record: self.kind.name().to_string(),
            offset: pos,
            detail: format!("{what}: {v} does not fit 32 bits"),
        })
    }

    /// A uvarint-prefixed byte string.
    pub(crate) fn bytes(&mut self, what: &str) -> Result<&'a [u8], RecordError> {
        let n = self.uvarint(what)?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        self.d.bytes(n).map_err(|e| self.map(e, what))
    }

    /// A uvarint-prefixed UTF-8 string.
    pub(crate) fn str(&mut self, what: &str) -> Result<&'a str, RecordError> {
        let pos = self.d.position();
        let b = self.bytes(what)?;
        std::str::from_utf8(b).map_err(|e| RecordError {
            record: self.kind.name().to_string(),
            offset: pos,
            detail: format!("{what} is not UTF-8: {e}"),
        })
    }

    /// A count of following entries, each at least `min_entry_bytes` long: counts that
    /// the rest of the record cannot hold are errors, so callers may reserve that many.
    pub(crate) fn count(
        &mut self,
        what: &str,
        min_entry_bytes: usize,
    ) -> Result<usize, RecordError> {
        let pos = self.d.position();
        let n = self.uvarint(what)?;
        let fits = self.d.remaining() / min_entry_bytes.max(1);
        match usize::try_from(n) {
            Ok(n) if n <= fits => Ok(n),
            _ => Err(RecordError {
                record: self.kind.name().to_string(),
                offset: pos,
                detail: format!(
                    "{what} {n} exceeds what the remaining {} bytes hold",
                    self.d.remaining()
                ),
            }),
        }
    }

    /// A label set: uvarint count, then name and value strings in name order.
    pub(crate) fn labels(&mut self, what: &str) -> Result<Labels, RecordError> {
        let pos = self.d.position();
        let n = self.count(what, 2)?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            let name = self.str("label name")?;
            let value = self.str("label value")?;
            pairs.push((name, value));
        }
        Labels::from_sorted(pairs).map_err(|e| RecordError {
            record: self.kind.name().to_string(),
            offset: pos,
            detail: format!("{what}: {e}"),
        })
    }

    /// Fails unless the record is fully consumed.
    pub(crate) fn finish(&self) -> Result<(), RecordError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.err(format!("{} unexpected bytes left", self.d.remaining())))
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
