//! Checkpoints: what the head still needs from a range of old segments, compacted into a
//! `checkpoint.NNNNNNNN` directory so the segments can be deleted.
//!
//! A checkpoint is a directory of segments in the WAL format, named after the last
//! segment it covers. [`checkpoint`] reads the previous checkpoint (if any) and segments
//! `from..=to`, keeps series for which the caller's predicate holds, samples, histograms
//! and exemplars at or after `mint`, tombstones of kept series that reach `mint`, and the
//! latest metadata of kept series; it drops m-map markers and record types it does not
//! know, as Prometheus does. It writes into `checkpoint.N.tmp`, fsyncs, renames it to
//! `checkpoint.N` and then deletes older checkpoints. A replay reads the last checkpoint,
//! then the segments after it ([`replay_reader`]).
//!
//! Damage in the segments being checkpointed is always an error, even at the end: a
//! checkpoint that silently lost records would hide the loss from every later replay.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::reader::Reader;
use super::segment::{list_segments, segment_path};
use super::source::SegmentSource;
use super::writer::{Wal, WalOptions};
use super::{Compression, DEFAULT_SEGMENT_SIZE};
use crate::record::{
    Encoder, RecordBatch, RecordType, RefExemplar, RefFloatHistogramSample, RefHistogramSample,
    RefMetadata, RefSample, RefSeries, RefTombstone, decode_exemplars,
    decode_float_histogram_samples, decode_histogram_samples, decode_metadata, decode_samples,
    decode_series, decode_tombstones, record_type,
};
use crate::{Error, Result, fileutil};

const PREFIX: &str = "checkpoint.";
const TMP_SUFFIX: &str = ".tmp";
/// Records are handed to the checkpoint's writer in batches of about this many bytes.
const FLUSH_BYTES: usize = 1 << 20;

/// How a checkpoint is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckpointOptions {
    /// Record compression of the checkpoint's segments.
    pub compression: Compression,
    /// Record layouts (V1 or start-time V2).
    pub encoder: Encoder,
}

/// What a checkpoint kept and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// Series records entries read.
    pub total_series: u64,
    /// Series dropped by the predicate.
    pub dropped_series: u64,
    /// Float and histogram samples read.
    pub total_samples: u64,
    /// Samples before `mint` dropped.
    pub dropped_samples: u64,
    /// Tombstone entries read.
    pub total_tombstones: u64,
    /// Tombstones dropped.
    pub dropped_tombstones: u64,
    /// Exemplars read.
    pub total_exemplars: u64,
    /// Exemplars before `mint` dropped.
    pub dropped_exemplars: u64,
    /// Metadata entries read.
    pub total_metadata: u64,
    /// Metadata entries dropped (of dropped series, or superseded by later ones).
    pub dropped_metadata: u64,
}

/// The directory of checkpoint `index` in `wal_dir`.
pub fn checkpoint_dir(wal_dir: &Path, index: u64) -> PathBuf {
    wal_dir.join(format!("{PREFIX}{index:08}"))
}

