//! The conformance suite every [`Querier`] implementation runs: it hands a fixed set
//! of series to the implementation's loader, then checks selection by each matcher
//! type, time-range selection, sample iteration (`next`, `seek`, `next_batch`),
//! staleness markers, native histograms, start timestamps and the label APIs.
//!
//! Available to this crate's tests and, behind the `testing` feature, to other
//! crates' tests (a querier over the TSDB head and blocks, remote queriers).

use std::sync::Arc;

use cortex_tsdb::histogram::{FloatHistogram, Span};
use cortex_tsdb::labels::{Labels, MatchType, Matcher};
use cortex_tsdb::value::STALE_NAN;

use super::{Querier, Sample, SampleValue, SelectHints, Series};

/// The series the suite loads: labels and samples sorted by timestamp.
pub type Fixture = Vec<(Labels, Vec<Sample>)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).expect("fixture labels are valid")
}

fn float(t: i64, v: f64) -> Sample {
    Sample {
        t,
        st: 0,
        value: SampleValue::Float(v),
    }
}

fn histogram(t: i64, st: i64, n: f64) -> Sample {
    let h = FloatHistogram {
        schema: 1,
        count: 3.0 * n,
        sum: 4.5 * n,
        positive_spans: vec![Span {
            offset: -1,
            length: 2,
        }],
        positive_buckets: vec![n, 2.0 * n],
        ..Default::default()
    };
    Sample {
        t,
        st,
        value: SampleValue::Histogram(Arc::new(h)),
    }
}

/// The data every implementation is loaded with.
pub fn fixture() -> Fixture {
    vec![
        (
            labels(&[("__name__", "up"), ("instance", "a"), ("job", "api")]),
            (0..=10).map(|i| float(i * 10_000, i as f64)).collect(),
        ),
        (
            labels(&[("__name__", "up"), ("instance", "b"), ("job", "api")]),
            vec![float(0, 1.0), float(10_000, 0.0), float(20_000, STALE_NAN)],
        ),
        (
            labels(&[("__name__", "up"), ("instance", "c"), ("job", "web")]),
            (10..=20).map(|i| float(i * 10_000, -(i as f64))).collect(),
        ),
        (
            labels(&[("__name__", "latency_seconds"), ("job", "api")]),
            vec![
                histogram(0, -5_000, 1.0),
                histogram(60_000, -5_000, 2.0),
                histogram(120_000, 90_000, 0.5),
            ],
        ),
    ]
}

/// What a storage keeps beyond timestamps and values; the suite checks only that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Start timestamps come back as written (otherwise they read as 0).
    pub start_timestamps: bool,
    /// Histograms' counter-reset hints come back as written (a TSDB derives them from
    /// its chunks instead).
    pub counter_reset_hints: bool,
}

impl Capabilities {
    /// Everything round-trips (an in-memory store).
    pub const FULL: Capabilities = Capabilities {
        start_timestamps: true,
        counter_reset_hints: true,
    };
}

fn same_sample(caps: Capabilities, got: &Sample, wrote: &Sample) -> bool {
    let st = if caps.start_timestamps { wrote.st } else { 0 };
    got.t == wrote.t
        && got.st == st
        && match (&got.value, &wrote.value) {
            (SampleValue::Float(x), SampleValue::Float(y)) => x.to_bits() == y.to_bits(),
            (SampleValue::Histogram(x), SampleValue::Histogram(y)) => {
                if caps.counter_reset_hints {
                    x == y
                } else {
                    let mut x = (**x).clone();
                    x.counter_reset_hint = y.counter_reset_hint;
                    x == **y
                }
            }
            _ => false,
        }
}

fn all_samples(s: &dyn Series) -> Vec<Sample> {
    let mut it = s.samples();
    let mut out = Vec::new();
    while let Some(x) = it.next().expect("iteration succeeds") {
        out.push(x);
    }
    out
}

fn full_range() -> SelectHints {
    SelectHints {
        start: i64::MIN,
        end: i64::MAX,
        ..Default::default()
    }
}

fn matcher(kind: MatchType, name: &str, value: &str) -> Matcher {
    Matcher::new(kind, name, value).expect("valid matcher")
}

fn selected_names(q: &dyn Querier, hints: &SelectHints, ms: &[Matcher]) -> Vec<String> {
    let mut out: Vec<String> = q
        .select(hints, ms)
        .expect("select succeeds")
        .iter()
        .map(|s| {
            let l = s.labels();
            format!(
                "{}/{}",
                l.get("__name__").unwrap_or(""),
                l.get("instance").unwrap_or("")
            )
        })
        .collect();
    out.sort();
    out
}

/// Runs the suite against the querier `load` builds from [`fixture`]'s series.
/// Panics, naming the broken expectation, on the first failure.
pub fn run_conformance<Q: Querier>(load: impl FnOnce(&Fixture) -> Q) {
    run_conformance_with(Capabilities::FULL, load);
}

/// Runs the suite for a storage with the given capabilities.
pub fn run_conformance_with<Q: Querier>(caps: Capabilities, load: impl FnOnce(&Fixture) -> Q) {
    let data = fixture();
    let q = load(&data);
    check_samples_round_trip(caps, &q, &data);
    check_matchers(&q);
    check_time_range(caps, &q, &data);
    check_iteration(caps, &q, &data);
    check_label_apis(&q);
}

