//! The shipper's view of the blocks bucket: a [`BlockStore`] (a local directory by
//! default, S3 in real deployments) with the few operations the shipper needs — does an
//! object exist, upload a local file (in parts when it is large), upload bytes — and
//! errors in the ingester's terms.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use tokio::io::AsyncReadExt;

use super::error::IngesterError;
use crate::storage::{BlockStore, ObjectBlockStore, StorageError};

/// Files up to this size are uploaded in one request; larger ones in parts of this size.
pub const PART_SIZE: usize = 8 << 20;

/// Parts of one file in flight at once.
const PARTS_IN_FLIGHT: usize = 4;

/// An object-store bucket holding blocks at `<tenant>/<ULID>/...`.
#[derive(Debug, Clone)]
pub struct Bucket {
    store: Arc<dyn BlockStore>,
}

impl Bucket {
    /// A bucket over any object store.
    pub fn new(store: Arc<dyn ObjectStore>) -> Bucket {
        Bucket::from_block_store(Arc::new(ObjectBlockStore::new(store)))
    }

    /// A bucket over a block store (as [`crate::storage::open_block_store`] opens it).
    pub fn from_block_store(store: Arc<dyn BlockStore>) -> Bucket {
        Bucket { store }
    }

    /// A bucket in a local directory (created if missing).
    pub fn local(dir: &Path) -> Result<Bucket, IngesterError> {
        std::fs::create_dir_all(dir).map_err(|e| IngesterError::io("create dir", dir, e))?;
        let store = ObjectBlockStore::local(dir)
            .map_err(|e| storage_err("open", &dir.display().to_string(), e))?;
        Ok(Bucket::from_block_store(Arc::new(store)))
    }

    /// The directory of a bucket made with [`Bucket::local`] (objects are the files
    /// under it); `None` for other stores.
    pub fn local_dir(&self) -> Option<&Path> {
        self.store.local_dir()
    }

    /// The underlying object store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        self.store.object_store()
    }

    /// The underlying block store.
    pub fn block_store(&self) -> &Arc<dyn BlockStore> {
        &self.store
    }

    /// True when the object at `path` exists.
    pub async fn exists(&self, path: &ObjectPath) -> Result<bool, IngesterError> {
        crate::storage::layout::exists(&*self.store, path.as_ref())
            .await
            .map_err(|e| storage_err("head", path.as_ref(), e))
    }

    /// Uploads `bytes` to `path`.
    pub async fn put(&self, path: &ObjectPath, bytes: Bytes) -> Result<(), IngesterError> {
        self.store
            .put(path.as_ref(), bytes)
            .await
            .map_err(|e| storage_err("put", path.as_ref(), e))
    }

    /// Uploads the local file `local` to `path`; returns its size.
    pub async fn upload_file(&self, local: &Path, path: &ObjectPath) -> Result<u64, IngesterError> {
        let mut f = tokio::fs::File::open(local)
            .await
            .map_err(|e| IngesterError::io("open", local, e))?;
        let size = f
            .metadata()
            .await
            .map_err(|e| IngesterError::io("stat", local, e))?
            .len();
        if size <= PART_SIZE as u64 {
            let mut buf = Vec::with_capacity(size as usize);
            f.read_to_end(&mut buf)
                .await
                .map_err(|e| IngesterError::io("read", local, e))?;
            self.put(path, Bytes::from(buf)).await?;
            return Ok(size);
        }
        let upload = self
            .store()
            .put_multipart(path)
            .await
            .map_err(|e| bucket_err("start multipart upload", path, e))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut buf = vec![0u8; PART_SIZE];
        let mut sent = 0u64;
        loop {
            let n = match read_full(&mut f, &mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = w.abort().await;
                    return Err(IngesterError::io("read", local, e));
                }
            };
            if n == 0 {
                break;
            }
            if let Err(e) = w.wait_for_capacity(PARTS_IN_FLIGHT).await {
                return Err(bucket_err("upload part", path, e));
            }
            w.write(buf.get(..n).unwrap_or_default());
            sent += n as u64;
        }
        w.finish()
            .await
            .map_err(|e| bucket_err("finish multipart upload", path, e))?;
        Ok(sent)
    }
}

async fn read_full(f: &mut tokio::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let Some(rest) = buf.get_mut(n..) else { break };
        let r = f.read(rest).await?;
        if r == 0 {
            break;
        }
        n += r;
    }
    Ok(n)
}

/// A storage error in the ingester's terms: the object store's own error when there is
/// one, else the storage error wrapped as one.
fn storage_err(op: &'static str, path: &str, e: StorageError) -> IngesterError {
    let source = match e {
        StorageError::ObjectStore { source, .. } => source,
        other => object_store::Error::Generic {
            store: "BlockStore",
            source: Box::new(other),
        },
    };
    IngesterError::Bucket {
        op,
        path: path.to_string(),
        source,
    }
}

fn bucket_err(op: &'static str, path: &ObjectPath, source: object_store::Error) -> IngesterError {
    IngesterError::Bucket {
        op,
        path: path.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn uploads_small_and_multipart_files() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = Bucket::local(&dir.path().join("bucket")).unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, b"hello").unwrap();
        let big = dir.path().join("big");
        let data: Vec<u8> = (0..PART_SIZE * 2 + 123).map(|i| (i % 251) as u8).collect();
        std::fs::write(&big, &data).unwrap();
        let p = ObjectPath::from("t/a/small");
        assert!(!bucket.exists(&p).await.unwrap());
        assert_eq!(bucket.upload_file(&small, &p).await.unwrap(), 5);
        assert!(bucket.exists(&p).await.unwrap());
        let q = ObjectPath::from("t/a/big");
        assert_eq!(
            bucket.upload_file(&big, &q).await.unwrap(),
            data.len() as u64
        );
        let got = std::fs::read(dir.path().join("bucket/t/a/big")).unwrap();
        assert!(got == data);
        assert!(
            bucket
                .upload_file(&dir.path().join("missing"), &p)
                .await
                .is_err()
        );
    }
}
