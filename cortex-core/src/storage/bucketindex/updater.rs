//! Building a tenant's bucket index from the bucket, incrementally, as Cortex's
//! compactor does (`bucketindex/updater.go`):
//!
//! - deletion marks are found by listing `<tenant>/markers/`; marks already in the old
//!   index are kept as they are (marks are immutable), new ones are read from the block's
//!   `deletion-mark.json`; a mark that vanished means its block was deleted. Missing or
//!   corrupted marks are skipped. No-compact marks are counted.
//! - blocks are found by listing `<tenant>/`; blocks already in the old index are kept
//!   as they are (blocks are immutable) unless they are gone or their mark vanished; new
//!   ones get their `meta.json` read. A block without `meta.json` (an upload in progress
//!   or abandoned) or with a corrupted one is partial: left out and reported.
//!
//! The time comes from the caller, so results are deterministic.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use cortex_tsdb::block::BlockMeta;
use cortex_tsdb::ulid::Ulid;
use serde::Deserialize;

use super::index::{
    BucketIndex, INDEX_COMPRESSED_FILENAME, INDEX_VERSION_1, IndexBlock, IndexDeletionMark,
    SEGMENTS_FORMAT_1_BASED_6_DIGITS,
};
use crate::storage::error::StorageError;
use crate::storage::layout::{
    CHUNKS_DIRNAME, DELETION_MARK_FILENAME, MARKERS_DIRNAME, NO_COMPACT_MARK_FILENAME, base_name,
    list_blocks, meta_path, parse_global_marker,
};
use crate::storage::markers::{DeletionMark, read_marker};
use crate::storage::store::BlockStore;

/// What an update found besides the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateOutcome {
    /// The new index, `updated_at` = the time given.
    pub index: BucketIndex,
    /// Blocks left out as partial, with why (no `meta.json`, or a corrupted one).
    pub partials: BTreeMap<Ulid, String>,
    /// Blocks with a no-compact mark.
    pub no_compact_marks: u64,
}

/// `<tenant>/bucket-index.json.gz`.
pub fn index_path(tenant: &str) -> String {
    format!("{tenant}/{INDEX_COMPRESSED_FILENAME}")
}

/// Reads `tenant`'s index: [`StorageError::NotFound`] when it has none,
/// [`StorageError::Corrupted`] when it cannot be decoded.
pub async fn read_index(store: &dyn BlockStore, tenant: &str) -> Result<BucketIndex, StorageError> {
    let path = index_path(tenant);
    let gz = store.get(&path).await?;
    BucketIndex::decode(&gz, &path)
}

/// Writes `tenant`'s index.
pub async fn write_index(
    store: &dyn BlockStore,
    tenant: &str,
    index: &BucketIndex,
) -> Result<(), StorageError> {
    store
        .put(&index_path(tenant), Bytes::from(index.encode()))
        .await
}

/// Deletes `tenant`'s index; a missing index is not an error.
pub async fn delete_index(store: &dyn BlockStore, tenant: &str) -> Result<(), StorageError> {
    store.delete(&index_path(tenant)).await
}

/// Builds `tenant`'s index from the bucket at `now_secs`, reusing what `old` already
/// knows. Nothing is written.
pub async fn update_index(
    store: &dyn BlockStore,
    tenant: &str,
    old: Option<&BucketIndex>,
    now_secs: i64,
) -> Result<UpdateOutcome, StorageError> {
    let (marks, deleted, no_compact_marks) = update_marks(
        store,
        tenant,
        old.map_or(&[][..], |o| &o.block_deletion_marks),
    )
    .await?;
    let (blocks, partials) =
        update_blocks(store, tenant, old.map_or(&[][..], |o| &o.blocks), &deleted).await?;
    Ok(UpdateOutcome {
        index: BucketIndex {
            version: INDEX_VERSION_1,
            blocks,
            block_deletion_marks: marks,
            updated_at: now_secs,
        },
        partials,
        no_compact_marks,
    })
}

/// Reads `tenant`'s current index (starting over when it is missing or corrupted),
/// updates it at `now_secs` and writes it back.
pub async fn update_and_write_index(
    store: &dyn BlockStore,
    tenant: &str,
    now_secs: i64,
) -> Result<UpdateOutcome, StorageError> {
    let old = match read_index(store, tenant).await {
        Ok(i) => Some(i),
        Err(StorageError::NotFound { .. } | StorageError::Corrupted { .. }) => None,
        Err(e) => return Err(e),
    };
    let out = update_index(store, tenant, old.as_ref(), now_secs).await?;
    write_index(store, tenant, &out.index).await?;
    Ok(out)
}

