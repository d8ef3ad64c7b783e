//! Block directories: `meta.json`, `index`, `chunks/`, `tombstones`, written atomically.

mod chunk_cut;
mod dir;
mod meta;

pub use chunk_cut::{ChunkCutter, SAMPLES_PER_CHUNK};
pub use dir::{block_dirs, block_size};
pub use meta::{
    BlockDesc, BlockMeta, BlockMetaCompaction, BlockStats, FILENAME as META_FILENAME,
    META_VERSION_1,
};
