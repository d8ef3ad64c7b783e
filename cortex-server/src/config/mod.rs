//! The server's configuration: Cortex's YAML layout and option names, embedded
//! defaults for the single binary, a YAML file (`-config.file`, with
//! `-config.expand-env`), and every option also settable as a flag.
//!
//! Precedence: defaults, then the file, then flags. Unknown keys and flags, values of
//! the wrong type and out-of-range values fail at start with a message naming the key.

mod expand;
mod flags;
mod store_gateway;

use std::path::PathBuf;

use cortex_core::ingester::{IngesterConfig, TsdbConfig};
use cortex_core::limits::{Duration, Limits, RuntimeConfig};
use cortex_core::remote_write::DEFAULT_MAX_RECV_MSG_SIZE;
use serde::{Deserialize, Serialize};

pub use expand::expand_env;
pub use flags::{ParsedArgs, parse_args, usage};
pub use store_gateway::{MetadataCacheOptions, StoreGatewayConfig, StoreGatewayRingConfig};

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("reading config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid (the message names the key and line).
    #[error("parsing config file {}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The YAML error.
        source: serde_yaml::Error,
    },
    /// `${VAR}` without a value and without a default.
    #[error("config file {}: {reason}", path.display())]
    Expand {
        /// The file.
        path: PathBuf,
        /// What could not be expanded.
        reason: String,
    },
    /// A flag that names no option.
    #[error("unknown flag -{0} (see -help)")]
    UnknownFlag(String),
    /// A flag without its value.
    #[error("flag -{0} needs a value")]
    MissingValue(String),
    /// A flag's value does not fit the option.
    #[error("invalid value {value:?} for flag -{flag}: {reason}")]
    FlagValue {
        /// The flag as given.
        flag: String,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A value parses but is out of range; names the key.
    #[error("invalid configuration: {key}: {reason}")]
    Invalid {
        /// The YAML key path.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Comma-separated components to run; `all` runs every component in one process.
    pub target: String,
    /// Require the `X-Scope-OrgID` tenant header; when false every request belongs to
    /// tenant `fake`.
    pub auth_enabled: bool,
    /// HTTP and gRPC listeners, logging.
    pub server: ServerConfig,
    /// The write path's front door.
    pub distributor: DistributorConfig,
    /// The ingester.
    pub ingester: IngesterConfig,
    /// Where blocks go, and the ingesters' local TSDBs.
    pub blocks_storage: BlocksStorageConfig,
    /// The read path: PromQL engine settings.
    pub querier: QuerierConfig,
    /// `query_range:` how range queries are split, aligned and cached.
    pub query_range: QueryRangeConfig,
    /// `store_gateway:` sharding of blocks over the store-gateways.
    pub store_gateway: StoreGatewayConfig,
    /// Queries over several tenants at once (`X-Scope-OrgID: a|b`).
    pub tenant_federation: TenantFederationConfig,
    /// Per-tenant limits (defaults; `runtime_config` overrides them per tenant).
    pub limits: Limits,
    /// The per-tenant overrides file.
    pub runtime_config: RuntimeConfig,
}

impl Default for Config {
    fn default() -> Self {
        // The single binary's ring: one ingester on loopback, so one copy of each
        // series, and no pause before exit.
        let mut ingester = IngesterConfig::default();
        ingester.lifecycler.address = "127.0.0.1".into();
        ingester.lifecycler.ring.replication_factor = 1;
        ingester.lifecycler.final_sleep = Duration::ZERO;
        Config {
            target: "all".into(),
            auth_enabled: true,
            server: ServerConfig::default(),
            distributor: DistributorConfig::default(),
            ingester,
            blocks_storage: BlocksStorageConfig::default(),
            querier: QuerierConfig::default(),
            query_range: QueryRangeConfig::default(),
            store_gateway: StoreGatewayConfig::default(),
            tenant_federation: TenantFederationConfig::default(),
            limits: Limits::default(),
            runtime_config: RuntimeConfig::default(),
        }
    }
}

/// Cortex's `server:` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// HTTP listen address (empty: all interfaces).
    pub http_listen_address: String,
    /// HTTP listen port.
    pub http_listen_port: u16,
    /// gRPC listen address (empty: all interfaces).
    pub grpc_listen_address: String,
    /// gRPC listen port.
    pub grpc_listen_port: u16,
    /// How long in-flight requests may take to finish on shutdown.
    pub graceful_shutdown_timeout: Duration,
    /// Only log messages of this level or above: `debug`, `info`, `warn`, `error`.
    pub log_level: String,
    /// `logfmt` or `json`.
    pub log_format: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            http_listen_address: String::new(),
            http_listen_port: 9009,
            grpc_listen_address: String::new(),
            grpc_listen_port: 9095,
            graceful_shutdown_timeout: Duration::from_secs(30),
            log_level: "info".into(),
            log_format: "logfmt".into(),
        }
    }
}

