//! The conformance suite every [`IngesterApi`] implementation runs (the local adapter,
//! the gRPC client against a served ingester): push then query back exactly (floats,
//! staleness markers, native histograms, time ranges, batching), exemplars, label names
//! and values and series with matchers, metric metadata, user stats, tenant isolation,
//! and the status classes of refused pushes.
//!
//! The suite takes one implementation over an empty ingester with exemplar storage
//! enabled and works in tenants of its own (`conformance-*`), so it needs no reset
//! between checks. Available to this
//! crate's tests and, behind the `testing` feature, to other crates' tests.

use std::time::{SystemTime, UNIX_EPOCH};

use cortex_tsdb::histogram::{FloatHistogram, Span};
use cortex_tsdb::labels::{Labels, MatchType, Matcher};
use cortex_tsdb::value::STALE_NAN;

use cortex_tsdb::exemplar::ExemplarSeries;

use super::api::{IngesterApi, IngesterApiError, QUERY_BATCH_SERIES, SeriesData};
use super::metadata::MetadataQuery;
use super::rate::PushSource;
use crate::querier::SampleValue;
use crate::remote_write::{
    Exemplar, HistogramSample, HistogramValue, Label, MetricMetadata, MetricType, Sample,
    TimeSeries, WriteRequest,
};

/// Exemplars per tenant the ingester under test must keep (its `max_exemplars`) at
/// least.
pub const CONFORMANCE_MAX_EXEMPLARS: i64 = 100;

/// Runs every check against `api`, which must serve an ingester holding no data of
/// the `conformance-*` tenants and keeping at least [`CONFORMANCE_MAX_EXEMPLARS`]
/// exemplars per tenant. Panics with the failed check's message.
pub async fn run_conformance(api: &dyn IngesterApi) {
    let t0 = base_time();
    push_then_query_exactly(api, t0).await;
    query_is_batched(api, t0).await;
    exemplars_round_trip(api, t0).await;
    labels_and_series_with_matchers(api, t0).await;
    metadata_round_trips(api, t0).await;
    user_stats_count_series(api, t0).await;
    tenants_are_isolated(api, t0).await;
    bad_pushes_are_client_errors(api, t0).await;
}

/// A minute-aligned time ten minutes ago, so every sample is inside the head's range.
fn base_time() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    (now - 600_000) / 60_000 * 60_000
}

fn series<'a>(labels: &[(&'a str, &'a str)], samples: &[(i64, f64)]) -> TimeSeries<'a> {
    TimeSeries {
        labels: labels
            .iter()
            .map(|&(name, value)| Label { name, value })
            .collect(),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| Sample { timestamp, value })
            .collect(),
        ..TimeSeries::default()
    }
}

