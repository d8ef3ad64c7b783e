//! Building the store-gateway of a cluster and the querier's view of the
//! store-gateways: the bucket as both read it (behind the metadata cache when one is
//! configured), the store-gateway ring (its own key in the ingester ring's KV store),
//! the store-gateway's registration there, the blocks it owns, its caches, its sync
//! and unload loops, and a watch that resyncs when the ring changes. Also the single
//! binary's store-gateway, which serves every block in this process without a ring
//! ([`start_local_store_gateway`], [`in_process_replicas`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cortex_core::cache::{CacheConfig, open_cache};
use cortex_core::limits::Overrides;
use cortex_core::querier::blocks_store::BlocksStoreConfig;
use cortex_core::ring::config::{LifecyclerConfig, RingConfig};
use cortex_core::storage::metadata_cache::MetadataCachingStore;
use cortex_core::storage::{BlockStore, BucketIndexConfig};
use cortex_core::storegateway::caching_range::HitsMisses;
use cortex_core::storegateway::caching_range::{CachingRange, CachingRangeConfig};
use cortex_core::storegateway::gateway::{GatewayLoops, StoreGateway, StoreGatewayConfig};
use cortex_core::storegateway::{
    BlockOwnership, BlockSetConfig, GatewayReplicas, InProcessReplicas, OwnsAll, StoreGatewayApi,
};
use cortex_ring::store_gateway::{ShardSizeFn, StoreGatewayReplicas, StoreGatewayRing};
use cortex_ring::{InstanceState, Kv, Lifecycler, RingClient, STORE_GATEWAY_RING_KEY};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use super::components::open_bucket;
use super::{ServerError, blocking};
use crate::config::Config;
use crate::storegateway_rpc::{StoreGatewayClientConfig, StoreGatewayPool};

/// How often the store-gateway looks for ring changes that move blocks (Cortex's
/// ring check period).
const RING_CHECK_PERIOD: Duration = Duration::from_secs(5);

/// A running store-gateway and what runs beside it.
pub(crate) struct StoreGatewayParts {
    /// The store-gateway.
    pub gateway: Arc<StoreGateway>,
    /// Its postings/series/chunks cache, for its counters.
    pub cache: Arc<CachingRange>,
    loops: Mutex<Option<GatewayLoops>>,
    lifecycler: Mutex<Option<Lifecycler>>,
    watch: Option<JoinHandle<()>>,
}

impl StoreGatewayParts {
    /// The store-gateway as its gRPC service answers from it.
    pub(crate) fn api(&self) -> Arc<dyn StoreGatewayApi> {
        self.gateway.clone()
    }

    /// Stops the loops and leaves the ring.
    pub(crate) async fn stop(&self) -> Result<(), ServerError> {
        if let Some(w) = &self.watch {
            w.abort();
        }
        let loops = self.loops.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(l) = loops {
            l.stop().await;
        }
        let lc = self
            .lifecycler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(lc) = lc {
            blocking(move || Ok(lc.leave()?)).await?;
        }
        Ok(())
    }
}

/// The bucket as store-gateways and queriers read it: behind the metadata cache when
/// `blocks_storage.bucket_store.metadata_cache.backend` is set.
pub(crate) fn reading_bucket(config: &Config) -> Result<Arc<dyn BlockStore>, ServerError> {
    let store = open_bucket(config)?.block_store().clone();
    let meta = &config.blocks_storage.bucket_store.metadata_cache;
    Ok(
        match open_cache(&meta.cache_config(), "metadata-cache").map_err(cache_error)? {
            Some(cache) => Arc::new(MetadataCachingStore::new(store, cache, meta.ttls())),
            None => store,
        },
    )
}

/// A cache that could not be opened, as a server error.
pub(crate) fn cache_error(e: cortex_core::cache::CacheError) -> ServerError {
    ServerError::Serve(std::io::Error::other(e))
}