/// Cortex's `distributor:` block (the options this distributor implements).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistributorConfig {
    /// Largest accepted push, compressed and decompressed, in bytes.
    pub max_recv_msg_size: usize,
    /// HA-pair deduplication.
    pub ha_tracker: HaTrackerConfig,
    /// Longest one ingester call of a replicated push may take.
    pub remote_timeout: Duration,
    /// The distributors' own ring: how many are healthy, for the `global` ingestion
    /// rate strategy. It lives in the ingester ring's KV store, under `distributor`.
    pub ring: DistributorRingConfig,
}

impl Default for DistributorConfig {
    fn default() -> Self {
        DistributorConfig {
            max_recv_msg_size: DEFAULT_MAX_RECV_MSG_SIZE,
            ha_tracker: HaTrackerConfig::default(),
            remote_timeout: Duration::from_secs(2),
            ring: DistributorRingConfig::default(),
        }
    }
}

/// Cortex's `distributor.ring:` block (the options this distributor implements).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistributorRingConfig {
    /// How often the distributor heartbeats its ring entry.
    pub heartbeat_period: Duration,
    /// A distributor whose heartbeat is older than this is not counted.
    pub heartbeat_timeout: Duration,
    /// The distributor's ID in the ring; the host name by default.
    pub instance_id: String,
    /// The address advertised in the ring; the ingester's `lifecycler.address` when
    /// empty.
    pub instance_addr: String,
}

impl Default for DistributorRingConfig {
    fn default() -> Self {
        DistributorRingConfig {
            heartbeat_period: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(60),
            instance_id: cortex_ring::LifecyclerConfig::default().id,
            instance_addr: String::new(),
        }
    }
}

/// Cortex's `distributor.ha_tracker:` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HaTrackerConfig {
    /// Deduplicate the samples of HA Prometheus pairs for tenants whose
    /// `accept_ha_samples` limit is set (their series carry the `ha_cluster_label`
    /// and `ha_replica_label` labels).
    pub enable_ha_tracker: bool,
    /// The elected replica's last-seen time is written to the KV store only when it
    /// is at least this old.
    pub ha_tracker_update_timeout: Duration,
    /// Most random jitter added to or taken from the update timeout.
    pub ha_tracker_update_timeout_jitter_max: Duration,
    /// Where the elected replicas are kept, shared by every distributor: `etcd`, or
    /// `memberlist` (the ring's gossip, when the ring is gossiped); `inmemory` keeps
    /// them in this process only (the single binary).
    pub kvstore: cortex_ring::KvConfig,
}

impl Default for HaTrackerConfig {
    fn default() -> Self {
        HaTrackerConfig {
            enable_ha_tracker: false,
            ha_tracker_update_timeout: Duration::from_secs(15),
            ha_tracker_update_timeout_jitter_max: Duration::from_secs(5),
            kvstore: cortex_ring::KvConfig {
                prefix: cortex_ring::ha::HA_TRACKER_PREFIX.to_string(),
                ..cortex_ring::KvConfig::default()
            },
        }
    }
}

