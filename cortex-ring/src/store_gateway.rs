//! The store-gateway ring, as Cortex's store-gateways and queriers use it
//! (`pkg/storegateway/gateway_ring.go` and the querier's blocks-store replication
//! set): a block's key is [`hash_block_id`] of its ULID; its owners are the instances
//! of the replication set for [`BLOCKS_OWNER_SYNC`] (the store-gateways that load it)
//! and a querier reads it from the set for [`BLOCKS_READ`]. Both lookups use Cortex's
//! "ignore unhealthy instances" strategy ([`ReplicationStrategy::IgnoreUnhealthy`]):
//! a block needs one healthy replica, not a quorum. With shuffle sharding
//! (`store_gateway_tenant_shard_size` > 0) a tenant's blocks live on its subring only.
//!
//! [`StoreGatewayRing`] answers for one store-gateway ([`BlockOwnership`]: does this
//! instance load a block); [`StoreGatewayReplicas`] answers for queriers
//! ([`GatewayReplicas`]: where a block is served, and a client to reach it).

use std::sync::Arc;

use cortex_core::storegateway::{BlockOwnership, GatewayError, GatewayReplicas, StoreGatewayApi};
use cortex_tsdb::ulid::Ulid;

use crate::client::RingClient;
use crate::desc::{InstanceState, Operation};
use crate::replication::{ReplicationSet, ReplicationStrategy};
use crate::ring::{GetBuffers, Ring, RingError};

/// The operation deciding which store-gateways load (own) a block: JOINING, ACTIVE
/// and LEAVING instances, no extension (Cortex's `BlocksOwnerSync`).
pub const BLOCKS_OWNER_SYNC: Operation = Operation::new(
    &[
        InstanceState::JOINING,
        InstanceState::ACTIVE,
        InstanceState::LEAVING,
    ],
    &[],
);

/// The owners of a block that can serve queries: ACTIVE instances, no extension
/// (Cortex's `BlocksOwnerRead`). A store-gateway may drop a block it no longer owns
/// once this set is not empty.
pub const BLOCKS_OWNER_READ: Operation = Operation::new(&[InstanceState::ACTIVE], &[]);

/// The operation a querier reads a block with: only ACTIVE instances serve, and every
/// other state extends the set to the next instance, which keeps the blocks it owned
/// until the new owners are ACTIVE (Cortex's `BlocksRead`).
pub const BLOCKS_READ: Operation = Operation::new(
    &[InstanceState::ACTIVE],
    &[
        InstanceState::LEAVING,
        InstanceState::PENDING,
        InstanceState::JOINING,
        InstanceState::LEFT,
        InstanceState::READONLY,
    ],
);

/// A block's key in the ring: 32-bit FNV-1a over the ULID's 16 bytes (Cortex's
/// `HashBlockID`).
pub fn hash_block_id(id: Ulid) -> u32 {
    const OFFSET: u32 = 2_166_136_261;
    const PRIME: u32 = 16_777_619;
    id.0.to_be_bytes()
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u32::from(b)).wrapping_mul(PRIME))
}

/// A tenant's shard size (`store_gateway_tenant_shard_size`); 0 turns shuffle
/// sharding off for the tenant.
pub type ShardSizeFn = Arc<dyn Fn(&str) -> usize + Send + Sync>;

/// Makes (or hands out a pooled) client of the store-gateway at an address.
pub type ClientFactory = Arc<dyn Fn(&str) -> Arc<dyn StoreGatewayApi> + Send + Sync>;

/// Where ring snapshots come from.
enum Source {
    Client(Arc<RingClient>),
    Fixed(Arc<Ring>),
}

/// Block lookups on the latest snapshot, within a tenant's shard.
struct Lookup {
    source: Source,
    shard_size: ShardSizeFn,
}

impl Lookup {
    fn tenant_ring(&self, tenant: &str) -> Arc<Ring> {
        let ring = match &self.source {
            Source::Client(c) => c.ring(),
            Source::Fixed(r) => Arc::clone(r),
        };
        ring.shuffle_shard(tenant, (self.shard_size)(tenant))
    }

    fn get(&self, tenant: &str, block: Ulid, op: Operation) -> Result<ReplicationSet, RingError> {
        self.tenant_ring(tenant).get_with_strategy(
            hash_block_id(block),
            op,
            ReplicationStrategy::IgnoreUnhealthy,
            &mut GetBuffers::default(),
        )
    }
}

/// The store-gateway ring as one store-gateway sees it (see the module
/// documentation).
pub struct StoreGatewayRing {
    lookup: Lookup,
    instance_id: String,
}

