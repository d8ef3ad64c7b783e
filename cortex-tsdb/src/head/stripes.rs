//! The head's series maps: by reference and by label-set hash, each split into stripes
//! with their own locks so concurrent appenders rarely meet.
//!
//! The hash map holds one series per hash; the rare series whose labels hash like
//! another's go to a small collision map beside it, so the common entry stays a pointer.

use std::sync::{Arc, RwLock};

use rustc_hash::FxHashMap;

use super::series::MemSeries;
use crate::labels::Labels;

const STRIPES: usize = 1 << 10;

#[derive(Default)]
struct HashStripe {
    first: FxHashMap<u64, Arc<MemSeries>>,
    /// Further series with a hash that `first` already holds.
    collisions: FxHashMap<u64, Vec<Arc<MemSeries>>>,
}

impl HashStripe {
    fn find(&self, hash: u64, labels: &Labels) -> Option<&Arc<MemSeries>> {
        let s = self.first.get(&hash)?;
        if s.labels == *labels {
            return Some(s);
        }
        self.collisions
            .get(&hash)?
            .iter()
            .find(|s| s.labels == *labels)
    }
}

type RefStripe = RwLock<FxHashMap<u64, Arc<MemSeries>>>;

/// Series by reference and by labels.
pub struct SeriesMap {
    by_ref: Box<[RefStripe]>,
    by_hash: Box<[RwLock<HashStripe>]>,
}

impl Default for SeriesMap {
    fn default() -> Self {
        SeriesMap {
            by_ref: (0..STRIPES).map(|_| RwLock::default()).collect(),
            by_hash: (0..STRIPES).map(|_| RwLock::default()).collect(),
        }
    }
}

impl SeriesMap {
    /// The series with reference `r`.
    #[inline]
    pub fn get(&self, r: u64) -> Option<Arc<MemSeries>> {
        self.by_ref[(r as usize) & (STRIPES - 1)]
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&r)
            .cloned()
    }

    /// The series with `labels` (whose stable hash is `hash`).
    pub fn get_by_labels(&self, hash: u64, labels: &Labels) -> Option<Arc<MemSeries>> {
        self.by_hash[(hash as usize) & (STRIPES - 1)]
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .find(hash, labels)
            .cloned()
    }

    /// The series with `labels`, created by `create` if missing; true when created.
    pub fn get_or_create(
        &self,
        hash: u64,
        labels: &Labels,
        create: impl FnOnce() -> Arc<MemSeries>,
    ) -> (Arc<MemSeries>, bool) {
        if let Some(s) = self.get_by_labels(hash, labels) {
            return (s, false);
        }
        let mut stripe = self.by_hash[(hash as usize) & (STRIPES - 1)]
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(s) = stripe.find(hash, labels) {
            return (s.clone(), false);
        }
        let s = create();
        let st = &mut *stripe;
        match st.first.entry(hash) {
            std::collections::hash_map::Entry::Occupied(_) => {
                st.collisions.entry(hash).or_default().push(s.clone());
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(s.clone());
            }
        }
        drop(stripe);
        self.by_ref[(s.series_ref as usize) & (STRIPES - 1)]
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(s.series_ref, s.clone());
        (s, true)
    }

    /// Removes the given series.
    pub fn remove(&self, series: &[Arc<MemSeries>]) {
        for s in series {
            let hash = s.labels.stable_hash();
            let mut stripe = self.by_hash[(hash as usize) & (STRIPES - 1)]
                .write()
                .unwrap_or_else(|e| e.into_inner());
            let stripe = &mut *stripe;
            if stripe.first.get(&hash).is_some_and(|x| Arc::ptr_eq(x, s)) {
                // Promote a colliding series, if any, into the main map.
                let next = stripe.collisions.get_mut(&hash).and_then(|v| v.pop());
                match next {
                    Some(n) => {
                        stripe.first.insert(hash, n);
                    }
                    None => {
                        stripe.first.remove(&hash);
                    }
                }
            } else if let Some(v) = stripe.collisions.get_mut(&hash) {
                v.retain(|x| !Arc::ptr_eq(x, s));
            }
            if stripe.collisions.get(&hash).is_some_and(Vec::is_empty) {
                stripe.collisions.remove(&hash);
            }
            self.by_ref[(s.series_ref as usize) & (STRIPES - 1)]
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&s.series_ref);
        }
    }

    /// Calls `f` for every series (stripe by stripe; series added meanwhile may be missed).
    pub fn for_each(&self, mut f: impl FnMut(&Arc<MemSeries>)) {
        for stripe in self.by_ref.iter() {
            let all: Vec<Arc<MemSeries>> = stripe
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .values()
                .cloned()
                .collect();
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
        let (sa, _) = m.get_or_create(7, &a, || Arc::new(MemSeries::new(1, a.clone())));
        let (sb, created) = m.get_or_create(7, &b, || Arc::new(MemSeries::new(2, b.clone())));
        assert!(created);
        assert_eq!(m.get_by_labels(7, &a).unwrap().series_ref, 1);
        assert_eq!(m.get_by_labels(7, &b).unwrap().series_ref, 2);
        assert_eq!(m.get(2).unwrap().series_ref, sb.series_ref);
        drop((sa, sb));
    }
}
