//! Prometheus' rules for appending integer histograms the way its head does: whether a
//! histogram can join a chunk (same schema, zero threshold and custom bounds, no counter
//! reset, buckets only added unless empty; for gauges, any buckets), what the chunk's
//! counter-reset header becomes, and recoding the chunk when buckets appear. The plain
//! appender is in `histogram.rs`; the bucket arithmetic in `recode.rs`.

use super::histogram::{HistogramAppender, HistogramChunk};
use super::histogram_iter::HistogramIter;
use super::layout::CounterResetHeader;
use super::recode::{
    GaugeAppendable, Insert, adjust_for_inserts, expand_spans_and_buckets, expand_spans_both_ways,
    insert,
};
use super::{AppendError, AppendOutcome, ByteCompat, ChunkError};
use crate::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, Histogram, Span};
use crate::value::is_stale_nan;

/// Prometheus' verdict on appending a counter histogram to a chunk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistogramAppendable {
    /// Buckets to add to the chunk's positive layout (the chunk must be recoded).
    pub positive_inserts: Vec<Insert>,
    /// Buckets to add to the chunk's negative layout.
    pub negative_inserts: Vec<Insert>,
    /// Empty chunk buckets the histogram lacks in its positive layout.
    pub backward_positive_inserts: Vec<Insert>,
    /// Empty chunk buckets the histogram lacks in its negative layout.
    pub backward_negative_inserts: Vec<Insert>,
    /// Whether the histogram can join the chunk (possibly after recoding).
    pub ok: bool,
    /// The header a new chunk starting with this histogram should get:
    /// [`CounterResetHeader::NotCounterReset`] when `ok`.
    pub counter_reset: CounterResetHeader,
}

