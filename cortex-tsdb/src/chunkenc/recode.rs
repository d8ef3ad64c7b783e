//! Bucket layout arithmetic for histogram chunks: walking the bucket indices that spans
//! describe, working out which buckets must be inserted when a histogram's layout differs
//! from its chunk's (Prometheus' "forward" inserts widen the chunk, "backward" inserts
//! widen the histogram), and applying inserts to bucket lists and spans.
//!
//! All of a chunk's samples share one layout, so when a new bucket appears Prometheus
//! re-encodes the chunk with the bucket added as zero in every earlier sample (recoding),
//! and when a histogram lacks a bucket the chunk has, the histogram gets a zero there.
//! These functions are the pure part of that; the chunk appenders decide when to use them.

use crate::histogram::Span;

/// Where empty buckets must be inserted into a bucket list: `num` buckets before the
/// bucket at position `pos` of the original list (or at its end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Insert {
    pub(crate) pos: usize,
    pub(crate) num: usize,
    /// Bucket index (in the schema's numbering) of the first inserted bucket.
    pub(crate) bucket_idx: i64,
}

impl Insert {
    /// Position in the original bucket list before which the buckets go.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// How many buckets to insert.
    pub fn num(&self) -> usize {
        self.num
    }
}

/// Prometheus' verdict on appending a gauge histogram (integer or float) to a chunk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GaugeAppendable {
    /// Buckets to add to the chunk's positive layout (the chunk must be recoded).
    pub positive_inserts: Vec<Insert>,
    /// Buckets to add to the chunk's negative layout.
    pub negative_inserts: Vec<Insert>,
    /// Chunk buckets the histogram lacks in its positive layout, to add to it as zeros.
    pub backward_positive_inserts: Vec<Insert>,
    /// Chunk buckets the histogram lacks in its negative layout.
    pub backward_negative_inserts: Vec<Insert>,
    /// The union of both positive layouts.
    pub positive_spans: Vec<Span>,
    /// The union of both negative layouts.
    pub negative_spans: Vec<Span>,
    /// Whether the histogram can join the chunk (possibly after recoding).
    pub ok: bool,
}

/// Total number of buckets the spans describe.
pub(crate) fn count_spans(spans: &[Span]) -> usize {
    spans.iter().map(|s| s.length as usize).sum()
}

/// Yields the bucket indices spans describe, in order.
#[derive(Debug, Clone)]
pub(crate) struct BucketIndices<'a> {
    spans: &'a [Span],
    span: usize,
    /// Position within the current span of the last yielded bucket.
    bucket: i64,
    /// Index of the last yielded bucket.
    idx: i64,
}

impl<'a> BucketIndices<'a> {
    pub(crate) fn new(spans: &'a [Span]) -> BucketIndices<'a> {
        let idx = spans.first().map_or(-1, |s| i64::from(s.offset) - 1);
        BucketIndices {
            spans,
            span: 0,
            bucket: -1,
            idx,
        }
    }
}

impl Iterator for BucketIndices<'_> {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        let cur = self.spans.get(self.span)?;
        if self.bucket < i64::from(cur.length) - 1 {
            self.bucket += 1;
            self.idx = self.idx.wrapping_add(1);
            return Some(self.idx);
        }
        while self.span + 1 < self.spans.len() {
            self.span += 1;
            let s = self.spans[self.span];
            self.idx = self.idx.wrapping_add(i64::from(s.offset) + 1);
            self.bucket = 0;
            if s.length == 0 {
                self.idx = self.idx.wrapping_sub(1);
                continue;
            }
            return Some(self.idx);
        }
        None
    }
}

/// True when both span lists describe the same bucket indices.
pub(crate) fn same_buckets(a: &[Span], b: &[Span]) -> bool {
    a == b || BucketIndices::new(a).eq(BucketIndices::new(b))
}

/// Bucket count types: integer deltas (wrapping like Go's int64) and float counts.
pub(crate) trait BucketValue: Copy + PartialOrd {
    const ZERO: Self;
    fn plus(self, other: Self) -> Self;
    fn negated(self) -> Self;
}

impl BucketValue for i64 {
    const ZERO: i64 = 0;
    fn plus(self, other: i64) -> i64 {
        self.wrapping_add(other)
    }
    fn negated(self) -> i64 {
        self.wrapping_neg()
    }
}

impl BucketValue for f64 {
    const ZERO: f64 = 0.0;
    fn plus(self, other: f64) -> f64 {
        self + other
    }
    fn negated(self) -> f64 {
        -self
    }
}

/// Accumulates consecutive inserts while walking bucket indices.
#[derive(Default)]
struct InsertRun {
    current: Insert,
}

