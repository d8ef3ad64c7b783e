//! The bucket configuration, with Cortex's names and defaults: `backend` (Cortex's
//! `-blocks-storage.backend`), `s3.*`, `gcs.*`, `azure.*`, `filesystem.dir` — the part
//! of `blocks_storage` that Cortex inlines from its bucket config — and
//! [`open_block_store`], which turns it into a [`BlockStore`].
//!
//! Backends in this build: `filesystem` (the embedded default), `s3` (any
//! S3-compatible server), `gcs` (Google Cloud Storage, options in [`super::gcs`]) and
//! `azure` (Azure Blob Storage, options in [`super::azure`]). `swift` is an accepted
//! name that fails to open with [`StorageError::BackendNotBuilt`]. Options object_store
//! has no counterpart for (S3's `signature_version`, `sse`, `list_objects_version`,
//! Azure's `msi_resource`, the `http` transport knobs beyond those below, ...) are
//! refused as unknown fields rather than silently ignored.

use std::sync::Arc;

use object_store::ClientOptions;
use serde::{Deserialize, Serialize};

use super::azure::{self, AzureConfig};
use super::error::StorageError;
use super::gcs::{self, GcsConfig};
use super::s3;
use super::store::{BlockStore, ObjectBlockStore};
use crate::ingester::duration::GoDuration;

/// Which object store holds the blocks (`blocks_storage.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A local directory (`filesystem.dir`).
    #[default]
    Filesystem,
    /// Amazon S3 or an S3-compatible server (`s3.*`).
    S3,
    /// Google Cloud Storage (`gcs.*`).
    Gcs,
    /// Azure Blob Storage (`azure.*`).
    Azure,
    /// OpenStack Swift: not in this build.
    Swift,
}

impl Backend {
    /// The name as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Filesystem => "filesystem",
            Backend::S3 => "s3",
            Backend::Gcs => "gcs",
            Backend::Azure => "azure",
            Backend::Swift => "swift",
        }
    }
}

/// The bucket part of `blocks_storage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BucketConfig {
    /// `backend`: which store holds the blocks. Default `filesystem` (Cortex defaults
    /// to `s3`; an embedded single binary needs no setup).
    pub backend: Backend,
    /// `s3`: the S3 bucket, for `backend: s3`.
    pub s3: S3Config,
    /// `gcs`: the Google Cloud Storage bucket, for `backend: gcs`.
    pub gcs: GcsConfig,
    /// `azure`: the Azure Blob Storage container, for `backend: azure`.
    pub azure: AzureConfig,
    /// `filesystem`: the local directory, for `backend: filesystem`.
    pub filesystem: FilesystemConfig,
}

/// `blocks_storage.filesystem`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesystemConfig {
    /// `dir`: the directory holding the bucket. Default empty (Cortex's), which is
    /// refused when the filesystem backend is used.
    pub dir: String,
}

/// How bucket names go into S3 request URLs (`s3.bucket_lookup_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum BucketLookupType {
    /// `auto` (default): path style for a custom `endpoint`, virtual-hosted for AWS.
    #[default]
    #[serde(rename = "auto")]
    Auto,
    /// `virtual-hosted`: `https://<bucket>.<endpoint>/<key>`.
    #[serde(rename = "virtual-hosted")]
    VirtualHosted,
    /// `path`: `https://<endpoint>/<bucket>/<key>`.
    #[serde(rename = "path")]
    Path,
}

/// `blocks_storage.s3`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    /// `endpoint`: host and optional port of the S3 server, without a scheme (as
    /// Cortex takes it). Empty (default) means AWS' endpoint for `region`.
    pub endpoint: String,
    /// `region`: the bucket's region. Empty (default) means `us-east-1`.
    pub region: String,
    /// `bucket_name`: the bucket. Required.
    pub bucket_name: String,
    /// `access_key_id`. Empty (default) means the AWS credential chain (environment,
    /// web identity, instance metadata).
    pub access_key_id: String,
    /// `secret_access_key`; must be set together with `access_key_id`.
    pub secret_access_key: String,
    /// `insecure`: talk plain HTTP to `endpoint`. Default false.
    pub insecure: bool,
    /// `bucket_lookup_type`: `auto` (default), `virtual-hosted` or `path`.
    pub bucket_lookup_type: BucketLookupType,
    /// `http`: the HTTP client.
    pub http: BucketHttpConfig,
}

