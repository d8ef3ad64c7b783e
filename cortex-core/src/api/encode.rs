//! The JSON bodies of Prometheus' HTTP API, byte for byte: the `status` envelope with
//! `data`, `errorType`, `error`, `warnings` and `infos` (each omitted when empty), query
//! results (`resultType` and `result` for vectors, matrices, scalars and strings, native
//! histograms under `histogram`/`histograms`), string lists, series, metadata,
//! exemplars and build information.

use std::collections::BTreeMap;

use cortex_tsdb::exemplar::ExemplarSeries;
use cortex_tsdb::histogram::FloatHistogram;
use cortex_tsdb::labels::Labels;

use super::error::ApiError;
use super::json::{
    write_json_float, write_labels, write_string, write_string_array, write_timestamp, write_value,
    write_value_fixed,
};
use crate::promql::histogram::buckets::all_buckets;
use crate::promql::{Sample, Series, Value};

/// A success envelope around `data` (already JSON), with warnings and infos.
pub fn success(data: &str, warnings: &[String], infos: &[String]) -> String {
    let mut out = String::with_capacity(data.len() + 64);
    out.push_str("{\"status\":\"success\",\"data\":");
    out.push_str(data);
    write_notes(&mut out, warnings, infos);
    out.push('}');
    out
}

/// An error envelope.
pub fn error(e: &ApiError) -> String {
    let mut out = String::with_capacity(e.message.len() + 64);
    out.push_str("{\"status\":\"error\",\"errorType\":");
    write_string(&mut out, e.kind.as_str());
    out.push_str(",\"error\":");
    write_string(&mut out, &e.message);
    out.push('}');
    out
}

fn write_notes(out: &mut String, warnings: &[String], infos: &[String]) {
    if !warnings.is_empty() {
        out.push_str(",\"warnings\":");
        write_string_array(out, warnings);
    }
    if !infos.is_empty() {
        out.push_str(",\"infos\":");
        write_string_array(out, infos);
    }
}

/// The `data` of a query: `{"resultType":...,"result":...}`.
pub fn query_data(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"resultType\":\"");
    out.push_str(match value {
        Value::Scalar { .. } => "scalar",
        Value::String { .. } => "string",
        Value::Vector(_) => "vector",
        Value::Matrix(_) => "matrix",
    });
    out.push_str("\",\"result\":");
    match value {
        Value::Scalar { t, v } => {
            out.push('[');
            write_json_float(&mut out, *t as f64 / 1000.0);
            out.push(',');
            write_value_fixed(&mut out, *v);
            out.push(']');
        }
        Value::String { t, v } => {
            out.push('[');
            write_json_float(&mut out, *t as f64 / 1000.0);
            out.push(',');
            write_string(&mut out, v);
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sample(&mut out, s);
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push('[');
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_series(&mut out, s);
            }
            out.push(']');
        }
    }
    out.push('}');
    out
}

fn write_sample(out: &mut String, s: &Sample) {
    out.push_str("{\"metric\":");
    write_labels(out, &s.metric);
    match &s.h {
        None => {
            out.push_str(",\"value\":[");
            write_timestamp(out, s.t);
            out.push(',');
            write_value(out, s.f);
        }
        Some(h) => {
            out.push_str(",\"histogram\":[");
            write_timestamp(out, s.t);
            out.push(',');
            write_histogram(out, h);
        }
    }
    out.push_str("]}");
}

fn write_series(out: &mut String, s: &Series) {
    out.push_str("{\"metric\":");
    write_labels(out, &s.metric);
    if !s.floats.is_empty() {
        out.push_str(",\"values\":[");
        for (i, p) in s.floats.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            write_timestamp(out, p.t);
            out.push(',');
            write_value(out, p.f);
            out.push(']');
        }
        out.push(']');
    }
    if !s.histograms.is_empty() {
        out.push_str(",\"histograms\":[");
        for (i, p) in s.histograms.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            write_timestamp(out, p.t);
            out.push(',');
            write_histogram(out, &p.h);
            out.push(']');
        }
        out.push(']');
    }
    out.push('}');
}

