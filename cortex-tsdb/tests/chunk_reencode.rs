//! Every chunk Prometheus 2.42 wrote in the fixtures, decoded and written again by our
//! appenders: the bytes must be identical. Also rebuilt from the samples as they were
//! pushed (so bucket insertion and recoding must act as Prometheus' did), and resumed
//! from a stored prefix.

mod chunk_common;

use std::collections::{BTreeMap, BTreeSet};

use chunk_common::{
    Sample, block_chunks, blocks, decode, header_of, meta_stats, pushed, reencode, reencode_as,
};
use cortex_tsdb::chunkenc::{
    AppendOutcome, ByteCompat, CounterResetHeader, Encoding, FloatHistogramChunk, HistogramChunk,
    XorChunk,
};
use cortex_tsdb::chunks::walk_segment;

/// Per encoding: chunks seen, chunks re-encoded identically, samples.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    chunks: usize,
    identical: usize,
    samples: usize,
}

#[test]
fn every_fixture_chunk_decodes_and_reencodes_byte_identical() {
    let mut tally: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut headers: BTreeSet<(&str, CounterResetHeader)> = BTreeSet::new();
    let mut blocks_seen = 0;
    let mut spare_bytes = 0;
    for set in ["openmetrics-blocks", "native-histograms"] {
        for block in blocks(set) {
            blocks_seen += 1;
            let (want_samples, want_chunks) = meta_stats(&block);
            let path = block.join("chunks/000001");
            let bytes = std::fs::read(&path).unwrap();
            let (mut chunks, mut samples) = (0u64, 0u64);
            for item in walk_segment(&path, &bytes).unwrap() {
                let (offset, raw) = item.unwrap();
                let decoded = decode(raw.encoding, raw.data)
                    .unwrap_or_else(|e| panic!("{} @{offset}: {e}", path.display()));
                let header = if raw.encoding == Encoding::Xor {
                    CounterResetHeader::Unknown
                } else {
                    let h = header_of(raw.data);
                    headers.insert((raw.encoding.name(), h));
                    h
                };
                let again = reencode(raw.encoding, header, &decoded);
                // Prometheus 3.x writes the same bytes without 2.x's spare zero byte.
                let v3 = reencode_as(ByteCompat::V3, raw.encoding, header, &decoded);
                let spare = again.len() == v3.len() + 1 && again.last() == Some(&0);
                assert!(again == v3 || (spare && again.starts_with(&v3)));
                spare_bytes += usize::from(spare);
                let t = tally.entry(raw.encoding.name()).or_default();
                t.chunks += 1;
                t.samples += decoded.len();
                if again == raw.data {
                    t.identical += 1;
                } else {
                    let at = again.iter().zip(raw.data).position(|(a, b)| a != b);
                    panic!(
                        "{} @{offset} ({}, {} samples): re-encoded bytes differ at {at:?} \
                         (lengths {} vs {})",
                        path.display(),
                        raw.encoding.name(),
                        decoded.len(),
                        again.len(),
                        raw.data.len()
                    );
                }
                chunks += 1;
                samples += decoded.len() as u64;
            }
            assert_eq!(
                (samples, chunks),
                (want_samples, want_chunks),
                "{}",
                block.display()
            );
        }
    }
    assert_eq!(blocks_seen, 5);
    eprintln!("fixture chunks re-encoded identically: {tally:?}");
    eprintln!("{spare_bytes} of them end with Prometheus 2.x's spare zero byte");
    assert!(spare_bytes > 0);
    // The native-histogram README: XOR 4+8, histogram 7+13, float histogram 6+12; the
    // openmetrics blocks hold only XOR chunks.
    let (_, om_chunks): (u64, u64) = blocks("openmetrics-blocks")
        .iter()
        .map(|b| meta_stats(b))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert_eq!(tally["XOR"].chunks, om_chunks as usize + 12);
    assert_eq!(tally["histogram"].chunks, 20);
    assert_eq!(tally["floathistogram"].chunks, 18);
    // Every counter-reset header occurs for both histogram encodings.
    for enc in ["histogram", "floathistogram"] {
        for h in [
            CounterResetHeader::Unknown,
            CounterResetHeader::NotCounterReset,
            CounterResetHeader::CounterReset,
            CounterResetHeader::Gauge,
        ] {
            assert!(
                headers.contains(&(enc, h)),
                "no {enc} chunk with header {h:?}"
            );
        }
    }
}

