//! Loading a tenant's bucket index for queries, as Cortex's queriers and store-gateways
//! do: a missing index means a tenant with no blocks yet (an empty index); a corrupted
//! one is an error; one last updated longer ago than
//! `bucket_store.bucket_index.max_stale_period` is refused with
//! [`StorageError::IndexTooOld`], because the blocks it lists may be long gone or
//! incomplete and a query answered from it would silently miss data.
//!
//! A querier reads the index of a tenant on every query; [`BucketIndexReader::cached`]
//! keeps each tenant's last index in memory and reads the bucket again only once it was
//! loaded longer ago than the refresh interval (Cortex's queriers refresh theirs every
//! `bucket_store.sync_interval`). A missing index (a tenant without blocks yet) is
//! remembered for at most [`MISSING_INDEX_RECHECK`], so a tenant that only has recent
//! data does not cost a bucket request per query. The staleness check runs on every
//! load, cached or not, so a cached index is refused as soon as it gets too old. Other
//! failed loads are not cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::index::BucketIndex;
use super::updater::read_index;
use crate::storage::config::BucketIndexConfig;
use crate::storage::error::StorageError;
use crate::storage::store::BlockStore;

/// How long a cached reader remembers that a tenant has no index, at most (Cortex's
/// loader checks again after a minute too).
pub const MISSING_INDEX_RECHECK: Duration = Duration::from_secs(60);

/// A cached tenant index, or the fact that it has none.
#[derive(Debug)]
enum Cached {
    Index(Arc<BucketIndex>),
    Missing,
}

/// Tenants' indexes kept in memory, each with when it was read from the bucket.
#[derive(Debug)]
struct IndexCache {
    refresh: Duration,
    entries: Mutex<HashMap<String, (Cached, Instant)>>,
}

/// Loads tenants' bucket indexes from one bucket.
#[derive(Debug, Clone)]
pub struct BucketIndexReader {
    store: Arc<dyn BlockStore>,
    cfg: BucketIndexConfig,
    cache: Option<Arc<IndexCache>>,
}

impl BucketIndexReader {
    /// A reader over `store` applying `cfg`, reading the bucket on every load.
    pub fn new(store: Arc<dyn BlockStore>, cfg: BucketIndexConfig) -> BucketIndexReader {
        BucketIndexReader {
            store,
            cfg,
            cache: None,
        }
    }

    /// A reader over `store` applying `cfg` that keeps each tenant's index in memory and
    /// reads it again once loaded `refresh` or longer ago. Clones share the cache.
    pub fn cached(
        store: Arc<dyn BlockStore>,
        cfg: BucketIndexConfig,
        refresh: Duration,
    ) -> BucketIndexReader {
        BucketIndexReader {
            store,
            cfg,
            cache: Some(Arc::new(IndexCache {
                refresh,
                entries: Mutex::new(HashMap::new()),
            })),
        }
    }

    /// `tenant`'s index at time `now_secs`: empty (and `updated_at` = `now_secs`) when
    /// the tenant has none yet, [`StorageError::Corrupted`] when it cannot be decoded,
    /// [`StorageError::IndexTooOld`] when it is older than the max stale period.
    pub async fn load(&self, tenant: &str, now_secs: i64) -> Result<BucketIndex, StorageError> {
        self.load_shared(tenant, now_secs)
            .await
            .map(Arc::unwrap_or_clone)
    }

    /// Like [`BucketIndexReader::load`], shared: a cached index is not copied.
    pub async fn load_shared(
        &self,
        tenant: &str,
        now_secs: i64,
    ) -> Result<Arc<BucketIndex>, StorageError> {
        let cached = self.cache.as_ref().and_then(|c| {
            let entries = c.entries.lock().unwrap_or_else(|e| e.into_inner());
            match entries.get(tenant) {
                Some((Cached::Index(idx), at)) if at.elapsed() < c.refresh => {
                    Some(Some(Arc::clone(idx)))
                }
                Some((Cached::Missing, at))
                    if at.elapsed() < c.refresh.min(MISSING_INDEX_RECHECK) =>
                {
                    Some(None)
                }
                _ => None,
            }
        });
        let idx = match cached {
            Some(Some(idx)) => idx,
            // No index yet: no blocks.
            Some(None) => return Ok(Arc::new(BucketIndex::empty(now_secs))),
            None => {
                let read = read_index(&*self.store, tenant).await.map(Arc::new);
                let entry = match &read {
                    Ok(idx) => Some(Cached::Index(Arc::clone(idx))),
                    Err(StorageError::NotFound { .. }) => Some(Cached::Missing),
                    Err(_) => None,
                };
                if let (Some(c), Some(entry)) = (&self.cache, entry) {
                    c.entries
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(tenant.to_string(), (entry, Instant::now()));
                }
                match read {
                    Ok(idx) => idx,
                    Err(StorageError::NotFound { .. }) => {
                        return Ok(Arc::new(BucketIndex::empty(now_secs)));
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        self.check_age(tenant, &idx, now_secs)?;
        Ok(idx)
    }

    /// Forgets the cached index of `tenant`, so the next load reads the bucket.
    pub fn invalidate(&self, tenant: &str) {
        if let Some(c) = &self.cache {
            c.entries
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(tenant);
        }
    }

    /// Forgets every cached index.
    pub fn invalidate_all(&self) {
        if let Some(c) = &self.cache {
            c.entries.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    fn check_age(
        &self,
        tenant: &str,
        idx: &BucketIndex,
        now_secs: i64,
    ) -> Result<(), StorageError> {
        let max = self.cfg.max_stale_period.0.as_secs();
        if max > 0 {
            let age = now_secs.saturating_sub(idx.updated_at);
            if age > 0 && age as u64 > max {
                return Err(StorageError::IndexTooOld {
                    tenant: tenant.to_string(),
                    updated_at: idx.updated_at,
                    age_secs: age as u64,
                    max_stale_secs: max,
                });
            }
        }
        Ok(())
    }
}
