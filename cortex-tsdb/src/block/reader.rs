//! An open block: its meta, memory-mapped index and chunk segments, and tombstones.
//!
//! Opening checks what can be checked cheaply and up front — the meta parses and names
//! this directory, the index header, TOC and tables verify, every chunk segment has a
//! valid header, the tombstones' checksum matches — so a damaged block fails at open with
//! the file and section named, not halfway through a query.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{BlockMeta, block_size};
use crate::chunks::ChunkReader;
use crate::index::IndexReader;
use crate::tombstones::Tombstones;
use crate::{Error, Result};

/// The index file name inside a block.
pub const INDEX_FILENAME: &str = "index";
/// The chunk segment directory inside a block.
pub const CHUNKS_DIRNAME: &str = "chunks";

/// A block opened for reading.
pub struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    index: IndexReader,
    chunks: ChunkReader,
    tombstones: Tombstones,
    size: u64,
}

impl Block {
    /// Opens the block in `dir`.
    pub fn open(dir: &Path) -> Result<Block> {
        let meta = BlockMeta::read(dir)?;
        if let Some(name) = dir.file_name().and_then(|n| n.to_str())
            && name.parse::<crate::ulid::Ulid>().is_ok()
            && name != meta.ulid.to_string()
        {
            return Err(Error::corrupted(
                dir.join(super::META_FILENAME),
                "meta.json",
                0,
                format!(
                    "ulid {} does not match the block directory {name}",
                    meta.ulid
                ),
            ));
        }
        if meta.max_time < meta.min_time {
            return Err(Error::corrupted(
                dir.join(super::META_FILENAME),
                "meta.json",
                0,
                format!(
                    "maxTime {} is before minTime {}",
                    meta.max_time, meta.min_time
                ),
            ));
        }
        let index = IndexReader::open(dir.join(INDEX_FILENAME))?;
        let chunks = ChunkReader::open(&dir.join(CHUNKS_DIRNAME))?;
        let tombstones = Tombstones::read(dir)?;
        let size = block_size(dir)?;
        Ok(Block {
            dir: dir.to_path_buf(),
            meta,
            index,
            chunks,
            tombstones,
            size,
        })
    }

    /// The block directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The block's `meta.json`.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// The block's index.
    pub fn index(&self) -> &IndexReader {
        &self.index
    }

    /// The block's chunk segments.
    pub fn chunks(&self) -> &ChunkReader {
        &self.chunks
    }

    /// The block's deleted ranges.
    pub fn tombstones(&self) -> &Tombstones {
        &self.tombstones
    }

    /// Bytes on disk, as Prometheus counts them.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// True when the block may hold samples in `[mint, maxt]` (its `maxTime` is
    /// exclusive).
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.meta.min_time <= maxt && mint < self.meta.max_time
    }
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("dir", &self.dir)
            .field("ulid", &self.meta.ulid)
            .finish()
    }
}

/// Opens every block of a data directory, oldest (`minTime`) first.
pub fn open_blocks(data_dir: &Path) -> Result<Vec<Arc<Block>>> {
    let mut blocks = super::block_dirs(data_dir)?
        .iter()
        .map(|d| Block::open(d).map(Arc::new))
        .collect::<Result<Vec<_>>>()?;
    blocks.sort_by_key(|b| (b.meta.min_time, b.meta.ulid));
    Ok(blocks)
}
