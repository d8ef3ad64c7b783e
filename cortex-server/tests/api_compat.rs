//! The server's Prometheus HTTP query API answers like Prometheus 2.42 itself: the same
//! dataset is remote-written to a real Prometheus and to the server, then a few hundred
//! PromQL expressions (every function family, operators, modifiers, staleness, matchers,
//! errors) are sent to both as instant and range queries and the answers compared
//! semantically; a set of responses (every result type, number formatting, the metadata
//! endpoints, error answers) must be identical byte for byte.
//!
//! `COMPAT_AGAINST=prometheus` runs the same comparison between two Prometheus servers,
//! which proves the harness finds no difference where there is none.

mod common;
mod compat;

use std::time::{SystemTime, UNIX_EPOCH};

use compat::compare::{Outcome, byte_diff, compare_responses, outcome, query_is_ordered};
use compat::dataset::Dataset;
use compat::queries::{byte_compared, expressions};
use compat::{ApiRequest, Pair, UnderTest, prometheus_available};

/// A time in ms as the API takes it: seconds with a millisecond fraction.
fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

#[test]
fn query_api_matches_prometheus() {
    if !prometheus_available() {
        return;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    let ds = Dataset::generate(0x5eed_c0de, now_ms - 5 * 60_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let pair = Pair::start_from_env(dir.path());
    let batches = ds.batches(10 * 60_000);
    pair.push_both(&batches);
    eprintln!(
        "pushed {} series, {} samples in {} requests to prometheus and {}",
        ds.series.len(),
        ds.sample_count(),
        batches.len(),
        pair.under_test.name()
    );

    let half = compat::dataset::EVAL_MS_PART;
    let instant_times = [
        ds.end_ms - 90_000 + half,
        ds.start_ms + 47 * 60_000 + half,
        ds.start_ms + 4 * 60_000 + half,
        ds.end_ms + 9 * 60_000 + half,
    ]
    .map(secs);
    let ranges = [
        (
            secs(ds.end_ms - 3_600_000 + half),
            secs(ds.end_ms + half),
            "60",
        ),
        (
            secs(ds.start_ms + half),
            secs(ds.start_ms + 3_600_000 + half),
            "30",
        ),
    ];

    let mut mismatches: Vec<String> = Vec::new();
    let mut compared = 0usize;
    let mut outcomes = [0usize; 3];
    let exprs = expressions();
    for (i, expr) in exprs.iter().enumerate() {
        let mut requests: Vec<ApiRequest> = instant_times
            .iter()
            .map(|t| ApiRequest::get("query", &[("query", expr), ("time", t)]))
            .collect();
        let (start, end, step) = &ranges[i % ranges.len()];
        requests.push(ApiRequest::get(
            "query_range",
            &[
                ("query", expr),
                ("start", start),
                ("end", end),
                ("step", step),
            ],
        ));
        for (k, req) in requests.into_iter().enumerate() {
            // Every seventh expression goes as a form POST.
            let req = if (i + k) % 7 == 0 {
                req.into_post()
            } else {
                req
            };
            let ordered = req.endpoint == "query" && query_is_ordered(expr);
            let (want, got) = pair.query_both(&req);
            compared += 1;
            outcomes[outcome(&want) as usize] += 1;
            if let Err(diff) = compare_responses(&want, &got, ordered) {
                let m = format!("{}\n    {diff}", req.describe());
                eprintln!("MISMATCH {m}");
                mismatches.push(m);
            }
        }
    }
    eprintln!(
        "compared {compared} query answers for {} expressions \
         (reference: {} with data, {} empty, {} errors)",
        exprs.len(),
        outcomes[Outcome::Data as usize],
        outcomes[Outcome::Empty as usize],
        outcomes[Outcome::Error as usize],
    );
    // The comparison means something only if the reference mostly answers with data.
    assert!(
        outcomes[Outcome::Data as usize] * 10 >= compared * 8,
        "too few reference answers hold data: {outcomes:?}"
    );

    let (t, (rs, re, _)) = (&instant_times[0], &ranges[0]);
    let bytes = byte_compared(t, rs, re);
    for (what, req) in &bytes {
        let (want, got) = pair.query_both(req);
        if want.status != got.status || want.body != got.body {
            let m = format!(
                "bytes differ ({what}): {}\n    status want {} got {}; {}",
                req.describe(),
                want.status,
                got.status,
                byte_diff(&want.body, &got.body)
            );
            eprintln!("MISMATCH {m}");
            mismatches.push(m);
        }
    }
    eprintln!("compared {} responses byte for byte", bytes.len());

    // Both API roots of the server answer the same.
    if let UnderTest::Cortex(c) = &pair.under_test {
        let req = ApiRequest::get(
            "query",
            &[("query", "sort(temperature_celsius)"), ("time", t)],
        );
        let a = req.send(c.addr, "/api/v1");
        let b = req.send(c.addr, "/prometheus/api/v1");
        if a.status != b.status || a.body != b.body {
            mismatches.push(format!(
                "/api/v1 and /prometheus/api/v1 differ: {} {} vs {} {}",
                a.status,
                a.text(),
                b.status,
                b.text()
            ));
        }
    }

    // Build info: versions differ, the shape must not.
    let req = ApiRequest::get("status/buildinfo", &[]);
    let (want, got) = pair.query_both(&req);
    let shape = |body: &[u8]| -> Option<Vec<String>> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let data = v.get("data")?.as_object()?;
        let mut keys: Vec<String> = data
            .iter()
            .filter(|(_, v)| v.is_string())
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        (v.get("status")? == "success").then_some(keys)
    };
    let want_shape = shape(&want.body);
    assert!(
        want_shape.is_some(),
        "prometheus buildinfo: {}",
        want.text()
    );
    if want.status != got.status || shape(&got.body) != want_shape {
        mismatches.push(format!(
            "buildinfo shape: want {} {:?} got {} {}",
            want.status,
            want_shape,
            got.status,
            got.text()
        ));
    }

    assert!(
        mismatches.is_empty(),
        "{} mismatches against prometheus (of {compared} query answers and {} byte comparisons):\n{}",
        mismatches.len(),
        bytes.len(),
        mismatches.join("\n")
    );
}
