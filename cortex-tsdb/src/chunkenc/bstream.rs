//! Bit streams: the MSB-first bit writer every chunk appender writes through, and the
//! buffered bit reader every chunk iterator reads through.
//!
//! Bits are packed most significant bit first, as Prometheus' `bstream` does: the first bit
//! written is bit 7 of byte 0. The writer appends straight into the chunk's byte vector, so
//! the bytes are complete (last byte zero-padded) after every write. The reader keeps up to
//! 64 bits in a left-aligned word and refills it eight bytes at a time; it never reads past
//! the slice and reports the end of data as `None`. Neither knows about sample encodings:
//! those live in `varbit.rs`, `xor.rs` and the histogram modules.

use super::ByteCompat;

/// Appends bits to a byte vector, most significant bit first.
///
/// The vector always holds at least [`SLACK`] zero bytes beyond the last written bit, so
/// every write of up to 64 bits is one unaligned 8-byte store at the current byte plus a
/// store of the byte after it (the bits that do not fit the first eight). Only the current
/// byte is read back, and that byte lies inside one earlier store, so the read is served
/// from the store buffer; an 8-byte read overlapping the previous write's stores at another
/// offset would wait for them to reach the cache, on every sample.
///
/// Writes follow the calls Prometheus' bit writer makes (`write_bit` for its `writeBit`,
/// `write_byte` for `writeByte`, `write_bits` for `writeBits`), because with
/// [`ByteCompat::V2`] the chunk bytes depend on them: Prometheus 2.x's writer, after a
/// whole-byte write that ends on a byte boundary, already holds the next (zero) byte, and a
/// chunk ending there carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BitWriter {
    /// The stream and its zeroed room ahead, allocated to exactly this length (a boxed
    /// slice rather than a `Vec`: the length is the capacity, so no third word is kept
    /// per open chunk).
    buf: Box<[u8]>,
    /// Bits written (including any header).
    nbits: u64,
    compat: ByteCompat,
    /// Width of Prometheus' last write call (1 for `writeBit`, 8 for `writeByte`, n for
    /// `writeBits`, 0 for none): after a multiple of 8 that ends byte aligned, Prometheus
    /// 2.x holds a spare zero byte.
    last_call: u32,
}

/// Zero bytes kept after the last written byte.
const SLACK: usize = 9;

/// Bytes a new stream starts with: room for the header and the first ten or so samples of
/// a typical series, after which appenders that know their sample count size the buffer
/// from the observed bytes per sample ([`BitWriter::reserve_for`]).
const INITIAL_CAPACITY: usize = 96;

impl Default for BitWriter {
    fn default() -> Self {
        BitWriter::with_header(0, ByteCompat::default())
    }
}

impl BitWriter {
    /// A writer whose stream starts with `header_len` zero bytes (the chunk header).
    pub(crate) fn with_header(header_len: usize, compat: ByteCompat) -> BitWriter {
        let buf = vec![0; INITIAL_CAPACITY.max(header_len + SLACK)].into_boxed_slice();
        BitWriter {
            buf,
            nbits: header_len as u64 * 8,
            compat,
            last_call: 0,
        }
    }

    /// A writer over stored chunk bytes of which the first `used_bits` are meaningful:
    /// later bytes and padding bits are dropped, so writing continues right after them.
    /// A single zero byte after a byte-aligned end is taken for Prometheus 2.x's spare byte.
    pub(crate) fn resume(mut buf: Vec<u8>, used_bits: u64, compat: ByteCompat) -> BitWriter {
        let len = (used_bits.div_ceil(8) as usize).min(buf.len());
        let spare = used_bits.is_multiple_of(8) && buf.len() == len + 1 && buf.last() == Some(&0);
        buf.truncate(len);
        let used_bits = used_bits.min(len as u64 * 8);
        let free = (len as u64 * 8 - used_bits) as u32;
        if let Some(last) = buf.last_mut() {
            *last &= !((1u16 << free) - 1) as u8;
        }
        buf.resize(len + SLACK, 0);
        BitWriter {
            buf: buf.into_boxed_slice(),
            nbits: used_bits,
            compat,
            last_call: if spare { 8 } else { 0 },
        }
    }

    /// Which Prometheus generation's bytes this writer produces.
    pub(crate) fn compat(&self) -> ByteCompat {
        self.compat
    }

    /// Switches the byte layout (see [`ByteCompat`]).
    pub(crate) fn set_compat(&mut self, compat: ByteCompat) {
        self.compat = compat;
    }

