//! The head's map from a label set's stable hash to its series: striped open-addressing
//! tables whose slots hold the full hash next to the series pointer.
//!
//! A remote-write request names a couple of thousand series in no order the memory
//! knows, so every lookup of a large head misses the cache several times in a row:
//! the table slot, the series, its labels. A table laid out by hand (unlike a general
//! hash map) can say where a hash's slot is without taking the stripe's lock, so a
//! caller that knows the hashes of the series it will look up next can prefetch each
//! step of their lookups ahead of time ([`HashIndex::prefetch_slot`],
//! [`HashIndex::prefetch_series`], [`HashIndex::prefetch_labels`]) and the misses of
//! many lookups overlap instead of following one another.
//!
//! Each stripe is a linear-probing table of at most three quarters load, grown by
//! doubling; removal shifts the following entries back, so no tombstones build up.
//! Series whose labels hash alike share a hash and are told apart by their labels.

use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::series::MemSeries;
use crate::labels::Labels;

/// Stripes (a power of two); a hash's stripe is its low bits.
const STRIPES: usize = 1 << 10;
/// Slots of a stripe's first table.
const MIN_SLOTS: usize = 8;

/// One entry: a series and its labels' stable hash (`None` marks a free slot).
#[derive(Default)]
struct Slot {
    hash: u64,
    series: Option<Arc<MemSeries>>,
}

/// A stripe's table.
#[derive(Default)]
struct Table {
    /// A power of two long, or empty before the first insert.
    slots: Box<[Slot]>,
    len: usize,
}

/// A stripe, on a cache line of its own so appenders on other cores do not share it.
#[repr(align(64))]
#[derive(Default)]
struct Stripe {
    table: RwLock<Table>,
    /// Where the table's slots are and their count less one, for prefetching without
    /// the lock. Updated under the write lock when the table is reallocated; a reader
    /// may see an outdated or half-updated pair, which only makes a prefetch useless.
    slots_hint: AtomicPtr<Slot>,
    mask_hint: AtomicUsize,
}

/// Series by the stable hash of their labels.
pub(crate) struct HashIndex {
    stripes: Box<[Stripe]>,
}

impl Default for HashIndex {
    fn default() -> Self {
        HashIndex {
            stripes: (0..STRIPES).map(|_| Stripe::default()).collect(),
        }
    }
}

/// The slot a hash's probe starts at. The stripe took the low bits; the next ones are
/// as random (the hash is xxHash's).
#[inline]
fn home(hash: u64, mask: usize) -> usize {
    ((hash >> STRIPES.trailing_zeros()) as usize) & mask
}

/// Asks the CPU to bring the cache line at `p` closer. A hint: it never faults, for any
/// address.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and cannot fault, whatever the
    // address (an unmapped one is ignored).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl Table {
    #[inline]
    fn find(&self, hash: u64, mut eq: impl FnMut(&MemSeries) -> bool) -> Option<&Arc<MemSeries>> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = home(hash, mask);
        loop {
            let slot = &self.slots[i];
            match &slot.series {
                None => return None,
                Some(s) if slot.hash == hash && eq(s) => return Some(s),
                Some(_) => i = (i + 1) & mask,
            }
        }
    }

    fn insert(&mut self, hash: u64, series: Arc<MemSeries>) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = home(hash, mask);
        while self.slots[i].series.is_some() {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot {
            hash,
            series: Some(series),
        };
        self.len += 1;
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, (0..cap).map(|_| Slot::default()).collect());
        self.len = 0;
        for slot in old.into_vec() {
            if let Some(s) = slot.series {
                self.insert(slot.hash, s);
            }
        }
    }

    /// Removes the entry of `series` (under `hash`), shifting the entries after it back
    /// so every probe still reaches its entry before a free slot.
    fn remove(&mut self, hash: u64, series: &Arc<MemSeries>) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        let mask = self.slots.len() - 1;
        let mut i = home(hash, mask);
        loop {
            match &self.slots[i].series {
                None => return false,
                Some(s) if Arc::ptr_eq(s, series) => break,
                Some(_) => i = (i + 1) & mask,
            }
        }
        let mut hole = i;
        let mut j = (i + 1) & mask;
        while self.slots[j].series.is_some() {
            // The entry at `j` may move to the hole when the hole lies on its probe
            // path: between its home slot and `j`, going round.
            let h = home(self.slots[j].hash, mask);
            if (j.wrapping_sub(h) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots[hole] = std::mem::take(&mut self.slots[j]);
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.slots[hole] = Slot::default();
        self.len -= 1;
        true
    }
}

impl Stripe {
    fn read(&self) -> RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes where the table's slots now are, for [`HashIndex::prefetch_slot`].
    fn publish(&self, t: &Table) {
        self.slots_hint
            .store(t.slots.as_ptr().cast_mut(), Ordering::Relaxed);
        self.mask_hint
            .store(t.slots.len().saturating_sub(1), Ordering::Relaxed);
    }
}

impl HashIndex {
    #[inline]
    fn stripe(&self, hash: u64) -> &Stripe {
        &self.stripes[(hash as usize) & (STRIPES - 1)]
    }

    /// The series whose labels hash to `hash` and satisfy `eq`.
    #[inline]
    pub(crate) fn get(&self, hash: u64, eq: impl Fn(&Labels) -> bool) -> Option<Arc<MemSeries>> {
        self.stripe(hash)
            .read()
            .find(hash, |s| eq(&s.labels))
            .cloned()
    }

