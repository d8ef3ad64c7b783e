//! Postings: sorted lists of series references and the set algebra over them.
//!
//! A [`Postings`] is a forward-only cursor over strictly increasing [`SeriesRef`]s with two
//! moves: [`Postings::next`] and [`Postings::seek`]. Lists come from the index file
//! ([`BigEndianPostings`], decoded lazily from the mapped bytes, never copied) or from memory
//! ([`ListPostings`]), and combine without materialising: [`intersect`] (k-way leapfrog, each
//! step a galloping seek), [`merge`] (k-way union over a min-heap) and [`without`]
//! (subtraction). Iteration allocates nothing once a tree is built.
//!
//! Reading postings lists from the file and choosing them for matchers is not here: see
//! `reader.rs` and `matchers.rs`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A series reference: the offset of the series entry in the index divided by 16.
pub type SeriesRef = u64;

/// A forward-only cursor over strictly increasing series references.
///
/// A fresh cursor is positioned before the first element. Once either move returns `None`
/// the cursor is exhausted and every later move returns `None`.
pub trait Postings {
    /// Moves to the next element and returns it.
    fn next(&mut self) -> Option<SeriesRef>;

    /// Moves to the first element that is `>= target` and returns it. The current element
    /// counts: seeking to a target at or below it does not move the cursor.
    fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef>;
}

/// A postings cursor of any kind, borrowing at most `'a`.
pub type BoxPostings<'a> = Box<dyn Postings + Send + 'a>;

impl<P: Postings + ?Sized> Postings for Box<P> {
    #[inline]
    fn next(&mut self) -> Option<SeriesRef> {
        (**self).next()
    }

    #[inline]
    fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef> {
        (**self).seek(target)
    }
}

/// Drains a cursor into a vector.
pub fn collect(p: &mut dyn Postings) -> Vec<SeriesRef> {
    let mut out = Vec::new();
    while let Some(v) = p.next() {
        out.push(v);
    }
    out
}

/// First index `>= from` whose element is `>= target`: a short linear look first (most
/// seeks in an intersection move a few places within a cache line), then galloping —
/// probes at `+1, +2, +4, ...` and a binary search of the last gap — so long skips take
/// logarithmic time.
#[inline]
fn gallop<T: Copy>(len: usize, from: usize, target: u64, at: impl Fn(usize) -> T) -> usize
where
    u64: From<T>,
{
    const LINEAR: usize = 8;
    let linear_end = from.saturating_add(LINEAR).min(len);
    let mut i = from;
    while i < linear_end {
        if u64::from(at(i)) >= target {
            return i;
        }
        i += 1;
    }
    if i >= len {
        return len;
    }
    // Invariant: at(lo) < target.
    let mut lo = i - 1;
    let mut step = LINEAR;
    let hi = loop {
        let probe = lo.saturating_add(step);
        if probe >= len {
            break len;
        }
        if u64::from(at(probe)) >= target {
            break probe;
        }
        lo = probe;
        step = step.saturating_mul(2);
    };
    // Answer is in (lo, hi].
    let (mut l, mut h) = (lo + 1, hi);
    while l < h {
        let mid = l + (h - l) / 2;
        if u64::from(at(mid)) < target {
            l = mid + 1;
        } else {
            h = mid;
        }
    }
    l
}

/// A postings list as stored in the index: big-endian u32 references, read in place.
#[derive(Debug, Clone)]
pub struct BigEndianPostings<'a> {
    refs: &'a [[u8; 4]],
    /// Index of the next element to return from `next`.
    pos: usize,
    started: bool,
    done: bool,
}

impl<'a> BigEndianPostings<'a> {
    /// A cursor over `list`, whose length must be a multiple of 4 (trailing bytes are
    /// ignored; the reader checks the length before building one).
    pub fn new(list: &'a [u8]) -> BigEndianPostings<'a> {
        let (refs, _) = list.as_chunks::<4>();
        BigEndianPostings {
            refs,
            pos: 0,
            started: false,
            done: false,
        }
    }

    /// Number of references in the whole list.
    pub fn len(&self) -> usize {
        self.refs.len()
    }

    /// True when the list holds no references.
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    #[inline]
    fn at(&self, i: usize) -> u32 {
        u32::from_be_bytes(self.refs[i])
    }
}

impl Postings for BigEndianPostings<'_> {
    #[inline]
    fn next(&mut self) -> Option<SeriesRef> {
        if self.pos < self.refs.len() && !self.done {
            let v = self.at(self.pos);
            self.pos += 1;
            self.started = true;
            Some(u64::from(v))
        } else {
            self.done = true;
            None
        }
    }

