//! The bucket index, `<tenant>/bucket-index.json.gz`, in Cortex's format
//! (`pkg/storage/tsdb/bucketindex/index.go`): gzip (member name `bucket-index.json`)
//! around compact JSON
//!
//! ```text
//! {"version":1,
//!  "blocks":[{"block_id":"<ULID>","min_time":ms,"max_time":ms,
//!             "segments_format":"1b6d","segments_num":n,   (omitted when unknown)
//!             "series_max_size":b,"chunk_max_size":b,       (omitted when zero)
//!             "uploaded_at":unix_secs}, ...],
//!  "block_deletion_marks":[{"block_id":"<ULID>","deletion_time":unix_secs}, ...],
//!  "updated_at":unix_secs}
//! ```
//!
//! Go writes an empty list as `null`; both are read as empty. This module encodes and
//! decodes; building an index from the bucket is `updater.rs`.

use std::io::{Read, Write};

use cortex_tsdb::ulid::Ulid;
use flate2::Compression;
use flate2::GzBuilder;
use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Deserializer, Serialize};

use crate::storage::error::StorageError;

/// The file name inside a tenant's prefix.
pub const INDEX_COMPRESSED_FILENAME: &str = "bucket-index.json.gz";
/// The name of the JSON member inside the gzip.
pub const INDEX_FILENAME: &str = "bucket-index.json";
/// The only index version.
pub const INDEX_VERSION_1: u32 = 1;
/// `segments_format` of chunk segments numbered `000001`, `000002`, ...
pub const SEGMENTS_FORMAT_1_BASED_6_DIGITS: &str = "1b6d";
/// Decompressed indexes larger than this are refused as corrupted (a gzip bomb must
/// not exhaust memory); real indexes of even huge tenants are a few MiB.
pub const MAX_DECOMPRESSED_BYTES: u64 = 512 << 20;

/// A tenant's bucket index: its complete blocks and their deletion marks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketIndex {
    /// Format version; 1.
    pub version: u32,
    /// Complete blocks (partial ones are left out), in no particular order.
    #[serde(deserialize_with = "null_as_empty")]
    pub blocks: Vec<IndexBlock>,
    /// Deletion marks, in no particular order.
    #[serde(deserialize_with = "null_as_empty")]
    pub block_deletion_marks: Vec<IndexDeletionMark>,
    /// When the index was written, Unix seconds.
    pub updated_at: i64,
}

/// One block in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexBlock {
    /// The block.
    pub block_id: Ulid,
    /// Earliest sample (inclusive), Unix milliseconds.
    pub min_time: i64,
    /// Latest sample (exclusive), Unix milliseconds.
    pub max_time: i64,
    /// How the chunk segments are named (`1b6d`), empty when unknown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub segments_format: String,
    /// How many chunk segments, when `segments_format` is known.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub segments_num: u32,
    /// Largest series entry in the index, bytes (0 when unknown).
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub series_max_size: i64,
    /// Largest chunk, bytes (0 when unknown).
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub chunk_max_size: i64,
    /// When the block's upload completed (its meta.json's modification time), Unix
    /// seconds.
    pub uploaded_at: i64,
}

/// A block's deletion mark in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDeletionMark {
    /// The block.
    pub block_id: Ulid,
    /// When it was marked, Unix seconds.
    pub deletion_time: i64,
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl BucketIndex {
    /// An index without blocks, written at `updated_at`.
    pub fn empty(updated_at: i64) -> BucketIndex {
        BucketIndex {
            version: INDEX_VERSION_1,
            blocks: Vec::new(),
            block_deletion_marks: Vec::new(),
            updated_at,
        }
    }

    /// True when `block` has a deletion mark.
    pub fn is_marked_for_deletion(&self, block: Ulid) -> bool {
        self.block_deletion_marks
            .iter()
            .any(|m| m.block_id == block)
    }

    /// Blocks without a deletion mark whose `[min_time, max_time)` overlaps the
    /// inclusive range `[mint, maxt]`.
    pub fn active_blocks_within(&self, mint: i64, maxt: i64) -> Vec<&IndexBlock> {
        self.blocks
            .iter()
            .filter(|b| b.min_time <= maxt && mint < b.max_time)
            .filter(|b| !self.is_marked_for_deletion(b.block_id))
            .collect()
    }

    /// The JSON, as Go's `json.Marshal` writes it.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain data into a Vec cannot fail to serialize.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses the JSON; `path` names the object in errors.
    pub fn from_json(bytes: &[u8], path: &str) -> Result<BucketIndex, StorageError> {
        let idx: BucketIndex = serde_json::from_slice(bytes).map_err(|e| corrupted(path, e))?;
        if idx.version != INDEX_VERSION_1 {
            return Err(corrupted(
                path,
                format!("unsupported bucket index version {}", idx.version),
            ));
        }
        Ok(idx)
    }

    /// The gzipped JSON, the content of `bucket-index.json.gz`.
    pub fn encode(&self) -> Vec<u8> {
        let json = self.to_json();
        let mut gz = GzBuilder::new().filename(INDEX_FILENAME).write(
            Vec::with_capacity(json.len() / 4 + 64),
            Compression::default(),
        );
        // Writing into a Vec cannot fail.
        if gz.write_all(&json).is_err() {
            return Vec::new();
        }
        gz.finish().unwrap_or_default()
    }

    /// Parses the content of `bucket-index.json.gz`; `path` names the object in errors.
    pub fn decode(gz: &[u8], path: &str) -> Result<BucketIndex, StorageError> {
        let mut json = Vec::new();
        MultiGzDecoder::new(gz)
            .take(MAX_DECOMPRESSED_BYTES + 1)
            .read_to_end(&mut json)
            .map_err(|e| corrupted(path, format!("gzip: {e}")))?;
        if json.len() as u64 > MAX_DECOMPRESSED_BYTES {
            return Err(corrupted(
                path,
                format!("more than {MAX_DECOMPRESSED_BYTES} bytes decompressed"),
            ));
        }
        BucketIndex::from_json(&json, path)
    }
}