/// Checkpoints in `wal_dir` as (index, path), ascending. Temporary ones are skipped.
fn list_checkpoints(wal_dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let entries = fs::read_dir(wal_dir).map_err(|e| Error::io("read directory", wal_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read directory", wal_dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(digits) = name.strip_prefix(PREFIX) else {
            continue;
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(index) = digits.parse::<u64>() else {
            continue;
        };
        let path = entry.path();
        if !path.is_dir() {
            return Err(Error::corrupted(
                &path,
                "checkpoint",
                0,
                "checkpoint is not a directory",
            ));
        }
        out.push((index, path));
    }
    out.sort();
    Ok(out)
}

/// The most recent checkpoint in `wal_dir`: its directory and the last segment it
/// covers.
pub fn last_checkpoint(wal_dir: &Path) -> Result<Option<(PathBuf, u64)>> {
    Ok(list_checkpoints(wal_dir)?.pop().map(|(i, p)| (p, i)))
}

/// Deletes the checkpoints with an index below `before`.
pub fn delete_checkpoints(wal_dir: &Path, before: u64) -> Result<()> {
    let mut removed = false;
    for (i, p) in list_checkpoints(wal_dir)? {
        if i >= before {
            break;
        }
        fs::remove_dir_all(&p).map_err(|e| Error::io("remove checkpoint", &p, e))?;
        removed = true;
    }
    if removed {
        fileutil::sync_dir(wal_dir)?;
    }
    Ok(())
}

/// Removes `checkpoint.*.tmp` directories left by an interrupted checkpoint.
fn delete_temp_checkpoints(wal_dir: &Path) -> Result<()> {
    let entries = fs::read_dir(wal_dir).map_err(|e| Error::io("read directory", wal_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read directory", wal_dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(PREFIX) && name.ends_with(TMP_SUFFIX) {
            let p = entry.path();
            fs::remove_dir_all(&p).map_err(|e| Error::io("remove temporary checkpoint", &p, e))?;
        }
    }
    Ok(())
}

/// A reader for replaying `wal_dir`: the segments of the last checkpoint, then the WAL
/// segments after the last one it covers (older segments not yet deleted are skipped).
/// Fails when a segment between the checkpoint and the first later segment is missing.
pub fn replay_reader(wal_dir: &Path) -> Result<Reader> {
    let mut segs = list_segments(wal_dir)?;
    let mut sources = Vec::new();
    if let Some((cp, n)) = last_checkpoint(wal_dir)? {
        for index in list_segments(&cp)? {
            sources.push(SegmentSource {
                path: segment_path(&cp, index),
                index,
                checkpoint: true,
            });
        }
        segs.retain(|&i| i > n);
        if let Some(&first) = segs.first()
            && first != n + 1
        {
            return Err(Error::corrupted(
                wal_dir,
                "segment sequence",
                0,
                format!(
                    "checkpoint.{n:08} covers segments up to {n:08} but the next segment is {first:08}: missing {:08}..{:08}",
                    n + 1,
                    first - 1
                ),
            ));
        }
    }
    sources.extend(segs.into_iter().map(|index| SegmentSource {
        path: segment_path(wal_dir, index),
        index,
        checkpoint: false,
    }));
    Ok(Reader::new(sources))
}

/// Writes `checkpoint.<to>` from the last checkpoint and segments `from..=to` of
/// `wal_dir`, keeping series `keep` accepts and data at or after `mint` (see the
/// [module docs](self)), then deletes older checkpoints. Fails when `from` leaves a gap
/// after the last checkpoint, and on any damage in what it reads.
pub fn checkpoint(
    wal_dir: &Path,
    from: u64,
    to: u64,
    keep: impl FnMut(u64) -> bool,
    mint: i64,
    opts: CheckpointOptions,
) -> Result<CheckpointStats> {
    let mut from = from;
    let mut sources = Vec::new();
    if let Some((cp, n)) = last_checkpoint(wal_dir)? {
        if from > n + 1 {
            return Err(Error::InvalidArgument(format!(
                "checkpoint from segment {from} leaves a gap after checkpoint.{n:08}"
            )));
        }
        from = n + 1;
        for index in list_segments(&cp)? {
            sources.push(SegmentSource {
                path: segment_path(&cp, index),
                index,
                checkpoint: true,
            });
        }
    }
    sources.extend(
        list_segments(wal_dir)?
            .into_iter()
            .filter(|&i| i >= from && i <= to)
            .map(|index| SegmentSource {
                path: segment_path(wal_dir, index),
                index,
                checkpoint: false,
            }),
    );
    delete_temp_checkpoints(wal_dir)?;

    let final_dir = checkpoint_dir(wal_dir, to);
    let tmp_dir = fileutil::tmp_path(&final_dir);
    let res = write_checkpoint(sources, &tmp_dir, keep, mint, opts).and_then(|stats| {
        fileutil::sync_dir(&tmp_dir)?;
        if final_dir.exists() {
            fs::remove_dir_all(&final_dir)
                .map_err(|e| Error::io("remove checkpoint", &final_dir, e))?;
        }
        fileutil::rename_durable(&tmp_dir, &final_dir)?;
        Ok(stats)
    });
    if res.is_err() {
        let _ = fs::remove_dir_all(&tmp_dir);
    }
    let stats = res?;
    delete_checkpoints(wal_dir, to)?;
    Ok(stats)
}

/// Reusable decode buffers.
#[derive(Default)]
struct Buffers {
    series: Vec<RefSeries>,
    samples: Vec<RefSample>,
    histograms: Vec<RefHistogramSample>,
    float_histograms: Vec<RefFloatHistogramSample>,
    tombstones: Vec<RefTombstone>,
    exemplars: Vec<RefExemplar>,
    metadata: Vec<RefMetadata>,
}

fn write_checkpoint(
    sources: Vec<SegmentSource>,
    tmp_dir: &Path,
    mut keep: impl FnMut(u64) -> bool,
    mint: i64,
    opts: CheckpointOptions,
) -> Result<CheckpointStats> {
    fs::create_dir_all(tmp_dir).map_err(|e| Error::io("create directory", tmp_dir, e))?;
    let mut out = Wal::open(
        tmp_dir,
        WalOptions {
            segment_size: DEFAULT_SEGMENT_SIZE,
            compression: opts.compression,
        },
    )?;
    let enc = opts.encoder;
    let mut reader = Reader::new(sources).tolerate_torn_tail(false);
    let mut st = CheckpointStats::default();
    let mut b = Buffers::default();
    let mut batch = RecordBatch::new();
    let mut latest_metadata: BTreeMap<u64, RefMetadata> = BTreeMap::new();

    while let Some(rec) = reader.next_record()? {
        let res = match record_type(rec) {
            Some(RecordType::Series) => decode_series(rec, &mut b.series).map(|()| {
                let n = b.series.len();
                b.series.retain(|s| keep(s.series_ref));
                st.total_series += n as u64;
                st.dropped_series += (n - b.series.len()) as u64;
                enc.series(&b.series, &mut batch);
            }),
            Some(RecordType::Samples | RecordType::SamplesV2) => {
                decode_samples(rec, &mut b.samples).map(|()| {
                    let n = b.samples.len();
                    b.samples.retain(|s| s.t >= mint);
                    st.total_samples += n as u64;
                    st.dropped_samples += (n - b.samples.len()) as u64;
                    enc.samples(&b.samples, &mut batch);
                })
            }
            Some(
                RecordType::HistogramSamples
                | RecordType::CustomBucketsHistogramSamples
                | RecordType::HistogramSamplesV2,
            ) => decode_histogram_samples(rec, &mut b.histograms).map(|()| {
                let n = b.histograms.len();
                b.histograms.retain(|s| s.t >= mint);
                st.total_samples += n as u64;
                st.dropped_samples += (n - b.histograms.len()) as u64;
                enc.histogram_samples(&b.histograms, &mut batch);
            }),
            Some(
                RecordType::FloatHistogramSamples
                | RecordType::CustomBucketsFloatHistogramSamples
                | RecordType::FloatHistogramSamplesV2,
            ) => decode_float_histogram_samples(rec, &mut b.float_histograms).map(|()| {
                let n = b.float_histograms.len();
                b.float_histograms.retain(|s| s.t >= mint);
                st.total_samples += n as u64;
                st.dropped_samples += (n - b.float_histograms.len()) as u64;
                enc.float_histogram_samples(&b.float_histograms, &mut batch);
            }),
            Some(RecordType::Tombstones) => decode_tombstones(rec, &mut b.tombstones).map(|()| {
                let n = b.tombstones.len();
                b.tombstones
                    .retain(|s| keep(s.series_ref) && s.interval.maxt >= mint);
                st.total_tombstones += n as u64;
                st.dropped_tombstones += (n - b.tombstones.len()) as u64;
                enc.tombstones(&b.tombstones, &mut batch);
            }),
            Some(RecordType::Exemplars) => decode_exemplars(rec, &mut b.exemplars).map(|()| {
                let n = b.exemplars.len();
                b.exemplars.retain(|e| e.t >= mint);
                st.total_exemplars += n as u64;
                st.dropped_exemplars += (n - b.exemplars.len()) as u64;
                enc.exemplars(&b.exemplars, &mut batch);
            }),
            Some(RecordType::Metadata) => decode_metadata(rec, &mut b.metadata).map(|()| {
                st.total_metadata += b.metadata.len() as u64;
                for m in b.metadata.drain(..) {
                    if keep(m.series_ref) {
                        latest_metadata.insert(m.series_ref, m);
                    }
                }
            }),
            // M-map markers and types we do not know are not carried over.
            Some(RecordType::MmapMarkers) | None => Ok(()),
        };
        res.map_err(|e| reader.record_error(e))?;
        if batch.byte_len() > FLUSH_BYTES {
            out.log_batch(&batch)?;
            batch.clear();
        }
    }
    out.log_batch(&batch)?;
    st.dropped_metadata = st.total_metadata - latest_metadata.len() as u64;
    if !latest_metadata.is_empty() {
        let all: Vec<RefMetadata> = latest_metadata.into_values().collect();
        batch.clear();
        enc.metadata(&all, &mut batch);
        out.log_batch(&batch)?;
    }
    out.close()?;
    Ok(st)
}
