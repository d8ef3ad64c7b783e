//! The head's series maps: by reference and by label-set hash, each split into stripes
//! with their own locks so concurrent appenders rarely meet.
//!
//! The reference map is a hash table of series pointers only: the key is read back from
//! the series when a table grows, so an entry costs a pointer and a control byte. The
//! label-hash map ([`HashIndex`]) keeps each hash beside its pointer, which lets an
//! appender prefetch the lookups it is about to make.

use std::hash::BuildHasher;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use super::hash_index::HashIndex;
use super::series::MemSeries;
use crate::labels::Labels;

const STRIPES: usize = 1 << 10;

type Stripe = RwLock<HashTable<Arc<MemSeries>>>;

/// Series by reference and by labels.
pub struct SeriesMap {
    by_ref: Box<[Stripe]>,
    /// Keyed by [`Labels::stable_hash`] ([`MemSeries::labels_hash`]).
    pub(crate) by_hash: HashIndex,
}

impl Default for SeriesMap {
    fn default() -> Self {
        SeriesMap {
            by_ref: (0..STRIPES).map(|_| RwLock::default()).collect(),
            by_hash: HashIndex::default(),
        }
    }
}

/// The stripe of a key: its low bits.
#[inline]
fn stripe_of(stripes: &[Stripe], key: u64) -> &Stripe {
    &stripes[(key as usize) & (STRIPES - 1)]
}

/// The hash a table uses for a key: mixed, since a stripe's keys share their low bits.
#[inline]
fn mix(key: u64) -> u64 {
    FxBuildHasher.hash_one(key)
}

fn read(s: &Stripe) -> RwLockReadGuard<'_, HashTable<Arc<MemSeries>>> {
    s.read().unwrap_or_else(|e| e.into_inner())
}

fn write(s: &Stripe) -> RwLockWriteGuard<'_, HashTable<Arc<MemSeries>>> {
    s.write().unwrap_or_else(|e| e.into_inner())
}

impl SeriesMap {
    /// The series with reference `r`.
    #[inline]
    pub fn get(&self, r: u64) -> Option<Arc<MemSeries>> {
        read(stripe_of(&self.by_ref, r))
            .find(mix(r), |s| s.series_ref == r)
            .cloned()
    }

    /// The series with `labels`, whose stable hash is `hash`.
    pub fn get_by_labels(&self, hash: u64, labels: &Labels) -> Option<Arc<MemSeries>> {
        self.get_by(hash, |l| l == labels)
    }

    /// The series whose labels' stable hash is `hash` and whose labels satisfy `eq`.
    #[inline]
    pub fn get_by(&self, hash: u64, eq: impl Fn(&Labels) -> bool) -> Option<Arc<MemSeries>> {
        self.by_hash.get(hash, eq)
    }

    /// The series with `labels` (whose stable hash is `hash`), created by `create` if
    /// missing; true when created. `create` must return a series with these labels and
    /// `labels_hash == hash`. A created series replaces any other series with the same
    /// reference in the reference map.
    pub fn get_or_create(
        &self,
        hash: u64,
        labels: &Labels,
        create: impl FnOnce() -> Arc<MemSeries>,
    ) -> (Arc<MemSeries>, bool) {
        if let Some(s) = self.get_by_labels(hash, labels) {
            return (s, false);
        }
        let (s, created) = self.by_hash.get_or_insert(hash, labels, || {
            let s = create();
            debug_assert_eq!(s.labels_hash, hash);
            s
        });
        if !created {
            return (s, false);
        }
        let r = s.series_ref;
        let mut stripe = write(stripe_of(&self.by_ref, r));
        match stripe.find_mut(mix(r), |x| x.series_ref == r) {
            Some(old) => *old = s.clone(),
            None => {
                stripe.insert_unique(mix(r), s.clone(), |x| mix(x.series_ref));
            }
        }
        drop(stripe);
        (s, true)
    }

    /// Removes the given series.
    pub fn remove(&self, series: &[Arc<MemSeries>]) {
        for s in series {
            self.by_hash.remove(s.labels_hash, s);
            let r = s.series_ref;
            if let Ok(e) =
                write(stripe_of(&self.by_ref, r)).find_entry(mix(r), |x| x.series_ref == r)
            {
                e.remove();
            }
        }
    }

    /// How many series satisfy `pred`, which runs under a stripe's read lock and must be
    /// quick (series added meanwhile may be missed).
    pub fn count_where(&self, pred: impl Fn(&MemSeries) -> bool) -> usize {
        self.by_ref
            .iter()
            .map(|stripe| read(stripe).iter().filter(|s| pred(s)).count())
            .sum()
    }

    /// Calls `f` for every series (stripe by stripe; series added meanwhile may be missed).
    pub fn for_each(&self, mut f: impl FnMut(&Arc<MemSeries>)) {
        for stripe in self.by_ref.iter() {
            let all: Vec<Arc<MemSeries>> = read(stripe).iter().cloned().collect();
            for s in &all {
                f(s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_hashes_keep_both_series() {
        let m = SeriesMap::default();
        let a = Labels::from_pairs([("a", "1")]).unwrap();
        let b = Labels::from_pairs([("b", "2")]).unwrap();
        // Force the same hash for two different label sets.
        let (sa, _) = m.get_or_create(7, &a, || Arc::new(MemSeries::with_hash(1, a.clone(), 7)));
        let (sb, created) =
            m.get_or_create(7, &b, || Arc::new(MemSeries::with_hash(2, b.clone(), 7)));
        assert!(created);
        assert_eq!(m.get_by_labels(7, &a).unwrap().series_ref, 1);
        assert_eq!(m.get_by_labels(7, &b).unwrap().series_ref, 2);
        assert_eq!(m.get(2).unwrap().series_ref, sb.series_ref);
        m.remove(std::slice::from_ref(&sa));
        assert!(m.get_by_labels(7, &a).is_none());
        assert_eq!(m.get_by_labels(7, &b).unwrap().series_ref, 2);
        drop((sa, sb));
    }

    #[test]
    fn tables_grow_and_shrink_by_the_series_own_keys() {
        let m = SeriesMap::default();
        let sets: Vec<Labels> = (0..5000)
            .map(|i| Labels::from_pairs([("i", i.to_string())]).unwrap())
            .collect();
        let all: Vec<Arc<MemSeries>> = sets
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let r = i as u64 * 3 + 1;
                let (s, created) = m.get_or_create(l.stable_hash(), l, || {
                    Arc::new(MemSeries::new(r, l.clone()))
                });
                assert!(created);
                s
            })
            .collect();
        for (i, l) in sets.iter().enumerate() {
            let r = i as u64 * 3 + 1;
            assert_eq!(m.get_by_labels(l.stable_hash(), l).unwrap().series_ref, r);
            assert_eq!(m.get(r).unwrap().labels, *l);
            assert!(m.get(r + 1).is_none());
        }
        m.remove(&all[..2500]);
        let mut left = 0;
        m.for_each(|_| left += 1);
        assert_eq!(left, 2500);
        assert!(m.get(1).is_none());
        assert!(m.get_by_labels(sets[0].stable_hash(), &sets[0]).is_none());
        let last = &sets[4999];
        assert!(m.get_by_labels(last.stable_hash(), last).is_some());
    }
}
