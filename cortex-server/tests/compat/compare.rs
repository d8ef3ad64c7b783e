//! Semantic comparison of two Prometheus HTTP API answers to the same request: HTTP
//! status, `status`, `errorType`, `resultType` and the result. Series are matched by label
//! set (instant vectors in any order unless the query sorts, matrices as sets of series),
//! timestamps exactly, values within a relative tolerance of 1e-6 (NaN equals NaN,
//! infinities equal themselves). Error messages, `warnings` and `infos` are not compared
//! here: the byte-for-byte checks cover the messages that must match.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::Response;

/// Relative tolerance for sample values.
pub const REL_TOLERANCE: f64 = 1e-6;

/// Below this absolute difference two values count as equal: sums that cancel to zero
/// keep different rounding residue under different summation orders (3.x sums with
/// Kahan compensation, 2.42 does not).
pub const ABS_TOLERANCE: f64 = 1e-12;

/// At most this many differing series or points are shown per query.
const SHOW: usize = 4;

/// True when two sample values agree.
pub fn values_equal(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    let diff = (a - b).abs();
    diff <= ABS_TOLERANCE || diff <= REL_TOLERANCE * a.abs().max(b.abs())
}

/// A sample value as the API writes it (`"1.5"`, `"NaN"`, `"+Inf"`, `"-Inf"`).
fn parse_value(v: &Value) -> Option<f64> {
    match v.as_str()? {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        s => s.parse().ok(),
    }
}

/// A `[timestamp, "value"]` pair.
fn parse_point(p: &Value) -> Option<(f64, f64)> {
    let a = p.as_array()?;
    Some((a.first()?.as_f64()?, parse_value(a.get(1)?)?))
}

/// A `metric` object printed canonically (labels sorted).
fn label_key(metric: Option<&Value>) -> String {
    let mut m: BTreeMap<&str, &str> = BTreeMap::new();
    if let Some(obj) = metric.and_then(Value::as_object) {
        for (k, v) in obj {
            m.insert(k, v.as_str().unwrap_or("<non-string>"));
        }
    }
    let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n).collect::<String>() + "…"
    }
}

/// Compares `actual` with `reference`; `ordered` when the query's result order is
/// defined (`sort`, `sort_desc`). `Err` holds a compact description of every difference.
pub fn compare_responses(
    reference: &Response,
    actual: &Response,
    ordered: bool,
) -> Result<(), String> {
    let (want, got) = match (
        serde_json::from_slice::<Value>(&reference.body),
        serde_json::from_slice::<Value>(&actual.body),
    ) {
        (Ok(w), Ok(g)) => (w, g),
        _ => {
            return Err(format!(
                "unparsable body: want {} {:?} got {} {:?}",
                reference.status,
                truncate(&reference.text(), 300),
                actual.status,
                truncate(&actual.text(), 300)
            ));
        }
    };
    let mut diffs = Vec::new();
    if reference.status != actual.status {
        diffs.push(format!(
            "HTTP status: want {} got {}",
            reference.status, actual.status
        ));
    }
    for field in ["status", "errorType"] {
        if want.get(field) != got.get(field) {
            diffs.push(format!(
                "{field}: want {} got {}",
                want.get(field).unwrap_or(&Value::Null),
                got.get(field).unwrap_or(&Value::Null)
            ));
        }
    }
    if !diffs.is_empty() {
        for (side, v) in [("want", &want), ("got", &got)] {
            if let Some(e) = v.get("error") {
                diffs.push(format!("{side} error: {}", truncate(&e.to_string(), 200)));
            }
        }
        return Err(diffs.join("\n    "));
    }
    match (want.get("data"), got.get("data")) {
        (None, None) => {}
        (Some(w), Some(g)) => compare_data(w, g, ordered, &mut diffs),
        (w, g) => diffs.push(format!("data: want {w:?} got {g:?}")),
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("\n    "))
    }
}

