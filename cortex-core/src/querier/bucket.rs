//! A tenant's blocks in the bucket, queryable: [`BucketBlocks`] keeps the list of the
//! tenant's blocks (refreshed at most every `sync_interval`), opens each block on first
//! use and keeps it open until it disappears from the bucket, and selects series and
//! label names/values from the blocks that overlap a time range and are not excluded
//! (the blocks the ingester still has locally: it ships a block under the ULID it has
//! locally, so those hold identical data). [`BucketReader`] hands out one
//! [`BucketBlocks`] per tenant, so the list and the open blocks outlive each request.
//!
//! A block that was listed is never silently skipped: if it cannot be opened (or
//! downloaded), the call fails with [`QuerierError::Block`] naming it. A block of a
//! cached (remote) store that fails to open from its cached copy is downloaded once
//! more before that. Deletion-marked blocks are left out as soon as the mark is seen:
//! the compactor marks a block only after uploading what replaces it, and the
//! replacement is listed in the same sync. A failed listing fails the call (and the
//! next call lists again) rather than answering from an unknown set of blocks.
//!
//! Calls block the calling thread; with a remote store they wait for tasks on the tokio
//! runtime given at construction, so they must run off that runtime's worker threads
//! (see `bucket_sync`). Listing and downloading are in `bucket_sync.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cortex_tsdb::block::Block;
use cortex_tsdb::labels::Matcher;
use cortex_tsdb::querier::{Series, merge_series, select_block};
use cortex_tsdb::ulid::Ulid;
use tokio::runtime::Handle;

use super::QuerierError;
use super::bucket_sync::Source;
use crate::ingester::Bucket;

/// How bucket blocks are read (Cortex's `blocks_storage.bucket_store` options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketBlocksConfig {
    /// `blocks_storage.bucket_store.sync_interval`: how often a tenant's block list is
    /// read from the bucket again (at most; a list is read when a query needs it).
    pub sync_interval: Duration,
    /// `blocks_storage.bucket_store.sync_dir`: where blocks of a remote bucket are
    /// downloaded (`<sync_dir>/<tenant>/<ULID>/`). Unused for a local bucket, whose
    /// blocks are opened in place.
    pub sync_dir: PathBuf,
}

impl Default for BucketBlocksConfig {
    fn default() -> BucketBlocksConfig {
        BucketBlocksConfig {
            sync_interval: Duration::from_secs(15 * 60),
            sync_dir: PathBuf::from("tsdb-sync"),
        }
    }
}

/// One listed block: its time range (or why its meta could not be read) and the
/// block once opened.
struct Listed {
    ulid: Ulid,
    range: Result<(i64, i64), String>,
    /// Held while the block is opened (and downloaded), so that happens once.
    open: Mutex<Option<Arc<Block>>>,
}

impl Listed {
    fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        // A block whose meta is unreadable might hold anything.
        self.range
            .as_ref()
            .map_or(true, |&(lo, hi)| lo <= maxt && mint < hi)
    }
}

#[derive(Default)]
struct State {
    synced_at: Option<Instant>,
    blocks: BTreeMap<Ulid, Arc<Listed>>,
}