fn check_samples_round_trip(caps: Capabilities, q: &dyn Querier, data: &Fixture) {
    let got = q.select(&full_range(), &[]).expect("select succeeds");
    assert_eq!(
        got.len(),
        data.len(),
        "an empty matcher list selects every series"
    );
    for (l, samples) in data {
        let s = got
            .iter()
            .find(|s| s.labels() == l)
            .unwrap_or_else(|| panic!("series {l:?} not selected"));
        let read = all_samples(s.as_ref());
        assert_eq!(read.len(), samples.len(), "{l:?}: sample count");
        for (a, b) in read.iter().zip(samples) {
            assert!(same_sample(caps, a, b), "{l:?}: read {a:?}, wrote {b:?}");
        }
    }
}

fn check_matchers(q: &dyn Querier) {
    let all = full_range();
    let cases: [(Vec<Matcher>, &[&str]); 7] = [
        (
            vec![matcher(MatchType::Equal, "__name__", "up")],
            &["up/a", "up/b", "up/c"],
        ),
        (
            vec![
                matcher(MatchType::Equal, "__name__", "up"),
                matcher(MatchType::NotEqual, "job", "api"),
            ],
            &["up/c"],
        ),
        (
            vec![matcher(MatchType::Regexp, "job", "a.*")],
            &["latency_seconds/", "up/a", "up/b"],
        ),
        (vec![matcher(MatchType::NotRegexp, "job", "a.*")], &["up/c"]),
        // An empty value matches series without the label.
        (
            vec![matcher(MatchType::Equal, "instance", "")],
            &["latency_seconds/"],
        ),
        (
            vec![matcher(MatchType::Regexp, "instance", "b|c")],
            &["up/b", "up/c"],
        ),
        (vec![matcher(MatchType::Equal, "job", "nope")], &[]),
    ];
    for (ms, want) in cases {
        assert_eq!(selected_names(q, &all, &ms), want, "matchers {ms:?}");
    }
}

fn check_time_range(caps: Capabilities, q: &dyn Querier, data: &Fixture) {
    let hints = SelectHints {
        start: 150_000,
        end: 160_000,
        ..Default::default()
    };
    let ms = [matcher(MatchType::Equal, "__name__", "up")];
    let got = q.select(&hints, &ms).expect("select succeeds");
    let web = got
        .iter()
        .find(|s| s.labels().get("instance") == Some("c"))
        .expect("a series with samples in the range is selected");
    let inside: Vec<Sample> = all_samples(web.as_ref())
        .into_iter()
        .filter(|s| (hints.start..=hints.end).contains(&s.t))
        .collect();
    let want: Vec<&Sample> = data[2]
        .1
        .iter()
        .filter(|s| (hints.start..=hints.end).contains(&s.t))
        .collect();
    assert_eq!(inside.len(), want.len(), "samples inside the range");
    assert!(
        inside
            .iter()
            .zip(want)
            .all(|(a, b)| same_sample(caps, a, b))
    );
}

fn check_iteration(caps: Capabilities, q: &dyn Querier, data: &Fixture) {
    let ms = [matcher(MatchType::Equal, "instance", "a")];
    let got = q.select(&full_range(), &ms).expect("select succeeds");
    assert_eq!(got.len(), 1, "one series has instance=\"a\"");
    let s = &got[0];
    let want = &data[0].1;

    let mut it = s.samples();
    let first = it.seek(25_000).expect("seek succeeds");
    assert_eq!(
        first.map(|x| x.t),
        Some(30_000),
        "seek lands on the next sample"
    );
    let second = it.next().expect("next succeeds");
    assert_eq!(
        second.map(|x| x.t),
        Some(40_000),
        "next continues after seek"
    );
    let exact = it.seek(60_000).expect("seek succeeds");
    assert_eq!(
        exact.map(|x| x.t),
        Some(60_000),
        "seek to an existing timestamp"
    );
    assert!(it.seek(1_000_000).expect("seek succeeds").is_none());
    assert!(it.next().expect("next succeeds").is_none(), "exhausted");

    // next_batch yields the same samples as next, in batches of at most `max`.
    let mut it = s.samples();
    let mut batched = Vec::new();
    loop {
        let before = batched.len();
        let n = it.next_batch(&mut batched, 4).expect("next_batch succeeds");
        assert_eq!(
            batched.len() - before,
            n,
            "next_batch reports what it appended"
        );
        assert!(n <= 4, "next_batch respects max");
        if n == 0 {
            break;
        }
    }
    assert_eq!(batched.len(), want.len());
    assert!(
        batched
            .iter()
            .zip(want)
            .all(|(a, b)| same_sample(caps, a, b))
    );

    // Two iterators over the same series are independent.
    let mut a = s.samples();
    let mut b = s.samples();
    a.seek(50_000).expect("seek succeeds");
    assert_eq!(b.next().expect("next succeeds").map(|x| x.t), Some(0));
}

fn check_label_apis(q: &dyn Querier) {
    let (lo, hi) = (i64::MIN, i64::MAX);
    assert_eq!(
        q.label_names(lo, hi, &[]).expect("label_names succeeds"),
        ["__name__", "instance", "job"]
    );
    let hist = [matcher(MatchType::Equal, "__name__", "latency_seconds")];
    assert_eq!(
        q.label_names(lo, hi, &hist).expect("label_names succeeds"),
        ["__name__", "job"]
    );
    assert_eq!(
        q.label_values("job", lo, hi, &[])
            .expect("label_values succeeds"),
        ["api", "web"]
    );
    assert_eq!(
        q.label_values("job", lo, hi, &hist)
            .expect("label_values succeeds"),
        ["api"]
    );
    assert!(
        q.label_values("nope", lo, hi, &[])
            .expect("label_values succeeds")
            .is_empty()
    );
    let late = q
        .label_values("instance", 150_000, 200_000, &[])
        .expect("label_values succeeds");
    assert!(late.iter().any(|v| v == "c"), "{late:?} lacks \"c\"");
}
