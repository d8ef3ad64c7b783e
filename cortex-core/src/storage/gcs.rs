//! The Google Cloud Storage backend: `blocks_storage.gcs` ([`GcsConfig`], Cortex's
//! `bucket_name` and `service_account`) and [`open`], an [`ObjectBlockStore`] over
//! object_store's `GoogleCloudStorage`.
//!
//! As in Cortex, `service_account` holds the content of a service-account JSON key; an
//! empty one means the environment's credentials: `GOOGLE_APPLICATION_CREDENTIALS`, the
//! gcloud well-known file, then the instance metadata server.

use std::fmt;
use std::sync::Arc;

use object_store::gcp::GoogleCloudStorageBuilder;
use serde::{Deserialize, Serialize};

use super::error::StorageError;
use super::store::ObjectBlockStore;

/// `blocks_storage.gcs`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GcsConfig {
    /// `bucket_name`: the bucket. Required.
    pub bucket_name: String,
    /// `service_account`: the service account's JSON key (the file's content, not its
    /// path). Empty (default) means the environment's application default credentials.
    pub service_account: String,
}

impl fmt::Debug for GcsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = if self.service_account.is_empty() {
            ""
        } else {
            "<redacted>"
        };
        f.debug_struct("GcsConfig")
            .field("bucket_name", &self.bucket_name)
            .field("service_account", &key)
            .finish()
    }
}

/// The fields object_store needs in a service-account key.
const REQUIRED_KEY_FIELDS: [&str; 3] = ["client_email", "private_key", "private_key_id"];

impl GcsConfig {
    /// Checks that the bucket is named and that `service_account`, when set, is a
    /// service-account JSON key. Error messages never quote the key.
    pub fn validate(&self) -> Result<(), StorageError> {
        if self.bucket_name.is_empty() {
            return Err(StorageError::BadConfig(
                "gcs.bucket_name must be set for the gcs backend".into(),
            ));
        }
        if self.service_account.is_empty() {
            return Ok(());
        }
        let key: serde_json::Value = serde_json::from_str(&self.service_account).map_err(|e| {
            StorageError::BadConfig(format!(
                "gcs.service_account must be the content of a service account JSON key, not a file path ({e})"
            ))
        })?;
        let Some(key) = key.as_object() else {
            return Err(StorageError::BadConfig(
                "gcs.service_account must be a JSON object (a service account key)".into(),
            ));
        };
        if let Some(kind) = key.get("type").and_then(|t| t.as_str())
            && kind != "service_account"
        {
            return Err(StorageError::BadConfig(format!(
                "gcs.service_account is a {kind:?} credential; only service account keys (\"type\": \"service_account\") are supported"
            )));
        }
        for field in REQUIRED_KEY_FIELDS {
            if !key.get(field).is_some_and(|v| v.is_string()) {
                return Err(StorageError::BadConfig(format!(
                    "gcs.service_account has no {field:?} string field"
                )));
            }
        }
        Ok(())
    }
}

