//! Creating blocks from an OpenMetrics file, as `promtool tsdb create-blocks-from
//! openmetrics` does.
//!
//! Samples are grouped into windows of the block duration aligned to multiples of it
//! (2h by default; a larger maximum picks the largest of Prometheus' exponential ranges
//! 2h, 6h, 18h, ... that fits), and each window becomes one block whose chunks are cut
//! with a chunk range of twice the block duration, as promtool's block writer does. The
//! input is read once. Every sample needs a timestamp. Where promtool would drop samples
//! silently (an out-of-order sample inside one append batch, negative timestamps before
//! its truncated window start), this is an error or handled correctly instead.

use std::collections::HashMap;
use std::path::Path;

use super::{BlockBuilder, BlockMeta};
use crate::chunkenc::ByteCompat;
use crate::labels::Labels;
use crate::textparse::{Entry, OpenMetricsParser};
use crate::{Error, Result};

/// Prometheus' default block duration: 2h in milliseconds.
pub const DEFAULT_BLOCK_DURATION: i64 = 2 * 3_600_000;

/// Options for [`create_blocks_from_openmetrics`].
#[derive(Debug, Clone, Copy)]
pub struct BackfillOptions {
    /// The largest block duration wanted, in milliseconds (promtool's
    /// `--max-block-duration`).
    pub max_block_duration: i64,
    /// Which Prometheus generation's chunk bytes to write.
    pub byte_compat: ByteCompat,
}

impl Default for BackfillOptions {
    fn default() -> Self {
        BackfillOptions {
            max_block_duration: DEFAULT_BLOCK_DURATION,
            byte_compat: ByteCompat::default(),
        }
    }
}

/// The block duration promtool uses for a requested maximum.
pub fn compatible_block_duration(max_block_duration: i64) -> i64 {
    if max_block_duration <= DEFAULT_BLOCK_DURATION {
        return DEFAULT_BLOCK_DURATION;
    }
    // tsdb.ExponentialBlockRanges(2h, 10, 3): 2h, 6h, 18h, ...
    let ranges: Vec<i64> = (0..10)
        .scan(DEFAULT_BLOCK_DURATION, |r, _| {
            let v = *r;
            *r = r.saturating_mul(3);
            Some(v)
        })
        .collect();
    let idx = ranges
        .iter()
        .position(|&v| v > max_block_duration)
        .map_or(ranges.len() - 1, |i| i.saturating_sub(1));
    ranges[idx]
}

/// Parses `input` (OpenMetrics text) and writes its samples as blocks into `out_dir`,
/// oldest first. Returns the metas of the blocks written.
pub fn create_blocks_from_openmetrics(
    input: &[u8],
    out_dir: &Path,
    opts: BackfillOptions,
) -> Result<Vec<BlockMeta>> {
    let parse_err = |e: crate::textparse::ParseError| Error::InvalidArgument(format!("parse: {e}"));
    // First pass: the time range, and that every sample has a timestamp.
    let mut p = OpenMetricsParser::from_bytes(input).map_err(parse_err)?;
    let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
    while let Some(e) = p.next().map_err(parse_err)? {
        if let Entry::Series(s) = e {
            let Some(t) = s.timestamp else {
                return Err(Error::InvalidArgument(format!(
                    "expected timestamp for series {}, got none",
                    s.series
                )));
            };
            mint = mint.min(t);
            maxt = maxt.max(t);
        }
    }
    if mint > maxt {
        return Ok(Vec::new());
    }
    let duration = compatible_block_duration(opts.max_block_duration);
    let start = mint.div_euclid(duration) * duration;
    let windows = usize::try_from((maxt - start) / duration + 1)
        .map_err(|_| Error::InvalidArgument("time range too large".into()))?;
    let mut builders: Vec<Option<BlockBuilder>> = (0..windows).map(|_| None).collect();
    // Per raw series text: its labels and its id in each window's builder.
    let mut series: HashMap<&str, (Labels, HashMap<usize, usize>)> = HashMap::new();

    let mut p = OpenMetricsParser::from_bytes(input).map_err(parse_err)?;
    while let Some(e) = p.next().map_err(parse_err)? {
        let Entry::Series(s) = e else { continue };
        let t = s.timestamp.unwrap_or(mint);
        let w = ((t - start) / duration) as usize;
        let entry = match series.get_mut(s.series) {
            Some(e) => e,
            None => {
                let labels = s
                    .labels()
                    .map_err(|e| Error::InvalidArgument(format!("series {}: {e}", s.series)))?;
                series.entry(s.series).or_insert((labels, HashMap::new()))
            }
        };
        let b = builders[w].get_or_insert_with(|| {
            BlockBuilder::new(2 * duration).with_byte_compat(opts.byte_compat)
        });
        let id = *entry.1.entry(w).or_insert_with(|| b.series_id(&entry.0));
        b.append(id, t, s.value)
            .map_err(|e| Error::InvalidArgument(format!("add sample: {e}")))?;
    }
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io("create dir", out_dir, e))?;
    let mut metas = Vec::new();
    for b in builders.into_iter().flatten() {
        if let Some(m) = b.write(out_dir)? {
            metas.push(m);
        }
    }
    Ok(metas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_durations_follow_promtool() {
        let h = 3_600_000;
        assert_eq!(compatible_block_duration(0), 2 * h);
        assert_eq!(compatible_block_duration(2 * h), 2 * h);
        assert_eq!(compatible_block_duration(5 * h), 2 * h);
        assert_eq!(compatible_block_duration(6 * h), 6 * h);
        assert_eq!(compatible_block_duration(24 * h), 18 * h);
        assert_eq!(compatible_block_duration(i64::MAX), 2 * h * 3i64.pow(9));
    }

    #[test]
    fn samples_split_into_aligned_windows() {
        let dir = tempfile::tempdir().unwrap();
        let input = b"a 1 7199\na 2 7200\na 3 14400.5\n# EOF\n";
        let metas =
            create_blocks_from_openmetrics(input, dir.path(), BackfillOptions::default()).unwrap();
        let ranges: Vec<_> = metas.iter().map(|m| (m.min_time, m.max_time)).collect();
        assert_eq!(
            ranges,
            vec![
                (7_199_000, 7_199_001),
                (7_200_000, 7_200_001),
                (14_400_500, 14_400_501)
            ]
        );
    }

    #[test]
    fn negative_timestamps_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let metas = create_blocks_from_openmetrics(
            b"a 1 -1\na 2 1\n# EOF\n",
            dir.path(),
            BackfillOptions::default(),
        )
        .unwrap();
        let samples: u64 = metas.iter().map(|m| m.stats.num_samples).sum();
        assert_eq!(samples, 2);
        assert_eq!(metas.len(), 2);
    }

    #[test]
    fn missing_timestamps_and_bad_input_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            create_blocks_from_openmetrics(b"a 1\n# EOF\n", dir.path(), BackfillOptions::default())
                .unwrap_err();
        assert!(err.to_string().contains("expected timestamp"), "{err}");
        let err = create_blocks_from_openmetrics(
            b"a 1 1\na 2 0\n# EOF\n",
            dir.path(),
            BackfillOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("out of order"), "{err}");
        let err =
            create_blocks_from_openmetrics(b"a 1 1\n", dir.path(), BackfillOptions::default())
                .unwrap_err();
        assert!(err.to_string().contains("# EOF"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
