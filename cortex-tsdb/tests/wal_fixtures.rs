//! The WALs Prometheus 2.42 wrote, read back: every record decodes, the scrape WAL's
//! series and samples print exactly as `promtool tsdb dump` printed them, and the
//! native-histogram WAL holds exactly the samples that were pushed.

mod chunk_common;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use chunk_common::{Sample, pushed};
use cortex_tsdb::float_format::go_g;
use cortex_tsdb::labels::{Labels, write_labels};
use cortex_tsdb::record::{
    RecordType, RefFloatHistogramSample, RefHistogramSample, RefSample, RefSeries,
    decode_float_histogram_samples, decode_histogram_samples, decode_samples, decode_series,
    record_type,
};
use cortex_tsdb::wal::{Reader, replay_reader, segment_range};

fn fixture(sub: &str) -> Option<PathBuf> {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/prometheus-2.42"
    ))
    .join(sub);
    if dir.exists() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").is_err(),
        "{} is missing under CI",
        dir.display()
    );
    eprintln!("skipping: {} not present", dir.display());
    None
}

/// Everything decoded from a WAL, in record order.
#[derive(Default)]
struct Decoded {
    series: Vec<RefSeries>,
    samples: Vec<RefSample>,
    histograms: Vec<RefHistogramSample>,
    float_histograms: Vec<RefFloatHistogramSample>,
    /// (segment, record type) of every record.
    records: Vec<(u64, Option<RecordType>)>,
}

fn decode_all(mut r: Reader) -> Decoded {
    let mut d = Decoded::default();
    let (mut series, mut samples, mut hs, mut fhs) = (vec![], vec![], vec![], vec![]);
    while let Some(rec) = r.next_record().unwrap() {
        let t = record_type(rec);
        let res = match t {
            Some(RecordType::Series) => decode_series(rec, &mut series).map(|()| {
                d.series.append(&mut series);
            }),
            Some(RecordType::Samples) => decode_samples(rec, &mut samples).map(|()| {
                d.samples.extend_from_slice(&samples);
            }),
            Some(RecordType::HistogramSamples) => {
                decode_histogram_samples(rec, &mut hs).map(|()| {
                    d.histograms.extend(hs.iter().cloned());
                })
            }
            Some(RecordType::FloatHistogramSamples) => {
                decode_float_histogram_samples(rec, &mut fhs).map(|()| {
                    d.float_histograms.extend(fhs.iter().cloned());
                })
            }
            other => panic!("unexpected record type {other:?}"),
        };
        res.map_err(|e| r.record_error(e)).unwrap();
        d.records.push((r.record_segment().unwrap().index, t));
    }
    assert!(r.torn_tail().is_none(), "{:?}", r.torn_tail());
    d
}

#[test]
fn scrape_wal_replays_to_exactly_promtools_dump() {
    let Some(dir) = fixture("scrape-wal") else {
        return;
    };
    let d = decode_all(Reader::open(&dir.join("wal")).unwrap());
    assert!(d.records.iter().all(|(seg, _)| *seg == 0));
    let labels: HashMap<u64, Labels> = d
        .series
        .iter()
        .map(|s| (s.series_ref, s.labels.clone()))
        .collect();
    assert_eq!(labels.len(), d.series.len(), "a series ref appears twice");

    let mut by_series: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for s in &d.samples {
        let l = labels
            .get(&s.series_ref)
            .expect("sample of an unknown series");
        by_series.entry(l.clone()).or_default().push((s.t, s.v));
    }
    let mut out = String::new();
    for (l, samples) in &mut by_series {
        samples.sort_by_key(|s| s.0);
        let n = samples.len();
        samples.dedup_by_key(|s| s.0);
        assert_eq!(n, samples.len(), "duplicate timestamps in {l:?}");
        for (t, v) in samples.iter() {
            write_labels(&mut out, l).unwrap();
            writeln!(out, " {} {t}", go_g(*v)).unwrap();
        }
    }
    let want = std::fs::read_to_string(dir.join("promtool-dump.txt")).unwrap();
    assert_eq!(out.lines().count(), 29830);
    assert_eq!(out.lines().count(), want.lines().count());
    for (i, (got, want)) in out.lines().zip(want.lines()).enumerate() {
        assert_eq!(got, want, "line {}", i + 1);
    }
}