impl InsertRun {
    /// Notes one bucket at `bucket_idx` to insert before the current position.
    fn add(&mut self, out: &mut Vec<Insert>, bucket_idx: i64) {
        if self.current.num == 0 {
            self.current.bucket_idx = bucket_idx;
        } else if self
            .current
            .bucket_idx
            .wrapping_add(self.current.num as i64)
            != bucket_idx
        {
            out.push(self.current);
            self.current.num = 0;
            self.current.bucket_idx = bucket_idx;
        }
        self.current.num += 1;
    }

    /// Closes the run before the position advances.
    fn flush(&mut self, out: &mut Vec<Insert>) {
        if self.current.num > 0 {
            out.push(self.current);
            self.current.num = 0;
        }
    }
}

/// For a counter histogram `b` arriving at a chunk with layout `a`: the inserts that widen
/// `a` to also cover buckets only `b` has (forward), and those that widen `b` with buckets
/// only `a` has, which is allowed only where `a`'s count is zero (backward). `None` when a
/// bucket count went down or a bucket in use disappeared: a counter reset.
///
/// With `cumulative`, bucket values are deltas (integer histograms) and counts are their
/// running sums; otherwise they are absolute counts (float histograms).
pub(crate) fn expand_spans_and_buckets<T: BucketValue>(
    a: &[Span],
    b: &[Span],
    a_buckets: &[T],
    b_buckets: &[T],
    cumulative: bool,
) -> Option<(Vec<Insert>, Vec<Insert>)> {
    let mut ai = BucketIndices::new(a);
    let mut bi = BucketIndices::new(b);
    let mut forward = Vec::new();
    let mut backward = Vec::new();
    let mut a_run = InsertRun::default();
    let mut b_run = InsertRun::default();

    let value = |buckets: &[T], i: usize| buckets.get(i).copied().unwrap_or(T::ZERO);
    let step = |count: T, v: T| if cumulative { count.plus(v) } else { v };

    let mut a_idx = ai.next();
    let mut b_idx = bi.next();
    let (mut a_pos, mut b_pos) = (0usize, 0usize);
    let mut a_count = if a_idx.is_some() {
        value(a_buckets, 0)
    } else {
        T::ZERO
    };
    let mut b_count = if b_idx.is_some() {
        value(b_buckets, 0)
    } else {
        T::ZERO
    };

    macro_rules! advance_a {
        () => {
            a_run.flush(&mut forward);
            a_idx = ai.next();
            a_run.current.pos += 1;
            a_pos += 1;
            if a_idx.is_some() {
                a_count = step(a_count, value(a_buckets, a_pos));
            }
        };
    }
    macro_rules! advance_b {
        () => {
            b_run.flush(&mut backward);
            b_idx = bi.next();
            b_run.current.pos += 1;
            b_pos += 1;
            if b_idx.is_some() {
                b_count = step(b_count, value(b_buckets, b_pos));
            }
        };
    }

    loop {
        match (a_idx, b_idx) {
            (Some(ax), Some(bx)) if ax == bx => {
                if a_count > b_count {
                    return None;
                }
                advance_a!();
                advance_b!();
            }
            (Some(ax), Some(bx)) if ax < bx => {
                // `b` lacks a bucket `a` has: fine only if it is empty in `a`.
                if a_count != T::ZERO {
                    return None;
                }
                b_run.add(&mut backward, ax);
                advance_a!();
            }
            (Some(ax), None) => {
                if a_count != T::ZERO {
                    return None;
                }
                b_run.add(&mut backward, ax);
                advance_a!();
            }
            (_, Some(bx)) => {
                // `a` lacks a bucket `b` has.
                a_run.add(&mut forward, bx);
                advance_b!();
            }
            (None, None) => {
                a_run.flush(&mut forward);
                b_run.flush(&mut backward);
                return Some((forward, backward));
            }
        }
    }
}

/// For gauge histograms, where buckets may come and go freely: the forward inserts that
/// widen `a` with buckets only `b` has, the backward inserts that widen `b` with buckets
/// only `a` has, and the spans of the union.
pub fn expand_spans_both_ways(a: &[Span], b: &[Span]) -> (Vec<Insert>, Vec<Insert>, Vec<Span>) {
    let mut ai = BucketIndices::new(a);
    let mut bi = BucketIndices::new(b);
    let mut forward = Vec::new();
    let mut backward = Vec::new();
    let mut merged = SpanBuilder::default();
    let mut f = Insert::default();
    let mut bw = Insert::default();

    let mut av = ai.next();
    let mut bv = bi.next();
    loop {
        match (av, bv) {
            (Some(x), Some(y)) if x == y => {
                if f.num > 0 {
                    forward.push(f);
                    f.num = 0;
                }
                if bw.num > 0 {
                    backward.push(bw);
                    bw.num = 0;
                }
                merged.add(x);
                av = ai.next();
                bv = bi.next();
                f.pos += 1;
                bw.pos += 1;
            }
            (Some(x), Some(_)) | (Some(x), None) if bv.is_none_or(|y| x < y) => {
                // `b` lacks a bucket `a` has.
                bw.num += 1;
                if f.num > 0 {
                    forward.push(f);
                    f.num = 0;
                }
                merged.add(x);
                f.pos += 1;
                av = ai.next();
            }
            (_, Some(y)) => {
                // `a` lacks a bucket `b` has.
                f.num += 1;
                if bw.num > 0 {
                    backward.push(bw);
                    bw.num = 0;
                }
                merged.add(y);
                bw.pos += 1;
                bv = bi.next();
            }
            _ => {
                if f.num > 0 {
                    forward.push(f);
                }
                if bw.num > 0 {
                    backward.push(bw);
                }
                return (forward, backward, merged.spans);
            }
        }
    }
}

