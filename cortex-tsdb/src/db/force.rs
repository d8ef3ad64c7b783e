//! Maintenance a caller decides on, beyond what [`Db::compact`] does when due: cutting
//! the whole head into blocks now (for a flush or an idle head), and deleting chosen
//! blocks (for a retention rule the caller owns, such as "delete once uploaded").

use super::{Db, delete_block_dir};
use crate::block::BlockMeta;
use crate::ulid::Ulid;
use crate::{Error, Result};

impl Db {
    /// Cuts everything in the head into blocks now, one block per aligned chunk range
    /// (the last one ends just after the head's newest sample), however little the head
    /// spans. Afterwards the head is empty and appends older than its newest sample are
    /// out of bounds. Returns the metas of the blocks written, oldest first.
    pub fn compact_head_all(&self) -> Result<Vec<BlockMeta>> {
        if self.opts.read_only {
            return Err(Error::InvalidArgument("the TSDB is open read-only".into()));
        }
        let _m = self.maintenance.lock().unwrap_or_else(|e| e.into_inner());
        let range = self.opts.head.chunk_range.max(1);
        let mut written = Vec::new();
        loop {
            let (mint, max) = (self.head.min_time(), self.head.max_time());
            if max == i64::MIN || mint > max {
                break;
            }
            let range_end = mint
                .div_euclid(range)
                .saturating_mul(range)
                .saturating_add(range);
            let maxt = range_end.min(max.saturating_add(1));
            if let Some(meta) = self.compact_head(mint, maxt)? {
                written.push(meta);
            }
            // The head's minimum moves past `maxt` unless something is left before it
            // (which truncation never keeps): stop rather than loop.
            if self.head.min_time() < maxt && self.head.max_time() != i64::MIN {
                break;
            }
        }
        Ok(written)
    }

    /// Deletes the blocks with the given identifiers (others in the list are ignored);
    /// returns how many were deleted.
    pub fn delete_blocks(&self, ulids: &[Ulid]) -> Result<u32> {
        if self.opts.read_only {
            return Err(Error::InvalidArgument("the TSDB is open read-only".into()));
        }
        let _m = self.maintenance.lock().unwrap_or_else(|e| e.into_inner());
        let (gone, keep): (Vec<_>, Vec<_>) = self
            .blocks()
            .into_iter()
            .partition(|b| ulids.contains(&b.meta().ulid));
        if gone.is_empty() {
            return Ok(0);
        }
        *self.blocks.write().unwrap_or_else(|e| e.into_inner()) = keep;
        for b in &gone {
            delete_block_dir(b.dir())?;
        }
        Ok(gone.len() as u32)
    }
}

#[cfg(test)]
mod tests {
    use crate::db::{Db, DbOptions};
    use crate::labels::Labels;

    #[test]
    fn compact_head_all_cuts_aligned_blocks_and_empties_the_head() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        let l = Labels::from_pairs([("__name__", "m")]).unwrap();
        let range = db.options().head.chunk_range;
        let mut app = db.appender();
        for t in [range - 10, range + 5, range + 100] {
            app.append(&l, t, t as f64).unwrap();
        }
        app.commit().unwrap();
        let metas = db.compact_head_all().unwrap();
        assert_eq!(metas.len(), 2);
        assert_eq!((metas[0].min_time, metas[0].max_time), (range - 10, range));
        assert_eq!(
            (metas[1].min_time, metas[1].max_time),
            (range + 5, range + 101)
        );
        assert_eq!(db.head().num_series(), 0);
        assert_eq!(db.head().max_time(), i64::MIN);
        assert!(db.appender().append(&l, range + 50, 1.0).is_err());
        let q = db.querier(i64::MIN, i64::MAX);
        let series = q.select(&[]).unwrap();
        assert_eq!(series.len(), 1);
        // Nothing to cut: no blocks.
        assert!(db.compact_head_all().unwrap().is_empty());

        let first = metas[0].ulid;
        assert_eq!(db.delete_blocks(&[first]).unwrap(), 1);
        assert_eq!(db.blocks().len(), 1);
        assert!(!dir.path().join(first.to_string()).exists());
        assert_eq!(db.delete_blocks(&[first]).unwrap(), 0);
    }
}
