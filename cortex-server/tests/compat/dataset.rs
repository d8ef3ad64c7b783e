//! The dataset both servers receive: a few hundred seeded, deterministic series over the
//! two hours before an end time, with the shapes PromQL has to get right — counters with
//! resets, gauges (negative, huge, tiny, constant), missing scrapes, staleness markers,
//! series that start late or end early, classic histograms, and many label shapes
//! (unicode, blank-looking and long values, underscores in names).
//!
//! Every sample timestamp has a millisecond part in [`SAMPLE_MS_PARTS`], none of them 0
//! or [`EVAL_MS_PART`]: queries are evaluated at times ending in `.500`, subquery steps
//! land on whole seconds, so no sample and no subquery point ever sits exactly on a range
//! or lookback boundary (where Prometheus 2.x, closed on the left, and 3.x, open on the
//! left, disagree). Label values never contain a newline (3.x's `.` matches one, 2.x's
//! does not).

use crate::common::OwnedSeries;

/// Prometheus' staleness marker.
pub const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// The scrape interval of every series (ms).
pub const INTERVAL_MS: i64 = 15_000;

/// How much data there is before the end time (ms).
pub const SPAN_MS: i64 = 2 * 3600 * 1000;

/// The millisecond parts sample timestamps can have.
pub const SAMPLE_MS_PARTS: [i64; 6] = [111, 222, 333, 444, 666, 777];

/// The millisecond part of every evaluation time the queries use.
pub const EVAL_MS_PART: i64 = 500;

/// A small xorshift generator: the same seed gives the same dataset.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; 0 is remapped).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An integer in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The generated series and the time range they cover.
pub struct Dataset {
    /// Every series, labels sorted by name, samples in time order.
    pub series: Vec<OwnedSeries>,
    /// First scrape slot (ms, a whole minute).
    pub start_ms: i64,
    /// Last scrape slot (ms, a whole minute).
    pub end_ms: i64,
}

impl Dataset {
    /// Builds the dataset for the two hours ending at `end_ms` (rounded down to a minute).
    pub fn generate(seed: u64, end_ms: i64) -> Dataset {
        let end_ms = end_ms - end_ms.rem_euclid(60_000);
        let start_ms = end_ms - SPAN_MS;
        let mut g = Gen {
            rng: Rng::new(seed),
            start_ms,
            end_ms,
            out: Vec::new(),
        };
        g.http_requests();
        g.cpu_seconds();
        g.gauges();
        g.histograms();
        g.gaps_and_staleness();
        g.label_shapes();
        Dataset {
            series: g.out,
            start_ms,
            end_ms,
        }
    }

    /// The series cut into consecutive time windows of `window_ms`, in time order: each
    /// element holds every series' samples of one window (series without samples there
    /// left out), so a head that only accepts recent samples takes them all.
    pub fn batches(&self, window_ms: i64) -> Vec<Vec<OwnedSeries>> {
        let mut out = Vec::new();
        let mut from = self.start_ms;
        while from <= self.end_ms + INTERVAL_MS {
            let to = from + window_ms;
            let batch: Vec<OwnedSeries> = self
                .series
                .iter()
                .filter_map(|s| {
                    let samples: Vec<(i64, f64)> = s
                        .samples
                        .iter()
                        .copied()
                        .filter(|&(t, _)| t >= from && t < to)
                        .collect();
                    (!samples.is_empty()).then(|| OwnedSeries {
                        labels: s.labels.clone(),
                        samples,
                    })
                })
                .collect();
            if !batch.is_empty() {
                out.push(batch);
            }
            from = to;
        }
        out
    }

    /// Number of samples in the dataset.
    pub fn sample_count(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }
}

struct Gen {
    rng: Rng,
    start_ms: i64,
    end_ms: i64,
    out: Vec<OwnedSeries>,
}

/// Counters start at this many increments (and histograms with this many observations):
/// where a series starts inside a range (start of data, after a gap), 2.42 and 3.x
/// limit rate's extrapolation towards zero in a different order (changed in 2.51), and
/// they disagree when the counter's first value is about one increment.
const COUNTER_START: f64 = 1000.0;

const JOBS: [&str; 3] = ["api", "db", "frontend"];

fn instance(i: usize) -> String {
    format!("10.0.{}.{}:9100", i / 4, 10 + i)
}

impl Gen {
    /// Scrape timestamps of one series: every 15 s from the start, shifted by a per-series
    /// offset of a few seconds whose millisecond part is one of [`SAMPLE_MS_PARTS`].
    fn slots(&mut self) -> Vec<i64> {
        let part = SAMPLE_MS_PARTS[self.rng.below(SAMPLE_MS_PARTS.len() as u64) as usize];
        let offset = 1000 * (1 + self.rng.below(12) as i64) + part;
        (0..)
            .map(|k| self.start_ms + k * INTERVAL_MS + offset)
            .take_while(|&t| t <= self.end_ms)
            .collect()
    }

