//! Protocol-buffers wire primitives for the remote-write codecs: a bounds-checked
//! [`Reader`] over a message's bytes (varints, zigzag, fixed 64/32-bit values, keys,
//! length-delimited fields, packed and unpacked repeated scalars, skipping unknown
//! fields) and the matching `put_*` writers that append to a `Vec<u8>`.
//!
//! This module knows the encoding rules of <https://protobuf.dev/programming-guides/encoding/>
//! and nothing about any message: the message layouts live in `v1.rs` and `v2.rs`.
//! Groups (wire types 3 and 4) are deprecated and never used by remote write; meeting
//! one is an error. Every read checks its bounds and returns a [`WireError`]; nothing
//! here panics on any input.

use std::fmt;

/// An error's field path one level further out: `name[index]` in front of `path`.
#[cold]
pub fn path_within(path: &str, name: &str, index: usize) -> String {
    if path.is_empty() {
        format!("{name}[{index}]")
    } else {
        format!("{name}[{index}].{path}")
    }
}

/// An error's field path inside the singular field `name`.
#[cold]
pub fn path_in_field(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{name}.{path}")
    }
}

/// What went wrong while reading protobuf bytes. Carried, with the field path, by
/// [`super::DecodeError::Malformed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The data ended inside a value.
    #[error("unexpected end of data")]
    Truncated,
    /// A length prefix points past the end of the enclosing message.
    #[error("length {len} exceeds the {remaining} bytes left")]
    LengthOutOfBounds {
        /// The announced length.
        len: u64,
        /// Bytes left in the enclosing message.
        remaining: usize,
    },
    /// A varint ran over ten bytes.
    #[error("varint longer than 10 bytes")]
    VarintTooLong,
    /// A key with field number 0, or one beyond 2^29-1.
    #[error("invalid field number {0}")]
    InvalidFieldNumber(u64),
    /// A key with wire type 6 or 7.
    #[error("invalid wire type {0}")]
    InvalidWireType(u8),
    /// A group (wire type 3 or 4), which remote write never uses.
    #[error("field {field}: groups (wire types 3 and 4) are not supported")]
    Group {
        /// The group's field number.
        field: u32,
    },
    /// A known field arrived with a wire type its declared type cannot have.
    #[error("field {field}: wire type {got} where {expected} was expected")]
    WrongWireType {
        /// The field number.
        field: u32,
        /// The wire type the schema requires.
        expected: WireType,
        /// The wire type on the wire.
        got: WireType,
    },
    /// A packed fixed-width field whose length is not a multiple of the width.
    #[error("field {field}: packed length {len} is not a multiple of {width}")]
    PackedLength {
        /// The field number.
        field: u32,
        /// The packed payload length.
        len: usize,
        /// The element width (8 or 4).
        width: usize,
    },
    /// A string field that is not valid UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
}

/// The wire type in the low three bits of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireType {
    /// 0: varint (int32, int64, uint32, uint64, sint32, sint64, bool, enum).
    Varint,
    /// 1: 8 bytes little-endian (fixed64, sfixed64, double).
    Fixed64,
    /// 2: length-delimited (string, bytes, messages, packed repeated scalars).
    Len,
    /// 3: start of a group (deprecated).
    StartGroup,
    /// 4: end of a group (deprecated).
    EndGroup,
    /// 5: 4 bytes little-endian (fixed32, sfixed32, float).
    Fixed32,
}

impl WireType {
    /// The wire type from its number; 6 and 7 are invalid.
    pub fn from_u8(v: u8) -> Result<WireType, WireError> {
        Ok(match v {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            3 => WireType::StartGroup,
            4 => WireType::EndGroup,
            5 => WireType::Fixed32,
            _ => return Err(WireError::InvalidWireType(v)),
        })
    }

    /// The wire type's number.
    pub fn as_u8(self) -> u8 {
        match self {
            WireType::Varint => 0,
            WireType::Fixed64 => 1,
            WireType::Len => 2,
            WireType::StartGroup => 3,
            WireType::EndGroup => 4,
            WireType::Fixed32 => 5,
        }
    }
}

