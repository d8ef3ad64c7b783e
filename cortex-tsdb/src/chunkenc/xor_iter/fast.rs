//! The XOR decoder's fast loop: runs of samples of the common shapes, decoded with the bit
//! buffer, the timestamp and the value in registers.
//!
//! Almost every sample of a scraped series has a delta of deltas of 0 and a value that is
//! unchanged (`0`) or inside the current leading/trailing window (`10`). Small timestamp
//! jitter (a 14-bit delta of deltas) and new windows of up to 56 bits are decoded here
//! too; anything else is left to [`Decoder::decode_later`].
//!
//! Two loops do the common samples:
//! - Narrow windows (counters): the loop refills the buffer only when the largest sample
//!   might not fit in it (each refill loads at least 56 bits), with the load itself
//!   unchecked behind one bound per refill.
//! - Wide windows (gauges, whose samples nearly all need a refill): each sample is loaded
//!   on its own from its bit position, eight bytes shifted into place. The position moves
//!   by a constant on each predicted branch, so no sample waits for the one before; the
//!   loads are unchecked for as many samples as are certain to have eight bytes left.
//!   This loop also decodes jitter and new windows without leaving.
//!
//! [`Decoder::fast_samples`] comes in one build for each, picked per batch by the width of
//! the current window ([`WIDE_SIG`]), so that neither loop costs the other registers.

use super::{BATCH, Decoder};
use crate::chunkenc::varbit::from_bit_range;

/// Windows at least this wide are decoded from bit positions; narrower ones through the
/// buffer.
pub(super) const WIDE_SIG: u32 = 27;

/// A value window of at most 53 bits, as the fast loop applies it.
#[derive(Clone, Copy)]
struct Window {
    /// The most bits a sample takes: 3 control bits and the window's.
    sig3: u32,
    /// Moves the window's bits from 3 bits into the sample to their place.
    shift: u32,
    /// The window's bits in a value.
    mask: u64,
}

impl Window {
    /// The window `leading` bits from the top with `trailing` bits below it and `sig`
    /// bits wide; `leading` is at least 3.
    #[inline(always)]
    fn of(leading: u32, trailing: u32, sig: u32) -> Window {
        Window {
            sig3: sig + 3,
            shift: leading - 3,
            mask: (u64::MAX >> leading) & (u64::MAX << trailing),
        }
    }

    /// Decodes the value of a sample with delta of deltas 0 whose value is unchanged
    /// (`00`) or inside the window (`010`), and consumes the sample.
    #[inline(always)]
    fn decode(self, bits: &mut u64, valid: &mut u32, v: &mut u64) {
        // A branch, not a selection: a selection puts the test on the path from one
        // sample's bits to the next, and that costs more than the mispredictions do,
        // even for values that change at random every other sample.
        if *bits >= 1 << 62 {
            *v ^= (*bits >> self.shift) & self.mask;
            *bits <<= self.sig3;
            *valid -= self.sig3;
        } else {
            *bits <<= 2;
            *valid -= 2;
        }
    }
}

/// The stream bytes the fast loop reads, as a cursor that loads eight bytes at a time
/// without bounds checks.
#[derive(Clone, Copy)]
struct Cursor {
    /// The next byte not fully loaded into the bit buffer.
    p: *const u8,
    /// One past the highest address from which eight bytes can be loaded (0 when fewer
    /// than eight are left): a load at `p` is in bounds while `p < stop`.
    stop: usize,
}

impl Cursor {
    /// A cursor `at` bytes into `stream`, which it may read anywhere.
    fn new(stream: &[u8], at: usize) -> Cursor {
        let p = stream.as_ptr().wrapping_add(at);
        let stop = match stream.len().checked_sub(7) {
            Some(loads) => stream.as_ptr().addr() + loads,
            None => 0,
        };
        Cursor { p, stop }
    }

    /// Whether `extra + 8` bytes are left.
    #[inline(always)]
    fn has(self, extra: usize) -> bool {
        self.p.addr() + extra < self.stop
    }

    /// Tops the bit buffer up to at least 56 bits from the next eight bytes, which must be
    /// in bounds ([`has`](Self::has)`(0)`). Like [`Decoder::refill`], it may leave stream
    /// bits below the `valid` ones; a later refill ORs in the same bits again.
    #[inline(always)]
    fn refill(&mut self, bits: &mut u64, valid: &mut u32) {
        debug_assert!(self.has(0));
        // SAFETY: the caller checked that eight bytes from `p` are inside the stream.
        let word = unsafe { self.p.cast::<[u8; 8]>().read_unaligned() };
        *bits |= u64::from_be_bytes(word) >> *valid;
        // SAFETY: at most 7 bytes ahead, inside the eight just loaded.
        self.p = unsafe { self.p.add(7).sub((*valid >> 3) as usize) };
        *valid |= 56;
    }

