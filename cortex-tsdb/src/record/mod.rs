//! WAL records: the payloads the head writes into the write-ahead log, as Prometheus
//! encodes them.
//!
//! A record is an opaque byte string to the log ([`crate::wal`]); its first byte names
//! its type ([`RecordType`]) and the rest is a list of entries of that type. This module
//! owns the byte layouts of every type Prometheus defines (series, samples, tombstones,
//! exemplars, m-map markers, metadata, integer and float histogram samples, their
//! custom-bucket and start-time variants), the Rust types the head works with
//! ([`RefSeries`], [`RefSample`], ...), an [`Encoder`] that fills a [`RecordBatch`] for
//! one `log` call, and decoders that refill caller-provided `Vec`s so a replay does not
//! allocate per sample. The layouts are drawn in `FORMAT.md` next to this file.
//!
//! Decoders never panic on bad bytes: every problem is a [`RecordError`] carrying the
//! record type and the byte position inside the (decompressed) record. The WAL reader
//! turns it into [`crate::Error::Corrupted`] naming the segment file and offset
//! ([`crate::wal::Reader::record_error`]).
//!
//! Records of a type this module does not know ([`record_type`] returns `None`) are
//! skipped by a replay, as Prometheus does: a newer Prometheus may write types an older
//! reader does not understand.

mod batch;
mod codec;
mod exemplars;
mod histograms;
mod markers;
mod metadata;
mod samples;
mod series;
mod tombstones;

#[cfg(test)]
mod tests;

pub use batch::{Encoder, RecordBatch};
pub use exemplars::{RefExemplar, decode_exemplars, encode_exemplars};
pub use histograms::{
    RefFloatHistogramSample, RefHistogramSample, decode_float_histogram_samples,
    decode_histogram_samples, encode_float_histogram_samples, encode_histogram_samples,
};
pub use markers::{RefMmapMarker, decode_mmap_markers, encode_mmap_markers};
pub use metadata::{MetricType, RefMetadata, decode_metadata, encode_metadata};
pub use samples::{RefSample, decode_samples, encode_samples};
pub use series::{RefSeries, decode_series, encode_series};
pub use tombstones::{RefTombstone, decode_tombstones, encode_tombstones};

/// The type byte at the start of every record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RecordType {
    /// Series references and their labels.
    Series = 1,
    /// Float samples (BE64 base reference and timestamp, varint deltas).
    Samples = 2,
    /// Deleted time ranges of series.
    Tombstones = 3,
    /// Exemplars with their labels.
    Exemplars = 4,
    /// M-map markers: all samples of a series up to here are in head chunk files.
    MmapMarkers = 5,
    /// Metric type, unit and help of series.
    Metadata = 6,
    /// Integer native histogram samples with exponential buckets.
    HistogramSamples = 7,
    /// Float native histogram samples with exponential buckets.
    FloatHistogramSamples = 8,
    /// Integer native histogram samples with custom buckets (same layout as 7).
    CustomBucketsHistogramSamples = 9,
    /// Float native histogram samples with custom buckets (same layout as 8).
    CustomBucketsFloatHistogramSamples = 10,
    /// Float samples with start timestamps (varint first values, per-sample deltas).
    SamplesV2 = 11,
    /// Integer histogram samples with start timestamps.
    HistogramSamplesV2 = 12,
    /// Float histogram samples with start timestamps.
    FloatHistogramSamplesV2 = 13,
}

impl RecordType {
    /// The type for a type byte, `None` for bytes no Prometheus version writes.
    pub fn from_u8(b: u8) -> Option<RecordType> {
        use RecordType::*;
        Some(match b {
            1 => Series,
            2 => Samples,
            3 => Tombstones,
            4 => Exemplars,
            5 => MmapMarkers,
            6 => Metadata,
            7 => HistogramSamples,
            8 => FloatHistogramSamples,
            9 => CustomBucketsHistogramSamples,
            10 => CustomBucketsFloatHistogramSamples,
            11 => SamplesV2,
            12 => HistogramSamplesV2,
            13 => FloatHistogramSamplesV2,
            _ => return None,
        })
    }

    /// Prometheus' name of the type (as its `record.Type.String()` prints it).
    pub fn name(self) -> &'static str {
        use RecordType::*;
        match self {
            Series => "series",
            Samples => "samples",
            Tombstones => "tombstones",
            Exemplars => "exemplars",
            MmapMarkers => "mmapmarkers",
            Metadata => "metadata",
            HistogramSamples => "histogram_samples",
            FloatHistogramSamples => "float_histogram_samples",
            CustomBucketsHistogramSamples => "custom_buckets_histogram_samples",
            CustomBucketsFloatHistogramSamples => "custom_buckets_float_histogram_samples",
            SamplesV2 => "samples_v2",
            HistogramSamplesV2 => "histogram_samples_v2",
            FloatHistogramSamplesV2 => "float_histogram_samples_v2",
        }
    }
}

impl std::fmt::Display for RecordType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The type of a record, or `None` when it is empty or of a type unknown to us (a replay
/// skips those, as Prometheus does).
pub fn record_type(rec: &[u8]) -> Option<RecordType> {
    rec.first().copied().and_then(RecordType::from_u8)
}

/// A record that does not follow its layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{record} record, byte {offset}: {detail}")]
pub struct RecordError {
    /// The record type as its name, or `type N` for a byte we do not know.
    pub record: String,
    /// Byte position inside the decoded record where the problem was found.
    pub offset: usize,
    /// What is wrong.
    pub detail: String,
}
