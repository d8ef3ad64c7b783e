//! Block directories: `meta.json`, `index`, `chunks/`, `tombstones`, written atomically.

mod meta;

pub use meta::{
    BlockDesc, BlockMeta, BlockMetaCompaction, BlockStats, FILENAME as META_FILENAME,
    META_VERSION_1,
};
