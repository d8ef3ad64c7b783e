//! `cortex tsdb dump`: every float sample of the selected series, one line each, in
//! `promtool tsdb dump`'s format: `{labels} value timestamp`, series in label order,
//! values as Go's `%g`.
//!
//! Like promtool 2.42, a series' samples are printed until its first non-float sample
//! (native histograms are not printed).

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use cortex_tsdb::chunkenc::ValueType;
use cortex_tsdb::db::{Db, DbOptions};
use cortex_tsdb::float_format::write_go_g;
use cortex_tsdb::labels::parse_selector;
use cortex_tsdb::querier::SampleIterator;

use super::ToolError;

/// promtool's default selector: every series.
pub const DEFAULT_MATCH: &str = "{__name__=~'(?s:.*)'}";

/// Dumps the samples of `db_path` in `[mint, maxt]` that match `selector`: blocks, and the
/// head replayed from `chunks_head/` and the WAL, without writing to the directory.
pub fn run(
    db_path: &Path,
    mint: i64,
    maxt: i64,
    selector: &str,
    out: &mut dyn Write,
) -> Result<(), ToolError> {
    let matchers = parse_selector(selector)
        .map_err(|e| ToolError::Usage(format!("--match {selector:?}: {e}")))?;
    let opts = DbOptions {
        read_only: true,
        retention: None,
        ..Default::default()
    };
    let db = Db::open(db_path, opts)?;
    let q = db.querier(mint, maxt);
    let series = q.select(&matchers)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut line = String::with_capacity(256);
    for series in series {
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
