//! Selecting a bucket block's series with label matchers, with Prometheus' semantics
//! (those of `IndexReader::postings_for_matchers` in `cortex_tsdb`), in two steps: a
//! [`PostingsPlan`] says from the index-header alone which postings lists to intersect
//! and which to subtract; [`PostingsPlan::resolve`] applies it to the lists once they
//! have been fetched.
//!
//! * A matcher that matches the empty string also selects series without the label.
//! * Matchers that must see their label are intersected; the others are subtracted
//!   from that intersection (from all series when nothing is intersected).
//! * `=` and literal alternations look their values up directly; other regular
//!   expressions and `!=` are tested against each value in the postings offset table
//!   (`postings_ranges_matching`); `=~".*"` costs nothing.
//!
//! Fetching the lists is `block.rs`'s job.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use bytes::Bytes;
use cortex_tsdb::index::postings::{self, BoxPostings, Postings, SeriesRef};
use cortex_tsdb::index_header::{IndexHeaderReader, PostingsRange, decode_postings};
use cortex_tsdb::labels::{MatchType, Matcher};

/// A union of postings lists (the lists of several values of one label).
pub type Union = Vec<PostingsRange>;

/// Which postings lists select the series of a set of matchers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostingsPlan {
    /// Unions to intersect.
    pub intersect: Vec<Union>,
    /// Unions to subtract from the intersection.
    pub subtract: Vec<Union>,
    /// True when the matchers select nothing, whatever the lists hold.
    pub empty: bool,
}

/// True for the pseudo matcher `""=""` that selects every series.
fn is_all_postings(m: &Matcher) -> bool {
    m.name().is_empty() && m.value().is_empty()
}

impl PostingsPlan {
    /// The plan for `matchers` over the block whose index-header is `h`. No matchers
    /// select every series.
    pub fn new(h: &IndexHeaderReader, matchers: &[Matcher]) -> cortex_tsdb::Result<PostingsPlan> {
        let all =
            || -> cortex_tsdb::Result<Union> { Ok(h.all_postings_range()?.into_iter().collect()) };
        let empty = || PostingsPlan {
            empty: true,
            ..Default::default()
        };
        let mut plan = PostingsPlan::default();
        if matchers.is_empty() || matches!(matchers, [m] if is_all_postings(m)) {
            plan.intersect.push(all()?);
            return Ok(plan);
        }
        let must_be_set: HashSet<&str> = matchers
            .iter()
            .filter(|m| !m.matches_empty())
            .map(Matcher::name)
            .collect();
        let subtracting = |m: &Matcher| {
            !must_be_set.contains(m.name()) || (m.kind().is_negative() && m.matches_empty())
        };
        if matchers.iter().all(subtracting) {
            plan.intersect.push(all()?);
        }
        let ordered = matchers
            .iter()
            .filter(|m| !subtracting(m))
            .chain(matchers.iter().filter(|m| subtracting(m)));
        for m in ordered {
            let (kind, value) = (m.kind(), m.value());
            if is_all_postings(m) {
                plan.intersect.push(all()?);
            } else if kind == MatchType::Regexp && value == ".*" {
                // Matches every value and absence: no constraint.
            } else if kind == MatchType::NotRegexp && value == ".*" {
                return Ok(empty());
            } else if kind == MatchType::Regexp && value == ".+" {
                let lists = matching(h, m.name(), |_| true)?;
                if lists.is_empty() {
                    return Ok(empty());
                }
                plan.intersect.push(lists);
            } else if kind == MatchType::NotRegexp && value == ".+" {
                plan.subtract.push(matching(h, m.name(), |_| true)?);
            } else if must_be_set.contains(m.name()) {
                let matches_empty = m.matches_empty();
                if kind.is_negative() && matches_empty {
                    // a!="x": drop the series with a="x".
                    plan.subtract.push(lists_for_matcher(h, &m.inverse())?);
                } else if kind.is_negative() {
                    // a!="" or a!~"|x": keep the series whose value the inverse rejects.
                    let lists = inverse_lists_for_matcher(h, &m.inverse())?;
                    if lists.is_empty() {
                        return Ok(empty());
                    }
                    plan.intersect.push(lists);
                } else {
                    let lists = lists_for_matcher(h, m)?;
                    if lists.is_empty() {
                        return Ok(empty());
                    }
                    plan.intersect.push(lists);
                }
            } else {
                // Matches "": drop the series that have the label with a rejected value.
                plan.subtract.push(inverse_lists_for_matcher(h, m)?);
            }
        }
        Ok(plan)
    }

