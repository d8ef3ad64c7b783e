//! Bounds-checked big-endian and varint encoding for the on-disk formats.
//!
//! [`Decoder`] reads from a byte slice and never panics: every read past the end, every
//! overlong varint, is an error that records how far decoding got, so the caller can
//! report the offset. [`put_uvarint`] and friends append to a `Vec<u8>`. Varints are Go's
//! `encoding/binary` varints (LEB128, zig-zag for signed).

/// Why a [`Decoder`] read failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes remain than the read needs.
    #[error("unexpected end of data")]
    UnexpectedEnd,
    /// A varint is longer than 10 bytes or overflows 64 bits.
    #[error("varint overflows 64 bits")]
    VarintOverflow,
}

/// A cursor over a byte slice with checked reads.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Decoder<'a> {
        Decoder { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The unread bytes.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Reads `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::UnexpectedEnd);
        }
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes(1)?[0])
    }

    /// Reads a big-endian u32.
    pub fn be_u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a big-endian u64.
    pub fn be_u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// Reads an unsigned LEB128 varint.
    pub fn uvarint(&mut self) -> Result<u64, DecodeError> {
        let (v, n) = uvarint(self.rest())?;
        self.pos += n;
        Ok(v)
    }

    /// Reads a zig-zag signed varint.
    pub fn varint(&mut self) -> Result<i64, DecodeError> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
}

/// Decodes an unsigned varint from the start of `b`: (value, bytes used).
pub fn uvarint(b: &[u8]) -> Result<(u64, usize), DecodeError> {
    let mut x: u64 = 0;
    let mut shift = 0u32;
    for (i, &byte) in b.iter().enumerate() {
        if i == 10 {
            return Err(DecodeError::VarintOverflow);
        }
        if byte < 0x80 {
            if i == 9 && byte > 1 {
                return Err(DecodeError::VarintOverflow);
            }
            return Ok((x | (u64::from(byte) << shift), i + 1));
        }
        x |= u64::from(byte & 0x7f) << shift;
        shift += 7;
    }
    Err(DecodeError::UnexpectedEnd)
}

/// Appends `v` as an unsigned varint.
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` as a zig-zag signed varint.
pub fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// CRC-32C (Castagnoli), the checksum of every Prometheus TSDB format.
pub fn crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_round_trip(u in any::<u64>(), i in any::<i64>()) {
            let mut b = Vec::new();
            put_uvarint(&mut b, u);
            put_varint(&mut b, i);
            let mut d = Decoder::new(&b);
            prop_assert_eq!(d.uvarint().unwrap(), u);
            prop_assert_eq!(d.varint().unwrap(), i);
            prop_assert_eq!(d.remaining(), 0);
        }
    }

    #[test]
    fn reads_past_the_end_are_errors() {
        let mut d = Decoder::new(&[1, 2, 3]);
        assert_eq!(d.be_u32(), Err(DecodeError::UnexpectedEnd));
        assert_eq!(d.u8(), Ok(1));
        assert_eq!(
            Decoder::new(&[0x80, 0x80]).uvarint(),
            Err(DecodeError::UnexpectedEnd)
        );
        assert_eq!(
            Decoder::new(&[0xff; 11]).uvarint(),
            Err(DecodeError::VarintOverflow)
        );
        assert_eq!(
            Decoder::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).uvarint(),
            Err(DecodeError::VarintOverflow)
        );
    }

    #[test]
    fn crc_is_castagnoli() {
        // The standard check value of CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }
}
