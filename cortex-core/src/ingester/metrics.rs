//! The ingester's metrics, with Cortex's names, registered on the registry the caller
//! passes in (counters get their `_total` suffix from the registry).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Label pairs of a metric family.
pub type LabelPairs = Vec<(String, String)>;

/// Every metric the ingester exports.
#[derive(Debug, Clone, Default)]
pub struct IngesterMetrics {
    /// `cortex_ingester_ingested_samples_total`.
    pub ingested_samples: Counter,
    /// `cortex_ingester_ingested_samples_failures_total`.
    pub ingested_samples_failures: Counter,
    /// `cortex_ingester_ingested_native_histograms_total`.
    pub ingested_histograms: Counter,
    /// `cortex_ingester_ingested_native_histograms_failures_total`.
    pub ingested_histograms_failures: Counter,
    /// `cortex_ingester_ingested_metadata_total`.
    pub ingested_metadata: Counter,
    /// `cortex_ingester_ingested_metadata_failures_total`.
    pub ingested_metadata_failures: Counter,
    /// `cortex_discarded_samples_total{reason,user}` (shared with the distributor's
    /// validation in Cortex; a server registering it elsewhere can hand this family in).
    pub discarded_samples: Family<LabelPairs, Counter>,
    /// `cortex_discarded_metadata_total{reason,user}`.
    pub discarded_metadata: Family<LabelPairs, Counter>,
    /// `cortex_ingester_memory_series`.
    pub memory_series: Gauge,
    /// `cortex_ingester_memory_users`.
    pub memory_users: Gauge,
    /// `cortex_ingester_memory_metadata`.
    pub memory_metadata: Gauge,
    /// `cortex_ingester_memory_series_created_total{user}`.
    pub memory_series_created: Family<LabelPairs, Counter>,
    /// `cortex_ingester_memory_series_removed_total{user}`.
    pub memory_series_removed: Family<LabelPairs, Counter>,
    /// `cortex_ingester_active_series{user}`.
    pub active_series: Family<LabelPairs, Gauge>,
    /// `cortex_ingester_shipper_uploads_total`.
    pub shipper_uploads: Counter,
    /// `cortex_ingester_shipper_upload_failures_total`.
    pub shipper_upload_failures: Counter,
    /// `cortex_ingester_shipper_dir_syncs_total`.
    pub shipper_dir_syncs: Counter,
    /// `cortex_ingester_shipper_dir_sync_failures_total`.
    pub shipper_dir_sync_failures: Counter,
    /// `cortex_ingester_bucket_index_updates_total`: tenant bucket indexes written
    /// after shipping.
    pub bucket_index_updates: Counter,
    /// `cortex_ingester_bucket_index_update_failures_total`.
    pub bucket_index_update_failures: Counter,
    /// `cortex_ingester_tsdb_compactions_triggered_total`.
    pub compactions_triggered: Counter,
    /// `cortex_ingester_tsdb_compactions_failed_total`.
    pub compactions_failed: Counter,
    /// `cortex_ingester_tsdb_compactions_total` (blocks cut from heads).
    pub compactions: Counter,
    /// `cortex_ingester_tsdb_blocks_deleted_by_retention_total`.
    pub retention_deleted_blocks: Counter,
    /// `cortex_ingester_idle_tsdb_checks_total{result}`.
    pub idle_tsdb_checks: Family<LabelPairs, Counter>,
}

/// `[("user", tenant)]`.
pub fn user_labels(tenant: &str) -> LabelPairs {
    vec![("user".to_string(), tenant.to_string())]
}

