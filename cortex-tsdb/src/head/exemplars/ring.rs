//! The circular exemplar buffer itself, without locking: a bounded vector of entries in
//! ingestion order, each linked into its series' list (oldest → newest by timestamp),
//! and an index from series reference to that list's ends.
//!
//! The buffer fills up to its capacity, then overwrites the oldest entry in ingestion
//! order, unlinking it from its series (and dropping the series' index entry when it was
//! its last exemplar). Exemplars within the out-of-order window are linked into their
//! series' list at their timestamp's place, so each list stays time-sorted. Exemplar
//! labels are kept packed in one small allocation per entry. Resizing compacts the buffer
//! in ingestion order, dropping the oldest entries when shrinking. Validation rules and
//! locking live in the parent module.

use rustc_hash::FxHashMap;

use crate::encoding::{put_uvarint, uvarint};
use crate::exemplar::{Exemplar, ExemplarSeries};
use crate::labels::{Labels, Matcher};

/// "No entry" in links and index ends.
const NONE: u32 = u32::MAX;

/// The largest capacity a ring can have (entry positions must fit links).
pub(super) const MAX_CAPACITY: usize = NONE as usize;

/// One stored exemplar.
struct Entry {
    ts: i64,
    value: f64,
    series_ref: u64,
    /// Position of the previous (older) exemplar of the series, or `NONE`.
    prev: u32,
    /// Position of the next (newer) exemplar of the series, or `NONE`.
    next: u32,
    /// The exemplar's labels: `uvarint(len) bytes` for each name and value, in order.
    labels: Box<[u8]>,
}

/// The ends of one series' list, and the series' labels for queries.
struct SeriesEntry {
    oldest: u32,
    newest: u32,
    labels: Labels,
}

/// How an exemplar compares with what its series holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    /// It may be stored.
    Accept,
    /// The same as the series' newest exemplar: ignored.
    Duplicate,
    /// Too old for the series (its newest exemplar's timestamp is given).
    OutOfOrder { newest: i64 },
}

/// The buffer. Invariant: while `slots.len() < capacity`, `next == slots.len()`;
/// otherwise `slots[next]` is the oldest entry in ingestion order.
pub(super) struct Ring {
    slots: Vec<Entry>,
    capacity: usize,
    next: usize,
    series: FxHashMap<u64, SeriesEntry>,
    /// Exemplars this much (ms) older than their series' newest one are still accepted.
    ooo_window: i64,
}

impl Ring {
    /// An empty ring of `capacity` (at most [`MAX_CAPACITY`]); memory is allocated as
    /// exemplars arrive.
    pub(super) fn new(capacity: usize, ooo_window: i64) -> Ring {
        Ring {
            slots: Vec::new(),
            capacity: capacity.min(MAX_CAPACITY),
            next: 0,
            series: FxHashMap::default(),
            ooo_window: ooo_window.max(0),
        }
    }

    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Exemplars stored.
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Series with at least one exemplar stored.
    pub(super) fn num_series(&self) -> usize {
        self.series.len()
    }

    /// Timestamp of the oldest exemplar in ingestion order (the next to be evicted).
    pub(super) fn oldest_ingested_ts(&self) -> Option<i64> {
        let i = if self.slots.len() < self.capacity {
            0
        } else {
            self.next
        };
        self.slots.get(i).map(|e| e.ts)
    }

    fn entry(&self, pos: u32) -> Option<&Entry> {
        self.slots.get(pos as usize)
    }

    fn entry_mut(&mut self, pos: u32) -> Option<&mut Entry> {
        self.slots.get_mut(pos as usize)
    }

    /// Compares `e` with the stored exemplars of `series_ref` (Prometheus' rules:
    /// identical to the newest is a duplicate; older than the newest by the out-of-order
    /// window or more is out of order; at the newest's timestamp, a smaller value, or an
    /// equal value with a smaller label hash, is out of order).
    pub(super) fn check(&self, series_ref: u64, e: &Exemplar) -> Check {
        let Some(newest) = self
            .series
            .get(&series_ref)
            .and_then(|s| self.entry(s.newest))
        else {
            return Check::Accept;
        };
        if newest.ts == e.ts && newest.value == e.value && packed_eq(&newest.labels, &e.labels) {
            return Check::Duplicate;
        }
        let too_old = e.ts < newest.ts && e.ts <= newest.ts.saturating_sub(self.ooo_window);
        let same_ts_before = e.ts == newest.ts
            && (e.value < newest.value
                || (e.value == newest.value
                    && e.labels.stable_hash() < packed_hash(&newest.labels)));
        if too_old || same_ts_before {
            Check::OutOfOrder { newest: newest.ts }
        } else {
            Check::Accept
        }
    }

