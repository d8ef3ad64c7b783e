//! Checking a query's result and annotations against an eval's expectations, with
//! the reference runner's rules: relative float tolerance 1e-6 (NaN equals NaN),
//! histograms compared after compaction, result order only when asked for.

use cortex_tsdb::histogram::{FloatHistogram, Span};
use cortex_tsdb::labels::Labels;

use super::script::{Eval, Expected, Matcher};
use super::series::SeqValue;
use crate::promql::annotations::Annotations;
use crate::promql::histogram::{HistogramExt, buckets::pair_vec};
use crate::promql::quantile::almost_equal;
use crate::promql::value::{Sample, Series, Value};

const EPSILON: f64 = 1e-6;

/// An expected series: labels, values, position among the result lines.
type ExpectedSeries = (Labels, Vec<SeqValue>, usize);

fn layout(spans: &[Span], buckets: &[f64]) -> Vec<i32> {
    pair_vec(spans, buckets)
        .into_iter()
        .map(|(i, _)| i)
        .collect()
}

fn buckets_match(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| almost_equal(*x, *y, EPSILON))
}

/// Histogram equality as the reference runner checks it.
pub fn histograms_match(exp: &FloatHistogram, cur: &FloatHistogram, hint_set: bool) -> bool {
    let (mut e, mut c) = (exp.clone(), cur.clone());
    e.compact();
    c.compact();
    if e.schema != c.schema
        || !almost_equal(e.count, c.count, EPSILON)
        || !almost_equal(e.sum, c.sum, EPSILON)
    {
        return false;
    }
    if e.uses_custom_buckets() && e.custom_values != c.custom_values {
        return false;
    }
    if e.zero_threshold != c.zero_threshold || !almost_equal(e.zero_count, c.zero_count, EPSILON) {
        return false;
    }
    if layout(&e.negative_spans, &e.negative_buckets)
        != layout(&c.negative_spans, &c.negative_buckets)
        || !buckets_match(&e.negative_buckets, &c.negative_buckets)
        || layout(&e.positive_spans, &e.positive_buckets)
            != layout(&c.positive_spans, &c.positive_buckets)
        || !buckets_match(&e.positive_buckets, &c.positive_buckets)
    {
        return false;
    }
    !hint_set || e.counter_reset_hint == c.counter_reset_hint
}

fn find<'a>(exp: &'a [ExpectedSeries], l: &Labels) -> Option<&'a ExpectedSeries> {
    exp.iter().find(|(m, _, _)| m == l)
}

fn expected_series(ev: &Eval) -> Result<&[ExpectedSeries], String> {
    match &ev.expected {
        Expected::Series(s) => Ok(s),
        Expected::Empty => Ok(&[]),
        Expected::Scalar(_) => Err("expected scalar result".into()),
        Expected::String(_) => Err("expected string result".into()),
    }
}

fn point_string(s: &Series) -> String {
    let mut parts: Vec<String> = s
        .floats
        .iter()
        .map(|p| format!("{} @[{}]", p.f, p.t))
        .collect();
    parts.extend(
        s.histograms
            .iter()
            .map(|p| format!("{} @[{}]", p.h.test_expression(), p.t)),
    );
    parts.join(", ")
}

/// Compares a range-vector result with the expected series over the eval's range.
pub fn compare_matrix(ev: &Eval, m: &[Series]) -> Result<(), String> {
    if ev.ordered {
        return Err("expected ordered result, but query returned a matrix".into());
    }
    let exp = expected_series(ev)?;
    if m.windows(2).any(|w| w[0].metric > w[1].metric) {
        return Err("matrix results should always be sorted by labels".into());
    }
    for s in m {
        let Some((_, vals, _)) = find(exp, &s.metric) else {
            return Err(format!(
                "unexpected metric {} in result, has {}",
                s.metric,
                point_string(s)
            ));
        };
        let mut floats = Vec::new();
        let mut hists = Vec::new();
        for (i, v) in vals.iter().enumerate() {
            let t = ev.start + i as i64 * ev.step;
            if t > ev.end {
                return Err(format!(
                    "expected {} points for {}, but query time range cannot return this many points",
                    vals.len(),
                    s.metric
                ));
            }
            match v {
                SeqValue::Omitted => {}
                SeqValue::Float(f) => floats.push((t, *f)),
                SeqValue::Histogram { h, hint_set } => hists.push((t, h, *hint_set)),
            }
        }
        if floats.len() != s.floats.len() || hists.len() != s.histograms.len() {
            return Err(format!(
                "expected {} float points and {} histogram points for {}, but got {}",
                floats.len(),
                hists.len(),
                s.metric,
                point_string(s)
            ));
        }
        for ((t, f), p) in floats.iter().zip(&s.floats) {
            if *t != p.t || !almost_equal(*f, p.f, EPSILON) {
                return Err(format!(
                    "expected float value {f} at {t} for {}, but got {} at {}",
                    s.metric, p.f, p.t
                ));
            }
        }
        for ((t, h, set), p) in hists.iter().zip(&s.histograms) {
            if *t != p.t || !histograms_match(h, &p.h, *set) {
                return Err(format!(
                    "expected histogram {} at {t} for {}, but got {} at {}",
                    h.test_expression(),
                    s.metric,
                    p.h.test_expression(),
                    p.t
                ));
            }
        }
    }
    for (l, _, _) in exp {
        if !m.iter().any(|s| &s.metric == l) {
            return Err(format!("expected metric {l} not found"));
        }
    }
    Ok(())
}

