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
//! `bucket_store.sync_interval`). The staleness check runs on every load, cached or
//! not, so a cached index is refused as soon as it gets too old. Failed loads are not
//! cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::index::BucketIndex;
use super::updater::read_index;
use crate::storage::config::BucketIndexConfig;
use crate::storage::error::StorageError;
use crate::storage::store::BlockStore;

/// Tenants' indexes kept in memory, each with when it was read from the bucket.
#[derive(Debug)]
struct IndexCache {
    refresh: Duration,
    entries: Mutex<HashMap<String, (Arc<BucketIndex>, Instant)>>,
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
            entries
                .get(tenant)
                .filter(|(_, at)| at.elapsed() < c.refresh)
                .map(|(idx, _)| Arc::clone(idx))
        });
        let idx = match cached {
            Some(idx) => idx,
            None => {
                let idx = match read_index(&*self.store, tenant).await {
                    Ok(idx) => Arc::new(idx),
                    // No index yet: no blocks. Not cached, so the first index written
                    // is seen at once.
                    Err(StorageError::NotFound { .. }) => {
                        return Ok(Arc::new(BucketIndex::empty(now_secs)));
                    }
                    Err(e) => return Err(e),
                };
                if let Some(c) = &self.cache {
                    c.entries
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(tenant.to_string(), (Arc::clone(&idx), Instant::now()));
                }
                idx
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
