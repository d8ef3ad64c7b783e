//! Reading a block's objects by byte range: [`partition`] merges ranges closer than a
//! gap into one request (Thanos' gap-based partitioner: a few wasted bytes cost less
//! than another round trip), [`Fetcher`] issues the merged requests concurrently, asks
//! the [`RangeCache`] first and counts requests and bytes ([`FetchStats`]).
//!
//! Items whose length is known only from their first bytes (series entries, chunks) are
//! read with [`Fetcher::framed`]: a bounded window is fetched, the uvarint length prefix
//! says how long the item is, and an item longer than its window is fetched again at its
//! exact length. Decoding the items is the caller's job.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use cortex_tsdb::index_header::{Framing, framed_len};
use tokio::task::JoinSet;

use super::cache::{RangeCache, RangeKey, RangeKind};
use super::error::GatewayError;
use crate::storage::BlockStore;

/// No item is longer than a chunk segment may be; a length prefix saying otherwise is
/// damage, not a reason to fetch half a gigabyte.
const MAX_ITEM_LEN: u64 = 512 << 20;

/// Requests and bytes fetched from the bucket, by what was fetched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// Ranged reads of the `index` object while building the index-header.
    pub header_requests: u64,
    /// Bytes of those reads.
    pub header_bytes: u64,
    /// Requests for postings lists.
    pub postings_requests: u64,
    /// Bytes of postings lists fetched (including merged gaps).
    pub postings_bytes: u64,
    /// Requests for series entries.
    pub series_requests: u64,
    /// Bytes of series entries fetched (including windows and gaps).
    pub series_bytes: u64,
    /// Requests for chunks.
    pub chunk_requests: u64,
    /// Bytes of chunk segments fetched (including windows and gaps).
    pub chunk_bytes: u64,
    /// Items served by the cache instead of the bucket.
    pub cache_hits: u64,
}

impl FetchStats {
    /// All ranged requests made to the bucket.
    pub fn requests(&self) -> u64 {
        self.header_requests + self.postings_requests + self.series_requests + self.chunk_requests
    }

    /// All bytes fetched from the bucket.
    pub fn bytes(&self) -> u64 {
        self.header_bytes + self.postings_bytes + self.series_bytes + self.chunk_bytes
    }

    /// Bytes fetched to answer queries (everything but the index-header build).
    pub fn query_bytes(&self) -> u64 {
        self.postings_bytes + self.series_bytes + self.chunk_bytes
    }

    /// Adds `o`'s counts to these.
    pub fn merge(&mut self, o: &FetchStats) {
        self.header_requests += o.header_requests;
        self.header_bytes += o.header_bytes;
        self.postings_requests += o.postings_requests;
        self.postings_bytes += o.postings_bytes;
        self.series_requests += o.series_requests;
        self.series_bytes += o.series_bytes;
        self.chunk_requests += o.chunk_requests;
        self.chunk_bytes += o.chunk_bytes;
        self.cache_hits += o.cache_hits;
    }
}

/// What a request fetches, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Traffic {
    /// The index, read to build the index-header.
    Header,
    /// One of the cacheable item kinds.
    Item(RangeKind),
}

/// The live counters behind [`FetchStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: [AtomicU64; 4],
    bytes: [AtomicU64; 4],
    cache_hits: AtomicU64,
}

impl Counters {
    fn slot(t: Traffic) -> usize {
        match t {
            Traffic::Header => 0,
            Traffic::Item(RangeKind::Postings) => 1,
            Traffic::Item(RangeKind::Series) => 2,
            Traffic::Item(RangeKind::Chunk) => 3,
        }
    }

    /// Counts one request that returned `bytes` bytes.
    pub(crate) fn record(&self, t: Traffic, bytes: u64) {
        let i = Self::slot(t);
        self.requests[i].fetch_add(1, Ordering::Relaxed);
        self.bytes[i].fetch_add(bytes, Ordering::Relaxed);
    }

    /// The counts so far.
    pub(crate) fn snapshot(&self) -> FetchStats {
        let r = |i: usize| self.requests[i].load(Ordering::Relaxed);
        let b = |i: usize| self.bytes[i].load(Ordering::Relaxed);
        FetchStats {
            header_requests: r(0),
            header_bytes: b(0),
            postings_requests: r(1),
            postings_bytes: b(1),
            series_requests: r(2),
            series_bytes: b(2),
            chunk_requests: r(3),
            chunk_bytes: b(3),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
        }
    }
}

