//! The head's series maps: by reference and by label-set hash, each split into stripes
//! with their own locks so concurrent appenders rarely meet.

use std::sync::{Arc, RwLock};

use rustc_hash::FxHashMap;

use super::series::MemSeries;
use crate::labels::Labels;

const STRIPES: usize = 1 << 12;

enum HashEntry {
    One(Arc<MemSeries>),
    Many(Vec<Arc<MemSeries>>),
}

/// Series by reference and by labels.
pub struct SeriesMap {
    by_ref: Box<[RwLock<FxHashMap<u64, Arc<MemSeries>>>]>,
    by_hash: Box<[RwLock<FxHashMap<u64, HashEntry>>]>,
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
    pub fn get(&self, r: u64) -> Option<Arc<MemSeries>> {
        self.by_ref[(r as usize) & (STRIPES - 1)]
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&r)
            .cloned()
    }

    /// The series with `labels` (whose stable hash is `hash`).
    pub fn get_by_labels(&self, hash: u64, labels: &Labels) -> Option<Arc<MemSeries>> {
        let stripe = self.by_hash[(hash as usize) & (STRIPES - 1)]
            .read()
            .unwrap_or_else(|e| e.into_inner());
        match stripe.get(&hash)? {
            HashEntry::One(s) => (s.labels == *labels).then(|| s.clone()),
            HashEntry::Many(v) => v.iter().find(|s| s.labels == *labels).cloned(),
        }
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
        let entry = stripe.get_mut(&hash);
        if let Some(e) = &entry {
            let found = match e {
                HashEntry::One(s) => (s.labels == *labels).then(|| s.clone()),
                HashEntry::Many(v) => v.iter().find(|s| s.labels == *labels).cloned(),
            };
            if let Some(s) = found {
                return (s, false);
            }
        }
        let s = create();
        match entry {
            None => {
                stripe.insert(hash, HashEntry::One(s.clone()));
            }
            Some(e) => {
                let prev = std::mem::replace(e, HashEntry::Many(Vec::new()));
                let mut v = match prev {
                    HashEntry::One(x) => vec![x],
                    HashEntry::Many(v) => v,
                };
                v.push(s.clone());
                *e = HashEntry::Many(v);
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
            let empty = match stripe.get_mut(&hash) {
                Some(HashEntry::One(x)) => Arc::ptr_eq(x, s),
                Some(HashEntry::Many(v)) => {
                    v.retain(|x| !Arc::ptr_eq(x, s));
                    v.is_empty()
                }
                None => false,
            };
            if empty {
                stripe.remove(&hash);
            }
            drop(stripe);
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
