//! Byte-level primitives of the index format: a bounds-checked decoder over a slice of the
//! file and the matching append-only encoder.
//!
//! Everything is big-endian or a Go-style varint (`encoding/binary` `Uvarint`/`Varint`,
//! zig-zag for signed values). The decoder never panics: every read checks the remaining
//! length and reports a [`DecodeError`] with the absolute file offset of the bad byte, which
//! the caller turns into [`crate::Error::Corrupted`] with the file and section it knows.
//! This module knows nothing about sections; CRC framing of sections lives in `section`
//! helpers at the bottom.

use std::borrow::Cow;

/// Longest uvarint encoding of a 64-bit value.
pub(crate) const MAX_VARINT_LEN64: usize = 10;

/// A decoding failure at an absolute offset of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    /// Offset in the file of the byte that could not be decoded.
    pub offset: u64,
    /// What is wrong.
    pub detail: Cow<'static, str>,
}

impl DecodeError {
    /// An error at `offset`.
    pub fn new(offset: usize, detail: impl Into<Cow<'static, str>>) -> DecodeError {
        DecodeError {
            offset: offset as u64,
            detail: detail.into(),
        }
    }
}

/// Result of a decoding step.
pub(crate) type DecResult<T> = Result<T, DecodeError>;

/// A cursor over a slice of the file that knows where the slice starts, so errors carry
/// absolute offsets.
#[derive(Debug, Clone)]
pub(crate) struct Decbuf<'a> {
    b: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Decbuf<'a> {
    /// A decoder over `b`, whose first byte is at offset `base` of the file.
    pub fn new(b: &'a [u8], base: usize) -> Decbuf<'a> {
        Decbuf { b, pos: 0, base }
    }

    /// Absolute file offset of the next byte to read.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }

    /// True when everything was read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.b.len()
    }

    /// The unread bytes.
    pub fn rest(&self) -> &'a [u8] {
        self.b.get(self.pos..).unwrap_or_default()
    }

    fn err<T>(&self, detail: impl Into<Cow<'static, str>>) -> DecResult<T> {
        Err(DecodeError::new(self.offset(), detail))
    }

    /// Takes the next `n` bytes.
    #[inline]
    pub fn bytes(&mut self, n: usize) -> DecResult<&'a [u8]> {
        match self
            .pos
            .checked_add(n)
            .and_then(|end| self.b.get(self.pos..end))
        {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => self.err(format!("need {n} bytes, only {} left", self.remaining())),
        }
    }

    /// One byte.
    #[inline]
    pub fn byte(&mut self) -> DecResult<u8> {
        match self.b.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => self.err("unexpected end of data"),
        }
    }

    /// A big-endian u32.
    #[inline]
    pub fn be32(&mut self) -> DecResult<u32> {
        let b = self.bytes(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_be_bytes(a))
    }

    /// A big-endian u64.
    pub fn be64(&mut self) -> DecResult<u64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// An unsigned varint of at most 64 bits.
    #[inline]
    pub fn uvarint64(&mut self) -> DecResult<u64> {
        let start = self.pos;
        let mut x = 0u64;
        let mut shift = 0u32;
        for i in 0..MAX_VARINT_LEN64 {
            let Some(&b) = self.b.get(self.pos) else {
                self.pos = start;
                return self.err("truncated varint");
            };
            self.pos += 1;
            if b < 0x80 {
                if i == MAX_VARINT_LEN64 - 1 && b > 1 {
                    self.pos = start;
                    return self.err("varint overflows 64 bits");
                }
                return Ok(x | (u64::from(b) << shift));
            }
            x |= u64::from(b & 0x7f) << shift;
            shift += 7;
        }
        self.pos = start;
        self.err("varint overflows 64 bits")
    }

    /// An unsigned varint that must fit in 32 bits.
    #[inline]
    pub fn uvarint32(&mut self) -> DecResult<u32> {
        let at = self.offset();
        let v = self.uvarint64()?;
        u32::try_from(v).map_err(|_| DecodeError::new(at, format!("value {v} exceeds 32 bits")))
    }

    /// An unsigned varint used as a length or count (fits in `usize`).
    #[inline]
    pub fn uvarint_len(&mut self) -> DecResult<usize> {
        let at = self.offset();
        let v = self.uvarint64()?;
        usize::try_from(v).map_err(|_| DecodeError::new(at, format!("length {v} too large")))
    }

    /// A zig-zag signed varint.
    #[inline]
    pub fn varint64(&mut self) -> DecResult<i64> {
        let ux = self.uvarint64()?;
        let x = (ux >> 1) as i64;
        Ok(if ux & 1 != 0 { !x } else { x })
    }

    /// A uvarint length followed by that many bytes.
    #[inline]
    pub fn uvarint_bytes(&mut self) -> DecResult<&'a [u8]> {
        let n = self.uvarint_len()?;
        self.bytes(n)
    }

    /// A uvarint length followed by that many bytes of UTF-8.
    #[inline]
    pub fn uvarint_str(&mut self) -> DecResult<&'a str> {
        let at = self.offset();
        let b = self.uvarint_bytes()?;
        std::str::from_utf8(b).map_err(|_| DecodeError::new(at, "string is not valid UTF-8"))
    }
}

