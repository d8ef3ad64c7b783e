//! When an appender starts a new chunk: Prometheus' head rule, so the chunks we cut from
//! the same samples are the chunks Prometheus cuts.
//!
//! A series' chunk is closed when the next sample crosses the chunk range boundary (the
//! end of the aligned window its first sample fell in), or when it already holds 240
//! samples. Once a chunk has 30 samples, the boundary is pulled in so the remaining range
//! splits into chunks of about 120 samples at the observed sample rate.

/// Prometheus' target number of samples per XOR chunk.
pub const SAMPLES_PER_CHUNK: u32 = 120;

/// Tracks one series' open chunk and decides when to cut the next.
#[derive(Debug, Clone)]
pub struct ChunkCutter {
    chunk_range: i64,
    next_at: i64,
    min_time: i64,
    max_time: i64,
    num_samples: u32,
}

impl ChunkCutter {
    /// A cutter for chunks that never span a boundary of `chunk_range` milliseconds.
    pub fn new(chunk_range: i64) -> ChunkCutter {
        ChunkCutter {
            chunk_range: chunk_range.max(1),
            next_at: i64::MIN,
            min_time: i64::MIN,
            max_time: i64::MIN,
            num_samples: 0,
        }
    }

    /// Records a sample at `t` (later than every earlier one) and returns true when it
    /// must go into a new chunk.
    pub fn observe(&mut self, t: i64) -> bool {
        let mut cut = self.num_samples == 0;
        if !cut {
            if self.num_samples == SAMPLES_PER_CHUNK / 4 {
                self.next_at = compute_chunk_end(self.min_time, self.max_time, self.next_at);
            }
            cut = t >= self.next_at || self.num_samples >= SAMPLES_PER_CHUNK * 2;
        }
        if cut {
            self.num_samples = 0;
            self.min_time = t;
            self.next_at = range_end(t, self.chunk_range);
        }
        self.num_samples += 1;
        self.max_time = t;
        cut
    }
}

/// End of the aligned window of width `width` that holds `t`.
pub(crate) fn range_end(t: i64, width: i64) -> i64 {
    t.div_euclid(width)
        .saturating_mul(width)
        .saturating_add(width)
}

/// Where to end a chunk that started at `start`, has reached `cur` after a quarter of its
/// target samples, and must end by `max`.
pub(crate) fn compute_chunk_end(start: i64, cur: i64, max: i64) -> i64 {
    let denom = (cur - start + 1).saturating_mul(4);
    let n = (max - start) / denom.max(1);
    if n <= 1 {
        max
    } else {
        start + (max - start) / n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk_sizes(times: impl Iterator<Item = i64>, range: i64) -> Vec<usize> {
        let mut c = ChunkCutter::new(range);
        let mut sizes: Vec<usize> = Vec::new();
        for t in times {
            if c.observe(t) {
                sizes.push(0);
            }
            *sizes.last_mut().unwrap() += 1;
        }
        sizes
    }

    #[test]
    fn matches_the_fixture_blocks_chunking() {
        // 15s samples from 1700000000000 up to the 2h boundary, chunk range 4h (promtool's
        // block writer uses twice the block duration): 427 samples in 3 chunks, as the
        // first openmetrics fixture block has (69 chunks / 23 series).
        let times = (0..427).map(|i| 1_700_000_000_000 + i * 15_000);
        let sizes = chunk_sizes(times, 4 * 3_600_000);
        assert_eq!(sizes.len(), 3);
        assert_eq!(sizes.iter().sum::<usize>(), 427);
    }

    #[test]
    fn dense_series_are_capped_at_240_samples() {
        let sizes = chunk_sizes(0..1000, 1_000_000_000);
        assert!(sizes.iter().all(|s| *s <= 240), "{sizes:?}");
    }

    #[test]
    fn chunks_never_cross_the_range_boundary() {
        let mut c = ChunkCutter::new(1000);
        assert!(c.observe(990));
        assert!(!c.observe(999));
        assert!(c.observe(1000));
    }
}
