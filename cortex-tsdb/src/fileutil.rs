//! Durable file operations: write-to-temp, fsync, rename, fsync the directory.
//!
//! Every file and directory a block consists of becomes visible only when complete, so a
//! crash leaves either the old state or the new one, never a half-written file under its
//! final name.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Writes `bytes` to `path` atomically: into `path.tmp`, fsynced, renamed over `path`, and
/// the parent directory fsynced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    let res = (|| {
        let mut f = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| Error::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
        drop(f);
        rename_durable(&tmp, path)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// Renames `from` to `to` and fsyncs the parent directory of `to` so the rename survives a
/// crash.
pub fn rename_durable(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).map_err(|e| Error::io("rename", from, e))?;
    if let Some(parent) = to.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Fsyncs a directory, making entries created or renamed in it durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).map_err(|e| Error::io("open", dir, e))?;
    d.sync_all().map_err(|e| Error::io("fsync", dir, e))
}

/// Fsyncs an existing file.
pub fn sync_file(path: &Path) -> Result<()> {
    let f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    f.sync_all().map_err(|e| Error::io("fsync", path, e))
}

/// Reads a whole file, mapping errors to [`Error::Io`].
pub fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| Error::io("read", path, e))
}

/// `path` with `.tmp` appended to its file name.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meta.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert!(!tmp_path(&p).exists());
    }

    #[test]
    fn write_atomic_into_missing_dir_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nope").join("x");
        let err = write_atomic(&p, b"x").unwrap_err();
        assert!(matches!(err, Error::Io { op: "create", .. }), "{err}");
    }
}
