//! The ingester: per-tenant TSDBs that take pushes, cut their heads into 2h blocks, ship
//! the blocks to the bucket and keep them locally for a while — Cortex's blocks-storage
//! ingester.
//!
//! [`Ingester::open`] opens every tenant TSDB found under `blocks_storage.tsdb.dir`
//! (replaying WALs); [`Ingester::start`] runs the background loops ([`loops`]) on a
//! tokio runtime; [`Ingester::push`] appends a validated write request
//! ([`push`] holds the semantics); [`Ingester::flush`] cuts and ships everything now
//! (`/ingester/flush`); [`Ingester::shutdown`] stops it all. Readers take a tenant's
//! [`Db`] from [`Ingester::db`]; `/api/v1/metadata` reads [`Ingester::metadata`].
//!
//! [`api::IngesterApi`] is the ingester as a network boundary (the local `Ingester`
//! implements it; the gRPC client in cortex-server does too), with its conformance
//! suite in `testing`; [`Ingester::user_stats`] reports the [`rate`]s it keeps.
//!
//! Exemplars go through the same appender as the samples
//! ([`exemplars::append_exemplars`]), so they are logged and committed with them.

pub mod api;
pub mod bucket;
pub mod bucket_index;
pub mod config;
pub mod duration;
pub mod error;
pub mod exemplars;
mod lifecycle;
pub mod limits;
mod loops;
pub mod metadata;
pub mod metrics;
pub mod push;
pub mod rate;
pub mod shipper;
pub mod shipper_meta;
pub mod tenant;
pub mod tenants;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod thanos_meta;
pub mod time_format;
mod tsdb_metrics;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use cortex_tsdb::db::Db;
use prometheus_client::registry::Registry;
use tokio::runtime::Handle;

pub use bucket::Bucket;
pub use config::{IngesterConfig, TsdbConfig};
pub use error::{DiscardReason, IngesterError, PushError};
pub use lifecycle::IdleCheck;
pub use limits::{LimitValue, StaticLimits, TenantLimits};
pub use metadata::{MetadataEntry, MetadataQuery};
pub use metrics::IngesterMetrics;
pub use push::PushStats;
pub use rate::PushSource;
pub use shipper::ShipStats;

use crate::remote_write::WriteRequest;
use metadata::TenantMetadata;
use metrics::user_labels;
use push::{PushContext, append_request};
use tenant::{TenantDb, now_ms};
use tenants::{TenantDbs, run_concurrently, validate_tenant};

/// What a flush did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FlushStats {
    /// Blocks cut from heads.
    pub blocks_cut: usize,
    /// What shipping did (nothing when shipping is off).
    pub shipped: ShipStats,
}

/// One tenant's ingestion statistics (Cortex's `UserStatsResponse`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UserStats {
    /// Samples stored per second, API and rule pushes together.
    pub ingestion_rate: f64,
    /// Series in the head.
    pub num_series: u64,
    /// Samples stored per second from API pushes.
    pub api_ingestion_rate: f64,
    /// Samples stored per second from the ruler.
    pub rule_ingestion_rate: f64,
    /// Series that received a sample within the active-series idle timeout (0 when
    /// active series are not tracked).
    pub active_series: u64,
}

/// A blocks-storage ingester.
pub struct Ingester {
    cfg: IngesterConfig,
    tenants: TenantDbs,
    limits: Arc<dyn TenantLimits>,
    bucket: Bucket,
    ingester_id: String,
    metadata: RwLock<HashMap<String, Arc<TenantMetadata>>>,
    metrics: IngesterMetrics,
    stopped: AtomicBool,
    loops: Mutex<Option<loops::Loops>>,
}