/// Cortex's `querier:` block (the options this querier implements).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuerierConfig {
    /// The longest a query may run; a query's `timeout` parameter can only shorten it.
    pub timeout: Duration,
    /// Most samples one query may hold in memory at once.
    pub max_samples: usize,
    /// How far back an instant selector looks for a sample.
    pub lookback_delta: Duration,
    /// The step of subqueries that give none (`x[1h:]`).
    pub default_evaluation_interval: Duration,
    /// Most queries run at once; further queries wait.
    pub max_concurrent: usize,
    /// Ask the ingesters only for the part of a query newer than this (0: always ask).
    pub query_ingesters_within: Duration,
    /// Ask the long-term store only for the part of a query older than this (0: always
    /// ask).
    pub query_store_after: Duration,
    /// With shuffle sharding, also read ingesters that joined the tenant's shard this
    /// recently (they may hold some of its series).
    pub shuffle_sharding_ingesters_lookback_period: Duration,
}

impl Default for QuerierConfig {
    fn default() -> Self {
        QuerierConfig {
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            lookback_delta: Duration::from_secs(300),
            default_evaluation_interval: Duration::from_secs(60),
            max_concurrent: 20,
            query_ingesters_within: Duration::ZERO,
            query_store_after: Duration::ZERO,
            shuffle_sharding_ingesters_lookback_period: Duration::ZERO,
        }
    }
}

/// Cortex's `query_range:` block: the query-frontend's handling of range queries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryRangeConfig {
    /// Split range queries at multiples of this interval, running the parts at once
    /// (up to the tenant's `max_query_parallelism`); 0 to run them whole.
    pub split_queries_by_interval: Duration,
    /// Move a range query's start and end down to multiples of its step, so that
    /// dashboards refreshing at different moments share cached results.
    pub align_queries_with_step: bool,
    /// Cache range query results (needs `split_queries_by_interval`).
    pub cache_results: bool,
    /// Where results are cached.
    pub results_cache: ResultsCacheConfig,
}

impl Default for QueryRangeConfig {
    fn default() -> Self {
        QueryRangeConfig {
            split_queries_by_interval: Duration::from_secs(24 * 60 * 60),
            align_queries_with_step: false,
            cache_results: false,
            results_cache: ResultsCacheConfig::default(),
        }
    }
}

/// Cortex's `query_range.results_cache:` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResultsCacheConfig {
    /// The cache: `inmemory` (default, 256 MiB) or `memcached`.
    pub cache: cortex_core::cache::CacheConfig,
}

impl Default for ResultsCacheConfig {
    fn default() -> Self {
        let mut cache = cortex_core::cache::CacheConfig {
            backend: cortex_core::cache::CacheBackend::InMemory,
            ..Default::default()
        };
        cache.inmemory.max_size_bytes = 256 << 20;
        ResultsCacheConfig { cache }
    }
}

/// Cortex's `tenant_federation:` block.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantFederationConfig {
    /// Let one query read several tenants, named `a|b|c` in `X-Scope-OrgID`; results
    /// carry a `__tenant_id__` label.
    pub enabled: bool,
}

/// Cortex's `blocks_storage:` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlocksStorageConfig {
    /// The bucket's backend: `filesystem`, `s3`, `gcs` or `azure`.
    pub backend: String,
    /// The `filesystem` backend.
    pub filesystem: FilesystemConfig,
    /// The `s3` backend (any S3-compatible store).
    pub s3: cortex_core::storage::S3Config,
    /// The `gcs` backend (Google Cloud Storage).
    pub gcs: cortex_core::storage::GcsConfig,
    /// The `azure` backend (Azure Blob Storage).
    pub azure: cortex_core::storage::AzureConfig,
    /// How queriers read blocks from the bucket.
    pub bucket_store: BucketStoreConfig,
    /// The ingesters' local TSDBs.
    pub tsdb: TsdbConfig,
}

