//! Caches the store-gateway and querier put in front of the bucket: a small [`Cache`]
//! trait — store items with a TTL, fetch many keys at once, count hits and misses —
//! and its two implementations, chosen by configuration with [`open_cache`].
//!
//! - [`inmemory`]: [`InMemoryCache`], a least-recently-used cache in the process,
//!   bounded by total bytes (built on [`lru`]).
//! - [`memcached`]: [`MemcachedCache`], a client of one or more memcached servers
//!   speaking the text protocol, with keys spread over the servers by a consistent hash.
//! - [`config`]: the `backend`, `inmemory.*` and `memcached.*` options with Cortex's names
//!   and defaults, and [`open_cache`].
//! - [`hash`]: memcached-safe keys (long or odd keys are hashed) and server selection.
//! - [`stats`]: the counters every cache keeps.
//! - `testing` (feature `testing`): the conformance suite both implementations run.
//!
//! A cache is an optimisation: it never fails a query. A fetch that cannot reach the
//! cache returns misses, and a store that cannot be done is dropped and counted.

pub mod config;
pub mod error;
pub mod hash;
pub mod inmemory;
pub mod lru;
pub mod memcached;
pub mod stats;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;

pub use config::{CacheBackend, CacheConfig, InMemoryConfig, MemcachedConfig, open_cache};
pub use error::CacheError;
pub use inmemory::InMemoryCache;
pub use memcached::MemcachedCache;
pub use stats::CacheStats;

/// The future [`Cache::fetch`] returns.
pub type CacheFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a [`Cache::fetch`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// The keys found, with their values.
    pub hits: HashMap<String, Bytes>,
    /// The keys not found (or not reachable), in the order they were asked for.
    pub misses: Vec<String>,
}

/// A cache of byte values under string keys.
///
/// Keys are any strings; an implementation with key restrictions (memcached) maps them
/// to keys it can hold. Values may be evicted or expire at any time, so a fetch may miss
/// what was stored. Neither operation reports an error: a cache that does not answer
/// behaves as an empty one, and its [`stats`](Cache::stats) say so.
pub trait Cache: Send + Sync + fmt::Debug {
    /// The cache's name (`index-cache`, `chunks-cache`, ...), for metrics and logs.
    fn name(&self) -> &str;

    /// Stores `items`, each expiring after `ttl` (zero: no expiry). Never waits for the
    /// cache: an implementation that talks to a server queues the writes, and drops
    /// (and counts) what does not fit in the queue. Items bigger than the cache's item
    /// size limit are skipped.
    fn store(&self, items: Vec<(String, Bytes)>, ttl: Duration);

    /// Looks up `keys`. Every key ends up in exactly one of `hits` or `misses`.
    fn fetch<'a>(&'a self, keys: &'a [String]) -> CacheFuture<'a, Fetched>;

    /// The cache's counters so far.
    fn stats(&self) -> CacheStats;
}