impl IngesterMetrics {
    /// Creates the metrics and registers them on `registry`.
    pub fn new(registry: &mut Registry) -> IngesterMetrics {
        let m = IngesterMetrics::default();
        let r = registry;
        r.register(
            "cortex_ingester_ingested_samples",
            "The total number of samples ingested.",
            m.ingested_samples.clone(),
        );
        r.register(
            "cortex_ingester_ingested_samples_failures",
            "The total number of samples that errored on ingestion.",
            m.ingested_samples_failures.clone(),
        );
        r.register(
            "cortex_ingester_ingested_native_histograms",
            "The total number of native histograms ingested.",
            m.ingested_histograms.clone(),
        );
        r.register(
            "cortex_ingester_ingested_native_histograms_failures",
            "The total number of native histograms that errored on ingestion.",
            m.ingested_histograms_failures.clone(),
        );
        r.register(
            "cortex_ingester_ingested_metadata",
            "The total number of metadata ingested.",
            m.ingested_metadata.clone(),
        );
        r.register(
            "cortex_ingester_ingested_metadata_failures",
            "The total number of metadata that errored on ingestion.",
            m.ingested_metadata_failures.clone(),
        );
        r.register(
            "cortex_discarded_samples",
            "The total number of samples that were discarded.",
            m.discarded_samples.clone(),
        );
        r.register(
            "cortex_discarded_metadata",
            "The total number of metadata that were discarded.",
            m.discarded_metadata.clone(),
        );
        r.register(
            "cortex_ingester_memory_series",
            "The current number of series in memory.",
            m.memory_series.clone(),
        );
        r.register(
            "cortex_ingester_memory_users",
            "The current number of users in memory.",
            m.memory_users.clone(),
        );
        r.register(
            "cortex_ingester_memory_metadata",
            "The current number of metadata in memory.",
            m.memory_metadata.clone(),
        );
        r.register(
            "cortex_ingester_memory_series_created",
            "The total number of series that were created per user.",
            m.memory_series_created.clone(),
        );
        r.register(
            "cortex_ingester_memory_series_removed",
            "The total number of series that were removed per user.",
            m.memory_series_removed.clone(),
        );
        r.register(
            "cortex_ingester_active_series",
            "Number of currently active series per user.",
            m.active_series.clone(),
        );
        r.register(
            "cortex_ingester_shipper_uploads",
            "Total number of uploaded TSDB blocks",
            m.shipper_uploads.clone(),
        );
        r.register(
            "cortex_ingester_shipper_upload_failures",
            "Total number of TSDB block upload failures",
            m.shipper_upload_failures.clone(),
        );
        r.register(
            "cortex_ingester_shipper_dir_syncs",
            "Total number of TSDB dir syncs",
            m.shipper_dir_syncs.clone(),
        );
        r.register(
            "cortex_ingester_shipper_dir_sync_failures",
            "Total number of failed TSDB dir syncs",
            m.shipper_dir_sync_failures.clone(),
        );
        r.register(
            "cortex_ingester_bucket_index_updates",
            "Total number of tenant bucket indexes updated after shipping",
            m.bucket_index_updates.clone(),
        );
        r.register(
            "cortex_ingester_bucket_index_update_failures",
            "Total number of failed tenant bucket index updates",
            m.bucket_index_update_failures.clone(),
        );
        r.register(
            "cortex_ingester_tsdb_compactions_triggered",
            "Total number of triggered compactions.",
            m.compactions_triggered.clone(),
        );
        r.register(
            "cortex_ingester_tsdb_compactions_failed",
            "Total number of compactions that failed.",
            m.compactions_failed.clone(),
        );
        r.register(
            "cortex_ingester_tsdb_compactions",
            "Total number of TSDB compactions that were executed.",
            m.compactions.clone(),
        );
        r.register(
            "cortex_ingester_tsdb_blocks_deleted_by_retention",
            "Total number of local blocks deleted after the retention period.",
            m.retention_deleted_blocks.clone(),
        );
        r.register(
            "cortex_ingester_idle_tsdb_checks",
            "The total number of various results for idle TSDB checks.",
            m.idle_tsdb_checks.clone(),
        );
        m
    }

    /// Counts `n` discarded samples of `tenant` for `reason`.
    pub fn discard(&self, reason: &str, tenant: &str, n: u64) {
        if n == 0 {
            return;
        }
        self.discarded_samples
            .get_or_create(&vec![
                ("reason".to_string(), reason.to_string()),
                ("user".to_string(), tenant.to_string()),
            ])
            .inc_by(n);
    }

    /// Drops the per-user series of a tenant whose TSDB was closed.
    pub fn remove_user(&self, tenant: &str) {
        let user = user_labels(tenant);
        self.active_series.remove(&user);
        self.memory_series_created.remove(&user);
        self.memory_series_removed.remove(&user);
    }
}
