//! The synthetic scrape workload: which series exist at each round, their labels, and the
//! value of each at each round. It does not encode or send anything (see [`super::bodies`]).
//!
//! The model is a fleet of scrape targets (pods) that all expose the same metric families,
//! the way a Kubernetes cluster running one kind of service looks to Prometheus:
//!
//! - target labels: `cluster` (3), `namespace` (20), `job` (targets/20, at least 1),
//!   `node` (one per 8 targets), `container`, `pod` and `instance` (unique per target);
//! - a family is a counter (`_total`, one series per `method` × `code`, 6 series), a gauge
//!   (one series), or a classic histogram (per `method`: 10 `_bucket` series with `le`,
//!   `_sum`, `_count`; 24 series). Families cycle counter, gauge, counter, histogram,
//!   gauge, ... so every kind is present from 4 families on;
//! - counters and histograms grow monotonically and reset now and then (a process restart);
//! - churn: every `churn_every` rounds, a `churn_fraction` of the targets is replaced by a
//!   new pod (new `pod` and `instance`), so their series end and new ones begin.
//!
//! The total is exactly the requested number of active series: the last target exposes
//! only the first series of the families.
//!
//! The dashboard queries in [`super::dashboard`] use the first family of each kind:
//! `http_requests_total`, `process_resident_memory_bytes` and
//! `http_request_duration_seconds`.

/// The bucket bounds of every histogram family.
pub const BUCKETS: [&str; 10] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
];
/// The share of observations at or below each bound of [`BUCKETS`].
const BUCKET_SHARE: [f64; 10] = [0.05, 0.12, 0.3, 0.55, 0.75, 0.9, 0.96, 0.99, 0.998, 1.0];
const METHODS: [&str; 2] = ["GET", "POST"];
const CODES: [&str; 3] = ["200", "404", "500"];

const COUNTER_NAMES: [&str; 6] = [
    "http_requests_total",
    "grpc_server_handled_total",
    "process_cpu_seconds_total",
    "kafka_consumer_records_total",
    "db_queries_total",
    "cache_requests_total",
];
const GAUGE_NAMES: [&str; 5] = [
    "process_resident_memory_bytes",
    "go_goroutines",
    "queue_length",
    "db_connections_open",
    "process_open_fds",
];
const HISTOGRAM_NAMES: [&str; 4] = [
    "http_request_duration_seconds",
    "grpc_server_handling_seconds",
    "db_query_duration_seconds",
    "kafka_consumer_lag_seconds",
];

/// What a workload looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Active series at every round.
    pub series: usize,
    /// Metric families.
    pub metrics: usize,
    /// Rounds (scrapes) of every series.
    pub rounds: usize,
    /// Milliseconds between rounds.
    pub interval_ms: i64,
    /// Share of the targets replaced at each churn, 0 for none.
    pub churn_fraction: f64,
    /// Rounds between churns (0: no churn).
    pub churn_every: usize,
}

/// The kind of one series of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    /// Bucket with the index of its bound in [`BUCKETS`].
    Bucket(usize),
    Sum,
    Count,
}

/// One series a target exposes: name and labels beyond the target's.
#[derive(Debug, Clone)]
struct Exposed {
    name: String,
    /// Extra labels, sorted by name.
    extra: Vec<(&'static str, &'static str)>,
    kind: Kind,
    /// Index of the family, to vary rates and reset points.
    family: usize,
    /// Index of the histogram within its family or of the counter variant.
    variant: usize,
}

/// The workload: the series every target exposes, and how many targets there are.
#[derive(Debug, Clone)]
pub struct Workload {
    spec: Spec,
    exposed: Vec<Exposed>,
    targets: usize,
}

/// The labels of one series, as `(name, value)` in label-name order.
pub type SeriesLabels<'a> = Vec<(&'a str, &'a str)>;

/// A target's own labels for one pod generation.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetLabels {
    /// `(name, value)` sorted by name.
    pub labels: Vec<(&'static str, String)>,
}

