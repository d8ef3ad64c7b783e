//! Rebuilding the head when a TSDB opens: full chunks from the head chunk files, then
//! every record of the WAL (its last checkpoint first).
//!
//! Samples already covered by a chunk file are skipped; samples before the head's valid
//! range (they are in blocks) are skipped; a torn tail of the last WAL segment is reported
//! and cut off (not in read-only mode); damage anywhere else in the WAL stops the open
//! with an error naming the segment and offset. Damaged head chunk files are not fatal:
//! the WAL holds the same samples, so the files are deleted and the samples replayed from
//! the log instead, and the report says so. Exemplar records refill the exemplar
//! buffer (when it is enabled), skipping exemplars before the head's valid range.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::sync_channel;

use rustc_hash::FxHashMap;

use super::Head;
use super::replay_workers::FloatAppliers;
use super::series::{AppendCtx, MemSeries, MmappedChunk};
use crate::Result;
use crate::exemplar::Exemplar;
use crate::histogram::{FloatHistogram, Histogram};
use crate::record::{
    RecordType, RefExemplar, RefFloatHistogramSample, RefHistogramSample, RefSample, RefSeries,
    RefTombstone, decode_exemplars, decode_float_histogram_samples, decode_histogram_samples,
    decode_samples, decode_series, decode_tombstones, record_type,
};
use crate::wal::{TornTail, repair_torn_tail, replay_reader};

/// What a replay found.
#[derive(Debug, Default, Clone)]
pub struct ReplayStats {
    /// Series created from WAL series records.
    pub series: u64,
    /// Samples and histograms applied.
    pub samples: u64,
    /// Chunks loaded from head chunk files.
    pub mmapped_chunks: u64,
    /// Samples skipped because a head chunk file already held them.
    pub samples_in_chunk_files: u64,
    /// Samples before the head's valid range (already in blocks).
    pub samples_before_head: u64,
    /// Samples and exemplars for series references no series record introduced.
    pub unknown_series_refs: u64,
    /// Exemplars stored in the exemplar buffer.
    pub exemplars: u64,
    /// Samples out of order for their series (outside any out-of-order window).
    pub out_of_order: u64,
    /// The end of the last WAL segment that a crash left incomplete, if any.
    pub torn_tail: Option<TornTail>,
    /// Why the head chunk files were discarded, if they were.
    pub chunk_files_discarded: Option<String>,
    /// WAL records read.
    pub records: u64,
}

