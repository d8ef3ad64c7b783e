//! A local TSDB: a directory of blocks plus a head, opened and maintained like a
//! Prometheus data directory.
//!
//! [`Db::open`] removes leftovers of interrupted writes, opens the blocks, and replays the
//! head (head chunk files, then the WAL). Appends go to the head. [`Db::compact`] cuts the
//! head's oldest chunk range into a block once the head spans 1.5 ranges, merges blocks
//! into larger ones (overlapping blocks and complete windows of the next range), and
//! deletes blocks beyond the retention time; it can run on a background thread.
//! [`Db::querier`] reads blocks and head merged, as of one moment. [`Db::delete`] records
//! tombstones; compaction removes the deleted samples for good. Exemplars are kept in
//! the head only ([`Db::exemplars`]).

mod compact;
mod exemplars;
mod force;
mod querier;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

pub use compact::CompactStats;
pub use querier::DbQuerier;

use crate::block::{Block, TMP_SUFFIX};
use crate::head::{Head, HeadAppender, HeadOptions, ReplayStats};
use crate::labels::Matcher;
use crate::tombstones::{Interval, Tombstones};
use crate::{Error, Result};

/// How a [`Db`] behaves.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Head behaviour; its chunk range is the smallest block duration.
    pub head: HeadOptions,
    /// Delete blocks whose data is older than this (ms, relative to the newest block);
    /// `None` keeps everything.
    pub retention: Option<i64>,
    /// The largest block a compaction may produce (ms).
    pub max_block_duration: i64,
    /// Open without writing anything (for inspection tools).
    pub read_only: bool,
    /// Run [`Db::compact`] on a background thread this often.
    pub compaction_interval: Option<Duration>,
    /// Exemplars kept in the head's circular buffer; 0 (the default, as in Cortex)
    /// disables exemplar storage. Overrides `head.max_exemplars`; changed at runtime with
    /// [`Db::set_max_exemplars`].
    pub max_exemplars: usize,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            head: HeadOptions::default(),
            retention: Some(15 * 24 * 3_600_000),
            max_block_duration: 31 * 24 * 3_600_000,
            read_only: false,
            compaction_interval: None,
            max_exemplars: 0,
        }
    }
}

impl DbOptions {
    /// The block durations compaction builds, smallest first: the chunk range times 1, 3,
    /// 9, ... up to the maximum block duration (Prometheus' exponential ranges).
    pub fn block_ranges(&self) -> Vec<i64> {
        let mut out = vec![self.head.chunk_range];
        let mut r = self.head.chunk_range;
        for _ in 0..9 {
            r = r.saturating_mul(3);
            if r > self.max_block_duration {
                break;
            }
            out.push(r);
        }
        out
    }
}

/// A TSDB in a directory.
pub struct Db {
    dir: PathBuf,
    opts: DbOptions,
    head: Head,
    blocks: RwLock<Vec<Arc<Block>>>,
    /// Serializes compactions, deletions and other changes to the block list.
    maintenance: Mutex<()>,
    _lock: Option<File>,
    replay: ReplayStats,
    background: Mutex<Option<(Arc<AtomicBool>, JoinHandle<()>)>>,
}

impl Db {
    /// Opens (creating it unless read-only) the TSDB in `dir`.
    pub fn open(dir: &Path, mut opts: DbOptions) -> Result<Arc<Db>> {
        opts.head.read_only = opts.read_only;
        opts.head.max_exemplars = opts.max_exemplars;
        let lock = if opts.read_only {
            None
        } else {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create dir", dir, e))?;
            let path = dir.join("lock");
            let f = File::create(&path).map_err(|e| Error::io("create", &path, e))?;
            f.try_lock().map_err(|e| {
                Error::InvalidArgument(format!(
                    "{} is locked by another process ({e:?}); only one may open a TSDB directory",
                    dir.display()
                ))
            })?;
            remove_leftovers(dir)?;
            Some(f)
        };
        let mut blocks = crate::block::open_blocks(dir)?;
        if !opts.read_only {
            blocks = drop_compacted_parents(blocks)?;
        }
        let min_valid = blocks
            .iter()
            .map(|b| b.meta().max_time)
            .max()
            .unwrap_or(i64::MIN);
        let (head, replay) = Head::open(dir, opts.head.clone(), min_valid)?;
        let db = Arc::new(Db {
            dir: dir.to_path_buf(),
            opts,
            head,
            blocks: RwLock::new(blocks),
            maintenance: Mutex::new(()),
            _lock: lock,
            replay,
            background: Mutex::new(None),
        });
        if let Some(every) = db.opts.compaction_interval
            && !db.opts.read_only
        {
            db.start_background(every);
        }
        Ok(db)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the TSDB was opened with.
    pub fn options(&self) -> &DbOptions {
        &self.opts
    }

    /// What replaying the head found when the TSDB was opened.
    pub fn replay_stats(&self) -> &ReplayStats {
        &self.replay
    }

    /// The head.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The blocks, oldest first.
    pub fn blocks(&self) -> Vec<Arc<Block>> {
        self.blocks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// An appender into the head.
    pub fn appender(&self) -> HeadAppender<'_> {
        self.head.appender()
    }

    /// A querier over `[mint, maxt]` of blocks and head, as of now.
    pub fn querier(&self, mint: i64, maxt: i64) -> DbQuerier<'_> {
        DbQuerier::new(self.blocks(), self.head.querier(mint, maxt), mint, maxt)
    }