/// Feeds the samples as they were pushed, one by one, through the appenders' head-style
/// `append_histogram` (which widens histograms, recodes chunks and refuses samples that
/// need a new chunk, as Prometheus does), starting each fixture chunk afresh with its
/// header. The result must be the fixture chunk: Prometheus recoded these chunks when
/// buckets appeared (and, for gauges, disappeared), so this checks our recoding.
#[test]
fn pushed_samples_replayed_through_the_appenders_rebuild_every_histogram_chunk() {
    let pushed = pushed();
    let mut rebuilt = BTreeMap::<&str, usize>::new();
    let mut recoded_chunks = 0;
    for block in blocks("native-histograms") {
        for fc in block_chunks(&block) {
            if fc.encoding == Encoding::Xor {
                continue;
            }
            let header = header_of(&fc.data);
            let samples: Vec<&Sample> = pushed[&fc.name]
                .iter()
                .filter(|s| (fc.min_time..=fc.max_time).contains(&s.t()))
                .collect();
            let n = decode(fc.encoding, &fc.data).unwrap().len();
            assert_eq!(samples.len(), n, "{} chunk at {}", fc.series, fc.min_time);
            let mut recoded = false;
            let bytes = if fc.encoding == Encoding::Histogram {
                let mut chunk = HistogramChunk::with_compat(ByteCompat::V2);
                for (i, s) in samples.iter().enumerate() {
                    let Sample::Histogram(t, h) = s else { panic!() };
                    let out = chunk
                        .appender()
                        .unwrap()
                        .append_histogram(None, *t, h, false);
                    match out.unwrap() {
                        AppendOutcome::Appended => {}
                        AppendOutcome::Recoded(c) => {
                            chunk = c;
                            recoded = true;
                        }
                        AppendOutcome::NewChunk(_) => {
                            panic!("{}: sample {i} at {t} would start a new chunk", fc.series)
                        }
                    }
                    if i == 0 {
                        chunk.set_counter_reset_header(header);
                    }
                }
                chunk.into_bytes()
            } else {
                let mut chunk = FloatHistogramChunk::with_compat(ByteCompat::V2);
                for (i, s) in samples.iter().enumerate() {
                    let Sample::FloatHistogram(t, h) = s else {
                        panic!()
                    };
                    let out = chunk
                        .appender()
                        .unwrap()
                        .append_histogram(None, *t, h, false);
                    match out.unwrap() {
                        AppendOutcome::Appended => {}
                        AppendOutcome::Recoded(c) => {
                            chunk = c;
                            recoded = true;
                        }
                        AppendOutcome::NewChunk(_) => {
                            panic!("{}: sample {i} at {t} would start a new chunk", fc.series)
                        }
                    }
                    if i == 0 {
                        chunk.set_counter_reset_header(header);
                    }
                }
                chunk.into_bytes()
            };
            assert!(
                bytes == fc.data,
                "{} chunk at {}: rebuilt bytes differ (recoded: {recoded})",
                fc.series,
                fc.min_time
            );
            *rebuilt.entry(fc.encoding.name()).or_default() += 1;
            recoded_chunks += usize::from(recoded);
        }
    }
    eprintln!("rebuilt from pushed samples: {rebuilt:?}, {recoded_chunks} needed recoding");
    assert_eq!(rebuilt["histogram"], 20);
    assert_eq!(rebuilt["floathistogram"], 18);
    // Series a (i=660), b (i=150, 450), d (i=500), e and f (layout changes) recode.
    assert!(
        recoded_chunks >= 5,
        "only {recoded_chunks} chunks needed recoding"
    );
}

/// Appending to a chunk loaded from bytes continues exactly where an uninterrupted
/// appender would have: the first k samples are encoded, stored, loaded and the rest
/// appended.
#[test]
fn appenders_resumed_from_stored_bytes_reproduce_fixture_chunks() {
    let mut checked = 0;
    for set in ["openmetrics-blocks", "native-histograms"] {
        for block in blocks(set) {
            for fc in block_chunks(&block).iter().step_by(3) {
                let samples = decode(fc.encoding, &fc.data).unwrap();
                let header = match fc.encoding {
                    Encoding::Xor => CounterResetHeader::Unknown,
                    _ => header_of(&fc.data),
                };
                for k in [0, 1, 2, samples.len() / 2, samples.len().saturating_sub(1)] {
                    let k = k.min(samples.len());
                    let prefix = reencode(fc.encoding, header, &samples[..k]);
                    let resumed = match fc.encoding {
                        Encoding::Xor => {
                            let mut c = XorChunk::from_bytes(prefix).unwrap();
                            c.set_byte_compat(ByteCompat::V2);
                            let mut app = c.appender().unwrap();
                            for s in &samples[k..] {
                                let Sample::Float(t, v) = s else { panic!() };
                                app.append(*t, *v).unwrap();
                            }
                            c.into_bytes()
                        }
                        Encoding::Histogram => {
                            let mut c = HistogramChunk::from_bytes(prefix).unwrap();
                            c.set_byte_compat(ByteCompat::V2);
                            let mut app = c.appender().unwrap();
                            for s in &samples[k..] {
                                let Sample::Histogram(t, h) = s else { panic!() };
                                app.append(*t, h).unwrap();
                            }
                            c.into_bytes()
                        }
                        Encoding::FloatHistogram => {
                            let mut c = FloatHistogramChunk::from_bytes(prefix).unwrap();
                            c.set_byte_compat(ByteCompat::V2);
                            let mut app = c.appender().unwrap();
                            for s in &samples[k..] {
                                let Sample::FloatHistogram(t, h) = s else {
                                    panic!()
                                };
                                app.append(*t, h).unwrap();
                            }
                            c.into_bytes()
                        }
                    };
                    assert!(
                        resumed == fc.data,
                        "{} chunk at {} resumed after {k} samples differs",
                        fc.series,
                        fc.min_time
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} resumptions checked");
}
