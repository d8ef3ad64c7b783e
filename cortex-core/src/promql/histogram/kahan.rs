//! Kahan-compensated adding of float native histograms, as `sum` and `avg` over
//! histograms use it: the compensation is a second histogram with the same bucket
//! layout, carried along while bucket layouts merge.

use cortex_tsdb::histogram::FloatHistogram;

use super::arith::{
    Combined, IncompatibleSchemas, add_custom_mismatched, adjust_counter_reset,
    custom_bounds_match, intersect_bounds, reconcile_zero_buckets, uses_custom,
};
use super::bounds::get_bound_exponential;
use super::buckets::{from_pairs, pair_vec, target_idx};
use super::kahan_inc;

/// A compensation histogram with `h`'s layout and all buckets zero.
pub fn new_compensation(h: &FloatHistogram) -> FloatHistogram {
    FloatHistogram {
        counter_reset_hint: h.counter_reset_hint,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        custom_values: h.custom_values.clone(),
        positive_spans: h.positive_spans.clone(),
        positive_buckets: vec![0.0; h.positive_buckets.len()],
        negative_spans: h.negative_spans.clone(),
        negative_buckets: vec![0.0; h.negative_buckets.len()],
        ..Default::default()
    }
}

type Triple = (i32, f64, f64);

fn triples(pairs: Vec<(i32, f64)>, comp: &[f64]) -> Vec<Triple> {
    pairs
        .into_iter()
        .enumerate()
        .map(|(k, (i, v))| (i, v, comp.get(k).copied().unwrap_or(0.0)))
        .collect()
}

/// Merges triples into a coarser schema with Kahan summation.
fn kahan_reduce(t: &[Triple], origin: i32, target: i32) -> Vec<Triple> {
    let mut out: Vec<Triple> = Vec::with_capacity(t.len());
    for &(idx, v, c) in t {
        let ti = target_idx(idx, origin, target);
        match out.last_mut() {
            Some(last) if last.0 == ti => {
                (last.1, last.2) = kahan_inc(v, last.1, last.2);
                (last.1, last.2) = kahan_inc(c, last.1, last.2);
            }
            _ => out.push((ti, v, c)),
        }
    }
    out
}

fn kahan_merge(a: &[Triple], b: &[Triple], schema: i32, threshold: f64) -> Vec<Triple> {
    let skip = b
        .iter()
        .take_while(|(idx, _, _)| get_bound_exponential(*idx, schema) <= threshold)
        .count();
    kahan_merge_from(a, &b[skip..])
}

fn kahan_merge_from(a: &[Triple], b: &[Triple]) -> Vec<Triple> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if j >= b.len() || (i < a.len() && a[i].0 < b[j].0) {
            out.push(a[i]);
            i += 1;
        } else if i >= a.len() || b[j].0 < a[i].0 {
            out.push(b[j]);
            j += 1;
        } else {
            let (idx, mut v, mut c) = a[i];
            (v, c) = kahan_inc(b[j].1, v, c);
            if b[j].2 != 0.0 {
                (v, c) = kahan_inc(b[j].2, v, c);
            }
            out.push((idx, v, c));
            i += 1;
            j += 1;
        }
    }
    out
}

fn split_triples(t: &[Triple]) -> (Vec<cortex_tsdb::histogram::Span>, Vec<f64>, Vec<f64>) {
    let pairs: Vec<(i32, f64)> = t.iter().map(|(i, v, _)| (*i, *v)).collect();
    let (spans, buckets) = from_pairs(&pairs);
    (spans, buckets, t.iter().map(|(_, _, c)| *c).collect())
}