/// Appends a native histogram: count, sum, and the non-empty buckets as
/// `[boundaries, lower, upper, count]`, where boundaries is 0 (upper inclusive), 1
/// (lower inclusive), 2 (neither) or 3 (both).
pub fn write_histogram(out: &mut String, h: &FloatHistogram) {
    out.push_str("{\"count\":");
    write_value(out, h.count);
    out.push_str(",\"sum\":");
    write_value(out, h.sum);
    let mut first = true;
    for b in all_buckets(h) {
        if b.count == 0.0 {
            continue;
        }
        out.push_str(if first { ",\"buckets\":[" } else { "," });
        first = false;
        let boundaries = match (b.lower_inclusive, b.upper_inclusive) {
            (true, true) => 3,
            (true, false) => 1,
            (false, true) => 0,
            (false, false) => 2,
        };
        out.push('[');
        out.push(char::from(b'0' + boundaries));
        out.push(',');
        write_value(out, b.lower);
        out.push(',');
        write_value(out, b.upper);
        out.push(',');
        write_value(out, b.count);
        out.push(']');
    }
    if !first {
        out.push(']');
    }
    out.push('}');
}

/// A JSON array of strings (label names or values).
pub fn strings<S: AsRef<str>>(items: &[S]) -> String {
    let mut out = String::with_capacity(items.len() * 16 + 2);
    write_string_array(&mut out, items);
    out
}

/// A JSON array of label sets (the `series` endpoint).
pub fn label_sets(items: &[Labels]) -> String {
    let mut out = String::with_capacity(items.len() * 64 + 2);
    out.push('[');
    for (i, l) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_labels(&mut out, l);
    }
    out.push(']');
    out
}

/// One metric metadata entry of the `metadata` endpoint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetadataJson {
    /// `counter`, `gauge`, ...
    pub metric_type: String,
    /// Help text.
    pub help: String,
    /// Unit.
    pub unit: String,
}

/// The `metadata` endpoint's object: metric name to its entries, names in order.
pub fn metadata(by_metric: &BTreeMap<String, Vec<MetadataJson>>) -> String {
    let mut out = String::with_capacity(by_metric.len() * 64 + 2);
    out.push('{');
    for (i, (name, entries)) in by_metric.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(&mut out, name);
        out.push_str(":[");
        for (j, e) in entries.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"type\":");
            write_string(&mut out, &e.metric_type);
            out.push_str(",\"help\":");
            write_string(&mut out, &e.help);
            out.push_str(",\"unit\":");
            write_string(&mut out, &e.unit);
            out.push('}');
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// The `query_exemplars` endpoint's array of series with their exemplars.
pub fn exemplars(series: &[ExemplarSeries]) -> String {
    let mut out = String::with_capacity(series.len() * 128 + 2);
    out.push('[');
    for (i, s) in series.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"seriesLabels\":");
        write_labels(&mut out, &s.series_labels);
        out.push_str(",\"exemplars\":[");
        for (j, e) in s.exemplars.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"labels\":");
            write_labels(&mut out, &e.labels);
            out.push_str(",\"value\":");
            write_value(&mut out, e.value);
            out.push_str(",\"timestamp\":");
            write_timestamp(&mut out, e.ts);
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push(']');
    out
}

/// Build information, in the shape of Prometheus' `status/buildinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// Release version.
    pub version: String,
    /// Source revision.
    pub revision: String,
    /// Source branch.
    pub branch: String,
    /// Who built it.
    pub build_user: String,
    /// When it was built.
    pub build_date: String,
    /// The compiler (Prometheus names this field after Go).
    pub go_version: String,
}

