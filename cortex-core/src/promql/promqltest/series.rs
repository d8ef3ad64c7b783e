//! Series descriptions of the `.test` language: `metric{l="v"} 1+2x3 _ stale
//! {{schema:0 count:4 buckets:[1 2 1]}}x2`, as used by `load` lines and by expected
//! results.

use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram, Span};
use cortex_tsdb::labels::{Labels, LabelsBuilder, METRIC_NAME};
use cortex_tsdb::value::STALE_NAN;

use crate::promql::histogram::HistogramExt;
use crate::promql::parser::literal::{parse_duration, parse_number, unquote};

/// One position in a value sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum SeqValue {
    /// `_`: no sample.
    Omitted,
    /// A float.
    Float(f64),
    /// A native histogram; `hint_set` when the text gave `counter_reset_hint`.
    Histogram {
        /// The histogram.
        h: FloatHistogram,
        /// True when the counter reset hint was written explicitly.
        hint_set: bool,
    },
}

/// Parses a series description line into labels and values.
pub fn parse_series(line: &str) -> Result<(Labels, Vec<SeqValue>), String> {
    let line = line.trim();
    let (labels, rest) = parse_metric(line)?;
    Ok((labels, parse_values(rest)?))
}

/// A start-timestamp line: the metric and one optional offset (ms) per position.
pub type StLine = (Labels, Vec<Option<i64>>);

/// Parses a start-timestamp line (`metric{...}@st -1m+1sx3 _ 0s`). `None` when the
/// line is a sample line.
pub fn parse_st_line(line: &str) -> Result<Option<StLine>, String> {
    let line = line.trim();
    let Some(space) = line.find([' ', '\t']) else {
        return Ok(None);
    };
    let Some(metric) = line[..space].strip_suffix("@st") else {
        return Ok(None);
    };
    let (labels, rest) = parse_metric(metric)?;
    if !rest.trim().is_empty() {
        return Err(format!("invalid @st line metric {metric:?}"));
    }
    let mut out = Vec::new();
    for item in line[space..].split_whitespace() {
        parse_st_item(item, &mut out).map_err(|e| format!("invalid ST item {item:?}: {e}"))?;
    }
    Ok(Some((labels, out)))
}

fn parse_st_item(item: &str, out: &mut Vec<Option<i64>>) -> Result<(), String> {
    if item == "_" {
        out.push(None);
        return Ok(());
    }
    if let Some(n) = item.strip_prefix("_x") {
        let n = parse_times(n)?;
        if n == 0 {
            return Err("invalid repeat count".into());
        }
        out.extend(std::iter::repeat_n(None, n as usize));
        return Ok(());
    }
    let (base, rest) = duration_prefix(item)?;
    if rest.is_empty() {
        out.push(Some(base));
        return Ok(());
    }
    if let Some(n) = rest.strip_prefix('x') {
        out.extend(std::iter::repeat_n(
            Some(base),
            parse_times(n)? as usize + 1,
        ));
        return Ok(());
    }
    let negative = rest.starts_with('-');
    let rest = rest
        .strip_prefix(['+', '-'])
        .ok_or("unexpected character after duration")?;
    let (delta, rest) = duration_prefix(rest)?;
    let delta = if negative { -delta } else { delta };
    let n = parse_times(
        rest.strip_prefix('x')
            .ok_or("expected 'x<count>' after step duration")?,
    )?;
    let mut v = base;
    for _ in 0..=n {
        out.push(Some(v));
        v += delta;
    }
    Ok(())
}

/// A signed duration at the start of `s` (the unit ends at `x`), in ms.
fn duration_prefix(s: &str) -> Result<(i64, &str), String> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("expected digits in duration {s:?}"));
    }
    let unit = body[digits..]
        .bytes()
        .take_while(|c| c.is_ascii_alphabetic() && *c != b'x')
        .count();
    let ms = parse_duration(&body[..digits + unit])?;
    Ok((if neg { -ms } else { ms }, &body[digits + unit..]))
}