fn request(timeseries: Vec<TimeSeries<'_>>) -> WriteRequest<'_> {
    WriteRequest {
        timeseries,
        ..WriteRequest::default()
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).expect("suite labels are valid")
}

fn eq(name: &str, value: &str) -> Matcher {
    Matcher::equal(name, value)
}

fn re(name: &str, value: &str) -> Matcher {
    Matcher::new(MatchType::Regexp, name, value).expect("suite regexp is valid")
}

fn histogram(n: f64) -> FloatHistogram {
    FloatHistogram {
        schema: 1,
        zero_threshold: 0.001,
        zero_count: n,
        count: 4.0 * n,
        sum: 7.5 * n,
        positive_spans: vec![Span {
            offset: -1,
            length: 2,
        }],
        positive_buckets: vec![n, 2.0 * n],
        ..FloatHistogram::default()
    }
}

/// Floats as (timestamp, bit pattern), so NaNs compare.
fn float_bits(s: &SeriesData) -> Vec<(i64, u64)> {
    s.samples
        .iter()
        .filter_map(|x| match &x.value {
            SampleValue::Float(v) => Some((x.t, v.to_bits())),
            SampleValue::Histogram(_) => None,
        })
        .collect()
}

async fn push_ok(api: &dyn IngesterApi, tenant: &str, req: &WriteRequest<'_>) {
    if let Err(e) = api.push(tenant, req, PushSource::Api).await {
        panic!("push to {tenant} failed: {e} (status {})", e.status());
    }
}

async fn query(
    api: &dyn IngesterApi,
    tenant: &str,
    start: i64,
    end: i64,
    matchers: &[Matcher],
) -> Vec<SeriesData> {
    let stream = api
        .query(tenant, start, end, matchers)
        .await
        .expect("query starts");
    stream.collect().await.expect("query streams")
}

async fn push_then_query_exactly(api: &dyn IngesterApi, t0: i64) {
    let tenant = "conformance-query";
    let mut req = request(vec![
        series(
            &[("__name__", "up"), ("instance", "a"), ("job", "api")],
            &[(t0, 1.0), (t0 + 15_000, 0.0), (t0 + 30_000, -2.5)],
        ),
        series(
            &[("__name__", "up"), ("instance", "b"), ("job", "api")],
            &[(t0, 1.0), (t0 + 15_000, STALE_NAN)],
        ),
    ]);
    let mut hist = series(&[("__name__", "latency_seconds"), ("job", "api")], &[]);
    hist.histograms = (0..3)
        .map(|i| HistogramSample {
            timestamp: t0 + i * 60_000,
            value: HistogramValue::Float(Box::new(histogram((i + 1) as f64))),
        })
        .collect();
    req.timeseries.push(hist);
    let stats = api
        .push(tenant, &req, PushSource::Api)
        .await
        .expect("push succeeds");
    assert_eq!(
        (stats.samples, stats.histograms, stats.failed_samples),
        (5, 3, 0),
        "push stats"
    );

    let got = query(api, tenant, t0, t0 + 60_000, &[eq("__name__", "up")]).await;
    let names: Vec<String> = got.iter().map(|s| s.labels.to_string()).collect();
    assert_eq!(
        names,
        [
            r#"{__name__="up", instance="a", job="api"}"#,
            r#"{__name__="up", instance="b", job="api"}"#
        ],
        "query returns the matching series sorted by labels"
    );
    let a: Vec<(i64, u64)> = [(t0, 1.0f64), (t0 + 15_000, 0.0), (t0 + 30_000, -2.5)]
        .iter()
        .map(|&(t, v)| (t, v.to_bits()))
        .collect();
    assert_eq!(float_bits(&got[0]), a, "float samples come back exactly");
    assert_eq!(
        float_bits(&got[1]),
        [(t0, 1.0f64.to_bits()), (t0 + 15_000, STALE_NAN.to_bits())],
        "the staleness marker comes back bit for bit"
    );

    // The range is inclusive at both ends and cuts samples outside it.
    let got = query(
        api,
        tenant,
        t0 + 15_000,
        t0 + 15_000,
        &[eq("instance", "a")],
    )
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(float_bits(&got[0]), [(t0 + 15_000, 0.0f64.to_bits())]);
    let got = query(
        api,
        tenant,
        t0 + 31_000,
        t0 + 59_000,
        &[eq("__name__", "up")],
    )
    .await;
    assert!(got.is_empty(), "series without samples in range: {got:?}");

    let got = query(
        api,
        tenant,
        t0,
        t0 + 120_000,
        &[eq("__name__", "latency_seconds")],
    )
    .await;
    assert_eq!(got.len(), 1, "one histogram series");
    let hs: Vec<(i64, FloatHistogram)> = got[0]
        .samples
        .iter()
        .filter_map(|s| match &s.value {
            SampleValue::Histogram(h) => {
                // Counter-reset hints are the chunk's business; everything else is data.
                let mut h = (**h).clone();
                h.counter_reset_hint = Default::default();
                Some((s.t, h))
            }
            SampleValue::Float(_) => None,
        })
        .collect();
    let want: Vec<(i64, FloatHistogram)> = (0..3)
        .map(|i| (t0 + i * 60_000, histogram((i + 1) as f64)))
        .collect();
    assert_eq!(hs, want, "native histograms come back exactly");

    let none = query(api, tenant, t0, t0 + 60_000, &[eq("__name__", "absent")]).await;
    assert!(none.is_empty());
}

fn exemplar<'a>(ts: i64, value: f64, trace: &'a str) -> Exemplar<'a> {
    Exemplar {
        labels: if trace.is_empty() {
            Vec::new()
        } else {
            vec![Label {
                name: "trace_id",
                value: trace,
            }]
        },
        value,
        timestamp: ts,
    }
}

/// Each series as its labels and its exemplars as (timestamp, value bits, labels).
type ExemplarView = Vec<(String, Vec<(i64, u64, String)>)>;

fn exemplar_view(got: &[ExemplarSeries]) -> ExemplarView {
    got.iter()
        .map(|s| {
            let es = s
                .exemplars
                .iter()
                .map(|e| (e.ts, e.value.to_bits(), e.labels.to_string()))
                .collect();
            (s.series_labels.to_string(), es)
        })
        .collect()
}

