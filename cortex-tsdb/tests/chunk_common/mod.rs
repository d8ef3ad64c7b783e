//! Helpers shared by the chunk encoding behaviour tests: fixture paths, the chunks of each
//! fixture block (in file order and grouped by series), decoding a chunk into owned
//! samples, re-encoding samples with our appenders, and the samples pushed into
//! Prometheus (`pushed.json`) as our histogram types.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cortex_tsdb::chunkenc::{
    ByteCompat, ChunkError, ChunkIter, CounterResetHeader, Encoding, FloatHistogramChunk,
    HistogramChunk, ValueType, XorChunk,
};
use cortex_tsdb::chunks::ChunkReader;
use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};
use cortex_tsdb::index::IndexReader;
use cortex_tsdb::value::STALE_NAN;

/// The Prometheus 2.42 fixtures directory.
pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/prometheus-2.42"
    ))
}

/// Block directories of one fixture set, sorted (oldest first: ULIDs sort by time).
pub fn blocks(set: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(fixtures().join(set))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("index").is_file())
        .collect();
    out.sort();
    out
}

/// `(numSamples, numChunks)` from a block's meta.json.
pub fn meta_stats(block: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(block.join("meta.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    (
        v["stats"]["numSamples"].as_u64().unwrap(),
        v["stats"]["numChunks"].as_u64().unwrap(),
    )
}

/// One chunk of a fixture block.
#[derive(Debug, Clone)]
pub struct FixtureChunk {
    /// The series' labels as Prometheus prints them.
    pub series: String,
    /// The series' metric name.
    pub name: String,
    pub min_time: i64,
    pub max_time: i64,
    pub encoding: Encoding,
    pub data: Vec<u8>,
}

/// Every chunk of a block, series by series (index order), chunks in time order.
pub fn block_chunks(block: &Path) -> Vec<FixtureChunk> {
    let index = IndexReader::open(block.join("index")).unwrap();
    let chunks = ChunkReader::open(&block.join("chunks")).unwrap();
    let mut postings = index.all_postings().unwrap();
    let mut out = Vec::new();
    while let Some(id) = postings.next() {
        let mut metas = Vec::new();
        let labels = index.series(id, &mut metas).unwrap();
        for m in metas {
            let raw = chunks.chunk(m.chunk_ref).unwrap();
            out.push(FixtureChunk {
                series: labels.to_string(),
                name: labels.get("__name__").unwrap().to_string(),
                min_time: m.min_time,
                max_time: m.max_time,
                encoding: raw.encoding,
                data: raw.data.to_vec(),
            });
        }
    }
    out
}

/// A decoded sample, owned.
#[derive(Debug, Clone)]
pub enum Sample {
    Float(i64, f64),
    Histogram(i64, Histogram),
    FloatHistogram(i64, FloatHistogram),
}

impl Sample {
    pub fn t(&self) -> i64 {
        match self {
            Sample::Float(t, _) | Sample::Histogram(t, _) | Sample::FloatHistogram(t, _) => *t,
        }
    }
}

/// Decodes every sample of a chunk through [`ChunkIter`], checking that the iterator
/// yields exactly the announced number of samples.
pub fn decode(enc: Encoding, data: &[u8]) -> Result<Vec<Sample>, ChunkError> {
    let mut it = ChunkIter::new(enc, data)?;
    let mut out = Vec::with_capacity(usize::from(it.num_samples()));
    while let Some(vt) = it.next()? {
        out.push(match vt {
            ValueType::Float => {
                let (t, v) = it.at();
                Sample::Float(t, v)
            }
            ValueType::Histogram => {
                let (t, h) = it.at_histogram();
                Sample::Histogram(t, h.clone())
            }
            ValueType::FloatHistogram => {
                let (t, h) = it.at_float_histogram();
                Sample::FloatHistogram(t, h.clone())
            }
        });
    }
    assert_eq!(
        out.len(),
        usize::from(it.num_samples()),
        "iterator ended early"
    );
    Ok(out)
}

/// Decodes `data` to the end, returning the number of samples or the first error.
pub fn drain(enc: Encoding, data: &[u8]) -> Result<usize, ChunkError> {
    let mut it = ChunkIter::new(enc, data)?;
    let mut n = 0;
    while let Some(vt) = it.next()? {
        // Touch the sample so views are built too.
        match vt {
            ValueType::Float => {
                it.at();
            }
            ValueType::Histogram => {
                it.at_histogram();
                it.at_float_histogram();
            }
            ValueType::FloatHistogram => {
                it.at_float_histogram();
            }
        }
        n += 1;
    }
    Ok(n)
}

/// The counter-reset header of histogram chunk bytes.
pub fn header_of(data: &[u8]) -> CounterResetHeader {
    CounterResetHeader::from_flags(data[2])
}

/// Encodes `samples` into one chunk of `enc` with our appenders (plain appends, as the
/// samples of one chunk share its layout), with the given counter-reset header, in the
/// byte layout of Prometheus 2.x (which wrote the fixtures).
pub fn reencode(enc: Encoding, header: CounterResetHeader, samples: &[Sample]) -> Vec<u8> {
    reencode_as(ByteCompat::V2, enc, header, samples)
}

/// [`reencode`] in the byte layout of the given Prometheus generation.
pub fn reencode_as(
    compat: ByteCompat,
    enc: Encoding,
    header: CounterResetHeader,
    samples: &[Sample],
) -> Vec<u8> {
    match enc {
        Encoding::Xor => {
            let mut c = XorChunk::with_compat(compat);
            let mut app = c.appender().unwrap();
            for s in samples {
                let Sample::Float(t, v) = s else {
                    panic!("not a float")
                };
                app.append(*t, *v).unwrap();
            }
            c.into_bytes()
        }
        Encoding::Histogram => {
            let mut c = HistogramChunk::with_compat(compat);
            let mut app = c.appender().unwrap();
            for s in samples {
                let Sample::Histogram(t, h) = s else {
                    panic!("not a histogram")
                };
                app.append(*t, h).unwrap();
            }
            app.set_counter_reset_header(header);
            c.into_bytes()
        }
        Encoding::FloatHistogram => {
            let mut c = FloatHistogramChunk::with_compat(compat);
            let mut app = c.appender().unwrap();
            for s in samples {
                let Sample::FloatHistogram(t, h) = s else {
                    panic!("not a float histogram")
                };
                app.append(*t, h).unwrap();
            }
            app.set_counter_reset_header(header);
            c.into_bytes()
        }
    }
}

fn spans(v: &serde_json::Value) -> Vec<Span> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| Span {
            offset: s[0].as_i64().unwrap() as i32,
            length: s[1].as_u64().unwrap() as u32,
        })
        .collect()
}

