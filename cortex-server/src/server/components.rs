//! Building the components `-target` names: the ingester (its TSDBs and its ring
//! registration), the distributor (writing to the local ingester in the single binary,
//! through the ring's replicas otherwise, and registered in the distributor ring), the
//! querier (reading the local ingester or the ring's ingesters, and the bucket through
//! the store-gateways: the ring's, or the single binary's in-process one), and
//! the counts of healthy ingesters and distributors that turn global limits into
//! local shares.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use cortex_core::cache::open_cache;
use cortex_core::distributor::ha::{HaTracker, HaTrackerConfig, MemoryReplicaStore, ReplicaStore};
use cortex_core::distributor::{Distributor, DistributorMetrics, OverridesLimits, Replicator};
use cortex_core::frontend::RangeFrontend;
use cortex_core::ingester::{Bucket, Ingester};
use cortex_core::limits::Overrides;
use cortex_core::promql::EngineOpts;
use cortex_core::storage::{
    Backend as StorageBackend, BucketConfig, BucketIndexReader, open_block_store,
};
use cortex_core::storegateway::GatewayReplicas;
use cortex_core::storegateway::gateway::StoreGateway;
use cortex_ring::ha::{
    DEFAULT_SYNC_INTERVAL, HA_TRACKER_PREFIX, KvReplicaStore, spawn_maintenance, store_from_config,
};
use cortex_ring::{
    DISTRIBUTOR_RING_KEY, INGESTER_RING_KEY, InstanceState, Kv, Lifecycler, LifecyclerConfig,
    PrefixedKv, QuerierRing, RingClient, StopSignal, sharded_ring_source,
};
use prometheus_client::registry::Registry;
use tokio::runtime::Handle;

use super::api::{QueryBackend, Recent, Store};
use super::{ServerError, blocking, store_gateway};
use crate::config::Config;
use crate::ingester_rpc::IngesterPool;

/// How often the healthy instance counts are refreshed from the rings.
const COUNT_REFRESH: Duration = Duration::from_secs(1);

/// Healthy ingesters and distributors, as the global limits divide them (1 until the
/// rings say otherwise).
#[derive(Clone)]
pub(crate) struct Counts {
    pub ingesters: Arc<AtomicUsize>,
    pub distributors: Arc<AtomicUsize>,
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            ingesters: Arc::new(AtomicUsize::new(1)),
            distributors: Arc::new(AtomicUsize::new(1)),
        }
    }
}

/// Opens the ingester (replaying every tenant's WAL) and starts its loops.
pub(crate) async fn open_ingester(
    config: &Config,
    overrides: &Arc<Overrides>,
    counts: &Counts,
    registry: &mut Registry,
) -> Result<Arc<Ingester>, ServerError> {
    let tsdb = config.blocks_storage.tsdb.clone();
    let bucket = open_bucket(config)?;
    let limits = Arc::new(OverridesLimits::with_ingester_count(
        overrides.clone(),
        config.ingester.lifecycler.ring.replication_factor,
        counts.ingesters.clone(),
    ));
    let ingester_cfg = config.ingester.clone();
    // Blocks shipped by a ring member carry its instance ID, as Cortex's do.
    let id = if config.runs_locally() {
        String::new()
    } else {
        config.ingester.lifecycler.id.clone()
    };
    let mut reg = std::mem::take(registry);
    let (opened, reg) = tokio::task::spawn_blocking(move || {
        let opened = Ingester::open(ingester_cfg, tsdb, limits, bucket, &id, &mut reg);
        (opened, reg)
    })
    .await
    .map_err(|e| ServerError::Serve(std::io::Error::other(e)))?;
    *registry = reg;
    let ingester = opened?;
    ingester.start(&Handle::current());
    Ok(ingester)
}