/// The store-gateway ring's lookup settings: the ingester ring's KV store with the
/// store-gateway ring's replication factor, heartbeat timeout and zone awareness.
pub(crate) fn ring_config(config: &Config) -> RingConfig {
    let r = &config.store_gateway.sharding_ring;
    let mut ring = config.ingester.lifecycler.ring.clone();
    ring.replication_factor = r.replication_factor;
    ring.heartbeat_timeout = r.heartbeat_timeout;
    ring.zone_awareness_enabled = r.zone_awareness_enabled;
    ring.excluded_zones.clear();
    ring
}

/// Starts watching the store-gateway ring.
pub(crate) async fn ring_client(
    config: &Config,
    kv: &Arc<dyn Kv>,
) -> Result<Arc<RingClient>, ServerError> {
    let (kv, cfg) = (kv.clone(), ring_config(config));
    let client = blocking(move || Ok(RingClient::start(kv, STORE_GATEWAY_RING_KEY, cfg)?)).await?;
    Ok(Arc::new(client))
}

/// A tenant's store-gateway shard size from `store_gateway_tenant_shard_size` under
/// shuffle sharding (a value below 1 is a fraction of the store-gateways), else 0.
fn shard_size(config: &Config, overrides: &Arc<Overrides>, ring: &Arc<RingClient>) -> ShardSizeFn {
    let shuffle = config.store_gateway.sharding_strategy == "shuffle-sharding";
    let (overrides, ring) = (overrides.clone(), ring.clone());
    Arc::new(move |tenant: &str| {
        if !shuffle {
            return 0;
        }
        let v = overrides.tenant(tenant).store_gateway_tenant_shard_size;
        if v <= 0.0 {
            0
        } else if v < 1.0 {
            (v * ring.ring().instances_count() as f64).ceil() as usize
        } else {
            v as usize
        }
    })
}

fn lifecycler_config(config: &Config, grpc_port: u16) -> LifecyclerConfig {
    let r = &config.store_gateway.sharding_ring;
    let ingester = &config.ingester.lifecycler;
    let defaults = LifecyclerConfig::default();
    LifecyclerConfig {
        ring: ring_config(config),
        num_tokens: r.num_tokens,
        heartbeat_period: r.heartbeat_period,
        final_sleep: cortex_core::limits::Duration::ZERO,
        availability_zone: r.instance_availability_zone.clone(),
        address: if r.instance_addr.is_empty() {
            ingester.address.clone()
        } else {
            r.instance_addr.clone()
        },
        port: 0,
        id: if r.instance_id.is_empty() {
            defaults.id.clone()
        } else {
            r.instance_id.clone()
        },
        listen_port: grpc_port,
        ..defaults
    }
}

/// The `blocks_storage.bucket_store` settings a store-gateway holds blocks with.
pub(super) fn gateway_config(config: &Config) -> StoreGatewayConfig {
    let b = &config.blocks_storage.bucket_store;
    StoreGatewayConfig {
        block_set: BlockSetConfig {
            sync_dir: b.sync_dir.clone(),
            idle_timeout: b.index_header_lazy_loading_idle_timeout.to_std(),
            bucket_index: bucket_index_config(config),
            ..BlockSetConfig::default()
        },
        sync_interval: b.sync_interval.to_std(),
        ignore_deletion_mark_delay: b.ignore_deletion_mark_delay.to_std(),
        ..StoreGatewayConfig::default()
    }
}

/// How bucket indexes are read.
pub(crate) fn bucket_index_config(config: &Config) -> BucketIndexConfig {
    BucketIndexConfig {
        max_stale_period: cortex_core::ingester::duration::GoDuration(
            config
                .blocks_storage
                .bucket_store
                .bucket_index
                .max_stale_period
                .to_std(),
        ),
    }
}

/// The querier's consistency-check settings.
pub(crate) fn blocks_store_config(config: &Config) -> BlocksStoreConfig {
    let b = &config.blocks_storage.bucket_store;
    BlocksStoreConfig::from_bucket_store(
        b.consistency_delay.to_std(),
        b.sync_interval.to_std(),
        b.ignore_deletion_mark_delay.to_std(),
    )
}

fn open_optional_cache(
    cfg: &CacheConfig,
    name: &str,
) -> Result<Option<Arc<dyn cortex_core::cache::Cache>>, ServerError> {
    open_cache(cfg, name).map_err(cache_error)
}