/// Parses `name{labels}` (either part optional) at the start of `s`.
pub fn parse_metric(s: &str) -> Result<(Labels, &str), String> {
    let mut b = LabelsBuilder::new();
    let name_len = s
        .char_indices()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
        .count();
    let name = &s[..name_len];
    let mut rest = &s[name_len..];
    if !name.is_empty() {
        b.push(METRIC_NAME, name);
    }
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let (lname, r) = take_name(rest)?;
            rest = r.trim_start();
            if let Some(r) = rest.strip_prefix('=') {
                let (value, r) = take_string(r.trim_start())?;
                b.push(&lname, &value);
                rest = r.trim_start();
            } else {
                // A bare quoted string is the metric name.
                b.push(METRIC_NAME, &lname);
            }
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let labels = b.build().map_err(|e| e.to_string())?;
    Ok((labels, rest))
}

fn take_name(s: &str) -> Result<(String, &str), String> {
    if s.starts_with(['"', '\'', '`']) {
        return take_string(s);
    }
    let n = s
        .char_indices()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
        .count();
    if n == 0 {
        return Err(format!("expected label name at {s:?}"));
    }
    Ok((s[..n].to_string(), &s[n..]))
}

fn take_string(s: &str) -> Result<(String, &str), String> {
    let q = s.chars().next().ok_or("expected string")?;
    if !matches!(q, '"' | '\'' | '`') {
        return Err(format!("expected string at {s:?}"));
    }
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        if b[i] == b'\\' && q != '`' {
            i += 2;
            continue;
        }
        if b[i] == q as u8 {
            let raw = &s[..=i];
            let v = unquote(raw).ok_or_else(|| format!("bad string {raw}"))?;
            return Ok((String::from_utf8_lossy(&v).into_owned(), &s[i + 1..]));
        }
        i += 1;
    }
    Err(format!("unterminated string {s:?}"))
}

/// Splits a value sequence into items, keeping `{{...}}` together.
fn items(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        let mut depth = 0;
        while i < b.len() && (depth > 0 || !b[i].is_ascii_whitespace()) {
            if s[i..].starts_with("{{") {
                depth += 1;
                i += 2;
                continue;
            }
            if s[i..].starts_with("}}") && depth > 0 {
                depth -= 1;
                i += 2;
                continue;
            }
            i += 1;
        }
        if i > start {
            out.push(&s[start..i]);
        }
    }
    out
}

/// Parses the values of a series description.
pub fn parse_values(s: &str) -> Result<Vec<SeqValue>, String> {
    let mut out = Vec::new();
    for item in items(s) {
        parse_item(item, &mut out)?;
    }
    Ok(out)
}

fn parse_times(s: &str) -> Result<u64, String> {
    s.parse::<u64>()
        .map_err(|e| format!("invalid repetition in series values: {e}"))
}

fn parse_item(item: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    if item == "_" {
        out.push(SeqValue::Omitted);
        return Ok(());
    }
    if let Some(n) = item.strip_prefix("_x") {
        for _ in 0..parse_times(n)? {
            out.push(SeqValue::Omitted);
        }
        return Ok(());
    }
    if item.starts_with("{{") {
        return parse_histogram_item(item, out);
    }
    // value [(+|-) step] [x N]
    let (base, rest) = take_number(item)?;
    if rest.is_empty() {
        out.push(SeqValue::Float(base));
        return Ok(());
    }
    if let Some(n) = rest.strip_prefix('x') {
        for _ in 0..=parse_times(n)? {
            out.push(SeqValue::Float(base));
        }
        return Ok(());
    }
    let (step, rest) = take_number(rest)?;
    let Some(n) = rest.strip_prefix('x') else {
        return Err(format!("unexpected {rest:?} in series values"));
    };
    let mut v = base;
    for _ in 0..=parse_times(n)? {
        out.push(SeqValue::Float(v));
        v += step;
    }
    Ok(())
}