    /// The bytes from the cursor on, within `stream` (which it was made from).
    fn rest(self, stream: &[u8]) -> &[u8] {
        &stream[self.p.addr() - stream.as_ptr().addr()..]
    }
}

/// A bit position in the stream, from which a wide window's samples are loaded one by
/// one: eight bytes from the byte holding it, shifted to start at it.
#[derive(Clone, Copy)]
struct BitPos {
    /// Eight bytes past the byte the position was counted from: the position is never
    /// more than 64 bits before it.
    base: *const u8,
    /// Bits from `base - 8` to the next bit to decode.
    pos: usize,
}

impl BitPos {
    /// The position of the cursor's first bit not yet decoded: `valid` bits before the
    /// byte it stands at. The buffer must hold no stand-in bits.
    #[inline(always)]
    fn new(cur: Cursor, valid: u32) -> BitPos {
        BitPos {
            base: cur.p,
            pos: 64 - valid as usize,
        }
    }

    /// The address of the byte holding the position.
    #[inline(always)]
    fn byte(self) -> *const u8 {
        self.base.wrapping_add(self.pos >> 3).wrapping_sub(8)
    }

    /// How many samples of at most 56 bits (7 bytes; counted as 8) certainly leave
    /// eight bytes to load from.
    #[inline(always)]
    fn room(self, cur: Cursor) -> usize {
        cur.stop.saturating_sub(self.byte().addr()) >> 3
    }

    /// The 57 to 64 bits from the position on, in the top bits. Eight bytes must be left
    /// from the byte holding it: the cursor's bound is only checked in debug builds.
    #[inline(always)]
    fn load(self, cur: Cursor) -> u64 {
        debug_assert!(self.byte().addr() < cur.stop);
        // SAFETY: callers load only within the samples `room` counted, or after checking
        // the bound themselves.
        let word = unsafe { self.byte().cast::<[u8; 8]>().read_unaligned() };
        u64::from_be_bytes(word) << (self.pos & 7)
    }

    /// Moves past `n` bits.
    #[inline(always)]
    fn skip(&mut self, n: u32) {
        self.pos += n as usize;
    }

    /// The buffer and count of valid bits for `w`, the word just loaded at the position,
    /// with the cursor moved past the bytes it holds.
    #[inline(always)]
    fn into_buffer(self, w: u64, cur: &mut Cursor) -> (u64, u32) {
        cur.p = self.byte().wrapping_add(7);
        (w, 56 - (self.pos & 7) as u32)
    }

    /// The buffer and count of valid bits of the byte holding the position, with the
    /// cursor moved past it. That byte is at most 7 past the last load, so inside it.
    #[inline(always)]
    fn into_byte(self, cur: &mut Cursor) -> (u64, u32) {
        // SAFETY: as above.
        let byte = unsafe { *self.byte() };
        cur.p = self.byte().wrapping_add(1);
        (
            u64::from(byte) << (56 + (self.pos & 7)),
            8 - (self.pos & 7) as u32,
        )
    }
}

/// The leading zeros and width of the new window whose `011` header starts `w`, when
/// the fast loops can apply it: 1 to 56 bits wide, at least 3 bits from the top, and
/// inside the 64 bits.
#[inline(always)]
fn new_window(w: u64) -> Option<(u32, u32)> {
    let leading = ((w >> 56) & 31) as u32;
    let sig = ((w >> 50) & 63) as u32;
    (sig != 0 && sig <= 56 && leading >= 3 && leading + sig <= 64).then_some((leading, sig))
}

/// Keeps the branch it sits in a branch: a selection would put the loaded word on the
/// path from one sample's position to the next.
#[inline(always)]
fn keep_branch() {
    // SAFETY: an empty block that touches nothing.
    unsafe { std::arch::asm!("", options(nomem, nostack, preserves_flags)) };
}

