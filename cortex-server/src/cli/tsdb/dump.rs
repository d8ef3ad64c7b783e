//! `cortex tsdb dump`: every float sample of the selected series, one line each, in
//! `promtool tsdb dump`'s format: `{labels} value timestamp`, series in label order,
//! values as Go's `%g`.
//!
//! Like promtool 2.42, a series' samples are printed until its first non-float sample
//! (native histograms are not printed). Data promtool would read but we cannot yet — a
//! write-ahead log with records — is an error rather than a silently shorter dump.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use cortex_tsdb::block::open_blocks;
use cortex_tsdb::chunkenc::ValueType;
use cortex_tsdb::float_format::write_go_g;
use cortex_tsdb::labels::{Matcher, parse_selector};
use cortex_tsdb::querier::{SampleIterator, merge_series, select_block};

use super::ToolError;

/// promtool's default selector: every series.
pub const DEFAULT_MATCH: &str = "{__name__=~'(?s:.*)'}";

/// Dumps the samples of `db_path` in `[mint, maxt]` that match `selector`.
pub fn run(
    db_path: &Path,
    mint: i64,
    maxt: i64,
    selector: &str,
    out: &mut dyn Write,
) -> Result<(), ToolError> {
    let matchers = parse_selector(selector)
        .map_err(|e| ToolError::Usage(format!("--match {selector:?}: {e}")))?;
    refuse_unreplayed_wal(db_path)?;
    dump_blocks(db_path, mint, maxt, &matchers, out)
}

fn dump_blocks(
    db_path: &Path,
    mint: i64,
    maxt: i64,
    matchers: &[Matcher],
    out: &mut dyn Write,
) -> Result<(), ToolError> {
    let blocks = open_blocks(db_path)?;
    let sets = blocks
        .iter()
        .map(|b| select_block(b, matchers, mint, maxt))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut line = String::with_capacity(256);
    for series in merge_series(sets) {
        let prefix = format!("{} ", series.labels);
        let mut it = series.iter();
        while let Some(ValueType::Float) = it.next()? {
            let (t, v) = it.at();
            line.clear();
            line.push_str(&prefix);
            write_go_g(&mut line, v);
            let _ = writeln!(line, " {t}");
            out.write_all(line.as_bytes())?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Fails when `db_path/wal` holds data: its samples would be missing from the dump.
fn refuse_unreplayed_wal(db_path: &Path) -> Result<(), ToolError> {
    let wal = db_path.join("wal");
    let Ok(rd) = std::fs::read_dir(&wal) else {
        return Ok(());
    };
    for entry in rd.flatten() {
        let non_empty = entry
            .metadata()
            .map(|m| m.is_dir() || m.len() > 0)
            .unwrap_or(true);
        if non_empty {
            return Err(ToolError::Usage(format!(
                "{} holds write-ahead log data, and replaying a WAL is not supported yet; \
                 dumping only the blocks would silently omit its samples",
                wal.display()
            )));
        }
    }
    Ok(())
}
