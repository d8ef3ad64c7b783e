//! Keeping a tenant's bucket index (`<tenant>/bucket-index.json.gz`) current as the
//! shipper uploads its blocks, so store-gateways and queriers find new blocks without
//! scanning the bucket. After a tenant's ship the index is rebuilt and written when:
//!
//! - the ship uploaded at least one block;
//! - this process has not looked at it yet (since the tenant's TSDB was opened) and
//!   the tenant has shipped blocks, or the index is missing while the bucket holds
//!   blocks of the tenant (an index is never written for a tenant without blocks: it
//!   would go stale and be refused, where a missing one reads as empty);
//! - the tenant has shipped blocks and this process last wrote it more than
//!   [`INDEX_REFRESH`] ago, which keeps it well inside readers' max stale period (1h by
//!   default) while the tenant is active.
//!
//! Updating is best effort: a failure is counted and never fails the ship, and it is
//! tried again on the next ship. Several ingesters may update the same tenant's index
//! at once and one write may overwrite another's; that loses nothing for long, because
//! every update rebuilds the index from the bucket's listing (reusing only what the old
//! index says about blocks still there), so the next update by anyone repairs it.

use std::time::{Duration, Instant};

use super::tenant::{TenantDb, now_ms};
use crate::storage::bucketindex::{index_path, update_and_write_index};
use crate::storage::layout::{exists, list_blocks};
use crate::storage::{BlockStore, StorageError};

/// How long an index this process wrote is left alone while nothing new is uploaded.
pub const INDEX_REFRESH: Duration = Duration::from_secs(5 * 60);

/// What [`maybe_update`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IndexUpdate {
    /// Not due.
    Skipped,
    /// Written.
    Updated,
    /// Due, but reading the bucket or writing the index failed.
    Failed(String),
}

/// Updates the bucket index of `t` in `store` if it is due (see the module
/// documentation); `uploaded` blocks were uploaded by this ship and `has_shipped` says
/// whether the tenant has blocks this process knows are in the bucket.
pub(crate) async fn maybe_update(
    t: &TenantDb,
    store: &dyn BlockStore,
    uploaded: usize,
    has_shipped: bool,
) -> IndexUpdate {
    let tenant = t.tenant();
    let last = t.index_updated();
    let due = match last {
        _ if uploaded > 0 => true,
        None if has_shipped => true,
        None => match needs_index(store, tenant).await {
            Ok(need) => need,
            Err(e) => return IndexUpdate::Failed(format!("bucket index of {tenant}: {e}")),
        },
        Some(at) => has_shipped && at.elapsed() >= INDEX_REFRESH,
    };
    if !due {
        if last.is_none() {
            // Looked at: not checked again until there is something to index.
            t.set_index_updated(Instant::now());
        }
        return IndexUpdate::Skipped;
    }
    let now_secs = now_ms().div_euclid(1000);
    match update_and_write_index(store, tenant, now_secs).await {
        Ok(_) => {
            t.set_index_updated(Instant::now());
            IndexUpdate::Updated
        }
        Err(e) => IndexUpdate::Failed(format!("bucket index of {tenant}: {e}")),
    }
}

/// True when `tenant` has no bucket index but has blocks in the bucket.
async fn needs_index(store: &dyn BlockStore, tenant: &str) -> Result<bool, StorageError> {
    if exists(store, &index_path(tenant)).await? {
        return Ok(false);
    }
    Ok(!list_blocks(store, tenant).await?.is_empty())
}

/// How often an ingester looks for tenants whose bucket index went stale without a
/// ship.
pub const STALE_INDEX_CHECK: Duration = Duration::from_secs(5 * 60);

/// A bucket index last written longer ago than this is rewritten by
/// [`refresh_stale`] (Cortex's compactor cleanup interval).
pub const STALE_INDEX_AGE: Duration = Duration::from_secs(15 * 60);

/// What [`refresh_stale`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaleRefresh {
    /// Tenants looked at.
    pub tenants: usize,
    /// Indexes written.
    pub updated: usize,
    /// Failures, as `(tenant, error)`; the tenant is empty when the bucket could not
    /// be listed.
    pub failed: Vec<(String, String)>,
}

/// Rewrites the bucket index of every tenant in `store` whose index was last written
/// more than `max_age` before `now_ms` (or is missing while the tenant has blocks).
///
/// A tenant's index is otherwise kept current by the ingesters that ship its blocks;
/// once none holds the tenant (its TSDB closed for idleness, or the ingester
/// restarted) nothing would, and readers refuse an index older than their max stale
/// period. Rewriting it keeps the tenant's old blocks queryable. Every ingester runs
/// this; an index another one just rewrote is young and left alone, and the object's
/// modification time is checked first, so a fresh index costs one `head`.
pub async fn refresh_stale(store: &dyn BlockStore, now_ms: i64, max_age: Duration) -> StaleRefresh {
    let mut out = StaleRefresh::default();
    let tenants = match crate::storage::layout::list_tenants(store).await {
        Ok(t) => t,
        Err(e) => {
            out.failed.push((String::new(), e.to_string()));
            return out;
        }
    };
    let max_age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
    for tenant in tenants {
        out.tenants += 1;
        let due = match store.head(&index_path(&tenant)).await {
            Ok(info) => now_ms.saturating_sub(info.last_modified_ms) > max_age_ms,
            Err(StorageError::NotFound { .. }) => match list_blocks(store, &tenant).await {
                Ok(blocks) => !blocks.is_empty(),
                Err(e) => {
                    out.failed.push((tenant, e.to_string()));
                    continue;
                }
            },
            Err(e) => {
                out.failed.push((tenant, e.to_string()));
                continue;
            }
        };
        if !due {
            continue;
        }
        match update_and_write_index(store, &tenant, now_ms.div_euclid(1000)).await {
            Ok(_) => out.updated += 1,
            Err(e) => out.failed.push((tenant, e.to_string())),
        }
    }
    out
}