    #[inline]
    fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef> {
        if self.done {
            return None;
        }
        if self.started {
            let cur = u64::from(self.at(self.pos - 1));
            if cur >= target {
                return Some(cur);
            }
        }
        let refs = self.refs;
        let i = gallop(refs.len(), self.pos, target, |i| {
            u32::from_be_bytes(refs[i])
        });
        self.pos = i;
        self.next()
    }
}

/// An owned, sorted postings list.
#[derive(Debug, Clone, Default)]
pub struct ListPostings {
    refs: Vec<SeriesRef>,
    pos: usize,
    started: bool,
    done: bool,
}

impl ListPostings {
    /// A cursor over `refs`, which must be strictly increasing.
    pub fn new(refs: Vec<SeriesRef>) -> ListPostings {
        ListPostings {
            refs,
            ..ListPostings::default()
        }
    }

    /// Number of references in the whole list.
    pub fn len(&self) -> usize {
        self.refs.len()
    }

    /// True when the list holds no references.
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }
}

impl Postings for ListPostings {
    #[inline]
    fn next(&mut self) -> Option<SeriesRef> {
        match self.refs.get(self.pos) {
            Some(&v) if !self.done => {
                self.pos += 1;
                self.started = true;
                Some(v)
            }
            _ => {
                self.done = true;
                None
            }
        }
    }

    #[inline]
    fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef> {
        if self.done {
            return None;
        }
        if self.started {
            let cur = self.refs[self.pos - 1];
            if cur >= target {
                return Some(cur);
            }
        }
        let refs = &self.refs;
        self.pos = gallop(refs.len(), self.pos, target, |i| refs[i]);
        self.next()
    }
}

/// The postings list with no elements.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyPostings;

impl Postings for EmptyPostings {
    fn next(&mut self) -> Option<SeriesRef> {
        None
    }

    fn seek(&mut self, _: SeriesRef) -> Option<SeriesRef> {
        None
    }
}

/// An empty postings cursor, boxed.
pub fn empty<'a>() -> BoxPostings<'a> {
    Box::new(EmptyPostings)
}

/// The references present in every one of `lists`. No lists intersect to nothing.
pub fn intersect(mut lists: Vec<BoxPostings<'_>>) -> BoxPostings<'_> {
    match lists.len() {
        0 => empty(),
        1 => lists.pop().unwrap_or_else(empty),
        _ => Box::new(Intersect {
            its: lists,
            done: false,
        }),
    }
}

struct Intersect<'a> {
    its: Vec<BoxPostings<'a>>,
    done: bool,
}

impl Intersect<'_> {
    /// Leapfrog: seek every list to the candidate; a list that lands past it raises the
    /// candidate and the round starts over. All lists agree when a round completes.
    fn converge(&mut self, mut target: SeriesRef) -> Option<SeriesRef> {
        'round: loop {
            for it in self.its.iter_mut() {
                let Some(v) = it.seek(target) else {
                    self.done = true;
                    return None;
                };
                if v != target {
                    target = v;
                    continue 'round;
                }
            }
            return Some(target);
        }
    }
}

impl Postings for Intersect<'_> {
    fn next(&mut self) -> Option<SeriesRef> {
        if self.done {
            return None;
        }
        let Some(first) = self.its.first_mut().and_then(|it| it.next()) else {
            self.done = true;
            return None;
        };
        self.converge(first)
    }

    fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef> {
        if self.done {
            return None;
        }
        self.converge(target)
    }
}

/// The references present in any of `lists`, each once. No lists merge to nothing.
pub fn merge(mut lists: Vec<BoxPostings<'_>>) -> BoxPostings<'_> {
    match lists.len() {
        0 => empty(),
        1 => lists.pop().unwrap_or_else(empty),
        _ => Box::new(Merge {
            heap: BinaryHeap::with_capacity(lists.len()),
            its: lists,
            cur: None,
            started: false,
        }),
    }
}

struct Merge<'a> {
    its: Vec<BoxPostings<'a>>,
    /// The current element of every list that is not exhausted, smallest on top.
    heap: BinaryHeap<Reverse<(SeriesRef, usize)>>,
    cur: Option<SeriesRef>,
    started: bool,
}