    /// Stores `e` for the series `series_ref` (labelled `series_labels`), evicting the
    /// oldest entry when full. Returns the check's verdict; only `Accept` stores. An
    /// exemplar inside the series' time span at the timestamp of one already stored is
    /// taken for a duplicate, as Prometheus does. A ring of capacity 0 stores nothing.
    pub(super) fn add(&mut self, series_ref: u64, series_labels: &Labels, e: &Exemplar) -> Check {
        if self.capacity == 0 {
            return Check::Accept;
        }
        let verdict = self.check(series_ref, e);
        if verdict != Check::Accept {
            return verdict;
        }
        // An exemplar inside the series' span is linked after the newest one not newer.
        let mut insert_after = NONE;
        let mut inside = false;
        if let Some(s) = self.series.get(&series_ref)
            && let (Some(o), Some(n)) = (self.entry(s.oldest), self.entry(s.newest))
        {
            inside = e.ts >= o.ts && e.ts < n.ts;
            if inside {
                insert_after = self.find_insertion(s, e.ts);
                if self.entry(insert_after).is_some_and(|x| x.ts == e.ts) {
                    return Check::Duplicate;
                }
            }
        }

        let full = self.slots.len() >= self.capacity;
        let pos = if full { self.next } else { self.slots.len() };
        let pos32 = pos as u32;
        if full {
            let (old_ref, old_prev, old_next) = match self.slots.get(pos) {
                Some(old) => (old.series_ref, old.prev, old.next),
                None => return Check::Accept,
            };
            let emptied = self.unlink(old_ref, old_prev, old_next);
            if emptied && old_ref != series_ref {
                self.series.remove(&old_ref);
            } else if !emptied && inside && old_ref == series_ref && insert_after == pos32 {
                // The entry to link after was the one evicted: look again.
                if let Some(s) = self.series.get(&series_ref) {
                    insert_after = self.find_insertion(s, e.ts);
                }
            }
        }

        let entry = Entry {
            ts: e.ts,
            value: e.value,
            series_ref,
            prev: NONE,
            next: NONE,
            labels: pack(&e.labels),
        };
        if full {
            if let Some(slot) = self.slots.get_mut(pos) {
                *slot = entry;
            }
        } else {
            if self.slots.len() == self.slots.capacity() {
                // Grow geometrically, but never past the ring's capacity.
                let more = self
                    .slots
                    .len()
                    .max(64)
                    .min(self.capacity - self.slots.len());
                self.slots.reserve_exact(more);
            }
            self.slots.push(entry);
        }
        self.link(series_ref, series_labels, pos32, e.ts, insert_after);
        self.next = (pos + 1) % self.capacity;
        Check::Accept
    }

    /// Links the entry at `pos` (timestamp `ts`) into the list of `series_ref`.
    fn link(&mut self, series_ref: u64, labels: &Labels, pos: u32, ts: i64, after: u32) {
        let (oldest, newest) = match self.series.get(&series_ref) {
            Some(s) if s.newest != NONE => (s.oldest, s.newest),
            _ => {
                let s = self.series.entry(series_ref).or_insert(SeriesEntry {
                    oldest: NONE,
                    newest: NONE,
                    labels: labels.clone(),
                });
                s.oldest = pos;
                s.newest = pos;
                return;
            }
        };
        let newest_ts = self.entry(newest).map_or(i64::MIN, |x| x.ts);
        let oldest_ts = self.entry(oldest).map_or(i64::MAX, |x| x.ts);
        let (prev, next) = if ts >= newest_ts {
            (newest, NONE)
        } else if ts < oldest_ts {
            (NONE, oldest)
        } else {
            (after, self.entry(after).map_or(NONE, |x| x.next))
        };
        if let Some(x) = self.entry_mut(pos) {
            x.prev = prev;
            x.next = next;
        }
        if let Some(p) = self.entry_mut(prev) {
            p.next = pos;
        }
        if let Some(n) = self.entry_mut(next) {
            n.prev = pos;
        }
        if let Some(s) = self.series.get_mut(&series_ref) {
            if prev == NONE {
                s.oldest = pos;
            }
            if next == NONE {
                s.newest = pos;
            }
        }
    }

