//! Tests of every validation rule, message and discard reason.

use cortex_tsdb::histogram::{FloatHistogram, Histogram, Span};

use super::*;
use crate::limits::{Duration, Limits};
use crate::remote_write::{
    Exemplar, HistogramSample, HistogramValue, Label, MetricMetadata, MetricType, Sample,
    TimeSeries, WriteRequest,
};

const NOW: i64 = 1_700_000_000_000;

fn l<'a>(name: &'a str, value: &'a str) -> Label<'a> {
    Label { name, value }
}

fn series<'a>(labels: &[Label<'a>], samples: &[i64]) -> TimeSeries<'a> {
    TimeSeries {
        labels: labels.into(),
        samples: samples
            .iter()
            .map(|&timestamp| Sample {
                timestamp,
                value: 1.0,
            })
            .collect(),
        ..TimeSeries::default()
    }
}

fn check(ts: &mut TimeSeries<'_>, limits: &Limits) -> Result<(), ValidationError> {
    validate_series(ts, limits, NOW)
}

fn err_of(labels: &[Label<'_>], limits: &Limits) -> (String, Option<&'static str>) {
    let e = check(&mut series(labels, &[NOW]), limits).unwrap_err();
    (e.to_string(), e.reason())
}

#[test]
fn valid_series_passes_untouched() {
    let mut ts = series(&[l("__name__", "up"), l("job", "api")], &[NOW]);
    assert_eq!(check(&mut ts, &Limits::default()), Ok(()));
    assert_eq!(ts.labels.as_slice(), [l("__name__", "up"), l("job", "api")]);
    let labels = series_labels(&ts).unwrap();
    assert_eq!(labels.to_string(), "{__name__=\"up\", job=\"api\"}");
}

#[test]
fn unsorted_labels_are_sorted_and_empty_values_dropped() {
    let mut ts = series(
        &[
            l("job", "api"),
            l("a", ""),
            l("__name__", "up"),
            l("b", "1"),
        ],
        &[NOW],
    );
    assert_eq!(check(&mut ts, &Limits::default()), Ok(()));
    assert_eq!(
        ts.labels.as_slice(),
        [l("__name__", "up"), l("b", "1"), l("job", "api")]
    );
    assert!(series_labels(&ts).is_ok());
}

#[test]
fn missing_metric_name() {
    let (msg, reason) = err_of(&[l("job", "api")], &Limits::default());
    assert_eq!(msg, "sample missing metric name");
    assert_eq!(reason, Some("missing_metric_name"));
    let relaxed = Limits {
        enforce_metric_name: false,
        ..Limits::default()
    };
    assert_eq!(
        check(&mut series(&[l("job", "api")], &[NOW]), &relaxed),
        Ok(())
    );
}

#[test]
fn invalid_metric_name() {
    let (msg, reason) = err_of(&[l("__name__", "1up")], &Limits::default());
    assert_eq!(msg, "sample invalid metric name: \"1up\"");
    assert_eq!(reason, Some("metric_name_invalid"));
    let (msg, _) = err_of(&[l("__name__", ""), l("a", "b")], &Limits::default());
    assert_eq!(msg, "sample invalid metric name: \"\"");
    // Colons are fine in metric names.
    assert_eq!(
        check(
            &mut series(&[l("__name__", "job:up:sum")], &[NOW]),
            &Limits::default()
        ),
        Ok(())
    );
}

#[test]
fn invalid_label_name() {
    let (msg, reason) = err_of(
        &[l("__name__", "up"), l("bad-name", "x")],
        &Limits::default(),
    );
    assert_eq!(
        msg,
        "sample invalid label: \"bad-name\" metric \"up{bad-name=\\\"x\\\"}\""
    );
    assert_eq!(reason, Some("label_invalid"));
}

#[test]
fn label_name_too_long() {
    let limits = Limits {
        max_label_name_length: 5,
        ..Limits::default()
    };
    let (msg, reason) = err_of(&[l("__name__", "up"), l("abcdefg", "x")], &limits);
    // `__name__` itself (8 bytes) is over 5 too and comes first.
    assert_eq!(
        msg,
        "label name too long for metric (actual: 8, limit: 5) metric: \"up{abcdefg=\\\"x\\\"}\" label name: \"__name__\""
    );
    assert_eq!(reason, Some("label_name_too_long"));
    let limits = Limits {
        max_label_name_length: 8,
        ..Limits::default()
    };
    let (msg, _) = err_of(&[l("__name__", "up"), l("abcdefghi", "x")], &limits);
    assert_eq!(
        msg,
        "label name too long for metric (actual: 9, limit: 8) metric: \"up{abcdefghi=\\\"x\\\"}\" label name: \"abcdefghi\""
    );
}

#[test]
fn label_value_too_long() {
    let limits = Limits {
        max_label_value_length: 3,
        ..Limits::default()
    };
    let (msg, reason) = err_of(&[l("__name__", "up"), l("job", "abcd")], &limits);
    assert_eq!(
        msg,
        "label value too long for metric (actual: 4, limit: 3) metric: \"up{job=\\\"abcd\\\"}\" label name: \"job\" label value: \"abcd\""
    );
    assert_eq!(reason, Some("label_value_too_long"));
    // The limit applies to the metric name too.
    let (_, reason) = err_of(&[l("__name__", "long_name")], &limits);
    assert_eq!(reason, Some("label_value_too_long"));
}

#[test]
fn long_values_are_cut_at_200_characters_in_messages() {
    let value = "v".repeat(300);
    let limits = Limits {
        max_label_value_length: 10,
        ..Limits::default()
    };
    let (msg, _) = err_of(&[l("__name__", "up"), l("job", &value)], &limits);
    let shown = format!("label value: \"{}\"", "v".repeat(200));
    assert!(msg.ends_with(&shown), "{msg}");
    assert!(msg.contains("(actual: 300, limit: 10)"));
}

#[test]
fn too_many_labels() {
    let limits = Limits {
        max_label_names_per_series: 2,
        ..Limits::default()
    };
    let (msg, reason) = err_of(&[l("__name__", "up"), l("b", "2"), l("a", "1")], &limits);
    assert_eq!(
        msg,
        "series has too many labels (actual: 3, limit: 2) series: 'up{a=\"1\", b=\"2\"}'"
    );
    assert_eq!(reason, Some("max_label_names_per_series"));
}

#[test]
fn labels_size_limit_counts_encoded_bytes() {
    // __name__="up": (1+1+8) + (1+1+2) = 14; job="api": (1+1+3) + (1+1+3) = 10.
    let at_limit = Limits {
        max_labels_size_bytes: 24,
        ..Limits::default()
    };
    let labels = [l("__name__", "up"), l("job", "api")];
    assert_eq!(check(&mut series(&labels, &[NOW]), &at_limit), Ok(()));
    let below = Limits {
        max_labels_size_bytes: 23,
        ..Limits::default()
    };
    let (msg, reason) = err_of(&labels, &below);
    assert_eq!(
        msg,
        "labels size bytes exceeded for metric (actual: 24, limit: 23) metric: \"up{job=\\\"api\\\"}\""
    );
    assert_eq!(reason, Some("labels_size_bytes_exceeded"));
}

#[test]
fn duplicate_label_names() {
    let (msg, reason) = err_of(
        &[l("__name__", "up"), l("job", "a"), l("job", "b")],
        &Limits::default(),
    );
    assert_eq!(
        msg,
        "duplicate label name: \"job\" metric \"up{job=\\\"a\\\", job=\\\"b\\\"}\""
    );
    assert_eq!(reason, Some("duplicate_label_names"));
}

#[test]
fn unsorted_labels_error_from_validate_labels() {
    let labels = [l("__name__", "up"), l("job", "a"), l("env", "b")];
    let err = validate_labels(&labels, &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "labels not sorted: \"env\" metric \"up{job=\\\"a\\\", env=\\\"b\\\"}\""
    );
    assert_eq!(err.reason(), Some("labels_not_sorted"));
}

#[test]
fn sample_timestamps() {
    let limits = Limits {
        reject_old_samples: true,
        reject_old_samples_max_age: Duration::from_secs(3600),
        creation_grace_period: Duration::from_secs(600),
        ..Limits::default()
    };
    let labels = [l("__name__", "up")];
    let oldest = NOW - 3_600_000;
    let newest = NOW + 600_000;
    assert_eq!(
        check(&mut series(&labels, &[oldest, newest]), &limits),
        Ok(())
    );

    let e = check(&mut series(&labels, &[oldest - 1]), &limits).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("timestamp too old: {} metric: \"up\"", oldest - 1)
    );
    assert_eq!(e.reason(), Some("greater_than_max_sample_age"));

    let e = check(&mut series(&labels, &[newest + 1]), &limits).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("timestamp too new: {} metric: \"up\"", newest + 1)
    );
    assert_eq!(e.reason(), Some("too_far_in_future"));

    // Old samples pass unless reject_old_samples is on.
    assert_eq!(
        check(&mut series(&labels, &[0]), &Limits::default()),
        Ok(())
    );
}

