//! What a query reads and how it runs: the request's tenants (one, or several with
//! tenant federation), a [`Querier`] over their data, their query limits, and a
//! blocking task for the engine that is canceled when the client goes away and waits
//! for one of `querier.max_concurrent` slots.
//!
//! A tenant's data is its ingester TSDB and the blocks it shipped to the bucket. In the
//! single binary the ingester is in this process ([`Recent::Local`]); a querier of a
//! cluster reads the ingesters that hold the tenant's replicas through the ring and
//! merges the copies ([`Recent::Ring`]), and the bucket beside them, each for the part
//! of the range `query_ingesters_within` / `query_store_after` give it. Bucket blocks
//! are read through store-gateways ([`Store`]: the ring's, or the single
//! binary's in-process one), and a query fails rather than miss a block. The single
//! binary asks its store-gateway only for the blocks its TSDB no longer holds.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cortex_core::api::ApiError;
use cortex_core::frontend::RangeFrontend;
use cortex_core::ingester::{Ingester, MetadataEntry, MetadataQuery};
use cortex_core::limits::Overrides;
use cortex_core::promql::{CancelToken, EngineOpts};
use cortex_core::querier::blocks_store::{BlocksStoreConfig, BlocksStoreQuerier};
use cortex_core::querier::federated::FederatedQuerier;
use cortex_core::querier::ingesters::IngestersQuerier;
use cortex_core::querier::replicas::{IngesterClients, IngesterRing};
use cortex_core::querier::tenant::TenantQuerier;
use cortex_core::querier::time_split::TimeSplitQuerier;
use cortex_core::querier::{Querier, QuerierError, QueryLimits as FetchLimits};
use cortex_core::storage::BucketIndexReader;
use cortex_core::storegateway::GatewayReplicas;
use cortex_core::tenant::{FAKE_TENANT, ORG_ID_HEADER, TenantError, tenant_ids};
use cortex_tsdb::exemplar::ExemplarSeries;
use cortex_tsdb::labels::Matcher;
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

/// Where a tenant's recent (not yet long-term) data is read.
pub(crate) enum Recent {
    /// The ingester in this process.
    Local(Arc<Ingester>),
    /// The ring's ingesters.
    Ring {
        /// The tenant's read replicas.
        ring: Arc<dyn IngesterRing>,
        /// Clients of the ingesters.
        clients: Arc<dyn IngesterClients>,
        /// Where the ingester calls run.
        runtime: Handle,
        /// Only the part of a query newer than this is asked of the ingesters.
        query_ingesters_within: Duration,
        /// Only the part of a query older than this is asked of the bucket.
        query_store_after: Duration,
    },
}

/// Where a tenant's long-term data (its blocks in the bucket) is read: through the
/// store-gateways, checking that every block the bucket index lists was queried.
pub(crate) struct Store {
    /// Which store-gateways serve a block, and their clients.
    pub replicas: Arc<dyn GatewayReplicas>,
    /// Reads the tenants' bucket indexes.
    pub index: BucketIndexReader,
    /// The consistency check's settings.
    pub cfg: BlocksStoreConfig,
    /// Where the store-gateway calls run.
    pub runtime: Handle,
}

/// The read side of the server.
pub(crate) struct QueryBackend {
    recent: Recent,
    store: Store,
    overrides: Arc<Overrides>,
    engine: EngineOpts,
    auth_enabled: bool,
    federation: bool,
    slots: Arc<Semaphore>,
    frontend: Arc<RangeFrontend>,
}

/// The per-query limits of the request's tenants (the strictest when several).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct QueryLimits {
    /// Longest `end - start` of a range query (ms); 0 for no limit.
    pub max_query_length: i64,
    /// How far back queries may read (ms); 0 for no limit.
    pub max_query_lookback: i64,
    /// Results newer than this (ms) are not cached (the longest among the tenants).
    pub max_cache_freshness: i64,
    /// The most parts of one split query run at once (the fewest among the tenants).
    pub max_query_parallelism: usize,
}

