//! [`MetadataCachingStore`]: the store conformance suite through it, metadata served
//! from the cache on a second read, cached absence and listings expiring or giving way
//! to this process's own writes, and damaged cache entries read as misses.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use cortex_tsdb::ulid::Ulid;
use object_store::ObjectStore;

use super::layout::meta_path;
use super::metadata_cache::{MetadataCacheConfig, MetadataCachingStore};
use super::store::{BlockStore, Listing, ObjectBlockStore, ObjectInfo, StoreFuture};
use super::testing::{put_block, run_conformance};
use crate::cache::{Cache, InMemoryCache};
use crate::ingester::duration::GoDuration;

/// A store counting the reads that reach it.
#[derive(Debug)]
struct Counting {
    inner: ObjectBlockStore,
    gets: AtomicUsize,
    heads: AtomicUsize,
    lists: AtomicUsize,
}

impl Counting {
    fn new() -> Arc<Counting> {
        Arc::new(Counting {
            inner: ObjectBlockStore::in_memory(),
            gets: AtomicUsize::new(0),
            heads: AtomicUsize::new(0),
            lists: AtomicUsize::new(0),
        })
    }
}

impl BlockStore for Counting {
    fn get<'a>(&'a self, path: &'a str) -> StoreFuture<'a, Bytes> {
        self.gets.fetch_add(1, Relaxed);
        self.inner.get(path)
    }
    fn get_range<'a>(&'a self, path: &'a str, range: Range<u64>) -> StoreFuture<'a, Bytes> {
        self.inner.get_range(path, range)
    }
    fn head<'a>(&'a self, path: &'a str) -> StoreFuture<'a, ObjectInfo> {
        self.heads.fetch_add(1, Relaxed);
        self.inner.head(path)
    }
    fn put<'a>(&'a self, path: &'a str, data: Bytes) -> StoreFuture<'a, ()> {
        self.inner.put(path, data)
    }
    fn delete<'a>(&'a self, path: &'a str) -> StoreFuture<'a, ()> {
        self.inner.delete(path)
    }
    fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Listing> {
        self.lists.fetch_add(1, Relaxed);
        self.inner.list(prefix)
    }
    fn list_recursive<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<ObjectInfo>> {
        self.inner.list_recursive(prefix)
    }
    fn object_store(&self) -> &Arc<dyn ObjectStore> {
        self.inner.object_store()
    }
    fn local_dir(&self) -> Option<&Path> {
        None
    }
}

fn cache() -> Arc<InMemoryCache> {
    Arc::new(InMemoryCache::new("metadata-cache", 64 << 20, 0))
}

fn caching(inner: Arc<dyn BlockStore>, cfg: MetadataCacheConfig) -> MetadataCachingStore {
    MetadataCachingStore::new(inner, cache(), cfg)
}

#[tokio::test]
async fn caching_store_passes_the_store_conformance_suite() {
    let mem = Arc::new(ObjectBlockStore::in_memory());
    run_conformance(&caching(mem, MetadataCacheConfig::default())).await;
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(ObjectBlockStore::local(&dir.path().join("bucket")).unwrap());
    run_conformance(&caching(local, MetadataCacheConfig::default())).await;
}