/// Takes a (signed) number, `stale`, `Inf` or `NaN` from the start of `s`.
fn take_number(s: &str) -> Result<(f64, &str), String> {
    if let Some(r) = s.strip_prefix("stale") {
        return Ok((STALE_NAN, r));
    }
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let body = &s[i..];
    let lower = body.to_ascii_lowercase();
    let word = ["infinity", "inf", "nan"]
        .into_iter()
        .find(|w| lower.starts_with(w));
    if let Some(w) = word {
        let end = i + w.len();
        let v = parse_number(&s[..end]).map_err(|e| e.to_string())?;
        return Ok((v, &s[end..]));
    }
    let mut j = i;
    let mut seen_e = false;
    while j < b.len() {
        let c = b[j];
        if c.is_ascii_digit() || c == b'.' || c == b'_' {
            j += 1;
        } else if (c == b'e' || c == b'E') && !seen_e && j > i {
            seen_e = true;
            j += 1;
            if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                j += 1;
            }
        } else {
            break;
        }
    }
    if j == i {
        return Err(format!("expected number at {s:?}"));
    }
    // A duration unit right after the digits (`5m`) is a duration in seconds.
    let unit = s[j..]
        .bytes()
        .take_while(|c| c.is_ascii_alphabetic() && *c != b'x')
        .count();
    if unit > 0 && !seen_e {
        let ms = parse_duration(&s[i..j + unit])?;
        let sign = if b[0] == b'-' { -1.0 } else { 1.0 };
        return Ok((sign * ms as f64 / 1000.0, &s[j + unit..]));
    }
    let v = parse_number(&s[..j])?;
    Ok((v, &s[j..]))
}

fn parse_histogram_item(item: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    let end = item.find("}}").ok_or("unterminated histogram")? + 2;
    let (h, hint_set) = parse_histogram(&item[..end])?;
    let rest = &item[end..];
    if rest.is_empty() {
        out.push(SeqValue::Histogram { h, hint_set });
        return Ok(());
    }
    if let Some(n) = rest.strip_prefix('x') {
        for _ in 0..=parse_times(n)? {
            out.push(SeqValue::Histogram {
                h: h.clone(),
                hint_set,
            });
        }
        return Ok(());
    }
    let sub = rest.starts_with('-');
    let rest = rest
        .strip_prefix(['+', '-'])
        .ok_or("unexpected text after histogram")?;
    let end2 = rest.find("}}").ok_or("unterminated histogram")? + 2;
    let (inc, inc_hint_set) = parse_histogram(&rest[..end2])?;
    let n = parse_times(rest[end2..].strip_prefix('x').ok_or("expected x<count>")?)?;
    out.push(SeqValue::Histogram {
        h: h.clone(),
        hint_set: inc_hint_set,
    });
    let mut cur = h;
    for _ in 0..n {
        if cur.schema > inc.schema {
            return Err(format!(
                "error combining histograms: cannot merge from schema {} to {}",
                inc.schema, cur.schema
            ));
        }
        let mut next = cur.clone();
        let r = if sub { next.sub(&inc) } else { next.add(&inc) };
        r.map_err(|_| "error combining histograms: incompatible schemas".to_string())?;
        out.push(SeqValue::Histogram {
            h: next.clone(),
            hint_set: inc_hint_set,
        });
        cur = next;
    }
    Ok(())
}

