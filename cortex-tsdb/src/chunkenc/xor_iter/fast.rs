//! The XOR decoder's fast loop: runs of samples of the common shapes, decoded with the bit
//! buffer, the timestamp and the value in registers.
//!
//! Almost every sample of a scraped series has a delta of deltas of 0 and a value that is
//! unchanged (`0`) or inside the current leading/trailing window (`10`). The loop refills
//! the buffer only when the largest such sample might not fit in it (each refill loads at
//! least 56 bits), with the load itself unchecked behind one bound per refill. Small
//! timestamp jitter (a 14-bit delta of deltas) and new windows of up to 56 bits are decoded
//! here too; anything else is left to [`Decoder::decode_later`].

use super::{BATCH, Decoder};
use crate::chunkenc::varbit::from_bit_range;

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
    /// A cursor at the start of `rest`.
    fn new(rest: &[u8]) -> Cursor {
        let p = rest.as_ptr();
        let stop = match rest.len().checked_sub(7) {
            Some(loads) => p.addr() + loads,
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
        self.p = unsafe { self.p.add(((!*valid >> 3) & 7) as usize) };
        *valid |= 56;
    }

    /// The bytes from the cursor on, within `rest` (which it was made from).
    fn rest(self, rest: &[u8]) -> &[u8] {
        &rest[self.p.addr() - rest.as_ptr().addr()..]
    }
}

impl Decoder<'_> {
    /// Decodes samples of the common shapes into `ts[n..end]` and `vs[n..end]` and
    /// returns where it stopped: at `end`, at a sample it leaves to
    /// [`decode_later`](Decoder::decode_later), or where too few bytes are left for its
    /// unchecked loads. It may stop inside a sample after its delta of deltas, with the
    /// buffer then starting as a sample with delta of deltas 0 would: `decode_later`
    /// finishes it correctly.
    #[inline(always)]
    pub(super) fn fast_samples(
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
        let mut cur = Cursor::new(self.rest);
        let (mut bits, mut valid, mut t, mut v) = (self.bits, self.valid, self.t, self.v);
        'window: loop {
            'special: {
                if sig <= 53 {
                    // The window's bits start 3 bits into the sample (`0`, `10`) and
                    // belong `leading` bits from the top.
                    let win = Window {
                        sig3: sig + 3,
                        shift: leading - 3,
                        mask: (u64::MAX >> leading) & (u64::MAX << trailing),
                    };
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
                // `0`: clear the field's last bit to make it one, and decode the rest as
                // any other sample.
                td = td.wrapping_add(from_bit_range((bits >> 48) & 0x3fff, 14));
                bits = (bits << 15) & (u64::MAX >> 1);
                valid -= 15;
                continue;
            }
            // `011`: 5 bits of leading zeros, 6 of width, then the window's bits.
            let new_leading = ((bits >> 56) & 31) as u32;
            let new_sig = ((bits >> 50) & 63) as u32;
            if new_sig == 0 || new_sig > 56 || new_leading < 3 || new_leading + new_sig > 64 {
                break;
            }
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
        self.rest = cur.rest(self.rest);
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