    /// Length of the chunk bytes: the written bits rounded up to whole bytes, plus
    /// Prometheus 2.x's spare byte when it would be there.
    #[inline]
    fn len(&self) -> usize {
        let spare = self.compat == ByteCompat::V2
            && self.last_call != 0
            && self.last_call.is_multiple_of(8)
            && self.nbits.is_multiple_of(8);
        self.nbits.div_ceil(8) as usize + usize::from(spare)
    }

    /// The bytes written so far (including any header); the last byte is zero-padded.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len()).unwrap_or(&self.buf)
    }

    /// The first `N` bytes (the chunk header), for patching in place.
    #[inline]
    pub(crate) fn header_mut<const N: usize>(&mut self) -> Option<&mut [u8; N]> {
        self.buf.first_chunk_mut::<N>()
    }

    /// Bytes of stream written so far, counting a partly written last byte.
    #[inline]
    pub(crate) fn used_bytes(&self) -> usize {
        self.nbits.div_ceil(8) as usize
    }

    /// True when `bytes` more bytes cannot be written without growing the buffer.
    #[inline]
    pub(crate) fn needs_room(&self, bytes: usize) -> bool {
        (self.nbits / 8) as usize + SLACK + bytes > self.buf.len()
    }

    /// Grows the buffer to `total` bytes of stream (plus the slack), or to what `bytes`
    /// more bytes need if that is more.
    #[cold]
    pub(crate) fn reserve_for(&mut self, bytes: usize, total: usize) {
        let need = (self.nbits / 8) as usize + SLACK + bytes;
        if need > self.buf.len() || total + SLACK > self.buf.len() {
            self.grow_exact(need.max(total + SLACK));
        }
    }

    #[cold]
    #[inline(never)]
    fn grow_exact(&mut self, new_len: usize) {
        let mut buf = std::mem::take(&mut self.buf).into_vec();
        buf.reserve_exact(new_len - buf.len());
        buf.resize(new_len, 0);
        self.buf = buf.into_boxed_slice();
    }

    /// Bytes allocated for the stream.
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Gives up the bytes.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        let len = self.len();
        let mut buf = self.buf.into_vec();
        buf.truncate(len);
        buf
    }

    /// Writes one bit (Prometheus' `writeBit`).
    #[inline]
    pub(crate) fn write_bit(&mut self, bit: bool) {
        self.write_word(u64::from(bit), 1);
        self.last_call = 1;
    }

    /// Writes a whole byte, not necessarily byte aligned (Prometheus' `writeByte`).
    #[inline]
    pub(crate) fn write_byte(&mut self, byte: u8) {
        self.write_word(u64::from(byte), 8);
        self.last_call = 8;
    }

    /// Writes the `n` (0..=64) low bits of `v`, most significant first (Prometheus'
    /// `writeBits`). Higher bits of `v` are ignored.
    #[inline(always)]
    pub(crate) fn write_bits(&mut self, v: u64, n: u32) {
        self.write_bits_ending(v, n, n);
    }

    /// Writes the `n` low bits of `v` that Prometheus writes with several calls, the last
    /// of which writes `last` bits (1 standing for a `writeBit`).
    #[inline(always)]
    pub(crate) fn write_bits_ending(&mut self, v: u64, n: u32, last: u32) {
        debug_assert!(n <= 64);
        if n == 0 {
            return;
        }
        self.write_word(v, n);
        self.last_call = last;
    }

    /// Writes the top `n` (1..=64) bits of `aligned`, whose other bits are zero, that
    /// Prometheus writes with several calls, the last of which writes `last` bits.
    #[inline(always)]
    pub(crate) fn write_aligned_ending(&mut self, aligned: u64, n: u32, last: u32) {
        self.write_aligned(aligned, n);
        self.last_call = last;
    }

    /// Writes the `n` (1..=64) low bits of `v`.
    #[inline(always)]
    fn write_word(&mut self, v: u64, n: u32) {
        debug_assert!((1..=64).contains(&n));
        self.write_aligned(v << (64 - n), n);
    }

    /// Writes the top `n` (1..=64) bits of `aligned`, whose other bits are zero.
    #[inline(always)]
    pub(crate) fn write_aligned(&mut self, aligned: u64, n: u32) {
        debug_assert!((1..=64).contains(&n) && aligned.checked_shl(n).unwrap_or(0) == 0);
        let byte = (self.nbits >> 3) as usize;
        let off = (self.nbits & 7) as u32;
        // Move the bits behind the `off` bits already used in the current byte; the bytes
        // after it are zero. The last `off` bits (if they do not fit) go to the ninth byte.
        let spill = (((aligned & 0xff) as u32) << (8 - off)) as u8;
        match self.buf.get_mut(byte..byte + SLACK) {
            Some(dst) => store(dst, aligned >> off, spill),
            None => self.grow_and_store(byte, aligned >> off, spill),
        }
        self.nbits += u64::from(n);
    }

    #[cold]
    #[inline(never)]
    fn grow_and_store(&mut self, byte: usize, bits: u64, spill: u8) {
        let want = (byte + SLACK).max(self.buf.len() * 2);
        self.grow_exact(want);
        if let Some(dst) = self.buf.get_mut(byte..byte + SLACK) {
            store(dst, bits, spill);
        }
    }
}

