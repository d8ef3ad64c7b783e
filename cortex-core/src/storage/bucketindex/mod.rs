//! The per-tenant bucket index (`<tenant>/bucket-index.json.gz`): its format
//! ([`index`]), how it is rebuilt from the bucket ([`updater`]) and how readers load it
//! with the staleness check ([`reader`]).

pub mod index;
pub mod reader;
pub mod updater;

pub use index::{BucketIndex, IndexBlock, IndexDeletionMark};
pub use reader::BucketIndexReader;
pub use updater::{
    UpdateOutcome, delete_index, index_path, read_index, update_and_write_index, update_index,
    write_index,
};