impl Default for S3Config {
    fn default() -> S3Config {
        S3Config {
            endpoint: String::new(),
            region: String::new(),
            bucket_name: String::new(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            insecure: false,
            bucket_lookup_type: BucketLookupType::Auto,
            http: BucketHttpConfig::default(),
        }
    }
}

/// `blocks_storage.s3.http` and `blocks_storage.azure.http` (Cortex's shared bucket
/// `http` block): the options object_store's HTTP client has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BucketHttpConfig {
    /// `idle_conn_timeout`: how long an idle connection is kept. Default `1m30s`.
    pub idle_conn_timeout: GoDuration,
    /// `response_header_timeout`: how long to wait for the server to send data.
    /// Default `2m`.
    pub response_header_timeout: GoDuration,
    /// `insecure_skip_verify`: accept any TLS certificate. Default false.
    pub insecure_skip_verify: bool,
    /// `max_idle_connections_per_host`. Default 100.
    pub max_idle_connections_per_host: usize,
}

/// The name [`BucketHttpConfig`] had while only S3 used it.
pub type S3HttpConfig = BucketHttpConfig;

impl Default for BucketHttpConfig {
    fn default() -> BucketHttpConfig {
        BucketHttpConfig {
            idle_conn_timeout: GoDuration(std::time::Duration::from_secs(90)),
            response_header_timeout: GoDuration::minutes(2),
            insecure_skip_verify: false,
            max_idle_connections_per_host: 100,
        }
    }
}

impl BucketHttpConfig {
    /// object_store's client options for these settings (zero timeouts keep
    /// object_store's defaults). Plain HTTP is left to the caller.
    pub fn client_options(&self) -> ClientOptions {
        let mut client = ClientOptions::new()
            .with_allow_invalid_certificates(self.insecure_skip_verify)
            .with_pool_max_idle_per_host(self.max_idle_connections_per_host);
        if !self.idle_conn_timeout.is_zero() {
            client = client.with_pool_idle_timeout(self.idle_conn_timeout.0);
        }
        if !self.response_header_timeout.is_zero() {
            client = client.with_read_timeout(self.response_header_timeout.0);
        }
        client
    }
}

/// `blocks_storage.bucket_store.bucket_index`: how readers treat a tenant's bucket
/// index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BucketIndexConfig {
    /// `max_stale_period`: an index last updated longer ago than this is refused
    /// ([`StorageError::IndexTooOld`]); zero disables the check. Default `1h`.
    pub max_stale_period: GoDuration,
}

impl Default for BucketIndexConfig {
    fn default() -> BucketIndexConfig {
        BucketIndexConfig {
            max_stale_period: GoDuration::hours(1),
        }
    }
}

impl BucketConfig {
    /// Checks the options of the selected backend.
    pub fn validate(&self) -> Result<(), StorageError> {
        match self.backend {
            Backend::Filesystem if self.filesystem.dir.is_empty() => Err(StorageError::BadConfig(
                "filesystem.dir must be set for the filesystem backend".into(),
            )),
            Backend::Filesystem => Ok(()),
            Backend::S3 => self.s3.validate(),
            Backend::Gcs => self.gcs.validate(),
            Backend::Azure => self.azure.validate(),
            b @ Backend::Swift => Err(StorageError::BackendNotBuilt {
                backend: b.as_str().to_string(),
            }),
        }
    }
}

impl S3Config {
    /// Checks that the bucket is named and the credentials come in pairs.
    pub fn validate(&self) -> Result<(), StorageError> {
        if self.bucket_name.is_empty() {
            return Err(StorageError::BadConfig(
                "s3.bucket_name must be set for the s3 backend".into(),
            ));
        }
        if self.access_key_id.is_empty() != self.secret_access_key.is_empty() {
            return Err(StorageError::BadConfig(
                "s3.access_key_id and s3.secret_access_key must be set together".into(),
            ));
        }
        if self.endpoint.contains("://") {
            return Err(StorageError::BadConfig(format!(
                "s3.endpoint {:?} must be a host[:port] without a scheme (use s3.insecure for http)",
                self.endpoint
            )));
        }
        Ok(())
    }
}

