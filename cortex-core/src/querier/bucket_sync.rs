//! Where a tenant's bucket blocks come from, for [`super::bucket::BucketBlocks`]: listing
//! the blocks under `<tenant>/` (a block counts once its `meta.json` is there; one that
//! has a deletion mark, at `<tenant>/markers/<ULID>-deletion-mark.json` or
//! `<tenant>/<ULID>/deletion-mark.json`, is left out), and giving a local directory for a
//! block so `cortex_tsdb` can open it.
//!
//! A local-filesystem bucket is read in place with plain file-system calls. Any other
//! object store is read through `object_store`, whose calls are async: they run as tasks
//! on the tokio runtime handed in, and the calling thread waits for them ([`run`]). The
//! caller must therefore be a thread outside that runtime's workers (the engine runs
//! queries on the blocking pool). A block of such a store is downloaded into
//! `<sync_dir>/<tenant>/<ULID>/` on first use: files go to a temporary directory that
//! is renamed into place when complete, so a directory under its ULID is always whole.
//!
//! It does not decide when to list or what to keep open; `bucket.rs` does.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cortex_tsdb::block::{BlockMeta, CHUNKS_DIRNAME, INDEX_FILENAME, META_FILENAME};
use cortex_tsdb::ulid::Ulid;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::io::AsyncWriteExt;
use tokio::runtime::Handle;

/// The name of a deletion mark inside a block directory.
pub(crate) const DELETION_MARK: &str = "deletion-mark.json";
/// The directory of global markers inside a tenant's prefix.
pub(crate) const MARKERS_DIR: &str = "markers";
/// Bytes fetched per ranged read when downloading.
const DOWNLOAD_PIECE: u64 = 16 << 20;
/// Names of temporary download directories start with this.
const TMP_PREFIX: &str = ".download-";

/// A block found in the bucket.
pub(crate) struct Found {
    /// Its ULID.
    pub ulid: Ulid,
    /// Its `[minTime, maxTime)`, or why `meta.json` could not be read; `None` when the
    /// caller already knew the block (its meta is immutable, so it is not read again).
    pub range: Option<Result<(i64, i64), String>>,
}

/// Where blocks are read from.
pub(crate) enum Source {
    /// A local-filesystem bucket: `<bucket dir>/<tenant>`.
    Local { root: PathBuf },
    /// Any other object store.
    Remote {
        store: Arc<dyn ObjectStore>,
        runtime: Handle,
        /// The tenant's prefix in the bucket.
        prefix: String,
        /// `<sync_dir>/<tenant>`.
        cache: PathBuf,
    },
}

impl Source {
    /// The blocks the bucket holds now, without deletion-marked ones and unfinished
    /// uploads. `known` blocks' metas are not read again.
    pub fn list(&self, known: &BTreeSet<Ulid>) -> Result<Vec<Found>, String> {
        match self {
            Source::Local { root } => list_local(root, known),
            Source::Remote {
                store,
                runtime,
                prefix,
                ..
            } => {
                let (store, prefix, known) = (store.clone(), prefix.clone(), known.clone());
                run(runtime, async move {
                    list_remote(&*store, &prefix, &known).await
                })?
            }
        }
    }

    /// A local directory holding the block's files, downloading it first when needed.
    /// `fresh` discards a cached copy (it failed to open) and downloads it again.
    pub fn block_dir(&self, ulid: Ulid, fresh: bool) -> Result<PathBuf, String> {
        match self {
            Source::Local { root } => Ok(root.join(ulid.to_string())),
            Source::Remote {
                store,
                runtime,
                prefix,
                cache,
            } => {
                let dir = cache.join(ulid.to_string());
                if fresh {
                    remove_dir(&dir)?;
                } else if dir.is_dir() {
                    return Ok(dir);
                }
                let (store, prefix, cache) = (store.clone(), prefix.clone(), cache.clone());
                run(runtime, async move {
                    download(&*store, &prefix, ulid, &cache).await
                })?
            }
        }
    }