fn exemplar<'a>(labels: &[Label<'a>], timestamp: i64) -> Exemplar<'a> {
    Exemplar {
        labels: labels.to_vec(),
        value: 1.0,
        timestamp,
    }
}

#[test]
fn exemplar_rules() {
    let base = [l("__name__", "up"), l("job", "a")];
    let with = |e: Exemplar<'static>| {
        let mut ts = series(&base, &[]);
        ts.exemplars.push(e);
        check(&mut ts, &Limits::default())
    };
    assert_eq!(with(exemplar(&[l("trace_id", "abc")], NOW)), Ok(()));

    let e = with(exemplar(&[], NOW)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "exemplar missing labels, timestamp: {NOW} series: {{__name__=\"up\", job=\"a\"}} labels: {{}}"
        )
    );
    assert_eq!(e.reason(), Some("exemplar_labels_missing"));

    let e = with(exemplar(&[l("trace_id", "abc")], 0)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "exemplar missing timestamp, timestamp: 0 series: {__name__=\"up\", job=\"a\"} labels: {trace_id=\"abc\"}"
    );
    assert_eq!(e.reason(), Some("exemplar_timestamp_invalid"));

    // 8 + 120 = 128 characters is fine; one more is not. Characters, not bytes.
    let ok_value = "ü".repeat(120);
    let ok = [Label {
        name: "trace_id",
        value: Box::leak(ok_value.into_boxed_str()),
    }];
    assert_eq!(with(exemplar(&ok, NOW)), Ok(()));
    let long_value: &'static str = Box::leak("x".repeat(121).into_boxed_str());
    let e = with(exemplar(&[l("trace_id", long_value)], NOW)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "exemplar combined labelset exceeds 128 characters, timestamp: {NOW} series: {{__name__=\"up\", job=\"a\"}} labels: {{trace_id=\"{long_value}\"}}"
        )
    );
    assert_eq!(e.reason(), Some("exemplar_labels_too_long"));
}

