//! Active series of one tenant: the series that received a sample within the idle
//! timeout (`ingester.active_series_metrics_idle_timeout`), reported as
//! `cortex_ingester_active_series{user}`. Series are remembered by their labels' stable
//! hash with the time of their last sample, in a few independently locked stripes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

const STRIPES: usize = 16;

/// The active series of one tenant.
#[derive(Debug)]
pub struct ActiveSeries {
    stripes: Vec<Mutex<HashMap<u64, Instant>>>,
}

impl Default for ActiveSeries {
    fn default() -> Self {
        ActiveSeries {
            stripes: (0..STRIPES).map(|_| Mutex::default()).collect(),
        }
    }
}

impl ActiveSeries {
    fn stripe(&self, hash: u64) -> &Mutex<HashMap<u64, Instant>> {
        &self.stripes[(hash as usize) % STRIPES]
    }

    /// Marks the series with labels hash `hash` as updated at `now`.
    pub fn update(&self, hash: u64, now: Instant) {
        self.stripe(hash)
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(hash, now);
    }

    /// Forgets series last updated before `deadline`; returns how many remain.
    pub fn purge(&self, deadline: Instant) -> usize {
        let mut n = 0;
        for s in &self.stripes {
            let mut m = s.lock().unwrap_or_else(|e| e.into_inner());
            m.retain(|_, t| *t >= deadline);
            n += m.len();
        }
        n
    }

    /// How many series are remembered (active as of the last purge, plus any updated
    /// since).
    pub fn len(&self) -> usize {
        self.stripes
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// True when no series is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn counts_series_updated_since_the_deadline() {
        let a = ActiveSeries::default();
        let t0 = Instant::now();
        a.update(1, t0);
        a.update(2, t0);
        a.update(1, t0 + Duration::from_secs(10));
        a.update(17, t0 + Duration::from_secs(10));
        assert_eq!(a.len(), 3);
        assert_eq!(a.purge(t0), 3);
        assert_eq!(a.purge(t0 + Duration::from_secs(5)), 2);
        assert_eq!(a.purge(t0 + Duration::from_secs(11)), 0);
    }
}