impl fmt::Display for WireType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            WireType::Varint => "varint",
            WireType::Fixed64 => "fixed64",
            WireType::Len => "length-delimited",
            WireType::StartGroup => "start-group",
            WireType::EndGroup => "end-group",
            WireType::Fixed32 => "fixed32",
        };
        write!(f, "{} ({name})", self.as_u8())
    }
}

/// Largest field number protobuf allows.
const MAX_FIELD: u64 = (1 << 29) - 1;

/// Decodes a zigzag-encoded 64-bit value (`sint64`).
#[inline]
pub fn zigzag_decode64(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// Encodes a 64-bit value with zigzag (`sint64`).
#[inline]
pub fn zigzag_encode64(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

/// Decodes a zigzag-encoded 32-bit value (`sint32`); the varint is truncated to 32 bits
/// first, as protobuf parsers do.
#[inline]
pub fn zigzag_decode32(n: u64) -> i32 {
    let n = n as u32;
    ((n >> 1) as i32) ^ -((n & 1) as i32)
}

/// Encodes a 32-bit value with zigzag (`sint32`).
#[inline]
pub fn zigzag_encode32(n: i32) -> u64 {
    u64::from(((n << 1) ^ (n >> 31)) as u32)
}

/// A cursor over one message's bytes. Reads consume from the front; every read checks
/// its bounds.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// True when every byte has been read.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes not yet read.
    #[inline]
    pub fn remaining(&self) -> &'a [u8] {
        self.buf
    }

    /// Reads a varint of up to ten bytes (bits beyond 64 are dropped, as protobuf does).
    #[inline]
    pub fn varint(&mut self) -> Result<u64, WireError> {
        // One-byte fast path: tags, small lengths and small numbers.
        if let Some(&b) = self.buf.first()
            && b < 0x80
        {
            self.buf = &self.buf[1..];
            return Ok(u64::from(b));
        }
        let mut value = 0u64;
        for (i, &b) in self.buf.iter().enumerate().take(10) {
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.buf = &self.buf[i + 1..];
                return Ok(value);
            }
        }
        if self.buf.len() >= 10 {
            Err(WireError::VarintTooLong)
        } else {
            Err(WireError::Truncated)
        }
    }

    /// Reads 8 little-endian bytes.
    #[inline]
    pub fn fixed64(&mut self) -> Result<u64, WireError> {
        let (head, rest) = self
            .buf
            .split_first_chunk::<8>()
            .ok_or(WireError::Truncated)?;
        self.buf = rest;
        Ok(u64::from_le_bytes(*head))
    }

    /// Reads 4 little-endian bytes.
    #[inline]
    pub fn fixed32(&mut self) -> Result<u32, WireError> {
        let (head, rest) = self
            .buf
            .split_first_chunk::<4>()
            .ok_or(WireError::Truncated)?;
        self.buf = rest;
        Ok(u32::from_le_bytes(*head))
    }

    /// Reads an 8-byte double.
    #[inline]
    pub fn double(&mut self) -> Result<f64, WireError> {
        self.fixed64().map(f64::from_bits)
    }

    /// Reads a key: the field number and the wire type.
    #[inline]
    pub fn key(&mut self) -> Result<(u32, WireType), WireError> {
        let tag = self.varint()?;
        let field = tag >> 3;
        if field == 0 || field > MAX_FIELD {
            return Err(WireError::InvalidFieldNumber(field));
        }
        Ok((field as u32, WireType::from_u8((tag & 7) as u8)?))
    }

    /// Reads a length-delimited payload.
    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.varint()?;
        let remaining = self.buf.len();
        match usize::try_from(len) {
            Ok(n) if n <= remaining => {
                let (head, rest) = self.buf.split_at(n);
                self.buf = rest;
                Ok(head)
            }
            _ => Err(WireError::LengthOutOfBounds { len, remaining }),
        }
    }

    /// Reads a length-delimited UTF-8 string.
    #[inline]
    pub fn str(&mut self) -> Result<&'a str, WireError> {
        let b = self.bytes()?;
        // Label names and most values are ASCII, which checks a word at a time.
        if b.is_ascii() {
            // SAFETY: ASCII bytes are valid UTF-8.
            return Ok(unsafe { std::str::from_utf8_unchecked(b) });
        }
        std::str::from_utf8(b).map_err(|_| WireError::InvalidUtf8)
    }

    /// Skips the value of a field with wire type `wt` (an unknown field).
    pub fn skip(&mut self, field: u32, wt: WireType) -> Result<(), WireError> {
        match wt {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self.fixed64().map(drop),
            WireType::Fixed32 => self.fixed32().map(drop),
            WireType::Len => self.bytes().map(drop),
            WireType::StartGroup | WireType::EndGroup => Err(WireError::Group { field }),
        }
    }

    /// Appends the values of a repeated varint field to `out`, accepting both the packed
    /// (`wt` = length-delimited) and the unpacked (`wt` = varint, one value) encodings.
    /// `map` turns each raw varint into the element (for example a zigzag decode).
    #[inline]
    pub fn repeated_varint<T>(
        &mut self,
        field: u32,
        wt: WireType,
        out: &mut Vec<T>,
        map: impl Fn(u64) -> T,
    ) -> Result<(), WireError> {
        match wt {
            WireType::Varint => out.push(map(self.varint()?)),
            WireType::Len => {
                let payload = self.bytes()?;
                out.reserve(count_varints(payload));
                let mut r = Reader::new(payload);
                while !r.is_empty() {
                    out.push(map(r.varint()?));
                }
            }
            got => return Err(wrong(field, WireType::Varint, got)),
        }
        Ok(())
    }

    /// Appends the values of a repeated `double` field to `out`, accepting both the
    /// packed and the unpacked (`wt` = fixed64, one value) encodings.
    #[inline]
    pub fn repeated_double(
        &mut self,
        field: u32,
        wt: WireType,
        out: &mut Vec<f64>,
    ) -> Result<(), WireError> {
        match wt {
            WireType::Fixed64 => out.push(self.double()?),
            WireType::Len => {
                let payload = self.bytes()?;
                if payload.len() % 8 != 0 {
                    return Err(WireError::PackedLength {
                        field,
                        len: payload.len(),
                        width: 8,
                    });
                }
                out.reserve(payload.len() / 8);
                let (chunks, _) = payload.as_chunks::<8>();
                out.extend(
                    chunks
                        .iter()
                        .map(|c| f64::from_bits(u64::from_le_bytes(*c))),
                );
            }
            got => return Err(wrong(field, WireType::Fixed64, got)),
        }
        Ok(())
    }
}

