//! Pushing into the ingester: read-back, per-sample refusals with partial commit,
//! series limits, metadata, and idle close with reopen.

mod ingester_common;

use std::sync::Arc;
use std::time::Duration;

use cortex_core::ingester::{
    Bucket, DiscardReason, IdleCheck, MetadataQuery, PushError, StaticLimits,
};
use cortex_core::remote_write::{MetricMetadata, MetricType};
use ingester_common::*;

#[test]
fn pushed_samples_are_read_back_from_the_tenant_db() {
    let dir = tempfile::tempdir().unwrap();
    let ing = open_default(dir.path());
    let req = request(vec![
        series(
            &[("__name__", "up"), ("job", "a")],
            &[(1000, 1.0), (2000, 2.0)],
        ),
        series(&[("__name__", "up"), ("job", "b")], &[(1000, 5.0)]),
    ]);
    let stats = ing.push("team-a", &req).unwrap();
    assert_eq!((stats.samples, stats.failed_samples), (2 + 1, 0));
    ing.push(
        "team-b",
        &request(vec![series(&[("__name__", "x")], &[(1, 1.0)])]),
    )
    .unwrap();
    let db = ing.db("team-a").unwrap();
    let got = floats(&db.querier(i64::MIN, i64::MAX).select(&[]).unwrap());
    assert_eq!(
        got,
        vec![
            (
                "{__name__=\"up\", job=\"a\"}".to_string(),
                vec![(1000, 1.0), (2000, 2.0)]
            ),
            (
                "{__name__=\"up\", job=\"b\"}".to_string(),
                vec![(1000, 5.0)]
            ),
        ]
    );
    assert!(dir.path().join("tsdb/team-a/wal").is_dir());
    assert_eq!(ing.tenants(), ["team-a", "team-b"]);
    assert_eq!(ing.metrics().ingested_samples.get(), 4);
}

#[test]
fn active_series_are_those_with_a_stored_sample() {
    let dir = tempfile::tempdir().unwrap();
    let ing = open_default(dir.path());
    let t0 = 10 * HOUR;
    let req = request(vec![
        series(&[("__name__", "up"), ("job", "a")], &[(t0, 1.0)]),
        series(&[("__name__", "up"), ("job", "b")], &[(t0, 1.0)]),
    ]);
    ing.push("t", &req).unwrap();
    // Series `c` only gets a sample the head refuses (out of bounds): like Prometheus,
    // the head does not even create it.
    let refused = request(vec![
        series(&[("__name__", "up"), ("job", "a")], &[(t0 + 1000, 2.0)]),
        series(&[("__name__", "up"), ("job", "c")], &[(t0 - 2 * HOUR, 1.0)]),
    ]);
    assert!(ing.push("t", &refused).is_err());
    assert_eq!(ing.user_stats("t").active_series, 2);
    assert_eq!(ing.user_stats("t").num_series, 2);
    assert_eq!(ing.user_stats("nobody").active_series, 0);
}

