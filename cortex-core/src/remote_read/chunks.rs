//! Re-encoding one series' samples, in time order, into TSDB chunks for a streamed
//! response: floats into XOR chunks (encoding 1), native histograms into float
//! histogram chunks (encoding 3), the encodings `cortex_tsdb::chunkenc` writes byte for
//! byte as Prometheus does.
//!
//! A chunk holds at most [`MAX_SAMPLES_PER_CHUNK`] samples, Prometheus' target per head
//! chunk. A change between float and histogram samples starts a new chunk; histogram
//! chunks are also cut or recoded where Prometheus' head would (counter reset, schema or
//! zero-threshold change, new buckets), which also sets each chunk's counter-reset
//! header the way the head does. Which chunk boundaries a series gets is not part of
//! the protocol; readers only see the samples.

use cortex_tsdb::chunkenc::{AppendError, AppendOutcome, Encoding, FloatHistogramChunk, XorChunk};
use cortex_tsdb::histogram::FloatHistogram;

use crate::querier::SampleValue;

/// Most samples one chunk holds (Prometheus' `samplesPerChunk` default).
pub const MAX_SAMPLES_PER_CHUNK: u16 = 120;

/// One finished chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedChunk {
    /// The chunk encoding.
    pub encoding: Encoding,
    /// Timestamp of the first sample (ms).
    pub min_time: i64,
    /// Timestamp of the last sample (ms).
    pub max_time: i64,
    /// The chunk bytes, as a TSDB chunk file stores them after the encoding byte.
    pub data: Vec<u8>,
}

enum Open {
    Xor(XorChunk),
    FloatHist(FloatHistogramChunk),
}

/// The chunk being filled and the time range of its samples.
struct OpenChunk {
    chunk: Open,
    min_time: i64,
    max_time: i64,
}

impl OpenChunk {
    fn finish(self) -> EncodedChunk {
        let (encoding, data) = match self.chunk {
            Open::Xor(c) => (Encoding::Xor, c.into_bytes()),
            Open::FloatHist(c) => (Encoding::FloatHistogram, c.into_bytes()),
        };
        EncodedChunk {
            encoding,
            min_time: self.min_time,
            max_time: self.max_time,
            data,
        }
    }
}

/// Builds chunks from samples pushed in increasing timestamp order.
#[derive(Default)]
pub struct ChunkEncoder {
    open: Option<OpenChunk>,
}

impl ChunkEncoder {
    /// An encoder with no open chunk.
    pub fn new() -> ChunkEncoder {
        ChunkEncoder::default()
    }

    /// True when no sample is waiting in an open chunk.
    pub fn is_empty(&self) -> bool {
        self.open.is_none()
    }

    /// Appends a sample (timestamps must increase). Returns the chunk this sample
    /// completed, if it had to start a new one; the sample itself is then the first of
    /// the new open chunk.
    pub fn push(
        &mut self,
        t: i64,
        value: &SampleValue,
    ) -> Result<Option<EncodedChunk>, AppendError> {
        match value {
            SampleValue::Float(v) => self.push_float(t, *v),
            SampleValue::Histogram(h) => self.push_histogram(t, h),
        }
    }

    /// Finishes the open chunk, if any.
    pub fn finish(&mut self) -> Option<EncodedChunk> {
        self.open.take().map(OpenChunk::finish)
    }

    fn push_float(&mut self, t: i64, v: f64) -> Result<Option<EncodedChunk>, AppendError> {
        if let Some(open) = &mut self.open
            && let Open::Xor(c) = &mut open.chunk
            && c.num_samples() < MAX_SAMPLES_PER_CHUNK
        {
            c.appender()?.append(t, v)?;
            open.max_time = t;
            return Ok(None);
        }
        let mut c = XorChunk::new();
        c.appender()?.append(t, v)?;
        Ok(self.start(Open::Xor(c), t))
    }

