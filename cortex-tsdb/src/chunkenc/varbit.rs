//! Variable-width encodings inside a bit stream, shared by all chunk encodings:
//!
//! * `varbit_int` / `varbit_uint`: a unary bucket prefix (`0`, `10`, `110`, ... up to eight
//!   ones) followed by 0, 3, 6, 9, 12, 18, 25, 56 or 64 value bits. Used by histogram
//!   chunks for timestamps, counts, bucket deltas and layout fields.
//! * `varbit_xor`: Gorilla-style XOR of a float with its predecessor, reusing the previous
//!   leading/trailing zero window when the new XOR fits in it. Used for XOR chunk values,
//!   histogram sums and float histogram fields.
//!
//! The bit-for-bit rules (bucket widths, range tests, the 31 clamp on leading zeros, 0
//! meaning 64 significant bits) are Prometheus' (`tsdb/chunkenc/varbit.go`, `xor.go`).

use super::ChunkError;
use super::bstream::{BitReader, BitWriter};

/// Whether `x` fits the signed `nbits`-bit bucket: `-(2^(nbits-1) - 1) <= x <= 2^(nbits-1)`.
///
/// The range is shifted by one against two's complement; readers undo it by treating
/// values above `2^(nbits-1)` as negative.
#[inline(always)]
pub(crate) fn bit_range(x: i64, nbits: u32) -> bool {
    let half = 1i64 << (nbits - 1);
    -(half - 1) <= x && x <= half
}

/// Interprets the `nbits` low bits of `bits` as a value written for a [`bit_range`] bucket.
#[inline(always)]
pub(crate) fn from_bit_range(bits: u64, nbits: u32) -> i64 {
    if bits > (1u64 << (nbits - 1)) {
        bits.wrapping_sub(1u64 << nbits) as i64
    } else {
        bits as i64
    }
}

/// Value widths of the varbit buckets, indexed by the number of leading ones in the prefix.
const VARBIT_WIDTHS: [u32; 9] = [0, 3, 6, 9, 12, 18, 25, 56, 64];

/// Writes `v` as `varbit_int`.
pub(crate) fn put_varbit_int(w: &mut BitWriter, v: i64) {
    if v == 0 {
        w.write_bit(false);
        return;
    }
    // Prefix of `ones` one bits, then a zero (none for the last bucket), then the value.
    for (ones, &width) in VARBIT_WIDTHS.iter().enumerate().skip(1) {
        let ones = ones as u32;
        if width == 64 || bit_range(v, width) {
            let prefix_len = if width == 64 { 8 } else { ones + 1 };
            let prefix = (1u64 << prefix_len) - if width == 64 { 1 } else { 2 };
            w.write_bits(prefix, prefix_len);
            w.write_bits(v as u64, width);
            return;
        }
    }
}

/// Reads a `varbit_int`; `None` when the stream ends inside it.
#[inline]
pub(crate) fn read_varbit_int(r: &mut BitReader<'_>) -> Option<i64> {
    let ones = r.read_ones(8)?;
    let width = VARBIT_WIDTHS[ones as usize];
    match width {
        0 => Some(0),
        64 => r.read_bits(64).map(|b| b as i64),
        _ => r.read_bits(width).map(|b| from_bit_range(b, width)),
    }
}

/// [`read_varbit_int`] decoding from one buffered word when it holds the whole value (all
/// buckets up to 25 value bits); the rest goes the general way.
#[inline(always)]
pub(crate) fn read_varbit_int_fast(r: &mut BitReader<'_>) -> Option<i64> {
    let (word, valid) = r.peek();
    let ones = (!word).leading_zeros().min(8);
    if ones < 7 {
        let width = VARBIT_WIDTHS[ones as usize];
        let total = ones + 1 + width;
        if total <= valid {
            r.consume(total);
            if width == 0 {
                return Some(0);
            }
            let bits = (word << (ones + 1)) >> (64 - width);
            return Some(from_bit_range(bits, width));
        }
    }
    read_varbit_int(r)
}

