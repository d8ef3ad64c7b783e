//! Cortex's `store_gateway:` block: whether blocks are sharded across store-gateways,
//! and the store-gateway ring they register in (kept in the same KV store as the
//! ingester ring, under its own key).

use cortex_core::ingester::duration::GoDuration;
use cortex_core::limits::Duration;
use cortex_core::storage::metadata_cache::MetadataCacheConfig;
use serde::{Deserialize, Serialize};

/// `store_gateway:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreGatewayConfig {
    /// `sharding_enabled`: blocks are spread over the store-gateways by the ring (each
    /// block on `replication_factor` of them). Off: every store-gateway loads every
    /// block. The single binary always serves all blocks from its own store-gateway.
    pub sharding_enabled: bool,
    /// `sharding_strategy`: `default` (every tenant over all store-gateways) or
    /// `shuffle-sharding` (each tenant over `store_gateway_tenant_shard_size` of them).
    pub sharding_strategy: String,
    /// `sharding_ring`: the ring.
    pub sharding_ring: StoreGatewayRingConfig,
}

impl Default for StoreGatewayConfig {
    fn default() -> Self {
        StoreGatewayConfig {
            sharding_enabled: true,
            sharding_strategy: "default".into(),
            sharding_ring: StoreGatewayRingConfig::default(),
        }
    }
}

/// `store_gateway.sharding_ring:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreGatewayRingConfig {
    /// `replication_factor`: store-gateways holding each block. Default 3.
    pub replication_factor: usize,
    /// `heartbeat_period`: how often the instance refreshes its ring entry.
    pub heartbeat_period: Duration,
    /// `heartbeat_timeout`: an instance whose entry is older is unhealthy.
    pub heartbeat_timeout: Duration,
    /// `zone_awareness_enabled`: a block's replicas go to distinct zones.
    pub zone_awareness_enabled: bool,
    /// `instance_availability_zone`: this instance's zone.
    pub instance_availability_zone: String,
    /// `instance_id`: the ID in the ring (default: the hostname, then the ingester ID).
    pub instance_id: String,
    /// `instance_addr`: the address others reach this instance's gRPC port at.
    pub instance_addr: String,
    /// `num_tokens`: tokens per instance. Default 512, as Cortex's.
    pub num_tokens: usize,
}

impl Default for StoreGatewayRingConfig {
    fn default() -> Self {
        StoreGatewayRingConfig {
            replication_factor: 3,
            heartbeat_period: Duration::from_secs(15),
            heartbeat_timeout: Duration::from_secs(60),
            zone_awareness_enabled: false,
            instance_availability_zone: String::new(),
            instance_id: String::new(),
            instance_addr: String::new(),
            num_tokens: 512,
        }
    }
}

impl StoreGatewayConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !["default", "shuffle-sharding"].contains(&self.sharding_strategy.as_str()) {
            return Err((
                "store_gateway.sharding_strategy".into(),
                format!(
                    "unknown strategy {:?} (default, shuffle-sharding)",
                    self.sharding_strategy
                ),
            ));
        }
        let r = &self.sharding_ring;
        if r.replication_factor == 0 {
            return Err((
                "store_gateway.sharding_ring.replication_factor".into(),
                "must be more than 0".into(),
            ));
        }
        if r.num_tokens == 0 {
            return Err((
                "store_gateway.sharding_ring.num_tokens".into(),
                "must be more than 0".into(),
            ));
        }
        if r.heartbeat_timeout.to_std().is_zero() {
            return Err((
                "store_gateway.sharding_ring.heartbeat_timeout".into(),
                "must be more than 0".into(),
            ));
        }
        Ok(())
    }
}

/// `blocks_storage.bucket_store.metadata_cache:` the cache of bucket listings,
/// `meta.json` files and bucket indexes: a cache backend and how long each kind of
/// item is kept (Cortex's option names and defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetadataCacheOptions {
    /// `backend`: `""` (none, default), `inmemory` or `memcached`.
    pub backend: cortex_core::cache::CacheBackend,
    /// `inmemory`: the in-process cache.
    pub inmemory: cortex_core::cache::InMemoryConfig,
    /// `memcached`: the memcached client.
    pub memcached: cortex_core::cache::MemcachedConfig,
    /// `tenants_list_ttl`.
    pub tenants_list_ttl: Duration,
    /// `tenant_blocks_list_ttl`.
    pub tenant_blocks_list_ttl: Duration,
    /// `chunks_list_ttl`.
    pub chunks_list_ttl: Duration,
    /// `metafile_exists_ttl`.
    pub metafile_exists_ttl: Duration,
    /// `metafile_doesnt_exist_ttl`.
    pub metafile_doesnt_exist_ttl: Duration,
    /// `metafile_content_ttl`.
    pub metafile_content_ttl: Duration,
    /// `metafile_max_size_bytes`.
    pub metafile_max_size_bytes: u64,
    /// `block_index_attributes_ttl`.
    pub block_index_attributes_ttl: Duration,
    /// `bucket_index_content_ttl`.
    pub bucket_index_content_ttl: Duration,
    /// `bucket_index_max_size_bytes`.
    pub bucket_index_max_size_bytes: u64,
}

impl Default for MetadataCacheOptions {
    fn default() -> Self {
        let t = MetadataCacheConfig::default();
        MetadataCacheOptions {
            backend: Default::default(),
            inmemory: Default::default(),
            memcached: Default::default(),
            tenants_list_ttl: Duration::from(t.tenants_list_ttl.0),
            tenant_blocks_list_ttl: Duration::from(t.tenant_blocks_list_ttl.0),
            chunks_list_ttl: Duration::from(t.chunks_list_ttl.0),
            metafile_exists_ttl: Duration::from(t.metafile_exists_ttl.0),
            metafile_doesnt_exist_ttl: Duration::from(t.metafile_doesnt_exist_ttl.0),
            metafile_content_ttl: Duration::from(t.metafile_content_ttl.0),
            metafile_max_size_bytes: t.metafile_max_size_bytes,
            block_index_attributes_ttl: Duration::from(t.block_index_attributes_ttl.0),
            bucket_index_content_ttl: Duration::from(t.bucket_index_content_ttl.0),
            bucket_index_max_size_bytes: t.bucket_index_max_size_bytes,
        }
    }
}

impl MetadataCacheOptions {
    /// The cache backend part.
    pub fn cache_config(&self) -> cortex_core::cache::CacheConfig {
        cortex_core::cache::CacheConfig {
            backend: self.backend,
            inmemory: self.inmemory.clone(),
            memcached: self.memcached.clone(),
        }
    }

    /// The time-to-live part.
    pub fn ttls(&self) -> MetadataCacheConfig {
        MetadataCacheConfig {
            tenants_list_ttl: GoDuration(self.tenants_list_ttl.to_std()),
            tenant_blocks_list_ttl: GoDuration(self.tenant_blocks_list_ttl.to_std()),
            chunks_list_ttl: GoDuration(self.chunks_list_ttl.to_std()),
            metafile_exists_ttl: GoDuration(self.metafile_exists_ttl.to_std()),
            metafile_doesnt_exist_ttl: GoDuration(self.metafile_doesnt_exist_ttl.to_std()),
            metafile_content_ttl: GoDuration(self.metafile_content_ttl.to_std()),
            metafile_max_size_bytes: self.metafile_max_size_bytes,
            block_index_attributes_ttl: GoDuration(self.block_index_attributes_ttl.to_std()),
            bucket_index_content_ttl: GoDuration(self.bucket_index_content_ttl.to_std()),
            bucket_index_max_size_bytes: self.bucket_index_max_size_bytes,
        }
    }
}
