//! [`BucketBlock`]: one block in the bucket (`<tenant>/<ULID>/`), served without
//! downloading it.
//!
//! Opening reads `meta.json` and makes sure the block's index-header exists under
//! `<sync_dir>/<tenant>/<ULID>/index-header` (building it from the bucket's `index`
//! object on first use, see `range_reader.rs`), then memory-maps it. Queries then fetch
//! by byte range only what they need:
//!
//! 1. postings lists of the matchers' label values (ranges from the index-header),
//! 2. the selected series entries (16-byte aligned in index v2, so a series reference
//!    is its offset divided by 16; each is fetched as a window bounded by the next
//!    selected series and refetched when it is longer),
//! 3. the chunks of those series overlapping the time range, from `chunks/NNNNNN`
//!    (each window bounded by the next wanted chunk of the segment).
//!
//! Every list, entry and chunk is checksum-verified. Tombstones are not read: blocks in
//! the bucket carry none (deletions are applied by the compactor).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use cortex_tsdb::block::BlockMeta;
use cortex_tsdb::chunkenc::Encoding;
use cortex_tsdb::chunks::ChunkRef;
use cortex_tsdb::index::SERIES_ALIGNMENT;
use cortex_tsdb::index::postings::SeriesRef;
use cortex_tsdb::index_header::{
    FILE_NAME, FetchedSeries, IndexHeaderReader, decode_chunk, decode_series,
};
use cortex_tsdb::labels::{Labels, Matcher};
use cortex_tsdb::ulid::Ulid;

use super::cache::{RangeCache, RangeKind};
use super::error::GatewayError;
use super::fetch::{Counters, FetchStats, Fetcher};
use super::postings::PostingsPlan;
use super::range_reader::build_in_background;
use crate::storage::BlockStore;
use crate::storage::layout::{INDEX_FILENAME, block_file, chunk_segment_path, meta_path};

/// How a bucket block fetches. The gap and the chunk window are Thanos' defaults; the
/// series window is smaller than Thanos' 64 KiB because an item longer than its window
/// costs only one more request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketBlockConfig {
    /// Ranges of one object closer than this many bytes are fetched in one request.
    pub max_gap: u64,
    /// Bytes first fetched for a series entry whose length is not known yet.
    pub series_window: u64,
    /// Bytes first fetched for a chunk whose length is not known yet.
    pub chunk_window: u64,
}

impl Default for BucketBlockConfig {
    fn default() -> BucketBlockConfig {
        BucketBlockConfig {
            max_gap: 512 * 1024,
            series_window: 4 * 1024,
            chunk_window: 16_000,
        }
    }
}

/// One chunk of a series, as fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketChunk {
    /// First sample's timestamp, from the index.
    pub min_time: i64,
    /// Last sample's timestamp, from the index.
    pub max_time: i64,
    /// How `data` is encoded.
    pub encoding: Encoding,
    /// The encoded samples (checksum verified).
    pub data: Bytes,
}

/// A selected series: its labels and its chunks overlapping the queried range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Its chunks overlapping the range, in time order.
    pub chunks: Vec<BucketChunk>,
}

/// One block of the bucket, read by range (see the module documentation).
pub struct BucketBlock {
    meta: BlockMeta,
    tenant: String,
    /// `<tenant>/<ULID>`, for errors.
    name: String,
    index_object: Arc<str>,
    header: IndexHeaderReader,
    fetcher: Fetcher,
    counters: Arc<Counters>,
    /// Offset just past the series section of the index.
    series_end: u64,
    cfg: BucketBlockConfig,
}

impl std::fmt::Debug for BucketBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketBlock")
            .field("block", &self.name)
            .field("header", &self.header.path())
            .finish()
    }
}

/// Where a block's index-header lives locally.
pub fn index_header_path(sync_dir: &Path, tenant: &str, ulid: Ulid) -> PathBuf {
    sync_dir.join(tenant).join(ulid.to_string()).join(FILE_NAME)
}