async fn exemplars(
    api: &dyn IngesterApi,
    tenant: &str,
    start: i64,
    end: i64,
    sets: &[Vec<Matcher>],
) -> ExemplarView {
    let got = api
        .exemplars(tenant, start, end, sets)
        .await
        .expect("exemplar query");
    exemplar_view(&got)
}

async fn exemplars_round_trip(api: &dyn IngesterApi, t0: i64) {
    let tenant = "conformance-exemplars";
    let mut a = series(
        &[("__name__", "requests_total"), ("job", "a")],
        &[(t0, 1.0), (t0 + 15_000, 2.0)],
    );
    a.exemplars = vec![
        exemplar(t0, 0.25, "abc"),
        exemplar(t0 + 15_000, -1.5, "def"),
    ];
    let mut b = series(
        &[("__name__", "requests_total"), ("job", "b")],
        &[(t0, 3.0)],
    );
    b.exemplars = vec![exemplar(t0, 7.0, "")];
    let mut other = series(&[("__name__", "other")], &[(t0, 1.0)]);
    other.exemplars = vec![exemplar(t0, 1.0, "xyz")];
    let stats = api
        .push(tenant, &request(vec![b, other, a]), PushSource::Api)
        .await
        .expect("push with exemplars succeeds");
    assert_eq!(
        (stats.exemplars, stats.failed_exemplars),
        (4, 0),
        "exemplar push stats"
    );

    let series_a = r#"{__name__="requests_total", job="a"}"#.to_string();
    let series_b = r#"{__name__="requests_total", job="b"}"#.to_string();
    let got = exemplars(
        api,
        tenant,
        t0,
        t0 + 15_000,
        &[vec![eq("__name__", "requests_total")]],
    )
    .await;
    assert_eq!(
        got,
        [
            (
                series_a.clone(),
                vec![
                    (t0, 0.25f64.to_bits(), r#"{trace_id="abc"}"#.to_string()),
                    (
                        t0 + 15_000,
                        (-1.5f64).to_bits(),
                        r#"{trace_id="def"}"#.to_string()
                    ),
                ]
            ),
            (
                series_b.clone(),
                vec![(t0, 7.0f64.to_bits(), "{}".to_string())]
            ),
        ],
        "exemplars come back exactly, series sorted by labels, exemplars by time"
    );

    // The range is inclusive and cuts exemplars outside it; sets are a union.
    let got = exemplars(
        api,
        tenant,
        t0 + 15_000,
        t0 + 60_000,
        &[vec![eq("job", "a")], vec![eq("job", "b")]],
    )
    .await;
    assert_eq!(
        got,
        [(
            series_a,
            vec![(
                t0 + 15_000,
                (-1.5f64).to_bits(),
                r#"{trace_id="def"}"#.to_string()
            )]
        )],
        "only exemplars in range"
    );
    let got = exemplars(
        api,
        tenant,
        t0,
        t0,
        &[vec![eq("job", "b")], vec![re("__name__", "oth.*")]],
    )
    .await;
    let names: Vec<&str> = got.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        names,
        [r#"{__name__="other"}"#, series_b.as_str()],
        "each matcher set adds its series"
    );

    let none = exemplars(api, tenant, t0, t0, &[vec![eq("__name__", "absent")]]).await;
    assert!(none.is_empty(), "no series match: {none:?}");
    let theirs = exemplars(
        api,
        "conformance-exemplars-other",
        t0,
        t0 + 15_000,
        &[vec![eq("__name__", "requests_total")]],
    )
    .await;
    assert!(
        theirs.is_empty(),
        "another tenant's exemplars leaked: {theirs:?}"
    );
}

async fn query_is_batched(api: &dyn IngesterApi, t0: i64) {
    let tenant = "conformance-batches";
    let n = 2 * QUERY_BATCH_SERIES + 44;
    let values: Vec<String> = (0..n).map(|i| format!("{i:04}")).collect();
    let req = request(
        values
            .iter()
            .map(|v| series(&[("__name__", "many"), ("i", v)], &[(t0, 1.0)]))
            .collect(),
    );
    push_ok(api, tenant, &req).await;
    let mut stream = api
        .query(tenant, t0, t0, &[eq("__name__", "many")])
        .await
        .expect("query starts");
    let mut sizes = Vec::new();
    let mut seen = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch.expect("batch");
        sizes.push(batch.len());
        seen.extend(
            batch
                .into_iter()
                .map(|s| s.labels.get("i").unwrap_or("").to_string()),
        );
    }
    assert_eq!(
        sizes,
        [QUERY_BATCH_SERIES, QUERY_BATCH_SERIES, 44],
        "series come in batches of {QUERY_BATCH_SERIES}"
    );
    assert_eq!(seen, values, "every series once, in label order");
}

