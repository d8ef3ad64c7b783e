//! The ring as the querier reads it: [`QuerierRing`] implements cortex-core's
//! [`IngesterRing`] over the latest snapshot of a [`RingClient`] (or a fixed [`Ring`]),
//! answering with the ring's read replication set for a tenant — the whole ring, or the
//! tenant's shuffle shard extended by the lookback period (Cortex's
//! `shuffle_sharding_ingesters_lookback_period`), so ingesters that joined the shard
//! recently do not hide the data older members still hold.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cortex_core::querier::QuerierError;
use cortex_core::querier::replicas::{IngesterRing, ReplicaInstance, ReplicaSet};

use crate::client::RingClient;
use crate::desc::Operation;
use crate::ring::Ring;

/// Where the snapshot comes from.
enum Source {
    Client(Arc<RingClient>),
    Fixed(Arc<Ring>),
}

/// The ingester ring for reads (see the module documentation).
pub struct QuerierRing {
    source: Source,
    lookback: Duration,
}

impl QuerierRing {
    /// Reads through the latest snapshot `client` holds; shuffle shards include the
    /// instances that joined within `lookback`.
    pub fn new(client: Arc<RingClient>, lookback: Duration) -> QuerierRing {
        QuerierRing {
            source: Source::Client(client),
            lookback,
        }
    }

    /// Reads through one fixed snapshot (tools and tests).
    pub fn fixed(ring: Arc<Ring>, lookback: Duration) -> QuerierRing {
        QuerierRing {
            source: Source::Fixed(ring),
            lookback,
        }
    }

    fn snapshot(&self) -> Arc<Ring> {
        match &self.source {
            Source::Client(c) => c.ring(),
            Source::Fixed(r) => Arc::clone(r),
        }
    }
}

impl IngesterRing for QuerierRing {
    fn read_replicas(&self, tenant: &str, shard_size: usize) -> Result<ReplicaSet, QuerierError> {
        let mut ring = self.snapshot();
        if shard_size > 0 {
            ring = ring.shuffle_shard_with_lookback(
                tenant,
                shard_size,
                self.lookback,
                SystemTime::now(),
            );
        }
        let set = ring
            .get_replication_set_for_operation(Operation::READ)
            .map_err(|e| QuerierError::Ring(e.to_string()))?;
        Ok(ReplicaSet {
            instances: set
                .instances
                .iter()
                .map(|i| ReplicaInstance {
                    id: i.id.clone(),
                    addr: i.desc.addr.clone(),
                    zone: i.desc.zone.clone(),
                })
                .collect(),
            max_errors: set.max_errors,
            max_unavailable_zones: set.max_unavailable_zones,
        })
    }
}