/// Groups `ranges` (sorted by start) so that ranges less than `max_gap` bytes apart (or
/// overlapping) share one request: each group is the merged range and the indices of
/// its members.
pub fn partition(ranges: &[Range<u64>], max_gap: u64) -> Vec<(Range<u64>, Range<usize>)> {
    let mut out: Vec<(Range<u64>, Range<usize>)> = Vec::new();
    for (i, r) in ranges.iter().enumerate() {
        match out.last_mut() {
            Some((merged, members)) if r.start <= merged.end.saturating_add(max_gap) => {
                merged.end = merged.end.max(r.end);
                members.end = i + 1;
            }
            _ => out.push((r.clone(), i..i + 1)),
        }
    }
    out
}

/// Ranged reads of one block's objects (see the module documentation).
#[derive(Debug, Clone)]
pub(crate) struct Fetcher {
    pub(crate) store: Arc<dyn BlockStore>,
    pub(crate) cache: Arc<dyn RangeCache>,
    pub(crate) max_gap: u64,
    pub(crate) counters: Arc<Counters>,
    /// `<tenant>/<ULID>`, for errors.
    pub(crate) block: String,
}

impl Fetcher {
    fn corrupt(&self, object: &str, kind: RangeKind, offset: u64, detail: String) -> GatewayError {
        GatewayError::Corrupted {
            block: self.block.clone(),
            object: object.to_string(),
            section: section(kind).to_string(),
            offset,
            detail,
        }
    }

    /// The bytes of each of `ranges` (sorted by start) of `object`, fetched in merged
    /// requests running concurrently. A range reaching past the object's end comes back
    /// shorter.
    async fn get_ranges(
        &self,
        t: Traffic,
        object: &Arc<str>,
        ranges: &[Range<u64>],
    ) -> Result<Vec<Bytes>, GatewayError> {
        let groups = partition(ranges, self.max_gap);
        let mut tasks = JoinSet::new();
        for (gi, (merged, _)) in groups.iter().enumerate() {
            let (store, object, merged) = (self.store.clone(), object.clone(), merged.clone());
            tasks.spawn(async move { (gi, store.get_range(&object, merged).await) });
        }
        let mut fetched: Vec<Option<Bytes>> = vec![None; groups.len()];
        while let Some(done) = tasks.join_next().await {
            let (gi, res) = done.map_err(|e| GatewayError::Runtime {
                block: self.block.clone(),
                reason: format!("a fetch of {object} failed to run: {e}"),
            })?;
            let b = res.map_err(|source| GatewayError::Bucket {
                block: self.block.clone(),
                source: Box::new(source),
            })?;
            self.counters.record(t, b.len() as u64);
            fetched[gi] = Some(b);
        }
        let mut out = Vec::with_capacity(ranges.len());
        for ((merged, members), b) in groups.iter().zip(fetched) {
            let b = b.unwrap_or_default();
            for r in &ranges[members.clone()] {
                let from = ((r.start - merged.start) as usize).min(b.len());
                let to = ((r.end - merged.start) as usize).min(b.len());
                out.push(b.slice(from..to));
            }
        }
        Ok(out)
    }

    /// Cached bytes of the items of `kind` at `offsets` of `object`, as a map by offset.
    async fn cached(
        &self,
        kind: RangeKind,
        object: &Arc<str>,
        offsets: impl Iterator<Item = u64>,
    ) -> (Vec<RangeKey>, HashMap<RangeKey, Bytes>) {
        let keys: Vec<RangeKey> = offsets
            .map(|offset| RangeKey {
                kind,
                object: object.clone(),
                offset,
            })
            .collect();
        let hits = self.cache.fetch(&keys).await;
        (keys, hits)
    }

