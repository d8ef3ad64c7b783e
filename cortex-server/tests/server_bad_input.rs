//! Bad pushes get the right status and a message naming the problem, the server stays
//! up, the valid part of a request is still stored, and nothing stored is disturbed.

mod common;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use common::*;

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> OwnedSeries {
    OwnedSeries {
        labels: labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        samples: samples.to_vec(),
    }
}

#[test]
fn bad_input_is_refused_with_the_reason_and_good_data_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut server =
        ServerProcess::start(dir.path(), &["-validation.max-label-names-per-series=4"]);
    let addr = server.addr;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let t = now - 60_000;
    let good = series(
        &[("__name__", "good"), ("job", "a")],
        &[(t, 1.0), (t + 1000, 2.0)],
    );
    let r = push(addr, "t1", &v1_body(std::slice::from_ref(&good))).unwrap();
    assert_eq!(r.status, 204, "{}", r.text());

    let valid_body = v1_body(&[series(&[("__name__", "other")], &[(t, 5.0)])]);
    let expect = |name: &str, r: Response, status: u16, needle: &str| {
        assert_eq!(r.status, status, "{name}: {}", r.text());
        assert!(
            r.text().to_lowercase().contains(&needle.to_lowercase()),
            "{name}: message {:?} does not mention {needle:?}",
            r.text()
        );
    };

    // Tenants.
    let r = http(addr, "POST", "/api/v1/push", &[], &valid_body).unwrap();
    expect("no tenant", r, 401, "no org id");
    let r = push(addr, "..", &valid_body).unwrap();
    expect("tenant ..", r, 400, "tenant");
    let r = push(addr, "a/b", &valid_body).unwrap();
    expect("tenant with /", r, 400, "unsupported character");
    let r = push(addr, &"x".repeat(151), &valid_body).unwrap();
    expect("tenant too long", r, 400, "too long");

    // Bodies.
    let r = push(addr, "t1", b"\x20\xfe\xff\xffnot snappy at all").unwrap();
    expect("garbage snappy", r, 400, "snappy");
    let r = push(addr, "t1", &valid_body[..valid_body.len() / 2]).unwrap();
    expect("truncated snappy", r, 400, "snappy");
    let mut garbage = Vec::new();
    cortex_core::remote_write::compress(b"\x0a\xff\xff\xff\xff\x0f\x01\x02", &mut garbage);
    let r = push(addr, "t1", &garbage).unwrap();
    expect("garbage protobuf", r, 400, "");
    let r = http(
        addr,
        "POST",
        "/api/v1/push",
        &[
            ("X-Scope-OrgID", "t1"),
            ("Content-Type", "application/json"),
        ],
        &valid_body,
    )
    .unwrap();
    expect("json content type", r, 415, "content");
    let r = http(
        addr,
        "POST",
        "/api/v1/push",
        &[
            ("X-Scope-OrgID", "t1"),
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "gzip"),
        ],
        &valid_body,
    )
    .unwrap();
    expect("gzip encoding", r, 415, "gzip");
    let huge = vec![0u8; 101 << 20];
    let r = push(addr, "t1", &huge).unwrap();
    assert_eq!(r.status, 413, "100 MB body: {}", r.text());

    // Series.
    let cases: Vec<(&str, OwnedSeries, &str)> = vec![
        (
            "duplicate labels",
            series(&[("__name__", "m"), ("a", "1"), ("a", "2")], &[(t, 1.0)]),
            "duplicate label name",
        ),
        (
            "missing metric name",
            series(&[("job", "x")], &[(t, 1.0)]),
            "metric name",
        ),
        (
            "empty metric name",
            series(&[("__name__", ""), ("job", "x")], &[(t, 1.0)]),
            "metric name",
        ),
        (
            "invalid metric name",
            series(&[("__name__", "1bad"), ("job", "x")], &[(t, 1.0)]),
            "metric name",
        ),
        (
            "invalid label name",
            series(&[("__name__", "m"), ("bad-name", "x")], &[(t, 1.0)]),
            "label",
        ),
        (
            "too many labels",
            series(
                &[
                    ("__name__", "m"),
                    ("a", "1"),
                    ("b", "2"),
                    ("c", "3"),
                    ("d", "4"),
                ],
                &[(t, 1.0)],
            ),
            "labels",
        ),
        (
            "label value too long",
            series(&[("__name__", "m"), ("a", &"v".repeat(3000))], &[(t, 1.0)]),
            "too long",
        ),
        (
            "far future",
            series(&[("__name__", "m")], &[(now + 3_600_000, 1.0)]),
            "timestamp too new",
        ),
    ];
    for (name, bad, needle) in cases {
        // The bad series travels with a good one, which must still be stored.
        let partner = series(&[("__name__", "partner"), ("case", name)], &[(t, 7.0)]);
        let r = push(addr, "t1", &v1_body(&[bad, partner])).unwrap();
        expect(name, r, 400, needle);
    }
    // Unsorted labels are sorted, as Cortex's distributor does, not refused.
    let r = push(
        addr,
        "t1",
        &v1_body(&[series(
            &[("__name__", "unsorted"), ("z", "1"), ("a", "2")],
            &[(t, 3.0)],
        )]),
    )
    .unwrap();
    assert_eq!(r.status, 204, "unsorted labels: {}", r.text());
    // Out of order within the stored series: 400, the rest of the series is kept.
    let r = push(
        addr,
        "t1",
        &v1_body(&[series(
            &[("__name__", "good"), ("job", "a")],
            &[(t - 5000, 9.0)],
        )]),
    )
    .unwrap();
    expect("out of order", r, 400, "out of order");

    let r = http(addr, "GET", "/ready", &[], b"").unwrap();
    assert_eq!(r.status, 200, "server went down");
    let metrics = http(addr, "GET", "/metrics", &[], b"").unwrap().text();
    assert!(
        metrics.contains(
            "cortex_discarded_samples_total{reason=\"max_label_names_per_series\",user=\"t1\"} 1"
        ),
        "{metrics}"
    );
    assert!(server.signal_and_wait("TERM").success());

    let stored: BTreeMap<String, Vec<(i64, f64)>> =
        read_tenant(dir.path(), "t1").into_iter().collect();
    assert_eq!(
        stored["{__name__=\"good\", job=\"a\"}"],
        vec![(t, 1.0), (t + 1000, 2.0)],
        "stored data was disturbed"
    );
    let partners = stored.keys().filter(|k| k.contains("partner")).count();
    assert_eq!(partners, 8, "valid partners of bad series: {stored:?}");
    assert_eq!(
        stored["{__name__=\"unsorted\", a=\"2\", z=\"1\"}"],
        vec![(t, 3.0)]
    );
    assert_eq!(
        stored.len(),
        1 + 8 + 1,
        "{:?}",
        stored.keys().collect::<Vec<_>>()
    );
}
