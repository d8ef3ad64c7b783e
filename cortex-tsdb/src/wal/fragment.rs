//! The 7-byte fragment header: type byte with compression flags, big-endian length and
//! big-endian CRC-32C of the fragment's data.
//!
//! ```text
//! byte 0      bits 7..5 reserved (0) | bit 4 zstd | bit 3 snappy | bits 2..0 fragment type
//! bytes 1..3  data length, BE16
//! bytes 3..7  CRC-32C (Castagnoli) of the data, BE32
//! ```
//! Fragment types: 0 is page padding (not a header), 1 full record, 2 first, 3 middle,
//! 4 last fragment of a record. This module encodes and parses headers only; where they
//! may appear is the reader's and writer's business.

use super::Compression;

/// Size of a fragment header.
pub const HEADER_SIZE: usize = 7;

const TYPE_MASK: u8 = 0b0000_0111;
const SNAPPY_FLAG: u8 = 1 << 3;
const ZSTD_FLAG: u8 = 1 << 4;
const RESERVED_MASK: u8 = 0b1110_0000;

/// Which part of a record a fragment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FragmentType {
    /// A whole record.
    Full = 1,
    /// The first part of a record that continues in the next page.
    First = 2,
    /// A part that neither starts nor ends a record.
    Middle = 3,
    /// The final part of a record.
    Last = 4,
}

impl FragmentType {
    /// The name used in error messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            FragmentType::Full => "full",
            FragmentType::First => "first",
            FragmentType::Middle => "middle",
            FragmentType::Last => "last",
        }
    }
}

/// A parsed fragment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) kind: FragmentType,
    pub(crate) compression: Compression,
    pub(crate) len: usize,
    pub(crate) crc: u32,
}

/// Writes the header of a fragment holding `data` into `out[..HEADER_SIZE]`.
pub(crate) fn write_header(
    out: &mut [u8],
    kind: FragmentType,
    compression: Compression,
    data: &[u8],
) {
    let flags = match compression {
        Compression::None => 0,
        Compression::Snappy => SNAPPY_FLAG,
        Compression::Zstd => ZSTD_FLAG,
    };
    out[0] = kind as u8 | flags;
    out[1..3].copy_from_slice(&(data.len() as u16).to_be_bytes());
    out[3..7].copy_from_slice(&crate::encoding::crc32c(data).to_be_bytes());
}

/// True when `t` is the type byte of a fragment that [`parse_header`] accepts.
pub(crate) fn is_header_type(t: u8) -> bool {
    matches!(t & TYPE_MASK, 1..=4)
        && t & RESERVED_MASK == 0
        && t & (SNAPPY_FLAG | ZSTD_FLAG) != SNAPPY_FLAG | ZSTD_FLAG
}

/// Why a header does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// Fragment type bits 5, 6 or 7.
    InvalidType(u8),
    /// One of the three high bits is set.
    ReservedBits(u8),
    /// Snappy and zstd at once.
    BothCompressions(u8),
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            HeaderError::InvalidType(t) => {
                write!(
                    f,
                    "invalid fragment type {} (type byte {t:#04x})",
                    t & TYPE_MASK
                )
            }
            HeaderError::ReservedBits(t) => {
                write!(f, "reserved bits set in fragment type byte {t:#04x}")
            }
            HeaderError::BothCompressions(t) => write!(
                f,
                "both snappy and zstd flags set in fragment type byte {t:#04x}"
            ),
        }
    }
}

/// Parses a header whose type bits are not 0 (padding). Fails on fragment types 5..7,
/// reserved bits and both compression flags at once.
pub(crate) fn parse_header(b: [u8; HEADER_SIZE]) -> Result<Header, HeaderError> {
    let t = b[0];
    let kind = match t & TYPE_MASK {
        1 => FragmentType::Full,
        2 => FragmentType::First,
        3 => FragmentType::Middle,
        4 => FragmentType::Last,
        _ => return Err(HeaderError::InvalidType(t)),
    };
    if t & RESERVED_MASK != 0 {
        return Err(HeaderError::ReservedBits(t));
    }
    let compression = match (t & SNAPPY_FLAG != 0, t & ZSTD_FLAG != 0) {
        (false, false) => Compression::None,
        (true, false) => Compression::Snappy,
        (false, true) => Compression::Zstd,
        (true, true) => return Err(HeaderError::BothCompressions(t)),
    };
    Ok(Header {
        kind,
        compression,
        len: usize::from(u16::from_be_bytes([b[1], b[2]])),
        crc: u32::from_be_bytes([b[3], b[4], b[5], b[6]]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_round_trips() {
        let mut b = [0u8; HEADER_SIZE];
        write_header(
            &mut b,
            FragmentType::Last,
            Compression::Snappy,
            b"123456789",
        );
        assert_eq!(b, [0x0c, 0, 9, 0xe3, 0x06, 0x92, 0x83]);
        let h = parse_header(b).unwrap();
        assert_eq!(
            h,
            Header {
                kind: FragmentType::Last,
                compression: Compression::Snappy,
                len: 9,
                crc: 0xe306_9283
            }
        );
        write_header(&mut b, FragmentType::Full, Compression::Zstd, b"");
        assert_eq!(b, [0x11, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn invalid_type_bytes_are_rejected() {
        for t in [0u8, 5, 6, 7, 0x21, 0x41, 0x81, 0x19] {
            assert!(parse_header([t, 0, 0, 0, 0, 0, 0]).is_err(), "{t:#x}");
        }
        for t in 0..=255u8 {
            assert_eq!(
                is_header_type(t),
                parse_header([t, 0, 0, 0, 0, 0, 0]).is_ok()
            );
        }
    }
}
