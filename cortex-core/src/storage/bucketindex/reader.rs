//! Loading a tenant's bucket index for queries, as Cortex's queriers and store-gateways
//! do: a missing index means a tenant with no blocks yet (an empty index); a corrupted
//! one is an error; one last updated longer ago than
//! `bucket_store.bucket_index.max_stale_period` is refused with
//! [`StorageError::IndexTooOld`], because the blocks it lists may be long gone or
//! incomplete and a query answered from it would silently miss data.

use std::sync::Arc;

use super::index::BucketIndex;
use super::updater::read_index;
use crate::storage::config::BucketIndexConfig;
use crate::storage::error::StorageError;
use crate::storage::store::BlockStore;

/// Loads tenants' bucket indexes from one bucket.
#[derive(Debug, Clone)]
pub struct BucketIndexReader {
    store: Arc<dyn BlockStore>,
    cfg: BucketIndexConfig,
}

impl BucketIndexReader {
    /// A reader over `store` applying `cfg`.
    pub fn new(store: Arc<dyn BlockStore>, cfg: BucketIndexConfig) -> BucketIndexReader {
        BucketIndexReader { store, cfg }
    }

    /// `tenant`'s index at time `now_secs`: empty (and `updated_at` = `now_secs`) when
    /// the tenant has none yet, [`StorageError::Corrupted`] when it cannot be decoded,
    /// [`StorageError::IndexTooOld`] when it is older than the max stale period.
    pub async fn load(&self, tenant: &str, now_secs: i64) -> Result<BucketIndex, StorageError> {
        let idx = match read_index(&*self.store, tenant).await {
            Ok(idx) => idx,
            Err(StorageError::NotFound { .. }) => return Ok(BucketIndex::empty(now_secs)),
            Err(e) => return Err(e),
        };
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
        Ok(idx)
    }
}
