//! Which blocks of a tenant's bucket index a query reads, and which of them it must
//! have read before it may answer: Cortex's bucket-index blocks finder and its blocks
//! consistency checker.
//!
//! Times in the index are Unix seconds (`uploaded_at`, `deletion_time`); ages are
//! compared with the configured durations to the millisecond.

use std::time::Duration;

use cortex_tsdb::ulid::Ulid;

use super::BlocksStoreConfig;
use crate::storage::BucketIndex;

/// A block a query reads, as the bucket index lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownBlock {
    /// The block.
    pub id: Ulid,
    /// Earliest sample (inclusive), Unix milliseconds.
    pub min_time: i64,
    /// Latest sample (exclusive), Unix milliseconds.
    pub max_time: i64,
    /// When its upload completed, Unix seconds.
    pub uploaded_at: i64,
    /// When it was marked for deletion, Unix seconds, if it was.
    pub deletion_time: Option<i64>,
}

/// Milliseconds from `since` to `now_secs` (both Unix seconds); negative for a time
/// in the future.
fn age_ms(since: i64, now_secs: i64) -> i128 {
    (i128::from(now_secs) - i128::from(since)) * 1000
}

/// True when `since` (Unix seconds) lies more than `d` before `now_secs`.
fn older_than(since: i64, now_secs: i64, d: Duration) -> bool {
    age_ms(since, now_secs) > d.as_millis() as i128
}

/// The blocks of `idx` overlapping `[mint, maxt]` (ms, inclusive), without those
/// marked for deletion more than `ignore_deletion_marks_delay` ago (store-gateways no
/// longer load them), sorted by min time then ULID.
pub fn blocks_to_query(
    idx: &BucketIndex,
    mint: i64,
    maxt: i64,
    cfg: &BlocksStoreConfig,
    now_secs: i64,
) -> Vec<KnownBlock> {
    let mut out: Vec<KnownBlock> = idx
        .blocks
        .iter()
        .filter(|b| b.min_time <= maxt && mint < b.max_time)
        .map(|b| KnownBlock {
            id: b.block_id,
            min_time: b.min_time,
            max_time: b.max_time,
            uploaded_at: b.uploaded_at,
            deletion_time: idx
                .block_deletion_marks
                .iter()
                .find(|m| m.block_id == b.block_id)
                .map(|m| m.deletion_time),
        })
        .filter(|b| {
            b.deletion_time
                .is_none_or(|t| !older_than(t, now_secs, cfg.ignore_deletion_marks_delay))
        })
        .collect();
    out.sort_by_key(|b| (b.min_time, b.id));
    out.dedup_by_key(|b| b.id);
    out
}

/// True when a query fails if `block` was not queried (Cortex's consistency check).
/// Two kinds of block are exempt:
///
/// - uploaded less than `upload_grace_period` ago: store-gateways may not have
///   discovered it yet, and its data is still readable elsewhere (from the blocks it
///   was compacted from, or from the ingesters that shipped it);
/// - marked for deletion more than `ignore_deletion_marks_delay / 2` ago: a
///   store-gateway may already have dropped it, while the data lives on in the block
///   that replaced it. Blocks marked more recently must still be served.
pub fn must_be_queried(block: &KnownBlock, cfg: &BlocksStoreConfig, now_secs: i64) -> bool {
    let grace = cfg.upload_grace_period;
    if !grace.is_zero() && age_ms(block.uploaded_at, now_secs) < grace.as_millis() as i128 {
        return false;
    }
    match block.deletion_time {
        Some(t) => !older_than(t, now_secs, cfg.deletion_grace_period()),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::bucketindex::{IndexBlock, IndexDeletionMark};

    const NOW: i64 = 1_700_000_000;

    fn block(id: u128, min: i64, max: i64, uploaded_at: i64) -> IndexBlock {
        IndexBlock {
            block_id: Ulid(id),
            min_time: min,
            max_time: max,
            segments_format: String::new(),
            segments_num: 0,
            series_max_size: 0,
            chunk_max_size: 0,
            uploaded_at,
        }
    }

    fn cfg() -> BlocksStoreConfig {
        BlocksStoreConfig {
            upload_grace_period: Duration::from_secs(600),
            ignore_deletion_marks_delay: Duration::from_secs(3600),
        }
    }

    #[test]
    fn overlap_is_inclusive_of_min_time_and_exclusive_of_max_time() {
        let mut idx = BucketIndex::empty(NOW);
        idx.blocks = vec![
            block(3, 200, 300, 0),
            block(1, 0, 100, 0),
            block(2, 100, 200, 0),
        ];
        let ids = |mint, maxt| -> Vec<u128> {
            blocks_to_query(&idx, mint, maxt, &cfg(), NOW)
                .iter()
                .map(|b| b.id.0)
                .collect()
        };
        assert_eq!(ids(0, 1000), [1, 2, 3], "sorted by min time");
        assert_eq!(ids(100, 100), [2], "max_time is exclusive");
        assert_eq!(ids(99, 100), [1, 2]);
        assert_eq!(ids(300, 400), Vec::<u128>::new());
    }

    #[test]
    fn blocks_marked_longer_ago_than_the_delay_are_not_queried() {
        let mut idx = BucketIndex::empty(NOW);
        idx.blocks = vec![
            block(1, 0, 100, 0),
            block(2, 0, 100, 0),
            block(3, 0, 100, 0),
        ];
        idx.block_deletion_marks = vec![
            IndexDeletionMark {
                block_id: Ulid(1),
                deletion_time: NOW - 3601,
            },
            IndexDeletionMark {
                block_id: Ulid(2),
                deletion_time: NOW - 3600,
            },
        ];
        let got = blocks_to_query(&idx, 0, 100, &cfg(), NOW);
        let ids: Vec<u128> = got.iter().map(|b| b.id.0).collect();
        assert_eq!(ids, [2, 3]);
        assert_eq!(got[0].deletion_time, Some(NOW - 3600));
        assert_eq!(got[1].deletion_time, None);
    }

    #[test]
    fn the_check_skips_recent_uploads_and_old_deletion_marks() {
        let c = cfg();
        let b = |uploaded_at, deletion_time| KnownBlock {
            id: Ulid(1),
            min_time: 0,
            max_time: 1,
            uploaded_at,
            deletion_time,
        };
        assert!(must_be_queried(&b(NOW - 600, None), &c, NOW));
        assert!(!must_be_queried(&b(NOW - 599, None), &c, NOW));
        assert!(
            !must_be_queried(&b(NOW + 10, None), &c, NOW),
            "future upload"
        );
        // Deletion grace period: half of the ignore delay (1800s).
        assert!(must_be_queried(&b(0, Some(NOW - 1800)), &c, NOW));
        assert!(!must_be_queried(&b(0, Some(NOW - 1801)), &c, NOW));
        let no_grace = BlocksStoreConfig {
            upload_grace_period: Duration::ZERO,
            ..c
        };
        assert!(must_be_queried(&b(NOW, None), &no_grace, NOW));
    }
}
