//! The `STREAMED_XOR_CHUNKS` response as a lazy sequence of frames
//! ([`StreamedFrames`]), so a server sends each frame as soon as it is built and holds
//! at most one frame's chunks in memory.
//!
//! Framing follows Prometheus' `StreamChunkedReadResponses`: queries in request order,
//! series in label order, every frame holds chunks of exactly one series (Prometheus'
//! client reads only the first series of a frame, so packing several would lose data).
//! A frame's budget is the byte limit minus the protobuf size of the series' labels;
//! chunks are added while budget is left, so a frame overshoots the limit by at most one
//! chunk, and a long series continues in further frames with the same labels. Series
//! without samples in the query's range send no frame.
//!
//! The producer keeps no borrow of storage between frames: it remembers the next
//! timestamp to read and the chunk being filled, and re-opens the series' iterator with
//! a seek for the next frame.

use std::ops::ControlFlow;
use std::sync::Arc;

use bytes::Bytes;

use super::chunks::{ChunkEncoder, EncodedChunk};
use super::error::RemoteReadError;
use super::frame::{Chunk, ChunkType, FrameWriter, chunk_size, label_size, put_chunked_series};
use super::select::{scan_samples, select_sorted};
use super::{Query, ReadOptions, ReadRequest};
use crate::querier::{Querier, Sample, Series};
use crate::remote_write::wire::{put_bytes_field, put_message, put_varint_field};

/// The frames of a streamed response, produced one per [`Iterator::next`] call. After
/// an error it yields nothing more.
pub struct StreamedFrames<'q> {
    querier: &'q dyn Querier,
    queries: &'q [Query],
    max_bytes_in_frame: usize,
    /// Index of the query whose series are being sent.
    query: usize,
    /// Its series not yet started.
    pending: std::vec::IntoIter<Arc<dyn Series>>,
    current: Option<SeriesState>,
    writer: FrameWriter,
    chunks: Vec<EncodedChunk>,
    batch: Vec<Sample>,
    done: bool,
}

/// A series being sent.
struct SeriesState {
    series: Arc<dyn Series>,
    /// The series' `labels` fields, encoded once.
    labels: Vec<u8>,
    /// Chunk bytes a frame may take (the frame limit less the labels' size).
    budget: i64,
    encoder: ChunkEncoder,
    /// The next timestamp to read; `None` once storage has nothing more.
    resume: Option<i64>,
}

impl<'q> StreamedFrames<'q> {
    /// Starts answering `req` (selecting the first query's series right away, so a
    /// storage failure there is returned before any frame exists).
    pub fn new(
        req: &'q ReadRequest,
        querier: &'q dyn Querier,
        opts: &ReadOptions,
    ) -> Result<StreamedFrames<'q>, RemoteReadError> {
        let pending = match req.queries.first() {
            Some(q) => select_sorted(querier, q)?,
            None => Vec::new(),
        };
        Ok(StreamedFrames {
            querier,
            queries: &req.queries,
            max_bytes_in_frame: opts.max_bytes_in_frame,
            query: 0,
            pending: pending.into_iter(),
            current: None,
            writer: FrameWriter::new(),
            chunks: Vec::new(),
            batch: Vec::new(),
            done: false,
        })
    }

    /// Moves to the next series, selecting further queries as needed; false at the end.
    fn advance(&mut self) -> Result<bool, RemoteReadError> {
        loop {
            if let Some(series) = self.pending.next() {
                let Some(q) = self.queries.get(self.query) else {
                    return Ok(false);
                };
                let mut labels = Vec::new();
                let mut size = 0usize;
                for l in series.labels() {
                    size += label_size(l.name, l.value);
                    put_message(&mut labels, 1, |b| {
                        put_bytes_field(b, 1, l.name.as_bytes());
                        put_bytes_field(b, 2, l.value.as_bytes());
                    });
                }
                let budget = self.max_bytes_in_frame as i64 - size as i64;
                self.current = Some(SeriesState {
                    series,
                    labels,
                    budget,
                    encoder: ChunkEncoder::new(),
                    resume: Some(q.start_timestamp_ms),
                });
                return Ok(true);
            }
            self.query += 1;
            let Some(q) = self.queries.get(self.query) else {
                return Ok(false);
            };
            self.pending = select_sorted(self.querier, q)?.into_iter();
        }
    }

    /// Fills `self.chunks` with the current series' next frame worth of chunks.
    /// Returns true when the series is finished.
    fn fill(&mut self) -> Result<bool, RemoteReadError> {
        let query = self.query;
        let Some(q) = self.queries.get(query) else {
            return Ok(true);
        };
        let Some(st) = self.current.as_mut() else {
            return Ok(true);
        };
        self.chunks.clear();
        let SeriesState {
            series,
            budget,
            encoder,
            resume,
            ..
        } = st;
        let chunks = &mut self.chunks;
        let mut left = *budget;
        let mut full = false;
        if let Some(from) = *resume {
            let encode_err = |reason: String| RemoteReadError::ChunkEncoding {
                query,
                series: series.labels().to_string(),
                reason,
            };
            scan_samples(&**series, from, q.end_timestamp_ms, &mut self.batch, |s| {
                *resume = s.t.checked_add(1);
                let done = encoder
                    .push(s.t, &s.value)
                    .map_err(|e| encode_err(e.to_string()))?;
                if let Some(c) = done {
                    left -= chunk_bytes(&c);
                    chunks.push(c);
                    if left <= 0 {
                        full = true;
                        return Ok(ControlFlow::Break(()));
                    }
                }
                Ok(if resume.is_none() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            })?;
        }
        if full {
            return Ok(false);
        }
        chunks.extend(encoder.finish());
        Ok(true)
    }

    fn frame(&mut self) -> Result<Option<Bytes>, RemoteReadError> {
        loop {
            if self.current.is_none() && !self.advance()? {
                return Ok(None);
            }
            let finished = self.fill()?;
            let labels = match (&self.current, finished) {
                (Some(st), false) => st.labels.clone(),
                _ => match self.current.take() {
                    Some(st) => st.labels,
                    None => Vec::new(),
                },
            };
            if self.chunks.is_empty() {
                continue;
            }
            let b = self.writer.begin();
            put_chunked_series(
                b,
                &labels,
                self.chunks.iter().map(|c| Chunk {
                    min_time_ms: c.min_time,
                    max_time_ms: c.max_time,
                    chunk_type: ChunkType::from_encoding(c.encoding),
                    data: &c.data,
                }),
            );
            put_varint_field(b, 2, self.query as u64);
            return Ok(Some(self.writer.finish()));
        }
    }
}

fn chunk_bytes(c: &EncodedChunk) -> i64 {
    chunk_size(
        c.min_time,
        c.max_time,
        ChunkType::from_encoding(c.encoding),
        c.data.len(),
    ) as i64
}

impl Iterator for StreamedFrames<'_> {
    type Item = Result<Bytes, RemoteReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.frame() {
            Ok(Some(frame)) => Some(Ok(frame)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