fn compare_data(want: &Value, got: &Value, ordered: bool, diffs: &mut Vec<String>) {
    let Some(want_type) = want.get("resultType") else {
        // series, labels, label values: lists whose order we do not rely on.
        compare_lists(want, got, diffs);
        return;
    };
    if Some(want_type) != got.get("resultType") {
        diffs.push(format!(
            "resultType: want {want_type} got {}",
            got.get("resultType").unwrap_or(&Value::Null)
        ));
        return;
    }
    let (w, g) = (&want["result"], &got["result"]);
    match want_type.as_str() {
        Some("scalar") => compare_point("scalar", w, g, diffs),
        Some("string") => {
            if w != g {
                diffs.push(format!("string: want {w} got {g}"));
            }
        }
        Some("vector") => compare_series(w, g, ordered, "value", diffs),
        Some("matrix") => compare_series(w, g, false, "values", diffs),
        other => diffs.push(format!("unknown resultType {other:?}")),
    }
}

fn compare_lists(want: &Value, got: &Value, diffs: &mut Vec<String>) {
    let canon = |v: &Value| -> Option<Vec<String>> {
        let mut items: Vec<String> = v
            .as_array()?
            .iter()
            .map(|i| {
                if i.is_object() {
                    label_key(Some(i))
                } else {
                    i.to_string()
                }
            })
            .collect();
        items.sort();
        Some(items)
    };
    match (canon(want), canon(got)) {
        (Some(w), Some(g)) if w == g => {}
        (Some(w), Some(g)) => {
            let missing: Vec<&String> = w.iter().filter(|i| !g.contains(i)).take(SHOW).collect();
            let extra: Vec<&String> = g.iter().filter(|i| !w.contains(i)).take(SHOW).collect();
            diffs.push(format!(
                "list: want {} items got {}; missing {missing:?} extra {extra:?}",
                w.len(),
                g.len()
            ));
        }
        _ => {
            if want != got {
                diffs.push(format!(
                    "data: want {} got {}",
                    truncate(&want.to_string(), 200),
                    truncate(&got.to_string(), 200)
                ));
            }
        }
    }
}

fn compare_point(what: &str, want: &Value, got: &Value, diffs: &mut Vec<String>) {
    match (parse_point(want), parse_point(got)) {
        (Some((wt, wv)), Some((gt, gv))) => {
            if wt != gt || !values_equal(wv, gv) {
                diffs.push(format!("{what}: want {want} got {got}"));
            }
        }
        _ => diffs.push(format!("{what}: malformed point: want {want} got {got}")),
    }
}

/// Series of a vector (`field` = `value`) or matrix (`values`) keyed by label set.
fn series_map(v: &Value, field: &str) -> Vec<(String, Vec<Value>)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    let points = match s.get(field) {
                        Some(Value::Array(p)) if field == "values" => p.clone(),
                        Some(p) => vec![p.clone()],
                        None => Vec::new(),
                    };
                    (label_key(s.get("metric")), points)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn compare_series(want: &Value, got: &Value, ordered: bool, field: &str, diffs: &mut Vec<String>) {
    let w = series_map(want, field);
    let g = series_map(got, field);
    if w.len() != g.len() {
        diffs.push(format!("series count: want {} got {}", w.len(), g.len()));
    }
    if ordered {
        // Equal values may come in either order (sorting is not stable in 2.42); the
        // sequence of values must match, the label sets are matched below.
        let value = |p: &Vec<Value>| p.first().and_then(parse_point).map(|x| x.1);
        let first = w
            .iter()
            .zip(&g)
            .position(|((_, a), (_, b))| match (value(a), value(b)) {
                (Some(x), Some(y)) => !values_equal(x, y),
                _ => true,
            });
        if let Some(i) = first {
            diffs.push(format!(
                "order differs at {i}: want {:?} got {:?}",
                w.get(i),
                g.get(i)
            ));
        }
    }
    let gmap: BTreeMap<&String, &Vec<Value>> = g.iter().map(|(k, p)| (k, p)).collect();
    let wmap: BTreeMap<&String, &Vec<Value>> = w.iter().map(|(k, p)| (k, p)).collect();
    let missing: Vec<&&String> = wmap.keys().filter(|k| !gmap.contains_key(*k)).collect();
    let extra: Vec<&&String> = gmap.keys().filter(|k| !wmap.contains_key(*k)).collect();
    if !missing.is_empty() {
        diffs.push(format!(
            "{} series missing, e.g. {:?}",
            missing.len(),
            missing.iter().take(SHOW).collect::<Vec<_>>()
        ));
    }
    if !extra.is_empty() {
        diffs.push(format!(
            "{} series extra, e.g. {:?}",
            extra.len(),
            extra.iter().take(SHOW).collect::<Vec<_>>()
        ));
    }
    let mut shown = 0;
    let mut differing = 0;
    for (key, wp) in &wmap {
        let Some(gp) = gmap.get(key) else { continue };
        if let Some(d) = compare_points(wp, gp) {
            differing += 1;
            if shown < SHOW {
                shown += 1;
                diffs.push(format!("{key}: {d}"));
            }
        }
    }
    if differing > shown {
        diffs.push(format!("... {} more series differ", differing - shown));
    }
}

