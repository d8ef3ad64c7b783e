//! The Azure Blob Storage backend: `blocks_storage.azure` ([`AzureConfig`], Cortex's
//! `account_name`, `account_key`, `container_name`, `endpoint_suffix`, `max_retries`,
//! `user_assigned_id` and `http`) and [`open`], an [`ObjectBlockStore`] over
//! object_store's `MicrosoftAzure`.
//!
//! The container lives at `https://<account_name>.<endpoint_suffix>/<container_name>`,
//! as in Cortex. Credentials, in order: `account_key` (shared key); else
//! `user_assigned_id` (the managed identity with that client ID); else the environment
//! (`AZURE_CLIENT_ID`/`AZURE_TENANT_ID` with a client secret or a federated token file
//! for workload identity, other `AZURE_*` variables, then the instance's managed
//! identity). Cortex's `msi_resource` has no object_store counterpart and is refused.

use std::fmt;
use std::sync::Arc;

use object_store::RetryConfig;
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use serde::{Deserialize, Serialize};

use super::config::BucketHttpConfig;
use super::error::StorageError;
use super::store::ObjectBlockStore;

/// The endpoint suffix used when `azure.endpoint_suffix` is empty (Azure's public cloud).
pub const DEFAULT_ENDPOINT_SUFFIX: &str = "blob.core.windows.net";

/// `blocks_storage.azure`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AzureConfig {
    /// `account_name`: the storage account. Required.
    pub account_name: String,
    /// `account_key`: the account's shared key (base64). Empty (default) means a token
    /// credential: `user_assigned_id` or the environment's.
    pub account_key: String,
    /// `container_name`: the container. Required.
    pub container_name: String,
    /// `endpoint_suffix`: the blob endpoint without the account and without a scheme.
    /// Empty (default) means `blob.core.windows.net`.
    pub endpoint_suffix: String,
    /// `max_retries`: retries of a failed request. Default 20.
    pub max_retries: usize,
    /// `user_assigned_id`: client ID of the user-assigned managed identity to
    /// authenticate as when `account_key` is empty. Empty (default) means the
    /// environment's credentials.
    pub user_assigned_id: String,
    /// `http`: the HTTP client.
    pub http: BucketHttpConfig,
}

impl Default for AzureConfig {
    fn default() -> AzureConfig {
        AzureConfig {
            account_name: String::new(),
            account_key: String::new(),
            container_name: String::new(),
            endpoint_suffix: String::new(),
            max_retries: 20,
            user_assigned_id: String::new(),
            http: BucketHttpConfig::default(),
        }
    }
}

impl fmt::Debug for AzureConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = if self.account_key.is_empty() {
            ""
        } else {
            "<redacted>"
        };
        f.debug_struct("AzureConfig")
            .field("account_name", &self.account_name)
            .field("account_key", &key)
            .field("container_name", &self.container_name)
            .field("endpoint_suffix", &self.endpoint_suffix)
            .field("max_retries", &self.max_retries)
            .field("user_assigned_id", &self.user_assigned_id)
            .field("http", &self.http)
            .finish()
    }
}

impl AzureConfig {
    /// Checks that the account and container are named and the endpoint suffix is a
    /// host name suffix.
    pub fn validate(&self) -> Result<(), StorageError> {
        if self.account_name.is_empty() {
            return Err(StorageError::BadConfig(
                "azure.account_name must be set for the azure backend".into(),
            ));
        }
        let valid_account = (3..=24).contains(&self.account_name.len())
            && self
                .account_name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid_account {
            return Err(StorageError::BadConfig(format!(
                "azure.account_name {:?} is not a storage account name (3 to 24 lowercase letters and digits)",
                self.account_name
            )));
        }
        if self.container_name.is_empty() {
            return Err(StorageError::BadConfig(
                "azure.container_name must be set for the azure backend".into(),
            ));
        }
        if self.endpoint_suffix.contains("://") || self.endpoint_suffix.contains('/') {
            return Err(StorageError::BadConfig(format!(
                "azure.endpoint_suffix {:?} must be a host name suffix such as {DEFAULT_ENDPOINT_SUFFIX:?}, without a scheme or path",
                self.endpoint_suffix
            )));
        }
        Ok(())
    }

    /// The account's blob endpoint, `https://<account_name>.<endpoint_suffix>`.
    pub fn account_url(&self) -> String {
        let suffix = if self.endpoint_suffix.is_empty() {
            DEFAULT_ENDPOINT_SUFFIX
        } else {
            &self.endpoint_suffix
        };
        format!("https://{}.{suffix}", self.account_name)
    }
}

/// The object_store builder for `cfg`, validated; [`open`] builds it. Tests point it at
/// a loopback server before building.
pub(crate) fn builder(cfg: &AzureConfig) -> Result<MicrosoftAzureBuilder, StorageError> {
    cfg.validate()?;
    let retry = RetryConfig {
        max_retries: cfg.max_retries,
        ..RetryConfig::default()
    };
    let mut b = MicrosoftAzureBuilder::from_env()
        .with_account(&cfg.account_name)
        .with_container_name(&cfg.container_name)
        .with_endpoint(cfg.account_url())
        .with_retry(retry)
        .with_client_options(cfg.http.client_options());
    if !cfg.account_key.is_empty() {
        b = b.with_access_key(&cfg.account_key);
    } else if !cfg.user_assigned_id.is_empty() {
        b = b
            .with_client_id(&cfg.user_assigned_id)
            .with_config(AzureConfigKey::CredentialType, "managed_identity");
    }
    Ok(b)
}