async fn update_marks(
    store: &dyn BlockStore,
    tenant: &str,
    old: &[IndexDeletionMark],
) -> Result<(Vec<IndexDeletionMark>, BTreeSet<Ulid>, u64), StorageError> {
    let listing = store.list(&format!("{tenant}/{MARKERS_DIRNAME}")).await?;
    let mut discovered = BTreeSet::new();
    let mut no_compact = 0;
    for o in &listing.objects {
        let name = base_name(&o.path);
        if let Some(id) = parse_global_marker(name, DELETION_MARK_FILENAME) {
            discovered.insert(id);
        } else if parse_global_marker(name, NO_COMPACT_MARK_FILENAME).is_some() {
            no_compact += 1;
        }
    }
    let mut out = Vec::with_capacity(discovered.len());
    let mut deleted = BTreeSet::new();
    for m in old {
        if discovered.remove(&m.block_id) {
            out.push(m.clone());
        } else {
            deleted.insert(m.block_id);
        }
    }
    for id in discovered {
        match read_marker::<DeletionMark>(store, tenant, id).await {
            Ok(m) => out.push(IndexDeletionMark {
                block_id: id,
                deletion_time: m.deletion_time,
            }),
            // Deleted between the listing and now, or half written: skipped.
            Err(StorageError::NotFound { .. } | StorageError::Corrupted { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((out, deleted, no_compact))
}

async fn update_blocks(
    store: &dyn BlockStore,
    tenant: &str,
    old: &[IndexBlock],
    deleted: &BTreeSet<Ulid>,
) -> Result<(Vec<IndexBlock>, BTreeMap<Ulid, String>), StorageError> {
    let mut discovered: BTreeSet<Ulid> = list_blocks(store, tenant).await?.into_iter().collect();
    let mut blocks = Vec::with_capacity(discovered.len());
    for b in old {
        if discovered.remove(&b.block_id) && !deleted.contains(&b.block_id) {
            blocks.push(b.clone());
        }
    }
    let mut partials = BTreeMap::new();
    for id in discovered {
        match index_entry(store, tenant, id).await {
            Ok(b) => blocks.push(b),
            Err(StorageError::NotFound { .. }) => {
                partials.insert(id, "block meta.json not found".to_string());
            }
            Err(StorageError::Corrupted { reason, .. }) => {
                partials.insert(id, format!("corrupted meta.json: {reason}"));
            }
            Err(e) => return Err(e),
        }
    }
    Ok((blocks, partials))
}

/// The index entry of a block from its `meta.json` and that file's modification time.
async fn index_entry(
    store: &dyn BlockStore,
    tenant: &str,
    id: Ulid,
) -> Result<IndexBlock, StorageError> {
    let path = meta_path(tenant, id);
    let bytes = store.get(&path).await?;
    let meta = BlockMeta::from_json(&bytes, std::path::Path::new(&path)).map_err(|e| {
        StorageError::Corrupted {
            path: path.clone(),
            reason: e.to_string(),
        }
    })?;
    let uploaded = store.head(&path).await?;
    Ok(entry_from_meta(
        &meta,
        uploaded.last_modified_ms.div_euclid(1000),
    ))
}

/// The parts of the `thanos` section of meta.json the index uses.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ThanosSection {
    segment_files: Vec<String>,
    files: Vec<ThanosFile>,
    index_stats: IndexStats,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ThanosFile {
    rel_path: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IndexStats {
    series_max_size: i64,
    chunk_max_size: i64,
}

/// The index entry of a block with `meta`, uploaded at `uploaded_at` (Unix seconds).
pub fn entry_from_meta(meta: &BlockMeta, uploaded_at: i64) -> IndexBlock {
    let thanos: ThanosSection = meta
        .extra
        .get("thanos")
        .and_then(|v| ThanosSection::deserialize(v).ok())
        .unwrap_or_default();
    let segments = segments_1b6d(&thanos);
    IndexBlock {
        block_id: meta.ulid,
        min_time: meta.min_time,
        max_time: meta.max_time,
        segments_format: if segments.is_some() {
            SEGMENTS_FORMAT_1_BASED_6_DIGITS.to_string()
        } else {
            String::new()
        },
        segments_num: segments.unwrap_or(0),
        series_max_size: thanos.index_stats.series_max_size,
        chunk_max_size: thanos.index_stats.chunk_max_size,
        uploaded_at,
    }
}

/// The number of chunk segments when they are named `000001`, `000002`, ... in order:
/// from `segment_files` when present, else from the `chunks/` entries of `files`.
fn segments_1b6d(t: &ThanosSection) -> Option<u32> {
    if !t.segment_files.is_empty() {
        let ok = t
            .segment_files
            .iter()
            .enumerate()
            .all(|(i, f)| *f == format!("{:06}", i + 1));
        return ok.then_some(t.segment_files.len() as u32);
    }
    let prefix = format!("{CHUNKS_DIRNAME}/");
    let mut num = 0u32;
    for f in t.files.iter().filter(|f| f.rel_path.starts_with(&prefix)) {
        if f.rel_path != format!("{prefix}{:06}", num + 1) {
            return None;
        }
        num += 1;
    }
    (num > 0).then_some(num)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta_with(thanos: serde_json::Value) -> BlockMeta {
        let mut m = BlockMeta::new_level1(Ulid(7), 10, 20);
        m.extra.insert("thanos".into(), thanos);
        m
    }

    #[test]
    fn segments_format_is_detected_like_cortex() {
        let m = meta_with(serde_json::json!({"segment_files": ["000001", "000002"]}));
        let e = entry_from_meta(&m, 3);
        assert_eq!(
            (e.segments_format.as_str(), e.segments_num, e.uploaded_at),
            ("1b6d", 2, 3)
        );
        let m = meta_with(serde_json::json!({"files": [
            {"rel_path": "chunks/000001", "size_bytes": 5},
            {"rel_path": "chunks/000002", "size_bytes": 5},
            {"rel_path": "index", "size_bytes": 5},
            {"rel_path": "meta.json"}],
            "index_stats": {"series_max_size": 11, "chunk_max_size": 12}}));
        let e = entry_from_meta(&m, 0);
        assert_eq!((e.segments_format.as_str(), e.segments_num), ("1b6d", 2));
        assert_eq!((e.series_max_size, e.chunk_max_size), (11, 12));
        let m = meta_with(serde_json::json!({"segment_files": ["000002"]}));
        assert_eq!(entry_from_meta(&m, 0).segments_format, "");
        let e = entry_from_meta(&BlockMeta::new_level1(Ulid(7), 10, 20), 0);
        assert_eq!((e.segments_format.as_str(), e.segments_num), ("", 0));
    }
}
