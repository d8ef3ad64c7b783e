//! [`MetadataCachingStore`]: a [`BlockStore`] that keeps the bucket's small, often-read
//! metadata in a [`Cache`] (Cortex's `blocks_storage.bucket_store.metadata_cache`), so
//! store-gateways and queriers do not ask the bucket again and again:
//!
//! - `get` of meta files (`<block>/meta.json`, `<block>/deletion-mark.json`,
//!   `<tenant>/markers/tenant-deletion-mark.json`): content for `metafile_content_ttl`
//!   (up to `metafile_max_size_bytes`), absence for `metafile_doesnt_exist_ttl` — short,
//!   since a deletion mark may appear at any time;
//! - `get` of `<tenant>/bucket-index.json.gz`: content for `bucket_index_content_ttl`
//!   (up to `bucket_index_max_size_bytes`); absence is not cached;
//! - `head` of meta files: for `metafile_exists_ttl` (absence: `metafile_doesnt_exist_ttl`);
//!   `head` of a block's `index`: for `block_index_attributes_ttl` (blocks are immutable);
//! - `list` of the bucket root (tenants) for `tenants_list_ttl`, of a tenant (its blocks)
//!   for `tenant_blocks_list_ttl`, of a block's `chunks/` for `chunks_list_ttl`.
//!
//! Everything else passes through. Writes (`put`, `delete`) go to the bucket and cannot
//! remove entries other processes cached: readers elsewhere tolerate the TTLs, as in
//! Cortex. This process, though, never reads its own writes stale: every cached entry
//! records when its bucket read started, and an entry read before this process last
//! wrote (or deleted) the object — or an object below a listed directory — is ignored.
//! Writes through [`BlockStore::object_store`] bypass this wrapper and are not seen.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use object_store::ObjectStore;
use serde::{Deserialize, Serialize};

use super::error::StorageError;
use super::store::{BlockStore, Listing, ObjectInfo, StoreFuture};
use crate::cache::Cache;
use crate::ingester::duration::GoDuration;

/// `metadata_cache` TTLs and size limits, with Cortex's names and defaults (the cache
/// backend itself is a [`crate::cache::CacheConfig`]). A zero TTL caches nothing of
/// that kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetadataCacheConfig {
    /// `tenants_list_ttl`: the list of tenants. Default 15m.
    pub tenants_list_ttl: GoDuration,
    /// `tenant_blocks_list_ttl`: a tenant's list of blocks. Default 5m.
    pub tenant_blocks_list_ttl: GoDuration,
    /// `chunks_list_ttl`: a block's list of chunk segments. Default 24h.
    pub chunks_list_ttl: GoDuration,
    /// `metafile_exists_ttl`: that a meta file exists. Default 2h.
    pub metafile_exists_ttl: GoDuration,
    /// `metafile_doesnt_exist_ttl`: that a meta file does not exist. Default 5m.
    pub metafile_doesnt_exist_ttl: GoDuration,
    /// `metafile_content_ttl`: a meta file's content. Default 24h.
    pub metafile_content_ttl: GoDuration,
    /// `metafile_max_size_bytes`: larger meta files are not cached. Default 1 MiB.
    pub metafile_max_size_bytes: u64,
    /// `block_index_attributes_ttl`: size and time of a block's `index`. Default 168h.
    pub block_index_attributes_ttl: GoDuration,
    /// `bucket_index_content_ttl`: a tenant's bucket index. Default 5m.
    pub bucket_index_content_ttl: GoDuration,
    /// `bucket_index_max_size_bytes`: larger bucket indexes are not cached. Default
    /// 1 MiB.
    pub bucket_index_max_size_bytes: u64,
}