impl Ingester {
    /// Validates the configuration, registers the metrics on `registry` and opens every
    /// tenant TSDB found. `ingester_id` (the ring instance ID; may be empty) becomes the
    /// `__ingester_id__` external label of shipped blocks.
    pub fn open(
        cfg: IngesterConfig,
        tsdb: TsdbConfig,
        limits: Arc<dyn TenantLimits>,
        bucket: Bucket,
        ingester_id: &str,
        registry: &mut Registry,
    ) -> Result<Arc<Ingester>, IngesterError> {
        cfg.validate().map_err(IngesterError::Config)?;
        tsdb.validate().map_err(IngesterError::Config)?;
        let metrics = IngesterMetrics::new(registry);
        let tenants = TenantDbs::new(tsdb, limits.clone());
        tenants.open_existing()?;
        let ing = Arc::new(Ingester {
            cfg,
            tenants,
            limits,
            bucket,
            ingester_id: ingester_id.to_string(),
            metadata: RwLock::new(HashMap::new()),
            metrics,
            stopped: AtomicBool::new(false),
            loops: Mutex::new(None),
        });
        registry.register_collector(Box::new(tsdb_metrics::TsdbCollector {
            ingester: Arc::downgrade(&ing),
        }));
        ing.update_gauges();
        Ok(ing)
    }

    /// Resizes the tenant's exemplar storage when its `max_exemplars` limit changed.
    fn apply_exemplar_limit(&self, tenant: &str, t: &TenantDb) {
        let want = match self.limits.max_exemplars(tenant) {
            n if n > 0 => n as usize,
            0 => self.tsdb_config().max_exemplars.max(0) as usize,
            _ => 0,
        };
        let db = t.db();
        if db.head().exemplars().max_exemplars() != want {
            // A failed resize keeps the old size; exemplars are still accepted within it.
            let _ = db.set_max_exemplars(want);
        }
    }

    /// Starts the background loops on `handle` (once; later calls do nothing).
    pub fn start(self: &Arc<Self>, handle: &Handle) {
        let mut l = self.loops.lock().unwrap_or_else(|e| e.into_inner());
        if l.is_none() && !self.stopped.load(Ordering::Acquire) {
            *l = Some(loops::Loops::spawn(self, handle));
        }
    }

    /// The ingester options.
    pub fn config(&self) -> &IngesterConfig {
        &self.cfg
    }

    /// The TSDB options.
    pub fn tsdb_config(&self) -> &TsdbConfig {
        self.tenants.config()
    }

    /// The metrics.
    pub fn metrics(&self) -> &IngesterMetrics {
        &self.metrics
    }

    /// The bucket blocks are shipped to.
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// The open tenant TSDBs, by tenant.
    pub fn tenants(&self) -> Vec<String> {
        self.tenants
            .all()
            .iter()
            .map(|t| t.tenant().to_string())
            .collect()
    }

    /// The TSDB of `tenant`, if open (for queries).
    pub fn db(&self, tenant: &str) -> Option<Arc<Db>> {
        self.tenants.get(tenant).map(|t| t.db().clone())
    }

    /// The tenant's TSDB with its bookkeeping, if open.
    pub fn tenant(&self, tenant: &str) -> Option<Arc<TenantDb>> {
        self.tenants.get(tenant)
    }

    /// Appends a validated write request of `tenant` sent through the API (see [`push`]
    /// for the contract and the semantics).
    pub fn push(&self, tenant: &str, req: &WriteRequest<'_>) -> Result<PushStats, PushError> {
        self.push_from(tenant, req, PushSource::Api)
    }

