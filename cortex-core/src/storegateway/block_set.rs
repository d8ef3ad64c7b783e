//! [`BlockSet`]: one tenant's blocks as a store-gateway holds them. The list comes from
//! the tenant's bucket index ([`BlockSet::sync`]; blocks with a deletion mark are left
//! out); a block is opened ([`BucketBlock::open`]) the first time a query needs it and
//! closed again once unused for `idle_timeout` ([`BlockSet::unload_idle`]): its reader
//! and memory map are dropped, its index-header file stays on disk so reopening is
//! cheap. Blocks that leave the list lose their local directory.
//!
//! When to sync and when to unload is the owner's decision (a store-gateway runs both on
//! timers); the first query by time range syncs if nothing has been synced yet. A
//! store-gateway keeps only the blocks it owns ([`BlockSet::sync_with`]) and serves
//! blocks named by ID ([`BlockSet::open_listed`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cortex_tsdb::labels::Matcher;
use cortex_tsdb::ulid::Ulid;

use super::block::{BucketBlock, BucketBlockConfig, BucketSeries};
use super::cache::RangeCache;
use super::error::GatewayError;
use super::fetch::FetchStats;
use crate::storage::bucketindex::IndexBlock;
use crate::storage::{BlockStore, BucketIndexConfig, BucketIndexReader};

/// Which blocks of the bucket index a sync keeps: called with each indexed block and
/// the time of its deletion mark (Unix seconds), if it has one.
pub type BlockFilter<'a> = &'a (dyn Fn(&IndexBlock, Option<i64>) -> bool + Sync);

/// The index-headers of open blocks: how many, their mapped file bytes and the heap
/// their readers keep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexHeaderUsage {
    /// Open blocks.
    pub blocks: usize,
    /// Bytes of their index-header files (memory-mapped; resident only as used).
    pub file_bytes: u64,
    /// Heap bytes of their index-header readers.
    pub heap_bytes: u64,
}

impl IndexHeaderUsage {
    /// Adds `o`'s numbers to these.
    pub fn merge(&mut self, o: &IndexHeaderUsage) {
        self.blocks += o.blocks;
        self.file_bytes += o.file_bytes;
        self.heap_bytes += o.heap_bytes;
    }

    /// Mapped and heap bytes per open block (0 without open blocks).
    pub fn bytes_per_block(&self) -> u64 {
        (self.file_bytes + self.heap_bytes)
            .checked_div(self.blocks as u64)
            .unwrap_or(0)
    }
}

/// How a tenant's blocks are held (Cortex's `blocks_storage.bucket_store` options).
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSetConfig {
    /// `bucket_store.sync_dir`: index-headers go to `<sync_dir>/<tenant>/<ULID>/`.
    pub sync_dir: PathBuf,
    /// `bucket_store.index_header_lazy_loading_idle_timeout`: an open block unused this
    /// long is closed by [`BlockSet::unload_idle`].
    pub idle_timeout: Duration,
    /// How blocks fetch.
    pub block: BucketBlockConfig,
    /// How the bucket index is loaded.
    pub bucket_index: BucketIndexConfig,
}

impl Default for BlockSetConfig {
    fn default() -> BlockSetConfig {
        BlockSetConfig {
            sync_dir: PathBuf::from("tsdb-sync"),
            idle_timeout: Duration::from_secs(60 * 60),
            block: BucketBlockConfig::default(),
            bucket_index: BucketIndexConfig::default(),
        }
    }
}

/// One listed block: its time range, the open block, when it was last used.
struct Entry {
    ulid: Ulid,
    min_time: i64,
    max_time: i64,
    /// Held while the block opens, so it opens once.
    open: tokio::sync::Mutex<Option<Arc<BucketBlock>>>,
    last_used: Mutex<Instant>,
}

impl Entry {
    fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.min_time <= maxt && mint < self.max_time
    }
}

/// One tenant's blocks (see the module documentation).
pub struct BlockSet {
    tenant: String,
    store: Arc<dyn BlockStore>,
    cache: Arc<dyn RangeCache>,
    index: BucketIndexReader,
    cfg: BlockSetConfig,
    synced: AtomicBool,
    blocks: Mutex<BTreeMap<Ulid, Arc<Entry>>>,
}

