//! The Cortex hash ring: instance descriptors, tokens, replication sets with quorum,
//! zone awareness, the lifecycler and KV backends.
//!
//! Wiring: build the configured store with [`kv::from_config`] (an [`InMemoryKv`], an
//! [`EtcdKv`] or a [`GossipKv`], shared as `Arc<dyn Kv>`, keys under `kvstore.prefix`),
//! start a [`Lifecycler`] for each ingester under [`INGESTER_RING_KEY`], and give the
//! distributor and querier a [`RingClient`] on the same key; they call
//! [`RingClient::get`] with a series' token to find its replicas. cortex-core's
//! distributor places writes through [`ring_source`] (its `WriteRing` on [`Ring`]), the
//! querier reads through [`QuerierRing`]. The HA tracker's elected replicas live in
//! a KV store too ([`ha`]). Store-gateways register under [`STORE_GATEWAY_RING_KEY`];
//! [`store_gateway`] says which of them load and serve each block.

pub mod client;
/// The ring's configuration (defined in `cortex-core`, where components' configs live).
pub mod config {
    pub use cortex_core::ring::config::*;
}
pub mod desc;
pub mod forget;
pub mod ha;
pub mod kv;
pub mod lifecycler;
mod md5;
pub mod quorum;
pub mod read;
pub mod replication;
pub mod ring;
pub mod shuffle;
mod spread;
pub mod store_gateway;
pub mod tokens;
pub mod write;

pub use client::{RingClient, RingClientError};
pub use config::{
    ConfigError, EtcdConfig, KvConfig, LifecyclerConfig, MemberlistConfig, RingConfig,
};
pub use desc::{Desc, InstanceDesc, InstanceState, Operation};
pub use forget::{auto_forget, forget};
pub use kv::etcd::EtcdKv;
pub use kv::gossip::{DescMerge, GossipKv, Merge, MergeRegistry};
pub use kv::memory::InMemoryKv;
pub use kv::prefixed::PrefixedKv;
pub use kv::{CasError, Kv, KvError, OpenedStore, StopSignal, from_config, open_store};
pub use lifecycler::{Lifecycler, LifecyclerError};
pub use read::QuerierRing;
pub use replication::{ReplicationSet, ReplicationStrategy, RingInstance};
pub use ring::{GetBuffers, Ring, RingError};
pub use store_gateway::{StoreGatewayReplicas, StoreGatewayRing, hash_block_id};
pub use tokens::TokenGenerator;
pub use write::{ring_source, sharded_ring_source};

/// The key Cortex stores the ingester ring under, below the KV prefix: with the default
/// prefix `collectors/` the store holds it as `collectors/ring`.
pub const INGESTER_RING_KEY: &str = "ring";

/// The key of the distributors' ring, below the KV prefix (Cortex's): distributors
/// register there so each knows how many share a tenant's global ingestion rate.
pub const DISTRIBUTOR_RING_KEY: &str = "distributor";

/// The key of the store-gateways' ring, below the KV prefix (Cortex's).
pub const STORE_GATEWAY_RING_KEY: &str = "store-gateway";
