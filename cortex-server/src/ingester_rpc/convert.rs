//! Protobuf messages of `proto/ingester.proto` to and from cortex-core's types. Every
//! conversion from the wire checks what it reads (matchers compile, label sets are
//! valid, enum numbers are known) and says what is wrong instead of panicking.

use std::sync::Arc;

use cortex_core::ingester::api::SeriesData;
use cortex_core::ingester::metadata::{MetadataEntry, MetadataQuery};
use cortex_core::ingester::{DiscardReason, PushSource, PushStats, UserStats};
use cortex_core::querier::{Sample, SampleValue};
use cortex_core::remote_write::{MetricMetadata, MetricType, WriteRequest, encode_v1};
use cortex_tsdb::exemplar::{Exemplar, ExemplarSeries};
use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram, Span};
use cortex_tsdb::labels::{Labels, MatchType, Matcher};

use super::proto;

pub(crate) fn matchers_to_proto(ms: &[Matcher]) -> Vec<proto::LabelMatcher> {
    ms.iter()
        .map(|m| proto::LabelMatcher {
            r#type: match m.kind() {
                MatchType::Equal => proto::MatchType::Equal,
                MatchType::NotEqual => proto::MatchType::NotEqual,
                MatchType::Regexp => proto::MatchType::RegexMatch,
                MatchType::NotRegexp => proto::MatchType::RegexNoMatch,
            } as i32,
            name: m.name().to_string(),
            value: m.value().to_string(),
        })
        .collect()
}