    /// The exact bytes of `ranges` (sorted by start) of `object`, items of `kind`, from
    /// the cache or the bucket. Bytes shorter than their range mean the object ended.
    pub(crate) async fn exact(
        &self,
        kind: RangeKind,
        object: &Arc<str>,
        ranges: &[Range<u64>],
    ) -> Result<Vec<Bytes>, GatewayError> {
        let (keys, mut hits) = self
            .cached(kind, object, ranges.iter().map(|r| r.start))
            .await;
        let mut out: Vec<Option<Bytes>> = keys
            .iter()
            .zip(ranges)
            .map(|(k, r)| hits.remove(k).filter(|b| b.len() as u64 == r.end - r.start))
            .collect();
        let hit_count = out.iter().filter(|b| b.is_some()).count() as u64;
        self.counters
            .cache_hits
            .fetch_add(hit_count, Ordering::Relaxed);
        let missing: Vec<usize> = (0..ranges.len()).filter(|&i| out[i].is_none()).collect();
        let want: Vec<Range<u64>> = missing.iter().map(|&i| ranges[i].clone()).collect();
        let got = self.get_ranges(Traffic::Item(kind), object, &want).await?;
        let mut store = Vec::with_capacity(got.len());
        for (&i, b) in missing.iter().zip(got) {
            if b.len() as u64 == ranges[i].end - ranges[i].start {
                store.push((keys[i].clone(), b.clone()));
            }
            out[i] = Some(b);
        }
        if !store.is_empty() {
            self.cache.store(&store).await;
        }
        Ok(out.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// The exact bytes of the length-prefixed items of `kind` starting at `windows[i].start`
    /// of `object` (sorted, not overlapping), each read first as the window
    /// `windows[i]` and again at its exact length when it is longer.
    pub(crate) async fn framed(
        &self,
        kind: RangeKind,
        object: &Arc<str>,
        windows: &[Range<u64>],
    ) -> Result<Vec<Bytes>, GatewayError> {
        let framing = match kind {
            RangeKind::Chunk => Framing::Chunk,
            _ => Framing::Series,
        };
        let name = Path::new(&**object);
        let (keys, mut hits) = self
            .cached(kind, object, windows.iter().map(|r| r.start))
            .await;
        let mut out: Vec<Option<Bytes>> = Vec::with_capacity(windows.len());
        for (k, w) in keys.iter().zip(windows) {
            let hit = hits.remove(k).filter(|b| {
                matches!(framed_len(name, w.start, b, framing), Ok(Some(n)) if n == b.len() as u64)
            });
            out.push(hit);
        }
        let hit_count = out.iter().filter(|b| b.is_some()).count() as u64;
        self.counters
            .cache_hits
            .fetch_add(hit_count, Ordering::Relaxed);
        let missing: Vec<usize> = (0..windows.len()).filter(|&i| out[i].is_none()).collect();
        let want: Vec<Range<u64>> = missing.iter().map(|&i| windows[i].clone()).collect();
        let got = self.get_ranges(Traffic::Item(kind), object, &want).await?;
        let mut store = Vec::with_capacity(got.len());
        for ((&i, mut b), w) in missing.iter().zip(got).zip(&want) {
            let mut asked = w.end - w.start;
            let item = loop {
                let len = framed_len(name, w.start, &b, framing)
                    .map_err(|e| GatewayError::from_tsdb(&self.block, name, e))?;
                let have = b.len() as u64;
                match len {
                    Some(n) if n > MAX_ITEM_LEN => {
                        return Err(self.corrupt(
                            object,
                            kind,
                            w.start,
                            format!("length prefix says {n} bytes, more than any item can be"),
                        ));
                    }
                    Some(n) if n <= have => break b.slice(..n as usize),
                    _ if have < asked => {
                        return Err(self.corrupt(
                            object,
                            kind,
                            w.start,
                            format!(
                                "the object ends {have} bytes into an item of {}",
                                len.map_or("unknown length".to_string(), |n| format!("{n} bytes"))
                            ),
                        ));
                    }
                    Some(n) => asked = n,
                    None => asked = (asked * 2).max(16),
                }
                let r = w.start..w.start + asked;
                b = self
                    .get_ranges(Traffic::Item(kind), object, std::slice::from_ref(&r))
                    .await?
                    .pop()
                    .unwrap_or_default();
            };
            store.push((keys[i].clone(), item.clone()));
            out[i] = Some(item);
        }
        if !store.is_empty() {
            self.cache.store(&store).await;
        }
        Ok(out.into_iter().map(Option::unwrap_or_default).collect())
    }
}

/// The format section an item kind is in, for errors.
fn section(kind: RangeKind) -> &'static str {
    match kind {
        RangeKind::Postings => "postings",
        RangeKind::Series => "series",
        RangeKind::Chunk => "chunk",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_closer_than_the_gap_share_a_request() {
        let r = [0..10, 15..20, 100..110, 105..130, 200..210];
        let p = partition(&r, 5);
        assert_eq!(p, vec![(0..20, 0..2), (100..130, 2..4), (200..210, 4..5)]);
        // Gap of zero merges only touching or overlapping ranges.
        assert_eq!(partition(&[0..10, 10..12, 13..14], 0).len(), 2);
        assert!(partition(&[], 10).is_empty());
        assert_eq!(partition(&r, 1000), vec![(0..210, 0..5)]);
    }
}