/// Locks `m`, taking the data over from a holder that panicked.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Unix seconds now.
pub(super) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl BlockSet {
    /// The blocks of `tenant` in `store`, looking items up in `cache` first. Nothing is
    /// read until the first sync or query.
    pub fn new(
        store: Arc<dyn BlockStore>,
        tenant: &str,
        cfg: BlockSetConfig,
        cache: Arc<dyn RangeCache>,
    ) -> BlockSet {
        BlockSet {
            tenant: tenant.to_string(),
            index: BucketIndexReader::new(store.clone(), cfg.bucket_index.clone()),
            store,
            cache,
            cfg,
            synced: AtomicBool::new(false),
            blocks: Mutex::new(BTreeMap::new()),
        }
    }

    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Reads the tenant's bucket index (as of `now_secs`, for its staleness check) and
    /// makes its blocks without a deletion mark the listed ones. Blocks already listed
    /// stay open; blocks no longer listed are dropped with their local directory.
    pub async fn sync(&self, now_secs: i64) -> Result<(), GatewayError> {
        self.sync_with(now_secs, &|_, mark| mark.is_none())
            .await
            .map(|_| ())
    }

    /// Like [`BlockSet::sync`], keeping the indexed blocks `keep` accepts (deletion
    /// marked or not: `keep` decides); returns how many are listed now. When the index
    /// cannot be read the list stays as it was.
    pub async fn sync_with(
        &self,
        now_secs: i64,
        keep: BlockFilter<'_>,
    ) -> Result<usize, GatewayError> {
        let idx = self
            .index
            .load(&self.tenant, now_secs)
            .await
            .map_err(|source| GatewayError::Bucket {
                block: self.tenant.clone(),
                source: Box::new(source),
            })?;
        let marks: BTreeMap<Ulid, i64> = idx
            .block_deletion_marks
            .iter()
            .map(|m| (m.block_id, m.deletion_time))
            .collect();
        let (gone, listed): (Vec<Ulid>, usize) = {
            let mut blocks = lock(&self.blocks);
            let mut next = BTreeMap::new();
            for b in &idx.blocks {
                if !keep(b, marks.get(&b.block_id).copied()) {
                    continue;
                }
                let e = blocks.remove(&b.block_id).unwrap_or_else(|| {
                    Arc::new(Entry {
                        ulid: b.block_id,
                        min_time: b.min_time,
                        max_time: b.max_time,
                        open: tokio::sync::Mutex::new(None),
                        last_used: Mutex::new(Instant::now()),
                    })
                });
                next.insert(b.block_id, e);
            }
            let gone = blocks.keys().copied().collect();
            *blocks = next;
            (gone, blocks.len())
        };
        for ulid in gone {
            let dir = self.cfg.sync_dir.join(&self.tenant).join(ulid.to_string());
            // Best effort: a leftover directory only costs disk until the next sync.
            let _ = tokio::fs::remove_dir_all(dir).await;
        }
        self.synced.store(true, Ordering::Release);
        Ok(listed)
    }

    /// The ULIDs of the listed blocks, in order.
    pub fn listed(&self) -> Vec<Ulid> {
        lock(&self.blocks).keys().copied().collect()
    }

    /// The ULIDs of the blocks open now, in order.
    pub fn loaded(&self) -> Vec<Ulid> {
        lock(&self.blocks)
            .values()
            .filter(|e| e.open.try_lock().map_or(true, |b| b.is_some()))
            .map(|e| e.ulid)
            .collect()
    }

    /// Closes the blocks last used at least `idle_timeout` before `now` (blocks being
    /// opened or used are left alone); returns their ULIDs.
    pub fn unload_idle(&self, now: Instant) -> Vec<Ulid> {
        let entries: Vec<Arc<Entry>> = lock(&self.blocks).values().cloned().collect();
        let mut out = Vec::new();
        for e in entries {
            let idle = now.saturating_duration_since(*lock(&e.last_used));
            if idle < self.cfg.idle_timeout {
                continue;
            }
            if let Ok(mut slot) = e.open.try_lock()
                && slot.take().is_some()
            {
                out.push(e.ulid);
            }
        }
        out
    }

    /// True when `ulid` is listed.
    pub fn is_listed(&self, ulid: Ulid) -> bool {
        lock(&self.blocks).contains_key(&ulid)
    }

    /// The blocks open now (those being opened or used are skipped).
    fn open_blocks(&self) -> Vec<Arc<BucketBlock>> {
        let entries: Vec<Arc<Entry>> = lock(&self.blocks).values().cloned().collect();
        entries
            .iter()
            .filter_map(|e| e.open.try_lock().ok().and_then(|slot| slot.clone()))
            .collect()
    }

    /// Fetch counts summed over the blocks open now.
    pub fn stats(&self) -> FetchStats {
        let mut s = FetchStats::default();
        for b in self.open_blocks() {
            s.merge(&b.stats());
        }
        s
    }

    /// The index-headers of the blocks open now.
    pub fn index_header_usage(&self) -> IndexHeaderUsage {
        let mut u = IndexHeaderUsage::default();
        for b in self.open_blocks() {
            u.blocks += 1;
            u.file_bytes += b.index_header_size();
            u.heap_bytes += b.index_header_memory() as u64;
        }
        u
    }

    /// Those of the blocks `ids` that are listed, opened, in the order of `ids`
    /// (duplicates once); IDs not listed are skipped. Never syncs: a block set that was
    /// never synced lists nothing. A listed block that fails to open is an error.
    pub async fn open_listed(&self, ids: &[Ulid]) -> Result<Vec<Arc<BucketBlock>>, GatewayError> {
        let mut seen = std::collections::BTreeSet::new();
        let wanted: Vec<Arc<Entry>> = {
            let blocks = lock(&self.blocks);
            ids.iter()
                .filter(|id| seen.insert(**id))
                .filter_map(|id| blocks.get(id).cloned())
                .collect()
        };
        let mut out = Vec::with_capacity(wanted.len());
        for e in wanted {
            out.push(self.open(&e).await?);
        }
        Ok(out)
    }

    /// The listed blocks overlapping `[mint, maxt]`, opened (syncing first if this set
    /// was never synced).
    pub async fn blocks_for(
        &self,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Arc<BucketBlock>>, GatewayError> {
        if !self.synced.load(Ordering::Acquire) {
            self.sync(now_secs()).await?;
        }
        let wanted: Vec<Arc<Entry>> = lock(&self.blocks)
            .values()
            .filter(|e| e.overlaps(mint, maxt))
            .cloned()
            .collect();
        let mut out = Vec::with_capacity(wanted.len());
        for e in wanted {
            out.push(self.open(&e).await?);
        }
        Ok(out)
    }

    async fn open(&self, e: &Entry) -> Result<Arc<BucketBlock>, GatewayError> {
        let mut slot = e.open.lock().await;
        *lock(&e.last_used) = Instant::now();
        if let Some(b) = slot.as_ref() {
            return Ok(b.clone());
        }
        let b = BucketBlock::open(
            self.store.clone(),
            &self.tenant,
            e.ulid,
            &self.cfg.sync_dir,
            &self.cfg.block,
            self.cache.clone(),
        )
        .await?;
        let b = Arc::new(b);
        *slot = Some(b.clone());
        Ok(b)
    }

    /// The series matching `matchers` with chunks in `[mint, maxt]`, per block.
    pub async fn series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Ulid, Vec<BucketSeries>)>, GatewayError> {
        let mut out = Vec::new();
        for b in self.blocks_for(mint, maxt).await? {
            out.push((b.ulid(), b.series(matchers, mint, maxt).await?));
        }
        Ok(out)
    }

    /// Label names of the series matching `matchers` in the blocks overlapping
    /// `[mint, maxt]`, sorted and deduplicated.
    pub async fn label_names(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, GatewayError> {
        let mut names = std::collections::BTreeSet::new();
        for b in self.blocks_for(mint, maxt).await? {
            names.extend(b.label_names(matchers).await?);
        }
        Ok(names.into_iter().collect())
    }

    /// Values of `name` among the series matching `matchers` in the blocks overlapping
    /// `[mint, maxt]`, sorted and deduplicated.
    pub async fn label_values(
        &self,
        name: &str,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, GatewayError> {
        let mut values = std::collections::BTreeSet::new();
        for b in self.blocks_for(mint, maxt).await? {
            values.extend(b.label_values(name, matchers).await?);
        }
        Ok(values.into_iter().collect())
    }
}
