//! Synthetic data for PromQL benches: counters and classic histograms scraped at a
//! fixed interval, held in a [`MemoryQuerier`].

use cortex_core::querier::memory::MemoryQuerier;
use cortex_core::querier::{Sample, SampleValue};
use cortex_tsdb::labels::Labels;

/// Scrape interval of the generated series (ms).
pub const SCRAPE_MS: i64 = 15_000;

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn counter_samples(rng: &mut Rng, from: i64, to: i64) -> Vec<Sample> {
    let mut v = 0.0;
    let mut out = Vec::with_capacity(((to - from) / SCRAPE_MS) as usize + 1);
    let mut t = from;
    while t <= to {
        v += (rng.next() % 100) as f64;
        out.push(Sample {
            t,
            st: 0,
            value: SampleValue::Float(v),
        });
        t += SCRAPE_MS;
    }
    out
}

/// `series` counters named `name`, spread over 10 `job`s and 10 `instance`s per
/// series block, with samples every [`SCRAPE_MS`] from `from` to `to` (ms).
pub fn counters(name: &str, series: usize, from: i64, to: i64) -> MemoryQuerier {
    let mut q = MemoryQuerier::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..series {
        let labels = Labels::from_pairs([
            ("__name__", name.to_string()),
            ("job", format!("job-{}", i % 10)),
            ("instance", format!("host-{i}")),
        ])
        .unwrap_or_default();
        q.set_series(&labels, counter_samples(&mut rng, from, to));
    }
    q
}

/// Bucket bounds of the generated classic histograms.
pub const BOUNDS: [&str; 11] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf",
];

/// `histograms` classic histograms named `name` (`name_bucket` series with one `le`
/// per [`BOUNDS`] entry), with cumulative bucket counters.
pub fn classic_histograms(name: &str, histograms: usize, from: i64, to: i64) -> MemoryQuerier {
    let mut q = MemoryQuerier::new();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let steps = ((to - from) / SCRAPE_MS) as usize + 1;
    for i in 0..histograms {
        // Per scrape: observations land in buckets; buckets are cumulative.
        let mut cum = vec![Vec::with_capacity(steps); BOUNDS.len()];
        let mut totals = vec![0.0; BOUNDS.len()];
        for _ in 0..steps {
            let mut below = 0.0;
            for (total, series) in totals.iter_mut().zip(cum.iter_mut()) {
                below += (rng.next() % 5) as f64;
                *total += below;
                series.push(*total);
            }
        }
        for (b, le) in BOUNDS.iter().enumerate() {
            let labels = Labels::from_pairs([
                ("__name__", format!("{name}_bucket")),
                ("job", format!("job-{}", i % 10)),
                ("instance", format!("host-{i}")),
                ("le", (*le).to_string()),
            ])
            .unwrap_or_default();
            let samples = cum[b]
                .iter()
                .enumerate()
                .map(|(s, v)| Sample {
                    t: from + s as i64 * SCRAPE_MS,
                    st: 0,
                    value: SampleValue::Float(*v),
                })
                .collect();
            q.set_series(&labels, samples);
        }
    }
    q
}
