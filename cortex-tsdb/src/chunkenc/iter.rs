//! The encoding-independent chunk iterator: one type over XOR, histogram and float
//! histogram chunk bytes, shaped like Prometheus' `chunkenc.Iterator` (advance, then read
//! the current sample as the kind `next` reported).

use super::float_histogram_iter::FloatHistogramIter;
use super::histogram_iter::HistogramIter;
use super::xor_iter::XorIter;
use super::{ChunkError, Encoding, ValueType};
use crate::histogram::{FloatHistogram, Histogram};

/// Iterates over the samples of one chunk of any encoding, without allocating per sample.
///
/// After the last sample `next` returns `Ok(None)`; if the data ends before the number of
/// samples the header announces or is otherwise damaged, it returns the error instead
/// (after the samples before the damage), and again on every later call.
#[derive(Debug, Clone)]
pub struct ChunkIter<'a> {
    inner: Inner<'a>,
}

#[derive(Debug, Clone)]
enum Inner<'a> {
    Xor(XorIter<'a>),
    Histogram(HistogramIter<'a>),
    FloatHistogram(FloatHistogramIter<'a>),
}

impl<'a> ChunkIter<'a> {
    /// An iterator over `data` (the chunk bytes after the encoding byte). Fails only if the
    /// header is incomplete.
    pub fn new(enc: Encoding, data: &'a [u8]) -> Result<ChunkIter<'a>, ChunkError> {
        let inner = match enc {
            Encoding::Xor => Inner::Xor(XorIter::new(data)?),
            Encoding::Histogram => Inner::Histogram(HistogramIter::new(data)?),
            Encoding::FloatHistogram => Inner::FloatHistogram(FloatHistogramIter::new(data)?),
        };
        Ok(ChunkIter { inner })
    }

    /// Starts over on another chunk, reusing the sample buffers when the encoding is the
    /// same as before (as Prometheus reuses iterators, and cheaper than a new one).
    pub fn reset(&mut self, enc: Encoding, data: &'a [u8]) -> Result<(), ChunkError> {
        match (&mut self.inner, enc) {
            (Inner::Xor(it), Encoding::Xor) => it.reset(data),
            (Inner::Histogram(it), Encoding::Histogram) => it.reset(data),
            (Inner::FloatHistogram(it), Encoding::FloatHistogram) => it.reset(data),
            _ => {
                *self = ChunkIter::new(enc, data)?;
                Ok(())
            }
        }
    }

    /// The chunk's encoding.
    pub fn encoding(&self) -> Encoding {
        match self.inner {
            Inner::Xor(_) => Encoding::Xor,
            Inner::Histogram(_) => Encoding::Histogram,
            Inner::FloatHistogram(_) => Encoding::FloatHistogram,
        }
    }

    /// The number of samples the chunk header announces.
    pub fn num_samples(&self) -> u16 {
        match &self.inner {
            Inner::Xor(it) => it.num_samples(),
            Inner::Histogram(it) => it.num_samples(),
            Inner::FloatHistogram(it) => it.num_samples(),
        }
    }

    /// The kind of sample this chunk's samples are.
    pub fn value_type(&self) -> ValueType {
        match self.inner {
            Inner::Xor(_) => ValueType::Float,
            Inner::Histogram(_) => ValueType::Histogram,
            Inner::FloatHistogram(_) => ValueType::FloatHistogram,
        }
    }

    /// Advances to the next sample and says what kind it is; `Ok(None)` after the last.
    // Not `Iterator::next`: samples are lent from buffers the next call reuses.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Result<Option<ValueType>, ChunkError> {
        let more = match &mut self.inner {
            Inner::Xor(it) => it.next()?,
            Inner::Histogram(it) => it.next()?,
            Inner::FloatHistogram(it) => it.next()?,
        };
        Ok(more.then(|| self.value_type()))
    }

    /// Advances to the first sample with timestamp `>= t` and says what kind it is;
    /// `Ok(None)` if there is none. Never moves backwards: if the current sample is
    /// already at or after `t`, it stays.
    pub fn seek(&mut self, t: i64) -> Result<Option<ValueType>, ChunkError> {
        let found = match &mut self.inner {
            Inner::Xor(it) => it.seek(t)?,
            Inner::Histogram(it) => it.seek(t)?,
            Inner::FloatHistogram(it) => it.seek(t)?,
        };
        Ok(found.then(|| self.value_type()))
    }

    /// The current float sample; valid after `next` or `seek` returned
    /// [`ValueType::Float`].
    ///
    /// # Panics
    ///
    /// If the chunk is not an XOR chunk (the caller ignored the value type).
    #[inline]
    pub fn at(&self) -> (i64, f64) {
        match &self.inner {
            Inner::Xor(it) => it.at(),
            _ => panic!("ChunkIter::at called on a {:?} chunk", self.encoding()),
        }
    }

    /// The current integer histogram; valid after `next` or `seek` returned
    /// [`ValueType::Histogram`]. The reference is to a buffer reused for the next sample.
    ///
    /// # Panics
    ///
    /// If the chunk is not a histogram chunk (the caller ignored the value type).
    pub fn at_histogram(&self) -> (i64, &Histogram) {
        match &self.inner {
            Inner::Histogram(it) => it.at_histogram(),
            _ => panic!(
                "ChunkIter::at_histogram called on a {:?} chunk",
                self.encoding()
            ),
        }
    }

    /// The current histogram with float counts; valid after `next` or `seek` returned
    /// [`ValueType::Histogram`] or [`ValueType::FloatHistogram`] (integer histograms are
    /// converted, into a buffer reused for the next sample).
    ///
    /// # Panics
    ///
    /// If the chunk is an XOR chunk (the caller ignored the value type).
    pub fn at_float_histogram(&self) -> (i64, &FloatHistogram) {
        match &self.inner {
            Inner::Histogram(it) => it.at_float_histogram(),
            Inner::FloatHistogram(it) => it.at_float_histogram(),
            Inner::Xor(_) => panic!("ChunkIter::at_float_histogram called on an XOR chunk"),
        }
    }

    /// The current sample's timestamp, whatever its kind.
    #[inline]
    pub fn timestamp(&self) -> i64 {
        match &self.inner {
            Inner::Xor(it) => it.timestamp(),
            Inner::Histogram(it) => it.timestamp(),
            Inner::FloatHistogram(it) => it.timestamp(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunkenc::{FloatHistogramChunk, HistogramChunk, XorChunk};
    use crate::histogram::Span;

    fn xor_chunk() -> XorChunk {
        let mut c = XorChunk::new();
        let mut app = c.appender().unwrap();
        for (t, v) in [(10, 1.0), (20, 2.0), (30, 3.0)] {
            app.append(t, v).unwrap();
        }
        c
    }

    fn hist(t: i64) -> (i64, Histogram) {
        let h = Histogram {
            schema: 0,
            count: t as u64,
            sum: t as f64,
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            positive_buckets: vec![t, 1],
            ..Histogram::default()
        };
        (t, h)
    }

    #[test]
    fn next_reports_the_kind_of_every_encoding() {
        let x = xor_chunk();
        let mut h = HistogramChunk::new();
        let mut f = FloatHistogramChunk::new();
        for t in [10, 20] {
            let (t, hh) = hist(t);
            h.appender().unwrap().append(t, &hh).unwrap();
            f.appender().unwrap().append(t, &hh.to_float()).unwrap();
        }
        for (enc, data, vt, n) in [
            (Encoding::Xor, x.bytes(), ValueType::Float, 3),
            (Encoding::Histogram, h.bytes(), ValueType::Histogram, 2),
            (
                Encoding::FloatHistogram,
                f.bytes(),
                ValueType::FloatHistogram,
                2,
            ),
        ] {
            let mut it = ChunkIter::new(enc, data).unwrap();
            assert_eq!((it.encoding(), it.num_samples()), (enc, n));
            for _ in 0..n {
                assert_eq!(it.next(), Ok(Some(vt)));
            }
            assert_eq!(it.next(), Ok(None));
            assert_eq!(it.next(), Ok(None));
        }
    }

    #[test]
    fn integer_histograms_are_also_readable_as_float_histograms() {
        let mut h = HistogramChunk::new();
        let (t, hh) = hist(7);
        h.appender().unwrap().append(t, &hh).unwrap();
        let mut it = ChunkIter::new(Encoding::Histogram, h.bytes()).unwrap();
        assert_eq!(it.next(), Ok(Some(ValueType::Histogram)));
        let (ft, fh) = it.at_float_histogram();
        assert_eq!(ft, 7);
        assert_eq!(fh.positive_buckets, vec![7.0, 8.0]);
        assert_eq!(it.at_histogram().1.positive_buckets, vec![7, 1]);
    }

    #[test]
    fn seek_goes_forward_only() {
        let x = xor_chunk();
        let mut it = ChunkIter::new(Encoding::Xor, x.bytes()).unwrap();
        assert_eq!(it.seek(11), Ok(Some(ValueType::Float)));
        assert_eq!(it.at(), (20, 2.0));
        assert_eq!(it.seek(0), Ok(Some(ValueType::Float)));
        assert_eq!(it.timestamp(), 20);
        assert_eq!(it.seek(31), Ok(None));
    }

    #[test]
    fn reset_switches_chunks_and_encodings() {
        let x = xor_chunk();
        let mut h = HistogramChunk::new();
        let (t, hh) = hist(5);
        h.appender().unwrap().append(t, &hh).unwrap();
        let mut it = ChunkIter::new(Encoding::Histogram, h.bytes()).unwrap();
        assert_eq!(it.next(), Ok(Some(ValueType::Histogram)));
        it.reset(Encoding::Histogram, h.bytes()).unwrap();
        assert_eq!(it.next(), Ok(Some(ValueType::Histogram)));
        assert_eq!(it.at_histogram().1.count, 5);
        it.reset(Encoding::Xor, x.bytes()).unwrap();
        assert_eq!(it.next(), Ok(Some(ValueType::Float)));
        assert_eq!(it.at(), (10, 1.0));
    }

    #[test]
    #[should_panic(expected = "at_histogram called on a Xor chunk")]
    fn reading_the_wrong_kind_panics() {
        let x = xor_chunk();
        let mut it = ChunkIter::new(Encoding::Xor, x.bytes()).unwrap();
        it.next().unwrap();
        let _ = it.at_histogram();
    }
}