    fn push(&mut self, name: &str, labels: &[(&str, &str)], samples: Vec<(i64, f64)>) {
        let mut l: Vec<(String, String)> = labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        l.push(("__name__".into(), name.into()));
        l.sort();
        self.out.push(OwnedSeries { labels: l, samples });
    }

    /// A counter: random increments of up to `step`, reset to 0 with probability
    /// `reset_p` per scrape. It starts high (see [`COUNTER_START`]).
    fn counter(&mut self, step: f64, integer: bool, reset_p: f64) -> Vec<(i64, f64)> {
        let mut v = COUNTER_START * step * (1.0 + self.rng.unit());
        if integer {
            v = v.floor();
        }
        let slots = self.slots();
        let mut out = Vec::with_capacity(slots.len());
        for t in slots {
            if self.rng.unit() < reset_p {
                v = 0.0;
            } else {
                let inc = self.rng.unit() * step;
                v += if integer { inc.floor() } else { inc };
            }
            out.push((t, v));
        }
        out
    }

    fn http_requests(&mut self) {
        for job in JOBS {
            for i in 0..4 {
                for method in ["GET", "POST"] {
                    for code in ["200", "500"] {
                        let step = if code == "200" { 40.0 } else { 3.0 };
                        let s = self.counter(step, true, 0.004);
                        let inst = instance(i);
                        self.push(
                            "http_requests_total",
                            &[
                                ("job", job),
                                ("instance", &inst),
                                ("method", method),
                                ("code", code),
                            ],
                            s,
                        );
                    }
                }
            }
        }
    }

    fn cpu_seconds(&mut self) {
        for i in 0..4 {
            for cpu in ["0", "1"] {
                for mode in ["user", "system", "idle"] {
                    let s = self.counter(15.0, false, 0.0);
                    let inst = instance(i);
                    self.push(
                        "node_cpu_seconds_total",
                        &[
                            ("job", "node"),
                            ("instance", &inst),
                            ("cpu", cpu),
                            ("mode", mode),
                        ],
                        s,
                    );
                }
            }
        }
    }

    fn gauge(&mut self, base: f64, spread: f64, decimals: bool) -> Vec<(i64, f64)> {
        let slots = self.slots();
        let mut v = base;
        slots
            .into_iter()
            .map(|t| {
                v += (self.rng.unit() - 0.5) * spread;
                let out = if decimals { v } else { v.round() };
                (t, out)
            })
            .collect()
    }

    fn gauges(&mut self) {
        for job in JOBS {
            for i in 0..4 {
                let inst = instance(i);
                let base = 1e9 * (1.0 + self.rng.unit());
                let s = self.gauge(base, 5e7, false);
                self.push(
                    "memory_usage_bytes",
                    &[("job", job), ("instance", &inst)],
                    s,
                );
                let s = self.gauge(20.0, 8.0, false);
                let s = s.into_iter().map(|(t, v)| (t, v.max(0.0))).collect();
                self.push("queue_length", &[("job", job), ("instance", &inst)], s);
                let slots = self.slots();
                let up = slots
                    .into_iter()
                    .map(|t| (t, if self.rng.unit() < 0.05 { 0.0 } else { 1.0 }))
                    .collect();
                self.push("up", &[("job", job), ("instance", &inst)], up);
            }
        }
        let places = [
            "Zürich",
            "東京",
            "São Paulo",
            "Reykjavík",
            "north-pole",
            "Kraków",
        ];
        for place in places {
            let base = self.rng.unit() * 60.0 - 30.0;
            let s = self.gauge(base, 1.5, true);
            self.push(
                "temperature_celsius",
                &[("job", "weather"), ("location", place)],
                s,
            );
        }
        for (i, scale) in [1e-7, 3.5e-9, 1e22, 7.25e15].into_iter().enumerate() {
            let s = self.gauge(scale, scale / 10.0, true);
            let idx = i.to_string();
            self.push("extreme_values", &[("job", "physics"), ("idx", &idx)], s);
        }
        for i in 0..4 {
            let inst = instance(i);
            let slots = self.slots();
            let s = slots.into_iter().map(|t| (t, 1024.0)).collect();
            self.push("process_max_fds", &[("job", "api"), ("instance", &inst)], s);
        }
    }

