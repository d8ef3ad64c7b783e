//! Loading test data the way Prometheus' TSDB would store it: samples at multiples
//! of the load interval, native histograms with the counter-reset hints a TSDB chunk
//! iterator reports (the first sample of each chunk "unknown", later ones "not a
//! reset", gauge chunks "gauge"), and classic histograms optionally converted to
//! native custom-bucket histograms (`load_with_nhcb`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cortex_tsdb::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Span};
use cortex_tsdb::labels::{Labels, METRIC_NAME};
use cortex_tsdb::value::{STALE_NAN, is_stale_nan};

use super::script::LoadSeries;
use super::series::SeqValue;
use crate::promql::histogram::HistogramExt;
use crate::querier::{Sample, SampleValue};

/// Time range of a TSDB head chunk; chunks never span a boundary of this grid.
const CHUNK_RANGE_MS: i64 = 2 * 3_600_000;

/// Raw loaded samples per series.
pub(super) type Store = BTreeMap<Labels, Vec<Sample>>;

/// Appends the loaded series to `store`; returns the series touched.
pub(super) fn load(
    store: &mut Store,
    interval_ms: i64,
    with_nhcb: bool,
    series: &[LoadSeries],
) -> Result<Vec<Labels>, String> {
    let mut touched = Vec::new();
    for ls in series {
        let (labels, vals) = (&ls.labels, &ls.values);
        let samples = store.entry(labels.clone()).or_default();
        for (i, v) in vals.iter().enumerate() {
            let t = i as i64 * interval_ms;
            let st = match &ls.sts {
                Some(sts) => sts.get(i).copied().flatten().map_or(0, |o| t + o),
                None => 0,
            };
            let value = match v {
                SeqValue::Omitted => continue,
                SeqValue::Float(f) => SampleValue::Float(*f),
                SeqValue::Histogram { h, .. } => SampleValue::Histogram(Arc::new(h.clone())),
            };
            insert(samples, Sample { t, st, value });
        }
        touched.push(labels.clone());
    }
    if with_nhcb {
        touched.extend(convert_nhcb(store, interval_ms, series)?);
    }
    Ok(touched)
}

fn insert(samples: &mut Vec<Sample>, s: Sample) {
    match samples.binary_search_by(|x| x.t.cmp(&s.t)) {
        Ok(i) => samples[i] = s,
        Err(i) => samples.insert(i, s),
    }
}

/// Collates `_bucket`/`_count`/`_sum` series into native custom-bucket histograms.
fn convert_nhcb(
    store: &mut Store,
    interval_ms: i64,
    series: &[LoadSeries],
) -> Result<Vec<Labels>, String> {
    #[derive(Default)]
    struct Temp {
        buckets: Vec<(f64, f64)>,
        count: Option<f64>,
        sum: f64,
    }
    let mut hists: HashMap<Labels, BTreeMap<i64, Temp>> = HashMap::new();
    for ls in series {
        let (labels, vals) = (&ls.labels, &ls.values);
        let name = labels.metric_name().unwrap_or("");
        let (kind, base) = if let Some(b) = name.strip_suffix("_bucket") {
            (0, b)
        } else if let Some(b) = name.strip_suffix("_count") {
            (1, b)
        } else if let Some(b) = name.strip_suffix("_sum") {
            (2, b)
        } else {
            continue;
        };
        let mut le = 0.0;
        if kind == 0 {
            let Some(v) = labels.get("le") else {
                return Err(format!("expected bucket label in metric {labels}"));
            };
            match v.parse::<f64>() {
                Ok(f) if !f.is_nan() => le = f,
                _ => continue,
            }
        }
        let mut b = labels.to_builder();
        b.set(METRIC_NAME, base).del("le");
        let key = b.build().map_err(|e| e.to_string())?;
        let per_t = hists.entry(key).or_default();
        for (i, v) in vals.iter().enumerate() {
            let SeqValue::Float(f) = v else { continue };
            let t = i as i64 * interval_ms;
            let temp = per_t.entry(t).or_default();
            match kind {
                0 => {
                    if !temp.buckets.iter().any(|(b, _)| *b == le) {
                        temp.buckets.push((le, *f));
                    }
                }
                1 => temp.count = Some(*f),
                _ => temp.sum = *f,
            }
        }
    }
    let mut touched = Vec::new();
    for (labels, per_t) in hists {
        let samples = store.entry(labels.clone()).or_default();
        for (t, mut temp) in per_t {
            temp.buckets
                .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
            let count = temp
                .count
                .unwrap_or_else(|| temp.buckets.last().map_or(0.0, |b| b.1));
            if temp.buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
                temp.buckets.push((f64::INFINITY, count));
            }
            let mut h = FloatHistogram {
                schema: CUSTOM_BUCKETS_SCHEMA,
                count,
                sum: temp.sum,
                positive_spans: vec![Span {
                    offset: 0,
                    length: temp.buckets.len() as u32,
                }],
                ..Default::default()
            };
            let mut prev = 0.0;
            for (le, c) in &temp.buckets {
                h.positive_buckets.push(c - prev);
                prev = *c;
                if *le != f64::INFINITY {
                    h.custom_values.push(*le);
                }
            }
            h.compact();
            if is_stale_nan(temp.sum) {
                h.sum = STALE_NAN;
            }
            insert(
                samples,
                Sample {
                    t,
                    st: 0,
                    value: SampleValue::Histogram(Arc::new(h)),
                },
            );
        }
        touched.push(labels);
    }
    Ok(touched)
}