async fn labels_and_series_with_matchers(api: &dyn IngesterApi, t0: i64) {
    let tenant = "conformance-labels";
    let req = request(vec![
        series(
            &[
                ("__name__", "http_requests"),
                ("code", "200"),
                ("job", "api"),
            ],
            &[(t0, 1.0)],
        ),
        series(
            &[
                ("__name__", "http_requests"),
                ("code", "500"),
                ("job", "web"),
            ],
            &[(t0 + 60_000, 1.0)],
        ),
        series(
            &[("__name__", "up"), ("job", "db"), ("zone", "eu")],
            &[(t0, 1.0)],
        ),
    ]);
    push_ok(api, tenant, &req).await;
    let (start, end) = (t0, t0 + 60_000);

    let names = api
        .label_names(tenant, start, end, &[])
        .await
        .expect("names");
    assert_eq!(names, ["__name__", "code", "job", "zone"]);
    let names = api
        .label_names(tenant, start, end, &[eq("__name__", "up")])
        .await
        .expect("names with matcher");
    assert_eq!(names, ["__name__", "job", "zone"]);

    let jobs = api
        .label_values(tenant, "job", start, end, &[])
        .await
        .expect("values");
    assert_eq!(jobs, ["api", "db", "web"]);
    let jobs = api
        .label_values(tenant, "job", start, end, &[re("code", "2..")])
        .await
        .expect("values with matcher");
    assert_eq!(jobs, ["api"]);
    let codes = api
        .label_values(tenant, "code", start, end, &[])
        .await
        .expect("values");
    assert_eq!(codes, ["200", "500"]);
    let none = api
        .label_values(tenant, "missing", start, end, &[])
        .await
        .expect("values of a missing name");
    assert!(none.is_empty());

    let sets = vec![
        vec![eq("__name__", "http_requests"), eq("job", "web")],
        vec![eq("__name__", "up")],
        // Overlaps the first set: reported once.
        vec![eq("code", "500")],
    ];
    let got = api.series(tenant, start, end, &sets).await.expect("series");
    assert_eq!(
        got,
        [
            labels(&[
                ("__name__", "http_requests"),
                ("code", "500"),
                ("job", "web")
            ]),
            labels(&[("__name__", "up"), ("job", "db"), ("zone", "eu")]),
        ]
    );
}

async fn metadata_round_trips(api: &dyn IngesterApi, t0: i64) {
    let tenant = "conformance-metadata";
    let mut req = request(vec![series(&[("__name__", "reqs_total")], &[(t0, 1.0)])]);
    req.metadata = vec![
        MetricMetadata {
            metric_family_name: "reqs_total",
            metric_type: MetricType::Counter,
            help: "Requests served.",
            unit: "",
        },
        MetricMetadata {
            metric_family_name: "temp",
            metric_type: MetricType::Gauge,
            help: "Temperature.",
            unit: "celsius",
        },
    ];
    let stats = api
        .push(tenant, &req, PushSource::Api)
        .await
        .expect("push with metadata");
    assert_eq!(stats.metadata, 2, "metadata counted as accepted");

    let all = api
        .metadata(tenant, &MetadataQuery::default())
        .await
        .expect("metadata");
    let got: Vec<(&str, &str, &str, &str)> = all
        .iter()
        .map(|m| {
            (
                m.metric_family_name.as_str(),
                m.type_name(),
                m.help.as_str(),
                m.unit.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("reqs_total", "counter", "Requests served.", ""),
            ("temp", "gauge", "Temperature.", "celsius"),
        ]
    );
    let one = api
        .metadata(
            tenant,
            &MetadataQuery {
                metric: Some("temp".into()),
                ..MetadataQuery::default()
            },
        )
        .await
        .expect("metadata of one metric");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].metric_family_name, "temp");
    let limited = api
        .metadata(
            tenant,
            &MetadataQuery {
                limit: Some(1),
                ..MetadataQuery::default()
            },
        )
        .await
        .expect("limited metadata");
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].metric_family_name, "reqs_total");
}

