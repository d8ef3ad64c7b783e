//! Segment files in a WAL directory: names (`%08d`), listing in order, the range
//! (first, last), and the rule that indexes are consecutive.
//!
//! Entries whose names are not all ASCII digits (checkpoint directories, `*.tmp`,
//! `*.repair`, `lock`) are not segments and are ignored. A gap in the numbering means a
//! segment was lost; listing reports it as [`crate::Error::Corrupted`] naming the
//! directory, because replaying across the gap would silently skip records.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The first and last index of the segments in a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SegmentRange {
    /// Lowest index.
    pub first: u64,
    /// Highest index.
    pub last: u64,
}

/// The path of segment `index` in `dir`: the index as 8 or more decimal digits.
pub fn segment_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("{index:08}"))
}

/// The index of a segment file name, `None` for names that are not segments.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// Indexes of the segments in `dir`, ascending. Fails when they are not consecutive.
pub fn list_segments(dir: &Path) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| Error::io("read directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read directory", dir, e))?;
        if let Some(i) = entry.file_name().to_str().and_then(parse_segment_name) {
            out.push(i);
        }
    }
    out.sort_unstable();
    check_consecutive(dir, &out)?;
    Ok(out)
}

/// The range of segments in `dir`, `None` when there are none.
pub fn segment_range(dir: &Path) -> Result<Option<SegmentRange>> {
    let segs = list_segments(dir)?;
    Ok(match (segs.first(), segs.last()) {
        (Some(&first), Some(&last)) => Some(SegmentRange { first, last }),
        _ => None,
    })
}

/// Fails unless `indexes` (ascending) have no gaps.
pub(crate) fn check_consecutive(dir: &Path, indexes: &[u64]) -> Result<()> {
    for w in indexes.windows(2) {
        if w[1] != w[0] + 1 {
            return Err(Error::corrupted(
                dir,
                "segment sequence",
                0,
                format!(
                    "segments are not consecutive: {} follows {} (missing {}{})",
                    segment_name(w[1]),
                    segment_name(w[0]),
                    segment_name(w[0] + 1),
                    if w[1] - w[0] > 2 {
                        format!("..{}", segment_name(w[1] - 1))
                    } else {
                        String::new()
                    }
                ),
            ));
        }
    }
    Ok(())
}

fn segment_name(i: u64) -> String {
    format!("{i:08}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_eight_digits_and_parse_back() {
        assert_eq!(
            segment_path(Path::new("w"), 12),
            Path::new("w").join("00000012")
        );
        assert_eq!(
            segment_path(Path::new("w"), 123_456_789),
            Path::new("w").join("123456789")
        );
        assert_eq!(parse_segment_name("00000012"), Some(12));
        for bad in [
            "",
            "checkpoint.00000001",
            "00000001.tmp",
            "+1",
            "-1",
            "lock",
        ] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn listing_ignores_other_entries_and_reports_gaps() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(segment_range(dir.path()).unwrap(), None);
        for n in ["00000003", "00000004", "00000005"] {
            fs::write(dir.path().join(n), b"").unwrap();
        }
        fs::create_dir(dir.path().join("checkpoint.00000002")).unwrap();
        fs::write(dir.path().join("00000006.repair"), b"").unwrap();
        assert_eq!(
            segment_range(dir.path()).unwrap(),
            Some(SegmentRange { first: 3, last: 5 })
        );
        fs::write(dir.path().join("00000008"), b"").unwrap();
        let err = list_segments(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("missing 00000006..00000007"),
            "{err}"
        );
    }
}