impl StoreGatewayRing {
    /// The ring of `client`'s latest snapshot, for the store-gateway registered as
    /// `instance_id`, sharding tenants by `shard_size`.
    pub fn new(
        client: Arc<RingClient>,
        instance_id: &str,
        shard_size: ShardSizeFn,
    ) -> StoreGatewayRing {
        StoreGatewayRing {
            lookup: Lookup {
                source: Source::Client(client),
                shard_size,
            },
            instance_id: instance_id.to_string(),
        }
    }

    /// Like [`StoreGatewayRing::new`] over one fixed snapshot (tools and tests).
    pub fn fixed(ring: Arc<Ring>, instance_id: &str, shard_size: ShardSizeFn) -> StoreGatewayRing {
        StoreGatewayRing {
            lookup: Lookup {
                source: Source::Fixed(ring),
                shard_size,
            },
            instance_id: instance_id.to_string(),
        }
    }

    /// This store-gateway's instance ID.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// `tenant`'s subring: its shuffle shard, or the whole ring when its shard size is
    /// 0 or covers every instance.
    pub fn tenant_ring(&self, tenant: &str) -> Arc<Ring> {
        self.lookup.tenant_ring(tenant)
    }

    /// The store-gateways that load `block` of `tenant` ([`BLOCKS_OWNER_SYNC`]).
    pub fn owners(&self, tenant: &str, block: Ulid) -> Result<ReplicationSet, RingError> {
        self.lookup.get(tenant, block, BLOCKS_OWNER_SYNC)
    }

    /// True when at least one owner of `block` is ACTIVE ([`BLOCKS_OWNER_READ`]), so a
    /// store-gateway that no longer owns it may drop it without a gap for queries.
    pub fn has_active_owner(&self, tenant: &str, block: Ulid) -> bool {
        self.lookup.get(tenant, block, BLOCKS_OWNER_READ).is_ok()
    }

    /// The addresses to read `block` of `tenant` from ([`BLOCKS_READ`]), in ring order;
    /// an error when none is healthy.
    pub fn read_replicas(&self, tenant: &str, block: Ulid) -> Result<Vec<String>, RingError> {
        let set = self.lookup.get(tenant, block, BLOCKS_READ)?;
        Ok(set.instances.iter().map(|i| i.desc.addr.clone()).collect())
    }
}

impl BlockOwnership for StoreGatewayRing {
    /// True when this instance is among the block's owners. When the ring cannot
    /// answer (empty, no healthy owner) the block is not owned: a caller that wants to
    /// keep blocks already loaded through ring trouble checks [`StoreGatewayRing::owners`].
    fn owns(&self, tenant: &str, block: Ulid) -> bool {
        self.owners(tenant, block)
            .is_ok_and(|set| set.instances.iter().any(|i| i.id == self.instance_id))
    }
}

/// The store-gateway ring as queriers see it: where a block is served, and clients.
pub struct StoreGatewayReplicas {
    lookup: Lookup,
    clients: ClientFactory,
}

impl StoreGatewayReplicas {
    /// Replicas from `client`'s latest snapshot, tenants sharded by `shard_size`,
    /// store-gateways reached through `clients`.
    pub fn new(
        client: Arc<RingClient>,
        shard_size: ShardSizeFn,
        clients: ClientFactory,
    ) -> StoreGatewayReplicas {
        StoreGatewayReplicas {
            lookup: Lookup {
                source: Source::Client(client),
                shard_size,
            },
            clients,
        }
    }

    /// Like [`StoreGatewayReplicas::new`] over one fixed snapshot (tools and tests).
    pub fn fixed(
        ring: Arc<Ring>,
        shard_size: ShardSizeFn,
        clients: ClientFactory,
    ) -> StoreGatewayReplicas {
        StoreGatewayReplicas {
            lookup: Lookup {
                source: Source::Fixed(ring),
                shard_size,
            },
            clients,
        }
    }
}

impl GatewayReplicas for StoreGatewayReplicas {
    fn replicas(&self, tenant: &str, block: Ulid) -> Result<Vec<String>, GatewayError> {
        let set = self.lookup.get(tenant, block, BLOCKS_READ).map_err(|e| {
            GatewayError::Ring(format!(
                "failed to get store-gateway replication set owning the block {block}: {e}"
            ))
        })?;
        Ok(set.instances.iter().map(|i| i.desc.addr.clone()).collect())
    }

    fn client(&self, addr: &str) -> Arc<dyn StoreGatewayApi> {
        (self.clients)(addr)
    }
}

#[cfg(test)]
mod tests;
