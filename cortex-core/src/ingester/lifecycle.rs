//! What happens to a tenant TSDB over time, one step per function: head compaction
//! (regular when due, whole-head when idle or forced), local retention of blocks, and
//! closing an idle TSDB.
//!
//! Retention follows Cortex: a block is deleted once its end lies `retention_period`
//! behind the wall clock and, when shipping is on, once it was uploaded. An idle TSDB
//! (nothing stored for `close_idle_tsdb_timeout`, head empty, every block uploaded) is
//! closed and its local directory deleted, as Cortex does; the next push to the tenant
//! opens a new one.

use std::sync::Arc;

use cortex_tsdb::ulid::Ulid;

use super::config::TsdbConfig;
use super::error::IngesterError;
use super::metrics::IngesterMetrics;
use super::tenant::{TenantDb, TenantState};
use super::tenants::TenantDbs;

/// Compacts the tenant's head: the whole head when `force`, or when the head is idle
/// past `head_compaction_idle_timeout`; otherwise whatever is due. Returns the blocks
/// cut.
pub(crate) fn compact_tenant(
    t: &TenantDb,
    cfg: &TsdbConfig,
    force: bool,
    now_ms: i64,
    metrics: &IngesterMetrics,
) -> Result<usize, IngesterError> {
    let head = t.db().head();
    let idle_timeout = cfg.head_compaction_idle_timeout;
    let idle = !idle_timeout.is_zero()
        && head.num_series() > 0
        && t.is_idle(now_ms, idle_timeout.as_millis_i64());
    metrics.compactions_triggered.inc();
    let res = if force || idle {
        t.db().compact_head_all().map(|v| v.len())
    } else {
        t.db().compact().map(|s| s.head_blocks as usize)
    };
    match res {
        Ok(n) => {
            metrics.compactions.inc_by(n as u64);
            Ok(n)
        }
        Err(e) => {
            metrics.compactions_failed.inc();
            Err(IngesterError::tsdb(t.tenant(), e))
        }
    }
}

/// Deletes local blocks past the retention period (uploaded ones only, when shipping
/// is on); returns how many.
pub(crate) fn apply_retention(
    t: &TenantDb,
    cfg: &TsdbConfig,
    now_ms: i64,
    metrics: &IngesterMetrics,
) -> Result<u32, IngesterError> {
    let retention = cfg.retention_period.as_millis_i64();
    let shipped = t.shipped();
    let old: Vec<Ulid> = t
        .db()
        .blocks()
        .iter()
        .map(|b| b.meta())
        .filter(|m| now_ms.saturating_sub(m.max_time) >= retention)
        .filter(|m| !cfg.shipping_enabled() || shipped.contains(&m.ulid))
        .map(|m| m.ulid)
        .collect();
    if old.is_empty() {
        return Ok(0);
    }
    let n = t
        .db()
        .delete_blocks(&old)
        .map_err(|e| IngesterError::tsdb(t.tenant(), e))?;
    metrics.retention_deleted_blocks.inc_by(u64::from(n));
    Ok(n)
}

/// The outcome of an idle check: Cortex's `result` label values of
/// `cortex_ingester_idle_tsdb_checks_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleCheck {
    /// Shipping is off, so local data is never deleted.
    ShippingDisabled,
    /// Something was stored within the timeout.
    NotIdle,
    /// The head still holds series.
    NotCompacted,
    /// Some block was not uploaded yet.
    NotShipped,
    /// Shipping or closing is in progress.
    NotActive,
    /// Closing the TSDB failed.
    CloseFailed,
    /// Deleting the local directory failed.
    DataRemovalFailed,
    /// Closed and deleted.
    IdleClosed,
}

impl IdleCheck {
    /// Cortex's label value.
    pub fn as_str(self) -> &'static str {
        match self {
            IdleCheck::ShippingDisabled => "shipping_disabled",
            IdleCheck::NotIdle => "not_idle",
            IdleCheck::NotCompacted => "not_compacted",
            IdleCheck::NotShipped => "not_shipped",
            IdleCheck::NotActive => "not_active",
            IdleCheck::CloseFailed => "close_failed",
            IdleCheck::DataRemovalFailed => "data_removal_failed",
            IdleCheck::IdleClosed => "idle_closed",
        }
    }
}

fn should_close(t: &TenantDb, cfg: &TsdbConfig, now_ms: i64) -> Option<IdleCheck> {
    if !cfg.shipping_enabled() {
        return Some(IdleCheck::ShippingDisabled);
    }
    if !t.is_idle(now_ms, cfg.close_idle_tsdb_timeout.as_millis_i64()) {
        return Some(IdleCheck::NotIdle);
    }
    if t.db().head().num_series() > 0 {
        return Some(IdleCheck::NotCompacted);
    }
    if !t.all_blocks_shipped() {
        return Some(IdleCheck::NotShipped);
    }
    None
}

/// Closes the tenant's TSDB and deletes its directory when it is idle (see the module
/// documentation).
pub(crate) fn close_if_idle(tenants: &TenantDbs, t: &Arc<TenantDb>, now_ms: i64) -> IdleCheck {
    let cfg = tenants.config();
    if let Some(r) = should_close(t, cfg, now_ms) {
        return r;
    }
    let Ok(_ship) = t.ship_lock.try_lock() else {
        return IdleCheck::NotActive;
    };
    // Waits for pushes in flight; pushes arriving now wait for the outcome.
    let mut state = t.state().write().unwrap_or_else(|e| e.into_inner());
    if *state != TenantState::Active {
        return IdleCheck::NotActive;
    }
    if let Some(r) = should_close(t, cfg, now_ms) {
        return r;
    }
    if t.db().close().is_err() {
        return IdleCheck::CloseFailed;
    }
    *state = TenantState::Closed;
    // Deleted before the entry goes, so a push that reopens the tenant starts afresh.
    let removed = std::fs::remove_dir_all(t.dir());
    tenants.remove(t);
    drop(state);
    match removed {
        Ok(()) => IdleCheck::IdleClosed,
        Err(_) => IdleCheck::DataRemovalFailed,
    }
}
