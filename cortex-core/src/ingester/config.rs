//! The ingester's configuration: Cortex's `blocks_storage.tsdb` section ([`TsdbConfig`])
//! and the options of Cortex's `ingester` section that this ingester implements
//! ([`IngesterConfig`]), with Cortex's YAML names and defaults.
//!
//! Unknown keys are refused rather than ignored, so a Cortex option this ingester does
//! not implement (`stripe_size`, `head_chunks_write_queue_size`,
//! `memory_snapshot_on_shutdown`, `expanded_postings_cache`, ...) is reported instead of
//! silently doing nothing. Data directories default under `./data`, the single
//! binary's data directory.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::duration::GoDuration;
use cortex_tsdb::wal::Compression;

/// Cortex's `blocks_storage.tsdb` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TsdbConfig {
    /// Local directory holding one TSDB per tenant (`<dir>/<tenant>/`).
    pub dir: PathBuf,
    /// TSDB block range; the ingester cuts blocks of exactly this width. Cortex takes a
    /// list; only a single range is supported here.
    pub block_ranges_period: Vec<GoDuration>,
    /// How long a block stays on local disk after its end (and, with shipping on, only
    /// once it was uploaded).
    pub retention_period: GoDuration,
    /// How often new blocks are uploaded to the bucket; 0 disables shipping.
    pub ship_interval: GoDuration,
    /// How many tenants ship blocks at once.
    pub ship_concurrency: usize,
    /// How often heads are checked for a block to cut (more than 0, at most 30m).
    pub head_compaction_interval: GoDuration,
    /// How many tenants compact their head at once.
    pub head_compaction_concurrency: usize,
    /// A head that received no sample for this long is cut into blocks whole; 0
    /// disables.
    pub head_compaction_idle_timeout: GoDuration,
    /// WAL compression: `""` (none), `snappy` or `zstd`.
    pub wal_compression_type: String,
    /// Maximum size of one WAL segment file.
    pub wal_segment_size_bytes: u64,
    /// Cut every head into blocks and upload them when the ingester shuts down.
    pub flush_blocks_on_shutdown: bool,
    /// A tenant TSDB that received nothing for this long, whose head is empty and whose
    /// blocks are all shipped, is closed and its local directory deleted; 0 disables.
    pub close_idle_tsdb_timeout: GoDuration,
    /// How many TSDBs are opened (WAL replayed) at once at startup.
    pub max_tsdb_opening_concurrency_on_startup: usize,
    /// Exemplars kept per tenant; 0 disables exemplar storage.
    pub max_exemplars: i64,
}

impl Default for TsdbConfig {
    fn default() -> Self {
        TsdbConfig {
            dir: PathBuf::from("./data/tsdb"),
            block_ranges_period: vec![GoDuration::hours(2)],
            retention_period: GoDuration::hours(6),
            ship_interval: GoDuration::minutes(1),
            ship_concurrency: 10,
            head_compaction_interval: GoDuration::minutes(1),
            head_compaction_concurrency: 5,
            head_compaction_idle_timeout: GoDuration::hours(1),
            wal_compression_type: String::new(),
            wal_segment_size_bytes: cortex_tsdb::wal::DEFAULT_SEGMENT_SIZE,
            flush_blocks_on_shutdown: false,
            close_idle_tsdb_timeout: GoDuration::ZERO,
            max_tsdb_opening_concurrency_on_startup: 10,
            max_exemplars: 0,
        }
    }
}

impl TsdbConfig {
    /// Checks the values against what Cortex and this ingester accept.
    pub fn validate(&self) -> Result<(), String> {
        match self.block_ranges_period.as_slice() {
            [] => return Err("empty block ranges for TSDB".into()),
            [r] if r.as_millis_i64() <= 0 => {
                return Err("blocks_storage.tsdb.block_ranges_period must be positive".into());
            }
            [_] => {}
            _ => {
                return Err(
                    "blocks_storage.tsdb.block_ranges_period: the ingester supports exactly one block range"
                        .into(),
                );
            }
        }
        if !self.ship_interval.is_zero() && self.ship_concurrency == 0 {
            return Err("invalid TSDB ship concurrency".into());
        }
        let interval = self.head_compaction_interval;
        if interval.is_zero() || interval > GoDuration::minutes(30) {
            return Err("invalid TSDB compaction interval".into());
        }
        if self.head_compaction_concurrency == 0 {
            return Err("invalid TSDB compaction concurrency".into());
        }
        if self.max_tsdb_opening_concurrency_on_startup == 0 {
            return Err("invalid TSDB opening concurrency on startup".into());
        }
        self.wal_compression()?;
        if self.wal_segment_size_bytes < 32 * 1024 {
            return Err("blocks_storage.tsdb.wal_segment_size_bytes must be at least 32KiB".into());
        }
        Ok(())
    }