/// The `status/buildinfo` object.
pub fn build_info(b: &BuildInfo) -> String {
    let mut out = String::with_capacity(256);
    let fields = [
        ("version", &b.version),
        ("revision", &b.revision),
        ("branch", &b.branch),
        ("buildUser", &b.build_user),
        ("buildDate", &b.build_date),
        ("goVersion", &b.go_version),
    ];
    out.push('{');
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(&mut out, k);
        out.push(':');
        write_string(&mut out, v);
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorType;
    use crate::promql::FPoint;

    fn labels(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p.iter().copied()).unwrap()
    }

    #[test]
    fn vector_and_envelope_match_prometheus() {
        let v = Value::Vector(vec![Sample {
            metric: labels(&[("__name__", "up"), ("job", "api")]),
            t: 1_435_781_451_781,
            f: 1.0,
            h: None,
            drop_name: false,
        }]);
        assert_eq!(
            success(&query_data(&v), &[], &[]),
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"api"},"value":[1435781451.781,"1"]}]}}"#
        );
        assert_eq!(
            success(
                &query_data(&Value::Vector(vec![])),
                &["w".into()],
                &["i".into()]
            ),
            r#"{"status":"success","data":{"resultType":"vector","result":[]},"warnings":["w"],"infos":["i"]}"#
        );
    }

    #[test]
    fn matrix_scalar_string_match_prometheus() {
        let mut s = Series::new(labels(&[("a", "b")]));
        s.floats = vec![
            FPoint { t: 1000, f: 0.5 },
            FPoint {
                t: 61_500,
                f: f64::NAN,
            },
        ];
        assert_eq!(
            query_data(&Value::Matrix(vec![s])),
            r#"{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[1,"0.5"],[61.500,"NaN"]]}]}"#
        );
        assert_eq!(
            query_data(&Value::Scalar { t: 1_500, v: 1e22 }),
            r#"{"resultType":"scalar","result":[1.5,"10000000000000000000000"]}"#
        );
        assert_eq!(
            query_data(&Value::String {
                t: 2_000,
                v: "x\"y".into()
            }),
            r#"{"resultType":"string","result":[2,"x\"y"]}"#
        );
    }

    #[test]
    fn errors_match_prometheus() {
        let e = ApiError::new(ErrorType::BadData, "invalid parameter \"query\": 1:1: oops");
        assert_eq!(
            error(&e),
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:1: oops"}"#
        );
    }

    #[test]
    fn histograms_list_non_empty_buckets() {
        let h = FloatHistogram {
            schema: 0,
            count: 5.0,
            sum: 10.5,
            zero_threshold: 0.001,
            zero_count: 1.0,
            positive_spans: vec![cortex_tsdb::histogram::Span {
                offset: 0,
                length: 2,
            }],
            positive_buckets: vec![4.0, 0.0],
            ..Default::default()
        };
        let mut out = String::new();
        write_histogram(&mut out, &h);
        assert_eq!(
            out,
            r#"{"count":"5","sum":"10.5","buckets":[[3,"-0.001","0.001","1"],[0,"0.5","1","4"]]}"#
        );
    }

    #[test]
    fn lists_metadata_exemplars_and_build_info() {
        assert_eq!(strings(&["a", "b"]), r#"["a","b"]"#);
        assert_eq!(strings::<&str>(&[]), "[]");
        assert_eq!(label_sets(&[labels(&[("a", "1")])]), r#"[{"a":"1"}]"#);
        let mut md = BTreeMap::new();
        md.insert(
            "http_requests_total".to_string(),
            vec![MetadataJson {
                metric_type: "counter".into(),
                help: "Requests.".into(),
                unit: String::new(),
            }],
        );
        assert_eq!(
            metadata(&md),
            r#"{"http_requests_total":[{"type":"counter","help":"Requests.","unit":""}]}"#
        );
        let ex = ExemplarSeries {
            series_labels: labels(&[("__name__", "x")]),
            exemplars: vec![cortex_tsdb::exemplar::Exemplar {
                labels: labels(&[("trace_id", "abc")]),
                value: 6.0,
                ts: 1_600_096_945_479,
            }],
        };
        assert_eq!(
            exemplars(&[ex]),
            r#"[{"seriesLabels":{"__name__":"x"},"exemplars":[{"labels":{"trace_id":"abc"},"value":"6","timestamp":1600096945.479}]}]"#
        );
    }
}