/// Compares an instant-vector result.
pub fn compare_vector(ev: &Eval, v: &[Sample]) -> Result<(), String> {
    let exp = expected_series(ev)?;
    for (pos, s) in v.iter().enumerate() {
        let Some((_, vals, epos)) = find(exp, &s.metric) else {
            let shown = match &s.h {
                Some(h) => h.test_expression(),
                None => s.f.to_string(),
            };
            return Err(format!(
                "unexpected metric {} in result, has value {shown}",
                s.metric
            ));
        };
        if ev.ordered && *epos != pos + 1 {
            return Err(format!(
                "expected metric {} at position {epos} but was at {}",
                s.metric,
                pos + 1
            ));
        }
        let Some(first) = vals.first() else {
            return Err(format!("no expected value for {}", s.metric));
        };
        match (first, &s.h) {
            (SeqValue::Histogram { h, hint_set }, Some(got)) => {
                if !histograms_match(h, got, *hint_set) {
                    return Err(format!(
                        "expected {} for {} but got {}",
                        h.test_expression(),
                        s.metric,
                        got.test_expression()
                    ));
                }
            }
            (SeqValue::Histogram { h, .. }, None) => {
                return Err(format!(
                    "expected histogram {} for {} but got float value {}",
                    h.test_expression(),
                    s.metric,
                    s.f
                ));
            }
            (_, Some(got)) => {
                return Err(format!(
                    "expected float value for {} but got histogram {}",
                    s.metric,
                    got.test_expression()
                ));
            }
            (SeqValue::Float(f), None) => {
                if !almost_equal(*f, s.f, EPSILON) {
                    return Err(format!("expected {f} for {} but got {}", s.metric, s.f));
                }
            }
            (SeqValue::Omitted, None) => {
                if !almost_equal(0.0, s.f, EPSILON) {
                    return Err(format!("expected 0 for {} but got {}", s.metric, s.f));
                }
            }
        }
    }
    for (l, vals, _) in exp {
        if !v.iter().any(|s| &s.metric == l) {
            return Err(format!("expected metric {l} with {vals:?} not found"));
        }
    }
    Ok(())
}

/// Compares any result value.
pub fn compare_value(ev: &Eval, v: &Value) -> Result<(), String> {
    match v {
        Value::Matrix(m) => {
            if matches!(ev.expected, Expected::Scalar(_)) {
                return Err("expected scalar result, but got matrix".into());
            }
            compare_matrix(ev, m)
        }
        Value::Vector(vec) => {
            if matches!(ev.expected, Expected::Scalar(_)) {
                return Err("expected scalar result, but got vector".into());
            }
            compare_vector(ev, vec)
        }
        Value::Scalar { v, .. } => match &ev.expected {
            Expected::Scalar(e) => {
                if almost_equal(*e, *v, EPSILON) {
                    Ok(())
                } else {
                    Err(format!("expected scalar {e} but got {v}"))
                }
            }
            _ => Err(format!(
                "expected vector or matrix result, but got scalar {v}"
            )),
        },
        Value::String { v, .. } => {
            let want = match &ev.expected {
                Expected::String(s) => s.as_str(),
                _ => "",
            };
            if want == v {
                Ok(())
            } else {
                Err(format!("expected string \"{want}\" but got \"{v}\""))
            }
        }
    }
}

fn check_kind(name: &str, matchers: &[Matcher], actual: &[String]) -> Result<(), String> {
    if matchers.is_empty() {
        return Ok(());
    }
    if actual.is_empty() {
        return Err(format!("expected {name} annotations but none were found"));
    }
    for m in matchers {
        if !actual.iter().any(|a| m.matches(a)) {
            return Err(format!(
                "expected {name} annotation matching {m:?} but found {actual:?}"
            ));
        }
    }
    for a in actual {
        if !matchers.iter().any(|m| m.matches(a)) {
            return Err(format!("unexpected {name} annotation {a:?}"));
        }
    }
    Ok(())
}

/// Checks annotations against the eval's `expect warn`/`info` lines.
pub fn check_annotations(ev: &Eval, annos: &Annotations, query: &str) -> Result<(), String> {
    let warnings = annos.warnings(query);
    let infos = annos.infos(query);
    if ev.warn && warnings.is_empty() {
        return Err("expected warnings but got none".into());
    }
    if ev.info && infos.is_empty() {
        return Err("expected info annotations but got none".into());
    }
    check_kind("warn", &ev.warn_matchers, &warnings)?;
    check_kind("info", &ev.info_matchers, &infos)?;
    if ev.no_warn && !warnings.is_empty() {
        return Err(format!("unexpected warning annotations: {warnings:?}"));
    }
    if ev.no_info && !infos.is_empty() {
        return Err(format!("unexpected info annotations: {infos:?}"));
    }
    Ok(())
}