    /// Deletes the samples in `[mint, maxt]` of the series matching `matchers`, in the
    /// head (logged in the WAL) and in every block (new tombstones files). Returns how
    /// many series had something deleted.
    pub fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<usize> {
        if self.opts.read_only {
            return Err(Error::InvalidArgument("the TSDB is open read-only".into()));
        }
        let _m = self.maintenance.lock().unwrap_or_else(|e| e.into_inner());
        let mut affected = self.head.delete(mint, maxt, matchers)?;
        let mut blocks = self.blocks();
        for b in blocks.iter_mut() {
            if !b.overlaps(mint, maxt) {
                continue;
            }
            let mut stones: Tombstones = b.tombstones().clone();
            let mut n = 0;
            {
                let mut p = b.index().postings_for_matchers(matchers)?;
                while let Some(r) = crate::index::postings::Postings::next(&mut p) {
                    stones.add(r, Interval { mint, maxt });
                    n += 1;
                }
            }
            if n == 0 {
                continue;
            }
            affected += n;
            stones.write(b.dir())?;
            let mut meta = b.meta().clone();
            meta.stats.num_tombstones = stones.num_intervals();
            meta.write(b.dir())?;
            *b = Arc::new(Block::open(b.dir())?);
        }
        *self.blocks.write().unwrap_or_else(|e| e.into_inner()) = blocks;
        Ok(affected)
    }

    /// Stops background compaction and makes the WAL and head chunk files durable. The
    /// TSDB stays usable; dropping the last reference releases the directory lock.
    pub fn close(&self) -> Result<()> {
        self.stop_background();
        self.head.flush()
    }

    fn start_background(self: &Arc<Self>, every: Duration) {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = Arc::downgrade(self);
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("tsdb-compaction".into())
            .spawn(move || {
                let tick = Duration::from_millis(100).min(every);
                let mut waited = Duration::ZERO;
                while !flag.load(Ordering::Acquire) {
                    std::thread::sleep(tick);
                    waited += tick;
                    if waited < every {
                        continue;
                    }
                    waited = Duration::ZERO;
                    let Some(db) = weak.upgrade() else { break };
                    // Errors are retried on the next tick; callers see them via
                    // `compact` when they call it themselves.
                    let _ = db.compact();
                }
            });
        if let Ok(h) = handle {
            *self.background.lock().unwrap_or_else(|e| e.into_inner()) = Some((stop, h));
        }
    }

    fn stop_background(&self) {
        if let Some((stop, h)) = self
            .background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            stop.store(true, Ordering::Release);
            let _ = h.join();
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.stop_background();
    }
}

/// Removes what interrupted writes leave: temporary block directories and files.
fn remove_leftovers(dir: &Path) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io("read dir", dir, e))?;
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(TMP_SUFFIX) || name.ends_with(".tmp-for-deletion") {
            let p = e.path();
            std::fs::remove_dir_all(&p).map_err(|err| Error::io("remove", &p, err))?;
        }
    }
    Ok(())
}

/// Deletes blocks that a newer block lists as compacted parents (a compaction finished,
/// but the process stopped before deleting its inputs).
fn drop_compacted_parents(blocks: Vec<Arc<Block>>) -> Result<Vec<Arc<Block>>> {
    let parents: std::collections::HashSet<_> = blocks
        .iter()
        .flat_map(|b| b.meta().compaction.parents.iter().map(|p| p.ulid))
        .collect();
    let mut keep = Vec::with_capacity(blocks.len());
    for b in blocks {
        if parents.contains(&b.meta().ulid) || b.meta().compaction.deletable {
            delete_block_dir(b.dir())?;
        } else {
            keep.push(b);
        }
    }
    Ok(keep)
}

/// Deletes a block directory, renaming it first so a crash never leaves a half-deleted
/// block that looks like a block.
fn delete_block_dir(dir: &Path) -> Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp-for-deletion", dir.display()));
    std::fs::rename(dir, &tmp).map_err(|e| Error::io("rename", dir, e))?;
    std::fs::remove_dir_all(&tmp).map_err(|e| Error::io("remove", &tmp, e))
}