/// The error for a known field with a wire type its type cannot have.
#[inline]
pub fn wrong(field: u32, expected: WireType, got: WireType) -> WireError {
    WireError::WrongWireType {
        field,
        expected,
        got,
    }
}

/// Checks that a known field came with the wire type its declared type needs.
#[inline]
pub fn expect(field: u32, got: WireType, expected: WireType) -> Result<(), WireError> {
    if got == expected {
        Ok(())
    } else {
        Err(wrong(field, expected, got))
    }
}

/// Number of varints in a packed payload (bytes without the continuation bit); exact for
/// a well-formed payload, an upper bound otherwise.
#[inline]
pub fn count_varints(payload: &[u8]) -> usize {
    payload.iter().filter(|&&b| b < 0x80).count()
}

/// Counts how often each of `fields` occurs at a message's top level, without decoding
/// values. Used to size vectors before decoding; malformed input stops the count early
/// (the decoder then reports the error).
pub fn count_fields<const N: usize>(buf: &[u8], fields: [u32; N]) -> [usize; N] {
    let mut counts = [0; N];
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let Ok((field, wt)) = r.key() else { break };
        if r.skip(field, wt).is_err() {
            break;
        }
        if let Some(i) = fields.iter().position(|&f| f == field) {
            counts[i] += 1;
        }
    }
    counts
}

