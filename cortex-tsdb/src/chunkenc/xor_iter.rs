//! The float fast path: decoding XOR chunk bytes (encoding 1).
//!
//! Decoding is the hot path of every query, so [`XorIter`] decodes in batches of
//! [`BATCH`] samples: a tight loop keeps the decoder state in registers and writes
//! timestamps and values into a small array inside the iterator, and `next` mostly just
//! steps through that array. Runs of the common sample shapes go through the loop in
//! `fast.rs`; the rest (wide deltas of deltas, wide or unusual value windows, runs of
//! unchanged samples, the last bytes) through [`Decoder::decode_later`], which reads from a
//! 64-bit buffer refilled eight bytes at a time. The first two samples (varint timestamp,
//! raw value, uvarint delta) take a plain bit-reader path. Encoding lives in `xor.rs`.

use super::ChunkError;
use super::varbit::from_bit_range;

mod fast;

/// Samples decoded per batch.
const BATCH: usize = 32;

/// Bytes before the bit stream: the sample count.
const HEADER_SIZE: usize = 2;

/// Where decoding stands: the bit position and the values the next sample is relative to.
#[derive(Debug, Clone, Copy)]
struct Decoder<'a> {
    /// The bytes not yet fully loaded into `bits`: a tail of `stream`.
    rest: &'a [u8],
    /// The whole bit stream, to tell how much was used and to read again bits already
    /// loaded.
    stream: &'a [u8],
    /// Buffered stream bits, left-aligned; the top `valid` (at most 63) are unconsumed
    /// stream bits.
    bits: u64,
    valid: u32,
    t: i64,
    v: u64,
    t_delta: u64,
    leading: u32,
    trailing: u32,
    /// Significant bits of the window: `64 - leading - trailing`.
    sig: u32,
    /// `64 - sig`: the shift that brings left-aligned window bits down.
    sig_shift: u32,
    /// Whether any value opened a leading/trailing window (an appender resuming after the
    /// last sample needs to know).
    window_seen: bool,
    /// Samples decoded so far.
    read: u16,
    total: u16,
}

const EOF: ChunkError = ChunkError::Truncated("XOR sample");