/// The blocks bucket `blocks_storage.backend` names: a local directory, or an S3,
/// GCS or Azure bucket.
pub(crate) fn open_bucket(config: &Config) -> Result<Bucket, ServerError> {
    let b = &config.blocks_storage;
    let backend = match b.backend.as_str() {
        "s3" => StorageBackend::S3,
        "gcs" => StorageBackend::Gcs,
        "azure" => StorageBackend::Azure,
        _ => return Ok(Bucket::local(&b.filesystem.dir)?),
    };
    let store = open_block_store(&BucketConfig {
        backend,
        s3: b.s3.clone(),
        gcs: b.gcs.clone(),
        azure: b.azure.clone(),
        ..BucketConfig::default()
    })?;
    Ok(Bucket::from_block_store(store))
}

/// Registers the ingester in the ingester ring, advertising the gRPC port.
pub(crate) async fn join_ingester_ring(
    config: &Config,
    kv: &Arc<dyn Kv>,
    grpc_addr: SocketAddr,
) -> Result<Lifecycler, ServerError> {
    let mut cfg = config.ingester.lifecycler.clone();
    cfg.listen_port = grpc_addr.port();
    let kv = kv.clone();
    blocking(move || Ok(Lifecycler::start(cfg, kv, INGESTER_RING_KEY)?)).await
}

/// A started distributor and what runs beside it.
pub(crate) struct DistributorParts {
    /// The distributor.
    pub distributor: Distributor,
    /// Its view of the distributor ring.
    pub ring: Arc<RingClient>,
    /// Its registration there.
    pub lifecycler: Lifecycler,
    /// Stops the HA tracker's sync thread, when HA deduplication is on.
    pub ha_stop: Option<StopSignal>,
}

/// The distributor, its view of the distributor ring and its registration there.
/// With `local` the pushes go to that ingester directly; otherwise through the ring.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn start_distributor(
    config: &Config,
    overrides: &Arc<Overrides>,
    ingester: Option<&Arc<Ingester>>,
    local: bool,
    ring: &Arc<RingClient>,
    pool: &Arc<IngesterPool>,
    kv: &Arc<dyn Kv>,
    grpc_addr: SocketAddr,
    counts: &Counts,
    registry: &mut Registry,
) -> Result<DistributorParts, ServerError> {
    let metrics = match ingester {
        Some(i) => DistributorMetrics::sharing_discards(registry, i.metrics()),
        None => DistributorMetrics::new(registry),
    };
    let mut distributor = match ingester.filter(|_| local) {
        Some(i) => Distributor::new(overrides.clone(), i.clone(), metrics),
        None => Distributor::replicated(
            overrides.clone(),
            Arc::new(Replicator::new(
                {
                    let overrides = overrides.clone();
                    sharded_ring_source(
                        ring.clone(),
                        Arc::new(move |tenant: &str| {
                            overrides.tenant(tenant).ingestion_tenant_shard_size
                        }),
                    )
                },
                pool.client_factory(),
                config.distributor.remote_timeout.to_std(),
            )),
            Handle::current(),
            metrics,
        ),
    };
    distributor = distributor.with_distributor_count(counts.distributors.clone());
    let mut ha_stop = None;
    if config.distributor.ha_tracker.enable_ha_tracker {
        let (tracker, stop) = ha_tracker(config, kv).await?;
        distributor = distributor.with_ha(tracker);
        ha_stop = Some(stop);
    }
    let lc_cfg = distributor_lifecycler_config(config, grpc_addr);
    let ring_cfg = lc_cfg.ring.clone();
    let kv = kv.clone();
    let (lifecycler, client) = blocking(move || {
        let lifecycler = Lifecycler::start(lc_cfg, kv.clone(), DISTRIBUTOR_RING_KEY)?;
        let client = RingClient::start(kv, DISTRIBUTOR_RING_KEY, ring_cfg)?;
        Ok((lifecycler, client))
    })
    .await?;
    Ok(DistributorParts {
        distributor,
        ring: Arc::new(client),
        lifecycler,
        ha_stop,
    })
}

