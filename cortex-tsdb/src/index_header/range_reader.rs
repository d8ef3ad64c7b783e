//! [`RangeReader`]: byte-range access to a block's index where it lives, the only way the
//! index-header builder reads the index.
//!
//! Implemented here for bytes in memory and for local files ([`FileRangeReader`]); a
//! store-gateway implements it over its bucket with ranged GETs. This module does not know
//! the index format.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Random access to the bytes of one object, range by range.
pub trait RangeReader {
    /// Size of the object in bytes.
    fn len(&self) -> Result<u64>;

    /// True when the object holds no bytes.
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Exactly `len` bytes starting at `offset`; a range past the end is an error.
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>>;

    /// What the object is called in errors (a path or an object key).
    fn name(&self) -> &Path {
        Path::new("index")
    }
}

/// The bytes `offset .. offset + len` of `data`, or an error naming the object.
fn slice_range(data: &[u8], offset: u64, len: usize, name: &Path) -> Result<Vec<u8>> {
    usize::try_from(offset)
        .ok()
        .and_then(|start| data.get(start..start.checked_add(len)?))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "range {offset}+{len} is outside the {} bytes of {}",
                data.len(),
                name.display()
            ))
        })
}

impl RangeReader for [u8] {
    fn len(&self) -> Result<u64> {
        Ok(<[u8]>::len(self) as u64)
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        slice_range(self, offset, len, RangeReader::name(self))
    }
}

impl RangeReader for Vec<u8> {
    fn len(&self) -> Result<u64> {
        Ok(Vec::len(self) as u64)
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        slice_range(self, offset, len, RangeReader::name(self))
    }
}

/// A local file read by range (positional reads, no shared cursor).
#[derive(Debug)]
pub struct FileRangeReader {
    file: File,
    path: PathBuf,
    len: u64,
}

impl FileRangeReader {
    /// Opens `path` for reading by range.
    pub fn open(path: impl AsRef<Path>) -> Result<FileRangeReader> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io("stat", path, e))?
            .len();
        Ok(FileRangeReader {
            file,
            path: path.to_path_buf(),
            len,
        })
    }
}

impl RangeReader for FileRangeReader {
    fn len(&self) -> Result<u64> {
        Ok(self.len)
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        if offset
            .checked_add(len as u64)
            .is_none_or(|end| end > self.len)
        {
            return Err(Error::InvalidArgument(format!(
                "range {offset}+{len} is outside the {} bytes of {}",
                self.len,
                self.path.display()
            )));
        }
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|e| Error::io("read", &self.path, e))?;
        Ok(buf)
    }

    fn name(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_and_file_readers_agree_and_refuse_ranges_past_the_end() {
        let data: Vec<u8> = (0..=255u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        std::fs::write(&path, &data).unwrap();
        let file = FileRangeReader::open(&path).unwrap();
        let readers: [&dyn RangeReader; 2] = [&data, &file];
        assert_eq!(data.as_slice().read_at(1, 2).unwrap(), vec![1, 2]);
        for r in readers {
            assert!(!r.is_empty().unwrap());
            assert_eq!(r.len().unwrap(), 256);
            assert_eq!(r.read_at(10, 3).unwrap(), vec![10, 11, 12]);
            assert_eq!(r.read_at(256, 0).unwrap(), Vec::<u8>::new());
            assert!(matches!(r.read_at(250, 7), Err(Error::InvalidArgument(_))));
            assert!(r.read_at(u64::MAX, 2).is_err());
        }
        assert_eq!(file.name(), path);
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = FileRangeReader::open(dir.path().join("nope")).unwrap_err();
        assert!(matches!(err, Error::Io { op: "open", .. }), "{err}");
    }
}