pub(crate) fn matchers_from_proto(ms: &[proto::LabelMatcher]) -> Result<Vec<Matcher>, String> {
    ms.iter()
        .map(|m| {
            let kind = match proto::MatchType::try_from(m.r#type) {
                Ok(proto::MatchType::Equal) => MatchType::Equal,
                Ok(proto::MatchType::NotEqual) => MatchType::NotEqual,
                Ok(proto::MatchType::RegexMatch) => MatchType::Regexp,
                Ok(proto::MatchType::RegexNoMatch) => MatchType::NotRegexp,
                Err(_) => return Err(format!("unknown match type {}", m.r#type)),
            };
            Matcher::new(kind, &m.name, &m.value).map_err(|e| e.to_string())
        })
        .collect()
}

pub(crate) fn labels_to_proto(ls: &Labels) -> Vec<proto::LabelPair> {
    ls.iter()
        .map(|l| proto::LabelPair {
            name: l.name.to_string(),
            value: l.value.to_string(),
        })
        .collect()
}

pub(crate) fn labels_from_proto(ls: &[proto::LabelPair]) -> Result<Labels, String> {
    Labels::from_pairs(ls.iter().map(|l| (l.name.as_str(), l.value.as_str())))
        .map_err(|e| format!("invalid label set: {e}"))
}

fn spans_to_proto(s: &[Span]) -> Vec<proto::BucketSpan> {
    s.iter()
        .map(|s| proto::BucketSpan {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

fn spans_from_proto(s: &[proto::BucketSpan]) -> Vec<Span> {
    s.iter()
        .map(|s| Span {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

fn histogram_to_proto(h: &FloatHistogram) -> proto::FloatHistogram {
    proto::FloatHistogram {
        reset_hint: h.counter_reset_hint as i32,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: h.zero_count,
        count: h.count,
        sum: h.sum,
        positive_spans: spans_to_proto(&h.positive_spans),
        negative_spans: spans_to_proto(&h.negative_spans),
        positive_buckets: h.positive_buckets.clone(),
        negative_buckets: h.negative_buckets.clone(),
        custom_values: h.custom_values.clone(),
    }
}

fn histogram_from_proto(h: proto::FloatHistogram) -> Result<FloatHistogram, String> {
    let hint = u8::try_from(h.reset_hint)
        .ok()
        .and_then(CounterResetHint::from_u8)
        .ok_or_else(|| format!("unknown counter reset hint {}", h.reset_hint))?;
    Ok(FloatHistogram {
        counter_reset_hint: hint,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: h.zero_count,
        count: h.count,
        sum: h.sum,
        positive_spans: spans_from_proto(&h.positive_spans),
        negative_spans: spans_from_proto(&h.negative_spans),
        positive_buckets: h.positive_buckets,
        negative_buckets: h.negative_buckets,
        custom_values: h.custom_values,
    })
}

pub(crate) fn series_to_proto(s: &SeriesData) -> proto::TimeSeries {
    proto::TimeSeries {
        labels: labels_to_proto(&s.labels),
        samples: s
            .samples
            .iter()
            .map(|x| proto::Sample {
                timestamp_ms: x.t,
                start_timestamp_ms: x.st,
                value: Some(match &x.value {
                    SampleValue::Float(v) => proto::sample::Value::Float(*v),
                    SampleValue::Histogram(h) => {
                        proto::sample::Value::Histogram(histogram_to_proto(h))
                    }
                }),
            })
            .collect(),
        exemplars: Vec::new(),
    }
}

pub(crate) fn series_from_proto(s: proto::TimeSeries) -> Result<SeriesData, String> {
    let labels = labels_from_proto(&s.labels)?;
    let samples = s
        .samples
        .into_iter()
        .map(|x| {
            let value = match x.value {
                Some(proto::sample::Value::Float(v)) => SampleValue::Float(v),
                Some(proto::sample::Value::Histogram(h)) => {
                    SampleValue::Histogram(Arc::new(histogram_from_proto(h)?))
                }
                None => return Err(format!("sample at {} without a value", x.timestamp_ms)),
            };
            Ok(Sample {
                t: x.timestamp_ms,
                st: x.start_timestamp_ms,
                value,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(SeriesData { labels, samples })
}

pub(crate) fn exemplar_series_to_proto(s: &ExemplarSeries) -> proto::TimeSeries {
    proto::TimeSeries {
        labels: labels_to_proto(&s.series_labels),
        samples: Vec::new(),
        exemplars: s
            .exemplars
            .iter()
            .map(|e| proto::Exemplar {
                labels: labels_to_proto(&e.labels),
                value: e.value,
                timestamp_ms: e.ts,
            })
            .collect(),
    }
}

pub(crate) fn exemplar_series_from_proto(s: proto::TimeSeries) -> Result<ExemplarSeries, String> {
    let exemplars = s
        .exemplars
        .iter()
        .map(|e| {
            Ok(Exemplar {
                labels: labels_from_proto(&e.labels)?,
                value: e.value,
                ts: e.timestamp_ms,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(ExemplarSeries {
        series_labels: labels_from_proto(&s.labels)?,
        exemplars,
    })
}

pub(crate) fn matcher_sets_to_proto(sets: &[Vec<Matcher>]) -> Vec<proto::LabelMatchers> {
    sets.iter()
        .map(|s| proto::LabelMatchers {
            matchers: matchers_to_proto(s),
        })
        .collect()
}

pub(crate) fn matcher_sets_from_proto(
    sets: &[proto::LabelMatchers],
) -> Result<Vec<Vec<Matcher>>, String> {
    sets.iter()
        .map(|s| matchers_from_proto(&s.matchers))
        .collect()
}

/// The push message for `req`. Remote write 1.0 has no per-series metadata (2.0 has),
/// so that is moved to the request level, named after the series' metric as the
/// ingester would name it.
pub(crate) fn push_to_proto(req: &WriteRequest<'_>, source: PushSource) -> proto::PushRequest {
    let mut bytes = Vec::new();
    if req.timeseries.iter().any(|ts| ts.metadata.is_some()) {
        let mut v1 = req.clone();
        for ts in &mut v1.timeseries {
            if let Some(mut m) = ts.metadata.take() {
                if m.metric_family_name.is_empty() {
                    m.metric_family_name = ts
                        .labels
                        .iter()
                        .find(|l| l.name == cortex_tsdb::labels::METRIC_NAME)
                        .map_or("", |l| l.value);
                }
                if !m.metric_family_name.is_empty() {
                    v1.metadata.push(m);
                }
            }
        }
        encode_v1(&v1, &mut bytes);
    } else {
        encode_v1(req, &mut bytes);
    }
    proto::PushRequest {
        write_request: bytes,
        source: match source {
            PushSource::Api => proto::SourceEnum::Api,
            PushSource::Rule => proto::SourceEnum::Rule,
        } as i32,
    }
}

pub(crate) fn source_from_proto(v: i32) -> Result<PushSource, String> {
    match proto::SourceEnum::try_from(v) {
        Ok(proto::SourceEnum::Api) => Ok(PushSource::Api),
        Ok(proto::SourceEnum::Rule) => Ok(PushSource::Rule),
        Err(_) => Err(format!("unknown push source {v}")),
    }
}

pub(crate) fn push_stats_to_proto(s: &PushStats) -> proto::PushResponse {
    proto::PushResponse {
        samples: s.samples,
        failed_samples: s.failed_samples,
        histograms: s.histograms,
        failed_histograms: s.failed_histograms,
        exemplars: s.exemplars,
        failed_exemplars: s.failed_exemplars,
        metadata: s.metadata,
        failed_metadata: s.failed_metadata,
        discarded: s.discarded.to_vec(),
    }
}

pub(crate) fn push_stats_from_proto(r: &proto::PushResponse) -> PushStats {
    let mut discarded = [0; DiscardReason::ALL.len()];
    for (d, n) in discarded.iter_mut().zip(&r.discarded) {
        *d = *n;
    }
    PushStats {
        samples: r.samples,
        failed_samples: r.failed_samples,
        histograms: r.histograms,
        failed_histograms: r.failed_histograms,
        exemplars: r.exemplars,
        failed_exemplars: r.failed_exemplars,
        metadata: r.metadata,
        failed_metadata: r.failed_metadata,
        discarded,
    }
}

fn optional_limit(v: Option<usize>) -> i64 {
    v.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

fn limit_from_proto(v: i64) -> Option<usize> {
    usize::try_from(v).ok()
}

pub(crate) fn metadata_query_to_proto(q: &MetadataQuery) -> proto::MetricsMetadataRequest {
    proto::MetricsMetadataRequest {
        limit: optional_limit(q.limit),
        limit_per_metric: optional_limit(q.limit_per_metric),
        metric: q.metric.clone().unwrap_or_default(),
    }
}

pub(crate) fn metadata_query_from_proto(r: &proto::MetricsMetadataRequest) -> MetadataQuery {
    MetadataQuery {
        metric: (!r.metric.is_empty()).then(|| r.metric.clone()),
        limit: limit_from_proto(r.limit),
        limit_per_metric: limit_from_proto(r.limit_per_metric),
    }
}

const METRIC_TYPES: [MetricType; 8] = [
    MetricType::Unknown,
    MetricType::Counter,
    MetricType::Gauge,
    MetricType::Histogram,
    MetricType::GaugeHistogram,
    MetricType::Summary,
    MetricType::Info,
    MetricType::StateSet,
];

pub(crate) fn metadata_to_proto(e: &MetadataEntry) -> proto::MetricMetadata {
    let t = METRIC_TYPES
        .iter()
        .find(|t| t.as_str() == e.type_name())
        .copied()
        .unwrap_or_default();
    proto::MetricMetadata {
        r#type: t.to_proto() as i32,
        metric_family_name: e.metric_family_name.clone(),
        help: e.help.clone(),
        unit: e.unit.clone(),
    }
}

pub(crate) fn metadata_from_proto(m: &proto::MetricMetadata) -> MetadataEntry {
    let t = u64::try_from(m.r#type).map_or(MetricType::Unknown, MetricType::from_proto);
    MetadataEntry::from_request(&MetricMetadata {
        metric_family_name: &m.metric_family_name,
        metric_type: t,
        help: &m.help,
        unit: &m.unit,
    })
}

pub(crate) fn user_stats_to_proto(s: &UserStats) -> proto::UserStatsResponse {
    proto::UserStatsResponse {
        ingestion_rate: s.ingestion_rate,
        num_series: s.num_series,
        api_ingestion_rate: s.api_ingestion_rate,
        rule_ingestion_rate: s.rule_ingestion_rate,
        active_series: s.active_series,
    }
}

pub(crate) fn user_stats_from_proto(r: &proto::UserStatsResponse) -> UserStats {
    UserStats {
        ingestion_rate: r.ingestion_rate,
        num_series: r.num_series,
        api_ingestion_rate: r.api_ingestion_rate,
        rule_ingestion_rate: r.rule_ingestion_rate,
        active_series: r.active_series,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cortex_core::remote_write::{Label, decode_v1};

    #[test]
    fn matchers_round_trip_and_bad_regexps_are_refused() {
        let ms = vec![
            Matcher::equal("a", "1"),
            Matcher::new(MatchType::NotRegexp, "b", "x|y").unwrap(),
        ];
        let back = matchers_from_proto(&matchers_to_proto(&ms)).unwrap();
        assert_eq!(back, ms);
        let bad = proto::LabelMatcher {
            r#type: proto::MatchType::RegexMatch as i32,
            name: "a".into(),
            value: "(".into(),
        };
        assert!(matchers_from_proto(&[bad]).is_err());
        let unknown = proto::LabelMatcher {
            r#type: 9,
            name: "a".into(),
            value: "b".into(),
        };
        assert!(matchers_from_proto(&[unknown]).is_err());
    }

    #[test]
    fn exemplar_series_round_trip_and_bad_labels_are_refused() {
        let s = ExemplarSeries {
            series_labels: Labels::from_pairs([("__name__", "m"), ("job", "a")]).unwrap(),
            exemplars: vec![
                Exemplar {
                    labels: Labels::from_pairs([("trace_id", "abc")]).unwrap(),
                    value: -0.5,
                    ts: 10,
                },
                Exemplar {
                    labels: Labels::empty(),
                    value: 2.0,
                    ts: 20,
                },
            ],
        };
        let p = exemplar_series_to_proto(&s);
        assert!(p.samples.is_empty());
        assert_eq!(exemplar_series_from_proto(p.clone()), Ok(s));
        let mut bad = p;
        bad.exemplars[1].labels = vec![
            proto::LabelPair {
                name: "a".into(),
                value: "1".into(),
            },
            proto::LabelPair {
                name: "a".into(),
                value: "2".into(),
            },
        ];
        assert!(exemplar_series_from_proto(bad).is_err());
    }

    #[test]
    fn per_series_metadata_moves_to_the_request_level() {
        let mut req = WriteRequest::default();
        req.timeseries.push(cortex_core::remote_write::TimeSeries {
            labels: vec![Label {
                name: "__name__",
                value: "jobs_total",
            }]
            .into(),
            metadata: Some(MetricMetadata {
                metric_type: MetricType::Counter,
                help: "Jobs.",
                ..MetricMetadata::default()
            }),
            ..Default::default()
        });
        let p = push_to_proto(&req, PushSource::Rule);
        assert_eq!(source_from_proto(p.source), Ok(PushSource::Rule));
        let back = decode_v1(&p.write_request).unwrap();
        assert_eq!(
            back.metadata,
            [MetricMetadata {
                metric_family_name: "jobs_total",
                metric_type: MetricType::Counter,
                help: "Jobs.",
                unit: "",
            }]
        );
    }

    #[test]
    fn metadata_queries_keep_absent_limits_apart_from_zero() {
        for q in [
            MetadataQuery::default(),
            MetadataQuery {
                metric: Some("m".into()),
                limit: Some(0),
                limit_per_metric: Some(3),
            },
        ] {
            assert_eq!(metadata_query_from_proto(&metadata_query_to_proto(&q)), q);
        }
    }
}
