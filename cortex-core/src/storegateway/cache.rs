//! [`RangeCache`]: the hook a cache of postings lists, series entries and chunks
//! implements, so a store-gateway asks it before the bucket. [`NoRangeCache`] is the
//! default and caches nothing.
//!
//! An item is named by the bucket object it lives in (which includes tenant and block
//! ULID) and its offset there; blocks are immutable, so a key never changes meaning and
//! entries never need invalidating. Values are the item's exact bytes (framing and
//! checksum included), so a hit is checked like fetched bytes. Caches are best effort:
//! `fetch` returns what it has, `store` may drop anything, neither fails. The caches
//! themselves (in-process, memcached) live elsewhere.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

/// The future a [`RangeCache`] method returns.
pub type CacheFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What kind of item a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RangeKind {
    /// A postings list of the index.
    Postings,
    /// A series entry of the index.
    Series,
    /// A chunk of a segment object.
    Chunk,
}

/// One cached item: its kind, the object holding it and its offset there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RangeKey {
    /// What the bytes are.
    pub kind: RangeKind,
    /// The bucket object, e.g. `team-a/01H.../index`.
    pub object: Arc<str>,
    /// Offset of the item's first byte in the object.
    pub offset: u64,
}

/// A cache of item bytes by [`RangeKey`].
pub trait RangeCache: Send + Sync + fmt::Debug {
    /// The cached bytes of those `keys` the cache holds.
    fn fetch<'a>(&'a self, keys: &'a [RangeKey]) -> CacheFuture<'a, HashMap<RangeKey, Bytes>>;

    /// Offers fetched items to the cache.
    fn store<'a>(&'a self, items: &'a [(RangeKey, Bytes)]) -> CacheFuture<'a, ()>;
}

/// A cache that holds nothing: every lookup misses, stores are dropped.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRangeCache;

impl RangeCache for NoRangeCache {
    fn fetch<'a>(&'a self, _keys: &'a [RangeKey]) -> CacheFuture<'a, HashMap<RangeKey, Bytes>> {
        Box::pin(async { HashMap::new() })
    }

    fn store<'a>(&'a self, _items: &'a [(RangeKey, Bytes)]) -> CacheFuture<'a, ()> {
        Box::pin(async {})
    }
}