/// Opens the Azure container `cfg` names. Nothing is sent over the network until
/// first use.
pub fn open(cfg: &AzureConfig) -> Result<ObjectBlockStore, StorageError> {
    let azure = builder(cfg)?
        .build()
        .map_err(|e| StorageError::BadConfig(format!("azure: {e}")))?;
    Ok(ObjectBlockStore::new(Arc::new(azure)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::config::{Backend, BucketConfig};
    use crate::storage::open_block_store;

    fn err(cfg: &AzureConfig) -> String {
        match cfg.validate() {
            Err(StorageError::BadConfig(m)) => m,
            other => panic!("expected BadConfig, got {other:?}"),
        }
    }

    #[test]
    fn parses_cortex_azure_yaml_with_defaults() {
        let yaml = "backend: azure\nazure:\n  account_name: cortexblocks\n  account_key: c2VjcmV0\n  container_name: blocks\n  endpoint_suffix: blob.core.chinacloudapi.cn\n  max_retries: 3\n  user_assigned_id: 00000000-0000-0000-0000-000000000001\n  http:\n    idle_conn_timeout: 30s\n    insecure_skip_verify: true\n";
        let cfg: BucketConfig = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(cfg.backend, Backend::Azure);
        let a = &cfg.azure;
        assert_eq!(a.account_name, "cortexblocks");
        assert_eq!(a.account_key, "c2VjcmV0");
        assert_eq!(a.container_name, "blocks");
        assert_eq!(a.max_retries, 3);
        assert_eq!(a.user_assigned_id, "00000000-0000-0000-0000-000000000001");
        assert_eq!(a.http.idle_conn_timeout.0.as_secs(), 30);
        assert!(a.http.insecure_skip_verify);
        assert_eq!(a.http.max_idle_connections_per_host, 100);
        assert_eq!(
            a.account_url(),
            "https://cortexblocks.blob.core.chinacloudapi.cn"
        );
        cfg.validate().unwrap();

        let d: BucketConfig = serde_yaml::from_str("azure:\n  account_name: a\n").unwrap();
        assert_eq!(d.azure.max_retries, 20);
        assert_eq!(d.azure.endpoint_suffix, "");
        assert_eq!(d.azure.http, BucketHttpConfig::default());
        let default_url = AzureConfig {
            account_name: "acct1".into(),
            ..AzureConfig::default()
        };
        assert_eq!(
            default_url.account_url(),
            "https://acct1.blob.core.windows.net"
        );
    }

    #[test]
    fn options_object_store_cannot_honour_are_refused() {
        for opt in [
            "msi_resource: https://acct.blob.core.windows.net",
            "connection_string: x",
            "storage_account: x",
            "http:\n    tls_handshake_timeout: 10s",
            "http:\n    max_connections_per_host: 4",
        ] {
            let yaml = format!("azure:\n  {opt}\n");
            let e = serde_yaml::from_str::<BucketConfig>(&yaml)
                .unwrap_err()
                .to_string();
            assert!(e.contains("unknown field"), "{opt}: {e}");
        }
        assert!(serde_yaml::from_str::<BucketConfig>("azure:\n  max_retries: -1\n").is_err());
    }

    #[test]
    fn validation_names_the_problem() {
        let mut cfg = AzureConfig::default();
        assert!(err(&cfg).contains("azure.account_name must be set"));
        cfg.account_name = "Not_An-Account".into();
        assert!(err(&cfg).contains("3 to 24 lowercase letters and digits"));
        cfg.account_name = "cortexblocks".into();
        assert!(err(&cfg).contains("azure.container_name must be set"));
        cfg.container_name = "blocks".into();
        cfg.endpoint_suffix = "https://blob.core.windows.net".into();
        assert!(err(&cfg).contains("without a scheme"));
        cfg.endpoint_suffix = "blob.core.windows.net/x".into();
        assert!(err(&cfg).contains("azure.endpoint_suffix"));
        cfg.endpoint_suffix = String::new();
        cfg.validate().unwrap();
    }

    #[test]
    fn open_reports_bad_settings_without_echoing_the_key() {
        let mut cfg = BucketConfig {
            backend: Backend::Azure,
            ..BucketConfig::default()
        };
        assert!(
            matches!(open_block_store(&cfg), Err(StorageError::BadConfig(m)) if m.contains("account_name"))
        );
        cfg.azure.account_name = "cortexblocks".into();
        cfg.azure.container_name = "blocks".into();
        cfg.azure.account_key = "not base64 secret!".into();
        let m = match open_block_store(&cfg) {
            Err(StorageError::BadConfig(m)) => m,
            other => panic!("expected BadConfig, got {other:?}"),
        };
        assert!(m.starts_with("azure:"), "{m}");
        assert!(!m.contains("secret"), "{m}");
        assert!(!format!("{:?}", cfg.azure).contains("secret"));
        cfg.azure.account_key = "c2VjcmV0".into();
        assert!(open_block_store(&cfg).is_ok());
        cfg.azure.account_key = String::new();
        cfg.azure.user_assigned_id = "00000000-0000-0000-0000-000000000001".into();
        assert!(open_block_store(&cfg).is_ok());
    }
}