fn int_histogram(schema: i32, spans: Vec<Span>, buckets: Vec<i64>) -> HistogramValue {
    HistogramValue::Int(Box::new(Histogram {
        schema,
        positive_spans: spans,
        positive_buckets: buckets,
        ..Histogram::default()
    }))
}

fn with_histogram(
    value: HistogramValue,
    timestamp: i64,
    limits: &Limits,
) -> Result<(), ValidationError> {
    let mut ts = series(&[l("__name__", "h")], &[]);
    ts.histograms.push(HistogramSample { timestamp, value });
    check(&mut ts, limits)
}

fn span(offset: i32, length: u32) -> Span {
    Span { offset, length }
}

#[test]
fn native_histogram_rules() {
    let d = Limits::default();
    assert_eq!(
        with_histogram(int_histogram(3, vec![span(0, 2)], vec![1, 1]), NOW, &d),
        Ok(())
    );

    let e = with_histogram(int_histogram(9, vec![], vec![]), NOW, &d).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid native histogram schema 9 for metric: \"h\". supported schema from -4 to 8"
    );
    assert_eq!(e.reason(), Some("native_histogram_invalid_schema"));

    let e = with_histogram(int_histogram(0, vec![span(0, 3)], vec![1, 1]), NOW, &d).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid native histogram, validation err: positive side: spans need 3 buckets, have 2 buckets: histogram spans specify different number of buckets than provided, metric: \"h\""
    );
    assert_eq!(e.reason(), Some("native_histogram_invalid"));

    let e = with_histogram(
        int_histogram(0, vec![span(0, 1), span(-1, 1)], vec![1, 1]),
        NOW,
        &d,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("positive side: span number 2 with offset -1"),
        "{e}"
    );

    let limited = Limits {
        max_native_histogram_buckets: 1,
        ..Limits::default()
    };
    let e = with_histogram(
        int_histogram(0, vec![span(0, 2)], vec![1, 1]),
        NOW,
        &limited,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "native histogram bucket count exceeded for metric (limit: 1) metric: \"h\""
    );
    assert_eq!(e.reason(), Some("native_histogram_buckets_exceeded"));

    let e = with_histogram(int_histogram(0, vec![], vec![]), NOW + 3_600_000, &d).unwrap_err();
    assert_eq!(e.reason(), Some("too_far_in_future"));
}

