//! `thanos.shipper.json`: the shipper's record, in a tenant's TSDB directory, of the
//! blocks it uploaded, in Thanos' format (`{"version": 1, "uploaded": [ULIDs]}`, Go's
//! tab-indented JSON with a final newline, `null` for none). It is written atomically
//! (temporary file, fsync, rename), so a restart neither uploads a block again nor
//! forgets one.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use cortex_tsdb::ulid::Ulid;

use super::error::IngesterError;

/// The file name inside a tenant's TSDB directory.
pub const SHIPPER_META_FILENAME: &str = "thanos.shipper.json";

/// The only version Thanos writes.
pub const SHIPPER_META_VERSION_1: u32 = 1;

/// The shipper's record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShipperMeta {
    /// The uploaded blocks, in upload order.
    pub uploaded: Vec<Ulid>,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    version: u32,
    uploaded: Option<Vec<Ulid>>,
}

impl ShipperMeta {
    /// The record's path in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(SHIPPER_META_FILENAME)
    }

    /// Reads the record in `dir`; `None` when there is none yet.
    pub fn read(dir: &Path) -> Result<Option<ShipperMeta>, IngesterError> {
        let path = Self::path(dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(IngesterError::io("read", path, e)),
        };
        let wire: Wire =
            serde_json::from_slice(&bytes).map_err(|e| IngesterError::ShipperMeta {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        if wire.version != SHIPPER_META_VERSION_1 {
            return Err(IngesterError::ShipperMeta {
                path,
                detail: format!("unexpected version {}", wire.version),
            });
        }
        Ok(Some(ShipperMeta {
            uploaded: wire.uploaded.unwrap_or_default(),
        }))
    }

    /// The file's bytes, as Thanos writes them.
    pub fn to_json(&self) -> Vec<u8> {
        let wire = Wire {
            version: SHIPPER_META_VERSION_1,
            uploaded: (!self.uploaded.is_empty()).then(|| self.uploaded.clone()),
        };
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        if wire.serialize(&mut ser).is_err() {
            out.clear();
        }
        out.push(b'\n');
        out
    }

    /// Writes the record into `dir` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), IngesterError> {
        let path = Self::path(dir);
        let tmp = dir.join(format!("{SHIPPER_META_FILENAME}.tmp"));
        let mut f =
            std::fs::File::create(&tmp).map_err(|e| IngesterError::io("create", &tmp, e))?;
        f.write_all(&self.to_json())
            .map_err(|e| IngesterError::io("write", &tmp, e))?;
        f.sync_all()
            .map_err(|e| IngesterError::io("fsync", &tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(|e| IngesterError::io("rename", &tmp, e))?;
        if let Ok(d) = std::fs::File::open(dir) {
            // Directory fsync makes the rename durable; not every platform allows it.
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_thanos_format() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ShipperMeta::read(dir.path()).unwrap(), None);
        let empty = ShipperMeta::default();
        assert_eq!(
            String::from_utf8(empty.to_json()).unwrap(),
            "{\n\t\"version\": 1,\n\t\"uploaded\": null\n}\n"
        );
        let id: Ulid = "01HZX3Y5D8V0N7E6Q1W2R3T4Y5".parse().unwrap();
        let m = ShipperMeta { uploaded: vec![id] };
        m.write(dir.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(ShipperMeta::path(dir.path())).unwrap(),
            "{\n\t\"version\": 1,\n\t\"uploaded\": [\n\t\t\"01HZX3Y5D8V0N7E6Q1W2R3T4Y5\"\n\t]\n}\n"
        );
        assert_eq!(ShipperMeta::read(dir.path()).unwrap(), Some(m));
        std::fs::write(ShipperMeta::path(dir.path()), "{\"version\": 2}").unwrap();
        assert!(ShipperMeta::read(dir.path()).is_err());
    }
}
