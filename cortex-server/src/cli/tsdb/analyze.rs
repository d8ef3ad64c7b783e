//! `cortex tsdb analyze`: a block's cardinality and churn report, in `promtool tsdb
//! analyze`'s layout (label pairs and names most involved in churn, most common pairs,
//! highest cardinality labels and metric names, and with `--extended` the chunk
//! fullness histogram).
//!
//! Where promtool orders equal counts arbitrarily (Go map order), ties are listed by key.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use cortex_tsdb::block::{Block, open_blocks};
use cortex_tsdb::chunkenc::ChunkIter;
use cortex_tsdb::chunks::ChunkMeta;
use cortex_tsdb::index::postings::{Postings, collect};

use super::ToolError;
use crate::cli::gofmt::go_duration_ms;

/// Analyzes block `block_id` of `db_path` (the newest block when `None`).
pub fn run(
    db_path: &Path,
    block_id: Option<&str>,
    limit: usize,
    extended: bool,
    out: &mut dyn Write,
) -> Result<(), ToolError> {
    let blocks = open_blocks(db_path)?;
    let block = match block_id {
        Some(id) => blocks.iter().find(|b| b.meta().ulid.to_string() == id),
        None => blocks.last(),
    }
    .ok_or_else(|| ToolError::Usage(format!("block {} not found", block_id.unwrap_or(""))))?;
    let mut text = report(block, limit)?;
    if extended {
        text.push_str(&compaction_report(block)?);
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}

fn report(block: &Block, limit: usize) -> Result<String, ToolError> {
    let meta = block.meta();
    let ir = block.index();
    let span = meta.max_time - meta.min_time;
    let mut s = String::new();
    let _ = writeln!(s, "Block ID: {}", meta.ulid);
    let _ = writeln!(s, "Duration: {}", go_duration_ms(span));
    let _ = writeln!(s, "Series: {}", meta.stats.num_series);
    let names = ir.label_names();
    let _ = writeln!(s, "Label names: {}", names.len());

    let mut labels_uncovered: HashMap<String, u64> = HashMap::new();
    let mut pairs_uncovered: HashMap<String, u64> = HashMap::new();
    let mut pairs_count: HashMap<String, u64> = HashMap::new();
    let mut entries = 0u64;
    let mut chunks: Vec<ChunkMeta> = Vec::new();
    let mut all = ir.all_postings()?;
    while let Some(id) = all.next() {
        let labels = ir.series(id, &mut chunks)?;
        let covered = match (chunks.first(), chunks.last()) {
            (Some(f), Some(l)) => (l.max_time - f.min_time) as u64,
            _ => 0,
        };
        let uncovered = (span as u64).wrapping_sub(covered);
        for l in labels.iter() {
            let key = format!("{}={}", l.name, l.value);
            *labels_uncovered.entry(l.name.to_string()).or_default() += uncovered;
            *pairs_uncovered.entry(key.clone()).or_default() += uncovered;
            *pairs_count.entry(key).or_default() += 1;
            entries += 1;
        }
    }
    let _ = writeln!(
        s,
        "Postings (unique label pairs): {}",
        pairs_uncovered.len()
    );
    let _ = writeln!(s, "Postings entries (total label pairs): {entries}");

    let per_span = |m: &HashMap<String, u64>| -> Vec<(String, u64)> {
        m.iter()
            .map(|(k, v)| (k.clone(), (*v as f64 / span as f64) as u64))
            .collect()
    };
    s.push_str("\nLabel pairs most involved in churning:\n");
    print_top(&mut s, per_span(&pairs_uncovered), limit);
    s.push_str("\nLabel names most involved in churning:\n");
    print_top(&mut s, per_span(&labels_uncovered), limit);
    s.push_str("\nMost common label pairs:\n");
    print_top(&mut s, pairs_count.into_iter().collect(), limit);

    let mut lengths = Vec::new();
    let mut cardinality = Vec::new();
    for n in &names {
        let values = ir.label_values(n)?;
        lengths.push((n.to_string(), values.iter().map(|v| v.len() as u64).sum()));
        cardinality.push((n.to_string(), values.len() as u64));
    }
    s.push_str("\nLabel names with highest cumulative label value length:\n");
    print_top(&mut s, lengths, limit);
    s.push_str("\nHighest cardinality labels:\n");
    print_top(&mut s, cardinality, limit);

    let mut metrics = Vec::new();
    for v in ir.label_values("__name__")? {
        let count = collect(&mut ir.postings("__name__", &[v])?).len() as u64;
        metrics.push((v.to_string(), count));
    }
    s.push_str("\nHighest cardinality metric names:\n");
    print_top(&mut s, metrics, limit);
    Ok(s)
}

fn print_top(s: &mut String, mut rows: Vec<(String, u64)>, limit: usize) {
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (k, v) in rows.into_iter().take(limit) {
        let _ = writeln!(s, "{v} {k}");
    }
}

/// How full the block's chunks are, as a histogram of tenths of 120 samples.
fn compaction_report(block: &Block) -> Result<String, ToolError> {
    const MAX_SAMPLES: u64 = 120;
    const BUCKETS: usize = 10;
    let ir = block.index();
    let mut histogram = [0u64; BUCKETS];
    let mut total = 0u64;
    let mut chunks = Vec::new();
    let mut all = ir.all_postings()?;
    while let Some(id) = all.next() {
        ir.series(id, &mut chunks)?;
        for c in &chunks {
            let raw = block.chunks().chunk(c.chunk_ref)?;
            let n = ChunkIter::new(raw.encoding, raw.data)
                .map_err(|e| ToolError::Tsdb(e.into()))?
                .num_samples();
            let size = u64::from(n).min(MAX_SAMPLES);
            let bucket = (BUCKETS as u64 * size).div_ceil(MAX_SAMPLES) as usize;
            histogram[bucket.clamp(1, BUCKETS) - 1] += 1;
            total += 1;
        }
    }
    let mut s = String::from("\nCompaction analysis:\n");
    s.push_str("Fullness: Amount of samples in chunks (100% is 120 samples)\n");
    for (i, count) in histogram.iter().enumerate() {
        let pct = (100 * count).checked_div(total).unwrap_or(0);
        let _ = writeln!(s, "{:>7}%: {}", (i + 1) * 10, "#".repeat(pct as usize));
    }
    Ok(s)
}