/// Writes `v` as `varbit_uint` (same buckets as `varbit_int`, unsigned ranges).
pub(crate) fn put_varbit_uint(w: &mut BitWriter, v: u64) {
    if v == 0 {
        w.write_bit(false);
        return;
    }
    let used = 64 - v.leading_zeros();
    for (ones, &width) in VARBIT_WIDTHS.iter().enumerate().skip(1) {
        let ones = ones as u32;
        if used <= width {
            let prefix_len = if width == 64 { 8 } else { ones + 1 };
            let prefix = (1u64 << prefix_len) - if width == 64 { 1 } else { 2 };
            w.write_bits(prefix, prefix_len);
            w.write_bits(v, width);
            return;
        }
    }
}

/// Reads a `varbit_uint`; `None` when the stream ends inside it.
#[inline]
pub(crate) fn read_varbit_uint(r: &mut BitReader<'_>) -> Option<u64> {
    let ones = r.read_ones(8)?;
    let width = VARBIT_WIDTHS[ones as usize];
    if width == 0 {
        Some(0)
    } else {
        r.read_bits(width)
    }
}

/// The leading/trailing zero window of an XOR-encoded float series. `leading == 0xff`
/// marks "no window yet" on the writing side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct XorWindow {
    pub(crate) leading: u8,
    pub(crate) trailing: u8,
}

impl Default for XorWindow {
    fn default() -> Self {
        XorWindow::UNSET
    }
}

impl XorWindow {
    /// The initial state: no window, so the first non-zero XOR writes one (and a reader
    /// meeting a window reuse first takes all 64 bits).
    pub(crate) const UNSET: XorWindow = XorWindow {
        leading: 0xff,
        trailing: 0,
    };
}

/// Writes `new` as the XOR against `prev`.
#[inline]
pub(crate) fn xor_write(w: &mut BitWriter, new: f64, prev: f64, win: &mut XorWindow) {
    xor_write_after(w, 0, 0, new.to_bits() ^ prev.to_bits(), win);
}

/// Writes a `prefix_bits` (at most 24) long prefix, given left-aligned in `prefix` (lower
/// bits zero), then a value whose XOR against the previous one is `delta`, merging the two
/// into as few writes as possible.
#[inline(always)]
pub(crate) fn xor_write_after(
    w: &mut BitWriter,
    prefix: u64,
    prefix_bits: u32,
    delta: u64,
    win: &mut XorWindow,
) {
    debug_assert!(prefix_bits <= 24 && prefix.checked_shl(prefix_bits).unwrap_or(0) == 0);
    if delta == 0 {
        // `0`.
        w.write_aligned_ending(prefix, prefix_bits + 1, 1);
        return;
    }
    let leading = delta.leading_zeros().min(31);
    let trailing = delta.trailing_zeros();
    let (win_leading, win_trailing) = (u32::from(win.leading), u32::from(win.trailing));
    // An unset window has `leading` 0xff, which no XOR reaches.
    if (leading >= win_leading) & (trailing >= win_trailing) {
        // `10` then the significant bits inside the previous window: `delta` shifted left
        // by the window's leading zeros starts with them and has only zeros after them.
        let sig = 64 - win_leading - win_trailing;
        let total = prefix_bits + 2 + sig;
        let control = prefix | ((0b10 << 62) >> prefix_bits);
        let value = delta << win_leading;
        if total <= 64 {
            w.write_aligned_ending(control | (value >> (prefix_bits + 2)), total, sig);
        } else {
            w.write_aligned(control, prefix_bits + 2);
            w.write_aligned_ending(value, sig, sig);
        }
        return;
    }
    xor_write_window(w, prefix, prefix_bits, delta, leading, trailing, win);
}

/// [`xor_write_after`] for a value that opens a new window.
#[inline(never)]
fn xor_write_window(
    w: &mut BitWriter,
    prefix: u64,
    prefix_bits: u32,
    delta: u64,
    leading: u32,
    trailing: u32,
    win: &mut XorWindow,
) {
    *win = XorWindow {
        leading: leading as u8,
        trailing: trailing as u8,
    };
    // `11`, 5 bits of leading zeros, 6 bits of significant bit count (64 stored as 0).
    let sig = 64 - leading - trailing;
    let head = (0b11 << 11) | (u64::from(leading) << 6) | u64::from(sig & 63);
    let control = prefix | ((head << 51) >> prefix_bits);
    let value = delta << leading;
    let total = prefix_bits + 13 + sig;
    if total <= 64 {
        w.write_aligned_ending(control | (value >> (prefix_bits + 13)), total, sig);
    } else {
        w.write_aligned(control, prefix_bits + 13);
        w.write_aligned_ending(value, sig, sig);
    }
}