/// `h += other` with Kahan compensation kept in `comp` (created when `None`);
/// returns the updated compensation histogram.
pub fn kahan_add(
    h: &mut FloatHistogram,
    other: &FloatHistogram,
    comp: Option<FloatHistogram>,
) -> Result<(FloatHistogram, Combined), IncompatibleSchemas> {
    if uses_custom(h) != uses_custom(other) {
        return Err(IncompatibleSchemas);
    }
    let mut out = Combined {
        counter_reset_collision: adjust_counter_reset(h, other),
        ..Default::default()
    };
    let mut c = comp.unwrap_or_else(|| new_compensation(h));
    if !uses_custom(h) {
        let (oz, ocz) = reconcile_zero_buckets(h, other, Some(&mut c));
        (h.zero_count, c.zero_count) = kahan_inc(oz, h.zero_count, c.zero_count);
        (h.zero_count, c.zero_count) = kahan_inc(ocz, h.zero_count, c.zero_count);
    }
    (h.count, c.count) = kahan_inc(other.count, h.count, c.count);
    (h.sum, c.sum) = kahan_inc(other.sum, h.sum, c.sum);
    let hp = triples(
        pair_vec(&h.positive_spans, &h.positive_buckets),
        &c.positive_buckets,
    );
    if uses_custom(h) {
        let merged = if custom_bounds_match(&h.custom_values, &other.custom_values) {
            let op = triples(
                pair_vec(&other.positive_spans, &other.positive_buckets),
                &[],
            );
            kahan_merge_from(&hp, &op)
        } else {
            out.nhcb_bounds_reconciled = true;
            let bounds = intersect_bounds(&h.custom_values, &other.custom_values);
            let comp_buckets = c.positive_buckets.clone();
            let t = add_custom_mismatched(false, h, Some(&comp_buckets), other, &bounds);
            h.custom_values = bounds.clone();
            c.custom_values = bounds;
            t
        };
        let (spans, buckets, comps) = split_triples(&merged);
        h.positive_spans = spans.clone();
        h.positive_buckets = buckets;
        c.positive_spans = spans;
        c.positive_buckets = comps;
        return Ok((c, out));
    }
    let mut hp = hp;
    let mut hn = triples(
        pair_vec(&h.negative_spans, &h.negative_buckets),
        &c.negative_buckets,
    );
    let mut op = triples(
        pair_vec(&other.positive_spans, &other.positive_buckets),
        &[],
    );
    let mut on = triples(
        pair_vec(&other.negative_spans, &other.negative_buckets),
        &[],
    );
    if other.schema < h.schema {
        hp = kahan_reduce(&hp, h.schema, other.schema);
        hn = kahan_reduce(&hn, h.schema, other.schema);
        h.schema = other.schema;
    } else if other.schema > h.schema {
        op = kahan_reduce(&op, other.schema, h.schema);
        on = kahan_reduce(&on, other.schema, h.schema);
    }
    let pos = kahan_merge(&hp, &op, h.schema, h.zero_threshold);
    let neg = kahan_merge(&hn, &on, h.schema, h.zero_threshold);
    let (ps, pb, pc) = split_triples(&pos);
    let (ns, nb, nc) = split_triples(&neg);
    h.positive_spans = ps.clone();
    h.positive_buckets = pb;
    h.negative_spans = ns.clone();
    h.negative_buckets = nb;
    c.schema = h.schema;
    c.zero_threshold = h.zero_threshold;
    c.positive_spans = ps;
    c.positive_buckets = pc;
    c.negative_spans = ns;
    c.negative_buckets = nc;
    Ok((c, out))
}

/// Compacts `h` and its compensation `c` together: a bucket goes only when both are
/// zero.
pub(super) fn kahan_compact(h: &mut FloatHistogram, c: &mut FloatHistogram) {
    let pos: Vec<Triple> = triples(
        pair_vec(&h.positive_spans, &h.positive_buckets),
        &c.positive_buckets,
    )
    .into_iter()
    .filter(|(_, v, k)| *v != 0.0 || *k != 0.0)
    .collect();
    let neg: Vec<Triple> = triples(
        pair_vec(&h.negative_spans, &h.negative_buckets),
        &c.negative_buckets,
    )
    .into_iter()
    .filter(|(_, v, k)| *v != 0.0 || *k != 0.0)
    .collect();
    let (ps, pb, pc) = split_triples(&pos);
    let (ns, nb, nc) = split_triples(&neg);
    h.positive_spans = ps.clone();
    h.positive_buckets = pb;
    c.positive_spans = ps;
    c.positive_buckets = pc;
    h.negative_spans = ns.clone();
    h.negative_buckets = nb;
    c.negative_spans = ns;
    c.negative_buckets = nc;
}