#[test]
fn refused_samples_are_counted_and_the_rest_is_committed() {
    let dir = tempfile::tempdir().unwrap();
    let ing = open_default(dir.path());
    let t0 = 10 * HOUR;
    ing.push(
        "t",
        &request(vec![series(&[("__name__", "m")], &[(t0, 1.0)])]),
    )
    .unwrap();
    let req = request(vec![
        // out of order, duplicate with another value, fine
        series(
            &[("__name__", "m")],
            &[(t0 - 1000, 0.5), (t0, 9.0), (t0 + 1000, 2.0)],
        ),
        // out of bounds (more than half a block range behind the head)
        series(&[("__name__", "n")], &[(t0 - 2 * HOUR, 1.0), (t0 + 5, 3.0)]),
    ]);
    let err = ing.push("t", &req).unwrap_err();
    assert!(err.is_client_error());
    let PushError::Partial { stats, reason, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*reason, Some(DiscardReason::SampleOutOfOrder));
    assert_eq!((stats.samples, stats.failed_samples), (2, 3));
    assert_eq!(stats.discarded(DiscardReason::SampleOutOfOrder), 1);
    assert_eq!(stats.discarded(DiscardReason::NewValueForTimestamp), 1);
    assert_eq!(stats.discarded(DiscardReason::SampleOutOfBounds), 1);
    assert_eq!(
        err.to_string(),
        "user=t: err: out of order sample. timestamp=1970-01-01T09:59:59Z, series={__name__=\"m\"}"
    );
    let db = ing.db("t").unwrap();
    let got = floats(&db.querier(i64::MIN, i64::MAX).select(&[]).unwrap());
    assert_eq!(got[0].1, vec![(t0, 1.0), (t0 + 1000, 2.0)]);
    assert_eq!(got[1].1, vec![(t0 + 5, 3.0)]);

    // Out of bounds first: the message carries the head's newest timestamp.
    let err = ing
        .push(
            "t",
            &request(vec![series(&[("__name__", "m")], &[(t0 - 3 * HOUR, 1.0)])]),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "user=t: err: out of bounds. timestamp=1970-01-01T07:00:00Z, tsdbHeadMaxTimestamp=1970-01-01T10:00:01Z, series={__name__=\"m\"}"
    );
    let err = ing
        .push(
            "t",
            &request(vec![series(&[("__name__", "m")], &[(t0 + 1000, 7.0)])]),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "user=t: err: duplicate sample for timestamp. series={__name__=\"m\"}"
    );
    // Unsorted labels fail the whole request.
    let err = ing
        .push(
            "t",
            &request(vec![series(&[("b", "1"), ("a", "2")], &[(t0 + 9000, 1.0)])]),
        )
        .unwrap_err();
    assert!(matches!(err, PushError::InvalidSeries { .. }), "{err}");
}

#[test]
fn known_series_are_found_by_their_label_pairs_and_bad_pairs_still_fail() {
    let dir = tempfile::tempdir().unwrap();
    let ing = open_default(dir.path());
    let t0 = 10 * HOUR;
    let up = [("__name__", "up"), ("job", "a")];
    ing.push("t", &request(vec![series(&up, &[(t0, 1.0)])]))
        .unwrap();
    // The same series with an empty label in between: empty labels are dropped.
    let with_empty = [("__name__", "up"), ("env", ""), ("job", "a")];
    ing.push(
        "t",
        &request(vec![series(&with_empty, &[(t0 + 1000, 2.0)])]),
    )
    .unwrap();
    // An existing series' labels out of order still fail the whole request.
    let unsorted = [("job", "a"), ("__name__", "up")];
    let err = ing
        .push("t", &request(vec![series(&unsorted, &[(t0 + 2000, 3.0)])]))
        .unwrap_err();
    assert!(matches!(err, PushError::InvalidSeries { .. }), "{err}");
    // And an empty label out of order too, even though dropping it leaves a known set.
    let unsorted_empty = [("__name__", "up"), ("z", ""), ("job", "a")];
    let err = ing
        .push(
            "t",
            &request(vec![series(&unsorted_empty, &[(t0 + 3000, 4.0)])]),
        )
        .unwrap_err();
    assert!(matches!(err, PushError::InvalidSeries { .. }), "{err}");
    assert_eq!(ing.user_stats("t").num_series, 1);
    let db = ing.db("t").unwrap();
    let got = floats(&db.querier(i64::MIN, i64::MAX).select(&[]).unwrap());
    assert_eq!(
        got,
        vec![(
            "{__name__=\"up\", job=\"a\"}".to_string(),
            vec![(t0, 1.0), (t0 + 1000, 2.0)]
        )]
    );
}

