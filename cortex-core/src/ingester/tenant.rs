//! One tenant's TSDB as the ingester holds it: the [`Db`] in `<tsdb dir>/<tenant>/`,
//! the time of its last accepted sample (for idle compaction and idle closing), the
//! blocks the shipper recorded as uploaded, and the state that lets
//! an idle TSDB be closed without racing a push.
//!
//! Pushes hold the state's read lock while they append; closing takes the write lock,
//! so it waits for pushes in flight, and a push that finds the TSDB closed asks for it
//! again (which opens a fresh one).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use cortex_tsdb::db::{Db, DbOptions};
use cortex_tsdb::head::HeadOptions;
use cortex_tsdb::ulid::Ulid;

use super::config::TsdbConfig;
use super::error::IngesterError;
use super::rate::IngestionRates;
use super::shipper_meta::ShipperMeta;

/// Whether a tenant TSDB takes writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantState {
    /// Open.
    Active,
    /// Closed (idle, or the ingester stopped); ask for the tenant again.
    Closed,
}

/// One tenant's TSDB and its bookkeeping.
pub struct TenantDb {
    tenant: String,
    db: Arc<Db>,
    state: RwLock<TenantState>,
    last_update_ms: AtomicI64,
    shipped: Mutex<BTreeSet<Ulid>>,
    /// Held while the tenant's blocks are shipped (closing waits for it).
    pub(crate) ship_lock: tokio::sync::Mutex<()>,
    /// When this process last wrote (or found no need to write) the tenant's bucket
    /// index.
    index_updated: Mutex<Option<Instant>>,
    rates: IngestionRates,
    /// Head counters already reported as metrics.
    pub(crate) reported_created: AtomicU64,
    pub(crate) reported_removed: AtomicU64,
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl TenantDb {
    /// Opens (creating if needed) the TSDB of `tenant` under `cfg.dir`, replaying its
    /// WAL, with the out-of-order window `ooo_window_ms`.
    pub fn open(
        cfg: &TsdbConfig,
        tenant: &str,
        ooo_window_ms: i64,
    ) -> Result<TenantDb, IngesterError> {
        let dir = cfg.dir.join(tenant);
        let range = cfg.block_range_ms();
        let opts = DbOptions {
            head: HeadOptions {
                chunk_range: range,
                out_of_order_window: ooo_window_ms.max(0),
                wal: true,
                wal_compression: cfg.wal_compression().map_err(IngesterError::Config)?,
                wal_segment_size: cfg.wal_segment_size_bytes,
                ..HeadOptions::default()
            },
            // The ingester owns retention: blocks go once shipped and old enough.
            retention: None,
            max_block_duration: range,
            read_only: false,
            compaction_interval: None,
            max_exemplars: cfg.max_exemplars.max(0) as usize,
        };
        let db = Db::open(&dir, opts).map_err(|e| IngesterError::tsdb(tenant, e))?;
        let shipped = ShipperMeta::read(&dir)?
            .map(|m| m.uploaded)
            .unwrap_or_default();
        let head = db.head();
        // As in Cortex: a replayed head counts as updated at its newest sample, so an
        // old head becomes idle soon; a new or empty one only after a full timeout.
        let last = if head.num_series() > 0 && head.max_time() != i64::MIN {
            head.max_time()
        } else {
            now_ms()
        };
        let created = head.stats().series_created.load(Ordering::Relaxed);
        let removed = head.stats().series_removed.load(Ordering::Relaxed);
        Ok(TenantDb {
            tenant: tenant.to_string(),
            db,
            state: RwLock::new(TenantState::Active),
            last_update_ms: AtomicI64::new(last),
            shipped: Mutex::new(shipped.into_iter().collect()),
            ship_lock: tokio::sync::Mutex::new(()),
            index_updated: Mutex::new(None),
            rates: IngestionRates::default(),
            reported_created: AtomicU64::new(created),
            reported_removed: AtomicU64::new(removed),
        })
    }

    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The TSDB.
    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// The TSDB directory.
    pub fn dir(&self) -> &Path {
        self.db.dir()
    }

    /// The directory as an owned path.
    pub fn dir_buf(&self) -> PathBuf {
        self.db.dir().to_path_buf()
    }

    /// Takes the state for a push; `None` when the TSDB was closed.
    pub(crate) fn begin_write(&self) -> Option<RwLockReadGuard<'_, TenantState>> {
        let g = self.state.read().unwrap_or_else(|e| e.into_inner());
        (*g == TenantState::Active).then_some(g)
    }

    /// The state lock, for closing.
    pub(crate) fn state(&self) -> &RwLock<TenantState> {
        &self.state
    }

    /// Unix ms of the last push that stored something.
    pub fn last_update_ms(&self) -> i64 {
        self.last_update_ms.load(Ordering::Acquire)
    }

    /// Records a push that stored something at wall-clock `ms`.
    pub fn set_last_update_ms(&self, ms: i64) {
        self.last_update_ms.store(ms, Ordering::Release);
    }

    /// True when nothing was stored for `idle_ms` before `now_ms`.
    pub fn is_idle(&self, now_ms: i64, idle_ms: i64) -> bool {
        now_ms.saturating_sub(self.last_update_ms()) > idle_ms
    }

    /// The blocks recorded as uploaded.
    pub fn shipped(&self) -> BTreeSet<Ulid> {
        self.shipped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// When this process last wrote the tenant's bucket index, or found it needed none
    /// (`None`: not yet).
    pub(crate) fn index_updated(&self) -> Option<Instant> {
        *self.index_updated.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that the tenant's bucket index was written (or looked at) at `at`.
    pub(crate) fn set_index_updated(&self, at: Instant) {
        *self.index_updated.lock().unwrap_or_else(|e| e.into_inner()) = Some(at);
    }

    /// Replaces the record of uploaded blocks (after the shipper wrote it to disk).
    pub(crate) fn set_shipped(&self, uploaded: impl IntoIterator<Item = Ulid>) {
        *self.shipped.lock().unwrap_or_else(|e| e.into_inner()) = uploaded.into_iter().collect();
    }

    /// True when every local block was uploaded.
    pub fn all_blocks_shipped(&self) -> bool {
        let shipped = self.shipped();
        self.db
            .blocks()
            .iter()
            .all(|b| shipped.contains(&b.meta().ulid))
    }

    /// The tenant's ingestion rates.
    pub fn rates(&self) -> &IngestionRates {
        &self.rates
    }
}