/// Why an XOR value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XorReadError {
    /// The stream ended.
    Eof,
    /// The window's leading zeros plus significant bits exceed 64.
    BadWindow,
}

impl XorReadError {
    /// The chunk error: `eof` for the end of data, else an invalid window.
    pub(crate) fn into_chunk_error(self, eof: ChunkError) -> ChunkError {
        match self {
            XorReadError::Eof => eof,
            XorReadError::BadWindow => ChunkError::Invalid("XOR value window wider than 64 bits"),
        }
    }
}

/// Reads an XOR-encoded float into `value`, updating the window. A window still
/// [`XorWindow::UNSET`] is read as leading and trailing 0 (64 significant bits), as
/// Prometheus' readers start.
#[inline]
pub(crate) fn xor_read(
    r: &mut BitReader<'_>,
    value: &mut f64,
    win: &mut XorWindow,
) -> Result<(), XorReadError> {
    let ones = r.read_ones(2).ok_or(XorReadError::Eof)?;
    match ones {
        0 => Ok(()),
        1 => {
            let (leading, trailing) = if win.leading == 0xff {
                (0, 0)
            } else {
                (u32::from(win.leading), u32::from(win.trailing))
            };
            let sig = 64 - leading - trailing;
            let bits = r.read_bits(sig).ok_or(XorReadError::Eof)?;
            *value = f64::from_bits(value.to_bits() ^ (bits << trailing));
            Ok(())
        }
        _ => {
            let head = r.read_bits(11).ok_or(XorReadError::Eof)?;
            let leading = (head >> 6) as u32;
            let sig = match (head & 63) as u32 {
                0 => 64,
                s => s,
            };
            if leading + sig > 64 {
                return Err(XorReadError::BadWindow);
            }
            let trailing = 64 - leading - sig;
            *win = XorWindow {
                leading: leading as u8,
                trailing: trailing as u8,
            };
            let bits = r.read_bits(sig).ok_or(XorReadError::Eof)?;
            *value = f64::from_bits(value.to_bits() ^ (bits.checked_shl(trailing).unwrap_or(0)));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn int_bits(v: i64) -> usize {
        let mut w = BitWriter::default();
        put_varbit_int(&mut w, v);
        let mut r = BitReader::new(w.bytes());
        assert_eq!(read_varbit_int(&mut r), Some(v));
        (w.bytes().len() * 8) - r.remaining_bits() as usize
    }

    #[test]
    fn varbit_int_bucket_edges_take_prometheus_widths() {
        let cases = [
            (0i64, 1usize),
            (4, 5),
            (-3, 5),
            (5, 9),
            (-4, 9),
            (32, 9),
            (-31, 9),
            (33, 13),
            (256, 13),
            (-255, 13),
            (2048, 17),
            (-2047, 17),
            (2049, 24),
            (131072, 24),
            (131073, 32),
            (16777216, 32),
            (-16777215, 32),
            (16777217, 64),
            (1 << 55, 64),
            ((1 << 55) + 1, 72),
            (i64::MIN, 72),
            (i64::MAX, 72),
        ];
        for (v, bits) in cases {
            assert_eq!(int_bits(v), bits, "value {v}");
        }
    }

    #[test]
    fn varbit_int_bytes_match_go() {
        // putVarbitInt(5): 110 000101 -> 1100 0010 1(000 0000)
        let mut w = BitWriter::default();
        put_varbit_int(&mut w, 5);
        assert_eq!(w.bytes(), &[0b1100_0010, 0b1000_0000]);
        // putVarbitInt(-1): 10 111 -> 1011 1(000)
        let mut w = BitWriter::default();
        put_varbit_int(&mut w, -1);
        assert_eq!(w.bytes(), &[0b1011_1000]);
    }

    #[test]
    fn varbit_uint_bucket_edges() {
        for (v, bits) in [
            (0u64, 1usize),
            (7, 5),
            (8, 9),
            (63, 9),
            (511, 13),
            (4095, 17),
        ] {
            let mut w = BitWriter::default();
            put_varbit_uint(&mut w, v);
            let mut r = BitReader::new(w.bytes());
            assert_eq!(read_varbit_uint(&mut r), Some(v));
            assert_eq!(
                w.bytes().len() * 8 - r.remaining_bits() as usize,
                bits,
                "{v}"
            );
        }
        for v in [
            262143u64,
            262144,
            33554431,
            33554432,
            (1 << 56) - 1,
            1 << 56,
            u64::MAX,
        ] {
            let mut w = BitWriter::default();
            put_varbit_uint(&mut w, v);
            let mut r = BitReader::new(w.bytes());
            assert_eq!(read_varbit_uint(&mut r), Some(v));
        }
    }

    #[test]
    fn xor_window_is_reused_when_the_new_xor_fits() {
        let mut w = BitWriter::default();
        let mut win = XorWindow::UNSET;
        xor_write(&mut w, 1.5, 1.0, &mut win);
        let first = w.bytes().len();
        let after_first = win;
        xor_write(&mut w, 1.0, 1.5, &mut win);
        assert_eq!(win, after_first, "same XOR reuses the window");
        // 2 control bits + significant bits.
        let sig = 64 - after_first.leading as usize - after_first.trailing as usize;
        assert!(w.bytes().len() <= first + (2 + sig).div_ceil(8) + 1);
    }

    #[test]
    fn xor_read_rejects_impossible_window() {
        // 11, leading 31, sig 40 -> 71 bits.
        let mut w = BitWriter::default();
        w.write_bits(0b11, 2);
        w.write_bits(31, 5);
        w.write_bits(40, 6);
        w.write_bits(0, 64);
        let mut r = BitReader::new(w.bytes());
        let mut v = 0.0;
        let mut win = XorWindow::UNSET;
        assert_eq!(
            xor_read(&mut r, &mut v, &mut win),
            Err(XorReadError::BadWindow)
        );
    }

    proptest! {
        // A fixed seed keeps the run deterministic.
        #![proptest_config(ProptestConfig {
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x00C0_FFEE),
            ..ProptestConfig::default()
        })]

        #[test]
        fn varbit_ints_round_trip(vals in proptest::collection::vec(any::<i64>(), 0..50),
                                  small in proptest::collection::vec(-3000i64..3000, 0..50)) {
            let mut w = BitWriter::default();
            for v in vals.iter().chain(&small) {
                put_varbit_int(&mut w, *v);
            }
            let mut r = BitReader::new(w.bytes());
            for v in vals.iter().chain(&small) {
                prop_assert_eq!(read_varbit_int(&mut r), Some(*v));
            }
            let mut r = BitReader::new(w.bytes());
            for v in vals.iter().chain(&small) {
                prop_assert_eq!(read_varbit_int_fast(&mut r), Some(*v));
            }
            // Cut short, both readers fail at the same value.
            let cut = &w.bytes()[..w.bytes().len() / 2];
            let (mut a, mut b) = (BitReader::new(cut), BitReader::new(cut));
            for _ in vals.iter().chain(&small) {
                prop_assert_eq!(read_varbit_int(&mut a), read_varbit_int_fast(&mut b));
            }
        }

        #[test]
        fn varbit_uints_round_trip(vals in proptest::collection::vec(any::<u64>(), 0..50)) {
            let mut w = BitWriter::default();
            for v in &vals {
                put_varbit_uint(&mut w, *v);
            }
            let mut r = BitReader::new(w.bytes());
            for v in &vals {
                prop_assert_eq!(read_varbit_uint(&mut r), Some(*v));
            }
        }

        #[test]
        fn xor_values_round_trip(bits in proptest::collection::vec(any::<u64>(), 1..60)) {
            let mut w = BitWriter::default();
            let mut win = XorWindow::UNSET;
            let mut prev = 0.0f64;
            for b in &bits {
                let v = f64::from_bits(*b);
                xor_write(&mut w, v, prev, &mut win);
                prev = v;
            }
            let mut r = BitReader::new(w.bytes());
            let mut rwin = XorWindow::UNSET;
            let mut cur = 0.0f64;
            for b in &bits {
                prop_assert_eq!(xor_read(&mut r, &mut cur, &mut rwin), Ok(()));
                prop_assert_eq!(cur.to_bits(), *b);
            }
        }
    }
}