impl Merge<'_> {
    /// Positions every list with `mv` the first time, building the heap.
    fn start(&mut self, mut mv: impl FnMut(&mut BoxPostings<'_>) -> Option<SeriesRef>) {
        self.started = true;
        for (i, it) in self.its.iter_mut().enumerate() {
            if let Some(v) = mv(it) {
                self.heap.push(Reverse((v, i)));
            }
        }
    }
}

impl Postings for Merge<'_> {
    fn next(&mut self) -> Option<SeriesRef> {
        if !self.started {
            self.start(|it| it.next());
        } else {
            let cur = self.cur?;
            // Advance every list that sits on the current element.
            while let Some(&Reverse((v, i))) = self.heap.peek() {
                if v != cur {
                    break;
                }
                self.heap.pop();
                if let Some(n) = self.its.get_mut(i).and_then(|it| it.next()) {
                    self.heap.push(Reverse((n, i)));
                }
            }
        }
        self.cur = self.heap.peek().map(|r| r.0.0);
        self.cur
    }

    fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef> {
        if !self.started {
            self.start(|it| it.seek(target));
        } else {
            let cur = self.cur?;
            if cur >= target {
                return Some(cur);
            }
            while let Some(&Reverse((v, i))) = self.heap.peek() {
                if v >= target {
                    break;
                }
                self.heap.pop();
                if let Some(n) = self.its.get_mut(i).and_then(|it| it.seek(target)) {
                    self.heap.push(Reverse((n, i)));
                }
            }
        }
        self.cur = self.heap.peek().map(|r| r.0.0);
        self.cur
    }
}

/// The references of `full` that are not in `drop`.
pub fn without<'a>(full: BoxPostings<'a>, drop: BoxPostings<'a>) -> BoxPostings<'a> {
    Box::new(Without {
        full,
        drop,
        drop_done: false,
    })
}

struct Without<'a> {
    full: BoxPostings<'a>,
    drop: BoxPostings<'a>,
    drop_done: bool,
}

impl Without<'_> {
    fn keep(&mut self, v: SeriesRef) -> bool {
        if self.drop_done {
            return true;
        }
        match self.drop.seek(v) {
            Some(d) => d != v,
            None => {
                self.drop_done = true;
                true
            }
        }
    }

    fn from(&mut self, mut v: Option<SeriesRef>) -> Option<SeriesRef> {
        loop {
            let x = v?;
            if self.keep(x) {
                return Some(x);
            }
            v = self.full.next();
        }
    }
}

