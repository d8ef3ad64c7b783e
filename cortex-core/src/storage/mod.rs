//! Blocks storage: the bucket blocks live in and what Cortex keeps next to them.
//!
//! - [`store`]: the [`BlockStore`] trait and [`ObjectBlockStore`], its implementation
//!   over object_store (local directory, memory, S3, GCS, Azure).
//! - [`config`]: `blocks_storage` bucket options with Cortex's names, and
//!   [`open_block_store`]; [`s3`], [`gcs`] and [`azure`] build those backends.
//! - [`layout`]: object paths of blocks and markers; walking tenants and blocks.
//! - [`markers`]: Thanos' deletion and no-compact marks, with Cortex's global copies.
//! - [`bucketindex`]: the per-tenant bucket index — format, updater, reader.
//! - [`metadata_cache`]: [`MetadataCachingStore`], a store caching metadata reads
//!   (meta files, bucket indexes, tenant and block listings) in a cache.
//! - `testing` (feature `testing`): the conformance suite every store runs.

pub mod azure;
#[cfg(test)]
mod azure_fake;
pub mod bucketindex;
pub mod config;
pub mod error;
pub mod gcs;
#[cfg(test)]
mod gcs_fake;
pub mod layout;
pub mod markers;
pub mod metadata_cache;
#[cfg(test)]
mod metadata_cache_tests;
pub mod s3;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

pub use azure::AzureConfig;
pub use bucketindex::{BucketIndex, BucketIndexReader};
pub use config::{
    Backend, BucketConfig, BucketHttpConfig, BucketIndexConfig, BucketLookupType, FilesystemConfig,
    S3Config, S3HttpConfig, open_block_store,
};
pub use error::StorageError;
pub use gcs::GcsConfig;
pub use metadata_cache::{MetadataCacheConfig, MetadataCachingStore};
pub use store::{BlockStore, Listing, ObjectBlockStore, ObjectInfo, StoreFuture};
