//! Remote write 2.0 pushes are stored and answered with the written counts; a tenant
//! over its ingestion rate gets 429 with Cortex's message and nothing of that push is
//! stored; exemplars arrive with their series when exemplar storage is on.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use cortex_core::remote_write::{
    Exemplar, Label, MetricMetadata, MetricType, Protocol, Sample, TimeSeries, WriteRequest,
    compress, encode_v2,
};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn remote_write_2_is_stored_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &["-ingester.max-exemplars=100"]);
    let t = now_ms() - 10_000;
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![
                Label {
                    name: "__name__",
                    value: "http_requests_total",
                },
                Label {
                    name: "job",
                    value: "api",
                },
            ]
            .into(),
            samples: vec![
                Sample {
                    timestamp: t,
                    value: 1.0,
                },
                Sample {
                    timestamp: t + 1000,
                    value: 3.0,
                },
            ]
            .into(),
            exemplars: vec![Exemplar {
                labels: vec![Label {
                    name: "trace_id",
                    value: "abc123",
                }],
                value: 3.0,
                timestamp: t + 1000,
            }],
            metadata: Some(MetricMetadata {
                metric_family_name: "http_requests_total",
                metric_type: MetricType::Counter,
                help: "Requests served.",
                unit: "",
            }),
            ..Default::default()
        }],
        protocol: Protocol::V2,
        ..Default::default()
    };
    let mut raw = Vec::new();
    encode_v2(&req, &mut raw);
    let mut body = Vec::new();
    compress(&raw, &mut body);
    let r = http(
        server.addr,
        "POST",
        "/api/v1/push",
        &[
            ("X-Scope-OrgID", "v2-tenant"),
            (
                "Content-Type",
                "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            ),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "2.0.0"),
        ],
        &body,
    )
    .unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        r.header("x-prometheus-remote-write-samples-written"),
        Some("2")
    );
    assert_eq!(
        r.header("x-prometheus-remote-write-histograms-written"),
        Some("0")
    );
    assert_eq!(
        r.header("x-prometheus-remote-write-exemplars-written"),
        Some("1")
    );
    let metrics = http(server.addr, "GET", "/metrics", &[], b"")
        .unwrap()
        .text();
    assert!(
        metrics.contains("cortex_distributor_received_metadata_total{user=\"v2-tenant\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cortex_ingester_tsdb_head_samples_appended_total{user=\"v2-tenant\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cortex_ingester_tsdb_wal_segment_current{user=\"v2-tenant\"} 0"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("cortex_ingester_tsdb_wal_records_appended_total{user=\"v2-tenant\"} 0"),
        "{metrics}"
    );
    assert!(server.signal_and_wait("TERM").success());
    let stored = read_tenant(dir.path(), "v2-tenant");
    assert_eq!(
        stored,
        vec![(
            "{__name__=\"http_requests_total\", job=\"api\"}".to_string(),
            vec![(t, 1.0), (t + 1000, 3.0)]
        )]
    );
}

#[test]
fn over_the_ingestion_rate_is_429_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(
        dir.path(),
        &[
            "-distributor.ingestion-rate-limit=1",
            "-distributor.ingestion-burst-size=10",
        ],
    );
    let t = now_ms() - 10_000;
    let series = |name: &str, n: usize| OwnedSeries {
        labels: vec![("__name__".into(), name.into())],
        samples: (0..n).map(|i| (t + i as i64 * 10, i as f64)).collect(),
    };
    let r = push(server.addr, "limited", &v1_body(&[series("fits", 8)])).unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    let r = push(server.addr, "limited", &v1_body(&[series("too_many", 8)])).unwrap();
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(
        r.text()
            .contains("ingestion rate limit (1) exceeded while adding 8 samples and 0 metadata"),
        "{}",
        r.text()
    );
    // Another tenant has its own bucket.
    let r = push(server.addr, "other", &v1_body(&[series("fits", 8)])).unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    let metrics = http(server.addr, "GET", "/metrics", &[], b"")
        .unwrap()
        .text();
    assert!(
        metrics
            .contains("cortex_discarded_samples_total{reason=\"rate_limited\",user=\"limited\"} 8"),
        "{metrics}"
    );
    assert!(server.signal_and_wait("TERM").success());
    let stored = read_tenant(dir.path(), "limited");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].0, "{__name__=\"fits\"}");
}