/// The HA tracker over the store `distributor.ha_tracker.kvstore` names (the ring's
/// gossip for `memberlist`), with its sync thread.
async fn ha_tracker(
    config: &Config,
    ring_kv: &Arc<dyn Kv>,
) -> Result<(HaTracker, StopSignal), ServerError> {
    let ha = &config.distributor.ha_tracker;
    let settings = HaTrackerConfig {
        update_timeout: ha.ha_tracker_update_timeout,
        update_timeout_jitter_max: ha.ha_tracker_update_timeout_jitter_max,
    };
    let store: Arc<dyn ReplicaStore> = match ha.kvstore.store.as_str() {
        "inmemory" => Arc::new(MemoryReplicaStore::new()),
        "memberlist" => Arc::new(KvReplicaStore::new(Arc::new(PrefixedKv::new(
            ring_kv.clone(),
            HA_TRACKER_PREFIX.to_string(),
        )))),
        _ => {
            let cfg = ha.kvstore.clone();
            let kv = blocking(move || Ok(store_from_config(&cfg)?)).await?;
            Arc::new(KvReplicaStore::new(kv))
        }
    };
    let tracker = HaTracker::with_store(store, &settings);
    let stop = StopSignal::new();
    spawn_maintenance(tracker.clone(), DEFAULT_SYNC_INTERVAL, stop.clone())
        .map_err(ServerError::Serve)?;
    Ok((tracker, stop))
}

/// The distributor's registration: one token (the distributor ring is only counted),
/// no zone, the ingester ring's KV store.
fn distributor_lifecycler_config(config: &Config, grpc_addr: SocketAddr) -> LifecyclerConfig {
    let d = &config.distributor.ring;
    let ingester = &config.ingester.lifecycler;
    let mut ring = ingester.ring.clone();
    ring.heartbeat_timeout = d.heartbeat_timeout;
    ring.replication_factor = 1;
    ring.zone_awareness_enabled = false;
    ring.excluded_zones.clear();
    LifecyclerConfig {
        ring,
        num_tokens: 1,
        heartbeat_period: d.heartbeat_period,
        final_sleep: cortex_core::limits::Duration::ZERO,
        availability_zone: String::new(),
        address: if d.instance_addr.is_empty() {
            ingester.address.clone()
        } else {
            d.instance_addr.clone()
        },
        port: 0,
        id: d.instance_id.clone(),
        listen_port: grpc_addr.port(),
        ..LifecyclerConfig::default()
    }
}

/// Where the querier reads bucket blocks: the store-gateways of a ring, or the single
/// binary's in-process store-gateway.
pub(crate) enum Blocks {
    /// The store-gateway ring's members, over gRPC.
    Ring(Arc<RingClient>),
    /// This process's store-gateway.
    InProcess {
        /// It, as the querier calls it.
        replicas: Arc<dyn GatewayReplicas>,
        /// The querier's reader of bucket indexes (shared with the ship watch, which
        /// invalidates it).
        index: BucketIndexReader,
    },
}

/// How often the single binary looks for bucket index updates of its ingester.
const SHIP_WATCH_PERIOD: Duration = Duration::from_secs(1);

/// The querier's reader of tenants' bucket indexes: through the metadata cache when
/// configured, each index kept in memory for `bucket_store.sync_interval` (as
/// Cortex's queriers do).
pub(crate) fn querier_index_reader(config: &Config) -> Result<BucketIndexReader, ServerError> {
    Ok(BucketIndexReader::cached(
        store_gateway::reading_bucket(config)?,
        store_gateway::bucket_index_config(config),
        config.blocks_storage.bucket_store.sync_interval.to_std(),
    ))
}

/// The single binary's watch for its ingester's bucket index updates: when one was
/// written, the store-gateway syncs and the querier reads indexes afresh, so a
/// shipped block is served from the bucket at once (e.g. once the tenant's TSDB is
/// closed for idleness).
pub(crate) fn ship_watch(
    ingester: Arc<Ingester>,
    index: BucketIndexReader,
) -> impl FnOnce(Arc<StoreGateway>) -> Option<tokio::task::JoinHandle<()>> {
    move |gateway| {
        let weak = Arc::downgrade(&gateway);
        drop(gateway);
        Some(tokio::spawn(async move {
            let mut seen = ingester.metrics().bucket_index_updates.get();
            let mut tick = tokio::time::interval(SHIP_WATCH_PERIOD);
            loop {
                tick.tick().await;
                let now = ingester.metrics().bucket_index_updates.get();
                if now == seen {
                    continue;
                }
                seen = now;
                let Some(gw) = weak.upgrade() else { break };
                index.invalidate_all();
                gw.resync();
            }
        }))
    }
}

