//! Prometheus' rules for appending float histograms the way its head does (as for integer
//! histograms in `histogram_append.rs`, with float counts). The plain appender is in
//! `float_histogram.rs`; the bucket arithmetic in `recode.rs`.

use super::float_histogram::{FloatHistogramAppender, FloatHistogramChunk};
use super::float_histogram_iter::FloatHistogramIter;
use super::layout::CounterResetHeader;
use super::recode::{
    GaugeAppendable, Insert, adjust_for_inserts, expand_spans_and_buckets, expand_spans_both_ways,
    insert,
};
use super::{AppendError, AppendOutcome, ByteCompat, ChunkError};
use crate::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Span};
use crate::value::is_stale_nan;

/// Prometheus' verdict on appending a counter float histogram to a chunk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FloatHistogramAppendable {
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
    /// Whether it cannot because of a counter reset.
    pub counter_reset: bool,
}

impl FloatHistogramAppender<'_> {
    /// Whether a counter float histogram can join this chunk (Prometheus' rules, as for
    /// [`HistogramAppender::appendable`](super::HistogramAppender::appendable)).
    pub fn appendable(&self, h: &FloatHistogram) -> FloatHistogramAppendable {
        let st = &*self.st;
        let mut out = FloatHistogramAppendable::default();
        if st.num > 0 && self.counter_reset_header() == CounterResetHeader::Gauge {
            return out;
        }
        if h.counter_reset_hint == CounterResetHint::CounterReset {
            out.counter_reset = true;
            return out;
        }
        if is_stale_nan(h.sum) {
            out.ok = true;
            return out;
        }
        if is_stale_nan(st.sum) {
            return out;
        }
        if h.count < st.cnt {
            out.counter_reset = true;
            return out;
        }
        if h.schema != st.layout.schema || h.zero_threshold != st.layout.zero_threshold {
            return out;
        }
        if (h.schema == CUSTOM_BUCKETS_SCHEMA && h.custom_values != st.layout.custom_values)
            || h.zero_count < st.zcnt
        {
            out.counter_reset = true;
            return out;
        }
        let pos = expand_spans_and_buckets(
            &st.layout.positive_spans,
            &h.positive_spans,
            &st.pos,
            &h.positive_buckets,
            false,
        );
        let neg = expand_spans_and_buckets(
            &st.layout.negative_spans,
            &h.negative_spans,
            &st.neg,
            &h.negative_buckets,
            false,
        );
        match (pos, neg) {
            (Some((pf, pb)), Some((nf, nb))) => {
                out.positive_inserts = pf;
                out.backward_positive_inserts = pb;
                out.negative_inserts = nf;
                out.backward_negative_inserts = nb;
                out.ok = true;
            }
            _ => out.counter_reset = true,
        }
        out
    }

    /// Whether a gauge float histogram can join this chunk (Prometheus' rules, as for
    /// [`HistogramAppender::appendable_gauge`](super::HistogramAppender::appendable_gauge)).
    pub fn appendable_gauge(&self, h: &FloatHistogram) -> GaugeAppendable {
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
    /// (as zeros) and the given spans, with the same counter-reset header.
    pub fn recode(
        &self,
        positive_inserts: &[Insert],
        negative_inserts: &[Insert],
        positive_spans: &[Span],
        negative_spans: &[Span],
    ) -> Result<FloatHistogramChunk, ChunkError> {
        let mut it = FloatHistogramIter::new(self.w.bytes())?;
        let mut out = FloatHistogramChunk::with_compat(self.w.compat());
        let mut app = out.appender()?;
        while it.next()? {
            let (t, old) = it.at_float_histogram();
            let mut h = old.clone();
            h.positive_spans = positive_spans.to_vec();
            h.negative_spans = negative_spans.to_vec();
            if !positive_inserts.is_empty() {
                h.positive_buckets = insert(&old.positive_buckets, positive_inserts, false);
            }
            if !negative_inserts.is_empty() {
                h.negative_buckets = insert(&old.negative_buckets, negative_inserts, false);
            }
            app.append_unchecked(t, &h);
        }
        app.set_counter_reset_header(self.counter_reset_header());
        Ok(out)
    }

    /// Appends `h` the way Prometheus' head does, cutting a new chunk or recoding this one
    /// when needed (see
    /// [`HistogramAppender::append_histogram`](super::HistogramAppender::append_histogram)).
    pub fn append_histogram(
        &mut self,
        prev: Option<&FloatHistogramAppender<'_>>,
        t: i64,
        h: &FloatHistogram,
        append_only: bool,
    ) -> Result<AppendOutcome<FloatHistogramChunk>, AppendError> {
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
                if prev.appendable(h).counter_reset {
                    CounterResetHeader::CounterReset
                } else {
                    CounterResetHeader::NotCounterReset
                }
            } else {
                self.counter_reset_header()
            };
            self.set_counter_reset_header(header);
            return Ok(AppendOutcome::Appended);
        }
        if h.counter_reset_hint != CounterResetHint::Gauge {
            let a = self.appendable(h);
            if !a.ok || a.counter_reset {
                if append_only {
                    return Err(if a.counter_reset {
                        AppendError::CounterReset
                    } else {
                        AppendError::SchemaChange
                    });
                }
                let header = if a.counter_reset {
                    CounterResetHeader::CounterReset
                } else {
                    CounterResetHeader::Unknown
                };
                return new_chunk_with(self.w.compat(), header, t, h);
            }
            let mut h = std::borrow::Cow::Borrowed(h);
            if !a.backward_positive_inserts.is_empty() || !a.backward_negative_inserts.is_empty() {
                let hm = h.to_mut();
                if a.positive_inserts.is_empty() && a.negative_inserts.is_empty() {
                    hm.positive_spans = self.st.layout.positive_spans.clone();
                    hm.negative_spans = self.st.layout.negative_spans.clone();
                } else {
                    hm.positive_spans =
                        adjust_for_inserts(&hm.positive_spans, &a.backward_positive_inserts);
                    hm.negative_spans =
                        adjust_for_inserts(&hm.negative_spans, &a.backward_negative_inserts);
                }
                recode_float_histogram(
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
            recode_float_histogram(
                hm,
                &a.backward_positive_inserts,
                &a.backward_negative_inserts,
            );
        }
        self.finish_append(t, &h, &a.positive_inserts, &a.negative_inserts, append_only)
    }

    fn finish_append(
        &mut self,
        t: i64,
        h: &FloatHistogram,
        positive_inserts: &[Insert],
        negative_inserts: &[Insert],
        append_only: bool,
    ) -> Result<AppendOutcome<FloatHistogramChunk>, AppendError> {
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

fn new_chunk_with(
    compat: ByteCompat,
    header: CounterResetHeader,
    t: i64,
    h: &FloatHistogram,
) -> Result<AppendOutcome<FloatHistogramChunk>, AppendError> {
    let mut chunk = FloatHistogramChunk::with_compat(compat);
    let mut app = chunk.appender()?;
    app.append(t, h)?;
    app.set_counter_reset_header(header);
    Ok(AppendOutcome::NewChunk(chunk))
}

/// Widens `h` in place with the empty buckets `backward` inserts describe; its spans must
/// already be the widened ones.
pub fn recode_float_histogram(h: &mut FloatHistogram, positive: &[Insert], negative: &[Insert]) {
    if !positive.is_empty() {
        h.positive_buckets = insert(&h.positive_buckets, positive, false);
    }
    if !negative.is_empty() {
        h.negative_buckets = insert(&h.negative_buckets, negative, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A float counter histogram with buckets 0.. (`None` leaves a bucket out).
    fn fh(counts: &[Option<f64>]) -> FloatHistogram {
        let mut spans: Vec<Span> = Vec::new();
        let mut buckets = Vec::new();
        let mut next = 0i64;
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
            buckets.push(c);
        }
        FloatHistogram {
            schema: 0,
            zero_threshold: 0.001,
            count: counts.iter().flatten().sum(),
            sum: 1.0,
            positive_spans: spans,
            positive_buckets: buckets,
            ..FloatHistogram::default()
        }
    }

    fn decoded(c: &FloatHistogramChunk) -> Vec<Vec<f64>> {
        let mut it = c.iter();
        let mut out = Vec::new();
        while it.next().unwrap() {
            out.push(it.at_float_histogram().1.positive_buckets.clone());
        }
        out
    }

    #[test]
    fn lower_float_counts_are_resets_and_new_buckets_recode() {
        let mut c = FloatHistogramChunk::new();
        let mut app = c.appender().unwrap();
        app.append_histogram(None, 0, &fh(&[Some(1.5), None]), false)
            .unwrap();
        let a = app.appendable(&fh(&[Some(1.25), None]));
        assert_eq!((a.ok, a.counter_reset), (false, true));
        let out = app.append_histogram(None, 1, &fh(&[Some(2.5), Some(0.5)]), false);
        let AppendOutcome::Recoded(n) = out.unwrap() else {
            panic!("not recoded")
        };
        assert_eq!(decoded(&n), vec![vec![1.5, 0.0], vec![2.5, 0.5]]);
    }

    #[test]
    fn changed_custom_bounds_are_a_counter_reset() {
        let custom = |bounds: Vec<f64>| FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            zero_threshold: 0.0,
            custom_values: bounds,
            ..fh(&[Some(1.0), Some(1.0)])
        };
        let mut c = FloatHistogramChunk::new();
        let mut app = c.appender().unwrap();
        app.append_histogram(None, 0, &custom(vec![0.5, 1.0]), false)
            .unwrap();
        let a = app.appendable(&custom(vec![0.5, 2.0]));
        assert_eq!((a.ok, a.counter_reset), (false, true));
        match app.append_histogram(None, 1, &custom(vec![0.5, 2.0]), false) {
            Ok(AppendOutcome::NewChunk(n)) => {
                assert_eq!(n.counter_reset_header(), CounterResetHeader::CounterReset);
                let mut it = n.iter();
                assert!(it.next().unwrap());
                assert_eq!(it.at_float_histogram().1.custom_values, vec![0.5, 2.0]);
            }
            other => panic!("{other:?}"),
        }
        // The same bounds keep appending.
        assert!(matches!(
            app.append_histogram(None, 1, &custom(vec![0.5, 1.0]), false),
            Ok(AppendOutcome::Appended)
        ));
    }

    #[test]
    fn first_sample_header_comes_from_the_previous_float_chunk() {
        let mut prev = FloatHistogramChunk::new();
        prev.appender()
            .unwrap()
            .append_histogram(None, 0, &fh(&[Some(4.0)]), false)
            .unwrap();
        let prev_app = prev.appender().unwrap();
        for (h, want) in [
            (fh(&[Some(5.0)]), CounterResetHeader::NotCounterReset),
            (fh(&[Some(3.0)]), CounterResetHeader::CounterReset),
        ] {
            let mut next = FloatHistogramChunk::new();
            let out = next
                .appender()
                .unwrap()
                .append_histogram(Some(&prev_app), 9, &h, false);
            assert!(matches!(out, Ok(AppendOutcome::Appended)));
            assert_eq!(next.counter_reset_header(), want);
        }
    }
}
