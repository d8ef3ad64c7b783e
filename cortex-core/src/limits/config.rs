//! The list of per-tenant limits: Cortex's `limits:` keys, defaults and flags, for the
//! distributor, ingester, querier, query-frontend, ruler, store-gateway and compactor.
//!
//! Each entry is `/// help`, `key: Type = default, "flag";`; `option.rs` turns the list
//! into the [`Limits`] struct and its option table. Options Cortex has for features this
//! project does not have (Alertmanager, Parquet, relabelling, per-label-set limits) are
//! left out rather than accepted and ignored.

use serde::{Deserialize, Serialize};

use super::option::define_limits;
use super::{Duration, LimitsError};

/// How the ingestion rate limit is shared between distributors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IngestionRateStrategy {
    /// Each distributor applies the whole limit on its own.
    #[default]
    Local,
    /// The limit is for the whole cluster: each distributor applies its share (the
    /// limit divided by the number of healthy distributors).
    Global,
}

impl IngestionRateStrategy {
    /// The configuration spelling (`local`, `global`).
    pub fn as_str(self) -> &'static str {
        match self {
            IngestionRateStrategy::Local => "local",
            IngestionRateStrategy::Global => "global",
        }
    }
}

define_limits! {
    // Distributor.
    /// Per-tenant ingestion rate limit in samples per second (samples, exemplars and
    /// metadata all count).
    ingestion_rate: f64 = 25000.0, "distributor.ingestion-rate-limit";
    /// Per-tenant native histogram ingestion rate limit in samples per second; the
    /// default (the largest float) means unlimited.
    native_histogram_ingestion_rate: f64 = f64::MAX,
        "distributor.native-histogram-ingestion-rate-limit";
    /// Whether the ingestion rate limit applies to each distributor on its own (local)
    /// or is shared evenly across the healthy distributors (global).
    ingestion_rate_strategy: IngestionRateStrategy = IngestionRateStrategy::Local,
        "distributor.ingestion-rate-limit-strategy";
    /// Per-tenant ingestion burst size, in samples.
    ingestion_burst_size: usize = 50000, "distributor.ingestion-burst-size";
    /// Per-tenant native histogram ingestion burst size, in samples.
    native_histogram_ingestion_burst_size: usize = 0,
        "distributor.native-histogram-ingestion-burst-size";
    /// Deduplicate samples from HA Prometheus pairs for every tenant.
    accept_ha_samples: bool = false, "distributor.ha-tracker.enable-for-all-users";
    /// Track HA pairs per series rather than per request (experimental).
    accept_mixed_ha_samples: bool = false,
        "experimental.distributor.ha-tracker.mixed-ha-samples";
    /// The label that names a Prometheus HA cluster.
    ha_cluster_label: String = "cluster".to_string(), "distributor.ha-tracker.cluster";
    /// The label that names a replica within a Prometheus HA cluster.
    ha_replica_label: String = "__replica__".to_string(), "distributor.ha-tracker.replica";
    /// The most HA clusters tracked per tenant; 0 for no limit.
    ha_max_clusters: usize = 0, "distributor.ha-tracker.max-clusters";
    /// How long the elected replica may be silent before another one is accepted.
    ha_tracker_failover_timeout: Duration = Duration::from_secs(30),
        "distributor.ha-tracker.failover-timeout";
    /// Label names removed from every series on ingestion (the flag may be repeated).
    drop_labels: Vec<String> = Vec::new(), "distributor.drop-label";
    /// The longest label name accepted, in bytes.
    max_label_name_length: usize = 1024, "validation.max-length-label-name";
    /// The longest label value accepted, in bytes; applies to the metric name too.
    max_label_value_length: usize = 2048, "validation.max-length-label-value";
    /// The most labels a series may have.
    max_label_names_per_series: usize = 30, "validation.max-label-names-per-series";
    /// The largest combined size of a series' label names and values, in bytes; 0 for
    /// no limit.
    max_labels_size_bytes: usize = 0, "validation.max-labels-size-bytes";
    /// The longest metric name, help or unit accepted in metadata, in bytes.
    max_metadata_length: usize = 1024, "validation.max-metadata-length";
    /// Refuse samples older than `reject_old_samples_max_age`.
    reject_old_samples: bool = false, "validation.reject-old-samples";
    /// The oldest sample accepted when `reject_old_samples` is on.
    reject_old_samples_max_age: Duration = Duration::from_secs(14 * 24 * 3600),
        "validation.reject-old-samples.max-age";
    /// How far in the future a sample's timestamp may be.
    creation_grace_period: Duration = Duration::from_secs(600),
        "validation.create-grace-period";
    /// Refuse metadata without a metric name.
    enforce_metadata_metric_name: bool = true, "validation.enforce-metadata-metric-name";
    /// Refuse series without a metric name.
    enforce_metric_name: bool = true, "validation.enforce-metric-name";
    /// The number of ingesters a tenant's series are spread over with shuffle
    /// sharding; 0 for all of them.
    ingestion_tenant_shard_size: usize = 0, "distributor.ingestion-tenant-shard-size";
    /// The most buckets (positive plus negative) a native histogram sample may have;
    /// 0 for no limit.
    max_native_histogram_buckets: usize = 0, "validation.max-native-histogram-buckets";

    // Ingester.
    /// The most active series per tenant in one ingester; 0 for no limit.
    max_series_per_user: usize = 5_000_000, "ingester.max-series-per-user";
    /// The most active series per metric name in one ingester; 0 for no limit.
    max_series_per_metric: usize = 50000, "ingester.max-series-per-metric";
    /// The most active series per tenant across the cluster, before replication; 0 for
    /// no limit.
    max_global_series_per_user: usize = 0, "ingester.max-global-series-per-user";
    /// The most active series per metric name across the cluster, before replication;
    /// 0 for no limit.
    max_global_series_per_metric: usize = 0, "ingester.max-global-series-per-metric";
    /// Accept native histogram samples.
    enable_native_histograms: bool = false, "blocks-storage.tsdb.enable-native-histograms";
    /// The most metrics with metadata per tenant in one ingester; 0 for no limit.
    max_metadata_per_user: usize = 8000, "ingester.max-metadata-per-user";
    /// The most metadata entries per metric in one ingester; 0 for no limit.
    max_metadata_per_metric: usize = 10, "ingester.max-metadata-per-metric";
    /// The most metrics with metadata per tenant across the cluster; 0 for no limit.
    max_global_metadata_per_user: usize = 0, "ingester.max-global-metadata-per-user";
    /// The most metadata entries per metric across the cluster; 0 for no limit.
    max_global_metadata_per_metric: usize = 0, "ingester.max-global-metadata-per-metric";
    /// How far behind the newest sample an out-of-order sample may be; 0 to refuse
    /// out-of-order samples.
    out_of_order_time_window: Duration = Duration::ZERO, "ingester.out-of-order-time-window";
    /// The most exemplars kept per tenant; 0 falls back to the TSDB setting, below 0
    /// disables exemplars.
    max_exemplars: i64 = 0, "ingester.max-exemplars";

    // Querier and query-frontend.
    /// The most chunks one query may fetch from ingesters and storage; 0 for no limit.
    max_fetched_chunks_per_query: usize = 2_000_000, "querier.max-fetched-chunks-per-query";
    /// The most series one query may fetch from ingesters and storage; 0 for no limit.
    max_fetched_series_per_query: usize = 0, "querier.max-fetched-series-per-query";
    /// The most chunk bytes one query may fetch; 0 for no limit.
    max_fetched_chunk_bytes_per_query: usize = 0, "querier.max-fetched-chunk-bytes-per-query";
    /// The most bytes (chunks and series) one query may fetch; 0 for no limit.
    max_fetched_data_bytes_per_query: usize = 0, "querier.max-fetched-data-bytes-per-query";
    /// How far back queries may read; older parts of a query are cut off. 0 for no
    /// limit.
    max_query_lookback: Duration = Duration::ZERO, "querier.max-query-lookback";
    /// The longest time range one query may cover; 0 for no limit.
    max_query_length: Duration = Duration::ZERO, "store.max-query-length";
    /// The most split queries the frontend runs at once for one query.
    max_query_parallelism: usize = 14, "querier.max-query-parallelism";
    /// The largest uncompressed query response, in bytes; 0 for no limit.
    max_query_response_size: usize = 0, "frontend.max-query-response-size";
    /// Results newer than this are not cached.
    max_cache_freshness: Duration = Duration::from_secs(60), "frontend.max-cache-freshness";
    /// The most queriers serving one tenant (below 1: a fraction of them); 0 for all.
    max_queriers_per_tenant: f64 = 0.0, "frontend.max-queriers-per-tenant";
    /// The number of shards a shardable query is split into; 0 to disable.
    query_vertical_shard_size: usize = 0, "frontend.query-vertical-shard-size";
    /// Only data newer than this is read from ingesters; 0 to always read them.
    query_ingesters_within: Duration = Duration::ZERO, "limits.query-ingesters-within";
    /// Only data older than this is read from storage; 0 to always read it.
    query_store_after: Duration = Duration::ZERO, "limits.query-store-after";
    /// How long an ingester that left a tenant's shard is still queried.
    shuffle_sharding_ingesters_lookback_period: Duration = Duration::ZERO,
        "limits.shuffle-sharding-ingesters-lookback-period";
    /// The most queued queries per tenant; more are refused with 429.
    max_outstanding_requests_per_tenant: usize = 100,
        "frontend.max-outstanding-requests-per-tenant";

    // Ruler.
    /// The number of rulers a tenant's rule groups are spread over (below 1: a
    /// fraction of them); 0 for all.
    ruler_tenant_shard_size: f64 = 0.0, "ruler.tenant-shard-size";
    /// The most rules in one rule group; 0 for no limit.
    ruler_max_rules_per_rule_group: usize = 0, "ruler.max-rules-per-rule-group";
    /// The most rule groups per tenant; 0 for no limit.
    ruler_max_rule_groups_per_tenant: usize = 0, "ruler.max-rule-groups-per-tenant";
    /// How far in the past rules are evaluated.
    ruler_query_offset: Duration = Duration::ZERO, "ruler.query-offset";

    // Store-gateway.
    /// The number of store-gateways a tenant's blocks are spread over (below 1: a
    /// fraction of them); 0 for all.
    store_gateway_tenant_shard_size: f64 = 0.0, "store-gateway.tenant-shard-size";
    /// The most bytes one store-gateway request may download; 0 for no limit.
    max_downloaded_bytes_per_request: usize = 0,
        "store-gateway.max-downloaded-bytes-per-request";

    // Compactor.
    /// Blocks whose samples are all older than this are deleted; 0 keeps them forever.
    compactor_blocks_retention_period: Duration = Duration::ZERO,
        "compactor.blocks-retention-period";
    /// The number of compactors a tenant is spread over (below 1: a fraction of them);
    /// 0 for all.
    compactor_tenant_shard_size: f64 = 0.0, "compactor.tenant-shard-size";
}

impl Limits {
    /// Checks what the types alone cannot: rates are numbers not below zero, dropped
    /// label names are not empty.
    pub fn validate(&self) -> Result<(), LimitsError> {
        let rates = [
            ("ingestion_rate", self.ingestion_rate),
            (
                "native_histogram_ingestion_rate",
                self.native_histogram_ingestion_rate,
            ),
            ("max_queriers_per_tenant", self.max_queriers_per_tenant),
            ("ruler_tenant_shard_size", self.ruler_tenant_shard_size),
            (
                "store_gateway_tenant_shard_size",
                self.store_gateway_tenant_shard_size,
            ),
            (
                "compactor_tenant_shard_size",
                self.compactor_tenant_shard_size,
            ),
        ];
        for (key, v) in rates {
            if v.is_nan() || v < 0.0 {
                return Err(LimitsError::Invalid {
                    key,
                    reason: format!("must be a number not below zero, got {v}"),
                });
            }
        }
        if self.drop_labels.iter().any(String::is_empty) {
            return Err(LimitsError::Invalid {
                key: "drop_labels",
                reason: "a label name is empty".to_string(),
            });
        }
        Ok(())
    }
}