/// Bytes a varint of `v` takes.
#[inline]
pub fn varint_len(v: u64) -> usize {
    // ceil(significant bits / 7), with 0 taking one byte.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends a varint.
#[inline]
pub fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Appends a key.
#[inline]
pub fn put_key(buf: &mut Vec<u8>, field: u32, wt: WireType) {
    put_varint(buf, (u64::from(field) << 3) | u64::from(wt.as_u8()));
}

/// Appends a varint field, omitted when zero (the proto3 default).
#[inline]
pub fn put_varint_field(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        put_key(buf, field, WireType::Varint);
        put_varint(buf, v);
    }
}

/// Appends a double field, omitted when it is +0.0 (the proto3 default); every other bit
/// pattern, -0.0 and NaN payloads included, is written as is.
#[inline]
pub fn put_double_field(buf: &mut Vec<u8>, field: u32, v: f64) {
    if v.to_bits() != 0 {
        put_key(buf, field, WireType::Fixed64);
        buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }
}

/// Appends a length-delimited field (a string or bytes), omitted when empty.
#[inline]
pub fn put_bytes_field(buf: &mut Vec<u8>, field: u32, v: &[u8]) {
    if !v.is_empty() {
        put_key(buf, field, WireType::Len);
        put_varint(buf, v.len() as u64);
        buf.extend_from_slice(v);
    }
}

/// Appends an embedded message: the key, then the length and the bytes `body` writes.
/// The length is reserved as one byte and widened afterwards when the body is longer
/// than 127 bytes, so the message is written once and the output stays canonical.
#[inline]
pub fn put_message(buf: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    put_key(buf, field, WireType::Len);
    put_len_prefixed(buf, body);
}

/// Appends the length of what `body` writes, then those bytes (see [`put_message`]).
#[inline]
pub fn put_len_prefixed(buf: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let at = buf.len();
    buf.push(0);
    body(buf);
    let len = buf.len() - at - 1;
    if len < 0x80 {
        buf[at] = len as u8;
        return;
    }
    let width = varint_len(len as u64);
    let extra = width - 1;
    buf.resize(buf.len() + extra, 0);
    buf.copy_within(at + 1..at + 1 + len, at + width);
    let mut v = len as u64;
    for b in &mut buf[at..at + width] {
        *b = (v as u8) | 0x80;
        v >>= 7;
    }
    buf[at + width - 1] &= 0x7f;
}

/// Appends a packed repeated varint field (omitted when empty).
#[inline]
pub fn put_packed_varints(
    buf: &mut Vec<u8>,
    field: u32,
    values: impl Iterator<Item = u64> + Clone,
) {
    let len: usize = values.clone().map(varint_len).sum();
    if len == 0 {
        return;
    }
    put_key(buf, field, WireType::Len);
    put_varint(buf, len as u64);
    for v in values {
        put_varint(buf, v);
    }
}