/// Cortex's `blocks_storage.bucket_store:` block (the options this reader implements).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BucketStoreConfig {
    /// How often store-gateways read the tenants' bucket indexes again (queriers keep
    /// a tenant's index this long too).
    pub sync_interval: Duration,
    /// Where store-gateways keep their index-headers, one directory per tenant and
    /// block.
    pub sync_dir: PathBuf,
    /// A block's bucket-index entry younger than this may not be loaded by the
    /// store-gateways yet: the querier's consistency check leaves it out (plus 3 sync
    /// intervals, as Cortex's).
    pub consistency_delay: Duration,
    /// Blocks marked for deletion longer ago than this are no longer loaded.
    pub ignore_deletion_mark_delay: Duration,
    /// A store-gateway closes a block's index-header unused this long.
    pub index_header_lazy_loading_idle_timeout: Duration,
    /// The cache of postings lists and series entries.
    pub index_cache: cortex_core::cache::CacheConfig,
    /// The cache of chunks.
    pub chunks_cache: cortex_core::cache::CacheConfig,
    /// The cache of bucket listings, `meta.json` files and bucket indexes.
    pub metadata_cache: MetadataCacheOptions,
    /// How queriers and store-gateways read the tenants' bucket indexes.
    pub bucket_index: BucketIndexOptions,
}

/// `blocks_storage.bucket_store.bucket_index:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BucketIndexOptions {
    /// An index last updated longer ago than this fails queries instead of silently
    /// missing blocks.
    pub max_stale_period: Duration,
}

impl Default for BucketIndexOptions {
    fn default() -> Self {
        BucketIndexOptions {
            max_stale_period: Duration::from_secs(60 * 60),
        }
    }
}

impl Default for BucketStoreConfig {
    fn default() -> Self {
        BucketStoreConfig {
            sync_interval: Duration::from_secs(15 * 60),
            sync_dir: PathBuf::from("./data/tsdb-sync"),
            consistency_delay: Duration::ZERO,
            ignore_deletion_mark_delay: Duration::from_secs(6 * 60 * 60),
            index_header_lazy_loading_idle_timeout: Duration::from_secs(20 * 60),
            index_cache: cortex_core::cache::CacheConfig {
                backend: cortex_core::cache::CacheBackend::InMemory,
                ..Default::default()
            },
            chunks_cache: cortex_core::cache::CacheConfig::default(),
            metadata_cache: MetadataCacheOptions::default(),
            bucket_index: BucketIndexOptions::default(),
        }
    }
}

impl Default for BlocksStorageConfig {
    fn default() -> Self {
        BlocksStorageConfig {
            backend: "filesystem".into(),
            filesystem: FilesystemConfig::default(),
            s3: cortex_core::storage::S3Config::default(),
            gcs: cortex_core::storage::GcsConfig::default(),
            azure: cortex_core::storage::AzureConfig::default(),
            bucket_store: BucketStoreConfig::default(),
            tsdb: TsdbConfig::default(),
        }
    }
}

/// Cortex's `blocks_storage.filesystem:` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesystemConfig {
    /// The bucket's root directory.
    pub dir: PathBuf,
}

impl Default for FilesystemConfig {
    fn default() -> Self {
        FilesystemConfig {
            dir: PathBuf::from("./data/bucket"),
        }
    }
}

/// The components this build can run, as `-target` names them.
pub const TARGETS: &[&str] = &["all", "distributor", "ingester", "querier", "store-gateway"];

impl Config {
    /// Loads the configuration from the command-line arguments (without the program
    /// name): defaults, the `-config.file` (expanded when `-config.expand-env`), flags.
    pub fn load(args: &[String]) -> Result<Config, ConfigError> {
        let parsed = parse_args(args)?;
        Config::from_parsed(&parsed)
    }

