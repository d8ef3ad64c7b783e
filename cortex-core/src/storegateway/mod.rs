//! The store-gateway's view of the bucket: blocks served where they are, without
//! downloading them.
//!
//! A [`BucketBlock`] keeps one block's index-header on local disk (built once from the
//! bucket's `index` object) and fetches everything else — postings lists, series entries,
//! chunks — by byte range, merging nearby ranges into one request and checking every
//! checksum. A [`BlockSet`] holds one tenant's blocks as the bucket index lists them,
//! opening a block on first use and closing blocks left idle. [`GatewayQuerier`] answers
//! the [`crate::querier::Querier`] trait from a [`BlockSet`], merging the same series
//! across blocks, so a querier reads store-gateway results like any other source.
//!
//! - [`api`]: the calls a querier makes of a store-gateway, and where blocks are served.
//! - [`block`]: one block — opening, `series`, label names and values.
//! - [`postings`]: matchers to postings lists (Prometheus semantics) and their algebra.
//! - [`fetch`]: ranged reads with gap merging, the fetch counters, framed-entry reads.
//! - [`range_reader`]: the index-header builder's synchronous reads over the async bucket.
//! - [`cache`]: the hook a postings/series/chunks cache implements.
//! - [`caching_range`]: that hook over the index and chunks [`crate::cache::Cache`]s.
//! - [`block_set`]: a tenant's blocks: sync from the bucket index, lazy open, idle unload.
//! - [`gateway`]: [`StoreGateway`], every tenant's block set of one store-gateway,
//!   synced with ownership and deletion-mark rules; `gateway_api.rs` answers queriers.
//! - [`querier`]: the `Querier` adapter and the sample iterator over fetched chunks.
//! - [`error`]: the error type, [`GatewayError`], naming block, object and offset.

pub mod api;
pub mod block;
pub mod block_set;
pub mod cache;
pub mod caching_range;
pub mod error;
pub mod fetch;
pub mod gateway;
mod gateway_api;
pub mod postings;
pub mod querier;
pub mod range_reader;
#[cfg(test)]
mod tests;

pub use api::{
    BlockOwnership, BlockSeries, GatewayFuture, GatewayReplicas, InProcessReplicas, LabelsRequest,
    LabelsResponse, OwnsAll, SeriesRequest, SeriesResponse, StoreGatewayApi,
};
pub use block::{BucketBlock, BucketBlockConfig, BucketChunk, BucketSeries};
pub use block_set::{BlockFilter, BlockSet, BlockSetConfig, IndexHeaderUsage};
pub use cache::{NoRangeCache, RangeCache, RangeKey, RangeKind};
pub use caching_range::{CachingRange, CachingRangeConfig, HitsMisses, RangeCacheStats};
pub use error::GatewayError;
pub use fetch::FetchStats;
pub use gateway::{GatewayLoops, StoreGateway, StoreGatewayConfig, SyncReport};
pub use querier::{GatewayQuerier, GatewaySeries};
