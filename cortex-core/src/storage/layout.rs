//! Where things are in the bucket, as Cortex and Thanos lay it out:
//!
//! ```text
//! <tenant>/bucket-index.json.gz
//! <tenant>/<ULID>/meta.json              written last: a block without it is partial
//! <tenant>/<ULID>/index
//! <tenant>/<ULID>/chunks/000001 ...
//! <tenant>/<ULID>/deletion-mark.json
//! <tenant>/<ULID>/no-compact-mark.json
//! <tenant>/markers/<ULID>-deletion-mark.json     Cortex's global copies of the marks
//! <tenant>/markers/<ULID>-no-compact-mark.json
//! ```
//!
//! This module builds those paths and walks tenants and blocks; it reads no object's
//! content.

use cortex_tsdb::ulid::Ulid;

use super::error::StorageError;
use super::store::BlockStore;

/// A block's meta file.
pub const META_FILENAME: &str = "meta.json";
/// A block's index file.
pub const INDEX_FILENAME: &str = "index";
/// The directory of a block's chunk segments.
pub const CHUNKS_DIRNAME: &str = "chunks";
/// The deletion mark inside a block directory (Thanos' `deletion-mark.json`).
pub const DELETION_MARK_FILENAME: &str = "deletion-mark.json";
/// The no-compact mark inside a block directory (Thanos' `no-compact-mark.json`).
pub const NO_COMPACT_MARK_FILENAME: &str = "no-compact-mark.json";
/// The directory of a tenant's global markers (Cortex's `markers`).
pub const MARKERS_DIRNAME: &str = "markers";

/// `<tenant>/<block>/<file>`.
pub fn block_file(tenant: &str, block: Ulid, file: &str) -> String {
    format!("{tenant}/{block}/{file}")
}

/// `<tenant>/<block>/meta.json`.
pub fn meta_path(tenant: &str, block: Ulid) -> String {
    block_file(tenant, block, META_FILENAME)
}

/// `<tenant>/<block>/chunks/<6-digit segment>` (segments count from 1).
pub fn chunk_segment_path(tenant: &str, block: Ulid, segment: u32) -> String {
    format!("{tenant}/{block}/{CHUNKS_DIRNAME}/{segment:06}")
}

/// `<tenant>/markers/<block>-<mark file>`: the global copy of a block's mark.
pub fn global_marker_path(tenant: &str, block: Ulid, mark_filename: &str) -> String {
    format!("{tenant}/{MARKERS_DIRNAME}/{block}-{mark_filename}")
}

/// The block of a global marker file name `<ULID>-<mark_filename>`, if it is one.
pub fn parse_global_marker(name: &str, mark_filename: &str) -> Option<Ulid> {
    let id = name.strip_suffix(mark_filename)?.strip_suffix('-')?;
    id.parse().ok()
}

/// The last segment of an object path.
pub fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// True when the object at `path` exists.
pub async fn exists(store: &dyn BlockStore, path: &str) -> Result<bool, StorageError> {
    match store.head(path).await {
        Ok(_) => Ok(true),
        Err(StorageError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The tenants in the bucket: the top-level directories, sorted. Directories whose name
/// is not a valid tenant ID (such as a bucket-wide `__markers__`) are skipped.
pub async fn list_tenants(store: &dyn BlockStore) -> Result<Vec<String>, StorageError> {
    let listing = store.list("").await?;
    Ok(listing
        .dirs
        .iter()
        .map(|d| base_name(d))
        .filter(|t| crate::tenant::validate_tenant_id(t).is_ok() && !t.starts_with("__"))
        .map(str::to_string)
        .collect())
}

/// The blocks of `tenant`: its directories named by a ULID, sorted; partial blocks
/// (without `meta.json`) included.
pub async fn list_blocks(store: &dyn BlockStore, tenant: &str) -> Result<Vec<Ulid>, StorageError> {
    let listing = store.list(tenant).await?;
    let mut out: Vec<Ulid> = listing
        .dirs
        .iter()
        .filter_map(|d| base_name(d).parse().ok())
        .collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_cortex_layout() {
        let id: Ulid = "01EQK4QKFHVSZYVJ908Y7HH9E0".parse().unwrap();
        assert_eq!(meta_path("t", id), "t/01EQK4QKFHVSZYVJ908Y7HH9E0/meta.json");
        assert_eq!(
            chunk_segment_path("t", id, 1),
            "t/01EQK4QKFHVSZYVJ908Y7HH9E0/chunks/000001"
        );
        let g = global_marker_path("t", id, DELETION_MARK_FILENAME);
        assert_eq!(g, "t/markers/01EQK4QKFHVSZYVJ908Y7HH9E0-deletion-mark.json");
        assert_eq!(
            parse_global_marker(base_name(&g), DELETION_MARK_FILENAME),
            Some(id)
        );
        assert_eq!(
            parse_global_marker(base_name(&g), NO_COMPACT_MARK_FILENAME),
            None
        );
        assert_eq!(
            parse_global_marker("junk-deletion-mark.json", DELETION_MARK_FILENAME),
            None
        );
    }
}