/// The first difference between two point lists, if any.
fn compare_points(want: &[Value], got: &[Value]) -> Option<String> {
    let wp: Vec<Option<(f64, f64)>> = want.iter().map(parse_point).collect();
    let gp: Vec<Option<(f64, f64)>> = got.iter().map(parse_point).collect();
    for (i, (w, g)) in wp.iter().zip(&gp).enumerate() {
        match (w, g) {
            (Some((wt, wv)), Some((gt, gv))) if wt == gt && values_equal(*wv, *gv) => {}
            _ => {
                return Some(format!(
                    "point {i} of {}/{}: want {} got {}",
                    want.len(),
                    got.len(),
                    want.get(i).unwrap_or(&Value::Null),
                    got.get(i).unwrap_or(&Value::Null)
                ));
            }
        }
    }
    if wp.len() != gp.len() {
        let first_t = |p: &[Option<(f64, f64)>]| p.first().copied().flatten().map(|x| x.0);
        return Some(format!(
            "{} points, want {} (first at {:?}, want {:?})",
            gp.len(),
            wp.len(),
            first_t(&gp),
            first_t(&wp)
        ));
    }
    None
}

/// True when `query` defines its output order (an outer `sort` or `sort_desc`).
pub fn query_is_ordered(query: &str) -> bool {
    let q = query.trim_start();
    q.starts_with("sort(") || q.starts_with("sort_desc(")
}

/// How a reference answer turned out, for checking the queries exercise the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An error answer.
    Error,
    /// Success with an empty vector or matrix.
    Empty,
    /// Success with data.
    Data,
}

/// Classifies a query API answer.
pub fn outcome(r: &Response) -> Outcome {
    let Ok(v) = serde_json::from_slice::<Value>(&r.body) else {
        return Outcome::Error;
    };
    if v.get("status").and_then(Value::as_str) != Some("success") {
        return Outcome::Error;
    }
    match v.pointer("/data/result") {
        Some(Value::Array(a)) if a.is_empty() => Outcome::Empty,
        _ => Outcome::Data,
    }
}

/// Where two bodies first differ, with some context from each, for failure output.
pub fn byte_diff(want: &[u8], got: &[u8]) -> String {
    let at = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    let window = |b: &[u8]| {
        let from = at.saturating_sub(80);
        let to = (at + 120).min(b.len());
        String::from_utf8_lossy(b.get(from..to).unwrap_or_default()).into_owned()
    };
    format!(
        "first difference at byte {at} (lengths {} and {}):\n      want …{}…\n      got  …{}…",
        want.len(),
        got.len(),
        window(want),
        window(got)
    )
}