/// Appends a big-endian u32.
pub(crate) fn put_be32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian u64.
pub(crate) fn put_be64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Appends an unsigned varint.
#[inline]
pub(crate) fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Appends a zig-zag signed varint.
#[inline]
pub(crate) fn put_varint(buf: &mut Vec<u8>, v: i64) {
    let ux = ((v as u64) << 1) ^ ((v >> 63) as u64);
    put_uvarint(buf, ux);
}

/// Appends a uvarint length and the string's bytes.
#[inline]
pub(crate) fn put_uvarint_str(buf: &mut Vec<u8>, s: &str) {
    put_uvarint(buf, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

/// CRC-32C (Castagnoli) of `b`, the checksum of every index section.
#[inline]
pub(crate) fn crc32c(b: &[u8]) -> u32 {
    crc32c::crc32c(b)
}

/// Reads a section framed as `len <4b> | body <len bytes> | CRC32 <4b>` starting at `off`
/// of `data`, checks the CRC over the body and returns a decoder over the body.
///
/// `end` bounds the section: the frame must end at or before it.
pub(crate) fn framed_be32(data: &[u8], off: usize, end: usize) -> DecResult<Decbuf<'_>> {
    let end = end.min(data.len());
    let window = data
        .get(off..end)
        .ok_or_else(|| DecodeError::new(off, "section starts outside its bounds"))?;
    let mut d = Decbuf::new(window, off);
    let len = d.be32()? as usize;
    let body = d.bytes(len).map_err(|_| {
        DecodeError::new(
            off,
            format!("length {len} runs past the end of the section"),
        )
    })?;
    let crc_at = d.offset();
    let want = d
        .be32()
        .map_err(|_| DecodeError::new(crc_at, "checksum runs past the end of the section"))?;
    let got = crc32c(body);
    if got != want {
        return Err(DecodeError::new(
            crc_at,
            format!("checksum mismatch: stored {want:#010x}, computed {got:#010x}"),
        ));
    }
    Ok(Decbuf::new(body, off + 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uvarint_round_trips_at_every_width() {
        for v in [0u64, 1, 127, 128, 300, 1 << 32, u64::MAX - 1, u64::MAX] {
            let mut buf = Vec::new();
            put_uvarint(&mut buf, v);
            let mut d = Decbuf::new(&buf, 0);
            assert_eq!(d.uvarint64().unwrap(), v);
            assert!(d.is_empty());
        }
    }

    #[test]
    fn varint_uses_zigzag_like_go() {
        // Go: binary.PutVarint(-1) == [0x01], PutVarint(1) == [0x02], PutVarint(-64) == [0x7f].
        for (v, enc) in [(-1i64, vec![0x01]), (1, vec![0x02]), (-64, vec![0x7f])] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(buf, enc);
            assert_eq!(Decbuf::new(&buf, 0).varint64().unwrap(), v);
        }
        for v in [i64::MIN, i64::MAX, 0, -123_456_789] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(Decbuf::new(&buf, 0).varint64().unwrap(), v);
        }
    }

    #[test]
    fn overlong_and_truncated_varints_are_errors_with_offsets() {
        let overlong = [0xffu8; 11];
        let err = Decbuf::new(&overlong, 100).uvarint64().unwrap_err();
        assert_eq!(err.offset, 100);
        // Tenth byte larger than 1 overflows 64 bits.
        let mut ten = vec![0xffu8; 9];
        ten.push(0x02);
        assert!(Decbuf::new(&ten, 0).uvarint64().is_err());
        let truncated = [0x80u8, 0x80];
        let mut d = Decbuf::new(&truncated, 7);
        assert_eq!(d.uvarint64().unwrap_err().offset, 7);
        // A failed read consumes nothing.
        assert_eq!(d.remaining(), 2);
    }

    #[test]
    fn reads_past_the_end_fail_without_panicking() {
        let b = [0u8, 0, 0];
        let mut d = Decbuf::new(&b, 10);
        assert!(d.be32().is_err());
        assert!(d.be64().is_err());
        assert!(d.bytes(usize::MAX).is_err());
        let lenbuf = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(Decbuf::new(&lenbuf, 0).uvarint_bytes().is_err());
        let bad_utf8 = [2u8, 0xc3, 0x28];
        let err = Decbuf::new(&bad_utf8, 5).uvarint_str().unwrap_err();
        assert_eq!(err.offset, 5);
    }

    #[test]
    fn framed_section_checks_length_and_crc() {
        let body = b"hello";
        let mut buf = vec![0xaa, 0xbb];
        put_be32(&mut buf, body.len() as u32);
        buf.extend_from_slice(body);
        put_be32(&mut buf, crc32c(body));
        let d = framed_be32(&buf, 2, buf.len()).unwrap();
        assert_eq!(d.rest(), body);
        assert_eq!(d.offset(), 6);
        // Bound cuts the CRC off.
        assert!(framed_be32(&buf, 2, buf.len() - 1).is_err());
        // A flipped body byte is a checksum error at the CRC's offset.
        buf[7] ^= 1;
        let err = framed_be32(&buf, 2, buf.len()).unwrap_err();
        assert_eq!(err.offset, 11);
        assert!(err.detail.contains("checksum"), "{}", err.detail);
        assert!(framed_be32(&buf, 100, 200).is_err());
    }

    #[test]
    fn crc_is_castagnoli() {
        // The standard CRC-32C check value.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }
}