/// The stricter of two limits where 0 means none.
fn stricter(cur: i64, new: i64) -> i64 {
    match (cur, new) {
        (0, n) | (n, 0) => n,
        (a, b) => a.min(b),
    }
}

/// Cancels a token when dropped, so a query stops once nobody waits for it.
struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl QueryBackend {
    /// A backend reading recent data from `recent` and blocks from `store`.
    pub(crate) fn new(
        recent: Recent,
        store: Store,
        overrides: Arc<Overrides>,
        engine: EngineOpts,
        auth_enabled: bool,
        federation: bool,
        max_concurrent: usize,
    ) -> QueryBackend {
        QueryBackend {
            recent,
            store,
            overrides,
            engine,
            auth_enabled,
            federation,
            slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
            frontend: Arc::new(RangeFrontend::new(Duration::ZERO, false, None)),
        }
    }

    /// The backend with range queries going through `frontend` (by default they are
    /// neither split nor cached).
    pub(crate) fn with_frontend(mut self, frontend: Arc<RangeFrontend>) -> QueryBackend {
        self.frontend = frontend;
        self
    }

    /// How range queries are split, aligned and cached.
    pub(crate) fn frontend(&self) -> &Arc<RangeFrontend> {
        &self.frontend
    }

    /// The engine settings queries start from.
    pub(crate) fn engine_opts(&self) -> &EngineOpts {
        &self.engine
    }

    /// The exemplars of `tenant` in `[start, end]` of the series matching any of
    /// `matcher_sets`: from this process' ingester, or from the ingesters holding the
    /// tenant's replicas (their copies merged). Exemplars live only in ingester heads,
    /// so the whole range is asked of them. Series sorted by labels, exemplars by time.
    /// Call it from a blocking thread.
    pub(crate) fn exemplars(
        &self,
        tenant: &str,
        matcher_sets: &[Vec<Matcher>],
        start: i64,
        end: i64,
    ) -> Result<Vec<ExemplarSeries>, QuerierError> {
        match &self.recent {
            Recent::Local(ingester) => match ingester.db(tenant) {
                Some(db) => db
                    .exemplars(matcher_sets, start, end)
                    .map_err(|e| QuerierError::Storage(e.to_string())),
                None => Ok(Vec::new()),
            },
            Recent::Ring {
                ring,
                clients,
                runtime,
                ..
            } => self
                .ingesters_querier(tenant, ring, clients, runtime)
                .exemplars(start, end, matcher_sets),
        }
    }

    /// The metric metadata of `tenant` that `query` asks for, from the ingesters (the
    /// remote ones' answers concatenated; callers deduplicate). Call it from a
    /// blocking thread.
    pub(crate) fn metadata(
        &self,
        tenant: &str,
        query: &MetadataQuery,
    ) -> Result<Vec<MetadataEntry>, QuerierError> {
        match &self.recent {
            Recent::Local(ingester) => Ok(ingester.metadata(tenant, query)),
            Recent::Ring {
                ring,
                clients,
                runtime,
                ..
            } => self
                .ingesters_querier(tenant, ring, clients, runtime)
                .metadata(query),
        }
    }

    /// The request's tenants, sorted: from `X-Scope-OrgID` (401 without it, 400 when
    /// invalid or when it names several tenants without federation), or `fake`
    /// without authentication.
    #[allow(clippy::result_large_err)]
    pub(crate) fn tenants(&self, headers: &HeaderMap) -> Result<Vec<String>, Response> {
        if !self.auth_enabled {
            return Ok(vec![FAKE_TENANT.to_string()]);
        }
        let refuse = |status: StatusCode, msg: String| (status, format!("{msg}\n")).into_response();
        let Some(v) = headers.get(ORG_ID_HEADER) else {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                TenantError::NoOrgId.to_string(),
            ));
        };
        let v = v
            .to_str()
            .map_err(|_| refuse(StatusCode::BAD_REQUEST, "org id is not valid ASCII".into()))?;
        let ids = tenant_ids(v).map_err(|e| refuse(StatusCode::BAD_REQUEST, e.to_string()))?;
        if ids.len() > 1 && !self.federation {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                TenantError::TooManyOrgIds.to_string(),
            ));
        }
        Ok(ids.into_iter().map(str::to_string).collect())
    }

    /// The strictest query limits among `tenants`.
    pub(crate) fn limits(&self, tenants: &[String]) -> QueryLimits {
        let mut out = QueryLimits::default();
        for t in tenants {
            let l = self.overrides.tenant(t);
            out.max_query_length = stricter(out.max_query_length, l.max_query_length.as_millis());
            out.max_query_lookback =
                stricter(out.max_query_lookback, l.max_query_lookback.as_millis());
            out.max_cache_freshness = out
                .max_cache_freshness
                .max(l.max_cache_freshness.as_millis());
            out.max_query_parallelism = match out.max_query_parallelism {
                0 => l.max_query_parallelism,
                n => n.min(l.max_query_parallelism),
            };
        }
        out.max_query_parallelism = out.max_query_parallelism.max(1);
        out
    }

    /// A querier for one query over the data of `tenants`: each tenant's ingester TSDB
    /// and bucket blocks, with its fetch limits; several tenants federated, their
    /// series labelled with `__tenant_id__`. Call it from a blocking thread.
    pub(crate) fn querier(&self, tenants: &[String]) -> Arc<dyn Querier> {
        match tenants {
            [one] => Arc::from(self.tenant_querier(one)),
            _ => Arc::new(FederatedQuerier::new(
                tenants
                    .iter()
                    .map(|t| (t.clone(), self.tenant_querier(t)))
                    .collect(),
            )),
        }
    }

    fn fetch_limits(&self, tenant: &str) -> FetchLimits {
        let l = self.overrides.tenant(tenant);
        FetchLimits {
            max_fetched_series_per_query: l.max_fetched_series_per_query,
            max_fetched_chunks_per_query: l.max_fetched_chunks_per_query,
        }
    }

    /// The tenant's data: its local TSDB and bucket blocks, or its replicas on the
    /// ring's ingesters and its bucket blocks, split in time.
    fn tenant_querier(&self, tenant: &str) -> Box<dyn Querier> {
        let limits = self.fetch_limits(tenant);
        let Store {
            replicas,
            index,
            cfg,
            runtime,
        } = &self.store;
        let store = BlocksStoreQuerier::new(
            tenant,
            index.clone(),
            replicas.clone(),
            runtime.clone(),
            *cfg,
            limits,
        );
        match &self.recent {
            // The local TSDB and the store-gateway in one querier, which asks the
            // store-gateway only for the blocks the TSDB does not hold.
            Recent::Local(ingester) => Box::new(TenantQuerier::with_gateways(
                tenant,
                ingester.db(tenant),
                store,
            )),
            Recent::Ring {
                ring,
                clients,
                runtime,
                query_ingesters_within,
                query_store_after,
            } => Box::new(TimeSplitQuerier::new(
                Box::new(self.ingesters_querier(tenant, ring, clients, runtime)),
                Box::new(store),
                *query_ingesters_within,
                *query_store_after,
                now_ms(),
            )),
        }
    }

    /// The tenant's replicas on the ring's ingesters (its shuffle shard when it has
    /// one).
    fn ingesters_querier(
        &self,
        tenant: &str,
        ring: &Arc<dyn IngesterRing>,
        clients: &Arc<dyn IngesterClients>,
        runtime: &Handle,
    ) -> IngestersQuerier {
        IngestersQuerier::new(
            tenant,
            ring.clone(),
            clients.clone(),
            runtime.clone(),
            self.fetch_limits(tenant),
        )
        .with_shard_size(self.overrides.tenant(tenant).ingestion_tenant_shard_size)
    }

    /// Runs `f` on the blocking pool once a query slot is free. The token it gets is
    /// canceled if the caller stops waiting (the client went away).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&CancelToken) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::internal("query slots closed"))?;
        let token = CancelToken::new();
        let guard = CancelOnDrop(token.clone());
        let res = tokio::task::spawn_blocking(move || f(&token))
            .await
            .map_err(|e| ApiError::internal(format!("query task failed: {e}")));
        drop(guard);
        res
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