pub(super) fn replay(head: Head) -> Result<(Head, ReplayStats)> {
    let mut stats = ReplayStats::default();
    let min_valid = head.min_valid_time();

    let mut mmapped: FxHashMap<u64, Vec<MmappedChunk>> = FxHashMap::default();
    let loaded = head.chunk_files.for_each_chunk(|c| {
        if c.max_time >= min_valid {
            mmapped.entry(c.series_ref).or_default().push(MmappedChunk {
                chunk_ref: c.chunk_ref,
                min_time: c.min_time,
                max_time: c.max_time,
                num_samples: c.num_samples,
                encoding: c.encoding,
            });
        }
        Ok(())
    });
    if let Err(e) = loaded {
        stats.chunk_files_discarded = Some(e.to_string());
        mmapped.clear();
        head.chunk_files.delete_all()?;
    }
    for v in mmapped.values_mut() {
        v.sort_by_key(|c| c.min_time);
    }

    let wal_dir = head.dir.join("wal");
    if !wal_dir.exists() {
        return Ok((head, stats));
    }
    let mut reader = replay_reader(&wal_dir)?.tolerate_torn_tail(true);
    let mut by_ref: FxHashMap<u64, Arc<MemSeries>> = FxHashMap::default();
    // WAL references of series records that repeat another reference's labels, and the
    // reference of the series they stand for: their samples are applied under it.
    let mut aliases: FxHashMap<u64, u64> = FxHashMap::default();
    let mut series_buf: Vec<RefSeries> = Vec::new();
    let mut samples: Vec<RefSample> = Vec::new();
    let mut hists: Vec<RefHistogramSample> = Vec::new();
    let mut fhists: Vec<RefFloatHistogramSample> = Vec::new();
    let mut stones: Vec<RefTombstone> = Vec::new();
    let mut exemplars: Vec<RefExemplar> = Vec::new();
    let keep_exemplars = head.exemplars.is_enabled();
    let mut max_ref = 0u64;
    let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
    let files = head.chunk_files.clone();
    let ctx = AppendCtx {
        files: &files,
        compat: head.opts.byte_compat,
        chunk_range: head.opts.chunk_range,
    };
    let window = head.opts.out_of_order_window;

    // Float samples are applied by worker threads (see `replay_workers`); everything
    // else in WAL order on this thread.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    std::thread::scope(|scope| -> Result<()> {
        let mut appliers = FloatAppliers::start(scope, workers, ctx, window, min_valid);
        // New series go into the postings on a thread of their own, which the loop
        // would otherwise spend a good part of its time on.
        let (index_tx, index_rx) = sync_channel::<Vec<Arc<MemSeries>>>(64);
        let postings = &head.postings;
        let indexer = scope.spawn(move || {
            for batch in index_rx {
                for s in batch {
                    postings.add(s.series_ref, &s.labels);
                }
            }
        });
        let mut to_index: Vec<Arc<MemSeries>> = Vec::new();
        let read = (|| -> Result<()> {
            while let Some(rec) = reader.next_record()? {
                stats.records += 1;
                let Some(kind) = record_type(rec) else {
                    continue;
                };
                match kind {
                    RecordType::Series => {
                        decode_series(rec, &mut series_buf).map_err(|e| reader.record_error(e))?;
                        for rs in series_buf.drain(..) {
                            max_ref = max_ref.max(rs.series_ref);
                            let (s, created) = head.create_unindexed(rs.series_ref, &rs.labels);
                            s.logged.store(true, Ordering::Release);
                            if created {
                                stats.series += 1;
                                to_index.push(s.clone());
                                if let Some(chunks) = mmapped.remove(&rs.series_ref) {
                                    let mut st = s.lock();
                                    for c in &chunks {
                                        st.total_samples += u64::from(c.num_samples);
                                        st.max_time = st.max_time.max(c.max_time);
                                        mint = mint.min(c.min_time);
                                        maxt = maxt.max(c.max_time);
                                    }
                                    stats.mmapped_chunks += chunks.len() as u64;
                                    st.mmapped = chunks.into_boxed_slice();
                                }
                            }
                            if s.series_ref == rs.series_ref {
                                if !aliases.is_empty() {
                                    aliases.remove(&rs.series_ref);
                                }
                                appliers.add_series(rs.series_ref, s.clone());
                            } else {
                                aliases.insert(rs.series_ref, s.series_ref);
                            }
                            by_ref.insert(rs.series_ref, s);
                        }
                        if !to_index.is_empty() {
                            // The indexer only ends when the channel closes.
                            let _ = index_tx.send(std::mem::take(&mut to_index));
                        }
                    }
                    RecordType::Samples | RecordType::SamplesV2 => {
                        decode_samples(rec, &mut samples).map_err(|e| reader.record_error(e))?;
                        // Unknown references and samples before the head are counted
                        // by the workers, which know the series.
                        if aliases.is_empty() {
                            for rs in &samples {
                                appliers.push(rs.series_ref, rs.t, rs.v);
                            }
                        } else {
                            for rs in &samples {
                                let r = aliases.get(&rs.series_ref).copied();
                                appliers.push(r.unwrap_or(rs.series_ref), rs.t, rs.v);
                            }
                        }
                    }
                    RecordType::HistogramSamples
                    | RecordType::HistogramSamplesV2
                    | RecordType::CustomBucketsHistogramSamples => {
                        appliers.barrier();
                        decode_histogram_samples(rec, &mut hists)
                            .map_err(|e| reader.record_error(e))?;
                        for rs in &hists {
                            let Some(s) =
                                sample_series(&by_ref, rs.series_ref, rs.t, min_valid, &mut stats)
                            else {
                                continue;
                            };
                            let h = Hist::Int(&rs.h);
                            apply_histogram(s, rs.t, h, ctx, &mut stats, &mut mint, &mut maxt)?;
                        }
                    }
                    RecordType::FloatHistogramSamples
                    | RecordType::FloatHistogramSamplesV2
                    | RecordType::CustomBucketsFloatHistogramSamples => {
                        appliers.barrier();
                        decode_float_histogram_samples(rec, &mut fhists)
                            .map_err(|e| reader.record_error(e))?;
                        for rs in &fhists {
                            let Some(s) =
                                sample_series(&by_ref, rs.series_ref, rs.t, min_valid, &mut stats)
                            else {
                                continue;
                            };
                            let h = Hist::Float(&rs.fh);
                            apply_histogram(s, rs.t, h, ctx, &mut stats, &mut mint, &mut maxt)?;
                        }
                    }
                    RecordType::Tombstones => {
                        appliers.barrier();
                        decode_tombstones(rec, &mut stones).map_err(|e| reader.record_error(e))?;
                        let mut t = head.tombstones.write().unwrap_or_else(|e| e.into_inner());
                        for st in &stones {
                            t.add(st.series_ref, st.interval);
                        }
                    }
                    RecordType::Exemplars if keep_exemplars => {
                        appliers.barrier();
                        decode_exemplars(rec, &mut exemplars)
                            .map_err(|e| reader.record_error(e))?;
                        for re in exemplars.drain(..) {
                            if re.t < min_valid {
                                continue;
                            }
                            let Some(s) = by_ref.get(&re.series_ref) else {
                                stats.unknown_series_refs += 1;
                                continue;
                            };
                            let e = Exemplar {
                                labels: re.labels,
                                value: re.v,
                                ts: re.t,
                            };
                            // Out-of-order ones cannot be in a WAL we wrote; like Prometheus, a
                            // replay skips whatever the buffer refuses.
                            if let Ok(true) = head.exemplars.add(s.series_ref, &s.labels, &e) {
                                stats.exemplars += 1;
                            }
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        })();
        let applied = appliers.finish();
        drop(index_tx);
        if let Err(panic) = indexer.join() {
            std::panic::resume_unwind(panic);
        }
        read?;
        let applied = applied?;
        stats.samples += applied.samples;
        stats.samples_in_chunk_files += applied.samples_in_chunk_files;
        stats.out_of_order += applied.out_of_order;
        stats.unknown_series_refs += applied.unknown_series_refs;
        stats.samples_before_head += applied.samples_before_head;
        mint = mint.min(applied.mint);
        maxt = maxt.max(applied.maxt);
        Ok(())
    })?;
    stats.torn_tail = reader.torn_tail().cloned();
    if let Some(tail) = &stats.torn_tail
        && !head.opts.read_only
    {
        repair_torn_tail(tail)?;
    }
    // Out-of-order samples, from the write-behind log.
    let wbl_dir = head.dir.join("wbl");
    if wbl_dir.exists() {
        let mut reader = replay_reader(&wbl_dir)?.tolerate_torn_tail(true);
        while let Some(rec) = reader.next_record()? {
            stats.records += 1;
            if !matches!(
                record_type(rec),
                Some(RecordType::Samples | RecordType::SamplesV2)
            ) {
                continue;
            }
            decode_samples(rec, &mut samples).map_err(|e| reader.record_error(e))?;
            for rs in &samples {
                let Some(s) = sample_series(&by_ref, rs.series_ref, rs.t, min_valid, &mut stats)
                else {
                    continue;
                };
                let _ = s.lock().insert_ooo(rs.t, rs.v);
                stats.samples += 1;
                mint = mint.min(rs.t);
                maxt = maxt.max(rs.t);
            }
        }
        if let Some(tail) = reader.torn_tail()
            && !head.opts.read_only
        {
            repair_torn_tail(tail)?;
        }
    }
    head.next_ref.fetch_max(max_ref + 1, Ordering::AcqRel);
    if mint <= maxt {
        head.note_time(mint);
        head.note_time(maxt);
    }
    Ok((head, stats))
}

/// A replayed native histogram sample's value.
#[derive(Clone, Copy)]
enum Hist<'a> {
    Int(&'a Histogram),
    Float(&'a FloatHistogram),
}

/// Applies one replayed native histogram sample to its series, counting it in `stats`
/// and widening `[mint, maxt]`: skipped when a head chunk file already holds it, refused
/// when out of order.
fn apply_histogram(
    s: &MemSeries,
    t: i64,
    h: Hist<'_>,
    ctx: AppendCtx<'_>,
    stats: &mut ReplayStats,
    mint: &mut i64,
    maxt: &mut i64,
) -> Result<()> {
    let mut st = s.lock();
    if st.mmapped.last().is_some_and(|c| t <= c.max_time) {
        stats.samples_in_chunk_files += 1;
        return Ok(());
    }
    let checked = match h {
        Hist::Int(h) => st.check_histogram(t, Some(h), None),
        Hist::Float(f) => st.check_histogram(t, None, Some(f)),
    };
    match checked {
        Ok(true) => return Ok(()),
        Ok(false) => match h {
            Hist::Int(h) => st.append_histogram(s.series_ref, t, h, ctx)?,
            Hist::Float(f) => st.append_float_histogram(s.series_ref, t, f, ctx)?,
        },
        Err(_) => {
            stats.out_of_order += 1;
            return Ok(());
        }
    }
    stats.samples += 1;
    *mint = (*mint).min(t);
    *maxt = (*maxt).max(t);
    Ok(())
}

/// The series a replayed sample at `t` belongs to, or `None` (counted in `stats`) when
/// the series is unknown or the sample is older than the head accepts.
fn sample_series<'a>(
    by_ref: &'a FxHashMap<u64, Arc<MemSeries>>,
    series_ref: u64,
    t: i64,
    min_valid: i64,
    stats: &mut ReplayStats,
) -> Option<&'a Arc<MemSeries>> {
    let Some(s) = by_ref.get(&series_ref) else {
        stats.unknown_series_refs += 1;
        return None;
    };
    if t < min_valid {
        stats.samples_before_head += 1;
        return None;
    }
    Some(s)
}
