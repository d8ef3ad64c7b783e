//! Block directories: `meta.json`, `index`, `chunks/`, `tombstones`, written atomically.

mod backfill;
mod builder;
pub(crate) mod chunk_cut;
mod dir;
mod meta;
mod reader;
mod reencode;
mod writer;

pub use backfill::{
    BackfillOptions, DEFAULT_BLOCK_DURATION, compatible_block_duration,
    create_blocks_from_openmetrics,
};
pub use builder::{AppendError, BlockBuilder};
pub use chunk_cut::{ChunkCutter, SAMPLES_PER_CHUNK};
pub use dir::{block_dirs, block_size};
pub use meta::{
    BlockDesc, BlockMeta, BlockMetaCompaction, BlockStats, FILENAME as META_FILENAME,
    META_VERSION_1,
};
pub use reader::{Block, CHUNKS_DIRNAME, INDEX_FILENAME, open_blocks};
pub use reencode::SampleEncoder;
pub use writer::{EncodedChunk, SeriesChunks, TMP_SUFFIX, write_block};