fn corrupted(path: &str, reason: impl ToString) -> StorageError {
    StorageError::Corrupted {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like the index in Cortex's bucket-index documentation and tests: Go's
    /// field order, an omitted `segments_format` on one block, a deletion mark.
    const CORTEX_JSON: &str = r#"{"version":1,"blocks":[{"block_id":"01EQK4QKFHVSZYVJ908Y7HH9E0","min_time":1603972800000,"max_time":1603980000000,"segments_format":"1b6d","segments_num":1,"uploaded_at":1603975392},{"block_id":"01EQK6FE5ZKGZ6AP5V9DRPMCZJ","min_time":1603980000000,"max_time":1603987200000,"uploaded_at":1603982592}],"block_deletion_marks":[{"block_id":"01EQK6FE5ZKGZ6AP5V9DRPMCZJ","deletion_time":1603983000}],"updated_at":1603983100}"#;

    #[test]
    fn decodes_cortex_shaped_index_and_reencodes_identically() {
        let idx = BucketIndex::from_json(CORTEX_JSON.as_bytes(), "t/bucket-index.json.gz").unwrap();
        assert_eq!(idx.version, 1);
        assert_eq!(idx.updated_at, 1603983100);
        assert_eq!(idx.blocks.len(), 2);
        let b = &idx.blocks[0];
        assert_eq!(b.block_id.to_string(), "01EQK4QKFHVSZYVJ908Y7HH9E0");
        assert_eq!((b.min_time, b.max_time), (1603972800000, 1603980000000));
        assert_eq!((b.segments_format.as_str(), b.segments_num), ("1b6d", 1));
        assert_eq!(b.uploaded_at, 1603975392);
        assert_eq!(idx.blocks[1].segments_format, "");
        assert_eq!(idx.block_deletion_marks[0].deletion_time, 1603983000);
        assert!(idx.is_marked_for_deletion(idx.blocks[1].block_id));
        assert_eq!(String::from_utf8(idx.to_json()).unwrap(), CORTEX_JSON);
    }

    #[test]
    fn go_null_lists_read_as_empty() {
        let idx = BucketIndex::from_json(
            br#"{"version":1,"blocks":null,"block_deletion_marks":null,"updated_at":5}"#,
            "p",
        )
        .unwrap();
        assert_eq!(idx, BucketIndex::empty(5));
    }

    #[test]
    fn gzip_round_trip_names_the_member() {
        let idx = BucketIndex::from_json(CORTEX_JSON.as_bytes(), "p").unwrap();
        let gz = idx.encode();
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        // FNAME flag set, and the name follows the 10-byte header.
        assert_eq!(gz[3] & 0x08, 0x08);
        assert_eq!(
            &gz[10..10 + INDEX_FILENAME.len()],
            INDEX_FILENAME.as_bytes()
        );
        assert_eq!(BucketIndex::decode(&gz, "p").unwrap(), idx);
    }

    #[test]
    fn bad_bytes_are_corrupted() {
        let gz = BucketIndex::empty(1).encode();
        let wrong_version = {
            let mut i = BucketIndex::empty(1);
            i.version = 2;
            i.encode()
        };
        for bad in [&b""[..], b"not gzip", &gz[..gz.len() - 3], &wrong_version] {
            let r = BucketIndex::decode(bad, "p");
            assert!(matches!(r, Err(StorageError::Corrupted { .. })), "{r:?}");
        }
    }

    #[test]
    fn active_blocks_skip_marked_and_out_of_range() {
        let idx = BucketIndex::from_json(CORTEX_JSON.as_bytes(), "p").unwrap();
        let got = idx.active_blocks_within(0, i64::MAX);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].block_id, idx.blocks[0].block_id);
        assert!(idx.active_blocks_within(1603980000000, i64::MAX).is_empty());
    }
}
