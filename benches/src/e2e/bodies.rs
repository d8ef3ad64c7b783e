//! Remote write 1.0 request bodies of a [`Workload`]: which sender carries which series
//! (by a hash of the series, so each series always goes through the same sender and stays
//! in order), timestamps of each round, and the snappy-compressed `WriteRequest`s of up to
//! `batch` series, one sample each, in round order.

use cortex_core::remote_write::{Label, Sample, TimeSeries, WriteRequest, compress, encode_v1};

use super::workload::{TargetLabels, Workload, mix};

/// One request body, ready to send.
#[derive(Debug, Clone)]
pub struct Body {
    /// Snappy-compressed `prometheus.WriteRequest`.
    pub bytes: Vec<u8>,
    /// Samples in the request.
    pub samples: u64,
}

/// Builds the bodies one sender sends, round by round.
pub struct BodyBuilder<'w> {
    workload: &'w Workload,
    sender: usize,
    senders: usize,
    batch: usize,
    /// Timestamp (ms) of round 0, before each target's offset.
    base_ms: i64,
    /// Each target's labels and the generation they are for.
    targets: Vec<Option<(u32, TargetLabels)>>,
    raw: Vec<u8>,
}

impl<'w> BodyBuilder<'w> {
    /// A builder for sender `sender` of `senders`, with at most `batch` series per request
    /// and round 0 scraped at `base_ms` (each target adds its own offset within the interval).
    pub fn new(
        workload: &'w Workload,
        sender: usize,
        senders: usize,
        batch: usize,
        base_ms: i64,
    ) -> BodyBuilder<'w> {
        BodyBuilder {
            workload,
            sender,
            senders: senders.max(1),
            batch: batch.max(1),
            base_ms,
            targets: vec![None; workload.targets()],
            raw: Vec::new(),
        }
    }

    /// The scrape timestamp of target `t` at `round`: a fixed offset within the interval
    /// plus a few milliseconds of jitter, as real scrapes have.
    pub fn timestamp(&self, t: usize, round: usize) -> i64 {
        let interval = self.workload.spec().interval_ms;
        let offset = (mix(t as u64, 17) % interval.max(1) as u64) as i64;
        let jitter = (mix(t as u64, round as u64) % 5) as i64;
        self.base_ms + round as i64 * interval + offset.min(interval - 5).max(0) + jitter
    }

    /// Calls `emit` with each body of `round` for this sender, in order.
    pub fn round(&mut self, round: usize, mut emit: impl FnMut(Body)) {
        let w = self.workload;
        for t in 0..w.targets() {
            let generation = w.generation(t, round);
            let slot = &mut self.targets[t];
            if slot.as_ref().is_none_or(|(g, _)| *g != generation) {
                *slot = Some((generation, w.target_labels(t, generation)));
            }
        }
        let mut series: Vec<TimeSeries<'_>> = Vec::with_capacity(self.batch);
        for (t, slot) in self.targets.iter().enumerate() {
            let Some((generation, labels)) = slot else {
                continue;
            };
            let ts = self.timestamp(t, round);
            for i in 0..w.target_series(t) {
                let key = w.series_key(t, *generation, i);
                if (key % self.senders as u64) as usize != self.sender {
                    continue;
                }
                series.push(TimeSeries {
                    labels: w
                        .series_labels(labels, i)
                        .into_iter()
                        .map(|(name, value)| Label { name, value })
                        .collect(),
                    samples: vec![Sample {
                        timestamp: ts,
                        value: w.value(t, *generation, i, round),
                    }]
                    .into(),
                    ..Default::default()
                });
                if series.len() == self.batch {
                    emit(encode(&mut self.raw, &mut series));
                }
            }
        }
        if !series.is_empty() {
            emit(encode(&mut self.raw, &mut series));
        }
    }
}

/// Encodes and compresses `series` (emptied) into one body.
fn encode(raw: &mut Vec<u8>, series: &mut Vec<TimeSeries<'_>>) -> Body {
    let samples = series.iter().map(|s| s.samples.len() as u64).sum();
    let req = WriteRequest {
        timeseries: std::mem::take(series),
        ..Default::default()
    };
    raw.clear();
    encode_v1(&req, raw);
    let mut bytes = Vec::new();
    compress(raw, &mut bytes);
    Body { bytes, samples }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::e2e::workload::Spec;
    use cortex_core::remote_write::body::decompress;
    use cortex_core::remote_write::decode_v1;

    #[test]
    fn senders_split_every_series_exactly_once() {
        let w = Workload::new(Spec {
            series: 3000,
            metrics: 20,
            rounds: 2,
            interval_ms: 15_000,
            churn_fraction: 0.0,
            churn_every: 0,
        })
        .unwrap();
        let mut total = 0;
        for s in 0..3 {
            let mut b = BodyBuilder::new(&w, s, 3, 500, 1_000_000);
            b.round(1, |body| {
                assert!(body.samples <= 500);
                let mut raw = Vec::new();
                let raw = decompress(&body.bytes, 1 << 30, &mut raw).unwrap();
                let req = decode_v1(raw).unwrap();
                assert_eq!(req.timeseries.len() as u64, body.samples);
                total += body.samples;
            });
        }
        assert_eq!(total, 3000);
    }
}
