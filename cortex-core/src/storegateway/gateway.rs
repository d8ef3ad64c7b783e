//! [`StoreGateway`]: every tenant's [`BlockSet`] of one store-gateway process, kept in
//! step with the bucket.
//!
//! [`StoreGateway::sync_all`] lists the tenants at the bucket root and syncs each one's
//! block set from its bucket index, keeping only the blocks the [`BlockOwnership`] gives
//! this store-gateway, minus those whose deletion mark is older than
//! `ignore_deletion_mark_delay` (a block marked more recently is still served, since
//! queriers may still ask for it). A tenant without a bucket index, or that no longer
//! owns any block here, is dropped with its local directory; a tenant whose index cannot
//! be read keeps the blocks it had and the error is reported. [`StoreGateway::spawn_loops`]
//! runs the sync every `sync_interval` (and on [`StoreGateway::resync`], when the ring
//! changed) and closes idle blocks. The answers to queriers are in `gateway_api.rs`.
//!
//! `block_set.sync_dir` must belong to this store-gateway alone: dropped tenants and
//! blocks lose their directories there, and the first sync sweeps what an earlier run
//! left that this one does not hold.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cortex_tsdb::ulid::Ulid;
use tokio::runtime::Handle;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::api::BlockOwnership;
use super::block_set::{BlockSet, BlockSetConfig, IndexHeaderUsage, lock, now_secs};
use super::cache::RangeCache;
use super::fetch::FetchStats;
use crate::storage::BlockStore;
use crate::storage::bucketindex::IndexBlock;
use crate::storage::layout::list_tenants;

/// How a store-gateway holds and syncs blocks (Cortex's `blocks_storage.bucket_store`
/// options).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreGatewayConfig {
    /// Where index-headers go and how blocks fetch and unload.
    pub block_set: BlockSetConfig,
    /// `bucket_store.sync_interval`: how often the tenants' block lists are synced.
    /// Default 15m.
    pub sync_interval: Duration,
    /// `bucket_store.ignore_deletion_mark_delay`: a block whose deletion mark is older
    /// than this is not loaded; one marked more recently is still served. Default 6h.
    pub ignore_deletion_mark_delay: Duration,
    /// `bucket_store.tenant_sync_concurrency`: tenants synced at once. Default 10.
    pub tenant_sync_concurrency: usize,
}

impl Default for StoreGatewayConfig {
    fn default() -> StoreGatewayConfig {
        StoreGatewayConfig {
            block_set: BlockSetConfig::default(),
            sync_interval: Duration::from_secs(15 * 60),
            ignore_deletion_mark_delay: Duration::from_secs(6 * 60 * 60),
            tenant_sync_concurrency: 10,
        }
    }
}

/// What one [`StoreGateway::sync_all`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Tenants held after the sync.
    pub tenants: usize,
    /// Blocks listed over those tenants.
    pub blocks: usize,
    /// Tenants dropped: gone from the bucket, without an index, or owning no block here.
    pub dropped_tenants: usize,
    /// What failed, as `(tenant, error)`; the tenant is empty when the bucket could not
    /// be listed. Tenants that failed keep their previous block list.
    pub errors: Vec<(String, String)>,
}

/// One store-gateway's blocks of every tenant (see the module documentation).
pub struct StoreGateway {
    store: Arc<dyn BlockStore>,
    cfg: StoreGatewayConfig,
    ownership: Arc<dyn BlockOwnership>,
    cache: Arc<dyn RangeCache>,
    tenants: Mutex<BTreeMap<String, Arc<BlockSet>>>,
    /// Held by a sync, so syncs do not overlap.
    sync_lock: tokio::sync::Mutex<()>,
    resync: Arc<Notify>,
    last_sync: Mutex<Option<SyncReport>>,
}