impl<'a> Decoder<'a> {
    /// A decoder at the start of `data`, whose first two bytes are `header`.
    #[inline]
    fn new(header: [u8; HEADER_SIZE], data: &'a [u8]) -> Decoder<'a> {
        Decoder {
            rest: data.get(HEADER_SIZE..).unwrap_or_default(),
            stream: data.get(HEADER_SIZE..).unwrap_or_default(),
            bits: 0,
            valid: 0,
            t: i64::MIN,
            v: 0,
            t_delta: 0,
            leading: 0,
            trailing: 0,
            sig: 64,
            sig_shift: 0,
            window_seen: false,
            read: 0,
            total: u16::from_be_bytes(header),
        }
    }

    /// Loads whole bytes until at least 56 bits are valid or the data is exhausted; never
    /// more than 63.
    #[inline(always)]
    fn refill(&mut self) {
        if self.valid > 56 {
            return;
        }
        let add = ((63 - self.valid) >> 3) as usize;
        if let Some(word) = self.rest.first_chunk::<8>() {
            self.bits |= u64::from_be_bytes(*word) >> self.valid;
            self.rest = self.rest.get(add..).unwrap_or_default();
            self.valid |= 56;
        } else {
            // Fewer than 8 bytes left: load what there is, zero-padded.
            let mut w = 0u64;
            for (i, &b) in self.rest.iter().enumerate() {
                w |= u64::from(b) << (56 - 8 * i);
            }
            self.bits |= w >> self.valid;
            let add = add.min(self.rest.len());
            self.rest = self.rest.get(add..).unwrap_or_default();
            self.valid += 8 * add as u32;
        }
    }

    /// Bits used so far.
    fn used_bits(&self) -> u64 {
        (self.stream.len() - self.rest.len()) as u64 * 8 - u64::from(self.valid)
    }

    /// Consumes `n` (< 64) bits known to be valid.
    #[inline(always)]
    fn consume(&mut self, n: u32) {
        debug_assert!(n < 64 && n <= self.valid);
        self.bits <<= n;
        self.valid -= n;
    }

    /// Reads `n` (1..=32) bits.
    #[inline(always)]
    fn read_small(&mut self, n: u32) -> Result<u64, ChunkError> {
        debug_assert!((1..=32).contains(&n));
        if n > self.valid {
            self.refill();
            if n > self.valid {
                return Err(EOF);
            }
        }
        let v = self.bits >> (64 - n);
        self.consume(n);
        Ok(v)
    }

    /// Reads `n` (1..=64) bits.
    #[inline(always)]
    fn read_bits(&mut self, n: u32) -> Result<u64, ChunkError> {
        if n > 32 {
            let hi = self.read_small(n - 32)?;
            let lo = self.read_small(32)?;
            Ok((hi << 32) | lo)
        } else {
            self.read_small(n)
        }
    }

    /// Decodes the third or a later sample into `t` and `v` and returns 0; or, where a run
    /// of samples with delta of deltas 0 and unchanged value starts, consumes up to
    /// `max_run` of them and returns how many (leaving `t` for the caller to advance).
    #[inline(always)]
    fn decode_later(&mut self, max_run: usize) -> Result<usize, ChunkError> {
        self.refill();
        let word = self.bits;
        if word >> 63 == 0 {
            // dod 0. The value is unchanged (`0`) or reuses the window (`10`): decoded
            // without branching on which, as real series mix the two unpredictably.
            let rest = word << 1;
            if word >> 56 == 0 && self.valid >= 8 {
                // At least four samples of two zero bits each: take the whole run.
                let zeros = word.leading_zeros().min(self.valid);
                let run = ((zeros / 2) as usize).min(max_run);
                self.consume(2 * run as u32);
                return Ok(run);
            }
            if rest >> 62 != 0b11 {
                let changed = 0u64.wrapping_sub(rest >> 63);
                let used = 2 + ((1 + self.sig) & changed as u32);
                if used <= self.valid {
                    // 64 - sig is in 0..=63; when sig is 64 the value cannot fit `used`
                    // unless unchanged, and then the extracted bits are masked off.
                    let bits = (rest << 2) >> self.sig_shift;
                    self.v ^= (bits << self.trailing) & changed;
                    self.t = self.t.wrapping_add(self.t_delta as i64);
                    self.consume(used);
                    return Ok(0);
                }
            }
        }
        // Timestamp: delta of deltas in one of Prometheus' buckets.
        let (dod, tbits) = match (!word).leading_zeros() {
            0 => (0, 1),
            1 => (from_bit_range((word >> 48) & 0x3fff, 14), 16),
            2 => (from_bit_range((word >> 44) & 0x1_ffff, 17), 20),
            3 => (from_bit_range((word >> 40) & 0xf_ffff, 20), 24),
            _ => (0, 4),
        };
        if tbits > self.valid {
            return Err(EOF);
        }
        self.consume(tbits);
        let dod = if tbits == 4 {
            self.read_bits(64)? as i64
        } else {
            dod
        };
        self.t_delta = self.t_delta.wrapping_add(dod as u64);
        self.t = self.t.wrapping_add(self.t_delta as i64);
        self.decode_value().map(|()| 0)
    }

    /// Decodes one `varbit_xor` value against the current one.
    #[inline(always)]
    fn decode_value(&mut self) -> Result<(), ChunkError> {
        self.refill();
        let word = self.bits;
        let valid = self.valid;
        if word >> 63 == 0 {
            if valid < 1 {
                return Err(EOF);
            }
            self.consume(1);
            return Ok(());
        }
        if word >> 62 == 0b10 {
            let sig = self.sig;
            let bits = if 2 + sig <= valid {
                let bits = (word << 2) >> (64 - sig);
                self.consume(2 + sig);
                bits
            } else {
                if valid < 2 {
                    return Err(EOF);
                }
                self.consume(2);
                self.read_bits(sig)?
            };
            self.v ^= bits << self.trailing;
            return Ok(());
        }
        // `11`: a new window, 5 bits of leading zeros and 6 of significant bits.
        if valid < 13 {
            return Err(EOF);
        }
        let head = (word >> 51) & 0x7ff;
        self.consume(13);
        let leading = (head >> 6) as u32;
        let sig = match (head & 63) as u32 {
            0 => 64,
            s => s,
        };
        if leading + sig > 64 {
            return Err(ChunkError::Invalid("XOR value window wider than 64 bits"));
        }
        let trailing = 64 - leading - sig;
        let bits = self.read_bits(sig)?;
        self.leading = leading;
        self.trailing = trailing;
        self.sig = sig;
        self.sig_shift = 64 - sig;
        self.window_seen = true;
        self.v ^= bits << trailing;
        Ok(())
    }
}

/// Decodes the first or second sample: once per chunk. Both start byte aligned
/// (varints and a 64-bit value), so they are read from the bytes directly; the bit buffer
/// is empty before and reloaded after.
#[inline(never)]
fn decode_head(d: &mut Decoder<'_>) -> Result<(), ChunkError> {
    debug_assert_eq!(d.valid, 0);
    let bytes = d.rest;
    let (raw, n) = match uvarint(bytes) {
        Ok(v) => v,
        Err(true) => return Err(ChunkError::Truncated("XOR head timestamp")),
        Err(false) => return Err(ChunkError::Invalid("XOR head timestamp overflows")),
    };
    if d.read == 0 {
        // Zig-zag signed varint, then the raw 64-bit value.
        d.t = ((raw >> 1) as i64) ^ -((raw & 1) as i64);
        let v = bytes
            .get(n..)
            .and_then(|b| b.first_chunk::<8>())
            .ok_or(ChunkError::Truncated("XOR first value"))?;
        d.v = u64::from_be_bytes(*v);
        d.rest = bytes.get(n + 8..).unwrap_or_default();
    } else {
        d.t_delta = raw;
        d.t = d.t.wrapping_add(raw as i64);
        d.rest = bytes.get(n..).unwrap_or_default();
        d.decode_value()?;
    }
    Ok(())
}

/// Go's `binary.Uvarint` on bytes: the value and its length. `Err(true)` when the bytes
/// end inside it, `Err(false)` when it overflows 64 bits.
fn uvarint(b: &[u8]) -> Result<(u64, usize), bool> {
    let mut x = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        if byte < 0x80 {
            if i == 9 && byte > 1 {
                return Err(false);
            }
            return Ok((x | (u64::from(byte) << (7 * i)), i + 1));
        }
        x |= u64::from(byte & 0x7f) << (7 * i);
    }
    Err(b.len() < 10)
}

