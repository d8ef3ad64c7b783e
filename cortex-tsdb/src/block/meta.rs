//! `meta.json`: a block's identity, time range, statistics and compaction history.
//!
//! Every field Prometheus writes is here with Prometheus' JSON names, in Prometheus'
//! order, and written the way Go's `json.MarshalIndent(meta, "", "\t")` writes it (tab
//! indents, no trailing newline), so our files match Prometheus' byte for byte. Fields we
//! do not know (such as the `thanos` section other tools add) are kept as they are when a
//! file is read and written back.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ulid::Ulid;
use crate::{Error, Result, fileutil};

/// The file name inside a block.
pub const FILENAME: &str = "meta.json";

/// The only `version` Prometheus writes.
pub const META_VERSION_1: u32 = 1;

/// A block's `meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockMeta {
    /// The block's identifier and directory name.
    pub ulid: Ulid,
    /// Earliest timestamp (inclusive), Unix milliseconds.
    #[serde(rename = "minTime")]
    pub min_time: i64,
    /// Latest timestamp (exclusive), Unix milliseconds.
    #[serde(rename = "maxTime")]
    pub max_time: i64,
    /// Counts of what the block holds.
    #[serde(default)]
    pub stats: BlockStats,
    /// How the block came to be.
    pub compaction: BlockMetaCompaction,
    /// Format version of the meta file; always 1.
    pub version: u32,
    /// Fields written by other tools, preserved verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The `stats` object. Zero counts are omitted, as Prometheus omits them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockStats {
    /// All samples, float and histogram.
    #[serde(rename = "numSamples", default, skip_serializing_if = "is_zero")]
    pub num_samples: u64,
    /// Float samples (written by Prometheus 3).
    #[serde(rename = "numFloatSamples", default, skip_serializing_if = "is_zero")]
    pub num_float_samples: u64,
    /// Histogram samples (written by Prometheus 3).
    #[serde(
        rename = "numHistogramSamples",
        default,
        skip_serializing_if = "is_zero"
    )]
    pub num_histogram_samples: u64,
    /// Series.
    #[serde(rename = "numSeries", default, skip_serializing_if = "is_zero")]
    pub num_series: u64,
    /// Chunks.
    #[serde(rename = "numChunks", default, skip_serializing_if = "is_zero")]
    pub num_chunks: u64,
    /// Tombstone intervals.
    #[serde(rename = "numTombstones", default, skip_serializing_if = "is_zero")]
    pub num_tombstones: u64,
}

/// The `compaction` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMetaCompaction {
    /// 1 for a block cut from a head, +1 for each compaction.
    pub level: u32,
    /// The level-1 blocks this block's data came from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Ulid>,
    /// Set when the block holds no data and can be deleted.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deletable: bool,
    /// The blocks compacted into this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<BlockDesc>,
    /// Set when a compaction of this block failed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub failed: bool,
    /// Free-form hints, e.g. `"from-out-of-order"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
}

/// A parent block in `compaction.parents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDesc {
    /// The parent's identifier.
    pub ulid: Ulid,
    /// The parent's minimum time.
    #[serde(rename = "minTime")]
    pub min_time: i64,
    /// The parent's maximum time.
    #[serde(rename = "maxTime")]
    pub max_time: i64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

impl BlockMeta {
    /// Meta of a new level-1 block that is its own source.
    pub fn new_level1(ulid: Ulid, min_time: i64, max_time: i64) -> BlockMeta {
        BlockMeta {
            ulid,
            min_time,
            max_time,
            stats: BlockStats::default(),
            compaction: BlockMetaCompaction {
                level: 1,
                sources: vec![ulid],
                ..Default::default()
            },
            version: META_VERSION_1,
            extra: BTreeMap::new(),
        }
    }

    /// Serializes as Go's `json.MarshalIndent(meta, "", "\t")` would.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        // Serializing plain data into a Vec cannot fail.
        if self.serialize(&mut ser).is_err() {
            out.clear();
        }
        out
    }

    /// Parses `meta.json` bytes; `path` names the file in errors.
    pub fn from_json(bytes: &[u8], path: &Path) -> Result<BlockMeta> {
        let meta: BlockMeta = serde_json::from_slice(bytes).map_err(|e| {
            Error::corrupted(
                path,
                "meta.json",
                e.column() as u64,
                format!("line {}: {e}", e.line()),
            )
        })?;
        if meta.version != META_VERSION_1 {
            return Err(Error::corrupted(
                path,
                "meta.json",
                0,
                format!("unsupported meta version {}", meta.version),
            ));
        }
        Ok(meta)
    }

    /// Reads `<dir>/meta.json`.
    pub fn read(dir: &Path) -> Result<BlockMeta> {
        let path = dir.join(FILENAME);
        let b = fileutil::read(&path)?;
        BlockMeta::from_json(&b, &path)
    }

    /// Writes `<dir>/meta.json` atomically; returns its size.
    pub fn write(&self, dir: &Path) -> Result<u64> {
        let b = self.to_json();
        fileutil::write_atomic(&dir.join(FILENAME), &b)?;
        Ok(b.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/prometheus-2.42/openmetrics-blocks/01M81BZRC0Q1GW9BQ5GFGZAWV2"
    );

    #[test]
    fn prometheus_meta_round_trips_byte_for_byte() {
        let dir = Path::new(FIXTURE);
        if !dir.exists() {
            assert!(std::env::var("CI").is_err(), "fixtures missing under CI");
            eprintln!("skipping: {FIXTURE} not present");
            return;
        }
        let bytes = std::fs::read(dir.join(FILENAME)).unwrap();
        let meta = BlockMeta::read(dir).unwrap();
        assert_eq!(meta.stats.num_samples, 9821);
        assert_eq!(meta.compaction.sources, vec![meta.ulid]);
        assert_eq!(meta.to_json(), bytes);
    }

    #[test]
    fn unknown_sections_are_preserved() {
        let src = br#"{"ulid":"01M81BZRC0Q1GW9BQ5GFGZAWV2","minTime":1,"maxTime":2,"stats":{},"compaction":{"level":2,"parents":[{"ulid":"01M81BZRC0Q1GW9BQ5GFGZAWV2","minTime":1,"maxTime":2}]},"version":1,"thanos":{"labels":{"a":"b"},"source":"ingester"}}"#;
        let m = BlockMeta::from_json(src, Path::new("meta.json")).unwrap();
        assert_eq!(m.extra["thanos"]["source"], "ingester");
        let again = BlockMeta::from_json(&m.to_json(), Path::new("meta.json")).unwrap();
        assert_eq!(again, m);
        let text = String::from_utf8(m.to_json()).unwrap();
        assert!(
            text.starts_with("{\n\t\"ulid\": \"01M81BZRC0Q1GW9BQ5GFGZAWV2\",\n\t\"minTime\": 1,"),
            "{text}"
        );
        assert!(text.contains("\t\"stats\": {},"), "{text}");
    }

    #[test]
    fn bad_meta_is_an_error_naming_the_file() {
        for bad in [&b""[..], b"{", b"{\"ulid\":\"nope\"}", b"[]"] {
            let err = BlockMeta::from_json(bad, Path::new("blk/meta.json")).unwrap_err();
            assert!(err.to_string().contains("blk/meta.json"), "{err}");
        }
        let v2 = br#"{"ulid":"01M81BZRC0Q1GW9BQ5GFGZAWV2","minTime":1,"maxTime":2,"compaction":{"level":1},"version":2}"#;
        assert!(BlockMeta::from_json(v2, Path::new("m")).is_err());
    }
}