async fn user_stats_count_series(api: &dyn IngesterApi, t0: i64) {
    let tenant = "conformance-stats";
    let req = request(
        (0..3)
            .map(|i| {
                let v = ["a", "b", "c"][i];
                series(&[("__name__", "s"), ("i", v)], &[(t0, 1.0)])
            })
            .collect(),
    );
    push_ok(api, tenant, &req).await;
    let rule = request(vec![series(&[("__name__", "rule:s")], &[(t0, 1.0)])]);
    api.push(tenant, &rule, PushSource::Rule)
        .await
        .expect("rule push");
    let stats = api.user_stats(tenant).await.expect("user stats");
    assert_eq!(stats.num_series, 4, "series in the head");
    assert!(stats.ingestion_rate >= 0.0 && stats.api_ingestion_rate >= 0.0);
    assert_eq!(
        stats.ingestion_rate,
        stats.api_ingestion_rate + stats.rule_ingestion_rate,
        "the total rate is API plus rules"
    );
    let none = api
        .user_stats("conformance-nobody")
        .await
        .expect("user stats of an unknown tenant");
    assert_eq!(none, Default::default(), "an unknown tenant has no stats");
}

async fn tenants_are_isolated(api: &dyn IngesterApi, t0: i64) {
    let req = request(vec![series(&[("__name__", "secret")], &[(t0, 42.0)])]);
    push_ok(api, "conformance-a", &req).await;
    let theirs = query(api, "conformance-b", t0, t0, &[eq("__name__", "secret")]).await;
    assert!(
        theirs.is_empty(),
        "another tenant's data leaked: {theirs:?}"
    );
    let names = api
        .label_names("conformance-b", t0, t0, &[])
        .await
        .expect("names");
    assert!(names.is_empty(), "another tenant's names leaked: {names:?}");
    let ours = query(api, "conformance-a", t0, t0, &[eq("__name__", "secret")]).await;
    assert_eq!(ours.len(), 1);
}

fn assert_client_error(e: &IngesterApiError, contains: &str) {
    assert_eq!(e.status(), 400, "status of {e}");
    assert!(e.is_client_error(), "{e} is a client error");
    assert!(
        matches!(e, IngesterApiError::Rejected { .. }),
        "{e:?} is a rejection"
    );
    assert!(
        e.to_string().contains(contains),
        "{e:?} should say {contains:?}"
    );
}

async fn bad_pushes_are_client_errors(api: &dyn IngesterApi, t0: i64) {
    let tenant = "conformance-bad";
    // Labels out of order break the distributor's contract: nothing is stored.
    let bad = request(vec![
        series(&[("job", "x"), ("__name__", "m")], &[(t0, 1.0)]),
        series(&[("__name__", "m"), ("job", "y")], &[(t0, 1.0)]),
    ]);
    let e = api
        .push(tenant, &bad, PushSource::Api)
        .await
        .expect_err("unsorted labels are refused");
    assert_client_error(&e, "out-of-order label set found when push");

    // An out-of-order sample is refused with Cortex's message; the rest is stored.
    push_ok(
        api,
        tenant,
        &request(vec![series(&[("__name__", "m")], &[(t0 + 60_000, 1.0)])]),
    )
    .await;
    let partial = request(vec![
        series(&[("__name__", "m")], &[(t0, 2.0)]),
        series(&[("__name__", "n")], &[(t0, 3.0)]),
    ]);
    let e = api
        .push(tenant, &partial, PushSource::Api)
        .await
        .expect_err("an out-of-order sample is refused");
    assert_client_error(&e, "out of order sample");
    assert!(
        e.to_string().starts_with("user=conformance-bad: "),
        "{e} names the tenant"
    );
    let stored = query(api, tenant, t0, t0 + 60_000, &[re("__name__", "m|n")]).await;
    let got: Vec<(String, Vec<(i64, u64)>)> = stored
        .iter()
        .map(|s| (s.labels.to_string(), float_bits(s)))
        .collect();
    assert_eq!(
        got,
        [
            (
                r#"{__name__="m"}"#.to_string(),
                vec![(t0 + 60_000, 1.0f64.to_bits())]
            ),
            (
                r#"{__name__="n"}"#.to_string(),
                vec![(t0, 3.0f64.to_bits())]
            ),
        ],
        "the accepted samples of a partly refused push are stored"
    );
}
