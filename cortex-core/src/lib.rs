//! The Cortex domain: tenants and limits, the traits at every network boundary
//! (`Ring`, `BlockStore`, `Ingester`, `Querier`) and the components built on them.
//!
//! The crate is being built up issue by issue; what is here works, and nothing here
//! pretends to.
//!
//! - [`distributor`]: validation, rate limits and forwarding of pushes.
//! - [`ingester`]: per-tenant TSDBs taking pushes and shipping blocks to the bucket.
//! - [`tenant`]: tenant IDs and the `X-Scope-OrgID` header.
//! - [`limits`]: per-tenant limits, runtime overrides and ingestion rate limiting.
//! - [`validation`]: the distributor's checks of incoming series against a tenant's limits.
//! - [`promql`]: the PromQL parser and engine.
//! - [`querier`]: the `Querier` trait the engine reads through; an in-memory store, a
//!   tenant's ingester TSDB merged with its bucket blocks, and tenant federation.
//! - [`storage`]: the blocks bucket (`BlockStore` over object_store: filesystem, memory,
//!   S3), Cortex's layout and markers, and the per-tenant bucket index.
//! - [`cache`]: the index, chunks and metadata caches: in-process LRU or memcached.
//! - [`frontend`]: range queries aligned, split by interval and answered through the
//!   results cache.
//! - [`storegateway`]: bucket blocks served by byte range (index-header, postings, series,
//!   chunks) without downloading them, per-tenant block sets and their `Querier`.
//! - [`api`]: Prometheus' HTTP query API: parameters, JSON bodies, errors.
//! - [`remote_read`]: remote-read requests answered from a `Querier`, sampled or streamed.
//! - [`remote_write`]: remote-write requests: decoded types, 1.0 and 2.0 codecs, bodies.

pub mod api;
pub mod cache;
pub mod distributor;
pub mod frontend;
pub mod ingester;
pub mod limits;
pub mod promql;
pub mod querier;
pub mod remote_read;
pub mod remote_write;
pub mod ring;
pub mod storage;
pub mod storegateway;
pub mod tenant;
pub mod validation;
