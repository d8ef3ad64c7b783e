//! Chunk segment files (`<block>/chunks/000001`, ...): many encoded chunks back to back,
//! each with its length, encoding and CRC-32C, addressed by a [`ChunkRef`].

mod meta;

pub use meta::{ChunkMeta, ChunkRef};
