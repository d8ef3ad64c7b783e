//! Decodes arbitrary bytes as a WAL record of every type (as given, and with each type
//! byte put in front): decoders return errors, never panic, and what decodes re-encodes
//! to a record that decodes to the same values.
#![no_main]

use cortex_tsdb::record::*;
use libfuzzer_sys::fuzz_target;

fn check(rec: &[u8]) {
    let mut out = Vec::new();
    let mut series = Vec::new();
    if decode_series(rec, &mut series).is_ok() {
        encode_series(&series, &mut out);
        let mut again = Vec::new();
        decode_series(&out, &mut again).expect("re-encoded series decode");
        assert_eq!(again, series);
    }
    let mut samples = Vec::new();
    if decode_samples(rec, &mut samples).is_ok() {
        let enc = Encoder { samples_v2: record_type(rec) == Some(RecordType::SamplesV2) };
        let mut batch = RecordBatch::new();
        enc.samples(&samples, &mut batch);
        let mut again = Vec::new();
        if let Some(r) = batch.get(0) {
            decode_samples(r, &mut again).expect("re-encoded samples decode");
        }
        assert_eq!(format!("{again:?}"), format!("{samples:?}"));
    }
    let mut stones = Vec::new();
    if decode_tombstones(rec, &mut stones).is_ok() {
        out.clear();
        encode_tombstones(&stones, &mut out);
        let mut again = Vec::new();
        decode_tombstones(&out, &mut again).expect("re-encoded tombstones decode");
        assert_eq!(again, stones);
    }
    let mut ex = Vec::new();
    if decode_exemplars(rec, &mut ex).is_ok() {
        out.clear();
        encode_exemplars(&ex, &mut out);
        let mut again = Vec::new();
        decode_exemplars(&out, &mut again).expect("re-encoded exemplars decode");
        assert_eq!(format!("{again:?}"), format!("{ex:?}"));
    }
    let mut markers = Vec::new();
    if decode_mmap_markers(rec, &mut markers).is_ok() {
        out.clear();
        encode_mmap_markers(&markers, &mut out);
        let mut again = Vec::new();
        decode_mmap_markers(&out, &mut again).expect("re-encoded markers decode");
        assert_eq!(again, markers);
    }
    let mut meta = Vec::new();
    if decode_metadata(rec, &mut meta).is_ok() {
        out.clear();
        encode_metadata(&meta, &mut out);
        let mut again = Vec::new();
        decode_metadata(&out, &mut again).expect("re-encoded metadata decode");
        assert_eq!(again, meta);
    }
    let v2 = matches!(
        record_type(rec),
        Some(RecordType::HistogramSamplesV2 | RecordType::FloatHistogramSamplesV2)
    );
    let mut hs = Vec::new();
    if decode_histogram_samples(rec, &mut hs).is_ok() {
        out.clear();
        let mut batch = RecordBatch::new();
        if v2 {
            Encoder { samples_v2: true }.histogram_samples(&hs, &mut batch);
        } else {
            encode_histogram_samples(&hs, &mut out);
            batch.push(&out);
        }
        let mut again = Vec::new();
        if let Some(r) = batch.get(0).filter(|_| !hs.is_empty()) {
            decode_histogram_samples(r, &mut again).expect("re-encoded histograms decode");
        }
        assert_eq!(format!("{again:?}"), format!("{hs:?}"));
    }
    let mut fhs = Vec::new();
    if decode_float_histogram_samples(rec, &mut fhs).is_ok() {
        out.clear();
        let mut batch = RecordBatch::new();
        if v2 {
            Encoder { samples_v2: true }.float_histogram_samples(&fhs, &mut batch);
        } else {
            encode_float_histogram_samples(&fhs, &mut out);
            batch.push(&out);
        }
        let mut again = Vec::new();
        if let Some(r) = batch.get(0).filter(|_| !fhs.is_empty()) {
            decode_float_histogram_samples(r, &mut again)
                .expect("re-encoded float histograms decode");
        }
        assert_eq!(format!("{again:?}"), format!("{fhs:?}"));
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut rec = Vec::with_capacity(data.len() + 1);
    for t in 1..=13u8 {
        rec.clear();
        rec.push(t);
        rec.extend_from_slice(data);
        check(&rec);
    }
});