/// Stores the current byte's used bits ORed with `bits` in the first eight bytes of `dst`
/// (nine bytes), and `spill` in the ninth.
#[inline(always)]
fn store(dst: &mut [u8], bits: u64, spill: u8) {
    if let Some((head, tail)) = dst.split_first_chunk_mut::<8>() {
        let word = (u64::from(head[0]) << 56) | bits;
        *head = word.to_be_bytes();
        if let Some(last) = tail.first_mut() {
            *last = spill;
        }
    }
}

/// Reads bits MSB first from a byte slice.
///
/// `bits` holds the next bits of the stream left-aligned; its top `valid` bits are
/// guaranteed to be stream bits not yet consumed. Bits below those may already hold
/// (correct) bits of the byte at `pos`; refilling ORs the same values over them.
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte of `data` not yet fully loaded into `bits`.
    pos: usize,
    bits: u64,
    valid: u32,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `data`.
    pub(crate) fn new(data: &'a [u8]) -> BitReader<'a> {
        BitReader {
            data,
            pos: 0,
            bits: 0,
            valid: 0,
        }
    }

    /// Bits left in the stream, including padding bits of the last byte.
    #[inline]
    pub(crate) fn remaining_bits(&self) -> u64 {
        u64::from(self.valid) + (self.data.len() - self.pos) as u64 * 8
    }

    /// Bits consumed since the start of the stream.
    pub(crate) fn consumed_bits(&self) -> u64 {
        self.pos as u64 * 8 - u64::from(self.valid)
    }

    /// Loads bytes until at least 56 bits are valid or the data is exhausted.
    #[inline]
    pub(crate) fn refill(&mut self) {
        if self.valid > 56 {
            return;
        }
        if let Some(word) = self.data.get(self.pos..).and_then(|s| s.first_chunk::<8>()) {
            let w = u64::from_be_bytes(*word);
            self.bits |= w >> self.valid;
            self.pos += ((63 - self.valid) >> 3) as usize;
            self.valid |= 56;
        } else if self.pos < self.data.len() {
            self.refill_tail();
        }
    }

    /// Byte-wise refill for the last few bytes of the stream.
    #[inline(never)]
    fn refill_tail(&mut self) {
        while self.valid <= 56 {
            let Some(&b) = self.data.get(self.pos) else {
                break;
            };
            self.bits |= u64::from(b) << (56 - self.valid);
            self.pos += 1;
            self.valid += 8;
        }
    }

    /// The next `n` (0..=64) bits as the low bits of a `u64`, or `None` if the stream
    /// ends first.
    #[inline]
    pub(crate) fn read_bits(&mut self, n: u32) -> Option<u64> {
        if n <= self.valid {
            Some(self.take(n))
        } else {
            self.read_bits_refill(n)
        }
    }

    #[inline(never)]
    fn read_bits_refill(&mut self, n: u32) -> Option<u64> {
        if n > 56 {
            let hi = self.read_bits(n - 32)?;
            let lo = self.read_bits(32)?;
            return Some((hi << 32) | lo);
        }
        self.refill();
        if n > self.valid {
            return None;
        }
        Some(self.take(n))
    }

    /// Consumes `n <= valid` bits.
    #[inline(always)]
    fn take(&mut self, n: u32) -> u64 {
        debug_assert!(n <= self.valid);
        let v = self.bits.checked_shr(64 - n).unwrap_or(0);
        self.bits = self.bits.checked_shl(n).unwrap_or(0);
        self.valid -= n;
        v
    }

    /// Refills and returns the buffered bits (left-aligned) and how many of them are
    /// stream bits; at least 56 unless the data is about to end.
    #[inline(always)]
    pub(crate) fn peek(&mut self) -> (u64, u32) {
        if self.valid < 56 {
            self.refill();
        }
        (self.bits, self.valid)
    }

    /// Consumes `n` bits known to be buffered (`n <= valid`, as [`peek`](Self::peek) said).
    #[inline(always)]
    pub(crate) fn consume(&mut self, n: u32) {
        self.take(n);
    }

    /// The next bit, or `None` at the end of the stream.
    #[cfg(test)]
    #[inline]
    pub(crate) fn read_bit(&mut self) -> Option<bool> {
        if self.valid == 0 {
            self.refill();
            if self.valid == 0 {
                return None;
            }
        }
        let bit = self.bits >> 63 == 1;
        self.bits <<= 1;
        self.valid -= 1;
        Some(bit)
    }

    /// The next 8 bits.
    #[inline]
    pub(crate) fn read_byte(&mut self) -> Option<u8> {
        self.read_bits(8).map(|v| v as u8)
    }

    /// Reads a unary prefix of up to `max` (1..=8) one bits: consumes the ones and the
    /// terminating zero (no zero follows when `max` ones were read). Returns the number of
    /// ones, or `None` if the stream ends inside the prefix.
    #[inline]
    pub(crate) fn read_ones(&mut self, max: u32) -> Option<u32> {
        debug_assert!((1..=8).contains(&max));
        if self.valid < max {
            self.refill();
        }
        let ones = (!self.bits).leading_zeros().min(max);
        let used = if ones < max { ones + 1 } else { max };
        if used > self.valid {
            return None;
        }
        self.take(used);
        Some(ones)
    }

    /// Reads an unsigned LEB128 varint (Go's `binary.Uvarint`), at most 10 bytes, from the
    /// bit stream. `Err(true)` means the stream ended, `Err(false)` that the varint
    /// overflows 64 bits.
    #[cfg(test)]
    pub(crate) fn read_uvarint(&mut self) -> Result<u64, bool> {
        let mut x: u64 = 0;
        let mut shift = 0u32;
        for i in 0..10 {
            let b = self.read_byte().ok_or(true)?;
            if b < 0x80 {
                if i == 9 && b > 1 {
                    return Err(false);
                }
                return Ok(x | (u64::from(b) << shift));
            }
            x |= u64::from(b & 0x7f) << shift;
            shift += 7;
        }
        Err(false)
    }

    /// Reads a zig-zag signed varint (Go's `binary.Varint`).
    #[cfg(test)]
    pub(crate) fn read_varint(&mut self) -> Result<i64, bool> {
        let ux = self.read_uvarint()?;
        let x = (ux >> 1) as i64;
        Ok(if ux & 1 != 0 { !x } else { x })
    }
}