impl Workload {
    /// The workload of `spec`. Errors on zero series, metrics or rounds.
    pub fn new(spec: Spec) -> Result<Workload, String> {
        if spec.series == 0 || spec.metrics == 0 || spec.rounds == 0 {
            return Err("series, metrics and rounds must be at least 1".into());
        }
        if spec.interval_ms <= 0 {
            return Err("the interval must be positive".into());
        }
        if !(0.0..=1.0).contains(&spec.churn_fraction) {
            return Err("the churn fraction must be within 0..=1".into());
        }
        let mut exposed = Vec::new();
        let (mut c, mut g, mut h) = (0, 0, 0);
        for family in 0..spec.metrics {
            match family % 5 {
                0 | 2 => {
                    let name = pick(&COUNTER_NAMES, c, "");
                    c += 1;
                    let mut variant = 0;
                    for code in CODES {
                        for method in METHODS {
                            exposed.push(Exposed {
                                name: name.clone(),
                                extra: vec![("code", code), ("method", method)],
                                kind: Kind::Counter,
                                family,
                                variant,
                            });
                            variant += 1;
                        }
                    }
                }
                1 | 4 => {
                    exposed.push(Exposed {
                        name: pick(&GAUGE_NAMES, g, ""),
                        extra: Vec::new(),
                        kind: Kind::Gauge,
                        family,
                        variant: 0,
                    });
                    g += 1;
                }
                _ => {
                    let base = pick(&HISTOGRAM_NAMES, h, "");
                    h += 1;
                    for (variant, method) in METHODS.into_iter().enumerate() {
                        for (i, le) in BUCKETS.into_iter().enumerate() {
                            exposed.push(Exposed {
                                name: format!("{base}_bucket"),
                                extra: vec![("le", le), ("method", method)],
                                kind: Kind::Bucket(i),
                                family,
                                variant,
                            });
                        }
                        for (suffix, kind) in [("_sum", Kind::Sum), ("_count", Kind::Count)] {
                            exposed.push(Exposed {
                                name: format!("{base}{suffix}"),
                                extra: vec![("method", method)],
                                kind,
                                family,
                                variant,
                            });
                        }
                    }
                }
            }
        }
        let targets = spec.series.div_ceil(exposed.len());
        Ok(Workload {
            spec,
            exposed,
            targets,
        })
    }

    /// The spec this workload was built from.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// Number of scrape targets.
    pub fn targets(&self) -> usize {
        self.targets
    }

    /// Series each full target exposes.
    pub fn series_per_target(&self) -> usize {
        self.exposed.len()
    }

    /// How many series of target `t` exist (all but the last target expose every one).
    pub fn target_series(&self, t: usize) -> usize {
        let per = self.exposed.len();
        (self.spec.series - t * per).min(per)
    }

    /// The pod generation of target `t` at `round`: how many times it was replaced.
    pub fn generation(&self, t: usize, round: usize) -> u32 {
        let every = self.spec.churn_every;
        if every == 0 || self.spec.churn_fraction <= 0.0 {
            return 0;
        }
        let threshold = (self.spec.churn_fraction * u32::MAX as f64) as u64;
        (1..=round / every)
            .filter(|&e| mix(t as u64, e as u64) & 0xffff_ffff <= threshold)
            .count() as u32
    }

    /// The labels of target `t` in pod generation `generation`.
    pub fn target_labels(&self, t: usize, generation: u32) -> TargetLabels {
        let jobs = (self.targets / 20).max(1);
        let job = t % jobs;
        let pod_hash = mix(t as u64, u64::from(generation) + 0x5eed);
        let ip = (t as u64 + u64::from(generation) * 7919) % 16_000_000;
        let labels = vec![
            ("cluster", format!("prod-{}", t % 3)),
            ("container", format!("svc-{job}")),
            (
                "instance",
                format!("10.{}.{}.{}:8080", ip >> 16 & 255, ip >> 8 & 255, ip & 255),
            ),
            ("job", format!("svc-{job}")),
            ("namespace", format!("team-{}", t % 20)),
            ("node", format!("node-{:04}", t / 8)),
            (
                "pod",
                format!(
                    "svc-{job}-{:08x}-{:05x}",
                    pod_hash >> 32,
                    pod_hash & 0xf_ffff
                ),
            ),
        ];
        TargetLabels { labels }
    }

    /// The labels of series `i` of a target whose own labels are `target`, sorted by name.
    pub fn series_labels<'a>(&'a self, target: &'a TargetLabels, i: usize) -> SeriesLabels<'a> {
        let Some(e) = self.exposed.get(i) else {
            return Vec::new();
        };
        let mut out: SeriesLabels<'a> = Vec::with_capacity(1 + target.labels.len() + 2);
        out.push(("__name__", e.name.as_str()));
        out.extend(target.labels.iter().map(|(n, v)| (*n, v.as_str())));
        out.extend(e.extra.iter().copied());
        out.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out
    }

