//! Checkpoints: what they keep and drop, how they are named, replaced and replayed.

mod wal_common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use cortex_tsdb::Labels;
use cortex_tsdb::histogram::{FloatHistogram, Histogram};
use cortex_tsdb::record::{
    Encoder, RecordBatch, RecordType, RefExemplar, RefFloatHistogramSample, RefHistogramSample,
    RefMetadata, RefMmapMarker, RefSample, RefSeries, RefTombstone, decode_exemplars,
    decode_float_histogram_samples, decode_histogram_samples, decode_metadata, decode_samples,
    decode_series, decode_tombstones, record_type,
};
use cortex_tsdb::tombstones::Interval;
use cortex_tsdb::wal::{
    CheckpointOptions, Compression, Reader, Wal, checkpoint, checkpoint_dir, last_checkpoint,
    replay_reader, segment_path,
};
use wal_common::opts;

/// What a replay of a WAL (or checkpoint) decodes to.
#[derive(Debug, Default, PartialEq)]
struct Content {
    series: Vec<u64>,
    samples: Vec<(u64, i64)>,
    histograms: Vec<(u64, i64)>,
    float_histograms: Vec<(u64, i64)>,
    tombstones: Vec<(u64, i64, i64)>,
    exemplars: Vec<(u64, i64)>,
    metadata: BTreeMap<u64, String>,
    markers: usize,
    unknown: usize,
    types: Vec<RecordType>,
}

fn content(mut r: Reader) -> Content {
    let mut c = Content::default();
    let (mut s, mut sm, mut h, mut fh, mut t, mut e, mut m) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    while let Some(rec) = r.next_record().unwrap() {
        let Some(ty) = record_type(rec) else {
            c.unknown += 1;
            continue;
        };
        c.types.push(ty);
        match ty {
            RecordType::Series => {
                decode_series(rec, &mut s).unwrap();
                c.series.extend(s.iter().map(|x| x.series_ref));
            }
            RecordType::Samples | RecordType::SamplesV2 => {
                decode_samples(rec, &mut sm).unwrap();
                c.samples.extend(sm.iter().map(|x| (x.series_ref, x.t)));
            }
            RecordType::HistogramSamples
            | RecordType::CustomBucketsHistogramSamples
            | RecordType::HistogramSamplesV2 => {
                decode_histogram_samples(rec, &mut h).unwrap();
                c.histograms.extend(h.iter().map(|x| (x.series_ref, x.t)));
            }
            RecordType::FloatHistogramSamples
            | RecordType::CustomBucketsFloatHistogramSamples
            | RecordType::FloatHistogramSamplesV2 => {
                decode_float_histogram_samples(rec, &mut fh).unwrap();
                c.float_histograms
                    .extend(fh.iter().map(|x| (x.series_ref, x.t)));
            }
            RecordType::Tombstones => {
                decode_tombstones(rec, &mut t).unwrap();
                c.tombstones.extend(
                    t.iter()
                        .map(|x| (x.series_ref, x.interval.mint, x.interval.maxt)),
                );
            }
            RecordType::Exemplars => {
                decode_exemplars(rec, &mut e).unwrap();
                c.exemplars.extend(e.iter().map(|x| (x.series_ref, x.t)));
            }
            RecordType::Metadata => {
                decode_metadata(rec, &mut m).unwrap();
                for x in &m {
                    c.metadata.insert(x.series_ref, x.help.clone());
                }
            }
            RecordType::MmapMarkers => c.markers += 1,
        }
    }
    assert!(r.torn_tail().is_none());
    c
}

fn series(r: u64) -> RefSeries {
    RefSeries {
        series_ref: r,
        labels: Labels::from_pairs([("__name__", "m"), ("i", &r.to_string())]).unwrap(),
    }
}

fn custom_histogram() -> Histogram {
    Histogram {
        schema: cortex_tsdb::histogram::CUSTOM_BUCKETS_SCHEMA,
        custom_values: vec![1.0, 2.0],
        ..Histogram::default()
    }
}