impl Decoder<'_> {
    /// Decodes samples of the common shapes into `ts[n..end]` and `vs[n..end]` and
    /// returns where it stopped: at `end`, at a sample it leaves to
    /// [`decode_later`](Decoder::decode_later), or where too few bytes are left for its
    /// unchecked loads. It may stop inside a sample after its delta of deltas, with the
    /// buffer then starting as a sample with delta of deltas 0 would: `decode_later`
    /// finishes it correctly.
    ///
    /// `WIDE` builds the loop for windows of [`WIDE_SIG`] bits or more; either build
    /// decodes every window correctly.
    #[inline(always)]
    pub(super) fn fast_samples<const WIDE: bool>(
        &mut self,
        ts: &mut [i64; BATCH],
        vs: &mut [u64; BATCH],
        mut n: usize,
        end: usize,
    ) -> usize {
        let end = end.min(BATCH);
        let (mut leading, mut trailing, mut sig) = (self.leading, self.trailing, self.sig);
        // A window of at most 56 bits has been opened (the initial width is 64).
        if n >= end || sig > 56 || leading < 3 {
            return n;
        }
        let (tp, vp) = (ts.as_mut_ptr(), vs.as_mut_ptr());
        // Stores a sample at `n`, which every caller keeps below `end`.
        let store = |n: usize, t: i64, v: u64| {
            debug_assert!(n < end && end <= BATCH);
            // SAFETY: `n < end <= BATCH`, the length of both arrays.
            unsafe {
                *tp.add(n) = t;
                *vp.add(n) = v;
            }
        };
        let mut td = self.t_delta as i64;
        let mut cur = Cursor::new(self.stream, self.stream.len() - self.rest.len());
        let (mut bits, mut valid, mut t, mut v) = (self.bits, self.valid, self.t, self.v);
        'window: loop {
            'special: {
                if sig <= 53 {
                    // The window's bits start 3 bits into the sample (`0`, `10`) and
                    // belong `leading` bits from the top.
                    let win = Window::of(leading, trailing, sig);
                    if WIDE && sig >= WIDE_SIG && cur.has(7) {
                        // A wide window: each sample is loaded on its own from its bit
                        // position. Timestamp jitter and new windows are decoded here too;
                        // a window wider than 53 bits ends the run.
                        let mut win = win;
                        let mut at = BitPos::new(cur, valid);
                        let mut run_end = end.min(n + at.room(cur));
                        while n < run_end {
                            let mut w = at.load(cur);
                            if w >= 3 << 61 {
                                // `1…` or `011`: two more loads, up to 4 bytes further on.
                                if w >= 3 << 62 || at.byte().addr() + 4 >= cur.stop {
                                    (bits, valid) = at.into_buffer(w, &mut cur);
                                    break 'special;
                                }
                                if w >= 1 << 63 {
                                    // `10` and a 14-bit delta of deltas; then the value, read
                                    // as a sample with its last bit cleared to stand in for
                                    // a delta of deltas 0.
                                    td = td.wrapping_add(from_bit_range((w >> 48) & 0x3fff, 14));
                                    at.skip(15);
                                    w = at.load(cur) & (u64::MAX >> 1);
                                    run_end = end.min(n + at.room(cur));
                                }
                                if w >= 3 << 61 {
                                    // `011`: 5 bits of leading zeros, 6 of width, then the
                                    // window's bits.
                                    let Some((new_leading, new_sig)) = new_window(w) else {
                                        (bits, valid) = at.into_buffer(w, &mut cur);
                                        break 'special;
                                    };
                                    at.skip(14);
                                    (leading, sig) = (new_leading, new_sig);
                                    trailing = 64 - leading - sig;
                                    v ^= (at.load(cur) >> (64 - sig)) << trailing;
                                    at.skip(sig);
                                    t = t.wrapping_add(td);
                                    store(n, t, v);
                                    n += 1;
                                    if sig > 53 {
                                        break;
                                    }
                                    win = Window::of(leading, trailing, sig);
                                    run_end = end.min(n + at.room(cur));
                                    continue;
                                }
                            }
                            if w >= 1 << 62 {
                                keep_branch();
                                v ^= (w >> win.shift) & win.mask;
                                at.skip(win.sig3);
                            } else {
                                at.skip(2);
                            }
                            t = t.wrapping_add(td);
                            store(n, t, v);
                            n += 1;
                        }
                        (bits, valid) = at.into_byte(&mut cur);
                        if n >= end {
                            break 'window;
                        }
                        continue 'window;
                    }
                    loop {
                        // A refill whenever the next sample might not fit: before each
                        // sample of a wide window, before every few of a narrow one.
                        if valid < win.sig3 {
                            if !cur.has(0) {
                                break 'window;
                            }
                            cur.refill(&mut bits, &mut valid);
                        }
                        if bits >= 3 << 61 {
                            break 'special;
                        }
                        win.decode(&mut bits, &mut valid, &mut v);
                        t = t.wrapping_add(td);
                        store(n, t, v);
                        n += 1;
                        if n >= end {
                            break 'window;
                        }
                    }
                }
                // A window of 54 to 56 bits: the control bits and the value bits are
                // loaded separately. Two refills succeed with 15 bytes left.
                while cur.has(7) {
                    cur.refill(&mut bits, &mut valid);
                    if bits >= 3 << 61 {
                        break 'special;
                    }
                    if bits >= 1 << 62 {
                        bits <<= 3;
                        valid -= 3;
                        cur.refill(&mut bits, &mut valid);
                        v ^= (bits >> (64 - sig)) << trailing;
                        bits <<= sig;
                        valid -= sig;
                    } else {
                        bits <<= 2;
                        valid -= 2;
                    }
                    t = t.wrapping_add(td);
                    store(n, t, v);
                    n += 1;
                    if n >= end {
                        break 'window;
                    }
                }
                break 'window;
            }
            // `1…`, a timestamp change, or `011`, a new window. The buffer holds at least
            // the three bits tested; two refills succeed with 15 bytes left.
            if bits >= 3 << 62 || !cur.has(7) {
                // A delta of deltas wider than 14 bits, or near the end.
                break;
            }
            cur.refill(&mut bits, &mut valid);
            if bits >= 1 << 63 {
                // `10` and a 14-bit delta of deltas. What follows is the value, as after a
                // `0`: clear the field's last bit to make it one. The loops that read the
                // buffer decode the rest as any other sample. The wide build decodes the
                // value here instead, as its position loop reloads samples from memory,
                // where that bit is not cleared.
                td = td.wrapping_add(from_bit_range((bits >> 48) & 0x3fff, 14));
                bits = (bits << 15) & (u64::MAX >> 1);
                valid -= 15;
                if bits < 3 << 61 {
                    if !WIDE || sig > 53 {
                        continue;
                    }
                    cur.refill(&mut bits, &mut valid);
                    let win = Window::of(leading, trailing, sig);
                    win.decode(&mut bits, &mut valid, &mut v);
                    t = t.wrapping_add(td);
                    store(n, t, v);
                    n += 1;
                    if n >= end {
                        break;
                    }
                    continue;
                }
                // A new window, read below after one refill: the two this sample needs.
            }
            // `011`: 5 bits of leading zeros, 6 of width, then the window's bits.
            let Some((new_leading, new_sig)) = new_window(bits) else {
                break;
            };
            bits <<= 14;
            valid -= 14;
            cur.refill(&mut bits, &mut valid);
            leading = new_leading;
            sig = new_sig;
            trailing = 64 - leading - sig;
            v ^= (bits >> (64 - sig)) << trailing;
            t = t.wrapping_add(td);
            bits <<= sig;
            valid -= sig;
            store(n, t, v);
            n += 1;
            if n >= end {
                break;
            }
        }
        self.t_delta = td as u64;
        self.leading = leading;
        self.trailing = trailing;
        self.sig = sig;
        self.sig_shift = 64 - sig;
        self.bits = bits;
        self.valid = valid;
        self.rest = cur.rest(self.stream);
        self.t = t;
        self.v = v;
        n
    }
}

