//! Per-tenant ingestion rates, as Cortex keeps them for its `UserStats` answer: samples
//! stored are counted as they come, and every [`RATE_UPDATE_PERIOD`] the count becomes
//! an instant rate folded into an exponentially weighted moving average (weight
//! [`EWMA_ALPHA`] for the newest period). Samples pushed by the ruler are counted apart
//! from those pushed through the API ([`PushSource`]).
//!
//! This module does not decide when to tick: the ingester's loops do.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often rates are updated (Cortex's `ingester.rate-update-period` default).
pub const RATE_UPDATE_PERIOD: Duration = Duration::from_secs(15);

/// Weight of the newest period in the moving average (Cortex's).
pub const EWMA_ALPHA: f64 = 0.2;

/// Who sent a write request (Cortex's `WriteRequest.Source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PushSource {
    /// A remote-write client through the push API.
    #[default]
    Api,
    /// The ruler writing recording-rule results and alert series.
    Rule,
}

/// An exponentially weighted moving rate of events per second.
#[derive(Debug)]
pub struct EwmaRate {
    new_events: AtomicU64,
    interval: Duration,
    /// `None` until the first tick.
    rate: Mutex<Option<f64>>,
}

impl EwmaRate {
    /// A rate ticked every `interval`.
    pub fn new(interval: Duration) -> EwmaRate {
        EwmaRate {
            new_events: AtomicU64::new(0),
            interval,
            rate: Mutex::new(None),
        }
    }

    /// Counts `n` events.
    pub fn add(&self, n: u64) {
        self.new_events.fetch_add(n, Ordering::Relaxed);
    }

    /// Folds the events counted since the last tick into the rate. The first tick sets
    /// the rate to that period's rate.
    pub fn tick(&self) {
        let events = self.new_events.swap(0, Ordering::Relaxed);
        let secs = self.interval.as_secs_f64();
        let instant = if secs > 0.0 {
            events as f64 / secs
        } else {
            0.0
        };
        let mut rate = self.rate.lock().unwrap_or_else(|e| e.into_inner());
        *rate = Some(match *rate {
            Some(r) => r + EWMA_ALPHA * (instant - r),
            None => instant,
        });
    }

    /// Events per second as of the last tick (0 before the first).
    pub fn rate(&self) -> f64 {
        self.rate
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or(0.0)
    }
}

/// A tenant's API and rule ingestion rates.
#[derive(Debug)]
pub struct IngestionRates {
    /// Samples stored from API pushes.
    pub api: EwmaRate,
    /// Samples stored from the ruler.
    pub rule: EwmaRate,
}

impl Default for IngestionRates {
    fn default() -> Self {
        IngestionRates {
            api: EwmaRate::new(RATE_UPDATE_PERIOD),
            rule: EwmaRate::new(RATE_UPDATE_PERIOD),
        }
    }
}

impl IngestionRates {
    /// Counts `n` samples stored from `source`.
    pub fn add(&self, source: PushSource, n: u64) {
        match source {
            PushSource::Api => self.api.add(n),
            PushSource::Rule => self.rule.add(n),
        }
    }

    /// Ticks both rates.
    pub fn tick(&self) {
        self.api.tick();
        self.rule.tick();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_tick_sets_the_rate_and_later_ticks_average() {
        let r = EwmaRate::new(Duration::from_secs(10));
        assert_eq!(r.rate(), 0.0);
        r.add(100);
        r.tick();
        assert_eq!(r.rate(), 10.0);
        r.add(200);
        r.tick();
        // 10 + 0.2 * (20 - 10)
        assert!((r.rate() - 12.0).abs() < 1e-9);
        r.tick();
        // 12 + 0.2 * (0 - 12)
        assert!((r.rate() - 9.6).abs() < 1e-9);
    }

    #[test]
    fn sources_are_counted_apart() {
        let r = IngestionRates::default();
        r.add(PushSource::Api, 30);
        r.add(PushSource::Rule, 15);
        r.tick();
        assert_eq!(r.api.rate(), 2.0);
        assert_eq!(r.rule.rate(), 1.0);
    }
}