    /// Every list the plan needs, sorted by offset, each once.
    pub fn ranges(&self) -> Vec<PostingsRange> {
        let set: BTreeSet<(u64, u64)> = self
            .intersect
            .iter()
            .chain(&self.subtract)
            .flatten()
            .map(|r| (r.start, r.end))
            .collect();
        set.into_iter()
            .map(|(start, end)| PostingsRange { start, end })
            .collect()
    }

    /// The selected series, in reference order, given the bytes of every list of
    /// [`PostingsPlan::ranges`] by start offset; `index` names the index in errors.
    pub fn resolve(
        &self,
        index: &Path,
        lists: &HashMap<u64, Bytes>,
    ) -> cortex_tsdb::Result<Vec<SeriesRef>> {
        if self.empty || self.intersect.is_empty() {
            return Ok(Vec::new());
        }
        let union = |u: &Union| -> cortex_tsdb::Result<BoxPostings<'_>> {
            let mut its: Vec<BoxPostings<'_>> = Vec::with_capacity(u.len());
            for r in u {
                let b = lists.get(&r.start).map_or(&[][..], |b| &b[..]);
                its.push(Box::new(decode_postings(index, *r, b)?));
            }
            Ok(postings::merge(its))
        };
        let mut its = Vec::with_capacity(self.intersect.len());
        for u in &self.intersect {
            its.push(union(u)?);
        }
        let mut it = postings::intersect(its);
        for u in &self.subtract {
            it = postings::without(it, union(u)?);
        }
        let mut out = Vec::new();
        while let Some(r) = it.next() {
            out.push(r);
        }
        Ok(out)
    }
}

/// The lists of the values of `name` for which `f` is true.
fn matching(
    h: &IndexHeaderReader,
    name: &str,
    f: impl FnMut(&str) -> bool,
) -> cortex_tsdb::Result<Union> {
    Ok(h.postings_ranges_matching(name, f)?
        .into_iter()
        .map(|(_, r)| r)
        .collect())
}

/// The lists of `values` of `name` that exist.
fn lists_for(h: &IndexHeaderReader, name: &str, values: &[&str]) -> cortex_tsdb::Result<Union> {
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        if let Some(r) = h.postings_range(name, v)? {
            out.push(r);
        }
    }
    Ok(out)
}

/// The lists of the values of `m`'s label that `m` accepts (never series without it).
fn lists_for_matcher(h: &IndexHeaderReader, m: &Matcher) -> cortex_tsdb::Result<Union> {
    if let Some(values) = m.set_matches() {
        return lists_for(h, m.name(), &values);
    }
    matching(h, m.name(), |v| m.matches(v))
}

/// The lists of the values of `m`'s label that `m` rejects.
fn inverse_lists_for_matcher(h: &IndexHeaderReader, m: &Matcher) -> cortex_tsdb::Result<Union> {
    match m.kind() {
        MatchType::NotEqual => return lists_for(h, m.name(), &[m.value()]),
        MatchType::NotRegexp => {
            let inverse = m.inverse();
            if let Some(values) = inverse.set_matches() {
                return lists_for(h, m.name(), &values);
            }
        }
        MatchType::Equal | MatchType::Regexp if m.value().is_empty() => {
            return matching(h, m.name(), |_| true);
        }
        _ => {}
    }
    matching(h, m.name(), |v| !m.matches(v))
}