/// Appends `v` as an unsigned LEB128 varint (Go's `binary.PutUvarint`) to `w`.
pub(crate) fn write_uvarint(w: &mut BitWriter, mut v: u64) {
    while v >= 0x80 {
        w.write_byte(v as u8 | 0x80);
        v >>= 7;
    }
    w.write_byte(v as u8);
}

/// Appends `v` as a zig-zag signed varint (Go's `binary.PutVarint`) to `w`.
pub(crate) fn write_varint(w: &mut BitWriter, v: i64) {
    let ux = ((v as u64) << 1) ^ ((v >> 63) as u64);
    write_uvarint(w, ux);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_packed_msb_first() {
        let mut w = BitWriter::default();
        w.write_bit(true);
        w.write_bits(0b01, 2);
        w.write_bits(0xABC, 12);
        w.write_byte(0xFF);
        // 1 01 1010_1011_1100 1111_1111 -> 1011 0101 0111 1001 1111 111(0)
        assert_eq!(w.bytes(), &[0b1011_0101, 0b0111_1001, 0b1111_1110]);
    }

    #[test]
    fn writer_ignores_bits_above_n() {
        let mut w = BitWriter::default();
        w.write_bits(u64::MAX, 3);
        w.write_bits(0, 5);
        assert_eq!(w.bytes(), &[0b1110_0000]);
    }

    #[test]
    fn reader_returns_what_writer_wrote_at_every_alignment() {
        let widths = [1u32, 7, 64, 3, 56, 57, 8, 13, 64, 1, 63, 2, 0, 33];
        let mut w = BitWriter::default();
        let mut expected = Vec::new();
        for (i, &n) in widths.iter().cycle().take(200).enumerate() {
            let v = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let v = if n == 64 { v } else { v & ((1u64 << n) - 1) };
            w.write_bits(v, n);
            expected.push((v, n));
        }
        let mut r = BitReader::new(w.bytes());
        for (v, n) in expected {
            assert_eq!(r.read_bits(n), Some(v), "width {n}");
        }
        // Only padding remains.
        assert!(r.remaining_bits() < 8);
    }

    #[test]
    fn reader_reports_end_of_data() {
        let mut r = BitReader::new(&[0xAA, 0x55]);
        assert_eq!(r.read_bits(12), Some(0xAA5));
        assert_eq!(r.read_bits(5), None);
        let mut r = BitReader::new(&[]);
        assert_eq!(r.read_bit(), None);
        assert_eq!(r.read_ones(4), None);
    }

    #[test]
    fn unary_prefix_stops_at_max_or_zero() {
        let mut r = BitReader::new(&[0b1101_1110, 0b1111_1111, 0b1000_0000]);
        assert_eq!(r.read_ones(4), Some(2)); // 110
        assert_eq!(r.read_ones(4), Some(4)); // 1111, no terminator at the maximum
        assert_eq!(r.read_ones(4), Some(0)); // 0
        assert_eq!(r.read_ones(8), Some(8)); // 1111_1111
        assert_eq!(r.read_ones(8), Some(1)); // 10
        assert_eq!(r.read_ones(8), Some(0)); // padding zeros
        // A prefix running into the end of data is None.
        let mut r = BitReader::new(&[0xFF]);
        assert_eq!(r.read_ones(4), Some(4));
        assert_eq!(r.read_ones(8), None);
    }

    #[test]
    fn varints_match_go_encoding() {
        for v in [0i64, 1, -1, 63, -64, 64, 1 << 40, i64::MIN, i64::MAX] {
            let mut w = BitWriter::default();
            w.write_bit(true); // misalign on purpose
            write_varint(&mut w, v);
            let mut r = BitReader::new(w.bytes());
            assert_eq!(r.read_bit(), Some(true));
            assert_eq!(r.read_varint(), Ok(v));
        }
        // Go: PutVarint(-1) = 0x01, PutVarint(64) = 0x80 0x01.
        let mut w = BitWriter::default();
        write_varint(&mut w, -1);
        write_varint(&mut w, 64);
        assert_eq!(w.bytes(), &[0x01, 0x80, 0x01]);
    }

    #[test]
    fn overlong_uvarint_is_rejected() {
        let mut r = BitReader::new(&[0xFF; 11]);
        assert_eq!(r.read_uvarint(), Err(false));
        let mut r = BitReader::new(&[0x80, 0x80]);
        assert_eq!(r.read_uvarint(), Err(true));
    }

    #[test]
    fn resumed_writer_continues_in_the_padding() {
        let mut w = BitWriter::resume(vec![0b1010_0111, 0xFF], 3, ByteCompat::V3);
        w.write_bits(0b11, 2);
        assert_eq!(w.bytes(), &[0b1011_1000]);
    }

    #[test]
    fn v2_keeps_a_spare_byte_after_aligned_byte_writes() {
        let mut v2 = BitWriter::with_header(0, ByteCompat::V2);
        let mut v3 = BitWriter::with_header(0, ByteCompat::V3);
        for w in [&mut v2, &mut v3] {
            w.write_byte(0xAB);
        }
        assert_eq!(v2.bytes(), &[0xAB, 0]);
        assert_eq!(v3.bytes(), &[0xAB]);
        // A bit written next goes into the spare byte.
        v2.write_bit(true);
        assert_eq!(v2.bytes(), &[0xAB, 0x80]);
        // Whole bytes written unaligned leave no spare; aligned multi-byte writes do.
        v2.write_bits(0xFF, 8);
        assert_eq!(v2.bytes().len(), 3);
        v2.write_bits(0x7F, 7);
        v2.write_bits(0x1234, 16);
        assert_eq!(v2.bytes().len(), 6);
        // Several calls merged into one: only the last call's width counts.
        v2.write_bits_ending(0xFFFF, 16, 1);
        assert_eq!(v2.bytes().len(), 7);
        // A resumed V2 writer keeps a stored spare byte until it writes again.
        let stored = v2.clone().into_bytes();
        let mut stored_spare = stored.clone();
        stored_spare.push(0);
        let r = BitWriter::resume(
            stored_spare.clone(),
            stored.len() as u64 * 8,
            ByteCompat::V2,
        );
        assert_eq!(r.bytes(), &stored_spare[..]);
    }
}
