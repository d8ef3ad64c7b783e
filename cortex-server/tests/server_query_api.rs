//! The query API over tenants' data: two tenants with identical series each see only
//! their own on every endpoint; a federated query sees both, labelled with
//! `__tenant_id__`, and `__tenant_id__` matchers pick tenants; per-tenant query limits
//! and parameter errors answer with Prometheus' error types and statuses.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use cortex_core::remote_write::{
    Exemplar, Label, MetricMetadata, MetricType, Sample, TimeSeries, WriteRequest, compress,
    encode_v1,
};
use serde_json::Value;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The same two series for every tenant; values differ by tenant (`base`), and each
/// tenant has metadata and an exemplar naming it.
fn body(tenant: &str, base: f64, t: i64) -> Vec<u8> {
    let help = format!("Requests of {tenant}.");
    let trace = format!("trace-{tenant}");
    let series = |job: &'static str, v: f64| TimeSeries {
        labels: vec![
            Label {
                name: "__name__",
                value: "http_requests_total",
            },
            Label {
                name: "job",
                value: job,
            },
        ]
        .into(),
        samples: (0..10)
            .map(|i| Sample {
                timestamp: t + i * 15_000,
                value: v + i as f64,
            })
            .collect(),
        ..Default::default()
    };
    let mut a = series("api", base);
    a.exemplars = vec![Exemplar {
        labels: vec![Label {
            name: "trace_id",
            value: &trace,
        }],
        value: base,
        timestamp: t,
    }];
    let req = WriteRequest {
        timeseries: vec![a, series("web", base * 2.0)],
        metadata: vec![MetricMetadata {
            metric_family_name: "http_requests_total",
            metric_type: MetricType::Counter,
            help: &help,
            unit: "",
        }],
        ..Default::default()
    };
    let mut raw = Vec::new();
    encode_v1(&req, &mut raw);
    let mut out = Vec::new();
    compress(&raw, &mut out);
    out
}

fn get(server: &ServerProcess, tenant: &str, path: &str) -> (u16, Value) {
    let path = path.replace('"', "%22");
    let r = http(server.addr, "GET", &path, &[("X-Scope-OrgID", tenant)], b"").unwrap();
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::String(r.text()));
    (r.status, v)
}

fn post_form(server: &ServerProcess, tenant: &str, path: &str, form: &str) -> (u16, Value) {
    let r = http(
        server.addr,
        "POST",
        path,
        &[
            ("X-Scope-OrgID", tenant),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    )
    .unwrap();
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::String(r.text()));
    (r.status, v)
}

