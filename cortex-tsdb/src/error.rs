//! The crate's error type: what went wrong and where, precisely enough to act on.
//!
//! Decoders of on-disk data report [`Error::Corrupted`] with the file, the section of the
//! format and the byte offset, so an operator can tell a torn write from a bad disk, and
//! a developer can open the file at the spot.

use std::io;
use std::path::{Path, PathBuf};

use crate::chunkenc::ChunkError;
use crate::labels::LabelError;

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can fail in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation on `path` failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What we tried to do ("open", "read", "write", "fsync", "rename", ...).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A file's contents do not follow its format.
    #[error("corrupted {}: {section} at offset {offset}: {detail}", file.display())]
    Corrupted {
        /// The damaged file.
        file: PathBuf,
        /// Which part of the format (e.g. "postings offset table", "chunk").
        section: String,
        /// Byte offset in the file where the problem was found.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// A chunk's bytes could not be decoded (no file context yet).
    #[error(transparent)]
    Chunk(#[from] ChunkError),
    /// A label set or matcher is invalid.
    #[error(transparent)]
    Labels(#[from] LabelError),
    /// A caller passed something this operation cannot take.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Something looked up does not exist.
    #[error("not found: {0}")]
    NotFound(String),
}

impl Error {
    /// An [`Error::Io`] for `op` on `path`.
    pub fn io(op: &'static str, path: impl AsRef<Path>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// An [`Error::Corrupted`] for `file`.
    pub fn corrupted(
        file: impl AsRef<Path>,
        section: impl Into<String>,
        offset: u64,
        detail: impl Into<String>,
    ) -> Error {
        Error::Corrupted {
            file: file.as_ref().to_path_buf(),
            section: section.into(),
            offset,
            detail: detail.into(),
        }
    }
}
