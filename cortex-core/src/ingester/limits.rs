//! The per-tenant limits the ingester enforces, behind a small trait so that the
//! server can answer them from the real `limits` configuration (with runtime overrides
//! and global limits divided by the ring), and tests from a plain struct.
//!
//! A limit of 0 means unlimited, as in Cortex.

use std::time::Duration;

/// One limit as Cortex reports it in its error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LimitValue {
    /// The configured per-ingester limit (0 = none).
    pub local: usize,
    /// The configured cluster-wide limit (0 = none).
    pub global: usize,
    /// The limit this ingester enforces (the local limit, or the global limit's share
    /// of this ingester, whichever is smaller; 0 = none).
    pub effective: usize,
}

impl LimitValue {
    /// A local limit alone (no global limit).
    pub fn local(n: usize) -> LimitValue {
        LimitValue {
            local: n,
            global: 0,
            effective: n,
        }
    }

    /// True when `current` entries already reach the limit, so one more is refused.
    pub fn reached(&self, current: usize) -> bool {
        self.effective > 0 && current >= self.effective
    }

    /// The limit named first in Cortex's messages: the smaller non-zero of local and
    /// global.
    pub fn configured(&self) -> usize {
        match (self.local, self.global) {
            (0, g) => g,
            (l, 0) => l,
            (l, g) => l.min(g),
        }
    }
}

/// The limits of one tenant, as the ingester needs them.
pub trait TenantLimits: Send + Sync {
    /// Series in one tenant's TSDB (`max_series_per_user` / `max_global_series_per_user`).
    fn max_series_per_user(&self, tenant: &str) -> LimitValue;
    /// Series of one metric name (`max_series_per_metric` / `max_global_series_per_metric`).
    fn max_series_per_metric(&self, tenant: &str) -> LimitValue;
    /// Metric names with metadata (`max_metadata_per_user` /
    /// `max_global_metadata_per_user`).
    fn max_metadata_per_user(&self, tenant: &str) -> LimitValue;
    /// Distinct metadata of one metric name (`max_metadata_per_metric` /
    /// `max_global_metadata_per_metric`).
    fn max_metadata_per_metric(&self, tenant: &str) -> LimitValue;
    /// How far behind a series' newest sample a sample is still accepted
    /// (`out_of_order_time_window`); read when the tenant's TSDB is opened.
    fn out_of_order_time_window(&self, tenant: &str) -> Duration;
    /// The tenant's `max_exemplars` limit: above 0 the number of exemplars kept, 0 to use
    /// `blocks_storage.tsdb.max_exemplars`, below 0 none (Cortex's rule).
    fn max_exemplars(&self, _tenant: &str) -> i64 {
        0
    }
}

/// The same local limits for every tenant, with Cortex's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticLimits {
    /// `max_series_per_user`.
    pub max_series_per_user: usize,
    /// `max_series_per_metric`.
    pub max_series_per_metric: usize,
    /// `max_metadata_per_user`.
    pub max_metadata_per_user: usize,
    /// `max_metadata_per_metric`.
    pub max_metadata_per_metric: usize,
    /// `out_of_order_time_window`.
    pub out_of_order_time_window: Duration,
}

impl Default for StaticLimits {
    fn default() -> Self {
        StaticLimits {
            max_series_per_user: 5_000_000,
            max_series_per_metric: 50_000,
            max_metadata_per_user: 8_000,
            max_metadata_per_metric: 10,
            out_of_order_time_window: Duration::ZERO,
        }
    }
}

impl TenantLimits for StaticLimits {
    fn max_series_per_user(&self, _: &str) -> LimitValue {
        LimitValue::local(self.max_series_per_user)
    }
    fn max_series_per_metric(&self, _: &str) -> LimitValue {
        LimitValue::local(self.max_series_per_metric)
    }
    fn max_metadata_per_user(&self, _: &str) -> LimitValue {
        LimitValue::local(self.max_metadata_per_user)
    }
    fn max_metadata_per_metric(&self, _: &str) -> LimitValue {
        LimitValue::local(self.max_metadata_per_metric)
    }
    fn out_of_order_time_window(&self, _: &str) -> Duration {
        self.out_of_order_time_window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_unlimited_and_configured_is_smallest_non_zero() {
        assert!(!LimitValue::local(0).reached(usize::MAX));
        assert!(LimitValue::local(2).reached(2));
        assert!(!LimitValue::local(2).reached(1));
        let l = LimitValue {
            local: 10,
            global: 4,
            effective: 2,
        };
        assert_eq!(l.configured(), 4);
        assert_eq!(
            LimitValue {
                local: 0,
                global: 7,
                effective: 3
            }
            .configured(),
            7
        );
    }
}
