//! The S3 backend: an [`ObjectBlockStore`] over object_store's `AmazonS3`, built from
//! [`S3Config`] the way Cortex reads its options (endpoint without a scheme, `insecure`
//! for plain HTTP, empty keys for the AWS credential chain).

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;

use super::config::{BucketLookupType, S3Config};
use super::error::StorageError;
use super::store::ObjectBlockStore;

/// The region used when `s3.region` is empty (Cortex's S3 client does the same).
const DEFAULT_REGION: &str = "us-east-1";

/// Opens the S3 bucket `cfg` names. Nothing is sent over the network until first use.
pub fn open(cfg: &S3Config) -> Result<ObjectBlockStore, StorageError> {
    cfg.validate()?;
    let region = if cfg.region.is_empty() {
        DEFAULT_REGION
    } else {
        &cfg.region
    };
    let client = cfg.http.client_options().with_allow_http(cfg.insecure);
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(&cfg.bucket_name)
        .with_region(region)
        .with_client_options(client);
    if !cfg.access_key_id.is_empty() {
        b = b
            .with_access_key_id(&cfg.access_key_id)
            .with_secret_access_key(&cfg.secret_access_key);
    }
    if !cfg.endpoint.is_empty() {
        let scheme = if cfg.insecure { "http" } else { "https" };
        b = b.with_endpoint(format!("{scheme}://{}", cfg.endpoint));
    }
    let virtual_hosted = match cfg.bucket_lookup_type {
        BucketLookupType::VirtualHosted => true,
        BucketLookupType::Path => false,
        BucketLookupType::Auto => cfg.endpoint.is_empty(),
    };
    b = b.with_virtual_hosted_style_request(virtual_hosted);
    let s3 = b
        .build()
        .map_err(|e| StorageError::BadConfig(format!("s3: {e}")))?;
    Ok(ObjectBlockStore::new(Arc::new(s3)))
}