impl HistogramAppender<'_> {
    /// Whether a counter histogram can join this chunk, as Prometheus decides it: not if
    /// the chunk is a gauge chunk, the histogram says it follows a counter reset, a count
    /// or bucket went down or a used bucket disappeared (a reset), schema or zero
    /// threshold changed (unknown reset), custom bounds changed, or the chunk ends with a
    /// stale marker and the histogram is not one. New buckets need recoding (forward
    /// inserts); chunk buckets the histogram lacks must be empty (backward inserts).
    pub fn appendable(&self, h: &Histogram) -> HistogramAppendable {
        let st = &*self.st;
        let mut out = HistogramAppendable {
            counter_reset: CounterResetHeader::NotCounterReset,
            ..HistogramAppendable::default()
        };
        if st.num > 0 && self.counter_reset_header() == CounterResetHeader::Gauge {
            return out;
        }
        if h.counter_reset_hint == CounterResetHint::CounterReset {
            out.counter_reset = CounterResetHeader::CounterReset;
            return out;
        }
        if is_stale_nan(h.sum) {
            out.ok = true;
            return out;
        }
        if is_stale_nan(st.sum) {
            out.counter_reset = CounterResetHeader::Unknown;
            return out;
        }
        if h.count < st.cnt {
            out.counter_reset = CounterResetHeader::CounterReset;
            return out;
        }
        if h.schema != st.layout.schema || h.zero_threshold != st.layout.zero_threshold {
            out.counter_reset = CounterResetHeader::Unknown;
            return out;
        }
        if h.schema == CUSTOM_BUCKETS_SCHEMA && h.custom_values != st.layout.custom_values {
            out.counter_reset = CounterResetHeader::CounterReset;
            return out;
        }
        if h.zero_count < st.zcnt {
            out.counter_reset = CounterResetHeader::CounterReset;
            return out;
        }
        let pos = expand_spans_and_buckets(
            &st.layout.positive_spans,
            &h.positive_spans,
            &st.pos,
            &h.positive_buckets,
            true,
        );
        let neg = expand_spans_and_buckets(
            &st.layout.negative_spans,
            &h.negative_spans,
            &st.neg,
            &h.negative_buckets,
            true,
        );
        match (pos, neg) {
            (Some((pf, pb)), Some((nf, nb))) => {
                out.positive_inserts = pf;
                out.backward_positive_inserts = pb;
                out.negative_inserts = nf;
                out.backward_negative_inserts = nb;
                out.ok = true;
            }
            _ => out.counter_reset = CounterResetHeader::CounterReset,
        }
        out
    }

    /// Whether a gauge histogram can join this chunk: not if the chunk is a counter chunk,
    /// schema, zero threshold or custom bounds changed, or the chunk ends with a stale
    /// marker and the histogram is not one. Buckets may appear and disappear; the result
    /// says how to widen both sides to the union of their layouts.
    pub fn appendable_gauge(&self, h: &Histogram) -> GaugeAppendable {
        let st = &*self.st;
        let mut out = GaugeAppendable::default();
        if st.num > 0 && self.counter_reset_header() != CounterResetHeader::Gauge {
            return out;
        }
        if is_stale_nan(h.sum) {
            out.ok = true;
            return out;
        }
        if is_stale_nan(st.sum)
            || h.schema != st.layout.schema
            || h.zero_threshold != st.layout.zero_threshold
            || (h.schema == CUSTOM_BUCKETS_SCHEMA && h.custom_values != st.layout.custom_values)
        {
            return out;
        }
        let (pf, pb, ps) = expand_spans_both_ways(&st.layout.positive_spans, &h.positive_spans);
        let (nf, nb, ns) = expand_spans_both_ways(&st.layout.negative_spans, &h.negative_spans);
        out.positive_inserts = pf;
        out.backward_positive_inserts = pb;
        out.positive_spans = ps;
        out.negative_inserts = nf;
        out.backward_negative_inserts = nb;
        out.negative_spans = ns;
        out.ok = true;
        out
    }

    /// A new chunk holding this chunk's samples re-encoded with the buckets `inserts` add
    /// (as zeros) and the given spans, with the same counter-reset header. Continue
    /// appending to the returned chunk.
    pub fn recode(
        &self,
        positive_inserts: &[Insert],
        negative_inserts: &[Insert],
        positive_spans: &[Span],
        negative_spans: &[Span],
    ) -> Result<HistogramChunk, ChunkError> {
        let mut it = HistogramIter::new(self.w.bytes())?;
        let mut out = HistogramChunk::with_compat(self.w.compat());
        let mut app = out.appender()?;
        while it.next()? {
            let (t, old) = it.at_histogram();
            let mut h = old.clone();
            h.positive_spans = positive_spans.to_vec();
            h.negative_spans = negative_spans.to_vec();
            if !positive_inserts.is_empty() {
                h.positive_buckets = insert(&old.positive_buckets, positive_inserts, true);
            }
            if !negative_inserts.is_empty() {
                h.negative_buckets = insert(&old.negative_buckets, negative_inserts, true);
            }
            app.append_unchecked(t, &h);
        }
        app.set_counter_reset_header(self.counter_reset_header());
        Ok(out)
    }

    /// Appends `h` the way Prometheus' head does, cutting a new chunk or recoding this one
    /// when needed. `prev` is the appender of the series' previous chunk, consulted for the
    /// counter-reset header when this chunk is empty. With `append_only`, anything but a
    /// plain append is an error and nothing changes.
    pub fn append_histogram(
        &mut self,
        prev: Option<&HistogramAppender<'_>>,
        t: i64,
        h: &Histogram,
        append_only: bool,
    ) -> Result<AppendOutcome<HistogramChunk>, AppendError> {
        if self.st.num == u16::MAX {
            return Err(AppendError::ChunkFull);
        }
        if self.st.num == 0 {
            self.append(t, h)?;
            let header = if h.counter_reset_hint == CounterResetHint::Gauge {
                CounterResetHeader::Gauge
            } else if h.counter_reset_hint == CounterResetHint::CounterReset {
                CounterResetHeader::CounterReset
            } else if let Some(prev) = prev {
                prev.appendable(h).counter_reset
            } else {
                self.counter_reset_header()
            };
            self.set_counter_reset_header(header);
            return Ok(AppendOutcome::Appended);
        }
        if h.counter_reset_hint != CounterResetHint::Gauge {
            let a = self.appendable(h);
            if !a.ok || a.counter_reset != CounterResetHeader::NotCounterReset {
                if append_only {
                    return Err(if a.counter_reset == CounterResetHeader::CounterReset {
                        AppendError::CounterReset
                    } else {
                        AppendError::SchemaChange
                    });
                }
                return new_chunk_with(self.w.compat(), a.counter_reset, t, h);
            }
            let mut h = std::borrow::Cow::Borrowed(h);
            if !a.backward_positive_inserts.is_empty() || !a.backward_negative_inserts.is_empty() {
                let hm = h.to_mut();
                if a.positive_inserts.is_empty() && a.negative_inserts.is_empty() {
                    // No new buckets: the histogram adopts the chunk's spans.
                    hm.positive_spans = self.st.layout.positive_spans.clone();
                    hm.negative_spans = self.st.layout.negative_spans.clone();
                } else {
                    hm.positive_spans =
                        adjust_for_inserts(&hm.positive_spans, &a.backward_positive_inserts);
                    hm.negative_spans =
                        adjust_for_inserts(&hm.negative_spans, &a.backward_negative_inserts);
                }
                recode_histogram(
                    hm,
                    &a.backward_positive_inserts,
                    &a.backward_negative_inserts,
                );
            }
            return self.finish_append(
                t,
                &h,
                &a.positive_inserts,
                &a.negative_inserts,
                append_only,
            );
        }
        let a = self.appendable_gauge(h);
        if !a.ok {
            if append_only {
                return Err(AppendError::SchemaChange);
            }
            return new_chunk_with(self.w.compat(), CounterResetHeader::Gauge, t, h);
        }
        let mut h = std::borrow::Cow::Borrowed(h);
        if !a.backward_positive_inserts.is_empty() || !a.backward_negative_inserts.is_empty() {
            if append_only {
                return Err(AppendError::LayoutChange {
                    positive: a.backward_positive_inserts.len(),
                    negative: a.backward_negative_inserts.len(),
                });
            }
            let hm = h.to_mut();
            hm.positive_spans = a.positive_spans.clone();
            hm.negative_spans = a.negative_spans.clone();
            recode_histogram(
                hm,
                &a.backward_positive_inserts,
                &a.backward_negative_inserts,
            );
        }
        self.finish_append(t, &h, &a.positive_inserts, &a.negative_inserts, append_only)
    }

    /// Appends `h` (already widened to the chunk's buckets), recoding the chunk first if
    /// `h` brings new buckets.
    fn finish_append(
        &mut self,
        t: i64,
        h: &Histogram,
        positive_inserts: &[Insert],
        negative_inserts: &[Insert],
        append_only: bool,
    ) -> Result<AppendOutcome<HistogramChunk>, AppendError> {
        if positive_inserts.is_empty() && negative_inserts.is_empty() {
            self.append(t, h)?;
            return Ok(AppendOutcome::Appended);
        }
        if append_only {
            return Err(AppendError::LayoutChange {
                positive: positive_inserts.len(),
                negative: negative_inserts.len(),
            });
        }
        let mut chunk = self.recode(
            positive_inserts,
            negative_inserts,
            &h.positive_spans,
            &h.negative_spans,
        )?;
        chunk.appender()?.append(t, h)?;
        Ok(AppendOutcome::Recoded(chunk))
    }
}

