//! [`CachingRange`]: the store-gateway's [`RangeCache`] over the general [`Cache`]s —
//! Cortex's `index_cache` for postings lists and series entries, its `chunks_cache` for
//! chunks. Either may be absent; items of a kind without a cache are neither looked up
//! nor stored.
//!
//! Keys are `P:<object>:<offset>`, `S:<object>:<offset>` and `C:<object>:<offset>`
//! (postings, series, chunk). Objects name tenant and block ULID and blocks never change,
//! so a key always means the same bytes; the TTLs only bound how long unused items take
//! room. Hits and misses are counted per kind ([`RangeCacheStats`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;

use super::cache::{CacheFuture, RangeCache, RangeKey, RangeKind};
use crate::cache::Cache;

/// How long cached items live (Thanos' defaults: a day for every kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachingRangeConfig {
    /// TTL of postings lists.
    pub postings_ttl: Duration,
    /// TTL of series entries.
    pub series_ttl: Duration,
    /// TTL of chunks.
    pub chunks_ttl: Duration,
}

impl Default for CachingRangeConfig {
    fn default() -> CachingRangeConfig {
        let day = Duration::from_secs(24 * 60 * 60);
        CachingRangeConfig {
            postings_ttl: day,
            series_ttl: day,
            chunks_ttl: day,
        }
    }
}

/// Lookups of one item kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HitsMisses {
    /// Keys found.
    pub hits: u64,
    /// Keys looked up and not found.
    pub misses: u64,
}

impl HitsMisses {
    /// Hits over lookups; 0 without lookups.
    pub fn hit_ratio(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }
}

/// Lookups per item kind since the adapter was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RangeCacheStats {
    /// Postings lists.
    pub postings: HitsMisses,
    /// Series entries.
    pub series: HitsMisses,
    /// Chunks.
    pub chunks: HitsMisses,
}

impl RangeCacheStats {
    /// All kinds together.
    pub fn total(&self) -> HitsMisses {
        HitsMisses {
            hits: self.postings.hits + self.series.hits + self.chunks.hits,
            misses: self.postings.misses + self.series.misses + self.chunks.misses,
        }
    }
}

/// A [`RangeCache`] over an index cache and a chunks cache (see the module
/// documentation).
#[derive(Debug)]
pub struct CachingRange {
    index: Option<Arc<dyn Cache>>,
    chunks: Option<Arc<dyn Cache>>,
    cfg: CachingRangeConfig,
    /// Hits and misses by kind (postings, series, chunk).
    hits: [AtomicU64; 3],
    misses: [AtomicU64; 3],
}

fn slot(kind: RangeKind) -> usize {
    match kind {
        RangeKind::Postings => 0,
        RangeKind::Series => 1,
        RangeKind::Chunk => 2,
    }
}

/// The cache key of `key`.
pub fn cache_key(key: &RangeKey) -> String {
    let tag = match key.kind {
        RangeKind::Postings => 'P',
        RangeKind::Series => 'S',
        RangeKind::Chunk => 'C',
    };
    format!("{tag}:{}:{}", key.object, key.offset)
}

impl CachingRange {
    /// Postings and series in `index`, chunks in `chunks` (`None`: not cached).
    pub fn new(
        index: Option<Arc<dyn Cache>>,
        chunks: Option<Arc<dyn Cache>>,
        cfg: CachingRangeConfig,
    ) -> CachingRange {
        CachingRange {
            index,
            chunks,
            cfg,
            hits: Default::default(),
            misses: Default::default(),
        }
    }

    /// The cache holding items of `kind`, if any.
    fn cache_for(&self, kind: RangeKind) -> Option<&Arc<dyn Cache>> {
        match kind {
            RangeKind::Postings | RangeKind::Series => self.index.as_ref(),
            RangeKind::Chunk => self.chunks.as_ref(),
        }
    }

    fn ttl(&self, kind: RangeKind) -> Duration {
        match kind {
            RangeKind::Postings => self.cfg.postings_ttl,
            RangeKind::Series => self.cfg.series_ttl,
            RangeKind::Chunk => self.cfg.chunks_ttl,
        }
    }