impl Default for MetadataCacheConfig {
    fn default() -> MetadataCacheConfig {
        MetadataCacheConfig {
            tenants_list_ttl: GoDuration::minutes(15),
            tenant_blocks_list_ttl: GoDuration::minutes(5),
            chunks_list_ttl: GoDuration::hours(24),
            metafile_exists_ttl: GoDuration::hours(2),
            metafile_doesnt_exist_ttl: GoDuration::minutes(5),
            metafile_content_ttl: GoDuration::hours(24),
            metafile_max_size_bytes: 1 << 20,
            block_index_attributes_ttl: GoDuration::hours(168),
            bucket_index_content_ttl: GoDuration::minutes(5),
            bucket_index_max_size_bytes: 1 << 20,
        }
    }
}

/// The kinds of objects whose reads are cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    MetaFile,
    BucketIndex,
    BlockIndex,
    Other,
}

fn classify(path: &str) -> Class {
    if path.ends_with("/meta.json")
        || path.ends_with("/deletion-mark.json")
        || path.ends_with("/markers/tenant-deletion-mark.json")
    {
        Class::MetaFile
    } else if path.ends_with("/bucket-index.json.gz") {
        Class::BucketIndex
    } else if let Some(dir) = path.strip_suffix("/index")
        && super::layout::base_name(dir)
            .parse::<cortex_tsdb::ulid::Ulid>()
            .is_ok()
    {
        Class::BlockIndex
    } else {
        Class::Other
    }
}

/// Every directory above `path`, the root (`""`) included.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(|(i, _)| &path[..i])
        .chain(std::iter::once(""))
}

/// Entries start with this magic and version; anything else is a miss.
const MAGIC: [u8; 2] = [b'm', 1];
const FOUND: u8 = 0;
const ABSENT: u8 = 1;
/// Past this many write notes, notes older than every TTL are forgotten.
const NOTES_PRUNE_AT: usize = 4096;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn encode(tag: u8, read_ms: i64, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(11 + payload.len());
    b.put_slice(&MAGIC);
    b.put_u8(tag);
    b.put_i64_le(read_ms);
    b.put_slice(payload);
    b.freeze()
}

fn decode(b: &Bytes) -> Option<(u8, i64, Bytes)> {
    if b.len() < 11 || b[..2] != MAGIC || b[2] > ABSENT {
        return None;
    }
    let read_ms = i64::from_le_bytes(b[3..11].try_into().ok()?);
    Some((b[2], read_ms, b.slice(11..)))
}

#[derive(Serialize, Deserialize)]
struct CachedObject {
    path: String,
    size: u64,
    modified_ms: i64,
}

impl From<&ObjectInfo> for CachedObject {
    fn from(o: &ObjectInfo) -> CachedObject {
        CachedObject {
            path: o.path.clone(),
            size: o.size,
            modified_ms: o.last_modified_ms,
        }
    }
}