#[cfg(test)]
mod tests {
    use crate::chunkenc::{ChunkError, XorChunk, XorIter};
    use proptest::prelude::*;

    /// How one sample's timestamp departs from the previous interval.
    #[derive(Debug, Clone, Copy)]
    enum Step {
        Same,
        /// A delta of deltas in the 14-bit bucket.
        Jitter(i64),
        /// A delta of deltas in a wider bucket.
        Wide(i64),
    }

    /// How one sample's value follows the previous one.
    #[derive(Debug, Clone, Copy)]
    enum Change {
        Same,
        /// A counter-like step.
        Add(u32),
        /// A gauge with two decimals.
        Cents(i32),
        /// Any bits: windows of every width.
        Bits(u64),
        Negate,
        /// Crossing 2.0, which flips high exponent bits (leading zeros below 3).
        Near2(u8),
        Special(u8),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            8 => Just(Step::Same),
            2 => (-8191i64..8192).prop_map(Step::Jitter),
            1 => prop_oneof![
                (-65_535i64..65_536).prop_map(Step::Wide),
                (-(1i64 << 40)..(1i64 << 40)).prop_map(Step::Wide),
            ],
        ]
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            3 => Just(Change::Same),
            4 => (0u32..100).prop_map(Change::Add),
            4 => (-2_000i32..2_000).prop_map(Change::Cents),
            1 => any::<u64>().prop_map(Change::Bits),
            1 => Just(Change::Negate),
            1 => any::<u8>().prop_map(Change::Near2),
            1 => any::<u8>().prop_map(Change::Special),
        ]
    }

    fn series(shape: &[(Step, Change)]) -> Vec<(i64, f64)> {
        let (mut t, mut delta, mut v) = (1_700_000_000_000i64, 15_000i64, 1_000.0f64);
        shape
            .iter()
            .map(|&(s, c)| {
                delta += match s {
                    Step::Same => 0,
                    Step::Jitter(d) | Step::Wide(d) => d,
                };
                t = t.wrapping_add(delta);
                v = match c {
                    Change::Same => v,
                    Change::Add(d) => v + f64::from(d),
                    Change::Cents(d) => (v * 100.0).round() / 100.0 + f64::from(d) / 100.0,
                    Change::Bits(b) => f64::from_bits(b),
                    Change::Negate => -v,
                    Change::Near2(k) => 2.0 + (f64::from(k) - 128.0) / 1024.0,
                    Change::Special(k) => match k % 4 {
                        0 => f64::NAN,
                        1 => f64::INFINITY,
                        2 => f64::NEG_INFINITY,
                        _ => 0.0,
                    },
                };
                (t, v)
            })
            .collect()
    }

    fn encode(samples: &[(i64, f64)]) -> XorChunk {
        let mut c = XorChunk::new();
        let mut app = c.appender().unwrap();
        for &(t, v) in samples {
            app.append(t, v).unwrap();
        }
        c
    }

    /// The samples decoded before the iterator stopped, and how it stopped.
    fn decode(data: &[u8]) -> (Vec<(i64, u64)>, Result<(), ChunkError>) {
        match XorIter::new(data) {
            Ok(mut it) => drain(&mut it),
            Err(e) => (Vec::new(), Err(e)),
        }
    }

    fn bits(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
        samples.iter().map(|&(t, v)| (t, v.to_bits())).collect()
    }

    #[test]
    fn wide_windows_with_jitter_decode_exactly_at_every_cut() {
        // Gauges with two decimals: windows of about 50 bits, decoded sample by sample
        // from their bit positions, with new windows, unchanged values and timestamp
        // jitter (14-bit deltas of deltas, and now and then a wider one) in between.
        let mut r = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |n: u64| {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            r % n
        };
        for series in 0..20 {
            let (mut t, mut cents) = (1_700_000_000_000i64, 2_000 + next(4_000) as i64);
            let samples: Vec<(i64, f64)> = (0..240)
                .map(|_| {
                    t += 15_000;
                    let jitter = match next(40) {
                        0 => next(7) as i64 - 3,
                        1 if series % 4 == 0 => next(100_000) as i64,
                        _ => 0,
                    };
                    if next(10) != 0 {
                        cents += next(41) as i64 - 20;
                    }
                    (t + jitter, cents as f64 / 100.0)
                })
                .collect();
            let c = encode(&samples);
            assert_eq!(
                decode(c.bytes()),
                (bits(&samples), Ok(())),
                "series {series}"
            );
            let want = bits(&samples);
            for len in 2..c.bytes().len() {
                let (got, end) = decode(&c.bytes()[..len]);
                assert_eq!(&got[..], &want[..got.len()], "series {series} cut at {len}");
                assert!(
                    end.is_err(),
                    "series {series} cut at {len} ended without an error"
                );
            }
        }
    }

    #[test]
    fn windows_of_every_width_decode_exactly() {
        // One window per width: opened by a change that sets both its ends, then reused
        // by changes inside it, with unchanged values mixed in, so that refills come at
        // every bit position.
        let mut samples = Vec::new();
        let (mut t, mut v) = (0i64, 0x4059_0000_0000_0000u64);
        let mut r = 0x9E37_79B9_7F4A_7C15u64;
        for sig in 1..=56u32 {
            let leading = (3 + sig % 4).min(64 - sig);
            let trailing = 64 - leading - sig;
            let mask = u64::MAX >> (64 - sig);
            for i in 0..40 {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                let x = match i {
                    0 => (1 << (sig - 1)) | 1,
                    _ if i % 3 == 2 => 0,
                    _ => r & mask,
                };
                v ^= x << trailing;
                t += 15_000;
                samples.push((t, f64::from_bits(v)));
            }
        }
        for chunk in samples.chunks(120) {
            let c = encode(chunk);
            assert_eq!(decode(c.bytes()), (bits(chunk), Ok(())));
        }
    }

    /// Every sample an iterator yields from where it stands, and how it stopped.
    fn drain(it: &mut XorIter<'_>) -> (Vec<(i64, u64)>, Result<(), ChunkError>) {
        let mut out = Vec::new();
        loop {
            match it.next() {
                Ok(true) => {
                    let (t, v) = it.at();
                    out.push((t, v.to_bits()));
                }
                Ok(false) => return (out, Ok(())),
                Err(e) => return (out, Err(e)),
            }
        }
    }

    #[test]
    fn a_reset_iterator_decodes_like_a_new_one() {
        let shape: Vec<(Step, Change)> = (0..200u32)
            .map(|i| {
                let step = if i % 7 == 3 {
                    Step::Jitter(5)
                } else {
                    Step::Same
                };
                (step, Change::Add(i % 13))
            })
            .collect();
        let long = encode(&series(&shape));
        let short = encode(&series(&shape[..3]));
        let cut = &long.bytes()[..long.bytes().len() / 2];
        let fresh = |data: &[u8]| decode(data);
        let mut it = XorIter::new(long.bytes()).unwrap();
        // Part way through a batch, at the end, and after an error.
        for _ in 0..40 {
            assert_eq!(it.next(), Ok(true));
        }
        it.reset(short.bytes()).unwrap();
        assert_eq!(it.at(), (i64::MIN, 0.0), "no sample before the first next");
        assert_eq!(drain(&mut it), fresh(short.bytes()));
        it.reset(cut).unwrap();
        let (got, end) = drain(&mut it);
        assert_eq!((got, end), fresh(cut));
        assert!(end.is_err());
        it.reset(long.bytes()).unwrap();
        assert_eq!(drain(&mut it), fresh(long.bytes()));
        let mut new = XorIter::new(long.bytes()).unwrap();
        assert_eq!(drain(&mut new).1, Ok(()));
        assert_eq!(it.resume_state(), new.resume_state());
        // A header cut short is refused, and the iterator stays where it was.
        assert_eq!(
            it.reset(&long.bytes()[..1]),
            Err(ChunkError::Truncated("XOR chunk header"))
        );
        assert_eq!(it.next(), Ok(false));
    }

    proptest! {
        // A fixed seed keeps the run deterministic.
        #![proptest_config(ProptestConfig {
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x0FA5_7100),
            cases: 512,
            ..ProptestConfig::default()
        })]

        #[test]
        fn every_sample_shape_round_trips(
            shape in proptest::collection::vec((step(), change()), 0..300),
        ) {
            let samples = series(&shape);
            let c = encode(&samples);
            prop_assert_eq!(decode(c.bytes()), (bits(&samples), Ok(())));
        }

        #[test]
        fn a_cut_chunk_gives_its_whole_samples_then_an_error(
            shape in proptest::collection::vec((step(), change()), 1..150),
        ) {
            let samples = series(&shape);
            let c = encode(&samples);
            let data = c.bytes();
            let want = bits(&samples);
            let mut before = 0;
            for len in 2..data.len() {
                let (got, end) = decode(&data[..len]);
                prop_assert_eq!(&got[..], &want[..got.len()], "cut at {}", len);
                prop_assert!(end.is_err(), "cut at {} ended without an error", len);
                prop_assert!(got.len() >= before, "cut at {} lost samples", len);
                before = got.len();
            }
        }

        #[test]
        fn an_appender_resumes_after_any_sample(
            shape in proptest::collection::vec((step(), change()), 1..150),
            split in any::<prop::sample::Index>(),
        ) {
            let samples = series(&shape);
            let split = split.index(samples.len() + 1);
            let head = encode(&samples[..split]);
            let mut c = XorChunk::from_bytes(head.bytes().to_vec()).unwrap();
            let mut app = c.appender().unwrap();
            for &(t, v) in &samples[split..] {
                app.append(t, v).unwrap();
            }
            let whole = encode(&samples);
            prop_assert_eq!(c.bytes(), whole.bytes());
        }
    }
}
