//! [`BucketRangeReader`]: the index-header builder's [`RangeReader`] over a bucket
//! object, and [`build_in_background`], which runs the build where blocking is allowed.
//!
//! `RangeReader` is synchronous (the builder in `cortex_tsdb` knows nothing of async),
//! and the bucket is async. The build therefore runs on tokio's blocking pool
//! (`spawn_blocking`), and each read waits for `BlockStore::get_range` with
//! `Handle::block_on` on that pool thread. Blocking there is what the pool is for; the
//! async caller awaits the build without holding a worker thread. A reader must never be
//! used from a runtime worker thread (`block_on` panics there); this module only hands
//! it to the blocking pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cortex_tsdb::index_header::{RangeReader, build_index_header};
use tokio::runtime::Handle;

use super::error::GatewayError;
use super::fetch::{Counters, Traffic};
use crate::storage::BlockStore;

/// One bucket object read by range, synchronously, from a blocking-pool thread.
#[derive(Debug)]
pub struct BucketRangeReader {
    store: Arc<dyn BlockStore>,
    object: String,
    name: PathBuf,
    len: u64,
    handle: Handle,
    counters: Arc<Counters>,
}

impl BucketRangeReader {
    /// A reader of `object` of `len` bytes, waiting for reads on `handle`.
    pub(crate) fn new(
        store: Arc<dyn BlockStore>,
        object: &str,
        len: u64,
        handle: Handle,
        counters: Arc<Counters>,
    ) -> BucketRangeReader {
        BucketRangeReader {
            store,
            object: object.to_string(),
            name: PathBuf::from(object),
            len,
            handle,
            counters,
        }
    }
}

impl RangeReader for BucketRangeReader {
    fn len(&self) -> cortex_tsdb::Result<u64> {
        Ok(self.len)
    }

    fn read_at(&self, offset: u64, len: usize) -> cortex_tsdb::Result<Vec<u8>> {
        let end = offset
            .checked_add(len as u64)
            .filter(|&e| e <= self.len)
            .ok_or_else(|| {
                cortex_tsdb::Error::InvalidArgument(format!(
                    "range {offset}+{len} is outside the {} bytes of {}",
                    self.len, self.object
                ))
            })?;
        if len == 0 {
            return Ok(Vec::new());
        }
        let b = self
            .handle
            .block_on(self.store.get_range(&self.object, offset..end))
            .map_err(|e| cortex_tsdb::Error::io("read", &self.name, std::io::Error::other(e)))?;
        self.counters.record(Traffic::Header, b.len() as u64);
        Ok(b.to_vec())
    }

    fn name(&self) -> &Path {
        &self.name
    }
}

/// Builds the index-header of the bucket object `object` at `path` on the blocking pool
/// (see the module documentation); returns its size.
pub(crate) async fn build_in_background(
    store: Arc<dyn BlockStore>,
    object: &str,
    path: &Path,
    counters: Arc<Counters>,
    block: &str,
) -> Result<u64, GatewayError> {
    let info = store
        .head(object)
        .await
        .map_err(|source| GatewayError::Bucket {
            block: block.to_string(),
            source: Box::new(source),
        })?;
    let reader = BucketRangeReader::new(store, object, info.size, Handle::current(), counters);
    let target = path.to_path_buf();
    let built = tokio::task::spawn_blocking(move || build_index_header(&reader, &target))
        .await
        .map_err(|e| GatewayError::Runtime {
            block: block.to_string(),
            reason: format!("building the index-header failed to run: {e}"),
        })?;
    built.map_err(|e| GatewayError::from_tsdb(block, path, e))
}