/// A store-gateway over the bucket (behind the metadata cache when configured) with
/// its postings/series/chunks caches, serving the blocks `ownership` gives it. Its
/// loops are not started.
fn build_gateway(
    config: &Config,
    ownership: Arc<dyn BlockOwnership>,
) -> Result<(Arc<StoreGateway>, Arc<CachingRange>), ServerError> {
    let store = reading_bucket(config)?;
    let b = &config.blocks_storage.bucket_store;
    let cache = Arc::new(CachingRange::new(
        open_optional_cache(&b.index_cache, "index-cache")?,
        open_optional_cache(&b.chunks_cache, "chunks-cache")?,
        CachingRangeConfig::default(),
    ));
    let gateway = Arc::new(StoreGateway::new(
        store,
        gateway_config(config),
        ownership,
        cache.clone(),
    ));
    Ok((gateway, cache))
}

/// Registers a store-gateway in the store-gateway ring, opens its caches and starts
/// its loops: with sharding it loads the blocks the ring gives it, else every block.
pub(crate) async fn start_store_gateway(
    config: &Config,
    overrides: &Arc<Overrides>,
    kv: &Arc<dyn Kv>,
    ring: &Arc<RingClient>,
    grpc_port: u16,
) -> Result<StoreGatewayParts, ServerError> {
    let lc_cfg = lifecycler_config(config, grpc_port);
    let id = lc_cfg.id.clone();
    let ownership: Arc<dyn BlockOwnership> = if config.store_gateway.sharding_enabled {
        Arc::new(StoreGatewayRing::new(
            ring.clone(),
            &id,
            shard_size(config, overrides, ring),
        ))
    } else {
        Arc::new(OwnsAll)
    };
    let (gateway, cache) = build_gateway(config, ownership)?;
    let kv = kv.clone();
    let lifecycler =
        blocking(move || Ok(Lifecycler::start(lc_cfg, kv, STORE_GATEWAY_RING_KEY)?)).await?;
    let loops = gateway.spawn_loops(&Handle::current());
    let watch = config.store_gateway.sharding_enabled.then(|| {
        spawn_ring_watch(
            gateway.clone(),
            ring.clone(),
            config
                .store_gateway
                .sharding_ring
                .heartbeat_timeout
                .to_std(),
        )
    });
    Ok(StoreGatewayParts {
        gateway,
        cache,
        loops: Mutex::new(Some(loops)),
        lifecycler: Mutex::new(Some(lifecycler)),
        watch,
    })
}

/// Starts the single binary's store-gateway: every block of every tenant, no ring.
/// Its first sync is done before this returns, so queries find the bucket's blocks
/// from the start; a bucket that cannot be listed fails the start, and the tenants
/// whose index could not be read come back as `(tenant, error)` (they are tried
/// again on every sync). `watch`, if given, runs beside it and stops with it.
pub(crate) async fn start_local_store_gateway(
    config: &Config,
    watch: impl FnOnce(Arc<StoreGateway>) -> Option<JoinHandle<()>>,
) -> Result<(StoreGatewayParts, Vec<(String, String)>), ServerError> {
    let (gateway, cache) = build_gateway(config, Arc::new(OwnsAll))?;
    let report = gateway.sync_all(now_secs()).await;
    if let Some((_, e)) = report.errors.iter().find(|(t, _)| t.is_empty()) {
        return Err(ServerError::Serve(std::io::Error::other(format!(
            "store-gateway: cannot list the bucket: {e}"
        ))));
    }
    let loops = gateway.spawn_loops(&Handle::current());
    let watch = watch(gateway.clone());
    let parts = StoreGatewayParts {
        gateway,
        cache,
        loops: Mutex::new(Some(loops)),
        lifecycler: Mutex::new(None),
        watch,
    };
    Ok((parts, report.errors))
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Resyncs `gateway` whenever the ring's instances, states or health change.
fn spawn_ring_watch(
    gateway: Arc<StoreGateway>,
    ring: Arc<RingClient>,
    timeout: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = None;
        let mut tick = tokio::time::interval(RING_CHECK_PERIOD);
        loop {
            tick.tick().await;
            let now = std::time::SystemTime::now();
            let r = ring.ring();
            let print: Vec<(String, InstanceState, bool, usize)> = r
                .desc()
                .ingesters
                .iter()
                .map(|(id, i)| {
                    (
                        id.clone(),
                        i.state,
                        i.is_heartbeat_healthy(timeout, now),
                        i.tokens.len(),
                    )
                })
                .collect();
            if last.as_ref().is_some_and(|l| *l != print) {
                gateway.resync();
            }
            last = Some(print);
        }
    })
}