/// A new chunk with `header` whose first sample is `h`.
fn new_chunk_with(
    compat: ByteCompat,
    header: CounterResetHeader,
    t: i64,
    h: &Histogram,
) -> Result<AppendOutcome<HistogramChunk>, AppendError> {
    let mut chunk = HistogramChunk::with_compat(compat);
    let mut app = chunk.appender()?;
    app.append(t, h)?;
    app.set_counter_reset_header(header);
    Ok(AppendOutcome::NewChunk(chunk))
}

/// Widens `h` in place with the empty buckets `backward` inserts describe; its spans must
/// already be the widened ones.
pub fn recode_histogram(h: &mut Histogram, positive: &[Insert], negative: &[Insert]) {
    if !positive.is_empty() {
        h.positive_buckets = insert(&h.positive_buckets, positive, true);
    }
    if !negative.is_empty() {
        h.negative_buckets = insert(&h.negative_buckets, negative, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::STALE_NAN;

    /// A schema-0 counter histogram with the given absolute counts at buckets 0, 1, 2, ...
    /// (`None` leaves the bucket out of the layout).
    fn hist(counts: &[Option<u64>]) -> Histogram {
        let mut spans: Vec<Span> = Vec::new();
        let mut buckets = Vec::new();
        let (mut prev, mut next) = (0i64, 0i64);
        for (i, c) in counts.iter().enumerate() {
            let Some(c) = *c else { continue };
            let idx = i as i64;
            match spans.last_mut() {
                Some(s) if idx == next => s.length += 1,
                _ => spans.push(Span {
                    offset: (idx - next) as i32,
                    length: 1,
                }),
            }
            next = idx + 1;
            buckets.push(c as i64 - prev);
            prev = c as i64;
        }
        Histogram {
            schema: 0,
            zero_threshold: 0.001,
            count: counts.iter().flatten().sum(),
            sum: 1.0,
            positive_spans: spans,
            positive_buckets: buckets,
            ..Histogram::default()
        }
    }

    fn gauge(counts: &[Option<u64>]) -> Histogram {
        Histogram {
            counter_reset_hint: CounterResetHint::Gauge,
            ..hist(counts)
        }
    }

    fn chunk_with(hs: &[Histogram]) -> HistogramChunk {
        let mut c = HistogramChunk::new();
        for (i, h) in hs.iter().enumerate() {
            let out = c
                .appender()
                .unwrap()
                .append_histogram(None, i as i64, h, false);
            assert!(matches!(out, Ok(AppendOutcome::Appended)), "{out:?}");
        }
        c
    }

    /// Absolute counts of buckets 0.. of every sample of a chunk.
    fn decoded(c: &HistogramChunk) -> Vec<Vec<f64>> {
        let mut it = c.iter();
        let mut out = Vec::new();
        while it.next().unwrap() {
            out.push(it.at_float_histogram().1.positive_buckets.clone());
        }
        out
    }

    #[test]
    fn lower_counts_are_counter_resets() {
        let mut c = chunk_with(&[hist(&[Some(5), Some(5)])]);
        let app = c.appender().unwrap();
        let a = app.appendable(&hist(&[Some(5), Some(4)]));
        assert!(!a.ok);
        assert_eq!(a.counter_reset, CounterResetHeader::CounterReset);
        // A bucket in use that disappears is a reset too.
        let a = app.appendable(&hist(&[Some(9), None]));
        assert_eq!(
            (a.ok, a.counter_reset),
            (false, CounterResetHeader::CounterReset)
        );
        // Growing counts are fine.
        let a = app.appendable(&hist(&[Some(6), Some(5)]));
        assert_eq!(
            (a.ok, a.counter_reset),
            (true, CounterResetHeader::NotCounterReset)
        );
    }

    #[test]
    fn schema_change_needs_a_new_chunk_with_unknown_reset() {
        let mut c = chunk_with(&[hist(&[Some(1)])]);
        let mut h = hist(&[Some(2)]);
        h.schema = 1;
        let mut app = c.appender().unwrap();
        let a = app.appendable(&h);
        assert_eq!(
            (a.ok, a.counter_reset),
            (false, CounterResetHeader::Unknown)
        );
        match app.append_histogram(None, 5, &h, false).unwrap() {
            AppendOutcome::NewChunk(n) => {
                assert_eq!(n.counter_reset_header(), CounterResetHeader::Unknown);
                assert_eq!(n.num_samples(), 1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c.num_samples(), 1);
    }

    #[test]
    fn explicit_counter_reset_hint_starts_a_reset_chunk() {
        let mut c = chunk_with(&[hist(&[Some(1)])]);
        let h = Histogram {
            counter_reset_hint: CounterResetHint::CounterReset,
            ..hist(&[Some(9)])
        };
        match c.appender().unwrap().append_histogram(None, 5, &h, false) {
            Ok(AppendOutcome::NewChunk(n)) => {
                assert_eq!(n.counter_reset_header(), CounterResetHeader::CounterReset)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn new_buckets_recode_earlier_samples_with_zeros() {
        let mut c = chunk_with(&[
            hist(&[Some(1), None, Some(3)]),
            hist(&[Some(2), None, Some(4)]),
        ]);
        let out = c.appender().unwrap().append_histogram(
            None,
            9,
            &hist(&[Some(3), Some(1), Some(5)]),
            false,
        );
        let AppendOutcome::Recoded(n) = out.unwrap() else {
            panic!("not recoded")
        };
        assert_eq!(
            decoded(&n),
            vec![
                vec![1.0, 0.0, 3.0],
                vec![2.0, 0.0, 4.0],
                vec![3.0, 1.0, 5.0]
            ]
        );
        // The old chunk is untouched.
        assert_eq!(c.num_samples(), 2);
    }

    #[test]
    fn missing_empty_bucket_is_added_to_the_histogram() {
        let mut c = chunk_with(&[hist(&[Some(1), Some(0), Some(3)])]);
        let out = c.appender().unwrap().append_histogram(
            None,
            9,
            &hist(&[Some(2), None, Some(3)]),
            false,
        );
        assert!(matches!(out, Ok(AppendOutcome::Appended)));
        assert_eq!(decoded(&c), vec![vec![1.0, 0.0, 3.0], vec![2.0, 0.0, 3.0]]);
    }

    #[test]
    fn append_only_refuses_anything_but_a_plain_append() {
        let mut c = chunk_with(&[hist(&[Some(5), None])]);
        let before = c.bytes().to_vec();
        let mut app = c.appender().unwrap();
        assert_eq!(
            app.append_histogram(None, 1, &hist(&[Some(4), None]), true)
                .unwrap_err(),
            AppendError::CounterReset
        );
        let mut other_schema = hist(&[Some(6), None]);
        other_schema.schema = 2;
        assert_eq!(
            app.append_histogram(None, 1, &other_schema, true)
                .unwrap_err(),
            AppendError::SchemaChange
        );
        assert_eq!(
            app.append_histogram(None, 1, &hist(&[Some(6), Some(7)]), true)
                .unwrap_err(),
            AppendError::LayoutChange {
                positive: 1,
                negative: 0
            }
        );
        assert_eq!(c.bytes(), &before[..]);
    }

    #[test]
    fn gauge_chunks_take_buckets_that_come_and_go() {
        let mut c = HistogramChunk::new();
        let mut app = c.appender().unwrap();
        app.append_histogram(None, 0, &gauge(&[Some(5), Some(1), None]), false)
            .unwrap();
        assert_eq!(app.counter_reset_header(), CounterResetHeader::Gauge);
        // Bucket 1 disappears (with a count) and bucket 2 appears; counts may fall.
        let out = app.append_histogram(None, 1, &gauge(&[Some(2), None, Some(4)]), false);
        let AppendOutcome::Recoded(n) = out.unwrap() else {
            panic!("not recoded")
        };
        assert_eq!(decoded(&n), vec![vec![5.0, 1.0, 0.0], vec![2.0, 0.0, 4.0]]);
        assert_eq!(n.counter_reset_header(), CounterResetHeader::Gauge);
    }

    #[test]
    fn counter_and_gauge_histograms_do_not_share_chunks() {
        let mut c = chunk_with(&[hist(&[Some(1)])]);
        match c
            .appender()
            .unwrap()
            .append_histogram(None, 1, &gauge(&[Some(1)]), false)
        {
            Ok(AppendOutcome::NewChunk(n)) => {
                assert_eq!(n.counter_reset_header(), CounterResetHeader::Gauge)
            }
            other => panic!("{other:?}"),
        }
        let mut g = HistogramChunk::new();
        g.appender()
            .unwrap()
            .append_histogram(None, 0, &gauge(&[Some(1)]), false)
            .unwrap();
        match g
            .appender()
            .unwrap()
            .append_histogram(None, 1, &hist(&[Some(1)]), false)
        {
            Ok(AppendOutcome::NewChunk(n)) => {
                assert_eq!(
                    n.counter_reset_header(),
                    CounterResetHeader::NotCounterReset
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_stale_markers_follow_a_stale_marker() {
        let stale = Histogram {
            sum: STALE_NAN,
            ..Histogram::default()
        };
        let mut c = chunk_with(&[hist(&[Some(1)]), stale.clone(), stale]);
        let mut app = c.appender().unwrap();
        // The plain appender refuses; the head-style one cuts a chunk of unknown reset.
        assert!(matches!(
            app.append(9, &hist(&[Some(2)])),
            Err(AppendError::LayoutMismatch(_))
        ));
        match app.append_histogram(None, 9, &hist(&[Some(2)]), false) {
            Ok(AppendOutcome::NewChunk(n)) => {
                assert_eq!(n.counter_reset_header(), CounterResetHeader::Unknown)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn first_sample_of_a_new_chunk_takes_its_header_from_the_previous_chunk() {
        let mut prev = chunk_with(&[hist(&[Some(5)])]);
        let prev_app = prev.appender().unwrap();
        for (h, want) in [
            (hist(&[Some(7)]), CounterResetHeader::NotCounterReset),
            (hist(&[Some(2)]), CounterResetHeader::CounterReset),
        ] {
            let mut next = HistogramChunk::new();
            let out = next
                .appender()
                .unwrap()
                .append_histogram(Some(&prev_app), 9, &h, false);
            assert!(matches!(out, Ok(AppendOutcome::Appended)));
            assert_eq!(next.counter_reset_header(), want);
        }
    }

    #[test]
    fn plain_append_refuses_other_layouts_and_bad_bucket_counts() {
        let mut c = chunk_with(&[hist(&[Some(1), Some(2)])]);
        let mut app = c.appender().unwrap();
        assert!(app.append(1, &hist(&[Some(1), None, Some(2)])).is_err());
        let mut bad = hist(&[Some(1), Some(2)]);
        bad.positive_buckets.pop();
        assert_eq!(
            app.append(1, &bad),
            Err(AppendError::LayoutMismatch(
                "bucket counts do not match the spans"
            ))
        );
        // The same buckets in differently split spans are the same layout.
        let mut split = hist(&[Some(3), Some(4)]);
        split.positive_spans = vec![
            Span {
                offset: 0,
                length: 1,
            },
            Span {
                offset: 0,
                length: 1,
            },
        ];
        assert_eq!(app.append(1, &split), Ok(()));
    }
}