/// Builds spans from ascending bucket indices.
#[derive(Default)]
struct SpanBuilder {
    spans: Vec<Span>,
    last: i64,
}

impl SpanBuilder {
    fn add(&mut self, bucket: i64) {
        let offset = bucket.wrapping_sub(self.last).wrapping_sub(1);
        match self.spans.last_mut() {
            Some(s) if offset == 0 => s.length += 1,
            _ => {
                let offset = if self.spans.is_empty() {
                    offset + 1
                } else {
                    offset
                };
                self.spans.push(Span {
                    offset: offset as i32,
                    length: 1,
                });
            }
        }
        self.last = bucket;
    }
}

/// The bucket list `input` with empty buckets inserted as `inserts` say. For delta-encoded
/// lists (`deltas`), the inserted buckets and the one after each run get the deltas that
/// keep every original bucket's absolute count; otherwise zeros are inserted.
pub(crate) fn insert<T: BucketValue>(input: &[T], inserts: &[Insert], deltas: bool) -> Vec<T> {
    let extra: usize = inserts.iter().map(|i| i.num).sum();
    let mut out = Vec::with_capacity(input.len() + extra);
    let mut v = T::ZERO; // absolute value of the last original bucket
    let mut ii = 0;
    for (i, &d) in input.iter().enumerate() {
        if inserts.get(ii).is_none_or(|ins| ins.pos != i) {
            out.push(d);
            v = v.plus(d);
            continue;
        }
        let mut first = true;
        while let Some(ins) = inserts.get(ii).filter(|ins| ins.pos == i) {
            // The first inserted bucket brings the running value down to 0.
            out.push(if deltas && first {
                v.negated()
            } else {
                T::ZERO
            });
            first = false;
            out.extend(std::iter::repeat_n(T::ZERO, ins.num.saturating_sub(1)));
            ii += 1;
        }
        // The original bucket now follows a 0 instead of `v`.
        out.push(if deltas { d.plus(v) } else { d });
        v = v.plus(d);
    }
    // Empty buckets after the last original one.
    for ins in inserts.get(ii..).unwrap_or_default() {
        out.push(if deltas { v.negated() } else { T::ZERO });
        out.extend(std::iter::repeat_n(T::ZERO, ins.num.saturating_sub(1)));
        v = T::ZERO;
    }
    out
}