/// Writes `run` samples from position `n`, each `t_delta` after the previous, all with
/// value `v`; returns the last timestamp. Kept out of line (with plain values, so the
/// decoder state stays in registers) because it only pays off for long runs.
#[inline(never)]
fn fill_run(
    ts: &mut [i64; BATCH],
    vs: &mut [u64; BATCH],
    n: usize,
    run: usize,
    mut t: i64,
    t_delta: u64,
    v: u64,
) -> i64 {
    for i in n..n + run {
        t = t.wrapping_add(t_delta as i64);
        ts[i % BATCH] = t;
        vs[i % BATCH] = v;
    }
    t
}

/// Iterates over the samples of XOR chunk bytes: the float fast path.
///
/// Call [`next`](Self::next) until it returns `Ok(false)`; if the data is damaged or ends
/// before the announced number of samples, `next` returns the error instead (after the
/// samples before the damage), and again on every later call.
#[derive(Debug, Clone)]
pub struct XorIter<'a> {
    dec: Decoder<'a>,
    ts: [i64; BATCH],
    vs: [u64; BATCH],
    /// Index of the current sample in `ts`/`vs`.
    cur: usize,
    /// Samples in `ts`/`vs`.
    len: usize,
    started: bool,
    err: Option<ChunkError>,
}