impl BucketBlock {
    /// Opens block `ulid` of `tenant` in `store`: reads its `meta.json` and builds its
    /// index-header under `sync_dir` unless it is already there. Items are looked up in
    /// `cache` before the bucket.
    pub async fn open(
        store: Arc<dyn BlockStore>,
        tenant: &str,
        ulid: Ulid,
        sync_dir: &Path,
        cfg: &BucketBlockConfig,
        cache: Arc<dyn RangeCache>,
    ) -> Result<BucketBlock, GatewayError> {
        let name = format!("{tenant}/{ulid}");
        let bucket_err = |source| GatewayError::Bucket {
            block: name.clone(),
            source: Box::new(source),
        };
        let meta_object = meta_path(tenant, ulid);
        let raw = store.get(&meta_object).await.map_err(bucket_err)?;
        let meta = BlockMeta::from_json(&raw, Path::new(&meta_object)).map_err(|e| {
            GatewayError::Meta {
                block: name.clone(),
                reason: e.to_string(),
            }
        })?;
        if meta.ulid != ulid {
            return Err(GatewayError::Meta {
                block: name,
                reason: format!("names block {} instead", meta.ulid),
            });
        }
        let counters = Arc::new(Counters::default());
        let index_object: Arc<str> = block_file(tenant, ulid, INDEX_FILENAME).into();
        let path = index_header_path(sync_dir, tenant, ulid);
        let header = open_or_build(&store, &index_object, &path, &counters, &name).await?;
        let toc = header.index_toc();
        // The series section ends where the next non-empty section starts.
        let series_end = [toc.label_indices, toc.postings, toc.label_indices_table]
            .into_iter()
            .filter(|&o| o > toc.series)
            .min()
            .unwrap_or(toc.series);
        Ok(BucketBlock {
            meta,
            tenant: tenant.to_string(),
            fetcher: Fetcher {
                store,
                cache,
                max_gap: cfg.max_gap,
                counters: counters.clone(),
                block: name.clone(),
            },
            name,
            index_object,
            header,
            counters,
            series_end,
            cfg: cfg.clone(),
        })
    }

    /// The block's `meta.json`.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// The block's ULID.
    pub fn ulid(&self) -> Ulid {
        self.meta.ulid
    }

    /// Requests and bytes fetched from the bucket since the block was opened.
    pub fn stats(&self) -> FetchStats {
        self.counters.snapshot()
    }

    /// The local index-header file.
    pub fn index_header_path(&self) -> &Path {
        self.header.path()
    }

    /// Size of the index-header file, which is memory-mapped while the block is open.
    pub fn index_header_size(&self) -> u64 {
        self.header.size()
    }

    /// Heap bytes the index-header reader keeps besides the mapped file (its symbol
    /// and postings-offset tables).
    pub fn index_header_memory(&self) -> usize {
        self.header.memory()
    }

    fn corrupt(&self, object: &str, section: &str, offset: u64, detail: String) -> GatewayError {
        GatewayError::Corrupted {
            block: self.name.clone(),
            object: object.to_string(),
            section: section.to_string(),
            offset,
            detail,
        }
    }

    fn tsdb_err(&self, e: cortex_tsdb::Error) -> GatewayError {
        GatewayError::from_tsdb(&self.name, self.header.path(), e)
    }

    /// The references of the series matching all `matchers` (every series when empty),
    /// in order.
    async fn select_refs(&self, matchers: &[Matcher]) -> Result<Vec<SeriesRef>, GatewayError> {
        let plan = PostingsPlan::new(&self.header, matchers).map_err(|e| self.tsdb_err(e))?;
        if plan.empty {
            return Ok(Vec::new());
        }
        let ranges: Vec<Range<u64>> = plan.ranges().iter().map(|r| r.start..r.end).collect();
        let bytes = self
            .fetcher
            .exact(RangeKind::Postings, &self.index_object, &ranges)
            .await?;
        let lists: HashMap<u64, Bytes> = ranges.iter().map(|r| r.start).zip(bytes).collect();
        plan.resolve(Path::new(&*self.index_object), &lists)
            .map_err(|e| self.tsdb_err(e))
    }

