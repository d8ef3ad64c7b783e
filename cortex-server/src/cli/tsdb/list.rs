//! `cortex tsdb list`: one line per block with its time range, counts and size, in
//! `promtool tsdb list`'s layout.

use std::io::Write;
use std::path::Path;

use cortex_tsdb::block::{BlockMeta, block_dirs, block_size};

use super::ToolError;
use crate::cli::gofmt::{go_duration_ms, tabwrite};

/// A block's line in the listing.
pub struct BlockRow {
    /// The block's meta.
    pub meta: BlockMeta,
    /// Its size on disk as Prometheus counts it.
    pub size: u64,
}

/// Lists the blocks of `db_path`, oldest first.
pub fn run(db_path: &Path, human: bool, out: &mut dyn Write) -> Result<(), ToolError> {
    let mut rows = Vec::new();
    for dir in block_dirs(db_path)? {
        rows.push(BlockRow {
            meta: BlockMeta::read(&dir)?,
            size: block_size(&dir)?,
        });
    }
    rows.sort_by_key(|r| r.meta.min_time);
    out.write_all(format_rows(&rows, true, human).as_bytes())?;
    Ok(())
}

/// The table `promtool` prints for blocks, optionally with its header.
pub fn format_rows(rows: &[BlockRow], header: bool, human: bool) -> String {
    let mut lines = Vec::new();
    if header {
        lines.push(
            [
                "BLOCK ULID",
                "MIN TIME",
                "MAX TIME",
                "DURATION",
                "NUM SAMPLES",
                "NUM CHUNKS",
                "NUM SERIES",
                "SIZE",
            ]
            .map(String::from)
            .to_vec(),
        );
    }
    for r in rows {
        let m = &r.meta;
        lines.push(vec![
            m.ulid.to_string(),
            format_time(m.min_time, human),
            format_time(m.max_time, human),
            go_duration_ms(m.max_time - m.min_time),
            m.stats.num_samples.to_string(),
            m.stats.num_chunks.to_string(),
            m.stats.num_series.to_string(),
            format_bytes(r.size, human),
        ]);
    }
    tabwrite(&lines, 13, 2)
}

fn format_time(ms: i64, human: bool) -> String {
    if !human {
        return ms.to_string();
    }
    // Go prints time.Unix(s, 0).UTC().String(): "2023-11-14 22:13:20 +0000 UTC".
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Go's `units.Base2Bytes(n).String()`: every non-zero unit from the largest down,
/// `28KiB684B`, `1MiB`, `0B`.
fn format_bytes(n: u64, human: bool) -> String {
    if !human {
        return n.to_string();
    }
    if n == 0 {
        return "0B".to_string();
    }
    const UNITS: [&str; 7] = ["EiB", "PiB", "TiB", "GiB", "MiB", "KiB", "B"];
    let mut out = String::new();
    let mut rest = n;
    for (i, unit) in UNITS.iter().enumerate() {
        let scale = 1u64 << (10 * (UNITS.len() - 1 - i));
        let part = rest / scale;
        if part > 0 {
            out.push_str(&format!("{part}{unit}"));
            rest %= scale;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_times_are_go_utc_strings() {
        assert_eq!(
            format_time(1_700_000_000_000, true),
            "2023-11-14 22:13:20 +0000 UTC"
        );
        assert_eq!(format_time(0, true), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(format_time(1_700_000_000_000, false), "1700000000000");
    }

    #[test]
    fn byte_sizes() {
        // What promtool prints for the openmetrics fixture blocks.
        assert_eq!(format_bytes(29356, true), "28KiB684B");
        assert_eq!(format_bytes(6260, true), "6KiB116B");
        assert_eq!(format_bytes(2048, true), "2KiB");
        assert_eq!(format_bytes(3 << 20, true), "3MiB");
        assert_eq!(format_bytes(0, true), "0B");
        assert_eq!(format_bytes(55098, false), "55098");
    }
}