    /// A stable identity of series `i` of target `t` in `generation`, to shard by.
    pub fn series_key(&self, t: usize, generation: u32, i: usize) -> u64 {
        mix(mix(t as u64, u64::from(generation)), i as u64)
    }

    /// The value of series `i` of target `t` in `generation` at `round`.
    pub fn value(&self, t: usize, generation: u32, i: usize, round: usize) -> f64 {
        let Some(e) = self.exposed.get(i) else {
            return 0.0;
        };
        let seed = mix(mix(t as u64, u64::from(generation)), e.family as u64);
        let unit = (seed % 1000) as f64 / 1000.0;
        let k = round as f64;
        // Counters restart now and then, as when the process restarts.
        let period = 120 + (seed % 360) as usize;
        let j = ((round + (seed >> 20) as usize % period) % period) as f64;
        let since_reset = j.min(k);
        let grow = |rate: f64| {
            (since_reset * rate + (since_reset * 0.37).sin().abs() * rate * 0.5).floor()
        };
        match e.kind {
            Kind::Counter => {
                let share = [0.8, 0.6, 0.05, 0.03, 0.01, 0.005][e.variant % 6];
                grow((1.0 + unit * 200.0) * share + 1.0)
            }
            Kind::Gauge if e.family % 2 == 0 => {
                (2e8 + unit * 1e9 + (k * 0.05 + unit * 6.0).sin() * 2e7).floor()
            }
            Kind::Gauge => 10.0 + unit * 90.0 + (k * 0.11 + unit * 6.0).sin() * 5.0,
            Kind::Count => grow(1.0 + unit * 50.0),
            Kind::Bucket(b) => (grow(1.0 + unit * 50.0) * BUCKET_SHARE[b % 10]).floor(),
            Kind::Sum => grow(1.0 + unit * 50.0) * (0.04 + unit * 0.1),
        }
    }
}

/// The `n`-th name of `names`, with a numeric suffix once they are used up.
fn pick(names: &[&str], n: usize, suffix: &str) -> String {
    let base = names
        .get(n % names.len().max(1))
        .copied()
        .unwrap_or("metric");
    match n / names.len().max(1) {
        0 => format!("{base}{suffix}"),
        round => match base.strip_suffix("_total") {
            Some(stem) => format!("{stem}_{round}_total{suffix}"),
            None => format!("{base}_{round}{suffix}"),
        },
    }
}

/// A 64-bit mix of two numbers (splitmix64 finalizer over their combination).
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b)
        .wrapping_add(0x6A09_E667_F3BC_C909);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(series: usize) -> Spec {
        Spec {
            series,
            metrics: 10,
            rounds: 10,
            interval_ms: 15_000,
            churn_fraction: 0.1,
            churn_every: 5,
        }
    }

    #[test]
    fn targets_cover_exactly_the_requested_series() {
        let w = Workload::new(spec(1000)).unwrap();
        let total: usize = (0..w.targets()).map(|t| w.target_series(t)).sum();
        assert_eq!(total, 1000);
    }

    #[test]
    fn series_labels_are_sorted_and_about_ten() {
        let w = Workload::new(spec(1000)).unwrap();
        let t = w.target_labels(3, 0);
        for i in 0..w.series_per_target() {
            let l = w.series_labels(&t, i);
            assert!(l.windows(2).all(|p| p[0].0 < p[1].0), "{l:?}");
            assert!((8..=11).contains(&l.len()));
        }
    }

    #[test]
    fn counters_only_fall_at_resets() {
        let w = Workload::new(spec(1000)).unwrap();
        let mut falls = 0;
        let mut prev = w.value(1, 0, 0, 0);
        for r in 1..2000 {
            let v = w.value(1, 0, 0, r);
            if v < prev {
                falls += 1;
                assert_eq!(v, 0.0);
            }
            prev = v;
        }
        assert!((1..=20).contains(&falls), "{falls}");
    }

    #[test]
    fn churn_replaces_about_the_fraction() {
        let w = Workload::new(spec(100_000)).unwrap();
        let replaced = (0..w.targets())
            .filter(|&t| w.generation(t, 5) == 1)
            .count();
        let share = replaced as f64 / w.targets() as f64;
        assert!((0.03..0.2).contains(&share), "{share}");
        assert_ne!(w.target_labels(0, 0), w.target_labels(0, 1));
    }
}
