//! Chunk segment files (`<block>/chunks/000001`, ...): many encoded chunks back to back,
//! each with its length, encoding and CRC-32C, addressed by a [`ChunkRef`].
//!
//! ```text
//! segment file:  magic 0x85BD40DD (4, BE) │ version 1 (1) │ padding 0 (3) │ chunk │ chunk │ ...
//! chunk:         uvarint len(data) │ encoding (1) │ data (len) │ CRC-32C(encoding ‖ data) (4, BE)
//! ```
//! This is `tsdb/docs/format/chunks.md` of Prometheus. A [`ChunkRef`] packs the segment's
//! zero-based sequence number (upper 32 bits; 0 is file `000001`) and the chunk's byte
//! offset in it (lower 32 bits). Segments hold at most 512 MiB; a chunk never spans two.

mod head_files;
mod meta;
mod reader;
mod writer;

pub use head_files::{
    HEAD_MAGIC, HeadChunk, HeadChunkFiles, HeadChunkInfo, HeadChunkRef, MAX_HEAD_FILE_SIZE,
};
pub use meta::{ChunkMeta, ChunkRef};
pub use reader::{ChunkReader, RawChunk, walk_segment};
pub use writer::{ChunkWriter, DEFAULT_SEGMENT_SIZE};

/// Magic number at the start of every block chunk segment file.
pub const MAGIC: u32 = 0x85BD_40DD;
/// Format version byte that follows the magic.
pub const FORMAT_V1: u8 = 1;
/// Size of the segment header: magic, version, padding.
pub const SEGMENT_HEADER_SIZE: usize = 8;

/// Name of the `n`th segment file (zero-based): `000001` for 0.
pub fn segment_file_name(seq: u32) -> String {
    format!("{:06}", u64::from(seq) + 1)
}