impl<'a> XorIter<'a> {
    /// An iterator over chunk bytes (starting with the 2-byte sample count).
    #[inline]
    pub fn new(data: &'a [u8]) -> Result<XorIter<'a>, ChunkError> {
        match data.first_chunk::<HEADER_SIZE>() {
            Some(header) => Ok(XorIter::with_header(*header, data)),
            None => Err(ChunkError::Truncated("XOR chunk header")),
        }
    }

    /// An iterator over `data` whose first two bytes are `header`.
    #[inline]
    pub(crate) fn with_header(header: [u8; HEADER_SIZE], data: &'a [u8]) -> XorIter<'a> {
        let mut ts = [0; BATCH];
        ts[0] = i64::MIN;
        XorIter {
            dec: Decoder::new(header, data),
            ts,
            vs: [0; BATCH],
            cur: 0,
            len: 0,
            started: false,
            err: None,
        }
    }

    /// Starts over on other chunk bytes, as [`new`](Self::new) would, but reusing this
    /// iterator's buffers.
    #[inline]
    pub fn reset(&mut self, data: &'a [u8]) -> Result<(), ChunkError> {
        let Some(header) = data.first_chunk::<HEADER_SIZE>() else {
            return Err(ChunkError::Truncated("XOR chunk header"));
        };
        self.dec = Decoder::new(*header, data);
        self.ts[0] = i64::MIN;
        self.vs[0] = 0;
        self.cur = 0;
        self.len = 0;
        self.started = false;
        self.err = None;
        Ok(())
    }

    /// The number of samples the header announces.
    pub fn num_samples(&self) -> u16 {
        self.dec.total
    }

    /// Advances to the next sample: `Ok(true)` when there is one, `Ok(false)` after the
    /// last, an error if the data is damaged or ends early.
    // Not `Iterator::next`: samples are lent from buffers the next call reuses.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Result<bool, ChunkError> {
        if self.cur + 1 < self.len {
            self.cur += 1;
            return Ok(true);
        }
        self.next_batch()
    }

    #[inline(never)]
    fn next_batch(&mut self) -> Result<bool, ChunkError> {
        if self.dec.read >= self.dec.total || self.err.is_some() {
            return match self.err {
                Some(e) => Err(e),
                None => Ok(false),
            };
        }
        let mut n = 0;
        while self.dec.read < 2 && self.dec.read < self.dec.total {
            if let Err(e) = decode_head(&mut self.dec) {
                self.err = Some(e);
                break;
            }
            self.ts[n] = self.dec.t;
            self.vs[n] = self.dec.v;
            self.dec.read += 1;
            n += 1;
        }
        if self.err.is_none() {
            let d = &mut self.dec;
            let end = n + (BATCH - n).min(usize::from(d.total - d.read));
            let start = n;
            while n < end {
                n = if d.sig >= fast::WIDE_SIG {
                    d.fast_samples::<true>(&mut self.ts, &mut self.vs, n, end)
                } else {
                    d.fast_samples::<false>(&mut self.ts, &mut self.vs, n, end)
                };
                if n == end {
                    break;
                }
                match d.decode_later(end - n) {
                    Ok(0) => {
                        self.ts[n % BATCH] = d.t;
                        self.vs[n % BATCH] = d.v;
                        n += 1;
                    }
                    Ok(run) => {
                        d.t = fill_run(&mut self.ts, &mut self.vs, n, run, d.t, d.t_delta, d.v);
                        n += run;
                    }
                    Err(e) => {
                        self.err = Some(e);
                        break;
                    }
                }
            }
            d.read += (n - start) as u16;
        }
        if n == 0 {
            return match self.err {
                Some(e) => Err(e),
                None => Ok(false),
            };
        }
        self.cur = 0;
        self.len = n;
        self.started = true;
        Ok(true)
    }

    /// Advances to the first sample with timestamp `>= t`; never moves backwards. Returns
    /// `Ok(false)` if there is none.
    pub fn seek(&mut self, t: i64) -> Result<bool, ChunkError> {
        if !self.started && !self.next()? {
            return Ok(false);
        }
        while t > self.timestamp() {
            if !self.next()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The current sample; valid after `next` or `seek` returned `true`.
    #[inline]
    pub fn at(&self) -> (i64, f64) {
        debug_assert!(self.cur < BATCH);
        // SAFETY: `cur` is below `BATCH`: it starts at 0, `next` raises it only below
        // `len`, which is at most `BATCH`, and a new batch resets it to 0.
        unsafe {
            (
                *self.ts.get_unchecked(self.cur),
                f64::from_bits(*self.vs.get_unchecked(self.cur)),
            )
        }
    }

    /// The current sample's timestamp.
    #[inline]
    pub fn timestamp(&self) -> i64 {
        self.ts[self.cur % BATCH]
    }

    /// What an appender continuing after the last decoded sample needs: the last
    /// timestamp, value, timestamp delta, value window (if any was opened) and the number
    /// of bits used after the header.
    pub(crate) fn resume_state(&self) -> (i64, f64, u64, Option<(u8, u8)>, u64) {
        let d = &self.dec;
        let window = d.window_seen.then_some((d.leading as u8, d.trailing as u8));
        (d.t, f64::from_bits(d.v), d.t_delta, window, d.used_bits())
    }
}