/// Segment `t / 100` gets the data for times `t` in [100·k, 100·k + 100): series 1..=4
/// in segment 0, samples and histograms of every series each 50 ms, a tombstone, an
/// exemplar and metadata per segment, and m-map markers.
fn write_wal(dir: &Path, segments: u64) {
    let mut w = Wal::open(dir, opts(4, Compression::Snappy)).unwrap();
    let enc = Encoder::default();
    let mut b = RecordBatch::new();
    for seg in 0..segments {
        b.clear();
        if seg == 0 {
            enc.series(&(1..=4).map(series).collect::<Vec<_>>(), &mut b);
        }
        for t in [seg as i64 * 100, seg as i64 * 100 + 50] {
            let samples: Vec<RefSample> = (1..=4)
                .map(|r| RefSample {
                    series_ref: r,
                    st: 0,
                    t,
                    v: 1.0,
                })
                .collect();
            enc.samples(&samples, &mut b);
            let hs = vec![
                RefHistogramSample {
                    series_ref: 1,
                    st: 0,
                    t,
                    h: Histogram::default(),
                },
                RefHistogramSample {
                    series_ref: 2,
                    st: 0,
                    t,
                    h: custom_histogram(),
                },
            ];
            enc.histogram_samples(&hs, &mut b);
            enc.float_histogram_samples(
                &[RefFloatHistogramSample {
                    series_ref: 3,
                    st: 0,
                    t,
                    fh: FloatHistogram::default(),
                }],
                &mut b,
            );
        }
        let t = seg as i64 * 100;
        enc.tombstones(
            &[RefTombstone {
                series_ref: 1 + seg % 4,
                interval: Interval {
                    mint: t,
                    maxt: t + 10,
                },
            }],
            &mut b,
        );
        enc.exemplars(
            &[RefExemplar {
                series_ref: 2,
                t,
                v: 1.0,
                labels: Labels::from_pairs([("trace", "x")]).unwrap(),
            }],
            &mut b,
        );
        enc.metadata(
            &[RefMetadata {
                series_ref: 1 + seg % 4,
                metric_type: 1,
                unit: String::new(),
                help: format!("help from segment {seg}"),
            }],
            &mut b,
        );
        enc.mmap_markers(
            &[RefMmapMarker {
                series_ref: 1,
                mmap_ref: seg,
            }],
            &mut b,
        );
        // An unknown record type from a future version.
        b.push(&[200, 1, 2, 3]);
        w.log_batch(&b).unwrap();
        w.next_segment().unwrap();
    }
    w.close().unwrap();
}

#[test]
fn checkpoint_keeps_live_series_and_data_from_mint_on() {
    let dir = tempfile::tempdir().unwrap();
    write_wal(dir.path(), 4);
    let keep = |r: u64| r.is_multiple_of(2);
    let stats = checkpoint(dir.path(), 0, 2, keep, 150, CheckpointOptions::default()).unwrap();
    let cp = checkpoint_dir(dir.path(), 2);
    assert_eq!(last_checkpoint(dir.path()).unwrap(), Some((cp.clone(), 2)));
    assert!(!dir.path().join("checkpoint.00000002.tmp").exists());

    let c = content(Reader::open(&cp).unwrap());
    assert_eq!(c.series, vec![2, 4]);
    // Samples of every series (the predicate applies to series records) at t >= 150.
    let want_samples: Vec<(u64, i64)> = [150, 200, 250]
        .iter()
        .flat_map(|&t| (1..=4).map(move |r| (r, t)))
        .collect();
    assert_eq!(c.samples, want_samples);
    assert_eq!(
        c.histograms,
        vec![(1, 150), (2, 150), (1, 200), (2, 200), (1, 250), (2, 250)]
    );
    assert_eq!(c.float_histograms, vec![(3, 150), (3, 200), (3, 250)]);
    // Tombstones of kept series that reach mint: segment 1 deleted [100, 110] of series
    // 2 (too old), segment 2 [200, 210] of series 3 (not kept).
    assert_eq!(c.tombstones, vec![]);
    assert_eq!(c.exemplars, vec![(2, 200)]);
    // The latest metadata of each kept series.
    assert_eq!(
        c.metadata,
        BTreeMap::from([(2, "help from segment 1".to_string())])
    );
    assert_eq!(c.markers, 0, "m-map markers are not carried over");
    assert_eq!(c.unknown, 0, "nor are records of unknown types");
    assert!(c.types.contains(&RecordType::CustomBucketsHistogramSamples));

    assert_eq!(stats.total_series, 4);
    assert_eq!(stats.dropped_series, 2);
    assert_eq!(stats.total_samples, 3 * 2 * (4 + 2 + 1));
    assert_eq!(stats.dropped_samples, 3 * (4 + 2 + 1));
    assert_eq!((stats.total_tombstones, stats.dropped_tombstones), (3, 3));
    assert_eq!((stats.total_exemplars, stats.dropped_exemplars), (3, 2));
    assert_eq!((stats.total_metadata, stats.dropped_metadata), (3, 2));
}

#[test]
fn replay_reads_the_checkpoint_then_the_segments_after_it() {
    let dir = tempfile::tempdir().unwrap();
    write_wal(dir.path(), 4);
    checkpoint(dir.path(), 0, 1, |_| true, 0, CheckpointOptions::default()).unwrap();
    // Before truncation segments 0 and 1 still exist; the replay skips them.
    let before = content(replay_reader(dir.path()).unwrap());
    let mut w = Wal::open(dir.path(), opts(4, Compression::None)).unwrap();
    w.truncate(2).unwrap();
    w.close().unwrap();
    assert!(!segment_path(dir.path(), 1).exists());
    let after = content(replay_reader(dir.path()).unwrap());
    assert_eq!(before, after);
    // Everything but markers and unknown records, in the original order.
    let all = content(Reader::open_range(dir.path(), Some(2), None).unwrap());
    assert_eq!(after.series, vec![1, 2, 3, 4]);
    let times: Vec<i64> = after.samples.iter().map(|s| s.1).collect();
    assert_eq!(times.first(), Some(&0));
    assert_eq!(times.last(), Some(&350));
    assert_eq!(after.samples.len(), 4 * 8);
    assert_eq!(after.markers, all.markers, "only the segments' own markers");
    assert_eq!((after.unknown, all.unknown), (2, 2));
    let r = replay_reader(dir.path()).unwrap();
    let srcs: Vec<(u64, bool)> = r.sources().map(|s| (s.index, s.checkpoint)).collect();
    assert_eq!(
        srcs,
        vec![(0, true), (2, false), (3, false), (4, false), (5, false)]
    );
}