/// `spans` widened by the buckets `inserts` (from [`expand_spans_and_buckets`]) add.
pub(crate) fn adjust_for_inserts(spans: &[Span], inserts: &[Insert]) -> Vec<Span> {
    let Some(first) = inserts.first() else {
        return spans.to_vec();
    };
    let mut merged = SpanBuilder::default();
    let mut i = 0;
    let mut insert_idx = first.bucket_idx;
    let mut insert_num = first.num;
    let consume = |i: &mut usize, insert_idx: &mut i64, insert_num: &mut usize| {
        *insert_num = insert_num.saturating_sub(1);
        if *insert_num == 0 {
            *i += 1;
            if let Some(next) = inserts.get(*i) {
                *insert_idx = next.bucket_idx;
                *insert_num = next.num;
            }
        } else {
            *insert_idx += 1;
        }
    };
    let mut it = BucketIndices::new(spans);
    let mut bucket = it.next();
    while let Some(b) = bucket {
        if i < inserts.len() && insert_idx < b {
            merged.add(insert_idx);
            consume(&mut i, &mut insert_idx, &mut insert_num);
        } else {
            merged.add(b);
            bucket = it.next();
        }
    }
    while i < inserts.len() {
        merged.add(insert_idx);
        consume(&mut i, &mut insert_idx, &mut insert_num);
    }
    merged.spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(v: &[(i32, u32)]) -> Vec<Span> {
        v.iter()
            .map(|&(offset, length)| Span { offset, length })
            .collect()
    }

    fn ins(pos: usize, num: usize, bucket_idx: i64) -> Insert {
        Insert {
            pos,
            num,
            bucket_idx,
        }
    }

    #[test]
    fn bucket_indices_follow_offsets_and_skip_empty_spans() {
        let s = spans(&[(-2, 2), (1, 3), (0, 0), (2, 1)]);
        let got: Vec<i64> = BucketIndices::new(&s).collect();
        assert_eq!(got, vec![-2, -1, 1, 2, 3, 6]);
        assert_eq!(BucketIndices::new(&[]).count(), 0);
        assert!(same_buckets(&spans(&[(0, 2)]), &spans(&[(0, 1), (0, 1)])));
        assert!(!same_buckets(&spans(&[(0, 2)]), &spans(&[(0, 1), (1, 1)])));
    }

    // The worked example from Prometheus' documentation of expandIntSpansAndBuckets:
    // buckets 0,1,4,8,9,13,15 gain 2,6,7,14.
    #[test]
    fn forward_inserts_for_new_buckets() {
        let a = spans(&[(0, 2), (2, 1), (3, 2), (3, 1), (1, 1)]);
        let b = spans(&[(0, 3), (1, 1), (1, 4), (3, 3)]);
        let a_deltas = [6i64, -3, 0, -1, 2, 1, -4];
        let b_abs = [6i64, 3, 0, 3, 0, 0, 2, 4, 5, 0, 1];
        let mut b_deltas = Vec::new();
        let mut prev = 0;
        for v in b_abs {
            b_deltas.push(v - prev);
            prev = v;
        }
        let (fwd, bwd) = expand_spans_and_buckets(&a, &b, &a_deltas, &b_deltas, true).unwrap();
        assert_eq!(fwd, vec![ins(2, 1, 2), ins(3, 2, 6), ins(6, 1, 14)]);
        assert!(bwd.is_empty());
        // Recoding the old deltas gives the new layout with zeros in the new buckets.
        let recoded = insert(&a_deltas, &fwd, true);
        assert_eq!(recoded, vec![6, -3, -3, 3, -3, 0, 2, 2, 1, -5, 1]);
    }

    #[test]
    fn dropped_bucket_in_use_is_a_counter_reset_and_empty_one_a_backward_insert() {
        let a = spans(&[(0, 3)]);
        let b = spans(&[(0, 1), (1, 1)]); // lacks bucket 1
        assert!(expand_spans_and_buckets(&a, &b, &[1i64, 1, 0], &[5, 0], true).is_none());
        // Bucket 1 is empty (absolute counts 1, 0, 2): backward insert into `b`.
        let (fwd, bwd) =
            expand_spans_and_buckets(&a, &b, &[1.0f64, 0.0, 2.0], &[1.0, 3.0], false).unwrap();
        assert!(fwd.is_empty());
        assert_eq!(bwd, vec![ins(1, 1, 1)]);
        assert_eq!(adjust_for_inserts(&b, &bwd), spans(&[(0, 3)]));
        assert_eq!(insert(&[1.0f64, 3.0], &bwd, false), vec![1.0, 0.0, 3.0]);
        // A lower count is a reset too.
        assert!(
            expand_spans_and_buckets(&a, &a, &[2.0f64, 1.0, 1.0], &[1.0, 1.0, 1.0], false)
                .is_none()
        );
    }

    #[test]
    fn both_ways_merges_layouts() {
        let a = spans(&[(-4, 4), (2, 2)]); // -4..-1, 2, 3
        let b = spans(&[(-3, 3), (2, 3), (3, 1)]); // -3..-1, 2..4, 8
        let (fwd, bwd, merged) = expand_spans_both_ways(&a, &b);
        assert_eq!(merged, spans(&[(-4, 4), (2, 3), (3, 1)]));
        assert_eq!(fwd, vec![ins(6, 2, 0)]);
        assert_eq!(bwd, vec![ins(0, 1, 0)]);
        // Widening both sides gives the merged bucket count.
        assert_eq!(insert(&[1.0f64; 6], &fwd, false).len(), 8);
        assert_eq!(insert(&[1.0f64; 7], &bwd, false).len(), 8);
    }

    #[test]
    fn inserts_at_the_end_and_several_at_one_position() {
        assert_eq!(insert(&[2i64, 1], &[ins(2, 2, 0)], true), vec![2, 1, -3, 0]);
        assert_eq!(
            insert(&[2i64, 1], &[ins(0, 1, 0), ins(0, 1, 0)], true),
            vec![0, 0, 2, 1]
        );
        assert_eq!(
            insert(&[2.0f64], &[ins(1, 1, 0), ins(1, 2, 0)], false),
            vec![2.0, 0.0, 0.0, 0.0]
        );
    }
}