#[test]
fn custom_bucket_histograms() {
    let d = Limits::default();
    let nhcb = |bounds: Vec<f64>, spans: Vec<Span>, buckets: Vec<f64>| {
        HistogramValue::Float(Box::new(FloatHistogram {
            schema: -53,
            positive_spans: spans,
            positive_buckets: buckets,
            custom_values: bounds,
            ..FloatHistogram::default()
        }))
    };
    assert_eq!(
        with_histogram(
            nhcb(vec![1.0, 2.0], vec![span(0, 3)], vec![1.0, 2.0, 3.0]),
            NOW,
            &d
        ),
        Ok(())
    );
    let e = with_histogram(nhcb(vec![2.0, 1.0], vec![span(0, 1)], vec![1.0]), NOW, &d).unwrap_err();
    assert!(
        e.to_string().contains(
            "custom buckets: previous bound is 2.000000 and current is 1.000000: histogram custom bounds must be in strictly increasing order"
        ),
        "{e}"
    );
    let e = with_histogram(nhcb(vec![1.0], vec![span(0, 4)], vec![1.0; 4]), NOW, &d).unwrap_err();
    assert!(
        e.to_string().contains(
            "only 1 custom bounds defined which is insufficient to cover total span length of 4"
        ),
        "{e}"
    );
}

#[test]
fn metadata_rules() {
    let d = Limits::default();
    let md = |name, help, unit| MetricMetadata {
        metric_family_name: name,
        metric_type: MetricType::Counter,
        help,
        unit,
    };
    assert_eq!(validate_metadata(&md("up", "help", "seconds"), &d), Ok(()));

    let e = validate_metadata(&md("", "help", ""), &d).unwrap_err();
    assert_eq!(e.to_string(), "metadata missing metric name");
    assert_eq!(e.reason(), Some("missing_metric_name"));
    let relaxed = Limits {
        enforce_metadata_metric_name: false,
        ..Limits::default()
    };
    assert_eq!(validate_metadata(&md("", "help", ""), &relaxed), Ok(()));

    let short = Limits {
        max_metadata_length: 4,
        ..Limits::default()
    };
    let cases = [
        (
            md("too_long", "", ""),
            "metadata 'METRIC_NAME' value too long: \"too_long\" metric \"too_long\"",
            "metric_name_too_long",
        ),
        (
            md("up", "helpful", ""),
            "metadata 'HELP' value too long: \"helpful\" metric \"up\"",
            "help_too_long",
        ),
        (
            md("up", "", "seconds"),
            "metadata 'UNIT' value too long: \"seconds\" metric \"up\"",
            "unit_too_long",
        ),
    ];
    for (m, msg, reason) in cases {
        let e = validate_metadata(&m, &short).unwrap_err();
        assert_eq!(e.to_string(), msg);
        assert_eq!(e.reason(), Some(reason));
    }
}

#[test]
fn drop_labels_are_removed_before_validation() {
    let limits = Limits {
        drop_labels: vec!["pod".to_string(), "bad-name".to_string()],
        ..Limits::default()
    };
    let mut ts = series(
        &[l("__name__", "up"), l("pod", "p1"), l("bad-name", "x")],
        &[NOW],
    );
    assert_eq!(check(&mut ts, &limits), Ok(()));
    assert_eq!(ts.labels.as_slice(), [l("__name__", "up")]);

    // Dropping the metric name makes the series nameless.
    let drop_name = Limits {
        drop_labels: vec!["__name__".to_string()],
        ..Limits::default()
    };
    let e = check(
        &mut series(&[l("__name__", "up"), l("a", "1")], &[NOW]),
        &drop_name,
    );
    assert_eq!(e, Err(ValidationError::MissingMetricName));

    // Without a name requirement, removing every label drops the series silently.
    let drop_all = Limits {
        drop_labels: vec!["a".to_string()],
        enforce_metric_name: false,
        ..Limits::default()
    };
    let e = check(&mut series(&[l("a", "1")], &[NOW]), &drop_all).unwrap_err();
    assert_eq!(e.reason(), Some("user_label_removal_configuration"));
    assert!(!e.is_reported());
}