    /// The block range in milliseconds.
    pub fn block_range_ms(&self) -> i64 {
        self.block_ranges_period
            .first()
            .map_or(cortex_tsdb::head::DEFAULT_CHUNK_RANGE, |d| {
                d.as_millis_i64()
            })
    }

    /// The WAL compression named by `wal_compression_type`.
    pub fn wal_compression(&self) -> Result<Compression, String> {
        match self.wal_compression_type.as_str() {
            "" => Ok(Compression::None),
            "snappy" => Ok(Compression::Snappy),
            "zstd" => Ok(Compression::Zstd),
            other => Err(format!(
                "unsupported WAL compression type {other:?}; supported values are 'snappy', 'zstd' and '' (disable compression)"
            )),
        }
    }

    /// True when blocks are uploaded to the bucket.
    pub fn shipping_enabled(&self) -> bool {
        !self.ship_interval.is_zero()
    }
}

/// The options of Cortex's `ingester` section that this ingester implements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngesterConfig {
    /// How long metric metadata not seen again stays in memory.
    pub metadata_retain_period: GoDuration,
    /// Track the series that received samples recently, per tenant.
    pub active_series_metrics_enabled: bool,
    /// How often the active series gauges are updated.
    pub active_series_metrics_update_period: GoDuration,
    /// A series with no sample for this long is no longer active.
    pub active_series_metrics_idle_timeout: GoDuration,
    /// Upload blocks above compaction level 1 too.
    pub upload_compacted_blocks_enabled: bool,
    /// The advice inside limit errors.
    pub admin_limit_message: String,
    /// How this ingester joins the ring.
    pub lifecycler: crate::ring::LifecyclerConfig,
}

impl Default for IngesterConfig {
    fn default() -> Self {
        IngesterConfig {
            metadata_retain_period: GoDuration::minutes(10),
            active_series_metrics_enabled: true,
            active_series_metrics_update_period: GoDuration::minutes(1),
            active_series_metrics_idle_timeout: GoDuration::minutes(10),
            upload_compacted_blocks_enabled: true,
            admin_limit_message: "please contact administrator to raise it".into(),
            lifecycler: crate::ring::LifecyclerConfig::default(),
        }
    }
}

impl IngesterConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), String> {
        if self.active_series_metrics_enabled && self.active_series_metrics_update_period.is_zero()
        {
            return Err("ingester.active_series_metrics_update_period must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cortex_defaults_and_yaml_names() {
        let c: TsdbConfig = serde_yaml::from_str(
            "dir: /x\nblock_ranges_period: [1h]\nship_interval: 0\nwal_compression_type: snappy\n",
        )
        .unwrap();
        assert_eq!(c.dir, PathBuf::from("/x"));
        assert_eq!(c.block_range_ms(), 3_600_000);
        assert!(!c.shipping_enabled());
        assert_eq!(c.retention_period, GoDuration::hours(6));
        assert_eq!(c.wal_compression(), Ok(Compression::Snappy));
        c.validate().unwrap();
        TsdbConfig::default().validate().unwrap();
        let i: IngesterConfig = serde_yaml::from_str("metadata_retain_period: 5m\n").unwrap();
        assert_eq!(i.metadata_retain_period, GoDuration::minutes(5));
    }

    #[test]
    fn options_that_cannot_be_honoured_are_refused() {
        assert!(serde_yaml::from_str::<TsdbConfig>("stripe_size: 1024\n").is_err());
        let bad = [
            "block_ranges_period: [2h, 12h]\n",
            "head_compaction_interval: 31m\n",
            "head_compaction_interval: 0\n",
            "wal_compression_type: lz4\n",
            "ship_concurrency: 0\n",
        ];
        for y in bad {
            let c: TsdbConfig = serde_yaml::from_str(y).unwrap();
            assert!(c.validate().is_err(), "{y}");
        }
    }
}