impl Postings for Without<'_> {
    fn next(&mut self) -> Option<SeriesRef> {
        let v = self.full.next();
        self.from(v)
    }

    fn seek(&mut self, target: SeriesRef) -> Option<SeriesRef> {
        let v = self.full.seek(target);
        self.from(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn list(v: &[u64]) -> BoxPostings<'static> {
        Box::new(ListPostings::new(v.to_vec()))
    }

    fn be_bytes(v: &[u64]) -> Vec<u8> {
        v.iter().flat_map(|&x| (x as u32).to_be_bytes()).collect()
    }

    #[test]
    fn big_endian_list_reads_in_place_and_seeks() {
        let bytes = be_bytes(&[1, 5, 9, 100, 1000]);
        let mut p = BigEndianPostings::new(&bytes);
        assert_eq!(p.len(), 5);
        assert_eq!(p.seek(0), Some(1));
        assert_eq!(p.seek(1), Some(1), "seeking to the current element stays");
        assert_eq!(p.next(), Some(5));
        assert_eq!(p.seek(6), Some(9));
        assert_eq!(p.seek(2), Some(9), "seeking backwards stays");
        assert_eq!(p.seek(101), Some(1000));
        assert_eq!(p.seek(1001), None);
        assert_eq!(p.seek(0), None, "exhausted stays exhausted");
        assert_eq!(p.next(), None);
    }

    #[test]
    fn intersection_of_nothing_is_empty() {
        assert_eq!(collect(&mut *intersect(vec![])), Vec::<u64>::new());
        assert_eq!(collect(&mut *merge(vec![])), Vec::<u64>::new());
    }

    #[test]
    fn set_operations_on_small_lists() {
        let a = [1, 2, 3, 5, 8, 13, 21];
        let b = [2, 3, 5, 7, 11, 13];
        let c = [3, 13, 20];
        assert_eq!(
            collect(&mut *intersect(vec![list(&a), list(&b), list(&c)])),
            vec![3, 13]
        );
        assert_eq!(
            collect(&mut *merge(vec![list(&a), list(&b), list(&c)])),
            vec![1, 2, 3, 5, 7, 8, 11, 13, 20, 21]
        );
        assert_eq!(collect(&mut *without(list(&a), list(&b))), vec![1, 8, 21]);
        assert_eq!(collect(&mut *without(list(&a), list(&[]))), a.to_vec());
    }

    #[test]
    fn seek_through_combinators() {
        let mut p = merge(vec![list(&[1, 10, 20]), list(&[5, 15, 25])]);
        assert_eq!(p.seek(11), Some(15));
        assert_eq!(p.seek(12), Some(15));
        assert_eq!(p.next(), Some(20));
        assert_eq!(p.seek(26), None);
        let mut p = intersect(vec![list(&[1, 4, 8, 12]), list(&[4, 8, 12])]);
        assert_eq!(p.seek(5), Some(8));
        assert_eq!(p.next(), Some(12));
        assert_eq!(p.next(), None);
        let mut p = without(list(&[1, 2, 3, 4]), list(&[3]));
        assert_eq!(p.seek(3), Some(4));
    }

    fn sorted_set() -> impl Strategy<Value = Vec<u64>> {
        prop::collection::btree_set(0u64..400, 0..80).prop_map(|s| s.into_iter().collect())
    }

    proptest! {
        #[test]
        fn combinators_agree_with_set_algebra(
            lists in prop::collection::vec(sorted_set(), 1..5),
            seeks in prop::collection::vec(0u64..400, 0..10),
        ) {
            let sets: Vec<BTreeSet<u64>> =
                lists.iter().map(|l| l.iter().copied().collect()).collect();
            let mut inter = sets[0].clone();
            let mut union = BTreeSet::new();
            for s in &sets {
                inter = inter.intersection(s).copied().collect();
                union.extend(s.iter().copied());
            }
            let diff: BTreeSet<u64> = sets[0]
                .iter()
                .filter(|v| !sets.get(1).is_some_and(|s| s.contains(v)))
                .copied()
                .collect();
            let build_i = || intersect(lists.iter().map(|l| list(l)).collect());
            let build_m = || merge(lists.iter().map(|l| list(l)).collect());
            let build_w = || without(
                list(&lists[0]),
                list(lists.get(1).map(Vec::as_slice).unwrap_or(&[])),
            );
            prop_assert_eq!(collect(&mut *build_i()), inter.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(collect(&mut *build_m()), union.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(collect(&mut *build_w()), diff.iter().copied().collect::<Vec<_>>());

            // Interleaved seeks and nexts behave like a cursor over the expected set.
            let mut sorted_seeks = seeks.clone();
            sorted_seeks.sort_unstable();
            for (expect, mut p) in [(inter, build_i()), (union, build_m()), (diff, build_w())] {
                let mut cur: Option<u64> = None;
                for &t in &sorted_seeks {
                    let want = match cur {
                        Some(c) if c >= t => Some(c),
                        _ => expect.range(t..).next().copied(),
                    };
                    let got = p.seek(t);
                    prop_assert_eq!(got, want);
                    if got.is_none() { break; }
                    cur = got;
                    let want_next = expect.range(cur.unwrap() + 1..).next().copied();
                    let got_next = p.next();
                    prop_assert_eq!(got_next, want_next);
                    if got_next.is_none() { break; }
                    cur = got_next;
                }
            }
        }

        #[test]
        fn big_endian_and_owned_lists_agree(
            refs in sorted_set(),
            targets in prop::collection::vec(0u64..420, 0..20),
        ) {
            let bytes = be_bytes(&refs);
            let mut targets = targets;
            targets.sort_unstable();
            let mut a = BigEndianPostings::new(&bytes);
            let mut b = ListPostings::new(refs.clone());
            for t in targets {
                prop_assert_eq!(a.seek(t), b.seek(t));
                prop_assert_eq!(a.next(), b.next());
            }
        }
    }
}