#[test]
fn request_keeps_valid_series_and_reports_first_error() {
    let limits = Limits {
        reject_old_samples: true,
        ..Limits::default()
    };
    let mut bad_exemplar = series(&[l("__name__", "ex")], &[NOW]);
    bad_exemplar.exemplars.push(exemplar(&[], NOW));
    let mut good_with_exemplar = series(&[l("job", "b"), l("__name__", "ok2")], &[NOW]);
    good_with_exemplar
        .exemplars
        .push(exemplar(&[l("trace_id", "t")], NOW));
    let mut req = WriteRequest {
        timeseries: vec![
            series(&[l("__name__", "ok1")], &[NOW, NOW + 1]),
            series(&[l("job", "nameless")], &[NOW, NOW, NOW]),
            series(&[l("__name__", "old")], &[NOW, 1]),
            good_with_exemplar,
            bad_exemplar,
        ],
        metadata: vec![
            MetricMetadata {
                metric_family_name: "ok1",
                ..MetricMetadata::default()
            },
            MetricMetadata::default(),
        ],
        ..WriteRequest::default()
    };
    let v = validate_request(&mut req, &limits, NOW).unwrap();
    assert_eq!(req.timeseries.len(), 2);
    assert_eq!(req.timeseries[0].labels.as_slice(), [l("__name__", "ok1")]);
    assert_eq!(
        req.timeseries[1].labels.as_slice(),
        [l("__name__", "ok2"), l("job", "b")]
    );
    assert_eq!(req.metadata.len(), 1);
    assert_eq!(
        (v.series, v.float_samples, v.exemplars, v.metadata),
        (2, 3, 1, 1)
    );
    assert_eq!(
        v.first_error.as_ref().map(ToString::to_string).as_deref(),
        Some("sample missing metric name")
    );
    assert_eq!(v.discarded.samples.get("missing_metric_name"), 3);
    assert_eq!(v.discarded.samples.get("greater_than_max_sample_age"), 2);
    assert_eq!(v.discarded.samples.get("exemplar_labels_missing"), 1);
    assert_eq!(v.discarded.exemplars.get("exemplar_labels_missing"), 1);
    assert_eq!(v.discarded.metadata.get("missing_metric_name"), 1);
    assert_eq!(v.discarded.samples.total(), 6);
    let c = v.counts();
    assert_eq!((c.samples, c.exemplars, c.metadata), (3, 1, 1));
}

#[test]
fn request_with_an_unlabelled_series_is_refused_whole() {
    let mut req = WriteRequest {
        timeseries: vec![series(&[l("__name__", "ok")], &[NOW]), series(&[], &[NOW])],
        ..WriteRequest::default()
    };
    let before = req.clone();
    let e = validate_request(&mut req, &Limits::default(), NOW).unwrap_err();
    assert_eq!(e.to_string(), "empty labels found");
    assert_eq!(e.reason(), None);
    assert_eq!(req, before);
}

#[test]
fn silent_drops_do_not_become_the_reported_error() {
    let limits = Limits {
        drop_labels: vec!["a".to_string()],
        enforce_metric_name: false,
        max_label_value_length: 3,
        ..Limits::default()
    };
    let mut req = WriteRequest {
        timeseries: vec![
            series(&[l("a", "1")], &[NOW]),
            series(&[l("b", "long")], &[NOW]),
        ],
        ..WriteRequest::default()
    };
    let v = validate_request(&mut req, &limits, NOW).unwrap();
    assert!(v.is_empty());
    assert_eq!(
        v.first_error.map(|e| e.reason()),
        Some(Some("label_value_too_long"))
    );
    assert_eq!(
        v.discarded.samples.get("user_label_removal_configuration"),
        1
    );
}

#[test]
fn per_series_metadata_is_validated_after_series() {
    let mut ts = series(&[l("__name__", "up")], &[NOW]);
    ts.metadata = Some(MetricMetadata {
        metric_family_name: "",
        ..MetricMetadata::default()
    });
    let mut req = WriteRequest {
        timeseries: vec![ts],
        ..WriteRequest::default()
    };
    let v = validate_request(&mut req, &Limits::default(), NOW).unwrap();
    assert_eq!(v.series, 1);
    assert_eq!(v.metadata, 0);
    assert!(req.timeseries[0].metadata.is_none());
    assert_eq!(v.discarded.metadata.get("missing_metric_name"), 1);
    assert_eq!(
        v.first_error,
        Some(ValidationError::MetadataMissingMetricName)
    );
}
