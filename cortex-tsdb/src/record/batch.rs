//! Building the records of one commit: [`RecordBatch`] holds encoded records in one
//! reusable buffer, and [`Encoder`] appends records to it the way Prometheus' head
//! encodes them (V1 or start-time V2 layouts, custom-bucket histograms split into their
//! own records).
//!
//! A head appender clears its batch, encodes what the commit adds, and hands the batch to
//! [`crate::wal::Wal::log_batch`] in one call.

use super::RecordType;
use super::exemplars::{RefExemplar, encode_exemplars};
use super::histograms::{
    RefFloatHistogramSample, RefHistogramSample, encode_v1, encode_v2, uses_custom_buckets,
};
use super::markers::{RefMmapMarker, encode_mmap_markers};
use super::metadata::{RefMetadata, encode_metadata};
use super::samples::{RefSample, encode_samples, encode_samples_v2};
use super::series::{RefSeries, encode_series};
use super::tombstones::{RefTombstone, encode_tombstones};

/// Encoded records in one buffer, in the order they were added.
#[derive(Debug, Clone, Default)]
pub struct RecordBatch {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl RecordBatch {
    /// An empty batch.
    pub fn new() -> RecordBatch {
        RecordBatch::default()
    }

    /// Removes every record, keeping the buffers.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Total bytes of all records.
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// The `i`-th record.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.buf.get(start..end)
    }

    /// The records in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        (0..self.ends.len()).map(move |i| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            &self.buf[start..self.ends[i]]
        })
    }

    /// Appends an already encoded record.
    pub fn push(&mut self, record: &[u8]) {
        self.buf.extend_from_slice(record);
        self.ends.push(self.buf.len());
    }

    /// Appends one record written by `encode` into the batch's buffer.
    fn push_with(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        encode(&mut self.buf);
        self.ends.push(self.buf.len());
    }
}

/// Encodes head data into records, as Prometheus' `record.Encoder` does. Every method
/// appends nothing for an empty slice and otherwise one record (histogram methods may
/// append two, see [`Encoder::histogram_samples`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Encoder {
    /// Write samples and histograms in the V2 layouts that carry start timestamps (types
    /// 11, 12, 13; Prometheus' `EnableSTStorage`). Off by default: Prometheus 2.x and
    /// 3.x releases before them cannot read these types.
    pub samples_v2: bool,
}

impl Encoder {
    /// Appends a series record.
    pub fn series(&self, series: &[RefSeries], batch: &mut RecordBatch) {
        if !series.is_empty() {
            batch.push_with(|out| encode_series(series, out));
        }
    }

    /// Appends a samples record (type 2, or 11 with `samples_v2`).
    pub fn samples(&self, samples: &[RefSample], batch: &mut RecordBatch) {
        if samples.is_empty() {
            return;
        }
        if self.samples_v2 {
            batch.push_with(|out| encode_samples_v2(samples, out));
        } else {
            batch.push_with(|out| encode_samples(samples, out));
        }
    }

    /// Appends a tombstones record.
    pub fn tombstones(&self, stones: &[RefTombstone], batch: &mut RecordBatch) {
        if !stones.is_empty() {
            batch.push_with(|out| encode_tombstones(stones, out));
        }
    }

    /// Appends an exemplars record.
    pub fn exemplars(&self, exemplars: &[RefExemplar], batch: &mut RecordBatch) {
        if !exemplars.is_empty() {
            batch.push_with(|out| encode_exemplars(exemplars, out));
        }
    }

    /// Appends an m-map markers record.
    pub fn mmap_markers(&self, markers: &[RefMmapMarker], batch: &mut RecordBatch) {
        if !markers.is_empty() {
            batch.push_with(|out| encode_mmap_markers(markers, out));
        }
    }

    /// Appends a metadata record.
    pub fn metadata(&self, metadata: &[RefMetadata], batch: &mut RecordBatch) {
        if !metadata.is_empty() {
            batch.push_with(|out| encode_metadata(metadata, out));
        }
    }

    /// Appends integer histogram records: with `samples_v2` one type-12 record;
    /// otherwise a type-7 record with the exponential-bucket histograms and a type-9
    /// record with the custom-bucket ones (each only when non-empty).
    pub fn histogram_samples(&self, samples: &[RefHistogramSample], batch: &mut RecordBatch) {
        self.histograms(
            samples,
            batch,
            [
                RecordType::HistogramSamples,
                RecordType::CustomBucketsHistogramSamples,
                RecordType::HistogramSamplesV2,
            ],
        );
    }

    /// Appends float histogram records, split like [`Encoder::histogram_samples`]
    /// (types 8 and 10, or 13).
    pub fn float_histogram_samples(
        &self,
        samples: &[RefFloatHistogramSample],
        batch: &mut RecordBatch,
    ) {
        self.histograms(
            samples,
            batch,
            [
                RecordType::FloatHistogramSamples,
                RecordType::CustomBucketsFloatHistogramSamples,
                RecordType::FloatHistogramSamplesV2,
            ],
        );
    }

    fn histograms<S: super::histograms::HistSample>(
        &self,
        samples: &[S],
        batch: &mut RecordBatch,
        [exponential, custom, v2]: [RecordType; 3],
    ) {
        if samples.is_empty() {
            return;
        }
        if self.samples_v2 {
            batch.push_with(|out| encode_v2(v2, samples, out));
            return;
        }
        let exp = samples.iter().filter(|s| !uses_custom_buckets(*s));
        if exp.clone().next().is_some() {
            batch.push_with(|out| encode_v1(exponential, exp, out));
        }
        let cb = samples.iter().filter(|s| uses_custom_buckets(*s));
        if cb.clone().next().is_some() {
            batch.push_with(|out| encode_v1(custom, cb, out));
        }
    }
}
