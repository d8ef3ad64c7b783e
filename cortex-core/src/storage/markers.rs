//! Block markers with Thanos' JSON (`pkg/block/metadata/markers.go`): the deletion mark
//! (`id`, `version`, `details`, `deletion_time`) and the no-compact mark (`id`,
//! `version`, `details`, `no_compact_time`, `reason`), written both inside the block
//! (`<tenant>/<ULID>/deletion-mark.json`) and as Cortex's global copy
//! (`<tenant>/markers/<ULID>-deletion-mark.json`), block copy first, as Cortex does.
//! Reading uses the block copy, as Thanos does.

use bytes::Bytes;
use cortex_tsdb::ulid::Ulid;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::StorageError;
use super::layout::{
    DELETION_MARK_FILENAME, NO_COMPACT_MARK_FILENAME, block_file, global_marker_path,
};
use super::store::BlockStore;

/// The only marker `version` Thanos writes.
pub const MARKER_VERSION_1: u32 = 1;

/// `deletion-mark.json`: the block is to be deleted after a delay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionMark {
    /// The block.
    pub id: Ulid,
    /// Format version; 1.
    pub version: u32,
    /// Why, for people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
    /// When the block was marked, Unix seconds.
    pub deletion_time: i64,
}

/// `no-compact-mark.json`: the compactor must leave the block alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoCompactMark {
    /// The block.
    pub id: Ulid,
    /// Format version; 1.
    pub version: u32,
    /// Why, for people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
    /// When the block was marked, Unix seconds.
    pub no_compact_time: i64,
    /// Why, for programs: `manual`, `index-size-exceeding`,
    /// `block-index-out-of-order-chunk`.
    pub reason: String,
}

/// A marker file kind.
pub trait Marker: Serialize + DeserializeOwned {
    /// Its file name inside a block directory.
    const FILENAME: &'static str;
    /// The block it marks.
    fn block(&self) -> Ulid;
    /// Its format version.
    fn version(&self) -> u32;
}

impl Marker for DeletionMark {
    const FILENAME: &'static str = DELETION_MARK_FILENAME;
    fn block(&self) -> Ulid {
        self.id
    }
    fn version(&self) -> u32 {
        self.version
    }
}

impl Marker for NoCompactMark {
    const FILENAME: &'static str = NO_COMPACT_MARK_FILENAME;
    fn block(&self) -> Ulid {
        self.id
    }
    fn version(&self) -> u32 {
        self.version
    }
}

impl DeletionMark {
    /// A version-1 deletion mark of `block` made at `now_secs`.
    pub fn new(block: Ulid, now_secs: i64, details: &str) -> DeletionMark {
        DeletionMark {
            id: block,
            version: MARKER_VERSION_1,
            details: details.to_string(),
            deletion_time: now_secs,
        }
    }
}

impl NoCompactMark {
    /// A version-1 no-compact mark of `block` made at `now_secs`.
    pub fn new(block: Ulid, now_secs: i64, reason: &str, details: &str) -> NoCompactMark {
        NoCompactMark {
            id: block,
            version: MARKER_VERSION_1,
            details: details.to_string(),
            no_compact_time: now_secs,
            reason: reason.to_string(),
        }
    }
}

/// Parses marker bytes read from `path`, checking the version and that the marker names
/// the block it was found for.
pub fn decode_marker<M: Marker>(bytes: &[u8], path: &str, block: Ulid) -> Result<M, StorageError> {
    let corrupted = |reason: String| StorageError::Corrupted {
        path: path.to_string(),
        reason,
    };
    let m: M = serde_json::from_slice(bytes).map_err(|e| corrupted(e.to_string()))?;
    if m.version() != MARKER_VERSION_1 {
        return Err(corrupted(format!(
            "unexpected {} version {}, expected {MARKER_VERSION_1}",
            M::FILENAME,
            m.version()
        )));
    }
    if m.block() != block {
        return Err(corrupted(format!("marker names block {}", m.block())));
    }
    Ok(m)
}

/// Writes `marker` for `tenant` into its block directory, then its global copy.
pub async fn write_marker<M: Marker>(
    store: &dyn BlockStore,
    tenant: &str,
    marker: &M,
) -> Result<(), StorageError> {
    let block = marker.block();
    let local = block_file(tenant, block, M::FILENAME);
    let bytes = Bytes::from(
        serde_json::to_vec(marker).map_err(|e| StorageError::Corrupted {
            path: local.clone(),
            reason: e.to_string(),
        })?,
    );
    store.put(&local, bytes.clone()).await?;
    store
        .put(&global_marker_path(tenant, block, M::FILENAME), bytes)
        .await
}

/// Reads `tenant`'s marker of kind `M` for `block` from the block directory;
/// [`StorageError::NotFound`] when the block has none.
pub async fn read_marker<M: Marker>(
    store: &dyn BlockStore,
    tenant: &str,
    block: Ulid,
) -> Result<M, StorageError> {
    let path = block_file(tenant, block, M::FILENAME);
    let bytes = store.get(&path).await?;
    decode_marker(&bytes, &path, block)
}

/// Deletes both copies of `tenant`'s marker of kind `M` for `block` (global copy first,
/// so an index update never sees a global marker without its block copy).
pub async fn delete_marker<M: Marker>(
    store: &dyn BlockStore,
    tenant: &str,
    block: Ulid,
) -> Result<(), StorageError> {
    store
        .delete(&global_marker_path(tenant, block, M::FILENAME))
        .await?;
    store.delete(&block_file(tenant, block, M::FILENAME)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01EQK4QKFHVSZYVJ908Y7HH9E0";

    #[test]
    fn thanos_deletion_mark_json_decodes() {
        let id: Ulid = ID.parse().unwrap();
        let json =
            format!(r#"{{"id":"{ID}","version":1,"details":"x","deletion_time":1603975392}}"#);
        let m: DeletionMark = decode_marker(json.as_bytes(), "p", id).unwrap();
        assert_eq!(m, DeletionMark::new(id, 1603975392, "x"));
        assert_eq!(serde_json::to_string(&m).unwrap(), json);
        let no_details = serde_json::to_string(&DeletionMark::new(id, 5, "")).unwrap();
        assert_eq!(
            no_details,
            format!(r#"{{"id":"{ID}","version":1,"deletion_time":5}}"#)
        );
    }

    #[test]
    fn no_compact_mark_json_has_thanos_fields() {
        let id: Ulid = ID.parse().unwrap();
        let m = NoCompactMark::new(id, 7, "manual", "");
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            format!(r#"{{"id":"{ID}","version":1,"no_compact_time":7,"reason":"manual"}}"#)
        );
    }

    #[test]
    fn bad_markers_are_corrupted_not_panics() {
        let id: Ulid = ID.parse().unwrap();
        let other = format!(r#"{{"id":"{ID}","version":2,"deletion_time":1}}"#);
        for bad in [&b"{"[..], b"null", other.as_bytes()] {
            let r = decode_marker::<DeletionMark>(bad, "p", id);
            assert!(matches!(r, Err(StorageError::Corrupted { .. })), "{r:?}");
        }
        let wrong_block = format!(r#"{{"id":"{ID}","version":1,"deletion_time":1}}"#);
        let r = decode_marker::<DeletionMark>(wrong_block.as_bytes(), "p", Ulid(1));
        assert!(matches!(r, Err(StorageError::Corrupted { .. })));
    }
}
