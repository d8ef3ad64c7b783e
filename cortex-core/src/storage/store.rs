//! [`BlockStore`]: the small trait every blocks bucket implements — read a whole object
//! or a byte range, stat it, write, delete, and list one "directory" level (objects and
//! the common prefixes below a prefix) or everything under a prefix — and
//! [`ObjectBlockStore`], its implementation over any [`ObjectStore`]: a local directory
//! (the default), memory, S3, GCS or Azure.
//!
//! Paths are `/`-separated object keys relative to the bucket root, such as
//! `tenant-1/01H.../meta.json`. Conveniences built on the trait (tenants, blocks,
//! markers, the bucket index) live in the sibling modules, not here.

use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::error::StorageError;

/// The future every [`BlockStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StorageError>> + Send + 'a>>;

/// What a store knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's full path in the bucket.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// When the object was last written, Unix milliseconds.
    pub last_modified_ms: i64,
}

/// One level of a listing: the objects directly below a prefix and the "directories"
/// (common prefixes) one level down.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Objects directly below the prefix, sorted by path.
    pub objects: Vec<ObjectInfo>,
    /// Full paths of the directories below the prefix, without a trailing `/`, sorted.
    pub dirs: Vec<String>,
}

/// A bucket of blocks: the operations every backend has.
///
/// A missing object is [`StorageError::NotFound`] for `get`, `get_range` and `head`;
/// `delete` of a missing object succeeds (S3 cannot tell the difference). Listing a
/// prefix that holds nothing returns an empty result.
pub trait BlockStore: Send + Sync + fmt::Debug {
    /// The whole object at `path`.
    fn get<'a>(&'a self, path: &'a str) -> StoreFuture<'a, Bytes>;

    /// Bytes `range` of the object at `path` (an end past the object's size is cut to
    /// it; a start past it is an error).
    fn get_range<'a>(&'a self, path: &'a str, range: Range<u64>) -> StoreFuture<'a, Bytes>;

    /// Size and modification time of the object at `path`.
    fn head<'a>(&'a self, path: &'a str) -> StoreFuture<'a, ObjectInfo>;

    /// Writes `data` to `path`, replacing any object there; readers see the old or the
    /// new object, never a part.
    fn put<'a>(&'a self, path: &'a str, data: Bytes) -> StoreFuture<'a, ()>;

    /// Deletes the object at `path`; a missing object is not an error.
    fn delete<'a>(&'a self, path: &'a str) -> StoreFuture<'a, ()>;

    /// One level below the directory `prefix` (`""` is the bucket root; a trailing `/`
    /// is optional).
    fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Listing>;

    /// Every object below the directory `prefix`, at any depth, sorted by path.
    fn list_recursive<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<ObjectInfo>>;

    /// The object store underneath, for streaming and multipart uploads.
    fn object_store(&self) -> &Arc<dyn ObjectStore>;

    /// The directory of a local-filesystem store, whose objects are the files under it
    /// (so readers can open blocks in place); `None` for other stores.
    fn local_dir(&self) -> Option<&Path> {
        None
    }
}

/// A [`BlockStore`] over an [`ObjectStore`].
#[derive(Debug, Clone)]
pub struct ObjectBlockStore {
    store: Arc<dyn ObjectStore>,
    local_dir: Option<PathBuf>,
}

impl ObjectBlockStore {
    /// A store over any object store.
    pub fn new(store: Arc<dyn ObjectStore>) -> ObjectBlockStore {
        ObjectBlockStore {
            store,
            local_dir: None,
        }
    }

    /// A store in the local directory `dir` (created if missing). Deleting an object
    /// removes directories left empty, so deleted blocks leave no empty "directories".
    pub fn local(dir: &Path) -> Result<ObjectBlockStore, StorageError> {
        let path = dir.display().to_string();
        std::fs::create_dir_all(dir).map_err(|e| StorageError::ObjectStore {
            op: "create dir",
            path: path.clone(),
            source: object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(e),
            },
        })?;
        let fs = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| StorageError::from_store("open", &path, e))?
            .with_automatic_cleanup(true);
        Ok(ObjectBlockStore {
            store: Arc::new(fs),
            local_dir: Some(dir.to_path_buf()),
        })
    }

    /// An empty store in memory.
    pub fn in_memory() -> ObjectBlockStore {
        ObjectBlockStore::new(Arc::new(InMemory::new()))
    }
}

