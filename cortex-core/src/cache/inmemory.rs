//! [`InMemoryCache`]: the in-process [`Cache`] — an [`Lru`] bounded by
//! `max_size_bytes` behind a mutex, skipping items bigger than `max_item_size`,
//! honouring TTLs and counting hits, misses and evictions.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::lru::Lru;
use super::stats::{CacheStats, Counters};
use super::{Cache, CacheFuture, Fetched};

/// A least-recently-used cache in the process, bounded by the bytes of its keys and
/// values.
#[derive(Debug)]
pub struct InMemoryCache {
    name: String,
    max_item_size: u64,
    lru: Mutex<Lru>,
    counters: Counters,
}

impl InMemoryCache {
    /// A cache named `name` holding at most `max_size_bytes` of keys and values; items
    /// whose key plus value exceed `max_item_size` (0: no limit but `max_size_bytes`)
    /// are not stored.
    pub fn new(name: &str, max_size_bytes: u64, max_item_size: u64) -> InMemoryCache {
        let max_item_size = if max_item_size == 0 {
            max_size_bytes
        } else {
            max_item_size.min(max_size_bytes)
        };
        InMemoryCache {
            name: name.to_string(),
            max_item_size,
            lru: Mutex::new(Lru::new(max_size_bytes)),
            counters: Counters::default(),
        }
    }

    /// Number of items held (expired ones included until they are looked up or evicted).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no items are held.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Bytes of keys and values held.
    pub fn size_bytes(&self) -> u64 {
        self.lock().bytes()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        // A panic while holding the lock cannot leave the LRU half-updated in a way that
        // breaks memory safety; keep serving.
        self.lru
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Cache for InMemoryCache {
    fn name(&self) -> &str {
        &self.name
    }

    fn store(&self, items: Vec<(String, Bytes)>, ttl: Duration) {
        let expires = (!ttl.is_zero()).then(|| Instant::now() + ttl);
        let mut lru = self.lock();
        for (key, value) in items {
            if (key.len() + value.len()) as u64 > self.max_item_size {
                Counters::add(&self.counters.skipped_too_large, 1);
                continue;
            }
            let evicted = lru.insert(&key, value, expires);
            Counters::add(&self.counters.evictions, evicted as u64);
            Counters::add(&self.counters.stored, 1);
        }
    }

    fn fetch<'a>(&'a self, keys: &'a [String]) -> CacheFuture<'a, Fetched> {
        let now = Instant::now();
        let mut fetched = Fetched {
            hits: HashMap::with_capacity(keys.len()),
            misses: Vec::new(),
        };
        {
            let mut lru = self.lock();
            for key in keys {
                match lru.get(key, now) {
                    Some(value) => {
                        fetched.hits.insert(key.clone(), value);
                    }
                    None => fetched.misses.push(key.clone()),
                }
            }
        }
        self.counters
            .fetched(keys.len(), keys.len() - fetched.misses.len());
        Box::pin(std::future::ready(fetched))
    }

    fn stats(&self) -> CacheStats {
        self.counters.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::testing::run_conformance;

    #[tokio::test]
    async fn conformance() {
        run_conformance(&InMemoryCache::new("conformance", 64 << 20, 1 << 20)).await;
    }

    #[tokio::test]
    async fn evicts_by_bytes_and_counts_evictions() {
        let cache = InMemoryCache::new("c", 100, 0);
        let items = (0..10)
            .map(|i| (format!("k{i}"), Bytes::from(vec![i as u8; 18])))
            .collect();
        cache.store(items, Duration::ZERO); // 20 bytes each: the last 5 fit
        assert_eq!(cache.len(), 5);
        assert_eq!(cache.size_bytes(), 100);
        let keys: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
        let got = cache.fetch(&keys).await;
        assert_eq!(got.misses, keys[..5].to_vec());
        assert_eq!(got.hits.len(), 5);
        assert_eq!(got.hits["k9"], Bytes::from(vec![9u8; 18]));
        let stats = cache.stats();
        assert_eq!(stats.evictions, 5);
        assert_eq!(stats.stored, 10);
        assert_eq!((stats.requests, stats.hits, stats.misses), (10, 5, 5));
    }

    #[tokio::test]
    async fn items_over_the_item_size_are_skipped() {
        let cache = InMemoryCache::new("c", 1000, 50);
        cache.store(
            vec![
                ("big".into(), Bytes::from(vec![0u8; 48])),
                ("ok".into(), Bytes::from(vec![0u8; 48])),
            ],
            Duration::ZERO,
        );
        let keys = vec!["big".to_string(), "ok".to_string()];
        let got = cache.fetch(&keys).await;
        assert_eq!(got.misses, vec!["big".to_string()]);
        assert_eq!(cache.stats().skipped_too_large, 1);
        assert_eq!(cache.stats().stored, 1);
    }
}