/// Opens the bucket `cfg` describes.
pub fn open_block_store(cfg: &BucketConfig) -> Result<Arc<dyn BlockStore>, StorageError> {
    cfg.validate()?;
    match cfg.backend {
        Backend::Filesystem => Ok(Arc::new(ObjectBlockStore::local(std::path::Path::new(
            &cfg.filesystem.dir,
        ))?)),
        Backend::S3 => Ok(Arc::new(s3::open(&cfg.s3)?)),
        Backend::Gcs => Ok(Arc::new(gcs::open(&cfg.gcs)?)),
        Backend::Azure => Ok(Arc::new(azure::open(&cfg.azure)?)),
        b @ Backend::Swift => Err(StorageError::BackendNotBuilt {
            backend: b.as_str().to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_cortex_defaults() {
        let cfg: BucketConfig = serde_yaml::from_str("{}").unwrap();
        assert_eq!(cfg.backend, Backend::Filesystem);
        assert_eq!(cfg.s3.http.idle_conn_timeout.0.as_secs(), 90);
        assert_eq!(cfg.s3.http.response_header_timeout.0.as_secs(), 120);
        assert_eq!(cfg.s3.http.max_idle_connections_per_host, 100);
        assert_eq!(cfg.s3.bucket_lookup_type, BucketLookupType::Auto);
        let idx = BucketIndexConfig::default();
        assert_eq!(idx.max_stale_period.0.as_secs(), 3600);
    }

    #[test]
    fn parses_cortex_s3_yaml() {
        let yaml = "backend: s3\ns3:\n  endpoint: minio:9000\n  bucket_name: blocks\n  access_key_id: a\n  secret_access_key: b\n  insecure: true\n  bucket_lookup_type: path\n  http:\n    idle_conn_timeout: 1m\n";
        let cfg: BucketConfig = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(cfg.backend, Backend::S3);
        assert_eq!(cfg.s3.endpoint, "minio:9000");
        assert!(cfg.s3.insecure);
        assert_eq!(cfg.s3.bucket_lookup_type, BucketLookupType::Path);
        assert_eq!(cfg.s3.http.idle_conn_timeout.0.as_secs(), 60);
        cfg.validate().unwrap();
    }

    #[test]
    fn unknown_and_unsupported_options_are_refused() {
        assert!(serde_yaml::from_str::<BucketConfig>("backend: hdfs").is_err());
        assert!(serde_yaml::from_str::<BucketConfig>("s3:\n  signature_version: v2").is_err());
    }

    #[test]
    fn invalid_configs_fail_to_open_with_precise_errors() {
        let mut cfg = BucketConfig::default();
        assert!(matches!(
            open_block_store(&cfg),
            Err(StorageError::BadConfig(_))
        ));
        cfg.backend = Backend::S3;
        assert!(
            matches!(open_block_store(&cfg), Err(StorageError::BadConfig(m)) if m.contains("bucket_name"))
        );
        cfg.s3.bucket_name = "b".into();
        cfg.s3.access_key_id = "a".into();
        assert!(
            matches!(open_block_store(&cfg), Err(StorageError::BadConfig(m)) if m.contains("together"))
        );
        cfg.s3.secret_access_key = "s".into();
        cfg.s3.endpoint = "http://x".into();
        assert!(
            matches!(open_block_store(&cfg), Err(StorageError::BadConfig(m)) if m.contains("scheme"))
        );
        cfg.backend = Backend::Swift;
        assert!(
            matches!(open_block_store(&cfg), Err(StorageError::BackendNotBuilt { backend }) if backend == "swift")
        );
    }

    #[test]
    fn filesystem_backend_opens_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = BucketConfig {
            filesystem: FilesystemConfig {
                dir: dir.path().join("bucket").display().to_string(),
            },
            ..BucketConfig::default()
        };
        let store = open_block_store(&cfg).unwrap();
        assert_eq!(store.local_dir(), Some(dir.path().join("bucket").as_path()));
    }
}