#[tokio::test]
async fn meta_json_and_listings_come_from_the_cache_on_second_read() {
    let inner = Counting::new();
    let id = Ulid::from_parts(1_700_000_000_000, 1);
    put_block(&*inner, "t", id, 0, 10, false).await;
    let store = caching(inner.clone(), MetadataCacheConfig::default());
    let path = meta_path("t", id);
    let first = store.get(&path).await.unwrap();
    assert_eq!(store.get(&path).await.unwrap(), first);
    assert_eq!(inner.gets.load(Relaxed), 1, "the second read is a hit");
    assert_eq!(store.head(&path).await.unwrap().size, first.len() as u64);
    store.head(&path).await.unwrap();
    assert_eq!(inner.heads.load(Relaxed), 1);
    for _ in 0..2 {
        assert_eq!(store.list("").await.unwrap().dirs, ["t"]);
        assert_eq!(store.list("t/").await.unwrap().dirs, [format!("t/{id}")]);
        assert_eq!(
            store
                .list(&format!("t/{id}/chunks"))
                .await
                .unwrap()
                .objects
                .len(),
            1
        );
    }
    assert_eq!(inner.lists.load(Relaxed), 3);
    // Other reads pass through every time.
    store.get(&format!("t/{id}/index")).await.unwrap();
    store.get(&format!("t/{id}/index")).await.unwrap();
    assert_eq!(inner.gets.load(Relaxed), 3);

    // A write by this process is seen at once, by the object and by its listings.
    let other = Ulid::from_parts(1_700_000_000_000, 2);
    put_block(&store, "u", other, 0, 10, false).await;
    assert_eq!(store.list("").await.unwrap().dirs, ["t", "u"]);
    let meta = store.get(&meta_path("u", other)).await.unwrap();
    assert!(
        std::str::from_utf8(&meta)
            .unwrap()
            .contains(&other.to_string())
    );
    store.delete(&path).await.unwrap();
    assert!(store.get(&path).await.unwrap_err().is_not_found());
    assert!(store.head(&path).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn cached_absence_of_a_deletion_mark_expires_quickly() {
    let inner = Counting::new();
    let cfg = MetadataCacheConfig {
        metafile_doesnt_exist_ttl: GoDuration(Duration::from_millis(100)),
        ..Default::default()
    };
    let store = caching(inner.clone(), cfg);
    let mark = "t/01HZZZZZZZZZZZZZZZZZZZZZZZ/deletion-mark.json";
    assert!(store.get(mark).await.unwrap_err().is_not_found());
    // Another process marks the block: the cached absence holds until it expires.
    inner.put(mark, Bytes::from_static(b"{}")).await.unwrap();
    assert!(store.get(mark).await.unwrap_err().is_not_found());
    assert_eq!(inner.gets.load(Relaxed), 1);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(store.get(mark).await.unwrap().as_ref(), b"{}");
}

#[tokio::test]
async fn missing_bucket_index_is_not_cached_but_its_content_is() {
    let inner = Counting::new();
    let store = caching(inner.clone(), MetadataCacheConfig::default());
    let idx = "t/bucket-index.json.gz";
    assert!(store.get(idx).await.unwrap_err().is_not_found());
    inner.put(idx, Bytes::from_static(b"gz")).await.unwrap();
    assert_eq!(store.get(idx).await.unwrap().as_ref(), b"gz");
    assert_eq!(store.get(idx).await.unwrap().as_ref(), b"gz");
    assert_eq!(inner.gets.load(Relaxed), 2);
    // Bigger than the limit: read through every time.
    let small = MetadataCacheConfig {
        bucket_index_max_size_bytes: 1,
        ..Default::default()
    };
    let store = caching(inner.clone(), small);
    store.get(idx).await.unwrap();
    store.get(idx).await.unwrap();
    assert_eq!(inner.gets.load(Relaxed), 4);
}

#[tokio::test]
async fn damaged_cache_entries_are_misses() {
    let inner = Counting::new();
    let id = Ulid::from_parts(1_700_000_000_000, 3);
    put_block(&*inner, "t", id, 0, 10, false).await;
    let c = cache();
    let store = MetadataCachingStore::new(inner.clone(), c.clone(), Default::default());
    let path = meta_path("t", id);
    let junk = [
        &b""[..],
        b"m",
        b"m\x01\x07aaaaaaaa",
        b"m\x01\x00short",
        b"xx\x00aaaaaaaa",
    ];
    for (i, j) in junk.iter().enumerate() {
        let ttl = Duration::from_secs(60);
        c.store(
            vec![(format!("mc:get:{path}"), Bytes::copy_from_slice(j))],
            ttl,
        );
        c.store(
            vec![(format!("mc:head:{path}"), Bytes::copy_from_slice(j))],
            ttl,
        );
        c.store(
            vec![("mc:list:t".to_string(), Bytes::copy_from_slice(j))],
            ttl,
        );
        let meta = store.get(&path).await.unwrap();
        assert!(
            std::str::from_utf8(&meta)
                .unwrap()
                .contains(&id.to_string())
        );
        assert_eq!(store.head(&path).await.unwrap().size, meta.len() as u64);
        assert_eq!(store.list("t").await.unwrap().dirs, [format!("t/{id}")]);
        assert_eq!(inner.gets.load(Relaxed), i + 1, "{j:?}");
    }
}