    /// True when a failed open is worth one fresh download (a cached copy may be stale
    /// or damaged).
    pub fn is_cached(&self) -> bool {
        matches!(self, Source::Remote { .. })
    }

    /// With `keep`, deletes the cached copies of blocks not in it (after a sync);
    /// without, deletes leftover partial downloads (only safe before any download
    /// starts).
    pub fn clean_cache(&self, keep: Option<&BTreeSet<Ulid>>) {
        let Source::Remote { cache, .. } = self else {
            return;
        };
        let Ok(rd) = std::fs::read_dir(cache) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let stale = match (keep, name.parse::<Ulid>()) {
                (Some(keep), Ok(u)) => !keep.contains(&u),
                (None, Err(_)) => name.starts_with(TMP_PREFIX),
                _ => false,
            };
            if stale {
                // A copy that cannot be removed now is retried on the next sync.
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

fn remove_dir(dir: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("remove {}: {e}", dir.display())),
    }
}

/// Runs `fut` on `runtime` and waits for it on this thread (which must not be one of
/// the runtime's workers). An error when the runtime shut down before it finished.
fn run<T: Send + 'static>(
    runtime: &Handle,
    fut: impl Future<Output = T> + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv()
        .map_err(|_| "the runtime reading the bucket shut down".to_string())
}

fn range_of(meta: &BlockMeta) -> (i64, i64) {
    (meta.min_time, meta.max_time)
}

fn list_local(root: &Path, known: &BTreeSet<Ulid>) -> Result<Vec<Found>, String> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("list {}: {e}", root.display())),
    };
    let markers = root.join(MARKERS_DIR);
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| format!("list {}: {e}", root.display()))?;
        let Some(ulid) = e.file_name().to_str().and_then(|n| n.parse::<Ulid>().ok()) else {
            continue;
        };
        let dir = e.path();
        if !dir.join(META_FILENAME).is_file()
            || dir.join(DELETION_MARK).exists()
            || markers.join(format!("{ulid}-{DELETION_MARK}")).exists()
        {
            continue;
        }
        let range = (!known.contains(&ulid)).then(|| {
            BlockMeta::read(&dir)
                .map(|m| range_of(&m))
                .map_err(|e| e.to_string())
        });
        out.push(Found { ulid, range });
    }
    out.sort_by_key(|f| f.ulid);
    Ok(out)
}

async fn list_remote(
    store: &dyn ObjectStore,
    prefix: &str,
    known: &BTreeSet<Ulid>,
) -> Result<Vec<Found>, String> {
    let top = ObjectPath::from(prefix);
    let listed = store
        .list_with_delimiter(Some(&top))
        .await
        .map_err(|e| format!("list {top}: {e}"))?;
    let markers_dir = ObjectPath::from(format!("{prefix}/{MARKERS_DIR}"));
    let marked: BTreeSet<String> = store
        .list_with_delimiter(Some(&markers_dir))
        .await
        .map_err(|e| format!("list {markers_dir}: {e}"))?
        .objects
        .iter()
        .filter_map(|o| o.location.filename().map(str::to_string))
        .collect();
    let mut out = Vec::new();
    for p in &listed.common_prefixes {
        let Some(ulid) = p.filename().and_then(|n| n.parse::<Ulid>().ok()) else {
            continue;
        };
        if marked.contains(&format!("{ulid}-{DELETION_MARK}")) {
            continue;
        }
        let files = store
            .list_with_delimiter(Some(p))
            .await
            .map_err(|e| format!("list {p}: {e}"))?;
        let has = |name: &str| {
            files
                .objects
                .iter()
                .any(|o| o.location.filename() == Some(name))
        };
        if !has(META_FILENAME) || has(DELETION_MARK) {
            continue;
        }
        let range = if known.contains(&ulid) {
            None
        } else {
            let path = ObjectPath::from(format!("{prefix}/{ulid}/{META_FILENAME}"));
            Some(read_meta(store, &path).await.map(|m| range_of(&m)))
        };
        out.push(Found { ulid, range });
    }
    out.sort_by_key(|f| f.ulid);
    Ok(out)
}