fn f64s(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn i64s(v: &serde_json::Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

/// Every sample pushed into the native-histogram fixture, by metric name, in time order.
pub fn pushed() -> BTreeMap<String, Vec<Sample>> {
    let path = fixtures().join("native-histograms/pushed.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for (name, series) in v["series"].as_object().unwrap() {
        let kind = series["kind"].as_str().unwrap();
        let cols: Vec<&str> = series["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let col = |row: &serde_json::Value, name: &str| -> serde_json::Value {
            row[cols.iter().position(|c| *c == name).unwrap()].clone()
        };
        let mut samples = Vec::new();
        for row in series["rows"].as_array().unwrap() {
            let t = col(row, "t").as_i64().unwrap();
            let stale = col(row, "stale").as_bool().unwrap();
            if kind == "float" {
                let v = if stale {
                    STALE_NAN
                } else {
                    col(row, "value").as_f64().unwrap()
                };
                samples.push(Sample::Float(t, v));
                continue;
            }
            let hint =
                CounterResetHint::from_u8(col(row, "reset_hint").as_u64().unwrap() as u8).unwrap();
            let sum = if stale {
                STALE_NAN
            } else {
                col(row, "sum").as_f64().unwrap()
            };
            let schema = col(row, "schema").as_i64().unwrap() as i32;
            let zero_threshold = col(row, "zero_threshold").as_f64().unwrap();
            let positive_spans = spans(&col(row, "positive_spans"));
            let negative_spans = spans(&col(row, "negative_spans"));
            if kind == "histogram" {
                samples.push(Sample::Histogram(
                    t,
                    Histogram {
                        counter_reset_hint: hint,
                        schema,
                        zero_threshold,
                        zero_count: col(row, "zero_count").as_u64().unwrap(),
                        count: col(row, "count").as_u64().unwrap(),
                        sum,
                        positive_spans,
                        negative_spans,
                        positive_buckets: i64s(&col(row, "positive_buckets")),
                        negative_buckets: i64s(&col(row, "negative_buckets")),
                        custom_values: Vec::new(),
                    },
                ));
            } else {
                samples.push(Sample::FloatHistogram(
                    t,
                    FloatHistogram {
                        counter_reset_hint: hint,
                        schema,
                        zero_threshold,
                        zero_count: col(row, "zero_count").as_f64().unwrap(),
                        count: col(row, "count").as_f64().unwrap(),
                        sum,
                        positive_spans,
                        negative_spans,
                        positive_buckets: f64s(&col(row, "positive_buckets")),
                        negative_buckets: f64s(&col(row, "negative_buckets")),
                        custom_values: Vec::new(),
                    },
                ));
            }
        }
        out.insert(name.clone(), samples);
    }
    out
}

/// Non-empty buckets of a float histogram by bucket index: `(negative, positive)`.
pub fn buckets_by_index(fh: &FloatHistogram) -> (BTreeMap<i64, f64>, BTreeMap<i64, f64>) {
    let side = |spans: &[Span], counts: &[f64]| {
        let mut out = BTreeMap::new();
        // The first span's offset is its first index; later offsets are gaps.
        let mut idx = 0i64;
        let mut i = 0usize;
        for s in spans {
            idx += i64::from(s.offset);
            for _ in 0..s.length {
                if counts[i] != 0.0 {
                    out.insert(idx, counts[i]);
                }
                idx += 1;
                i += 1;
            }
        }
        assert_eq!(i, counts.len(), "spans and buckets disagree");
        out
    };
    (
        side(&fh.negative_spans, &fh.negative_buckets),
        side(&fh.positive_spans, &fh.positive_buckets),
    )
}

/// API timestamp (seconds, up to 3 decimals, as a JSON number) in milliseconds.
pub fn api_ms(v: &serde_json::Value) -> i64 {
    (v.as_f64().unwrap() * 1000.0).round() as i64
}

pub fn num(v: &serde_json::Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

/// Upper bound of exponential bucket `idx` under `schema`: 2^(idx * 2^-schema).
pub fn upper_bound(idx: i64, schema: i32) -> f64 {
    (idx as f64 / 2f64.powi(schema)).exp2()
}

/// The buckets Prometheus' API lists for a histogram: `(boundary rule, lower, upper,
/// count)`, negative buckets from the most negative, the zero bucket, then positive ones;
/// empty buckets left out.
pub fn api_buckets(h: &FloatHistogram) -> Vec<(u64, f64, f64, f64)> {
    let (neg, pos) = buckets_by_index(h);
    let zt = h.zero_threshold;
    let mut out = Vec::new();
    for (&idx, &count) in neg.iter().rev() {
        let upper = -upper_bound(idx - 1, h.schema);
        out.push((1, -upper_bound(idx, h.schema), upper.min(-zt), count));
    }
    if h.zero_count > 0.0 {
        out.push((3, -zt, zt, h.zero_count));
    }
    for (&idx, &count) in &pos {
        let lower = upper_bound(idx - 1, h.schema);
        out.push((0, lower.max(zt), upper_bound(idx, h.schema), count));
    }
    out
}

pub fn close(a: f64, b: f64) -> bool {
    a == b || ((a - b).abs() <= 1e-12 * a.abs().max(b.abs()))
}