    /// The entries of series `refs` (sorted), fetched and decoded.
    async fn fetch_series(&self, refs: &[SeriesRef]) -> Result<Vec<FetchedSeries>, GatewayError> {
        let toc_series = self.header.index_toc().series;
        let mut starts = Vec::with_capacity(refs.len());
        for &r in refs {
            let off = r
                .checked_mul(SERIES_ALIGNMENT)
                .filter(|&o| o >= toc_series && o < self.series_end)
                .ok_or_else(|| {
                    self.corrupt(
                        &self.index_object,
                        "postings",
                        0,
                        format!(
                            "series reference {r} is outside the series section {toc_series}..{}",
                            self.series_end
                        ),
                    )
                })?;
            starts.push(off);
        }
        let windows: Vec<Range<u64>> = starts
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let next = starts.get(i + 1).copied().unwrap_or(self.series_end);
                s..(s + self.cfg.series_window.max(1)).min(next).max(s + 1)
            })
            .collect();
        let bytes = self
            .fetcher
            .framed(RangeKind::Series, &self.index_object, &windows)
            .await?;
        let name = Path::new(&*self.index_object);
        starts
            .iter()
            .zip(bytes)
            .map(|(&off, b)| decode_series(name, off, &b).map_err(|e| self.tsdb_err(e)))
            .collect()
    }

    /// The labels of a fetched series.
    fn labels_of(&self, s: &FetchedSeries) -> Result<Labels, GatewayError> {
        let mut pairs = Vec::with_capacity(s.label_refs.len());
        for &(n, v) in &s.label_refs {
            let n = self.header.symbol(n).map_err(|e| self.tsdb_err(e))?;
            let v = self.header.symbol(v).map_err(|e| self.tsdb_err(e))?;
            pairs.push((n, v));
        }
        Labels::from_pairs(pairs)
            .map_err(|e| self.corrupt(&self.index_object, "series", 0, format!("bad labels: {e}")))
    }

    /// The series matching all `matchers` (every series when there are none) with
    /// chunks overlapping `[mint, maxt]`, in label order, with those chunks.
    pub async fn series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<BucketSeries>, GatewayError> {
        self.series_with(matchers, mint, maxt, false).await
    }

    /// Like [`BucketBlock::series`]; with `skip_chunks` no chunk is fetched and every
    /// series comes back with an empty chunk list (the same series are selected).
    pub async fn series_with(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        skip_chunks: bool,
    ) -> Result<Vec<BucketSeries>, GatewayError> {
        if mint > maxt || self.meta.max_time <= mint || maxt < self.meta.min_time {
            return Ok(Vec::new());
        }
        let refs = self.select_refs(matchers).await?;
        let entries = self.fetch_series(&refs).await?;
        let mut selected = Vec::with_capacity(entries.len());
        let mut wanted: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
        for (r, e) in refs.iter().zip(&entries) {
            let mut chunks = Vec::new();
            for c in &e.chunks {
                if c.min_time > c.max_time
                    || c.min_time < self.meta.min_time
                    || c.max_time >= self.meta.max_time
                {
                    return Err(self.corrupt(
                        &self.index_object,
                        "series",
                        r * SERIES_ALIGNMENT,
                        format!(
                            "chunk [{}, {}] is outside the block's range [{}, {})",
                            c.min_time, c.max_time, self.meta.min_time, self.meta.max_time
                        ),
                    ));
                }
                if c.overlaps(mint, maxt) {
                    wanted
                        .entry(c.chunk_ref.segment())
                        .or_default()
                        .insert(c.chunk_ref.offset());
                    chunks.push(*c);
                }
            }
            if !chunks.is_empty() {
                selected.push((self.labels_of(e)?, chunks));
            }
        }
        if skip_chunks {
            return Ok(selected
                .into_iter()
                .map(|(labels, _)| BucketSeries {
                    labels,
                    chunks: Vec::new(),
                })
                .collect());
        }
        let fetched = self.fetch_chunks(&wanted).await?;
        let mut out = Vec::with_capacity(selected.len());
        for (labels, metas) in selected {
            let chunks = metas
                .iter()
                .map(|c| {
                    let (encoding, data) = fetched
                        .get(&c.chunk_ref)
                        .cloned()
                        .unwrap_or((Encoding::Xor, Bytes::new()));
                    BucketChunk {
                        min_time: c.min_time,
                        max_time: c.max_time,
                        encoding,
                        data,
                    }
                })
                .collect();
            out.push(BucketSeries { labels, chunks });
        }
        Ok(out)
    }

    /// The chunks at `wanted` offsets of each segment, fetched and verified.
    async fn fetch_chunks(
        &self,
        wanted: &BTreeMap<u32, BTreeSet<u32>>,
    ) -> Result<HashMap<ChunkRef, (Encoding, Bytes)>, GatewayError> {
        let mut out = HashMap::new();
        for (&seg, offsets) in wanted {
            let object: Arc<str> =
                chunk_segment_path(&self.tenant, self.meta.ulid, seg.saturating_add(1)).into();
            let offs: Vec<u64> = offsets.iter().map(|&o| u64::from(o)).collect();
            if let Some(&bad) = offs.iter().find(|&&o| o < 8) {
                return Err(self.corrupt(
                    &object,
                    "chunk",
                    bad,
                    "chunk reference points into the segment header".to_string(),
                ));
            }
            let windows: Vec<Range<u64>> = offs
                .iter()
                .enumerate()
                .map(|(i, &s)| {
                    let cap = s + self.cfg.chunk_window.max(1);
                    s..offs.get(i + 1).map_or(cap, |&n| n.min(cap))
                })
                .collect();
            let bytes = self
                .fetcher
                .framed(RangeKind::Chunk, &object, &windows)
                .await?;
            let name = Path::new(&*object);
            for (&off, b) in offs.iter().zip(bytes) {
                let raw = decode_chunk(name, off, &b).map_err(|e| self.tsdb_err(e))?;
                let (encoding, data) = (raw.encoding, b.slice_ref(raw.data));
                out.insert(ChunkRef::new(seg, off as u32), (encoding, data));
            }
        }
        Ok(out)
    }

    /// Label names of the series matching `matchers` (all names when empty), sorted.
    pub async fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, GatewayError> {
        if matchers.is_empty() {
            return Ok(self
                .header
                .label_names()
                .into_iter()
                .map(str::to_string)
                .collect());
        }
        let refs = self.select_refs(matchers).await?;
        let mut name_refs = BTreeSet::new();
        for e in self.fetch_series(&refs).await? {
            name_refs.extend(e.label_refs.iter().map(|&(n, _)| n));
        }
        let mut names = BTreeSet::new();
        for r in name_refs {
            let n = self.header.symbol(r).map_err(|e| self.tsdb_err(e))?;
            if !n.is_empty() {
                names.insert(n.to_string());
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Values of label `name` among the series matching `matchers` (all values when
    /// empty), sorted.
    pub async fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, GatewayError> {
        let mut values: Vec<String> = self
            .header
            .label_values(name)
            .map_err(|e| self.tsdb_err(e))?
            .into_iter()
            .map(str::to_string)
            .collect();
        let mut other_names = false;
        for m in matchers {
            if m.name() == name {
                values.retain(|v| m.matches(v));
            } else {
                other_names = true;
            }
        }
        if values.is_empty() || !other_names {
            return Ok(values);
        }
        let allowed: BTreeSet<String> = values.into_iter().collect();
        let refs = self.select_refs(matchers).await?;
        let mut found = BTreeSet::new();
        for e in self.fetch_series(&refs).await? {
            for &(n, v) in &e.label_refs {
                if self.header.symbol(n).map_err(|e| self.tsdb_err(e))? == name {
                    let v = self.header.symbol(v).map_err(|e| self.tsdb_err(e))?;
                    if allowed.contains(v) {
                        found.insert(v.to_string());
                    }
                }
            }
        }
        Ok(found.into_iter().collect())
    }
}

/// The index-header at `path`, built from the bucket first when missing; one that does
/// not open (left by an older build, damaged on disk) is built again once.
async fn open_or_build(
    store: &Arc<dyn BlockStore>,
    index_object: &str,
    path: &Path,
    counters: &Arc<Counters>,
    block: &str,
) -> Result<IndexHeaderReader, GatewayError> {
    let local = |e: std::io::Error| GatewayError::IndexHeader {
        block: block.to_string(),
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(local)?;
    }
    if tokio::fs::try_exists(path).await.map_err(local)? {
        if let Ok(h) = IndexHeaderReader::open(path) {
            return Ok(h);
        }
        tokio::fs::remove_file(path).await.map_err(local)?;
    }
    build_in_background(store.clone(), index_object, path, counters.clone(), block).await?;
    IndexHeaderReader::open(path).map_err(|e| GatewayError::from_tsdb(block, path, e))
}