#[test]
fn native_histogram_wal_has_the_documented_records() {
    let Some(dir) = fixture("native-histograms") else {
        return;
    };
    let wal = dir.join("wal");
    let range = segment_range(&wal).unwrap().unwrap();
    assert_eq!((range.first, range.last), (0, 2));
    let d = decode_all(replay_reader(&wal).unwrap());
    let count = |seg: u64, t: RecordType| {
        d.records
            .iter()
            .filter(|(s, rt)| *s == seg && *rt == Some(t))
            .count()
    };
    assert_eq!(d.records.iter().filter(|(s, _)| *s == 0).count(), 70);
    assert_eq!(count(0, RecordType::Series), 1);
    assert_eq!(count(0, RecordType::Samples), 23);
    assert_eq!(count(0, RecordType::HistogramSamples), 23);
    assert_eq!(count(0, RecordType::FloatHistogramSamples), 23);
    assert_eq!(d.records.iter().filter(|(s, _)| *s == 1).count(), 15);
    assert_eq!(count(1, RecordType::Samples), 5);
    assert_eq!(count(1, RecordType::HistogramSamples), 5);
    assert_eq!(count(1, RecordType::FloatHistogramSamples), 5);
    assert!(d.records.iter().all(|(s, _)| *s < 2), "segment 2 is empty");
    assert_eq!(d.series.len(), 8);
    assert_eq!(d.samples.len(), 2143);
    assert_eq!(d.histograms.len(), 3224);
    assert_eq!(d.float_histograms.len(), 3243);
}

#[test]
fn native_histogram_wal_holds_exactly_the_pushed_samples() {
    let Some(dir) = fixture("native-histograms") else {
        return;
    };
    let d = decode_all(Reader::open(&dir.join("wal")).unwrap());
    let names: HashMap<u64, String> = d
        .series
        .iter()
        .map(|s| (s.series_ref, s.labels.metric_name().unwrap().to_string()))
        .collect();
    let mut got: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for s in &d.samples {
        got.entry(names[&s.series_ref].clone())
            .or_default()
            .push(Sample::Float(s.t, s.v));
    }
    for h in &d.histograms {
        got.entry(names[&h.series_ref].clone())
            .or_default()
            .push(Sample::Histogram(h.t, h.h.clone()));
    }
    for h in &d.float_histograms {
        got.entry(names[&h.series_ref].clone())
            .or_default()
            .push(Sample::FloatHistogram(h.t, h.fh.clone()));
    }
    let want = pushed();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    let mut compared = 0;
    for (name, mut samples) in got {
        samples.sort_by_key(Sample::t);
        let want = &want[&name];
        assert_eq!(samples.len(), want.len(), "{name}");
        for (g, w) in samples.iter().zip(want) {
            // Bit-exact, so stale markers (a NaN pattern) compare too.
            assert!(bits_eq(g, w), "{name}: {g:?} != {w:?}");
            compared += 1;
        }
    }
    assert_eq!(compared, 8610);
}

/// Equality with sums and values compared bit for bit (stale markers are NaNs).
fn bits_eq(a: &Sample, b: &Sample) -> bool {
    match (a, b) {
        (Sample::Float(ta, va), Sample::Float(tb, vb)) => ta == tb && va.to_bits() == vb.to_bits(),
        (Sample::Histogram(ta, ha), Sample::Histogram(tb, hb)) => {
            let (mut ha, mut hb) = (ha.clone(), hb.clone());
            let same_sum = ha.sum.to_bits() == hb.sum.to_bits();
            (ha.sum, hb.sum) = (0.0, 0.0);
            ta == tb && same_sum && ha == hb
        }
        (Sample::FloatHistogram(ta, ha), Sample::FloatHistogram(tb, hb)) => {
            let (mut ha, mut hb) = (ha.clone(), hb.clone());
            let same_sum = ha.sum.to_bits() == hb.sum.to_bits();
            (ha.sum, hb.sum) = (0.0, 0.0);
            ta == tb && same_sum && ha == hb
        }
        _ => false,
    }
}
