//! The head's inverted index: for every label name and value, the set of series that
//! carry it, as a compressed bitmap, plus the set of all series.
//!
//! Series references only grow, so additions land at the end of each bitmap; removal
//! happens in bulk when the head drops series it no longer needs. Lookups return owned
//! bitmaps (cheap to combine with the bitmap operations a matcher query needs), taken
//! under a read lock so appends of new series are not blocked for long.

use std::sync::RwLock;

use roaring::RoaringTreemap;
use rustc_hash::FxHashMap;

use crate::labels::{Labels, MatchType, Matcher};

/// Label name → label value → series references.
#[derive(Default)]
pub struct MemPostings {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    by_name: FxHashMap<Box<str>, FxHashMap<Box<str>, RoaringTreemap>>,
    all: RoaringTreemap,
}

impl MemPostings {
    /// Adds series `r` with `labels`.
    pub fn add(&self, r: u64, labels: &Labels) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.all.insert(r);
        for l in labels.iter() {
            let values = match inner.by_name.get_mut(l.name) {
                Some(v) => v,
                None => inner.by_name.entry(l.name.into()).or_default(),
            };
            match values.get_mut(l.value) {
                Some(bm) => {
                    bm.insert(r);
                }
                None => {
                    let mut bm = RoaringTreemap::new();
                    bm.insert(r);
                    values.insert(l.value.into(), bm);
                }
            }
        }
    }

    /// Removes the series in `refs`, which had the given labels.
    pub fn remove(&self, removed: &[(u64, Labels)]) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        for (r, labels) in removed {
            inner.all.remove(*r);
            for l in labels.iter() {
                let Some(values) = inner.by_name.get_mut(l.name) else {
                    continue;
                };
                if let Some(bm) = values.get_mut(l.value) {
                    bm.remove(*r);
                    if bm.is_empty() {
                        values.remove(l.value);
                    }
                }
                if values.is_empty() {
                    inner.by_name.remove(l.name);
                }
            }
        }
    }

    /// How many series carry the label `name="value"`.
    pub fn count(&self, name: &str, value: &str) -> u64 {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_name
            .get(name)
            .and_then(|values| values.get(value))
            .map_or(0, RoaringTreemap::len)
    }

    /// Every series.
    pub fn all(&self) -> RoaringTreemap {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .all
            .clone()
    }

    /// Number of series.
    pub fn len(&self) -> u64 {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .all
            .len()
    }

    /// True when there are no series.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Label names in byte order.
    pub fn label_names(&self) -> Vec<String> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<String> = inner.by_name.keys().map(|k| k.to_string()).collect();
        names.sort_unstable();
        names
    }

    /// Values of `name` in byte order.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let mut values: Vec<String> = inner
            .by_name
            .get(name)
            .map(|v| v.keys().map(|k| k.to_string()).collect())
            .unwrap_or_default();
        values.sort_unstable();
        values
    }

    /// The series matching all `matchers`, with Prometheus semantics: a matcher that
    /// matches the empty string also selects series without the label, negative matchers
    /// subtract, and a selector of only negative or empty-matching matchers starts from
    /// every series.
    pub fn for_matchers(&self, matchers: &[Matcher]) -> RoaringTreemap {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let mut result: Option<RoaringTreemap> = None;
        let mut subtract = RoaringTreemap::new();
        // Positive, non-empty-matching matchers first: they shrink the set fastest.
        let mut ordered: Vec<&Matcher> = matchers.iter().collect();
        ordered.sort_by_key(|m| (m.matches_empty(), m.kind().is_negative()));
        for m in ordered {
            if result.as_ref().is_some_and(RoaringTreemap::is_empty) {
                break;
            }
            if m.matches_empty() {
                // Selects series without the label too: remove the series whose value
                // for the label does not match.
                let values = inner.by_name.get(m.name());
                if let Some(values) = values {
                    for (v, bm) in values {
                        if !m.matches(v) {
                            subtract |= bm;
                        }
                    }
                }
                continue;
            }
            let set = match (m.kind(), m.set_matches()) {
                (MatchType::NotEqual | MatchType::NotRegexp, _) => {
                    // A negative matcher that does not match "" means the label must be
                    // present with a matching value.
                    matching_values(&inner, m)
                }
                (_, Some(values)) => {
                    let mut bm = RoaringTreemap::new();
                    if let Some(vals) = inner.by_name.get(m.name()) {
                        for v in values {
                            if let Some(b) = vals.get(v) {
                                bm |= b;
                            }
                        }
                    }
                    bm
                }
                _ => matching_values(&inner, m),
            };
            result = Some(match result {
                None => set,
                Some(r) => r & set,
            });
        }
        let mut result = result.unwrap_or_else(|| inner.all.clone());
        result -= subtract;
        result
    }
}

fn matching_values(inner: &Inner, m: &Matcher) -> RoaringTreemap {
    let mut bm = RoaringTreemap::new();
    if let Some(values) = inner.by_name.get(m.name()) {
        for (v, b) in values {
            if m.matches(v) {
                bm |= b;
            }
        }
    }
    bm
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    fn m(kind: MatchType, n: &str, v: &str) -> Matcher {
        Matcher::new(kind, n, v).unwrap()
    }

    #[test]
    fn matchers_follow_prometheus_semantics() {
        let p = MemPostings::default();
        let series = [
            ls(&[("__name__", "up"), ("job", "a")]),
            ls(&[("__name__", "up"), ("job", "b"), ("env", "prod")]),
            ls(&[("__name__", "down"), ("job", "a"), ("env", "")]),
            ls(&[("__name__", "up")]),
        ];
        for (i, s) in series.iter().enumerate() {
            p.add(i as u64 + 1, s);
        }
        // Brute force: a matcher applies to each series' value ("" when absent).
        let pool = [
            m(MatchType::Equal, "__name__", "up"),
            m(MatchType::NotEqual, "job", "a"),
            m(MatchType::Equal, "job", ""),
            m(MatchType::NotEqual, "env", ""),
            m(MatchType::Regexp, "job", "a|b"),
            m(MatchType::Regexp, "job", ".*"),
            m(MatchType::NotRegexp, "job", "b.*"),
            m(MatchType::Regexp, "env", "pr.*"),
            m(MatchType::Equal, "nope", "x"),
        ];
        for a in &pool {
            for b in &pool {
                let ms = [a.clone(), b.clone()];
                let want: Vec<u64> = series
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| ms.iter().all(|m| m.matches(s.get(m.name()).unwrap_or(""))))
                    .map(|(i, _)| i as u64 + 1)
                    .collect();
                let got: Vec<u64> = p.for_matchers(&ms).iter().collect();
                assert_eq!(got, want, "{ms:?}");
            }
        }
    }

    #[test]
    fn removal_drops_empty_values_and_names() {
        let p = MemPostings::default();
        p.add(1, &ls(&[("a", "1"), ("b", "x")]));
        p.add(2, &ls(&[("a", "1")]));
        p.remove(&[(1, ls(&[("a", "1"), ("b", "x")]))]);
        assert_eq!(p.label_names(), vec!["a"]);
        assert_eq!(p.all().iter().collect::<Vec<_>>(), vec![2]);
    }
}