/// Parses an object path; `what` says whether it names an object or a prefix.
fn object_path(path: &str) -> Result<ObjectPath, StorageError> {
    if path.is_empty() {
        return Err(StorageError::InvalidPath {
            path: String::new(),
            reason: "empty object path".to_string(),
        });
    }
    ObjectPath::parse(path).map_err(|e| StorageError::InvalidPath {
        path: path.to_string(),
        reason: e.to_string(),
    })
}

/// Parses a listing prefix: `None` for the root.
fn prefix_path(prefix: &str) -> Result<Option<ObjectPath>, StorageError> {
    let p = prefix.trim_end_matches('/');
    if p.is_empty() {
        return Ok(None);
    }
    object_path(p).map(Some)
}

fn info(meta: object_store::ObjectMeta) -> ObjectInfo {
    ObjectInfo {
        path: meta.location.to_string(),
        size: meta.size,
        last_modified_ms: meta.last_modified.timestamp_millis(),
    }
}

impl BlockStore for ObjectBlockStore {
    fn get<'a>(&'a self, path: &'a str) -> StoreFuture<'a, Bytes> {
        Box::pin(async move {
            let p = object_path(path)?;
            let res = self
                .store
                .get(&p)
                .await
                .map_err(|e| StorageError::from_store("get", path, e))?;
            res.bytes()
                .await
                .map_err(|e| StorageError::from_store("get", path, e))
        })
    }

    fn get_range<'a>(&'a self, path: &'a str, range: Range<u64>) -> StoreFuture<'a, Bytes> {
        Box::pin(async move {
            let p = object_path(path)?;
            if range.start >= range.end {
                return Ok(Bytes::new());
            }
            self.store
                .get_range(&p, range)
                .await
                .map_err(|e| StorageError::from_store("get range", path, e))
        })
    }

    fn head<'a>(&'a self, path: &'a str) -> StoreFuture<'a, ObjectInfo> {
        Box::pin(async move {
            let p = object_path(path)?;
            self.store
                .head(&p)
                .await
                .map(info)
                .map_err(|e| StorageError::from_store("head", path, e))
        })
    }

    fn put<'a>(&'a self, path: &'a str, data: Bytes) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let p = object_path(path)?;
            self.store
                .put(&p, PutPayload::from(data))
                .await
                .map(|_| ())
                .map_err(|e| StorageError::from_store("put", path, e))
        })
    }

    fn delete<'a>(&'a self, path: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let p = object_path(path)?;
            match self.store.delete(&p).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(StorageError::from_store("delete", path, e)),
            }
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Listing> {
        Box::pin(async move {
            let p = prefix_path(prefix)?;
            let res = match self.store.list_with_delimiter(p.as_ref()).await {
                Ok(res) => res,
                // A local directory that does not exist holds nothing.
                Err(object_store::Error::NotFound { .. }) => return Ok(Listing::default()),
                Err(e) => return Err(StorageError::from_store("list", prefix, e)),
            };
            let mut objects: Vec<ObjectInfo> = res.objects.into_iter().map(info).collect();
            objects.sort_by(|a, b| a.path.cmp(&b.path));
            let mut dirs: Vec<String> = res
                .common_prefixes
                .into_iter()
                .map(|d| d.to_string())
                .collect();
            dirs.sort();
            Ok(Listing { objects, dirs })
        })
    }

    fn list_recursive<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<ObjectInfo>> {
        Box::pin(async move {
            let p = prefix_path(prefix)?;
            let mut stream = self.store.list(p.as_ref());
            let mut out = Vec::new();
            while let Some(item) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
                match item {
                    Ok(meta) => out.push(info(meta)),
                    Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(StorageError::from_store("list", prefix, e)),
                }
            }
            out.sort_by(|a, b| a.path.cmp(&b.path));
            Ok(out)
        })
    }

    fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    fn local_dir(&self) -> Option<&Path> {
        self.local_dir.as_deref()
    }
}