    fn histograms(&mut self) {
        const LES: [&str; 12] = [
            "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
        ];
        let bounds: Vec<f64> = LES
            .iter()
            .map(|l| l.parse().unwrap_or(f64::INFINITY))
            .collect();
        for job in JOBS {
            for i in 0..2 {
                let inst = instance(i);
                let slots = self.slots();
                let scale = 0.02 + self.rng.unit() * 0.5;
                let mut counts = vec![0.0; LES.len()];
                let mut sum = 0.0;
                let mut rows: Vec<(i64, Vec<f64>, f64)> = Vec::new();
                for t in std::iter::once(None).chain(slots.into_iter().map(Some)) {
                    if self.rng.unit() < 0.004 {
                        counts.iter_mut().for_each(|c| *c = 0.0);
                        sum = 0.0;
                    }
                    let n = match t {
                        None => COUNTER_START as u64 * 15,
                        Some(_) => self.rng.below(30),
                    };
                    for _ in 0..n {
                        let obs = -scale * (1.0 - self.rng.unit()).ln();
                        sum += obs;
                        for (c, b) in counts.iter_mut().zip(&bounds) {
                            if obs <= *b {
                                *c += 1.0;
                            }
                        }
                    }
                    if let Some(t) = t {
                        rows.push((t, counts.clone(), sum));
                    }
                }
                for (k, le) in LES.iter().enumerate() {
                    let s = rows
                        .iter()
                        .map(|(t, c, _)| (*t, c.get(k).copied().unwrap_or(0.0)))
                        .collect();
                    self.push(
                        "request_duration_seconds_bucket",
                        &[("job", job), ("instance", &inst), ("le", le)],
                        s,
                    );
                }
                let last = LES.len() - 1;
                let count = rows
                    .iter()
                    .map(|(t, c, _)| (*t, c.get(last).copied().unwrap_or(0.0)))
                    .collect();
                let sums = rows.iter().map(|(t, _, s)| (*t, *s)).collect();
                self.push(
                    "request_duration_seconds_count",
                    &[("job", job), ("instance", &inst)],
                    count,
                );
                self.push(
                    "request_duration_seconds_sum",
                    &[("job", job), ("instance", &inst)],
                    sums,
                );
            }
        }
    }

    /// Series that miss scrapes, end with a staleness marker, restart, or start late.
    fn gaps_and_staleness(&mut self) {
        let stale = f64::from_bits(STALE_NAN);
        let span = (self.end_ms - self.start_ms) as f64;
        for task in 0..12 {
            let slots = self.slots();
            let t0 = self.start_ms + (self.rng.unit() * span * 0.3) as i64;
            let t1 = t0 + (self.rng.unit() * span * 0.5) as i64 + 600_000;
            let restart = self.rng.unit() < 0.5;
            let t2 = t1 + 900_000;
            let mut out = Vec::new();
            let mut v = COUNTER_START * 2.5 + self.rng.unit() * 100.0;
            let mut ended = false;
            for t in slots {
                let live = (t >= t0 && t < t1) || (restart && t >= t2);
                if live {
                    v += self.rng.unit() * 5.0;
                    out.push((t, v));
                    ended = false;
                } else if !out.is_empty() && !ended {
                    out.push((t, stale));
                    ended = true;
                }
            }
            let name = format!("task-{task:02}");
            self.push("batch_progress", &[("job", "batch"), ("task", &name)], out);
        }
        // Missing scrapes: short gaps (under the 5 m lookback) and long ones (over it).
        for i in 0..8 {
            let slots = self.slots();
            let gap_len = if i % 2 == 0 { 4 } else { 30 };
            let gap_at = 40 + self.rng.below(300) as usize;
            let mut v = COUNTER_START * 5.0;
            let s = slots
                .into_iter()
                .enumerate()
                .filter(|(k, _)| *k < gap_at || *k >= gap_at + gap_len)
                .map(|(_, t)| {
                    v += 1.0 + self.rng.below(9) as f64;
                    (t, v)
                })
                .collect();
            let inst = instance(i);
            self.push(
                "flaky_scrapes_total",
                &[("job", "flaky"), ("instance", &inst)],
                s,
            );
        }
        // A series that only starts in the second hour.
        let slots = self.slots();
        let late_from = self.start_ms + SPAN_MS / 2 + 123_000;
        let s = slots
            .into_iter()
            .filter(|&t| t >= late_from)
            .map(|t| (t, ((t / 1000) % 97) as f64))
            .collect();
        self.push("late_starter", &[("job", "batch")], s);
    }

    /// Label shapes: unicode, blank-looking, long values, names with underscores.
    fn label_shapes(&mut self) {
        let long = "x".repeat(180) + "-long-value-ending-here";
        let values: [&str; 10] = [
            " ",
            "-",
            "_",
            "0",
            "with space",
            "quote\"and\\backslash",
            "emoji 🚀",
            "ελληνικά",
            "a.b.c",
            &long,
        ];
        for (i, v) in values.iter().enumerate() {
            let s = self.gauge(i as f64 * 10.0, 2.0, true);
            let idx = format!("{i}");
            self.push(
                "label_shapes",
                &[
                    ("job", "labels"),
                    ("odd_value", v),
                    ("_leading_underscore", &idx),
                    ("trailing_underscore_", "t"),
                    ("mixed_Case_Name", if i % 2 == 0 { "even" } else { "odd" }),
                ],
                s,
            );
        }
        // Many instances of one counter, for topk/bottomk/quantile over a wide vector.
        for i in 0..60 {
            let s = self.counter(5.0 + i as f64, false, 0.002);
            let inst = format!("shard-{i:03}");
            let zone = ["eu-1", "us-2", "ap-3"][i % 3];
            self.push(
                "shard_ops_total",
                &[("job", "shards"), ("instance", &inst), ("zone", zone)],
                s,
            );
        }
    }
}
