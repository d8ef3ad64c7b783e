//! Reading the head: selecting series by matchers and iterating their samples as of the
//! querier's isolation state.
//!
//! A selected [`HeadSeries`] holds what it needs to read without further locking: handles
//! to its full chunks in the head chunk files (which stay mapped even if the files are
//! truncated meanwhile), a copy of the open chunk's bytes, how many samples of each chunk
//! the reader may see, and the out-of-order samples in range.

use super::Head;
use super::isolation::IsolationState;
use super::series::SeriesSnapshot;
use crate::chunkenc::{ChunkIter, ValueType};
use crate::chunks::HeadChunk;
use crate::histogram::{FloatHistogram, Histogram};
use crate::labels::Matcher;
use crate::querier::{SampleIterator, Series};
use crate::{Error, Result};

/// Reads the head as of one moment.
pub struct HeadQuerier<'a> {
    head: &'a Head,
    mint: i64,
    maxt: i64,
    iso: IsolationState,
    /// Whether `iso` was registered with the head's isolation (and must be released).
    registered: bool,
}

/// A series of the head, ready to iterate.
pub struct HeadSeries {
    chunks: Vec<HeadChunk>,
    open: Option<(Vec<u8>, crate::chunkenc::Encoding)>,
    visible: Vec<u16>,
    ooo: Vec<(i64, f64)>,
    deleted: Option<crate::tombstones::Intervals>,
    mint: i64,
    maxt: i64,
}

/// Sorts series into label order. A large selection is sorted by sort keys laid out
/// side by side ([`Labels::sort_key_into`]): comparing two series' labels where the
/// lookup left them, scattered over the heap, missed the cache on every comparison.
fn sort_by_labels(out: &mut Vec<Series>) {
    if out.len() < 256 {
        out.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        return;
    }
    let mut keys = Vec::with_capacity(out.len() * 128);
    let mut ends = Vec::with_capacity(out.len());
    for s in out.iter() {
        s.labels.sort_key_into(&mut keys);
        ends.push(keys.len());
    }
    let key = |i: usize| {
        let start = if i == 0 { 0 } else { ends[i - 1] };
        &keys[start..ends[i]]
    };
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_unstable_by(|&a, &b| key(a).cmp(key(b)));
    let mut taken: Vec<Option<Series>> = out.drain(..).map(Some).collect();
    out.extend(order.iter().filter_map(|&i| taken[i].take()));
}

impl<'a> HeadQuerier<'a> {
    pub(super) fn new(
        head: &'a Head,
        mint: i64,
        maxt: i64,
        iso: IsolationState,
    ) -> HeadQuerier<'a> {
        HeadQuerier {
            head,
            mint,
            maxt,
            iso,
            registered: true,
        }
    }

    /// A querier that sees everything, including appends still being committed (for
    /// compaction, which runs when no append touches the range it reads).
    pub fn unisolated(head: &'a Head, mint: i64, maxt: i64) -> HeadQuerier<'a> {
        HeadQuerier {
            head,
            mint,
            maxt,
            iso: IsolationState::all(),
            registered: false,
        }
    }

    /// The series matching `matchers` with samples in range, in label order.
    pub fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series>> {
        let refs = self.head.postings.for_matchers(matchers);
        let mut out = Vec::with_capacity(refs.len() as usize);
        for r in refs {
            out.extend(self.select_ref(r)?);
        }
        sort_by_labels(&mut out);
        Ok(out)
    }

    /// Series `r`, if it exists and has visible samples in range.
    pub fn select_ref(&self, r: u64) -> Result<Option<Series>> {
        let Some(s) = self.head.series.get(r) else {
            return Ok(None);
        };
        let snap = s.lock().snapshot(self.mint, self.maxt, &self.iso);
        if snap.visible.iter().all(|v| *v == 0) && snap.ooo.is_empty() {
            return Ok(None);
        }
        let mut hs = self.resolve(snap)?;
        hs.deleted = self.head.deleted(r);
        Ok(Some(Series::from_head(s.labels.clone(), hs)))
    }

    /// Label names among series matching `matchers`.
    pub fn label_names(&self, matchers: &[Matcher]) -> Vec<String> {
        self.head.label_names(matchers)
    }

    /// Values of `name` among series matching `matchers`.
    pub fn label_values(&self, name: &str, matchers: &[Matcher]) -> Vec<String> {
        self.head.label_values(name, matchers)
    }

    fn resolve(&self, snap: SeriesSnapshot) -> Result<HeadSeries> {
        let mut chunks = Vec::with_capacity(snap.mmapped.len());
        for c in &snap.mmapped {
            chunks.push(self.head.chunk_files.chunk(c.chunk_ref)?);
        }
        Ok(HeadSeries {
            chunks,
            open: snap.open.map(|(b, _, _, enc)| (b, enc)),
            visible: snap.visible,
            ooo: snap.ooo,
            deleted: None,
            mint: self.mint,
            maxt: self.maxt,
        })
    }
}