/// `(labels as "k=v,..." sorted, first value)` of each vector sample, sorted.
fn vector(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v["data"]["result"]
        .as_array()
        .unwrap_or_else(|| panic!("no result in {v}"))
        .iter()
        .map(|s| {
            let m = s["metric"].as_object().unwrap();
            let labels: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
                .collect();
            (
                labels.join(","),
                s["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn strings(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn tenants_see_only_their_own_data_and_federation_sees_both() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(
        dir.path(),
        &[
            "-tenant-federation.enabled=true",
            "-ingester.max-exemplars=100",
        ],
    );
    let t0 = (now_ms() - 600_000) / 1000 * 1000 + 7;
    for (tenant, base) in [("team-a", 100.0), ("team-b", 5000.0)] {
        let r = push(server.addr, tenant, &body(tenant, base, t0)).unwrap();
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let at = (t0 + 9 * 15_000 + 1000) as f64 / 1000.0;

    // Instant query: each tenant its own values.
    let q = format!("/prometheus/api/v1/query?query=http_requests_total&time={at}");
    let (s, a) = get(&server, "team-a", &q);
    assert_eq!(s, 200, "{a}");
    assert_eq!(
        vector(&a),
        vec![
            (
                "__name__=http_requests_total,job=api".to_string(),
                "109".to_string()
            ),
            (
                "__name__=http_requests_total,job=web".to_string(),
                "209".to_string()
            ),
        ]
    );
    let (_, b) = get(&server, "team-b", &q);
    assert_eq!(
        vector(&b),
        vec![
            (
                "__name__=http_requests_total,job=api".to_string(),
                "5009".to_string()
            ),
            (
                "__name__=http_requests_total,job=web".to_string(),
                "10009".to_string()
            ),
        ]
    );
    let (_, none) = get(&server, "team-c", &q);
    assert_eq!(vector(&none), vec![]);

    // Range query, as a form POST.
    let form = format!(
        "query=sum(http_requests_total)&start={}&end={at}&step=60",
        at - 120.0
    );
    let (s, r) = post_form(&server, "team-a", "/api/v1/query_range", &form);
    assert_eq!(s, 200, "{r}");
    let values = r["data"]["result"][0]["values"].as_array().unwrap();
    assert_eq!(values.last().unwrap()[1], "318");

    // Series, label names and values.
    let (_, sa) = get(
        &server,
        "team-a",
        "/api/v1/series?match[]=http_requests_total",
    );
    assert_eq!(sa["data"].as_array().unwrap().len(), 2, "{sa}");
    let (_, names) = get(&server, "team-b", "/api/v1/labels");
    assert_eq!(strings(&names), vec!["__name__", "job"]);
    let (_, jobs) = get(&server, "team-c", "/api/v1/label/job/values");
    assert_eq!(strings(&jobs), Vec::<String>::new());
    let (_, jobs) = get(&server, "team-a", "/api/v1/label/job/values");
    assert_eq!(strings(&jobs), vec!["api", "web"]);

    // Metadata and exemplars name their tenant.
    let (_, md) = get(&server, "team-a", "/api/v1/metadata");
    assert_eq!(
        md["data"]["http_requests_total"][0]["help"], "Requests of team-a.",
        "{md}"
    );
    let (_, md) = get(&server, "team-c", "/api/v1/metadata");
    assert_eq!(md["data"], serde_json::json!({}));
    let (s, ex) = get(
        &server,
        "team-b",
        "/api/v1/query_exemplars?query=http_requests_total",
    );
    assert_eq!(s, 200, "{ex}");
    let ex = ex["data"].as_array().unwrap();
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0]["exemplars"][0]["labels"]["trace_id"], "trace-team-b");

    // Federation: both tenants, labelled.
    let (s, f) = get(&server, "team-a|team-b", &q);
    assert_eq!(s, 200, "{f}");
    let fed = vector(&f);
    assert_eq!(fed.len(), 4, "{f}");
    assert!(fed.contains(&(
        "__name__=http_requests_total,__tenant_id__=team-b,job=web".to_string(),
        "10009".to_string()
    )));
    let q = format!(
        "/api/v1/query?query=http_requests_total{{__tenant_id__=\"team-b\",job=\"api\"}}&time={at}"
    );
    let (_, f) = get(&server, "team-a|team-b", &q);
    assert_eq!(
        vector(&f),
        vec![(
            "__name__=http_requests_total,__tenant_id__=team-b,job=api".to_string(),
            "5009".to_string()
        )]
    );
    let (_, names) = get(&server, "team-a|team-b", "/api/v1/labels");
    assert_eq!(strings(&names), vec!["__name__", "__tenant_id__", "job"]);
    let (_, ids) = get(
        &server,
        "team-b|team-a",
        "/api/v1/label/__tenant_id__/values",
    );
    assert_eq!(strings(&ids), vec!["team-a", "team-b"]);
    let (_, ex) = get(
        &server,
        "team-a|team-b",
        "/api/v1/query_exemplars?query=http_requests_total",
    );
    assert_eq!(ex["data"].as_array().unwrap().len(), 2, "{ex}");
}

#[test]
fn errors_have_prometheus_types_and_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let overrides = dir.path().join("overrides.yaml");
    std::fs::write(
        &overrides,
        "overrides:\n  short:\n    max_query_length: 1h\n    max_fetched_series_per_query: 1\n",
    )
    .unwrap();
    let file_flag = format!("-runtime-config.file={}", overrides.display());
    let server = ServerProcess::start(dir.path(), &[&file_flag]);
    let t0 = now_ms() - 600_000;
    let r = push(server.addr, "short", &body("short", 1.0, t0)).unwrap();
    assert_eq!(r.status, 204, "{}", r.text());

    let cases: &[(&str, u16, &str)] = &[
        ("/api/v1/query?query=up{", 400, "bad_data"),
        ("/api/v1/query?query=up&time=yesterday", 400, "bad_data"),
        (
            "/api/v1/query_range?query=up&start=0&end=100&step=0",
            400,
            "bad_data",
        ),
        (
            "/api/v1/query_range?query=up&start=100&end=0&step=1",
            400,
            "bad_data",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=7200&step=60",
            400,
            "bad_data",
        ),
        ("/api/v1/series", 400, "bad_data"),
        ("/api/v1/label/0bad/values", 400, "bad_data"),
        (
            "/api/v1/query?query=count_values(\"x\",time())",
            400,
            "bad_data",
        ),
        (
            "/api/v1/query?query=count_over_time(http_requests_total[1h])",
            422,
            "execution",
        ),
        (
            "/api/v1/query?query=sum(rate(http_requests_total[5m]))&timeout=0s",
            503,
            "timeout",
        ),
    ];
    for (path, status, kind) in cases {
        let (s, v) = get(&server, "short", path);
        assert_eq!(s, *status, "{path}: {v}");
        assert_eq!(v["status"], "error", "{path}: {v}");
        assert_eq!(v["errorType"], *kind, "{path}: {v}");
    }
    let (s, _) = get(&server, "short", "/api/v1/query?query=vector(1)&time=1");
    assert_eq!(s, 200);
    // Without a tenant the request is refused before any parsing.
    let r = http(server.addr, "GET", "/api/v1/query?query=up", &[], b"").unwrap();
    assert_eq!(r.status, 401);
    // Several tenants need federation.
    let (s, _) = get(&server, "a|b", "/api/v1/query?query=up");
    assert_eq!(s, 400);
}
