//! Text forms of float native histograms: Prometheus' `String()` (used as the value
//! label of `count_values`) and the `{{...}}` test-language expression (used in test
//! failure messages).

use std::fmt::Write;

use cortex_tsdb::float_format::go_g;
use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram};

use super::arith::compact;
use super::buckets::{Bucket, negative_buckets, positive_buckets, zero_bucket};

fn bucket_string(out: &mut String, b: &Bucket) {
    out.push(if b.lower_inclusive { '[' } else { '(' });
    let _ = write!(out, "{},{}", go_g(b.lower), go_g(b.upper));
    out.push(if b.upper_inclusive { ']' } else { ')' });
    let _ = write!(out, ":{}", go_g(b.count));
}

/// Prometheus' `FloatHistogram.String()`:
/// `{count:4, sum:5, (0.5,1]:1, (1,2]:2, (2,4]:1}`.
pub fn histogram_string(h: &FloatHistogram) -> String {
    let mut out = format!("{{count:{}, sum:{}", go_g(h.count), go_g(h.sum));
    for b in negative_buckets(h).iter().rev().filter(|b| b.count != 0.0) {
        out.push_str(", ");
        bucket_string(&mut out, b);
    }
    if h.zero_count != 0.0 {
        out.push_str(", ");
        bucket_string(&mut out, &zero_bucket(h));
    }
    for b in positive_buckets(h).iter().filter(|b| b.count != 0.0) {
        out.push_str(", ");
        bucket_string(&mut out, b);
    }
    out.push('}');
    out
}

/// The histogram as written in `.test` files: `{{schema:0 count:4 buckets:[1 2 1]}}`.
pub fn test_expression(h: &FloatHistogram) -> String {
    let mut m = h.clone();
    compact(&mut m);
    let mut parts: Vec<String> = Vec::new();
    if m.schema != 0 {
        parts.push(format!("schema:{}", m.schema));
    }
    if m.count != 0.0 {
        parts.push(format!("count:{}", go_g(m.count)));
    }
    if m.sum != 0.0 {
        parts.push(format!("sum:{}", go_g(m.sum)));
    }
    if m.zero_count != 0.0 {
        parts.push(format!("z_bucket:{}", go_g(m.zero_count)));
    }
    if m.zero_threshold != 0.0 {
        parts.push(format!("z_bucket_w:{}", go_g(m.zero_threshold)));
    }
    if m.uses_custom_buckets() {
        let cv: Vec<String> = m.custom_values.iter().map(|v| go_g(*v)).collect();
        parts.push(format!("custom_values:[{}]", cv.join(" ")));
    }
    match m.counter_reset_hint {
        CounterResetHint::Unknown => {}
        CounterResetHint::CounterReset => parts.push("counter_reset_hint:reset".into()),
        CounterResetHint::NotCounterReset => parts.push("counter_reset_hint:not_reset".into()),
        CounterResetHint::Gauge => parts.push("counter_reset_hint:gauge".into()),
    }
    for (spans, buckets, bkey, okey) in [
        (&m.positive_spans, &m.positive_buckets, "buckets", "offset"),
        (
            &m.negative_spans,
            &m.negative_buckets,
            "n_buckets",
            "n_offset",
        ),
    ] {
        // Compaction leaves gaps as separate spans; describe the buckets with one
        // span per run.
        let mut idx = 0;
        let mut runs = Vec::new();
        let mut b = buckets.iter();
        for s in spans.iter() {
            idx += s.offset;
            let vals: Vec<String> = b
                .by_ref()
                .take(s.length as usize)
                .map(|v| go_g(*v))
                .collect();
            runs.push(format!("{okey}:{idx} {bkey}:[{}]", vals.join(" ")));
            idx += s.length as i32;
        }
        if !runs.is_empty() {
            parts.push(runs.join(" "));
        }
    }
    format!("{{{{{}}}}}", parts.join(" "))
}