/// True when `h` can go into the chunk whose last histogram is `last` without a new
/// chunk: same schema and zero threshold, and no counter reset.
fn appendable(last: &FloatHistogram, h: &FloatHistogram) -> bool {
    if h.counter_reset_hint == CounterResetHint::CounterReset {
        return false;
    }
    if is_stale_nan(h.sum) {
        return true;
    }
    if is_stale_nan(last.sum) {
        return false;
    }
    if h.schema != last.schema || h.zero_threshold != last.zero_threshold {
        return false;
    }
    let mut probe = h.clone();
    probe.counter_reset_hint = CounterResetHint::Unknown;
    !probe.detect_reset(last)
}

/// The samples as a TSDB chunk iterator would return them, with its counter-reset
/// hints on native histograms.
pub(super) fn with_tsdb_hints(samples: &[Sample]) -> Vec<Sample> {
    enum Chunk {
        None,
        Float,
        Hist {
            last: Arc<FloatHistogram>,
            gauge: bool,
            next_at: i64,
        },
    }
    let mut chunk = Chunk::None;
    let mut out = Vec::with_capacity(samples.len());
    for s in samples {
        match &s.value {
            SampleValue::Float(_) => {
                chunk = Chunk::Float;
                out.push(s.clone());
            }
            SampleValue::Histogram(h) => {
                let gauge = h.counter_reset_hint == CounterResetHint::Gauge;
                let continues = match &chunk {
                    Chunk::Hist {
                        last,
                        gauge: g,
                        next_at,
                    } => {
                        *g == gauge
                            && s.t < *next_at
                            && if gauge {
                                last.schema == h.schema
                                    && last.zero_threshold == h.zero_threshold
                                    && (!h.uses_custom_buckets()
                                        || last.custom_values == h.custom_values)
                            } else {
                                appendable(last, h)
                            }
                    }
                    _ => false,
                };
                let next_at = match &chunk {
                    Chunk::Hist { next_at, .. } if continues => *next_at,
                    _ => s.t.div_euclid(CHUNK_RANGE_MS) * CHUNK_RANGE_MS + CHUNK_RANGE_MS,
                };
                let hint = if gauge {
                    CounterResetHint::Gauge
                } else if continues {
                    CounterResetHint::NotCounterReset
                } else {
                    CounterResetHint::Unknown
                };
                let mut stored = (**h).clone();
                stored.counter_reset_hint = hint;
                out.push(Sample {
                    t: s.t,
                    st: s.st,
                    value: SampleValue::Histogram(Arc::new(stored)),
                });
                chunk = Chunk::Hist {
                    last: h.clone(),
                    gauge,
                    next_at,
                };
            }
        }
    }
    out
}