impl Drop for HeadQuerier<'_> {
    fn drop(&mut self) {
        if self.registered {
            self.head.isolation.release(&self.iso);
        }
    }
}

impl HeadSeries {
    /// Iterates the series' visible samples in `[mint, maxt]`.
    pub fn iter(&self) -> HeadSampleIter<'_> {
        HeadSampleIter {
            series: self,
            next_chunk: 0,
            cur: None,
            left: 0,
            in_pending: None,
            ooo_pos: 0,
            on_ooo: false,
            last_t: i64::MIN,
            done: false,
        }
    }

    /// How many chunks the series is read from: its full chunks, the open chunk, and
    /// the out-of-order samples counted as one chunk.
    pub fn num_chunks(&self) -> usize {
        self.chunks.len() + usize::from(self.open.is_some()) + usize::from(!self.ooo.is_empty())
    }

    fn chunk_bytes(&self, i: usize) -> Option<(crate::chunkenc::Encoding, &[u8])> {
        if i < self.chunks.len() {
            let c = &self.chunks[i];
            Some((c.encoding, c.data()))
        } else if i == self.chunks.len() {
            self.open.as_ref().map(|(b, e)| (*e, b.as_slice()))
        } else {
            None
        }
    }
}

/// Samples of a head series: in-order chunks merged with out-of-order samples.
pub struct HeadSampleIter<'a> {
    series: &'a HeadSeries,
    next_chunk: usize,
    cur: Option<ChunkIter<'a>>,
    /// Samples the current chunk may still yield.
    left: u16,
    /// An in-order sample read ahead while an out-of-order one was emitted.
    in_pending: Option<ValueType>,
    ooo_pos: usize,
    on_ooo: bool,
    last_t: i64,
    done: bool,
}

impl HeadSampleIter<'_> {
    /// The next in-order sample in range.
    fn next_in_order(&mut self) -> Result<Option<ValueType>> {
        loop {
            if self.cur.is_none() || self.left == 0 {
                let i = self.next_chunk;
                let Some((enc, data)) = self.series.chunk_bytes(i) else {
                    self.cur = None;
                    return Ok(None);
                };
                self.next_chunk += 1;
                self.left = self.series.visible.get(i).copied().unwrap_or(0);
                match self.cur.as_mut() {
                    Some(it) => it.reset(enc, data).map_err(Error::from)?,
                    None => self.cur = Some(ChunkIter::new(enc, data).map_err(Error::from)?),
                }
                continue;
            }
            let Some(it) = self.cur.as_mut() else {
                continue;
            };
            match it.next().map_err(Error::from)? {
                None => self.left = 0,
                Some(vt) => {
                    self.left -= 1;
                    let t = it.timestamp();
                    if t < self.series.mint {
                        continue;
                    }
                    if t > self.series.maxt {
                        self.left = 0;
                        self.next_chunk = usize::MAX;
                        return Ok(None);
                    }
                    if self.series.deleted.as_ref().is_some_and(|d| d.contains(t)) {
                        continue;
                    }
                    return Ok(Some(vt));
                }
            }
        }
    }

    fn in_ts(&self) -> i64 {
        self.cur.as_ref().map_or(i64::MAX, |c| c.timestamp())
    }
}