    /// Like [`Ingester::push`], counting the stored samples in the ingestion rate of
    /// `source`.
    pub fn push_from(
        &self,
        tenant: &str,
        req: &WriteRequest<'_>,
        source: PushSource,
    ) -> Result<PushStats, PushError> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(PushError::Stopping);
        }
        validate_tenant(tenant).map_err(|_| PushError::InvalidTenant(tenant.to_string()))?;
        let now = Instant::now();
        // Metadata is best effort and goes first, as in Cortex, so a refused sample
        // does not lose it.
        let (md_ok, md_failed) = self.push_metadata(tenant, req, now);
        // A TSDB closed for idleness between lookup and write is opened again.
        for _ in 0..3 {
            let t = self
                .tenants
                .get_or_open(tenant)
                .map_err(|e| PushError::Open {
                    tenant: tenant.to_string(),
                    source: Box::new(e),
                })?;
            let Some(_writing) = t.begin_write() else {
                continue;
            };
            let ctx = PushContext {
                tenant,
                tdb: &t,
                limits: self.limits.as_ref(),
                admin_message: &self.cfg.admin_limit_message,
            };
            if req.timeseries.iter().any(|ts| !ts.exemplars.is_empty()) {
                self.apply_exemplar_limit(tenant, &t);
            }
            let mut res = append_request(&ctx, req);
            let stats = match &mut res {
                Ok(s) => Some(s),
                Err(PushError::Partial { stats, .. }) => Some(stats.as_mut()),
                Err(_) => None,
            };
            if let Some(s) = stats {
                t.rates().add(source, s.samples + s.histograms);
                s.metadata = md_ok;
                s.failed_metadata = md_failed;
                self.count_push(tenant, s);
            }
            return res;
        }
        Err(PushError::Storage {
            tenant: tenant.to_string(),
            source: cortex_tsdb::Error::InvalidArgument("TSDB is closing".into()),
        })
    }

    fn count_push(&self, tenant: &str, s: &PushStats) {
        let m = &self.metrics;
        m.ingested_samples.inc_by(s.samples);
        m.ingested_samples_failures.inc_by(s.failed_samples);
        m.ingested_histograms.inc_by(s.histograms);
        m.ingested_histograms_failures.inc_by(s.failed_histograms);
        for (reason, n) in DiscardReason::ALL.iter().zip(s.discarded) {
            m.discard(reason.as_str(), tenant, n);
        }
    }

    fn push_metadata(&self, tenant: &str, req: &WriteRequest<'_>, now: Instant) -> (u64, u64) {
        let per_series = req.timeseries.iter().filter_map(|ts| {
            let mut m = ts.metadata?;
            if m.metric_family_name.is_empty() {
                m.metric_family_name = ts
                    .labels
                    .iter()
                    .find(|l| l.name == cortex_tsdb::labels::METRIC_NAME)?
                    .value;
            }
            Some(m)
        });
        let all: Vec<_> = req.metadata.iter().copied().chain(per_series).collect();
        if all.is_empty() {
            return (0, 0);
        }
        let store = self.tenant_metadata(tenant);
        let per_user = self.limits.max_metadata_per_user(tenant);
        let per_metric = self.limits.max_metadata_per_metric(tenant);
        let (mut ok, mut failed) = (0, 0);
        for m in &all {
            let entry = MetadataEntry::from_request(m);
            match store.add(
                entry,
                now,
                per_user,
                per_metric,
                &self.cfg.admin_limit_message,
            ) {
                Ok(_) => ok += 1,
                Err(e) => {
                    failed += 1;
                    self.metrics
                        .discarded_metadata
                        .get_or_create(&vec![
                            ("reason".to_string(), e.reason().to_string()),
                            ("user".to_string(), tenant.to_string()),
                        ])
                        .inc();
                }
            }
        }
        self.metrics.ingested_metadata.inc_by(ok);
        self.metrics.ingested_metadata_failures.inc_by(failed);
        (ok, failed)
    }

    fn tenant_metadata(&self, tenant: &str) -> Arc<TenantMetadata> {
        if let Some(m) = self
            .metadata
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
        {
            return m.clone();
        }
        self.metadata
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(tenant.to_string())
            .or_default()
            .clone()
    }

    /// The metric metadata of `tenant` that `q` asks for.
    pub fn metadata(&self, tenant: &str, q: &MetadataQuery) -> Vec<MetadataEntry> {
        self.metadata
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
            .map(|m| m.query(q))
            .unwrap_or_default()
    }

    /// What `tenant`'s TSDB holds and how fast it grows; all zero when the tenant has
    /// no open TSDB.
    pub fn user_stats(&self, tenant: &str) -> UserStats {
        let Some(t) = self.tenants.get(tenant) else {
            return UserStats::default();
        };
        let api = t.rates().api.rate();
        let rule = t.rates().rule.rate();
        UserStats {
            ingestion_rate: api + rule,
            num_series: t.db().head().num_series(),
            api_ingestion_rate: api,
            rule_ingestion_rate: rule,
            active_series: self.active_series(&t) as u64,
        }
    }

    /// Updates every tenant's ingestion rates (every [`rate::RATE_UPDATE_PERIOD`]).
    pub fn tick_rates(&self) {
        for t in self.tenants.all() {
            t.rates().tick();
        }
    }

    /// Compacts every tenant's head (`force`: completely) and applies local retention,
    /// `head_compaction_concurrency` tenants at a time. Returns the blocks cut and the
    /// first error (the other tenants are still compacted).
    pub fn compact_all(&self, force: bool) -> Result<usize, IngesterError> {
        let cfg = self.tsdb_config();
        let cut = std::sync::atomic::AtomicUsize::new(0);
        let first_err: Mutex<Option<IngesterError>> = Mutex::new(None);
        let tenants = self.tenants.all();
        run_concurrently(&tenants, cfg.head_compaction_concurrency, |t| {
            let Some(_writing) = t.begin_write() else {
                return;
            };
            let now = now_ms();
            let res = lifecycle::compact_tenant(t, cfg, force, now, &self.metrics).and_then(|n| {
                lifecycle::apply_retention(t, cfg, now, &self.metrics)?;
                Ok(n)
            });
            match res {
                Ok(n) => {
                    cut.fetch_add(n, Ordering::Relaxed);
                }
                Err(e) => {
                    first_err
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert(e);
                }
            }
        });
        match first_err.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e),
            None => Ok(cut.into_inner()),
        }
    }

    /// Rewrites the bucket index of every tenant in the bucket whose index is older
    /// than [`bucket_index::STALE_INDEX_AGE`] (see [`bucket_index::refresh_stale`]),
    /// counting writes and failures in the bucket index metrics. Runs every
    /// [`bucket_index::STALE_INDEX_CHECK`] while shipping is enabled.
    pub async fn refresh_stale_bucket_indexes(&self) -> bucket_index::StaleRefresh {
        let r = bucket_index::refresh_stale(
            &**self.bucket.block_store(),
            tenant::now_ms(),
            bucket_index::STALE_INDEX_AGE,
        )
        .await;
        self.metrics.bucket_index_updates.inc_by(r.updated as u64);
        self.metrics
            .bucket_index_update_failures
            .inc_by(r.failed.len() as u64);
        r
    }

    /// Uploads every tenant's new blocks, `ship_concurrency` tenants at a time. A
    /// failed block is counted and retried on the next ship; the error of a tenant
    /// whose shipper record could not be written is returned after all tenants ran.
    pub async fn ship(&self) -> Result<ShipStats, IngesterError> {
        let cfg = self.tsdb_config();
        let sem = Arc::new(tokio::sync::Semaphore::new(cfg.ship_concurrency.max(1)));
        let mut set = tokio::task::JoinSet::new();
        for t in self.tenants.all() {
            let sem = sem.clone();
            let bucket = self.bucket.clone();
            let metrics = self.metrics.clone();
            let labels: BTreeMap<String, String> =
                thanos_meta::external_labels(t.tenant(), &self.ingester_id);
            let upload_compacted = self.cfg.upload_compacted_blocks_enabled;
            set.spawn(async move {
                let _permit = sem.acquire().await;
                shipper::ship_tenant(&t, &bucket, &labels, upload_compacted, &metrics).await
            });
        }
        let mut total = ShipStats::default();
        let mut first_err = None;
        while let Some(r) = set.join_next().await {
            match r {
                Ok(Ok(s)) => total.merge(s),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(e) => {
                    first_err.get_or_insert(IngesterError::Task(e.to_string()));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(total),
        }
    }

    /// Cuts every head into blocks completely and, with shipping on, uploads them
    /// (`/ingester/flush`, and shutdown with `flush_blocks_on_shutdown`).
    pub async fn flush(self: &Arc<Self>) -> Result<FlushStats, IngesterError> {
        let ing = self.clone();
        let blocks_cut = tokio::task::spawn_blocking(move || ing.compact_all(true))
            .await
            .map_err(|e| IngesterError::Task(e.to_string()))??;
        let shipped = if self.tsdb_config().shipping_enabled() {
            self.ship().await?
        } else {
            ShipStats::default()
        };
        Ok(FlushStats {
            blocks_cut,
            shipped,
        })
    }

    /// Closes and deletes the TSDBs that are idle (see [`lifecycle`]); returns each
    /// tenant's outcome.
    pub fn close_idle(&self) -> Vec<(String, IdleCheck)> {
        if self.tsdb_config().close_idle_tsdb_timeout.is_zero() {
            return Vec::new();
        }
        let now = now_ms();
        let mut out = Vec::new();
        for t in self.tenants.all() {
            let r = lifecycle::close_if_idle(&self.tenants, &t, now);
            self.metrics
                .idle_tsdb_checks
                .get_or_create(&vec![("result".to_string(), r.as_str().to_string())])
                .inc();
            if r == IdleCheck::IdleClosed {
                self.metadata
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(t.tenant());
                self.metrics.remove_user(t.tenant());
            }
            out.push((t.tenant().to_string(), r));
        }
        self.update_gauges();
        out
    }

    /// Series of `t` that received a sample within the active series idle timeout (0 when
    /// active series tracking is off).
    fn active_series(&self, t: &TenantDb) -> usize {
        if !self.cfg.active_series_metrics_enabled {
            return 0;
        }
        t.db()
            .head()
            .active_series(self.cfg.active_series_metrics_idle_timeout.0)
    }

    /// Forgets metadata past the retain period, updates active series and gauges.
    pub fn housekeeping(&self) {
        let now = Instant::now();
        if let Some(deadline) = now.checked_sub(self.cfg.metadata_retain_period.0) {
            for m in self
                .metadata
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .values()
            {
                m.purge(deadline);
            }
        }
        if self.cfg.active_series_metrics_enabled {
            for t in self.tenants.all() {
                let n = self.active_series(&t);
                self.metrics
                    .active_series
                    .get_or_create(&user_labels(t.tenant()))
                    .set(n as i64);
            }
        }
        self.update_gauges();
    }

    /// Brings the gauges of in-memory series, tenants and metadata up to date (done
    /// periodically by the ingester's loops; a scrape calls it to read current values).
    pub fn update_gauges(&self) {
        let tenants = self.tenants.all();
        let mut series = 0u64;
        for t in &tenants {
            let head = t.db().head();
            series += head.num_series();
            let stats = head.stats();
            let created = stats.series_created.load(Ordering::Relaxed);
            let removed = stats.series_removed.load(Ordering::Relaxed);
            let was = t.reported_created.swap(created, Ordering::Relaxed);
            self.metrics
                .memory_series_created
                .get_or_create(&user_labels(t.tenant()))
                .inc_by(created.saturating_sub(was));
            let was = t.reported_removed.swap(removed, Ordering::Relaxed);
            self.metrics
                .memory_series_removed
                .get_or_create(&user_labels(t.tenant()))
                .inc_by(removed.saturating_sub(was));
        }
        self.metrics.memory_series.set(series as i64);
        self.metrics.memory_users.set(tenants.len() as i64);
        let md: usize = self
            .metadata
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|m| m.len())
            .sum();
        self.metrics.memory_metadata.set(md as i64);
    }

    /// Stops taking pushes, stops the loops, flushes when `flush_blocks_on_shutdown`,
    /// and closes every TSDB (WAL and head chunks made durable).
    pub async fn shutdown(self: &Arc<Self>) -> Result<(), IngesterError> {
        self.stopped.store(true, Ordering::Release);
        let loops = self.loops.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(l) = loops {
            l.stop().await;
        }
        let mut first_err = None;
        if self.tsdb_config().flush_blocks_on_shutdown
            && let Err(e) = self.flush().await
        {
            first_err = Some(e);
        }
        for t in self.tenants.all() {
            let mut state = t.state().write().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = t.db().close() {
                first_err.get_or_insert(IngesterError::tsdb(t.tenant(), e));
            }
            *state = tenant::TenantState::Closed;
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