/// A tenant's blocks in the bucket (see the module documentation).
pub struct BucketBlocks {
    tenant: String,
    source: Source,
    sync_interval: Duration,
    /// Serializes listings.
    sync_lock: Mutex<()>,
    state: Mutex<State>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl BucketBlocks {
    /// The blocks of `tenant` in `bucket`. A local-filesystem bucket
    /// ([`Bucket::local_dir`]) is read in place; any other store through `runtime`,
    /// downloading blocks under `cfg.sync_dir`. Nothing is read until the first call.
    pub fn new(
        bucket: &Bucket,
        tenant: &str,
        cfg: &BucketBlocksConfig,
        runtime: Handle,
    ) -> BucketBlocks {
        let source = match bucket.local_dir() {
            Some(dir) => Source::Local {
                root: dir.join(tenant),
            },
            None => Source::Remote {
                store: bucket.store().clone(),
                runtime,
                prefix: tenant.to_string(),
                cache: cfg.sync_dir.join(tenant),
            },
        };
        // No download runs yet: partial ones are leftovers of an earlier process.
        source.clean_cache(None);
        BucketBlocks {
            tenant: tenant.to_string(),
            source,
            sync_interval: cfg.sync_interval,
            sync_lock: Mutex::new(()),
            state: Mutex::new(State::default()),
        }
    }

    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Reads the block list from the bucket now. Blocks that left the bucket (or got
    /// a deletion mark) are dropped, with their downloaded copies.
    pub fn sync(&self) -> Result<(), QuerierError> {
        let _one = lock(&self.sync_lock);
        self.sync_locked()
    }

    fn sync_locked(&self) -> Result<(), QuerierError> {
        let known: BTreeSet<Ulid> = lock(&self.state).blocks.keys().copied().collect();
        let found = self.source.list(&known).map_err(|e| {
            QuerierError::Storage(format!(
                "listing the blocks of tenant {} in the bucket: {e}",
                self.tenant
            ))
        })?;
        let keep: BTreeSet<Ulid> = found.iter().map(|f| f.ulid).collect();
        {
            let mut st = lock(&self.state);
            let mut blocks = BTreeMap::new();
            for f in found {
                let entry = match (f.range, st.blocks.get(&f.ulid)) {
                    (Some(range), _) => Arc::new(Listed {
                        ulid: f.ulid,
                        range,
                        open: Mutex::new(None),
                    }),
                    (None, Some(old)) => old.clone(),
                    // Known when listing started but dropped meanwhile: only another
                    // sync changes the list, and syncs are serialized.
                    (None, None) => continue,
                };
                blocks.insert(f.ulid, entry);
            }
            st.blocks = blocks;
            st.synced_at = Some(Instant::now());
        }
        self.source.clean_cache(Some(&keep));
        Ok(())
    }

    /// Lists again when the last list is older than `sync_interval` (or there is none).
    fn maybe_sync(&self) -> Result<(), QuerierError> {
        let due = |st: &State| {
            st.synced_at
                .is_none_or(|t| t.elapsed() >= self.sync_interval)
        };
        if !due(&lock(&self.state)) {
            return Ok(());
        }
        let _one = lock(&self.sync_lock);
        // Another caller may have listed while this one waited.
        if !due(&lock(&self.state)) {
            return Ok(());
        }
        self.sync_locked()
    }

    /// The ULIDs of the blocks listed now, in order.
    pub fn listed(&self) -> Vec<Ulid> {
        lock(&self.state).blocks.keys().copied().collect()
    }

    /// The listed blocks overlapping `[mint, maxt]` and not in `exclude`, opened.
    fn blocks_for(
        &self,
        mint: i64,
        maxt: i64,
        exclude: &BTreeSet<Ulid>,
    ) -> Result<Vec<Arc<Block>>, QuerierError> {
        self.maybe_sync()?;
        let wanted: Vec<Arc<Listed>> = lock(&self.state)
            .blocks
            .values()
            .filter(|l| !exclude.contains(&l.ulid) && l.overlaps(mint, maxt))
            .cloned()
            .collect();
        wanted.iter().map(|l| self.open(l)).collect()
    }

    fn block_err(&self, ulid: Ulid, reason: String) -> QuerierError {
        QuerierError::Block {
            tenant: self.tenant.clone(),
            block: ulid.to_string(),
            reason,
        }
    }

    fn open(&self, l: &Listed) -> Result<Arc<Block>, QuerierError> {
        let mut slot = lock(&l.open);
        if let Some(b) = slot.as_ref() {
            return Ok(b.clone());
        }
        if let Err(e) = &l.range {
            return Err(self.block_err(l.ulid, e.clone()));
        }
        let try_open = |fresh: bool| -> Result<Block, String> {
            let dir = self.source.block_dir(l.ulid, fresh)?;
            Block::open(&dir).map_err(|e| e.to_string())
        };
        let block = match try_open(false) {
            Ok(b) => Ok(b),
            Err(_) if self.source.is_cached() => try_open(true),
            Err(e) => Err(e),
        }
        .map_err(|e| self.block_err(l.ulid, e))?;
        let block = Arc::new(block);
        *slot = Some(block.clone());
        Ok(block)
    }

    /// The series matching all `matchers` with samples in `[mint, maxt]` from the
    /// blocks not in `exclude`, in label order, each merged across blocks.
    pub fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        exclude: &BTreeSet<Ulid>,
    ) -> Result<Vec<Series>, QuerierError> {
        let blocks = self.blocks_for(mint, maxt, exclude)?;
        let mut lists = Vec::with_capacity(blocks.len());
        for b in &blocks {
            lists.push(
                select_block(b, matchers, mint, maxt)
                    .map_err(|e| self.block_err(b.meta().ulid, e.to_string()))?,
            );
        }
        Ok(merge_series(lists))
    }

    /// Label names of the series matching `matchers` (all when empty) in the blocks
    /// overlapping `[mint, maxt]` and not in `exclude`, sorted.
    pub fn label_names(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
        exclude: &BTreeSet<Ulid>,
    ) -> Result<Vec<String>, QuerierError> {
        let mut names = BTreeSet::new();
        for b in self.blocks_for(mint, maxt, exclude)? {
            names.extend(
                block_label_names(&b, matchers)
                    .map_err(|e| self.block_err(b.meta().ulid, e.to_string()))?,
            );
        }
        Ok(names.into_iter().collect())
    }

    /// Values of label `name` among the series matching `matchers` in the blocks
    /// overlapping `[mint, maxt]` and not in `exclude`, sorted.
    pub fn label_values(
        &self,
        name: &str,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
        exclude: &BTreeSet<Ulid>,
    ) -> Result<Vec<String>, QuerierError> {
        let mut values = BTreeSet::new();
        for b in self.blocks_for(mint, maxt, exclude)? {
            values.extend(
                block_label_values(&b, name, matchers)
                    .map_err(|e| self.block_err(b.meta().ulid, e.to_string()))?,
            );
        }
        Ok(values.into_iter().collect())
    }
}

/// Label names of the series of `b` matching `matchers` (all when empty).
pub(crate) fn block_label_names(
    b: &Block,
    matchers: &[Matcher],
) -> cortex_tsdb::Result<Vec<String>> {
    let found = if matchers.is_empty() {
        b.index().label_names()
    } else {
        b.index().label_names_matching(matchers)?
    };
    Ok(found
        .into_iter()
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect())
}

/// Values of `name` among the series of `b` matching `matchers` (all when empty).
pub(crate) fn block_label_values(
    b: &Block,
    name: &str,
    matchers: &[Matcher],
) -> cortex_tsdb::Result<Vec<String>> {
    let found = if matchers.is_empty() {
        b.index().label_values(name)?
    } else {
        b.index().label_values_matching(name, matchers)?
    };
    Ok(found.into_iter().map(str::to_string).collect())
}

/// One [`BucketBlocks`] per tenant over one bucket, made on first use and kept, so
/// block lists and open blocks are shared by all requests.
pub struct BucketReader {
    bucket: Bucket,
    cfg: BucketBlocksConfig,
    runtime: Handle,
    tenants: Mutex<HashMap<String, Arc<BucketBlocks>>>,
}

impl BucketReader {
    /// A reader of `bucket`; `runtime` runs the calls to a remote store.
    pub fn new(bucket: Bucket, cfg: BucketBlocksConfig, runtime: Handle) -> BucketReader {
        BucketReader {
            bucket,
            cfg,
            runtime,
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// The blocks of `tenant`.
    pub fn tenant(&self, tenant: &str) -> Arc<BucketBlocks> {
        lock(&self.tenants)
            .entry(tenant.to_string())
            .or_insert_with(|| {
                Arc::new(BucketBlocks::new(
                    &self.bucket,
                    tenant,
                    &self.cfg,
                    self.runtime.clone(),
                ))
            })
            .clone()
    }
}