    fn push_histogram(
        &mut self,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<Option<EncodedChunk>, AppendError> {
        let mut fresh = FloatHistogramChunk::new();
        if let Some(OpenChunk {
            chunk: Open::FloatHist(c),
            max_time,
            ..
        }) = &mut self.open
        {
            if c.num_samples() >= MAX_SAMPLES_PER_CHUNK {
                // Cut for size: the previous chunk decides the new one's header.
                let prev = c.appender()?;
                fresh
                    .appender()?
                    .append_histogram(Some(&prev), t, h, false)?;
            } else {
                match c.appender()?.append_histogram(None, t, h, false)? {
                    AppendOutcome::Appended => {
                        *max_time = t;
                        return Ok(None);
                    }
                    AppendOutcome::Recoded(n) => {
                        *c = n;
                        *max_time = t;
                        return Ok(None);
                    }
                    AppendOutcome::NewChunk(n) => fresh = n,
                }
            }
        } else {
            fresh.appender()?.append_histogram(None, t, h, false)?;
        }
        Ok(self.start(Open::FloatHist(fresh), t))
    }

    /// Makes `chunk` (holding one sample at `t`) the open chunk and returns the
    /// previous one, finished.
    fn start(&mut self, chunk: Open, t: i64) -> Option<EncodedChunk> {
        let done = self.open.take().map(OpenChunk::finish);
        self.open = Some(OpenChunk {
            chunk,
            min_time: t,
            max_time: t,
        });
        done
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cortex_tsdb::chunkenc::{ChunkIter, CounterResetHeader, FloatHistogramIter, ValueType};
    use cortex_tsdb::histogram::{CounterResetHint, Span};
    use cortex_tsdb::value::STALE_NAN;

    use super::*;

    fn hist(count: f64) -> FloatHistogram {
        FloatHistogram {
            schema: 1,
            count,
            sum: count * 2.0,
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            positive_buckets: vec![count / 2.0, count / 2.0],
            ..FloatHistogram::default()
        }
    }

    fn encode(samples: &[(i64, SampleValue)]) -> Vec<EncodedChunk> {
        let mut enc = ChunkEncoder::new();
        let mut out = Vec::new();
        for (t, v) in samples {
            out.extend(enc.push(*t, v).unwrap());
        }
        out.extend(enc.finish());
        out
    }

    /// Decodes chunks back to samples (floats by bits).
    fn decode(chunks: &[EncodedChunk]) -> Vec<(i64, Result<u64, FloatHistogram>)> {
        let mut out = Vec::new();
        for c in chunks {
            let mut it = ChunkIter::new(c.encoding, &c.data).unwrap();
            while let Some(vt) = it.next().unwrap() {
                match vt {
                    ValueType::Float => {
                        let (t, v) = it.at();
                        out.push((t, Ok(v.to_bits())));
                    }
                    _ => {
                        let (t, h) = it.at_float_histogram();
                        out.push((t, Err(h.clone())));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn floats_fill_chunks_of_120_with_exact_bits() {
        let samples: Vec<(i64, SampleValue)> = (0..250)
            .map(|i| {
                let v = if i == 7 { STALE_NAN } else { i as f64 * 0.1 };
                (i * 15, SampleValue::Float(v))
            })
            .collect();
        let chunks = encode(&samples);
        let sizes: Vec<u16> = chunks
            .iter()
            .map(|c| ChunkIter::new(c.encoding, &c.data).unwrap().num_samples())
            .collect();
        assert_eq!(sizes, vec![120, 120, 10]);
        assert_eq!((chunks[0].min_time, chunks[0].max_time), (0, 119 * 15));
        assert_eq!(
            (chunks[2].min_time, chunks[2].max_time),
            (240 * 15, 249 * 15)
        );
        assert!(chunks.iter().all(|c| c.encoding == Encoding::Xor));
        let want: Vec<_> = samples
            .iter()
            .map(|(t, v)| match v {
                SampleValue::Float(f) => (*t, Ok(f.to_bits())),
                SampleValue::Histogram(_) => unreachable!(),
            })
            .collect();
        assert_eq!(decode(&chunks), want);
    }

    #[test]
    fn kind_changes_and_counter_resets_cut_chunks() {
        let mut samples = vec![
            (1, SampleValue::Float(1.0)),
            (2, SampleValue::Histogram(Arc::new(hist(4.0)))),
            (3, SampleValue::Histogram(Arc::new(hist(6.0)))),
            // A counter reset.
            (4, SampleValue::Histogram(Arc::new(hist(2.0)))),
            (5, SampleValue::Float(2.0)),
        ];
        let chunks = encode(&samples);
        let kinds: Vec<_> = chunks.iter().map(|c| (c.encoding, c.min_time)).collect();
        assert_eq!(
            kinds,
            vec![
                (Encoding::Xor, 1),
                (Encoding::FloatHistogram, 2),
                (Encoding::FloatHistogram, 4),
                (Encoding::Xor, 5)
            ]
        );
        let header = FloatHistogramIter::new(&chunks[2].data)
            .unwrap()
            .counter_reset_header();
        assert_eq!(header, CounterResetHeader::CounterReset);
        let got = decode(&chunks);
        assert_eq!(got.len(), samples.len());
        // The decoded histograms carry the chunk's hints; compare the rest.
        for ((t, want), (gt, g)) in samples.iter_mut().zip(&got) {
            assert_eq!(t, gt);
            match (want, g) {
                (SampleValue::Float(f), Ok(bits)) => assert_eq!(f.to_bits(), *bits),
                (SampleValue::Histogram(h), Err(g)) => {
                    let g = FloatHistogram {
                        counter_reset_hint: CounterResetHint::Unknown,
                        ..g.clone()
                    };
                    assert_eq!(**h, g);
                }
                other => panic!("kind mismatch {other:?}"),
            }
        }
    }

    #[test]
    fn histogram_chunks_are_cut_at_120_samples() {
        let samples: Vec<(i64, SampleValue)> = (0..130)
            .map(|i| (i, SampleValue::Histogram(Arc::new(hist(i as f64)))))
            .collect();
        let chunks = encode(&samples);
        assert_eq!(chunks.len(), 2);
        assert_eq!((chunks[1].min_time, chunks[1].max_time), (120, 129));
        let header = FloatHistogramIter::new(&chunks[1].data)
            .unwrap()
            .counter_reset_header();
        assert_eq!(header, CounterResetHeader::NotCounterReset);
        assert_eq!(decode(&chunks).len(), 130);
    }

    #[test]
    fn a_histogram_whose_buckets_do_not_match_its_spans_is_an_error() {
        let mut h = hist(1.0);
        h.positive_buckets.push(1.0);
        let mut enc = ChunkEncoder::new();
        assert!(enc.push(1, &SampleValue::Histogram(Arc::new(h))).is_err());
    }
}