    /// The series with `labels` (hashing to `hash`), or `create`'s series added when
    /// there is none; true when added.
    pub(crate) fn get_or_insert(
        &self,
        hash: u64,
        labels: &Labels,
        create: impl FnOnce() -> Arc<MemSeries>,
    ) -> (Arc<MemSeries>, bool) {
        let stripe = self.stripe(hash);
        let mut t = stripe.write();
        if let Some(s) = t.find(hash, |s| s.labels == *labels) {
            return (s.clone(), false);
        }
        let s = create();
        let before = t.slots.len();
        t.insert(hash, s.clone());
        if t.slots.len() != before {
            stripe.publish(&t);
        }
        (s, true)
    }

    /// Removes `series` (whose labels hash to `hash`); false when it was not there.
    pub(crate) fn remove(&self, hash: u64, series: &Arc<MemSeries>) -> bool {
        self.stripe(hash).write().remove(hash, series)
    }

    /// First step of a lookup ahead of time: brings the slot where the probe for `hash`
    /// starts into the cache. Takes no lock.
    #[inline]
    pub(crate) fn prefetch_slot(&self, hash: u64) {
        let stripe = self.stripe(hash);
        let slots = stripe.slots_hint.load(Ordering::Relaxed);
        if !slots.is_null() {
            let mask = stripe.mask_hint.load(Ordering::Relaxed);
            prefetch(slots.wrapping_add(home(hash, mask)));
        }
    }

    /// Second step, once the slot is near: brings the series with hash `hash` (its first
    /// lines: reference count, labels, state) into the cache.
    #[inline]
    pub(crate) fn prefetch_series(&self, hash: u64) {
        let t = self.stripe(hash).read();
        if let Some(s) = t.find(hash, |_| true) {
            let p = Arc::as_ptr(s).cast::<u8>();
            // The reference counts sit just before the series.
            for off in [-16isize, 48, 112, 176] {
                prefetch(p.wrapping_offset(off));
            }
        }
    }

    /// Third step, once the series is near: brings its labels into the cache.
    #[inline]
    pub(crate) fn prefetch_labels(&self, hash: u64) {
        let t = self.stripe(hash).read();
        if let Some(s) = t.find(hash, |_| true) {
            let data = s.labels.packed();
            let p = data.as_ptr();
            let mut off = 0;
            while off < data.len().min(256) {
                prefetch(p.wrapping_add(off));
                off += 64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(r: u64, hash: u64) -> Arc<MemSeries> {
        let l = Labels::from_pairs([("r", r.to_string())]).unwrap();
        Arc::new(MemSeries::with_hash(r, l, hash))
    }

    /// Every entry must be reachable from its home slot without crossing a free slot.
    fn check(t: &Table) {
        let mask = t.slots.len().wrapping_sub(1);
        let mut n = 0;
        for (i, slot) in t.slots.iter().enumerate() {
            if slot.series.is_none() {
                continue;
            }
            n += 1;
            let mut j = home(slot.hash, mask);
            while j != i {
                assert!(t.slots[j].series.is_some(), "gap on the probe path of {i}");
                j = (j + 1) & mask;
            }
        }
        assert_eq!(n, t.len);
    }

    #[test]
    fn removal_keeps_every_probe_path_whole() {
        // Hashes crowding a few home slots at the end of the table (so probes wrap round),
        // removed in a scrambled order.
        let mut t = Table::default();
        let all: Vec<(u64, Arc<MemSeries>)> = (0..300u64)
            .map(|i| {
                let h = ((505 + i % 7) << 10) | (((i * 37) % 5) << 50);
                (h, series(i, h))
            })
            .collect();
        for (h, s) in &all {
            t.insert(*h, s.clone());
        }
        check(&t);
        for k in 0..all.len() {
            let (h, s) = &all[(k * 113) % all.len()];
            assert!(t.remove(*h, s));
            assert!(!t.remove(*h, s));
            check(&t);
            for (h2, s2) in &all {
                let present = t.find(*h2, |x| std::ptr::eq(x, &**s2)).is_some();
                let removed = (0..=k).any(|m| Arc::ptr_eq(&all[(m * 113) % all.len()].1, s2));
                assert_eq!(present, !removed);
            }
        }
        assert_eq!(t.len, 0);
    }

    #[test]
    fn lookups_and_prefetches_follow_inserts_and_growth() {
        let idx = HashIndex::default();
        let sets: Vec<Labels> = (0..10_000)
            .map(|i| Labels::from_pairs([("i", i.to_string())]).unwrap())
            .collect();
        for (i, l) in sets.iter().enumerate() {
            let h = l.stable_hash();
            idx.prefetch_slot(h);
            idx.prefetch_series(h);
            idx.prefetch_labels(h);
            let (_, added) = idx.get_or_insert(h, l, || {
                Arc::new(MemSeries::with_hash(i as u64 + 1, l.clone(), h))
            });
            assert!(added);
        }
        for (i, l) in sets.iter().enumerate() {
            let h = l.stable_hash();
            idx.prefetch_slot(h);
            idx.prefetch_series(h);
            idx.prefetch_labels(h);
            assert_eq!(idx.get(h, |x| x == l).unwrap().series_ref, i as u64 + 1);
            let (s, added) = idx.get_or_insert(h, l, || unreachable!());
            assert!(!added);
            assert_eq!(s.series_ref, i as u64 + 1);
        }
        // The published hints match the tables.
        for s in idx.stripes.iter() {
            let t = s.read();
            assert_eq!(
                s.slots_hint.load(Ordering::Relaxed).cast_const(),
                t.slots.as_ptr()
            );
            assert_eq!(
                s.mask_hint.load(Ordering::Relaxed),
                t.slots.len().saturating_sub(1)
            );
            check(&t);
        }
    }
}
