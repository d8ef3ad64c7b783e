//! The ingester's view of the per-tenant limits: [`OverridesLimits`] answers the
//! ingester's [`TenantLimits`] from the runtime [`Overrides`], turning global
//! (cluster-wide) limits into this ingester's share as Cortex does:
//! `global * replication_factor / ingesters`, where `ingesters` is the healthy
//! ingesters of the ring (a count the server keeps current) or, for a tenant with a
//! shuffle shard, its shard size when that is smaller.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::ingester::{LimitValue, TenantLimits};
use crate::limits::Overrides;

/// [`TenantLimits`] over the runtime overrides.
#[derive(Clone)]
pub struct OverridesLimits {
    overrides: Arc<Overrides>,
    replication_factor: usize,
    ingesters: Arc<AtomicUsize>,
}

impl OverridesLimits {
    /// Limits for an ingester in a ring of `ingesters` healthy ingesters with
    /// `replication_factor` copies of every series (1 and 1 in single-binary mode).
    pub fn new(
        overrides: Arc<Overrides>,
        replication_factor: usize,
        ingesters: usize,
    ) -> OverridesLimits {
        OverridesLimits::with_ingester_count(
            overrides,
            replication_factor,
            Arc::new(AtomicUsize::new(ingesters)),
        )
    }

    /// Limits for an ingester in a ring whose healthy ingesters `ingesters` counts
    /// (kept current by the caller as instances come and go).
    pub fn with_ingester_count(
        overrides: Arc<Overrides>,
        replication_factor: usize,
        ingesters: Arc<AtomicUsize>,
    ) -> OverridesLimits {
        OverridesLimits {
            overrides,
            replication_factor: replication_factor.max(1),
            ingesters,
        }
    }

    fn value(&self, tenant_shard: usize, local: usize, global: usize) -> LimitValue {
        let mut ingesters = self.ingesters.load(Ordering::Relaxed).max(1);
        if tenant_shard > 0 {
            ingesters = ingesters.min(tenant_shard);
        }
        let share = if global == 0 {
            0
        } else {
            (global.saturating_mul(self.replication_factor) / ingesters).max(1)
        };
        let effective = match (local, share) {
            (0, s) => s,
            (l, 0) => l,
            (l, s) => l.min(s),
        };
        LimitValue {
            local,
            global,
            effective,
        }
    }
}

impl TenantLimits for OverridesLimits {
    fn max_series_per_user(&self, tenant: &str) -> LimitValue {
        let l = self.overrides.tenant(tenant);
        self.value(
            l.ingestion_tenant_shard_size,
            l.max_series_per_user,
            l.max_global_series_per_user,
        )
    }

    fn max_series_per_metric(&self, tenant: &str) -> LimitValue {
        let l = self.overrides.tenant(tenant);
        self.value(
            l.ingestion_tenant_shard_size,
            l.max_series_per_metric,
            l.max_global_series_per_metric,
        )
    }

    fn max_metadata_per_user(&self, tenant: &str) -> LimitValue {
        let l = self.overrides.tenant(tenant);
        self.value(
            l.ingestion_tenant_shard_size,
            l.max_metadata_per_user,
            l.max_global_metadata_per_user,
        )
    }

    fn max_metadata_per_metric(&self, tenant: &str) -> LimitValue {
        let l = self.overrides.tenant(tenant);
        self.value(
            l.ingestion_tenant_shard_size,
            l.max_metadata_per_metric,
            l.max_global_metadata_per_metric,
        )
    }

    fn out_of_order_time_window(&self, tenant: &str) -> Duration {
        self.overrides
            .tenant(tenant)
            .out_of_order_time_window
            .to_std()
    }

    fn max_exemplars(&self, tenant: &str) -> i64 {
        self.overrides.tenant(tenant).max_exemplars
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    #[test]
    fn global_limits_are_shared_over_the_ring() {
        let limits = Limits {
            max_series_per_user: 1000,
            max_global_series_per_user: 300,
            max_series_per_metric: 0,
            max_global_series_per_metric: 10,
            ..Limits::default()
        };
        let o = Arc::new(Overrides::new(limits));
        let l = OverridesLimits::new(o.clone(), 3, 9);
        assert_eq!(l.max_series_per_user("t").effective, 100);
        assert_eq!(l.max_series_per_user("t").configured(), 300);
        assert_eq!(l.max_series_per_metric("t").effective, 3);
        // The count follows the ring; a tenant's shard caps it.
        let count = Arc::new(AtomicUsize::new(30));
        let l = OverridesLimits::with_ingester_count(o.clone(), 3, count.clone());
        assert_eq!(l.max_series_per_user("t").effective, 30);
        count.store(3, Ordering::Relaxed);
        assert_eq!(l.max_series_per_user("t").effective, 300);
        let sharded = Arc::new(Overrides::new(Limits {
            max_global_series_per_user: 300,
            ingestion_tenant_shard_size: 6,
            ..Limits::default()
        }));
        let l = OverridesLimits::with_ingester_count(sharded, 3, Arc::new(AtomicUsize::new(30)));
        assert_eq!(l.max_series_per_user("t").effective, 150);
        let single = OverridesLimits::new(o, 1, 1);
        assert_eq!(single.max_series_per_user("t").effective, 300);
        assert_eq!(single.max_metadata_per_user("t"), LimitValue::local(8000));
    }
}