/// The querier's backend: the local ingester when `ingester` is given, else the
/// ring's ingesters through `pool`; beside either the bucket's blocks, read through
/// the store-gateways `blocks` names.
pub(crate) fn query_backend(
    config: &Config,
    overrides: &Arc<Overrides>,
    ingester: Option<&Arc<Ingester>>,
    ring: &Arc<RingClient>,
    pool: &Arc<IngesterPool>,
    blocks: Blocks,
) -> Result<QueryBackend, ServerError> {
    let (replicas, index) = match blocks {
        Blocks::Ring(gw_ring) => (
            store_gateway::gateway_replicas(config, overrides, &gw_ring),
            querier_index_reader(config)?,
        ),
        Blocks::InProcess { replicas, index } => (replicas, index),
    };
    let store = Store {
        replicas,
        index,
        cfg: store_gateway::blocks_store_config(config),
        runtime: Handle::current(),
    };
    let q = &config.querier;
    let recent = match ingester {
        Some(i) => Recent::Local(i.clone()),
        None => Recent::Ring {
            ring: Arc::new(QuerierRing::new(
                ring.clone(),
                q.shuffle_sharding_ingesters_lookback_period.to_std(),
            )),
            clients: pool.clone(),
            runtime: Handle::current(),
            query_ingesters_within: q.query_ingesters_within.to_std(),
            query_store_after: q.query_store_after.to_std(),
        },
    };
    Ok(QueryBackend::new(
        recent,
        store,
        overrides.clone(),
        EngineOpts {
            max_samples: q.max_samples,
            timeout: q.timeout.to_std(),
            lookback_delta: q.lookback_delta.to_std(),
            no_step_subquery_interval: q.default_evaluation_interval.to_std(),
        },
        config.auth_enabled,
        config.tenant_federation.enabled,
        q.max_concurrent,
    )
    .with_frontend(range_frontend(config)?))
}

/// The range query frontend `query_range:` describes, with its results cache opened
/// when `cache_results` is set.
fn range_frontend(config: &Config) -> Result<Arc<RangeFrontend>, ServerError> {
    let qr = &config.query_range;
    let cache = if qr.cache_results {
        open_cache(&qr.results_cache.cache, "frontend-cache").map_err(store_gateway::cache_error)?
    } else {
        None
    };
    Ok(Arc::new(RangeFrontend::new(
        qr.split_queries_by_interval.to_std(),
        qr.align_queries_with_step,
        cache,
    )))
}

/// Keeps `counts` current: the ingesters that are ACTIVE with a recent heartbeat, and
/// the distributors with a recent heartbeat (at least 1 each).
pub(crate) fn spawn_count_updater(
    counts: Counts,
    ingesters: Arc<RingClient>,
    distributors: Option<(Arc<RingClient>, Duration)>,
    ingester_timeout: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(COUNT_REFRESH);
        loop {
            tick.tick().await;
            let now = SystemTime::now();
            let healthy = ingesters
                .ring()
                .desc()
                .ingesters
                .values()
                .filter(|i| {
                    i.state == InstanceState::ACTIVE
                        && i.is_heartbeat_healthy(ingester_timeout, now)
                })
                .count();
            counts.ingesters.store(healthy.max(1), Ordering::Relaxed);
            if let Some((d, timeout)) = &distributors {
                let healthy = d
                    .ring()
                    .desc()
                    .ingesters
                    .values()
                    .filter(|i| i.is_heartbeat_healthy(*timeout, now))
                    .count();
                counts.distributors.store(healthy.max(1), Ordering::Relaxed);
            }
        }
    })
}