/// Parses `{{key:value ...}}`; returns the histogram and whether a counter reset
/// hint was given.
pub fn parse_histogram(s: &str) -> Result<(FloatHistogram, bool), String> {
    let inner = s
        .strip_prefix("{{")
        .and_then(|x| x.strip_suffix("}}"))
        .ok_or_else(|| format!("bad histogram {s:?}"))?
        .trim();
    let mut h = FloatHistogram::default();
    let mut hint_set = false;
    let (mut buckets, mut offset, mut n_buckets, mut n_offset) =
        (Vec::new(), 0i32, Vec::new(), 0i32);
    let mut rest = inner;
    let mut seen: Vec<String> = Vec::new();
    while !rest.is_empty() {
        let colon = rest
            .find(':')
            .ok_or_else(|| format!("missing `:` in histogram {s:?}"))?;
        let key = rest[..colon].trim().to_string();
        if seen.contains(&key) {
            return Err(format!("duplicate key \"{key}\" in histogram"));
        }
        seen.push(key.clone());
        rest = rest[colon + 1..].trim_start();
        let value_end = if rest.starts_with('[') {
            rest.find(']').ok_or("unterminated bucket list")? + 1
        } else {
            rest.find(char::is_whitespace).unwrap_or(rest.len())
        };
        let value = &rest[..value_end];
        rest = rest[value_end..].trim_start();
        let num = |v: &str| -> Result<f64, String> {
            let (n, r) = take_number(v)?;
            if r.is_empty() {
                Ok(n)
            } else {
                Err(format!("bad number {v:?}"))
            }
        };
        let list = |v: &str| -> Result<Vec<f64>, String> {
            v.trim_start_matches('[')
                .trim_end_matches(']')
                .split_whitespace()
                .map(num)
                .collect()
        };
        match key.as_str() {
            "schema" => h.schema = num(value)? as i32,
            "sum" => h.sum = num(value)?,
            "count" => h.count = num(value)?,
            "z_bucket" => h.zero_count = num(value)?,
            "z_bucket_w" => h.zero_threshold = num(value)?,
            "custom_values" => h.custom_values = list(value)?,
            "buckets" => buckets = list(value)?,
            "offset" => offset = num(value)? as i32,
            "n_buckets" => n_buckets = list(value)?,
            "n_offset" => n_offset = num(value)? as i32,
            "counter_reset_hint" => {
                hint_set = true;
                h.counter_reset_hint = match value {
                    "unknown" => CounterResetHint::Unknown,
                    "reset" => CounterResetHint::CounterReset,
                    "not_reset" => CounterResetHint::NotCounterReset,
                    "gauge" => CounterResetHint::Gauge,
                    _ => {
                        return Err(format!(
                            "error parsing counter_reset_hint: unknown value {value}"
                        ));
                    }
                };
            }
            _ => return Err(format!("bad histogram descriptor found: {key:?}")),
        }
    }
    if !buckets.is_empty() {
        h.positive_spans = vec![Span {
            offset,
            length: buckets.len() as u32,
        }];
        h.positive_buckets = buckets;
    }
    if !n_buckets.is_empty() {
        h.negative_spans = vec![Span {
            offset: n_offset,
            length: n_buckets.len() as u32,
        }];
        h.negative_buckets = n_buckets;
    }
    Ok((h, hint_set))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_sequences() {
        let (l, v) = parse_series(r#"m{a="b", c="d"} 1+1x2 _x2 5 stale -1-2x1 3x1"#).unwrap();
        assert_eq!(l.to_string(), r#"{__name__="m", a="b", c="d"}"#);
        let f: Vec<String> = v
            .iter()
            .map(|x| match x {
                SeqValue::Omitted => "_".into(),
                SeqValue::Float(f) if f.is_nan() => "stale".into(),
                SeqValue::Float(f) => f.to_string(),
                SeqValue::Histogram { .. } => "h".into(),
            })
            .collect();
        assert_eq!(
            f,
            vec!["1", "2", "3", "_", "_", "5", "stale", "-1", "-3", "3", "3"]
        );
    }

    #[test]
    fn parses_histograms_and_increments() {
        let (_, v) =
            parse_series("h {{schema:0 sum:5 count:4 buckets:[1 2 1]}}+{{count:1 buckets:[1]}}x2")
                .unwrap();
        assert_eq!(v.len(), 3);
        let SeqValue::Histogram { h, hint_set } = &v[2] else {
            panic!()
        };
        assert_eq!(
            (h.count, h.positive_buckets.clone(), *hint_set),
            (6.0, vec![3.0, 2.0, 1.0], false)
        );
        let (h, set) = parse_histogram(
            "{{counter_reset_hint:gauge n_buckets:[1] n_offset:-1 z_bucket_w:0.5}}",
        )
        .unwrap();
        assert!(set);
        assert_eq!(h.counter_reset_hint, CounterResetHint::Gauge);
        assert_eq!(h.negative_spans[0].offset, -1);
    }

    #[test]
    fn special_numbers_and_quoted_names() {
        let (l, v) = parse_series(r#"{"my.metric", x="1"} Inf -Inf NaN 1e3"#).unwrap();
        assert_eq!(l.metric_name(), Some("my.metric"));
        assert_eq!(v[0], SeqValue::Float(f64::INFINITY));
        assert_eq!(v[3], SeqValue::Float(1000.0));
    }
}