impl StoreGateway {
    /// A store-gateway over `store` serving the blocks `ownership` gives it, looking
    /// items up in `cache` first. Nothing is read before the first sync.
    pub fn new(
        store: Arc<dyn BlockStore>,
        cfg: StoreGatewayConfig,
        ownership: Arc<dyn BlockOwnership>,
        cache: Arc<dyn RangeCache>,
    ) -> StoreGateway {
        StoreGateway {
            store,
            cfg,
            ownership,
            cache,
            tenants: Mutex::new(BTreeMap::new()),
            sync_lock: tokio::sync::Mutex::new(()),
            resync: Arc::new(Notify::new()),
            last_sync: Mutex::new(None),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &StoreGatewayConfig {
        &self.cfg
    }

    /// Syncs every tenant's blocks as of `now_secs` (see the module documentation).
    pub async fn sync_all(&self, now_secs: i64) -> SyncReport {
        let _one = self.sync_lock.lock().await;
        let report = self.sync_locked(now_secs).await;
        *lock(&self.last_sync) = Some(report.clone());
        report
    }

    async fn sync_locked(&self, now: i64) -> SyncReport {
        let mut report = SyncReport::default();
        let mut next = lock(&self.tenants).clone();
        let listed = match list_tenants(&*self.store).await {
            Ok(t) => t,
            Err(e) => {
                report.errors.push((String::new(), e.to_string()));
                return self.finish(report, &next);
            }
        };
        let sem = Arc::new(Semaphore::new(self.cfg.tenant_sync_concurrency.max(1)));
        let delay = self.cfg.ignore_deletion_mark_delay.as_secs() as i64;
        let mut tasks = JoinSet::new();
        for tenant in &listed {
            let set = next.get(tenant).cloned().unwrap_or_else(|| {
                Arc::new(BlockSet::new(
                    self.store.clone(),
                    tenant,
                    self.cfg.block_set.clone(),
                    self.cache.clone(),
                ))
            });
            let (sem, own) = (sem.clone(), self.ownership.clone());
            tasks.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let tenant = set.tenant().to_string();
                let keep = |b: &IndexBlock, mark: Option<i64>| {
                    mark.is_none_or(|t| now.saturating_sub(t) <= delay)
                        && own.owns(&tenant, b.block_id)
                };
                let res = set.sync_with(now, &keep).await;
                (set, res)
            });
        }
        let mut dropped = Vec::new();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok((set, Ok(n))) if n > 0 => {
                    next.insert(set.tenant().to_string(), set);
                }
                Ok((set, Ok(_))) => {
                    if next.remove(set.tenant()).is_some() {
                        dropped.push(set.tenant().to_string());
                    }
                }
                Ok((set, Err(e))) => report
                    .errors
                    .push((set.tenant().to_string(), e.to_string())),
                Err(e) => report.errors.push((String::new(), e.to_string())),
            }
        }
        let listed: BTreeSet<&String> = listed.iter().collect();
        next.retain(|t, _| {
            let keep = listed.contains(t);
            if !keep {
                dropped.push(t.clone());
            }
            keep
        });
        report.errors.sort();
        report.dropped_tenants = dropped.len();
        for t in dropped {
            // Best effort: a leftover directory only costs disk.
            let _ = tokio::fs::remove_dir_all(self.cfg.block_set.sync_dir.join(&t)).await;
        }
        if lock(&self.last_sync).is_none() {
            let failed: BTreeSet<&str> = report.errors.iter().map(|(t, _)| t.as_str()).collect();
            self.sweep_sync_dir(&next, &failed).await;
        }
        self.finish(report, &next)
    }

    /// After the first sync, removes what an earlier run left under `sync_dir` that
    /// this one does not hold: directories of tenants and blocks not listed now, and
    /// files other than the index-header (and its temporary file) in block
    /// directories. Tenants whose sync failed are left alone. Best effort.
    async fn sweep_sync_dir(
        &self,
        held: &BTreeMap<String, Arc<BlockSet>>,
        failed: &BTreeSet<&str>,
    ) {
        let root = &self.cfg.block_set.sync_dir;
        for tenant_dir in dir_entries(root).await {
            let Some(tenant) = tenant_dir.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if failed.contains(tenant) {
                continue;
            }
            let Some(set) = held.get(tenant) else {
                let _ = tokio::fs::remove_dir_all(&tenant_dir).await;
                continue;
            };
            let listed: BTreeSet<String> = set.listed().iter().map(Ulid::to_string).collect();
            for block_dir in dir_entries(&tenant_dir).await {
                let name = block_dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if !listed.contains(name) {
                    let _ = remove_any(&block_dir).await;
                    continue;
                }
                for f in dir_entries(&block_dir).await {
                    let keep = f
                        .file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(cortex_tsdb::index_header::FILE_NAME));
                    if !keep {
                        let _ = remove_any(&f).await;
                    }
                }
            }
        }
    }

    /// Installs `next` as the tenants held and fills in the report's counts.
    fn finish(&self, mut report: SyncReport, next: &BTreeMap<String, Arc<BlockSet>>) -> SyncReport {
        report.tenants = next.len();
        report.blocks = next.values().map(|s| s.listed().len()).sum();
        *lock(&self.tenants) = next.clone();
        report
    }

    /// What the last sync did (`None` before the first).
    pub fn last_sync(&self) -> Option<SyncReport> {
        lock(&self.last_sync).clone()
    }

    /// Asks the sync loop to sync now (the ring changed); the request is kept until the
    /// loop takes it, and several requests before then make one sync.
    pub fn resync(&self) {
        self.resync.notify_one();
    }

    /// Closes the blocks of every tenant left idle (see [`BlockSet::unload_idle`]);
    /// returns how many were closed.
    pub fn unload_idle(&self, now: Instant) -> usize {
        self.sets().iter().map(|s| s.unload_idle(now).len()).sum()
    }

    fn sets(&self) -> Vec<Arc<BlockSet>> {
        lock(&self.tenants).values().cloned().collect()
    }

    /// The block set of `tenant`, when it has blocks here.
    pub fn block_set(&self, tenant: &str) -> Option<Arc<BlockSet>> {
        lock(&self.tenants).get(tenant).cloned()
    }

    /// The tenants with blocks here, sorted.
    pub fn tenants(&self) -> Vec<String> {
        lock(&self.tenants).keys().cloned().collect()
    }

    /// The listed blocks of every tenant.
    pub fn listed_blocks(&self) -> BTreeMap<String, Vec<Ulid>> {
        lock(&self.tenants)
            .iter()
            .map(|(t, s)| (t.clone(), s.listed()))
            .collect()
    }

    /// Blocks open now, over all tenants.
    pub fn loaded_blocks(&self) -> usize {
        self.sets().iter().map(|s| s.loaded().len()).sum()
    }

    /// Fetch counts summed over the blocks open now.
    pub fn stats(&self) -> FetchStats {
        let mut total = FetchStats::default();
        for s in self.sets() {
            total.merge(&s.stats());
        }
        total
    }

    /// The index-headers of the blocks open now, over all tenants.
    pub fn index_header_usage(&self) -> IndexHeaderUsage {
        let mut total = IndexHeaderUsage::default();
        for s in self.sets() {
            total.merge(&s.index_header_usage());
        }
        total
    }

    /// Starts the sync loop (a sync now, then every `sync_interval` and on
    /// [`StoreGateway::resync`]) and, unless `idle_timeout` is zero, the loop closing
    /// idle blocks, on `handle`. The loops end when stopped or once the gateway is gone.
    pub fn spawn_loops(self: &Arc<Self>, handle: &Handle) -> GatewayLoops {
        let (stop, _) = watch::channel(false);
        let mut tasks = Vec::new();
        let (weak, mut stopped) = (Arc::downgrade(self), stop.subscribe());
        let (resync, interval) = (self.resync.clone(), self.cfg.sync_interval);
        tasks.push(handle.spawn(async move {
            loop {
                let Some(gw) = weak.upgrade() else { break };
                gw.sync_all(now_secs()).await;
                drop(gw);
                tokio::select! {
                    _ = tokio::time::sleep(interval.max(Duration::from_millis(10))) => {}
                    _ = resync.notified() => {}
                    _ = stopped.changed() => break,
                }
            }
        }));
        let idle = self.cfg.block_set.idle_timeout;
        if !idle.is_zero() {
            let (weak, mut stopped) = (Arc::downgrade(self), stop.subscribe());
            let period = (idle / 10).clamp(Duration::from_millis(10), Duration::from_secs(60));
            tasks.push(handle.spawn(async move {
                let mut tick = tokio::time::interval(period);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = stopped.changed() => break,
                    }
                    let Some(gw) = weak.upgrade() else { break };
                    gw.unload_idle(Instant::now());
                }
            }));
        }
        GatewayLoops { stop, tasks }
    }
}

/// The paths in directory `dir` (none when it cannot be read).
async fn dir_entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(mut rd) = tokio::fs::read_dir(dir).await else {
        return out;
    };
    while let Ok(Some(e)) = rd.next_entry().await {
        out.push(e.path());
    }
    out
}

/// Removes `path`, a file or a directory tree.
async fn remove_any(path: &std::path::Path) -> std::io::Result<()> {
    if tokio::fs::symlink_metadata(path).await?.is_dir() {
        tokio::fs::remove_dir_all(path).await
    } else {
        tokio::fs::remove_file(path).await
    }
}

/// The running loops of a [`StoreGateway`].
pub struct GatewayLoops {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl GatewayLoops {
    /// Stops the loops and waits for the work in progress (a sync under way finishes).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