#[test]
fn a_new_checkpoint_includes_and_replaces_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    write_wal(dir.path(), 4);
    checkpoint(dir.path(), 0, 1, |_| true, 0, CheckpointOptions::default()).unwrap();
    checkpoint(dir.path(), 2, 3, |_| true, 0, CheckpointOptions::default()).unwrap();
    assert!(!checkpoint_dir(dir.path(), 1).exists());
    let c = content(Reader::open(&checkpoint_dir(dir.path(), 3)).unwrap());
    assert_eq!(c.series, vec![1, 2, 3, 4]);
    assert_eq!(c.samples.len(), 4 * 8);
    // A range starting before the last checkpoint's end is narrowed to after it.
    checkpoint(dir.path(), 0, 4, |_| true, 0, CheckpointOptions::default()).unwrap();
    let c = content(Reader::open(&checkpoint_dir(dir.path(), 4)).unwrap());
    assert_eq!(
        c.samples.len(),
        4 * 8,
        "segment 4 is empty, nothing counted twice"
    );
}

#[test]
fn a_gap_after_the_last_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_wal(dir.path(), 4);
    checkpoint(dir.path(), 0, 0, |_| true, 0, CheckpointOptions::default()).unwrap();
    let err = checkpoint(dir.path(), 2, 3, |_| true, 0, CheckpointOptions::default()).unwrap_err();
    assert!(
        matches!(err, cortex_tsdb::Error::InvalidArgument(_)),
        "{err}"
    );
}

#[test]
fn leftover_temporary_checkpoints_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    write_wal(dir.path(), 2);
    let tmp = dir.path().join("checkpoint.00000007.tmp");
    fs::create_dir(&tmp).unwrap();
    fs::write(tmp.join("00000000"), b"half").unwrap();
    checkpoint(dir.path(), 0, 0, |_| true, 0, CheckpointOptions::default()).unwrap();
    assert!(!tmp.exists());
    assert_eq!(last_checkpoint(dir.path()).unwrap().unwrap().1, 0);
}

#[test]
fn checkpointing_a_torn_segment_fails_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    write_wal(dir.path(), 2);
    let seg = segment_path(dir.path(), 1);
    let len = fs::metadata(&seg).unwrap().len();
    let b = fs::read(&seg).unwrap();
    let data_end = b.iter().rposition(|&x| x != 0).unwrap() as u64;
    fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(data_end - 5)
        .unwrap();
    assert!(len > data_end);
    let err = checkpoint(dir.path(), 0, 1, |_| true, 0, CheckpointOptions::default()).unwrap_err();
    assert!(
        matches!(err, cortex_tsdb::Error::Corrupted { ref file, .. } if *file == seg),
        "{err}"
    );
    assert_eq!(last_checkpoint(dir.path()).unwrap(), None);
    assert!(!dir.path().join("checkpoint.00000001.tmp").exists());
}

#[test]
fn a_missing_segment_after_the_checkpoint_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    write_wal(dir.path(), 4);
    checkpoint(dir.path(), 0, 1, |_| true, 0, CheckpointOptions::default()).unwrap();
    for i in 0..=2 {
        fs::remove_file(segment_path(dir.path(), i)).unwrap();
    }
    let err = replay_reader(dir.path()).err().unwrap();
    assert!(
        err.to_string().contains("missing 00000002..00000002"),
        "{err}"
    );
}

#[test]
fn checkpoint_can_write_v2_records_uncompressed() {
    let dir = tempfile::tempdir().unwrap();
    write_wal(dir.path(), 2);
    let o = CheckpointOptions {
        compression: Compression::None,
        encoder: Encoder { samples_v2: true },
    };
    checkpoint(dir.path(), 0, 1, |_| true, 0, o).unwrap();
    let c = content(Reader::open(&checkpoint_dir(dir.path(), 1)).unwrap());
    assert!(c.types.contains(&RecordType::SamplesV2));
    assert!(c.types.contains(&RecordType::HistogramSamplesV2));
    assert!(!c.types.contains(&RecordType::Samples));
    assert_eq!(c.samples.len(), 16);
    assert_eq!(c.histograms.len(), 8);
    let seg = fs::read(segment_path(&checkpoint_dir(dir.path(), 1), 0)).unwrap();
    assert_eq!(seg[0] & 0x18, 0, "no compression flags");
}
