//! Behaviour of the histogram arithmetic on small hand-checked cases.

use cortex_tsdb::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Span};

use super::*;

fn span(offset: i32, length: u32) -> Span {
    Span { offset, length }
}

fn exp(schema: i32, count: f64, pos: (i32, Vec<f64>)) -> FloatHistogram {
    FloatHistogram {
        schema,
        count,
        sum: count,
        positive_spans: vec![span(pos.0, pos.1.len() as u32)],
        positive_buckets: pos.1,
        ..Default::default()
    }
}

fn pos_pairs(h: &FloatHistogram) -> Vec<(i32, f64)> {
    buckets::pair_vec(&h.positive_spans, &h.positive_buckets)
}

#[test]
fn adding_unions_buckets() {
    let mut a = exp(0, 3.0, (0, vec![1.0, 2.0]));
    let b = exp(0, 4.0, (1, vec![1.0, 3.0]));
    a.add(&b).unwrap();
    assert_eq!(pos_pairs(&a), vec![(0, 1.0), (1, 3.0), (2, 3.0)]);
    assert_eq!(a.count, 7.0);
}

#[test]
fn adding_reduces_to_the_coarser_schema() {
    // Schema 1 buckets 1 and 2 are schema 0 bucket 1.
    let mut a = exp(1, 3.0, (1, vec![1.0, 2.0]));
    let b = exp(0, 1.0, (1, vec![1.0]));
    a.add(&b).unwrap();
    assert_eq!(a.schema, 0);
    assert_eq!(pos_pairs(&a), vec![(1, 4.0)]);
}

#[test]
fn subtracting_can_go_negative_and_compacts_away_zeros() {
    let mut a = exp(0, 3.0, (0, vec![1.0, 2.0]));
    let b = exp(0, 3.0, (0, vec![1.0, 2.0]));
    a.sub(&b).unwrap();
    assert_eq!(pos_pairs(&a), vec![(0, 0.0), (1, 0.0)]);
    a.compact();
    assert!(a.positive_buckets.is_empty() && a.positive_spans.is_empty());
}

#[test]
fn zero_thresholds_are_reconciled() {
    // b has a wider zero bucket that swallows a's bucket 0 ((0.5, 1]).
    let mut a = exp(0, 3.0, (0, vec![1.0, 2.0]));
    let mut b = exp(0, 1.0, (1, vec![1.0]));
    b.zero_threshold = 1.0;
    b.zero_count = 5.0;
    a.add(&b).unwrap();
    assert_eq!(a.zero_threshold, 1.0);
    assert_eq!(a.zero_count, 6.0);
    assert_eq!(pos_pairs(&a), vec![(1, 3.0)]);
}

#[test]
fn custom_and_exponential_do_not_mix() {
    let mut a = exp(0, 1.0, (0, vec![1.0]));
    let b = FloatHistogram {
        schema: CUSTOM_BUCKETS_SCHEMA,
        custom_values: vec![1.0],
        ..Default::default()
    };
    assert_eq!(a.add(&b), Err(IncompatibleSchemas));
}

#[test]
fn mismatched_custom_bounds_are_intersected() {
    let mut a = FloatHistogram {
        schema: CUSTOM_BUCKETS_SCHEMA,
        custom_values: vec![1.0, 2.0, 5.0],
        positive_spans: vec![span(0, 4)],
        positive_buckets: vec![1.0, 1.0, 1.0, 1.0],
        count: 4.0,
        ..Default::default()
    };
    let b = FloatHistogram {
        schema: CUSTOM_BUCKETS_SCHEMA,
        custom_values: vec![2.0, 5.0],
        positive_spans: vec![span(0, 3)],
        positive_buckets: vec![10.0, 10.0, 10.0],
        count: 30.0,
        ..Default::default()
    };
    let r = a.add(&b).unwrap();
    assert!(r.nhcb_bounds_reconciled);
    assert_eq!(a.custom_values, vec![2.0, 5.0]);
    assert_eq!(pos_pairs(&a), vec![(0, 12.0), (1, 11.0), (2, 11.0)]);
}

#[test]
fn kahan_add_compensates_small_terms() {
    let mut a = exp(0, 1e16, (0, vec![1e16]));
    let mut c = None;
    for _ in 0..10 {
        let (nc, _) = a.kahan_add(&exp(0, 1.0, (0, vec![1.0])), c).unwrap();
        c = Some(nc);
    }
    let c = c.unwrap();
    assert_eq!(a.count + c.count, 1e16 + 10.0);
    assert_eq!(a.positive_buckets[0] + c.positive_buckets[0], 1e16 + 10.0);
}

#[test]
fn counter_resets_are_detected() {
    let prev = exp(0, 3.0, (0, vec![1.0, 2.0]));
    assert!(!exp(0, 4.0, (0, vec![2.0, 2.0])).detect_reset(&prev));
    assert!(exp(0, 4.0, (0, vec![0.0, 4.0])).detect_reset(&prev));
    assert!(exp(0, 2.0, (0, vec![1.0, 1.0])).detect_reset(&prev));
    // A populated bucket disappeared.
    assert!(exp(0, 5.0, (1, vec![5.0])).detect_reset(&prev));
    let mut hinted = exp(0, 1.0, (0, vec![1.0]));
    hinted.counter_reset_hint = CounterResetHint::NotCounterReset;
    assert!(!hinted.detect_reset(&prev));
}

#[test]
fn equality_is_exact() {
    let a = exp(0, 3.0, (0, vec![1.0, 2.0]));
    let mut b = a.clone();
    assert!(a.equals(&b));
    b.positive_buckets[1] = 2.0000001;
    assert!(!a.equals(&b));
}

#[test]
fn string_form_matches_prometheus() {
    let h = FloatHistogram {
        schema: 0,
        count: 4.0,
        sum: 5.0,
        positive_spans: vec![span(0, 3)],
        positive_buckets: vec![1.0, 2.0, 1.0],
        ..Default::default()
    };
    assert_eq!(
        h.to_prom_string(),
        "{count:4, sum:5, (0.5,1]:1, (1,2]:2, (2,4]:1}"
    );
    assert_eq!(
        h.test_expression(),
        "{{count:4 sum:5 offset:0 buckets:[1 2 1]}}"
    );
}

#[test]
fn trimming_keeps_observations_below_the_value() {
    let mut h = FloatHistogram {
        schema: 0,
        count: 4.0,
        sum: 5.0,
        positive_spans: vec![span(0, 3)],
        positive_buckets: vec![1.0, 2.0, 1.0],
        ..Default::default()
    };
    h.trim_buckets(2.0, true);
    assert_eq!(h.count, 3.0);
    assert_eq!(pos_pairs(&h), vec![(0, 1.0), (1, 2.0)]);
}

#[test]
fn kahan_inc_is_neumaier() {
    let (s, c) = kahan_inc(1.0, 1e100, 0.0);
    let (s, c) = kahan_inc(-1e100, s, c);
    assert_eq!(s + c, 1.0);
}