    /// Unlinks an entry (given by its series and links) from its series' list; true when
    /// the list is now empty (the index entry is left for the caller to remove).
    fn unlink(&mut self, series_ref: u64, prev: u32, next: u32) -> bool {
        if let Some(p) = self.entry_mut(prev) {
            p.next = next;
        }
        if let Some(n) = self.entry_mut(next) {
            n.prev = prev;
        }
        let Some(s) = self.series.get_mut(&series_ref) else {
            return true;
        };
        if prev == NONE {
            s.oldest = next;
        }
        if next == NONE {
            s.newest = prev;
        }
        s.oldest == NONE && s.newest == NONE
    }

    /// The position of the newest exemplar of `s` not newer than `ts` (its oldest when
    /// there is none), walking back from the newest: late exemplars are usually recent.
    fn find_insertion(&self, s: &SeriesEntry, ts: i64) -> u32 {
        let mut i = s.newest;
        while let Some(x) = self.entry(i) {
            if x.ts <= ts {
                return i;
            }
            i = x.prev;
        }
        s.oldest
    }

    /// Changes the capacity, keeping the newest `capacity` exemplars in ingestion order;
    /// returns how many were kept.
    pub(super) fn resize(&mut self, capacity: usize) -> usize {
        let capacity = capacity.min(MAX_CAPACITY);
        if capacity == self.capacity {
            return self.slots.len();
        }
        let n = self.slots.len();
        let start = if n < self.capacity { 0 } else { self.next };
        let drop = n.saturating_sub(capacity);
        // Unlink the oldest entries that do not fit.
        for k in 0..drop {
            let pos = (start + k) % n;
            let Some((r, p, x)) = self.slots.get(pos).map(|e| (e.series_ref, e.prev, e.next))
            else {
                continue;
            };
            if self.unlink(r, p, x) {
                self.series.remove(&r);
            }
        }
        // Old position → new position of the entries kept, oldest first from 0.
        let mut moved = vec![NONE; n];
        for k in drop..n {
            if let Some(m) = moved.get_mut((start + k) % n) {
                *m = (k - drop) as u32;
            }
        }
        let remap = |p: u32| moved.get(p as usize).copied().unwrap_or(NONE);
        let mut old: Vec<Option<Entry>> = std::mem::take(&mut self.slots)
            .into_iter()
            .map(Some)
            .collect();
        let mut slots = Vec::with_capacity(n - drop);
        for k in drop..n {
            if let Some(mut e) = old.get_mut((start + k) % n).and_then(Option::take) {
                e.prev = remap(e.prev);
                e.next = remap(e.next);
                slots.push(e);
            }
        }
        for s in self.series.values_mut() {
            s.oldest = remap(s.oldest);
            s.newest = remap(s.newest);
        }
        self.slots = slots;
        self.capacity = capacity;
        self.next = if capacity == 0 {
            0
        } else {
            self.slots.len() % capacity
        };
        if capacity == 0 {
            self.series.clear();
        }
        self.slots.len()
    }

