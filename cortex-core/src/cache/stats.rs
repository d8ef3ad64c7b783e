//! [`CacheStats`], the counters every cache keeps (per cache, so per name), and the
//! atomics behind them. Keys are counted one by one: a fetch of ten keys is ten
//! requests.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a cache's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Keys asked for.
    pub requests: u64,
    /// Keys found.
    pub hits: u64,
    /// Keys not found, including those a failing server could not answer.
    pub misses: u64,
    /// Items accepted for storing.
    pub stored: u64,
    /// Items not stored because they exceed the item size limit.
    pub skipped_too_large: u64,
    /// Items not stored because the store queue was full.
    pub dropped_queue_full: u64,
    /// Operations against a server that failed (connect, I/O, timeout, bad reply).
    pub failures: u64,
    /// Items evicted to make room for others.
    pub evictions: u64,
}

/// The live counters behind [`CacheStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) stored: AtomicU64,
    pub(crate) skipped_too_large: AtomicU64,
    pub(crate) dropped_queue_full: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) evictions: AtomicU64,
}

impl Counters {
    /// Adds `n` to `counter`.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one fetch of `requested` keys of which `hits` were found.
    pub(crate) fn fetched(&self, requested: usize, hits: usize) {
        Counters::add(&self.requests, requested as u64);
        Counters::add(&self.hits, hits as u64);
        Counters::add(&self.misses, requested.saturating_sub(hits) as u64);
    }

    /// The current values.
    pub(crate) fn snapshot(&self) -> CacheStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStats {
            requests: get(&self.requests),
            hits: get(&self.hits),
            misses: get(&self.misses),
            stored: get(&self.stored),
            skipped_too_large: get(&self.skipped_too_large),
            dropped_queue_full: get(&self.dropped_queue_full),
            failures: get(&self.failures),
            evictions: get(&self.evictions),
        }
    }
}