#[test]
fn too_old_samples_with_an_out_of_order_window() {
    let dir = tempfile::tempdir().unwrap();
    let limits = StaticLimits {
        out_of_order_time_window: Duration::from_secs(600),
        ..StaticLimits::default()
    };
    let ing = open(
        tsdb_config(dir.path()),
        Bucket::local(&dir.path().join("bucket")).unwrap(),
        limits,
    );
    let t0 = 10 * HOUR;
    ing.push(
        "t",
        &request(vec![series(&[("__name__", "m")], &[(t0, 1.0)])]),
    )
    .unwrap();
    // Within the window: accepted out of order.
    ing.push(
        "t",
        &request(vec![series(&[("__name__", "m")], &[(t0 - 60_000, 1.0)])]),
    )
    .unwrap();
    let err = ing
        .push(
            "t",
            &request(vec![series(&[("__name__", "m")], &[(t0 - 3 * HOUR, 1.0)])]),
        )
        .unwrap_err();
    let PushError::Partial { reason, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*reason, Some(DiscardReason::SampleTooOld));
    assert!(
        err.to_string().contains("err: too old sample. timestamp="),
        "{err}"
    );
}

#[test]
fn series_limits_refuse_new_series_only() {
    let dir = tempfile::tempdir().unwrap();
    let limits = StaticLimits {
        max_series_per_user: 3,
        max_series_per_metric: 2,
        ..StaticLimits::default()
    };
    let ing = open(
        tsdb_config(dir.path()),
        Bucket::local(&dir.path().join("bucket")).unwrap(),
        limits,
    );
    let req = request(vec![
        series(&[("__name__", "a"), ("i", "1")], &[(1000, 1.0)]),
        series(&[("__name__", "a"), ("i", "2")], &[(1000, 1.0)]),
        series(
            &[("__name__", "a"), ("i", "3")],
            &[(1000, 1.0), (2000, 1.0)],
        ),
        series(&[("__name__", "b")], &[(1000, 1.0)]),
        series(&[("__name__", "c")], &[(1000, 1.0)]),
    ]);
    let err = ing.push("t", &req).unwrap_err();
    assert_eq!(
        err.to_string(),
        "user=t: per-metric series limit of 2 exceeded for metric a, please contact administrator to raise it (local limit: 2 global limit: 0 actual local limit: 2) for series {__name__=\"a\", i=\"3\"}"
    );
    let PushError::Partial { stats, .. } = &err else {
        panic!()
    };
    assert_eq!(stats.discarded(DiscardReason::PerMetricSeriesLimit), 2);
    assert_eq!(stats.discarded(DiscardReason::PerUserSeriesLimit), 1);
    assert_eq!(stats.samples, 3);
    // Existing series still take samples at the limit, also when sent with an empty
    // label the set drops.
    ing.push(
        "t",
        &request(vec![series(&[("__name__", "b")], &[(3000, 1.0)])]),
    )
    .unwrap();
    ing.push(
        "t",
        &request(vec![series(
            &[("__name__", "b"), ("empty", "")],
            &[(3500, 1.0)],
        )]),
    )
    .unwrap();
    let err = ing
        .push(
            "t",
            &request(vec![series(&[("__name__", "d")], &[(3000, 1.0)])]),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "user=t: per-user series limit of 3 exceeded, please contact administrator to raise it (local limit: 3 global limit: 0 actual local limit: 3)"
    );
    assert_eq!(ing.db("t").unwrap().head().num_series(), 3);
}