/// Opens the GCS bucket `cfg` names. Nothing is sent over the network until first use.
pub fn open(cfg: &GcsConfig) -> Result<ObjectBlockStore, StorageError> {
    cfg.validate()?;
    let builder = if cfg.service_account.is_empty() {
        // `GOOGLE_APPLICATION_CREDENTIALS` and the other `GOOGLE_*` variables.
        GoogleCloudStorageBuilder::from_env()
    } else {
        GoogleCloudStorageBuilder::new().with_service_account_key(&cfg.service_account)
    };
    let gcs = builder
        .with_bucket_name(&cfg.bucket_name)
        .build()
        .map_err(|e| StorageError::BadConfig(format!("gcs: {e}")))?;
    Ok(ObjectBlockStore::new(Arc::new(gcs)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::config::{Backend, BucketConfig};
    use crate::storage::open_block_store;

    /// A syntactically complete key; the key material is never used in these tests.
    const KEY: &str = r#"{"type": "service_account", "client_email": "cortex@example.iam.gserviceaccount.com", "private_key": "unused", "private_key_id": "k1"}"#;

    fn err(cfg: &GcsConfig) -> String {
        match cfg.validate() {
            Err(StorageError::BadConfig(m)) => m,
            other => panic!("expected BadConfig, got {other:?}"),
        }
    }

    #[test]
    fn parses_cortex_gcs_yaml_with_defaults() {
        let cfg: BucketConfig =
            serde_yaml::from_str("backend: gcs\ngcs:\n  bucket_name: blocks\n").unwrap();
        assert_eq!(cfg.backend, Backend::Gcs);
        assert_eq!(cfg.gcs.bucket_name, "blocks");
        assert_eq!(cfg.gcs.service_account, "");
        cfg.validate().unwrap();
        assert_eq!(GcsConfig::default(), BucketConfig::default().gcs);

        // The key as Cortex configs carry it: a multi-line JSON document in YAML.
        let yaml = "backend: gcs\ngcs:\n  bucket_name: b\n  service_account: |\n    {\n      \"type\": \"service_account\",\n      \"client_email\": \"a@b\",\n      \"private_key\": \"x\",\n      \"private_key_id\": \"1\"\n    }\n";
        let cfg: BucketConfig = serde_yaml::from_str(yaml).unwrap();
        assert!(cfg.gcs.service_account.contains("client_email"));
        cfg.validate().unwrap();
    }

    #[test]
    fn options_object_store_cannot_honour_are_refused() {
        for opt in [
            "bucket: x",
            "max_retries: 3",
            "chunk_size_bytes: 1",
            "http:\n    insecure_skip_verify: true",
        ] {
            let yaml = format!("gcs:\n  {opt}\n");
            let e = serde_yaml::from_str::<BucketConfig>(&yaml)
                .unwrap_err()
                .to_string();
            assert!(e.contains("unknown field"), "{opt}: {e}");
        }
    }

    #[test]
    fn validation_names_the_problem() {
        let mut cfg = GcsConfig::default();
        assert!(err(&cfg).contains("gcs.bucket_name must be set"));
        cfg.bucket_name = "b".into();
        cfg.service_account = "/etc/gcs/key.json".into();
        let m = err(&cfg);
        assert!(m.contains("not a file path"), "{m}");
        assert!(!m.contains("/etc/gcs"), "the value is not echoed: {m}");
        cfg.service_account = "[1]".into();
        assert!(err(&cfg).contains("JSON object"));
        cfg.service_account = r#"{"type": "authorized_user", "client_id": "c"}"#.into();
        assert!(err(&cfg).contains("\"authorized_user\""));
        cfg.service_account = r#"{"client_email": "a@b", "private_key": "secret-material"}"#.into();
        let m = err(&cfg);
        assert!(m.contains("\"private_key_id\""), "{m}");
        assert!(!m.contains("secret-material"));
        cfg.service_account = KEY.into();
        cfg.validate().unwrap();
    }

    #[test]
    fn open_checks_the_config_first_and_debug_hides_the_key() {
        let cfg = BucketConfig {
            backend: Backend::Gcs,
            ..BucketConfig::default()
        };
        assert!(
            matches!(open_block_store(&cfg), Err(StorageError::BadConfig(m)) if m.contains("bucket_name"))
        );
        let gcs = GcsConfig {
            bucket_name: "b".into(),
            service_account: KEY.into(),
        };
        assert!(!format!("{gcs:?}").contains("client_email"));
        // A key whose private key is not one: refused when opening, without quoting it.
        let m = match open(&gcs) {
            Err(StorageError::BadConfig(m)) => m,
            other => panic!("expected BadConfig, got {other:?}"),
        };
        assert!(m.starts_with("gcs:"), "{m}");
        assert!(!m.contains("unused"), "{m}");
    }
}