/// Appends a packed repeated double field (omitted when empty).
#[inline]
pub fn put_packed_doubles(buf: &mut Vec<u8>, field: u32, values: &[f64]) {
    if values.is_empty() {
        return;
    }
    put_key(buf, field, WireType::Len);
    put_varint(buf, (values.len() * 8) as u64);
    buf.reserve(values.len() * 8);
    for v in values {
        buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: u64) -> Vec<u8> {
        let mut b = Vec::new();
        put_varint(&mut b, v);
        b
    }

    #[test]
    fn varints_round_trip_at_every_width() {
        for shift in 0..64 {
            for v in [1u64 << shift, (1u64 << shift) - 1, (1u64 << shift) + 1] {
                let b = enc(v);
                assert_eq!(b.len(), varint_len(v), "{v}");
                let mut r = Reader::new(&b);
                assert_eq!(r.varint(), Ok(v));
                assert!(r.is_empty());
            }
        }
        assert_eq!(enc(u64::MAX).len(), 10);
        assert_eq!(enc(300), vec![0xac, 0x02]);
    }

    #[test]
    fn strings_must_be_utf8() {
        let read = |b: &[u8]| {
            let mut buf = enc(b.len() as u64);
            buf.extend_from_slice(b);
            Reader::new(&buf).str().map(str::to_string)
        };
        assert_eq!(read(b""), Ok(String::new()));
        assert_eq!(
            read(b"node_cpu_seconds_total"),
            Ok("node_cpu_seconds_total".into())
        );
        assert_eq!(read("größe ☃".as_bytes()), Ok("größe ☃".into()));
        for bad in [
            &b"\xff"[..],
            b"abc\xc3",
            b"long ascii prefix then \xe2\x82",
            b"\xed\xa0\x80",
        ] {
            assert_eq!(read(bad), Err(WireError::InvalidUtf8), "{bad:?}");
        }
    }

    #[test]
    fn varint_errors() {
        assert_eq!(
            Reader::new(&[0x80, 0x80]).varint(),
            Err(WireError::Truncated)
        );
        assert_eq!(
            Reader::new(&[0xff; 11]).varint(),
            Err(WireError::VarintTooLong)
        );
        assert_eq!(Reader::new(&[]).varint(), Err(WireError::Truncated));
    }

    #[test]
    fn zigzag_matches_the_protobuf_table() {
        for (v, z) in [
            (0i64, 0u64),
            (-1, 1),
            (1, 2),
            (-2, 3),
            (2147483647, 4294967294),
        ] {
            assert_eq!(zigzag_encode64(v), z);
            assert_eq!(zigzag_decode64(z), v);
        }
        assert_eq!(zigzag_encode64(i64::MIN), u64::MAX);
        assert_eq!(zigzag_decode64(u64::MAX), i64::MIN);
        for v in [0i32, -1, 1, i32::MIN, i32::MAX] {
            assert_eq!(zigzag_decode32(zigzag_encode32(v)), v);
        }
        assert_eq!(zigzag_encode32(-2147483648), 4294967295);
    }

    #[test]
    fn keys_reject_field_zero_and_bad_wire_types() {
        assert_eq!(Reader::new(&[0x0a]).key(), Ok((1, WireType::Len)));
        assert_eq!(
            Reader::new(&[0x02]).key(),
            Err(WireError::InvalidFieldNumber(0))
        );
        assert_eq!(
            Reader::new(&[0x0e]).key(),
            Err(WireError::InvalidWireType(6))
        );
        assert_eq!(
            Reader::new(&[0x0f]).key(),
            Err(WireError::InvalidWireType(7))
        );
        // Field 2^29 is one too many.
        let mut b = Vec::new();
        put_varint(&mut b, (1u64 << 29) << 3);
        assert!(matches!(
            Reader::new(&b).key(),
            Err(WireError::InvalidFieldNumber(_))
        ));
    }

    #[test]
    fn skip_handles_every_wire_type_and_refuses_groups() {
        let data = [
            0x08, 0x96, 0x01, // field 1 varint 150
            0x11, 1, 2, 3, 4, 5, 6, 7, 8, // field 2 fixed64
            0x1a, 0x02, b'h', b'i', // field 3 bytes
            0x25, 1, 2, 3, 4, // field 4 fixed32
        ];
        let mut r = Reader::new(&data);
        for _ in 0..4 {
            let (f, wt) = r.key().unwrap();
            r.skip(f, wt).unwrap();
        }
        assert!(r.is_empty());
        let mut r = Reader::new(&[0x0b, 0x0c]);
        let (f, wt) = r.key().unwrap();
        assert_eq!(r.skip(f, wt), Err(WireError::Group { field: 1 }));
        let mut r = Reader::new(&[0x0c]);
        let (f, wt) = r.key().unwrap();
        assert_eq!(r.skip(f, wt), Err(WireError::Group { field: 1 }));
    }

    #[test]
    fn lengths_past_the_end_are_errors() {
        assert_eq!(
            Reader::new(&[0x05, 1, 2]).bytes(),
            Err(WireError::LengthOutOfBounds {
                len: 5,
                remaining: 2
            })
        );
        let mut huge = Vec::new();
        put_varint(&mut huge, u64::MAX);
        assert!(matches!(
            Reader::new(&huge).bytes(),
            Err(WireError::LengthOutOfBounds { .. })
        ));
        assert_eq!(
            Reader::new(&[0x02, 0xff, 0xfe]).str(),
            Err(WireError::InvalidUtf8)
        );
        assert_eq!(Reader::new(&[1, 2, 3]).fixed64(), Err(WireError::Truncated));
        assert_eq!(Reader::new(&[1, 2, 3]).fixed32(), Err(WireError::Truncated));
    }

    #[test]
    fn repeated_scalars_accept_packed_and_unpacked() {
        // sint64 field 9: packed [-1, 2, -3] then one unpacked 4.
        let mut b = Vec::new();
        put_packed_varints(
            &mut b,
            9,
            [-1i64, 2, -3].iter().map(|&v| zigzag_encode64(v)),
        );
        put_key(&mut b, 9, WireType::Varint);
        put_varint(&mut b, zigzag_encode64(4));
        let mut r = Reader::new(&b);
        let mut out = Vec::new();
        while !r.is_empty() {
            let (f, wt) = r.key().unwrap();
            assert_eq!(f, 9);
            r.repeated_varint(f, wt, &mut out, zigzag_decode64).unwrap();
        }
        assert_eq!(out, vec![-1, 2, -3, 4]);

        // double field 10: unpacked 1.5 then packed [2.5, NaN].
        let mut b = Vec::new();
        put_double_field(&mut b, 10, 1.5);
        put_packed_doubles(&mut b, 10, &[2.5, f64::NAN]);
        let mut r = Reader::new(&b);
        let mut out = Vec::new();
        while !r.is_empty() {
            let (f, wt) = r.key().unwrap();
            r.repeated_double(f, wt, &mut out).unwrap();
        }
        assert_eq!(out.len(), 3);
        assert_eq!((out[0], out[1]), (1.5, 2.5));
        assert_eq!(out[2].to_bits(), f64::NAN.to_bits());

        // A packed double payload of 7 bytes is malformed.
        let mut r = Reader::new(&[0x07, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            r.repeated_double(10, WireType::Len, &mut out),
            Err(WireError::PackedLength {
                field: 10,
                len: 7,
                width: 8
            })
        );
        // A repeated varint as fixed32 is the wrong wire type.
        let mut r = Reader::new(&[0, 0, 0, 0]);
        assert!(matches!(
            r.repeated_varint(9, WireType::Fixed32, &mut Vec::new(), |v| v),
            Err(WireError::WrongWireType { field: 9, .. })
        ));
    }

    #[test]
    fn nested_messages_get_canonical_lengths() {
        for n in [0usize, 1, 127, 128, 300, 16383, 16384, 70000] {
            let mut b = vec![0xaa];
            put_message(&mut b, 1, |b| b.extend(std::iter::repeat_n(7u8, n)));
            let mut r = Reader::new(&b[1..]);
            assert_eq!(r.key(), Ok((1, WireType::Len)));
            let body = r.bytes().unwrap();
            assert_eq!(body.len(), n);
            assert!(body.iter().all(|&x| x == 7));
            assert!(r.is_empty());
            assert_eq!(b.len(), 1 + 1 + varint_len(n as u64) + n);
        }
    }

    #[test]
    fn count_fields_counts_top_level_occurrences() {
        let mut b = Vec::new();
        put_bytes_field(&mut b, 1, b"a");
        put_varint_field(&mut b, 2, 5);
        put_bytes_field(&mut b, 1, b"bc");
        assert_eq!(count_fields(&b, [1, 2, 3]), [2, 1, 0]);
        assert_eq!(count_fields(&b[..b.len() - 1], [1]), [1]);
    }
}