    /// Lookups per kind so far.
    pub fn stats(&self) -> RangeCacheStats {
        let get = |i: usize| HitsMisses {
            hits: self.hits[i].load(Ordering::Relaxed),
            misses: self.misses[i].load(Ordering::Relaxed),
        };
        RangeCacheStats {
            postings: get(0),
            series: get(1),
            chunks: get(2),
        }
    }
}

/// The two caches an adapter may use; `Index` also holds series entries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Index,
    Chunks,
}

fn which(kind: RangeKind) -> Which {
    match kind {
        RangeKind::Postings | RangeKind::Series => Which::Index,
        RangeKind::Chunk => Which::Chunks,
    }
}

impl RangeCache for CachingRange {
    fn fetch<'a>(&'a self, keys: &'a [RangeKey]) -> CacheFuture<'a, HashMap<RangeKey, Bytes>> {
        Box::pin(async move {
            let mut out = HashMap::new();
            for w in [Which::Index, Which::Chunks] {
                let mine: Vec<&RangeKey> = keys.iter().filter(|k| which(k.kind) == w).collect();
                let Some(first) = mine.first() else { continue };
                let Some(cache) = self.cache_for(first.kind) else {
                    continue;
                };
                let names: Vec<String> = mine.iter().map(|k| cache_key(k)).collect();
                let mut found = cache.fetch(&names).await.hits;
                for (k, name) in mine.into_iter().zip(&names) {
                    let i = slot(k.kind);
                    match found.remove(name) {
                        Some(b) => {
                            self.hits[i].fetch_add(1, Ordering::Relaxed);
                            out.insert(k.clone(), b);
                        }
                        None => {
                            self.misses[i].fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            out
        })
    }

    fn store<'a>(&'a self, items: &'a [(RangeKey, Bytes)]) -> CacheFuture<'a, ()> {
        Box::pin(async move {
            for kind in [RangeKind::Postings, RangeKind::Series, RangeKind::Chunk] {
                let Some(cache) = self.cache_for(kind) else {
                    continue;
                };
                let mine: Vec<(String, Bytes)> = items
                    .iter()
                    .filter(|(k, _)| k.kind == kind)
                    .map(|(k, b)| (cache_key(k), b.clone()))
                    .collect();
                if !mine.is_empty() {
                    cache.store(mine, self.ttl(kind));
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::InMemoryCache;

    fn key(kind: RangeKind, offset: u64) -> RangeKey {
        RangeKey {
            kind,
            object: Arc::from("t/01H/index"),
            offset,
        }
    }

    #[tokio::test]
    async fn kinds_go_to_their_cache_and_are_counted_apart() {
        let index: Arc<dyn Cache> = Arc::new(InMemoryCache::new("index", 1 << 20, 0));
        let c = CachingRange::new(Some(index.clone()), None, CachingRangeConfig::default());
        let items = vec![
            (key(RangeKind::Postings, 8), Bytes::from_static(b"p")),
            (key(RangeKind::Series, 8), Bytes::from_static(b"s")),
            (key(RangeKind::Chunk, 8), Bytes::from_static(b"c")),
        ];
        c.store(&items).await;
        let keys: Vec<RangeKey> = items.iter().map(|(k, _)| k.clone()).collect();
        let got = c.fetch(&keys).await;
        // Same object and offset, different kinds: different entries.
        assert_eq!(got.get(&keys[0]).unwrap().as_ref(), b"p");
        assert_eq!(got.get(&keys[1]).unwrap().as_ref(), b"s");
        // No chunks cache: chunks are neither stored nor looked up.
        assert!(!got.contains_key(&keys[2]));
        assert_eq!(index.stats().stored, 2);
        let s = c.stats();
        assert_eq!((s.postings.hits, s.series.hits), (1, 1));
        assert_eq!((s.chunks.hits, s.chunks.misses), (0, 0));
        let got = c.fetch(&[key(RangeKind::Postings, 16)]).await;
        assert!(got.is_empty());
        assert_eq!(c.stats().postings, HitsMisses { hits: 1, misses: 1 });
        assert_eq!(c.stats().postings.hit_ratio(), 0.5);
        assert_eq!(cache_key(&keys[2]), "C:t/01H/index:8");
    }
}