impl SampleIterator for HeadSampleIter<'_> {
    fn next(&mut self) -> Result<Option<ValueType>> {
        if self.done {
            return Ok(None);
        }
        let ooo = &self.series.ooo;
        if ooo.is_empty() {
            let r = self.next_in_order()?;
            if r.is_none() {
                self.done = true;
            }
            return Ok(r);
        }
        // Merge: advance whichever side the previous sample came from.
        if self.on_ooo {
            self.ooo_pos += 1;
        } else {
            self.in_pending = None;
        }
        if self.in_pending.is_none() && self.next_chunk != usize::MAX {
            self.in_pending = self.next_in_order()?;
            if self.in_pending.is_none() {
                self.next_chunk = usize::MAX;
            }
        }
        // Skip out-of-order samples already passed or equal to an in-order one.
        while let Some((t, _)) = ooo.get(self.ooo_pos) {
            let deleted = self.series.deleted.as_ref().is_some_and(|d| d.contains(*t));
            if *t <= self.last_t || deleted || (self.in_pending.is_some() && *t == self.in_ts()) {
                self.ooo_pos += 1;
            } else {
                break;
            }
        }
        let ooo_t = ooo.get(self.ooo_pos).map(|(t, _)| *t);
        let pick_ooo = match (self.in_pending, ooo_t) {
            (None, None) => {
                self.done = true;
                return Ok(None);
            }
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (Some(_), Some(t)) => t < self.in_ts(),
        };
        self.on_ooo = pick_ooo;
        if pick_ooo {
            self.last_t = ooo_t.unwrap_or(i64::MIN);
            Ok(Some(ValueType::Float))
        } else {
            self.last_t = self.in_ts();
            Ok(self.in_pending)
        }
    }

    fn seek(&mut self, t: i64) -> Result<Option<ValueType>> {
        if self.done {
            return Ok(None);
        }
        if self.last_t >= t && self.last_t != i64::MIN {
            return Ok(Some(self.value_type()));
        }
        while let Some(vt) = self.next()? {
            if self.timestamp() >= t {
                return Ok(Some(vt));
            }
        }
        Ok(None)
    }

    fn timestamp(&self) -> i64 {
        if self.on_ooo {
            self.series
                .ooo
                .get(self.ooo_pos)
                .map_or(i64::MIN, |(t, _)| *t)
        } else {
            self.in_ts()
        }
    }

    fn at(&self) -> (i64, f64) {
        if self.on_ooo {
            self.series
                .ooo
                .get(self.ooo_pos)
                .copied()
                .unwrap_or((i64::MIN, 0.0))
        } else {
            self.cur.as_ref().map_or((i64::MIN, 0.0), |c| c.at())
        }
    }

    fn at_histogram(&self) -> (i64, Histogram) {
        self.cur
            .as_ref()
            .map_or((i64::MIN, Histogram::default()), |c| {
                let (t, h) = c.at_histogram();
                (t, h.clone())
            })
    }

    fn at_float_histogram(&self) -> (i64, FloatHistogram) {
        self.cur
            .as_ref()
            .map_or((i64::MIN, FloatHistogram::default()), |c| {
                let (t, h) = c.at_float_histogram();
                (t, h.clone())
            })
    }
}

impl HeadSampleIter<'_> {
    fn value_type(&self) -> ValueType {
        if self.on_ooo {
            ValueType::Float
        } else {
            self.cur
                .as_ref()
                .map_or(ValueType::Float, |c| c.value_type())
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::head::{Head, HeadOptions};
    use crate::labels::{Labels, Matcher};

    #[test]
    fn large_selections_come_out_in_label_order() {
        let dir = tempfile::tempdir().unwrap();
        let (head, _) = Head::open(dir.path(), HeadOptions::default(), i64::MIN).unwrap();
        let mut app = head.appender();
        // Created in a scrambled order; values of different lengths, prefixes of one
        // another, and some series with a label the others lack.
        for i in 0..1500u64 {
            let k = (i * 7919) % 1500;
            let mut pairs = vec![
                ("__name__", "m".to_string()),
                ("a", format!("{}", k % 37)),
                ("b", format!("v{k}")),
            ];
            if k % 5 == 0 {
                pairs.push(("c", "x".to_string()));
            }
            app.append(&Labels::from_pairs(pairs).unwrap(), 1000, 1.0)
                .unwrap();
        }
        app.commit().unwrap();
        let q = head.querier(0, 2000);
        let got = q.select(&[Matcher::equal("__name__", "m")]).unwrap();
        assert_eq!(got.len(), 1500);
        for w in got.windows(2) {
            assert!(
                w[0].labels < w[1].labels,
                "{:?} before {:?}",
                w[0].labels,
                w[1].labels
            );
        }
    }
}