    /// Builds the configuration from parsed arguments.
    pub fn from_parsed(parsed: &ParsedArgs) -> Result<Config, ConfigError> {
        let mut value = match &parsed.config_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                let text = if parsed.expand_env {
                    expand_env(&text, |k| std::env::var(k).ok()).map_err(|reason| {
                        ConfigError::Expand {
                            path: path.clone(),
                            reason,
                        }
                    })?
                } else {
                    text
                };
                // Parse straight from the text first: its errors carry key and line.
                serde_yaml::from_str::<Config>(&text).map_err(|source| ConfigError::Parse {
                    path: path.clone(),
                    source,
                })?;
                serde_yaml::from_str::<serde_yaml::Value>(&text).map_err(|source| {
                    ConfigError::Parse {
                        path: path.clone(),
                        source,
                    }
                })?
            }
            None => serde_yaml::Value::Mapping(Default::default()),
        };
        if value.is_null() {
            value = serde_yaml::Value::Mapping(Default::default());
        }
        let cfg = flags::apply(value, &parsed.flags)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks cross-field rules and every section's own rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: String| ConfigError::Invalid {
            key: key.to_string(),
            reason,
        };
        for t in self.target.split(',') {
            if !TARGETS.contains(&t.trim()) {
                return Err(invalid(
                    "target",
                    format!(
                        "unknown or unavailable target {:?} (available: {})",
                        t.trim(),
                        TARGETS.join(", ")
                    ),
                ));
            }
        }
        if self.runs_locally()
            && !["distributor", "ingester", "querier", "store-gateway"]
                .iter()
                .all(|c| self.runs(c))
        {
            return Err(invalid(
                "target",
                format!(
                    "target {:?} runs only part of the system, so its ring must be shared \
                     with the other processes: set -ring.store to etcd or memberlist",
                    self.target
                ),
            ));
        }
        let ha = &self.distributor.ha_tracker;
        if ha.enable_ha_tracker {
            cortex_core::distributor::ha::HaTrackerConfig {
                update_timeout: ha.ha_tracker_update_timeout,
                update_timeout_jitter_max: ha.ha_tracker_update_timeout_jitter_max,
            }
            .validate(self.limits.ha_tracker_failover_timeout)
            .map_err(|e| invalid("distributor.ha_tracker", e.to_string()))?;
            if ha.kvstore.store == "memberlist"
                && self.ingester.lifecycler.ring.kvstore.store != "memberlist"
            {
                return Err(invalid(
                    "distributor.ha_tracker.kvstore.store",
                    "memberlist shares the ring's gossip, so the ring's store must be memberlist too"
                        .into(),
                ));
            }
            if self.runs("distributor") && !self.runs_locally() && ha.kvstore.store == "inmemory" {
                return Err(invalid(
                    "distributor.ha_tracker.kvstore.store",
                    "distributors of a cluster must share the elected replicas: use etcd or memberlist"
                        .into(),
                ));
            }
        }
        if !["debug", "info", "warn", "error"].contains(&self.server.log_level.as_str()) {
            return Err(invalid(
                "server.log_level",
                format!(
                    "unknown level {:?} (debug, info, warn, error)",
                    self.server.log_level
                ),
            ));
        }
        if !["logfmt", "json"].contains(&self.server.log_format.as_str()) {
            return Err(invalid(
                "server.log_format",
                format!("unknown format {:?} (logfmt, json)", self.server.log_format),
            ));
        }
        if self.distributor.max_recv_msg_size == 0 {
            return Err(invalid(
                "distributor.max_recv_msg_size",
                "must be more than 0".into(),
            ));
        }
        if self.querier.timeout.to_std().is_zero() {
            return Err(invalid("querier.timeout", "must be more than 0".into()));
        }
        let qr = &self.query_range;
        if qr.cache_results {
            if qr.split_queries_by_interval.to_std().is_zero() {
                return Err(invalid(
                    "query_range.cache_results",
                    "caching results needs query_range.split_queries_by_interval".into(),
                ));
            }
            if qr.results_cache.cache.backend == cortex_core::cache::CacheBackend::None {
                return Err(invalid(
                    "query_range.results_cache.cache.backend",
                    "caching results needs a cache backend (inmemory or memcached)".into(),
                ));
            }
            qr.results_cache
                .cache
                .validate()
                .map_err(|e| invalid("query_range.results_cache.cache", e.to_string()))?;
        }
        if self.querier.max_concurrent == 0 {
            return Err(invalid(
                "querier.max_concurrent",
                "must be more than 0".into(),
            ));
        }
        if self.querier.default_evaluation_interval.to_std().is_zero() {
            return Err(invalid(
                "querier.default_evaluation_interval",
                "must be more than 0".into(),
            ));
        }
        self.validate_bucket()?;
        self.store_gateway
            .validate()
            .map_err(|(key, reason)| invalid(&key, reason))?;
        for (key, cache) in [
            (
                "blocks_storage.bucket_store.index_cache",
                &self.blocks_storage.bucket_store.index_cache,
            ),
            (
                "blocks_storage.bucket_store.chunks_cache",
                &self.blocks_storage.bucket_store.chunks_cache,
            ),
        ] {
            cache.validate().map_err(|e| invalid(key, e.to_string()))?;
        }
        self.ingester
            .validate()
            .map_err(|r| invalid("ingester", r))?;
        self.ingester
            .lifecycler
            .validate()
            .map_err(|e| invalid("ingester.lifecycler", e.to_string()))?;
        self.blocks_storage
            .tsdb
            .validate()
            .map_err(|r| invalid("blocks_storage.tsdb", r))?;
        self.limits.validate().map_err(|e| match e {
            cortex_core::limits::LimitsError::Invalid { key, reason } => {
                invalid(&format!("limits.{key}"), reason)
            }
            other => invalid("limits", other.to_string()),
        })?;
        Ok(())
    }

    /// True when the ring is kept in this process' memory: the single binary, whose
    /// distributor and querier use its own ingester directly.
    pub fn runs_locally(&self) -> bool {
        self.ingester.lifecycler.ring.kvstore.store == "inmemory"
    }

    /// Whether `component` runs in this process.
    pub fn runs(&self, component: &str) -> bool {
        self.target
            .split(',')
            .any(|t| t.trim() == "all" || t.trim() == component)
    }

    /// Checks the selected bucket backend's options, naming the option at fault.
    fn validate_bucket(&self) -> Result<(), ConfigError> {
        let b = &self.blocks_storage;
        let (section, checked) = match b.backend.as_str() {
            "filesystem" => return Ok(()),
            "s3" => ("s3", b.s3.validate()),
            "gcs" => ("gcs", b.gcs.validate()),
            "azure" => ("azure", b.azure.validate()),
            other => {
                return Err(ConfigError::Invalid {
                    key: "blocks_storage.backend".into(),
                    reason: format!(
                        "unsupported backend {other:?} (available in this build: filesystem, s3, gcs, azure)"
                    ),
                });
            }
        };
        checked.map_err(|e| {
            let reason = match e {
                cortex_core::storage::StorageError::BadConfig(m) => m,
                other => other.to_string(),
            };
            // The messages start with the option's path below `blocks_storage`.
            let key = match reason.split_once(' ') {
                Some((key, _)) if key.starts_with(&format!("{section}.")) => {
                    format!("blocks_storage.{key}")
                }
                _ => format!("blocks_storage.{section}"),
            };
            ConfigError::Invalid { key, reason }
        })
    }

    /// The configuration as YAML.
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_else(|e| format!("# cannot print config: {e}\n"))
    }
}

#[cfg(test)]
mod tests;