    /// The exemplars in `[mint, maxt]` of every series whose labels satisfy at least one
    /// of `matcher_sets` (all matchers of a set must match), per series in time order,
    /// series sorted by labels. Series that share labels (a series re-created under a new
    /// reference) are merged.
    pub(super) fn select(
        &self,
        matcher_sets: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Vec<ExemplarSeries> {
        let mut out: Vec<ExemplarSeries> = Vec::new();
        for s in self.series.values() {
            let (Some(o), Some(n)) = (self.entry(s.oldest), self.entry(s.newest)) else {
                continue;
            };
            if o.ts > maxt || n.ts < mint || !matches_some(&s.labels, matcher_sets) {
                continue;
            }
            let mut exemplars = Vec::new();
            let mut cur = Some(o);
            while let Some(x) = cur {
                if x.ts > maxt {
                    break;
                }
                if x.ts >= mint {
                    exemplars.push(Exemplar {
                        labels: unpack(&x.labels),
                        value: x.value,
                        ts: x.ts,
                    });
                }
                cur = self.entry(x.next);
            }
            if !exemplars.is_empty() {
                out.push(ExemplarSeries {
                    series_labels: s.labels.clone(),
                    exemplars,
                });
            }
        }
        out.sort_by(|a, b| a.series_labels.cmp(&b.series_labels));
        let mut merged: Vec<ExemplarSeries> = Vec::with_capacity(out.len());
        for s in out {
            match merged.last_mut() {
                Some(last) if last.series_labels == s.series_labels => {
                    last.exemplars.extend(s.exemplars);
                    last.exemplars.sort_by_key(|e| e.ts);
                }
                _ => merged.push(s),
            }
        }
        merged
    }

    /// Calls `f` with every stored exemplar, oldest first in ingestion order.
    pub(super) fn for_each(&self, mut f: impl FnMut(u64, &Labels, Exemplar)) {
        let n = self.slots.len();
        let start = if n < self.capacity { 0 } else { self.next };
        for k in 0..n {
            let Some(e) = self.slots.get((start + k) % n) else {
                continue;
            };
            let Some(s) = self.series.get(&e.series_ref) else {
                continue;
            };
            f(
                e.series_ref,
                &s.labels,
                Exemplar {
                    labels: unpack(&e.labels),
                    value: e.value,
                    ts: e.ts,
                },
            );
        }
    }
}

fn matches_some(labels: &Labels, matcher_sets: &[Vec<Matcher>]) -> bool {
    matcher_sets.iter().any(|set| {
        set.iter()
            .all(|m| m.matches(labels.get(m.name()).unwrap_or("")))
    })
}

/// Packs labels as `uvarint(len) bytes` for each name and value.
fn pack(labels: &Labels) -> Box<[u8]> {
    if labels.is_empty() {
        return Box::default();
    }
    let mut out = Vec::with_capacity(labels.byte_size());
    for l in labels.iter() {
        put_uvarint(&mut out, l.name.len() as u64);
        out.extend_from_slice(l.name.as_bytes());
        put_uvarint(&mut out, l.value.len() as u64);
        out.extend_from_slice(l.value.as_bytes());
    }
    out.into_boxed_slice()
}

/// The strings of a packed label set, alternating name and value. Stops at anything
/// that is not what [`pack`] writes (which cannot happen for the ring's own entries).
fn packed_strs(mut b: &[u8]) -> impl Iterator<Item = &str> {
    std::iter::from_fn(move || {
        let (len, n) = uvarint(b).ok()?;
        let rest = b.get(n..)?;
        let s = rest.get(..usize::try_from(len).ok()?)?;
        b = rest.get(s.len()..)?;
        std::str::from_utf8(s).ok()
    })
}

fn packed_pairs(b: &[u8]) -> impl Iterator<Item = (&str, &str)> {
    let mut it = packed_strs(b);
    std::iter::from_fn(move || Some((it.next()?, it.next()?)))
}

fn unpack(b: &[u8]) -> Labels {
    // The pairs come from a valid label set, so they are sorted and unique.
    Labels::from_sorted(packed_pairs(b)).unwrap_or_default()
}

fn packed_eq(b: &[u8], labels: &Labels) -> bool {
    let mut it = packed_pairs(b);
    for l in labels.iter() {
        match it.next() {
            Some((n, v)) if n == l.name && v == l.value => {}
            _ => return false,
        }
    }
    it.next().is_none()
}

/// [`Labels::stable_hash`] of a packed set.
fn packed_hash(b: &[u8]) -> u64 {
    let mut h = xxhash_rust::xxh64::Xxh64::new(0);
    for s in packed_strs(b) {
        h.update(s.as_bytes());
        h.update(&[0xff]);
    }
    h.digest()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(ts: i64, v: f64, trace: &str) -> Exemplar {
        Exemplar {
            labels: Labels::from_pairs([("trace_id", trace)]).unwrap(),
            value: v,
            ts,
        }
    }

    fn series(ring: &Ring, r: u64) -> Vec<i64> {
        let mut out = Vec::new();
        let Some(s) = ring.series.get(&r) else {
            return out;
        };
        let mut i = s.oldest;
        while let Some(e) = ring.entry(i) {
            out.push(e.ts);
            i = e.next;
        }
        // The backward links must tell the same story.
        let mut back = Vec::new();
        let mut i = s.newest;
        while let Some(e) = ring.entry(i) {
            back.push(e.ts);
            i = e.prev;
        }
        back.reverse();
        assert_eq!(out, back, "forward and backward links of series {r} differ");
        out
    }

    #[test]
    fn an_entry_stays_small() {
        // Timestamp, value, series reference, two links and a boxed label slice.
        assert!(std::mem::size_of::<Entry>() <= 48);
    }

    #[test]
    fn packing_round_trips_and_hashes_like_labels() {
        for l in [
            Labels::empty(),
            Labels::from_pairs([("trace_id", "abc"), ("span_id", "é")]).unwrap(),
        ] {
            let p = pack(&l);
            assert_eq!(unpack(&p), l);
            assert!(packed_eq(&p, &l));
            assert_eq!(packed_hash(&p), l.stable_hash());
        }
        let p = pack(&Labels::from_pairs([("a", "b")]).unwrap());
        assert!(!packed_eq(&p, &Labels::empty()));
        assert!(!packed_eq(&p, &Labels::from_pairs([("a", "c")]).unwrap()));
    }

    #[test]
    fn late_exemplars_are_linked_in_time_order_within_the_window() {
        let l = Labels::from_pairs([("__name__", "m")]).unwrap();
        let mut ring = Ring::new(10, 200);
        for ts in [100, 200, 150, 50, 175, 199] {
            assert_eq!(ring.add(1, &l, &ex(ts, 1.0, "x")), Check::Accept, "ts {ts}");
        }
        assert_eq!(series(&ring, 1), vec![50, 100, 150, 175, 199, 200]);
        // At the timestamp of a stored one inside the span: a duplicate.
        assert_eq!(ring.add(1, &l, &ex(150, 9.0, "y")), Check::Duplicate);
        // At the window's edge: out of order.
        assert_eq!(
            ring.add(1, &l, &ex(0, 1.0, "x")),
            Check::OutOfOrder { newest: 200 }
        );
    }

    #[test]
    fn eviction_of_the_insertion_point_relinks_correctly() {
        let l = Labels::from_pairs([("__name__", "m")]).unwrap();
        let mut ring = Ring::new(3, 1000);
        for ts in [10, 30, 40] {
            ring.add(1, &l, &ex(ts, 1.0, "x"));
        }
        // Full: the next add evicts ts 10, the entry 20 would have been linked after.
        assert_eq!(ring.add(1, &l, &ex(20, 1.0, "x")), Check::Accept);
        assert_eq!(series(&ring, 1), vec![20, 30, 40]);
        assert_eq!(ring.len(), 3);
    }

    #[test]
    fn resize_keeps_links_valid() {
        let a = Labels::from_pairs([("__name__", "a")]).unwrap();
        let b = Labels::from_pairs([("__name__", "b")]).unwrap();
        let mut ring = Ring::new(5, 0);
        for i in 0..8 {
            let (r, l) = if i % 2 == 0 { (1, &a) } else { (2, &b) };
            ring.add(r, l, &ex(i, 0.0, "x"));
        }
        // Stored: 3..8 in ingestion order.
        assert_eq!(series(&ring, 1), vec![4, 6]);
        assert_eq!(series(&ring, 2), vec![3, 5, 7]);
        assert_eq!(ring.resize(2), 2);
        assert_eq!(series(&ring, 1), vec![6]);
        assert_eq!(series(&ring, 2), vec![7]);
        assert_eq!(ring.resize(4), 2);
        ring.add(1, &a, &ex(8, 0.0, "x"));
        ring.add(1, &a, &ex(9, 0.0, "x"));
        ring.add(2, &b, &ex(10, 0.0, "x"));
        assert_eq!(series(&ring, 1), vec![8, 9]);
        assert_eq!(series(&ring, 2), vec![7, 10]);
        assert_eq!(ring.resize(0), 0);
        assert_eq!(ring.num_series(), 0);
        assert_eq!(ring.add(1, &a, &ex(11, 0.0, "x")), Check::Accept);
        assert_eq!(ring.len(), 0);
    }
}