#[test]
fn metadata_is_kept_per_tenant_with_limits() {
    let dir = tempfile::tempdir().unwrap();
    let limits = StaticLimits {
        max_metadata_per_user: 1,
        ..StaticLimits::default()
    };
    let ing = open(
        tsdb_config(dir.path()),
        Bucket::local(&dir.path().join("bucket")).unwrap(),
        limits,
    );
    let md = |name| MetricMetadata {
        metric_family_name: name,
        metric_type: MetricType::Counter,
        help: "help",
        unit: "",
    };
    let mut req = request(vec![series(&[("__name__", "a")], &[(1000, 1.0)])]);
    req.metadata = vec![md("a"), md("b")];
    let stats = ing.push("t", &req).unwrap();
    assert_eq!((stats.metadata, stats.failed_metadata), (1, 1));
    let got = ing.metadata("t", &MetadataQuery::default());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].metric_family_name, "a");
    assert_eq!(got[0].type_name(), "counter");
    assert!(ing.metadata("other", &MetadataQuery::default()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_tsdb_is_closed_once_shipped_and_reopened_on_push() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tsdb_config(dir.path());
    cfg.close_idle_tsdb_timeout =
        cortex_core::ingester::duration::GoDuration(Duration::from_millis(1));
    let ing = open(
        cfg,
        Bucket::local(&dir.path().join("bucket")).unwrap(),
        StaticLimits::default(),
    );
    ing.push(
        "t",
        &request(vec![series(&[("__name__", "m")], &[(1000, 1.0)])]),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    // The head still holds the series: not closed.
    assert_eq!(
        ing.close_idle(),
        vec![("t".to_string(), IdleCheck::NotCompacted)]
    );
    ing.flush().await.unwrap();
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(
        ing.close_idle(),
        vec![("t".to_string(), IdleCheck::IdleClosed)]
    );
    assert!(ing.db("t").is_none());
    assert!(!dir.path().join("tsdb/t").exists());
    // The block is in the bucket; a new push opens a fresh TSDB.
    assert!(dir.path().join("bucket/t").is_dir());
    ing.push(
        "t",
        &request(vec![series(&[("__name__", "m")], &[(5000, 2.0)])]),
    )
    .unwrap();
    let db = ing.db("t").unwrap();
    assert_eq!(
        floats(&db.querier(i64::MIN, i64::MAX).select(&[]).unwrap())[0].1,
        vec![(5000, 2.0)]
    );
    let _ = Arc::clone(&ing);
}

#[test]
fn exemplars_are_stored_with_their_series_and_refusals_reported() {
    use cortex_core::remote_write::{Exemplar, Label};
    use cortex_tsdb::labels::Matcher;

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tsdb_config(dir.path());
    cfg.max_exemplars = 100;
    let ing = open(
        cfg,
        Bucket::local(&dir.path().join("bucket")).unwrap(),
        StaticLimits::default(),
    );
    let trace = |id: &'static str, t: i64, v: f64| Exemplar {
        labels: vec![Label {
            name: "trace_id",
            value: id,
        }],
        value: v,
        timestamp: t,
    };
    let mut s = series(&[("__name__", "req_total")], &[(1000, 1.0), (2000, 2.0)]);
    s.exemplars = vec![trace("a1", 1000, 1.0), trace("b2", 2000, 2.0)];
    ing.push("t", &request(vec![s])).unwrap();

    // An exemplar older than the series' newest is refused; the samples still land.
    let mut s = series(&[("__name__", "req_total")], &[(3000, 3.0)]);
    s.exemplars = vec![trace("c3", 1500, 1.5)];
    let err = ing.push("t", &request(vec![s])).unwrap_err();
    let PushError::Partial { stats, reason, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(*reason, None);
    assert_eq!((stats.samples, stats.failed_exemplars), (1, 1));
    assert!(err.to_string().contains("out of order exemplar"), "{err}");
    assert!(err.is_client_error());

    let db = ing.db("t").unwrap();
    let got = db
        .exemplars(&[vec![Matcher::equal("__name__", "req_total")]], 0, 10_000)
        .unwrap();
    assert_eq!(got.len(), 1);
    let ids: Vec<(i64, String)> = got[0]
        .exemplars
        .iter()
        .map(|e| (e.ts, e.labels.get("trace_id").unwrap().to_string()))
        .collect();
    assert_eq!(ids, [(1000, "a1".to_string()), (2000, "b2".to_string())]);
}