/// Where the querier finds a tenant's blocks: the store-gateway ring and a pool of
/// clients (every healthy store-gateway when sharding is off).
pub(crate) fn gateway_replicas(
    config: &Config,
    overrides: &Arc<Overrides>,
    ring: &Arc<RingClient>,
) -> Arc<dyn GatewayReplicas> {
    let pool = Arc::new(StoreGatewayPool::new(
        StoreGatewayClientConfig {
            timeout: config.querier.timeout.to_std(),
            ..StoreGatewayClientConfig::default()
        },
        Handle::current(),
    ));
    Arc::new(StoreGatewayReplicas::new(
        ring.clone(),
        shard_size(config, overrides, ring),
        pool.factory(),
    ))
}

/// The querier's view of the single binary's store-gateway `parts`.
pub(crate) fn in_process_replicas(parts: &StoreGatewayParts) -> Arc<dyn GatewayReplicas> {
    Arc::new(InProcessReplicas::new(parts.api()))
}

/// The store-gateway's metrics, read from the gateway and its cache when scraped.
struct StoreGatewayCollector {
    gateway: std::sync::Weak<StoreGateway>,
    cache: Arc<CachingRange>,
}

impl std::fmt::Debug for StoreGatewayCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreGatewayCollector")
    }
}

impl Collector for StoreGatewayCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.cache.stats();
        for (name, help, pick) in [
            (
                "cortex_bucket_store_cache_requests",
                "Lookups in the store-gateway's index and chunks caches, by item type.",
                (|h: &HitsMisses| h.hits + h.misses) as fn(&HitsMisses) -> u64,
            ),
            (
                "cortex_bucket_store_cache_hits",
                "Lookups in the store-gateway's index and chunks caches that hit, by item type.",
                |h: &HitsMisses| h.hits,
            ),
        ] {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for (item, hm) in [
                ("Postings", &stats.postings),
                ("Series", &stats.series),
                ("Chunks", &stats.chunks),
            ] {
                let c = ConstCounter::new(pick(hm));
                c.encode(family.encode_family(&[("item_type", item)])?)?;
            }
        }
        let Some(gw) = self.gateway.upgrade() else {
            return Ok(());
        };
        let usage = gw.index_header_usage();
        let fetch = gw.stats();
        for (name, help, v) in [
            (
                "cortex_bucket_store_blocks_loaded",
                "Blocks whose index-header is open.",
                gw.loaded_blocks() as f64,
            ),
            (
                "cortex_bucket_store_blocks_listed",
                "Blocks this store-gateway serves, over all tenants.",
                gw.listed_blocks().values().map(Vec::len).sum::<usize>() as f64,
            ),
            (
                "cortex_bucket_stores_tenants_synced",
                "Tenants this store-gateway serves.",
                gw.tenants().len() as f64,
            ),
            (
                "cortex_bucket_store_index_header_bytes",
                "Bytes of the open index-header files.",
                usage.file_bytes as f64,
            ),
            (
                "cortex_bucket_store_index_header_heap_bytes",
                "Heap bytes held for the open index-headers.",
                usage.heap_bytes as f64,
            ),
            (
                "cortex_bucket_store_bucket_requests",
                "Ranged bucket reads of the open blocks so far.",
                fetch.requests() as f64,
            ),
        ] {
            let g = ConstGauge::new(v);
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        Ok(())
    }
}

/// Registers the store-gateway's metrics.
pub(crate) fn register_metrics(parts: &StoreGatewayParts, registry: &mut Registry) {
    registry.register_collector(Box::new(StoreGatewayCollector {
        gateway: Arc::downgrade(&parts.gateway),
        cache: parts.cache.clone(),
    }));
}