async fn read_meta(store: &dyn ObjectStore, path: &ObjectPath) -> Result<BlockMeta, String> {
    let bytes = match store.get(path).await {
        Ok(r) => r.bytes().await,
        Err(e) => Err(e),
    }
    .map_err(|e| format!("read {path}: {e}"))?;
    BlockMeta::from_json(&bytes, Path::new(path.as_ref())).map_err(|e| e.to_string())
}

/// Downloads block `ulid` into `<cache>/<ulid>` through a temporary directory.
async fn download(
    store: &dyn ObjectStore,
    prefix: &str,
    ulid: Ulid,
    cache: &Path,
) -> Result<PathBuf, String> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = cache.join(format!(
        "{TMP_PREFIX}{ulid}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let res = download_into(store, prefix, ulid, &tmp).await;
    let dir = cache.join(ulid.to_string());
    let res = match res {
        Ok(()) => tokio::fs::rename(&tmp, &dir)
            .await
            .map_err(|e| format!("rename {} to {}: {e}", tmp.display(), dir.display())),
        Err(e) => Err(e),
    };
    if res.is_err() {
        let _ = tokio::fs::remove_dir_all(&tmp).await;
    }
    res.map(|()| dir)
}

async fn download_into(
    store: &dyn ObjectStore,
    prefix: &str,
    ulid: Ulid,
    tmp: &Path,
) -> Result<(), String> {
    let chunks_tmp = tmp.join(CHUNKS_DIRNAME);
    tokio::fs::create_dir_all(&chunks_tmp)
        .await
        .map_err(|e| format!("create {}: {e}", chunks_tmp.display()))?;
    let block = format!("{prefix}/{ulid}");
    let chunks = ObjectPath::from(format!("{block}/{CHUNKS_DIRNAME}"));
    let listed = store
        .list_with_delimiter(Some(&chunks))
        .await
        .map_err(|e| format!("list {chunks}: {e}"))?;
    if listed.objects.is_empty() {
        return Err(format!("{chunks} holds no chunk files"));
    }
    for o in &listed.objects {
        let Some(name) = o.location.filename() else {
            continue;
        };
        copy_object(store, &o.location, &chunks_tmp.join(name)).await?;
    }
    for name in [INDEX_FILENAME, META_FILENAME] {
        let from = ObjectPath::from(format!("{block}/{name}"));
        copy_object(store, &from, &tmp.join(name)).await?;
    }
    Ok(())
}

/// Copies one object to a local file, in ranged reads of [`DOWNLOAD_PIECE`] bytes.
async fn copy_object(store: &dyn ObjectStore, from: &ObjectPath, to: &Path) -> Result<(), String> {
    let size = store
        .head(from)
        .await
        .map_err(|e| format!("stat {from}: {e}"))?
        .size;
    let mut f = tokio::fs::File::create(to)
        .await
        .map_err(|e| format!("create {}: {e}", to.display()))?;
    let mut at = 0u64;
    while at < size {
        let end = size.min(at.saturating_add(DOWNLOAD_PIECE));
        let bytes = store
            .get_range(from, at..end)
            .await
            .map_err(|e| format!("read {from}: {e}"))?;
        if bytes.is_empty() {
            return Err(format!("read {from}: no bytes at offset {at} of {size}"));
        }
        f.write_all(&bytes)
            .await
            .map_err(|e| format!("write {}: {e}", to.display()))?;
        at = at.saturating_add(bytes.len() as u64);
    }
    f.flush()
        .await
        .map_err(|e| format!("write {}: {e}", to.display()))
}
