//! Selecting series with label matchers: postings for matchers, and label names and
//! values restricted by matchers, with Prometheus' semantics (`tsdb/querier.go`).
//!
//! * A matcher that matches the empty string also selects series without the label:
//!   `a=""` keeps the series that lack `a`, `a!="x"` keeps those without `a` too.
//! * Matchers that must see the label set are intersected; the others are subtracted
//!   from that intersection (or from all series when there is nothing to intersect).
//! * `=` and literal alternations `=~"a|b"` look their values up directly; other regular
//!   expressions are tested once against each value of the label; `=~".*"` costs nothing.
//!
//! The basic lookups these build on are in `reader.rs`.

use std::collections::HashSet;

use crate::Result;
use crate::labels::{MatchType, Matcher};

use super::postings::{self, BigEndianPostings, BoxPostings, Postings, SeriesRef};
use super::reader::{IndexReader, union};

/// True for the pseudo matcher `""=""` that selects every series.
fn is_all_postings(m: &Matcher) -> bool {
    m.name().is_empty() && m.value().is_empty()
}

impl IndexReader {
    /// The series selected by all of `matchers`, in reference order. No matchers select
    /// nothing.
    pub fn postings_for_matchers(&self, matchers: &[Matcher]) -> Result<BoxPostings<'_>> {
        if let [m] = matchers
            && is_all_postings(m)
        {
            return self.all_postings();
        }
        // Names some matcher requires to be present (it does not match "").
        let must_be_set: HashSet<&str> = matchers
            .iter()
            .filter(|m| !m.matches_empty())
            .map(Matcher::name)
            .collect();
        let subtracting = |m: &Matcher| {
            !must_be_set.contains(m.name()) || (m.kind().is_negative() && m.matches_empty())
        };
        let mut its: Vec<BoxPostings<'_>> = Vec::new();
        let mut not_its: Vec<BoxPostings<'_>> = Vec::new();
        if matchers.iter().all(subtracting) && !matchers.is_empty() {
            its.push(self.all_postings()?);
        }
        // Intersecting matchers first, so the base of every subtraction is small.
        let ordered = matchers
            .iter()
            .filter(|m| !subtracting(m))
            .chain(matchers.iter().filter(|m| subtracting(m)));
        for m in ordered {
            let (kind, value) = (m.kind(), m.value());
            if is_all_postings(m) {
                its.push(self.all_postings()?);
            } else if kind == MatchType::Regexp && value == ".*" {
                // Matches every value and absence: no constraint.
            } else if kind == MatchType::NotRegexp && value == ".*" {
                return Ok(postings::empty());
            } else if kind == MatchType::Regexp && value == ".+" {
                let lists = self.lists_matching(m.name(), |_| true)?;
                if all_empty(&lists) {
                    return Ok(postings::empty());
                }
                its.push(union(lists));
            } else if kind == MatchType::NotRegexp && value == ".+" {
                not_its.push(union(self.lists_matching(m.name(), |_| true)?));
            } else if must_be_set.contains(m.name()) {
                let matches_empty = m.matches_empty();
                if kind.is_negative() && matches_empty {
                    // a!="x": drop the series with a="x".
                    not_its.push(union(self.lists_for_matcher(&m.inverse())?));
                } else if kind.is_negative() {
                    // a!="" or a!~"|x": keep the series whose value the inverse rejects.
                    let lists = self.inverse_lists_for_matcher(&m.inverse())?;
                    if all_empty(&lists) {
                        return Ok(postings::empty());
                    }
                    its.push(union(lists));
                } else {
                    let lists = self.lists_for_matcher(m)?;
                    if all_empty(&lists) {
                        return Ok(postings::empty());
                    }
                    its.push(union(lists));
                }
            } else {
                // Matches "": drop the series that have the label with a rejected value.
                not_its.push(union(self.inverse_lists_for_matcher(m)?));
            }
        }
        let mut it = postings::intersect(its);
        for n in not_its {
            it = postings::without(it, n);
        }
        Ok(it)
    }

    /// The lists of the values of `m`'s label that `m` accepts (never series without it).
    fn lists_for_matcher(&self, m: &Matcher) -> Result<Vec<BigEndianPostings<'_>>> {
        if let Some(values) = m.set_matches() {
            return self.lists_for(m.name(), &values);
        }
        self.lists_matching(m.name(), |v| m.matches(v))
    }

    /// The lists of the values of `m`'s label that `m` rejects.
    fn inverse_lists_for_matcher(&self, m: &Matcher) -> Result<Vec<BigEndianPostings<'_>>> {
        match m.kind() {
            MatchType::NotEqual => return self.lists_for(m.name(), &[m.value()]),
            MatchType::NotRegexp => {
                let inverse = m.inverse();
                if let Some(values) = inverse.set_matches() {
                    return self.lists_for(m.name(), &values);
                }
            }
            MatchType::Equal | MatchType::Regexp if m.value().is_empty() => {
                return self.lists_matching(m.name(), |_| true);
            }
            _ => {}
        }
        self.lists_matching(m.name(), |v| !m.matches(v))
    }

    /// The values of label `name` among the series selected by `matchers` (all values
    /// when there are none), sorted.
    pub fn label_values_matching(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<&str>> {
        let mut values = self.label_values(name)?;
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
        let selected = postings::collect(&mut *self.postings_for_matchers(matchers)?);
        let mut out = Vec::with_capacity(values.len());
        for v in values {
            for mut list in self.lists_for(name, &[v])? {
                if intersects(&selected, &mut list) {
                    out.push(v);
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The label names of the series selected by `matchers` (all names when there are
    /// none), sorted.
    pub fn label_names_matching(&self, matchers: &[Matcher]) -> Result<Vec<&str>> {
        if matchers.is_empty() {
            return Ok(self.label_names());
        }
        let mut p = self.postings_for_matchers(matchers)?;
        let mut refs: HashSet<u32> = HashSet::new();
        let mut scratch = Vec::new();
        while let Some(id) = p.next() {
            scratch.clear();
            self.series_name_refs(id, &mut scratch)?;
            refs.extend(scratch.iter().copied());
        }
        let mut names = refs
            .into_iter()
            .map(|r| self.symbol(r))
            .collect::<Result<Vec<_>>>()?;
        names.sort_unstable();
        Ok(names)
    }
}

fn all_empty(lists: &[BigEndianPostings<'_>]) -> bool {
    lists.iter().all(BigEndianPostings::is_empty)
}

/// True when the sorted `selected` and `list` share a reference (leapfrogging seeks).
fn intersects(selected: &[SeriesRef], list: &mut BigEndianPostings<'_>) -> bool {
    let mut i = 0;
    while let Some(&want) = selected.get(i) {
        let Some(got) = list.seek(want) else {
            return false;
        };
        if got == want {
            return true;
        }
        i += selected[i..].partition_point(|&s| s < got);
    }
    false
}