impl From<CachedObject> for ObjectInfo {
    fn from(o: CachedObject) -> ObjectInfo {
        ObjectInfo {
            path: o.path,
            size: o.size,
            last_modified_ms: o.modified_ms,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct CachedListing {
    objects: Vec<CachedObject>,
    dirs: Vec<String>,
}

/// A [`BlockStore`] caching metadata reads (see the module documentation).
#[derive(Debug)]
pub struct MetadataCachingStore {
    inner: Arc<dyn BlockStore>,
    cache: Arc<dyn Cache>,
    cfg: MetadataCacheConfig,
    /// When this process last wrote each cached object (`o:<path>`) or below each
    /// cached directory (`d:<dir>`), Unix milliseconds.
    notes: Mutex<HashMap<String, i64>>,
}

impl MetadataCachingStore {
    /// `inner` with its metadata reads cached in `cache` as `cfg` says.
    pub fn new(
        inner: Arc<dyn BlockStore>,
        cache: Arc<dyn Cache>,
        cfg: MetadataCacheConfig,
    ) -> MetadataCachingStore {
        MetadataCachingStore {
            inner,
            cache,
            cfg,
            notes: Mutex::new(HashMap::new()),
        }
    }

    /// The store underneath.
    pub fn inner(&self) -> &Arc<dyn BlockStore> {
        &self.inner
    }

    fn notes(&self) -> MutexGuard<'_, HashMap<String, i64>> {
        self.notes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The TTL of a listing of `prefix`, when listings of it are cached.
    fn list_ttl(&self, prefix: &str) -> Option<Duration> {
        let ttl = if prefix.is_empty() {
            self.cfg.tenants_list_ttl
        } else if !prefix.contains('/') {
            self.cfg.tenant_blocks_list_ttl
        } else if prefix.ends_with("/chunks") {
            self.cfg.chunks_list_ttl
        } else {
            return None;
        };
        Some(ttl.0).filter(|t| !t.is_zero())
    }

    fn longest_ttl(&self) -> Duration {
        let c = &self.cfg;
        [
            c.tenants_list_ttl,
            c.tenant_blocks_list_ttl,
            c.chunks_list_ttl,
            c.metafile_exists_ttl,
            c.metafile_doesnt_exist_ttl,
            c.metafile_content_ttl,
            c.block_index_attributes_ttl,
            c.bucket_index_content_ttl,
        ]
        .iter()
        .map(|d| d.0)
        .max()
        .unwrap_or_default()
    }

    /// Records that this process just wrote or deleted `path`.
    fn note_write(&self, path: &str) {
        let now = now_ms();
        let mut keys = Vec::new();
        if classify(path) != Class::Other {
            keys.push(format!("o:{path}"));
        }
        keys.extend(
            ancestors(path)
                .filter(|d| self.list_ttl(d).is_some())
                .map(|d| format!("d:{d}")),
        );
        let mut notes = self.notes();
        for k in keys {
            notes.insert(k, now);
        }
        if notes.len() > NOTES_PRUNE_AT {
            let horizon = now.saturating_sub(self.longest_ttl().as_millis() as i64);
            notes.retain(|_, &mut t| t >= horizon);
        }
    }

    /// The cached entry under `key`, unless it was read before this process last wrote
    /// what `note` names.
    async fn lookup(&self, key: &str, note: &str) -> Option<(u8, Bytes)> {
        let keys = [key.to_string()];
        let hit = self.cache.fetch(&keys).await.hits.remove(key)?;
        let (tag, read_ms, payload) = decode(&hit)?;
        match self.notes().get(note) {
            Some(&wrote) if read_ms <= wrote => None,
            _ => Some((tag, payload)),
        }
    }

    fn save(&self, key: String, tag: u8, read_ms: i64, payload: &[u8], ttl: Duration) {
        if !ttl.is_zero() {
            self.cache
                .store(vec![(key, encode(tag, read_ms, payload))], ttl);
        }
    }

    /// `get` through the cache: content kept for `ttl` when at most `max` bytes,
    /// absence for `absent_ttl`.
    async fn cached_get(
        &self,
        path: &str,
        ttl: Duration,
        max: u64,
        absent_ttl: Duration,
    ) -> Result<Bytes, StorageError> {
        let (key, note) = (format!("mc:get:{path}"), format!("o:{path}"));
        match self.lookup(&key, &note).await {
            Some((FOUND, b)) => return Ok(b),
            Some(_) => {
                return Err(StorageError::NotFound {
                    path: path.to_string(),
                });
            }
            None => {}
        }
        let read_ms = now_ms();
        match self.inner.get(path).await {
            Ok(b) => {
                if b.len() as u64 <= max {
                    self.save(key, FOUND, read_ms, &b, ttl);
                }
                Ok(b)
            }
            Err(e) => {
                if e.is_not_found() {
                    self.save(key, ABSENT, read_ms, &[], absent_ttl);
                }
                Err(e)
            }
        }
    }

    /// `head` through the cache: found kept for `ttl`, absence for `absent_ttl`.
    async fn cached_head(
        &self,
        path: &str,
        ttl: Duration,
        absent_ttl: Duration,
    ) -> Result<ObjectInfo, StorageError> {
        let (key, note) = (format!("mc:head:{path}"), format!("o:{path}"));
        match self.lookup(&key, &note).await {
            Some((FOUND, b)) => {
                if let Ok(o) = serde_json::from_slice::<CachedObject>(&b)
                    && o.path == path
                {
                    return Ok(o.into());
                }
            }
            Some(_) => {
                return Err(StorageError::NotFound {
                    path: path.to_string(),
                });
            }
            None => {}
        }
        let read_ms = now_ms();
        match self.inner.head(path).await {
            Ok(info) => {
                let json = serde_json::to_vec(&CachedObject::from(&info)).unwrap_or_default();
                self.save(key, FOUND, read_ms, &json, ttl);
                Ok(info)
            }
            Err(e) => {
                if e.is_not_found() {
                    self.save(key, ABSENT, read_ms, &[], absent_ttl);
                }
                Err(e)
            }
        }
    }

    async fn cached_list(&self, prefix: &str, ttl: Duration) -> Result<Listing, StorageError> {
        let (key, note) = (format!("mc:list:{prefix}"), format!("d:{prefix}"));
        if let Some((FOUND, b)) = self.lookup(&key, &note).await
            && let Ok(json) = snap::raw::Decoder::new().decompress_vec(&b)
            && let Ok(l) = serde_json::from_slice::<CachedListing>(&json)
        {
            return Ok(Listing {
                objects: l.objects.into_iter().map(ObjectInfo::from).collect(),
                dirs: l.dirs,
            });
        }
        let read_ms = now_ms();
        let listing = self.inner.list(prefix).await?;
        let cached = CachedListing {
            objects: listing.objects.iter().map(CachedObject::from).collect(),
            dirs: listing.dirs.clone(),
        };
        if let Ok(json) = serde_json::to_vec(&cached)
            && let Ok(z) = snap::raw::Encoder::new().compress_vec(&json)
        {
            self.save(key, FOUND, read_ms, &z, ttl);
        }
        Ok(listing)
    }
}

impl BlockStore for MetadataCachingStore {
    fn get<'a>(&'a self, path: &'a str) -> StoreFuture<'a, Bytes> {
        Box::pin(async move {
            let c = &self.cfg;
            match classify(path) {
                Class::MetaFile => {
                    self.cached_get(
                        path,
                        c.metafile_content_ttl.0,
                        c.metafile_max_size_bytes,
                        c.metafile_doesnt_exist_ttl.0,
                    )
                    .await
                }
                Class::BucketIndex => {
                    self.cached_get(
                        path,
                        c.bucket_index_content_ttl.0,
                        c.bucket_index_max_size_bytes,
                        Duration::ZERO,
                    )
                    .await
                }
                _ => self.inner.get(path).await,
            }
        })
    }

    fn get_range<'a>(&'a self, path: &'a str, range: Range<u64>) -> StoreFuture<'a, Bytes> {
        self.inner.get_range(path, range)
    }

    fn head<'a>(&'a self, path: &'a str) -> StoreFuture<'a, ObjectInfo> {
        Box::pin(async move {
            let c = &self.cfg;
            match classify(path) {
                Class::MetaFile => {
                    self.cached_head(path, c.metafile_exists_ttl.0, c.metafile_doesnt_exist_ttl.0)
                        .await
                }
                Class::BlockIndex => {
                    self.cached_head(path, c.block_index_attributes_ttl.0, Duration::ZERO)
                        .await
                }
                _ => self.inner.head(path).await,
            }
        })
    }

    fn put<'a>(&'a self, path: &'a str, data: Bytes) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let r = self.inner.put(path, data).await;
            // Noted even after a failure: the write may have happened.
            self.note_write(path);
            r
        })
    }

    fn delete<'a>(&'a self, path: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let r = self.inner.delete(path).await;
            self.note_write(path);
            r
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Listing> {
        Box::pin(async move {
            let p = prefix.trim_end_matches('/');
            match self.list_ttl(p) {
                Some(ttl) => self.cached_list(p, ttl).await,
                None => self.inner.list(prefix).await,
            }
        })
    }

    fn list_recursive<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<ObjectInfo>> {
        self.inner.list_recursive(prefix)
    }

    fn object_store(&self) -> &Arc<dyn ObjectStore> {
        self.inner.object_store()
    }

    fn local_dir(&self) -> Option<&Path> {
        self.inner.local_dir()
    }
}
