//! How Cortex's validation messages print series and strings, reproduced byte for byte
//! (clients and dashboards match on these texts).
//!
//! - [`q200`]: Go's `%.200q`: the first 200 characters, quoted like `strconv.Quote`.
//! - [`label_set`]: a series in sent order, metric name first (`up{job="a"}`).
//! - [`metric_string`]: a series as a Prometheus `model.Metric` prints (labels sorted,
//!   later duplicates winning).
//! - [`labels_string`]: a label list as Prometheus `labels.Labels` prints
//!   (`{__name__="up", job="a"}`).

use cortex_tsdb::labels::{METRIC_NAME, is_valid_legacy_name, write_go_quoted};

use crate::remote_write::Label;

/// Go's `%q`: `s` quoted as `strconv.Quote` quotes.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    let _ = write_go_quoted(&mut out, s);
    out
}

/// Go's `%.200q`: at most the first 200 characters of `s`, quoted.
pub(crate) fn q200(s: &str) -> String {
    let end = s.char_indices().nth(200).map_or(s.len(), |(i, _)| i);
    quote(&s[..end])
}

/// A series as Cortex's validation errors show it: the first non-empty `__name__` as the
/// metric name, then every other label in sent order (duplicates kept) as
/// `name="value"`; `{}` for nothing.
pub(crate) fn label_set(labels: &[Label<'_>]) -> String {
    let mut name: Option<&str> = None;
    let mut rest = String::new();
    let mut count = 0;
    for l in labels {
        if name.is_none() && l.name == METRIC_NAME && !l.value.is_empty() {
            name = Some(l.value);
            continue;
        }
        if count > 0 {
            rest.push_str(", ");
        }
        count += 1;
        rest.push_str(l.name);
        rest.push('=');
        let _ = write_go_quoted(&mut rest, l.value);
    }
    match (name, count) {
        (Some(n), 0) => n.to_string(),
        (None, 0) => "{}".to_string(),
        (n, _) => format!("{}{{{rest}}}", n.unwrap_or_default()),
    }
}

/// A series as Prometheus' `model.Metric` prints it: the metric name, then the other
/// labels as `name="value"` sorted, a later duplicate name replacing an earlier one.
pub(crate) fn metric_string(labels: &[Label<'_>]) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(labels.len());
    for l in labels {
        match pairs.iter_mut().find(|(n, _)| *n == l.name) {
            Some(p) => p.1 = l.value,
            None => pairs.push((l.name, l.value)),
        }
    }
    let name = pairs.iter().find(|(n, _)| *n == METRIC_NAME).map(|p| p.1);
    let mut parts: Vec<String> = pairs
        .iter()
        .filter(|(n, _)| *n != METRIC_NAME)
        .map(|(n, v)| format!("{n}={}", quote(v)))
        .collect();
    if parts.is_empty() {
        return name.map_or_else(|| "{}".to_string(), str::to_string);
    }
    parts.sort_unstable();
    format!("{}{{{}}}", name.unwrap_or_default(), parts.join(", "))
}

/// A label list as Prometheus' `labels.Labels` prints it, in the order given: names that
/// are not legacy names are quoted.
pub(crate) fn labels_string(labels: &[Label<'_>]) -> String {
    let mut out = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if is_valid_legacy_name(l.name) {
            out.push_str(l.name);
        } else {
            let _ = write_go_quoted(&mut out, l.name);
        }
        out.push('=');
        let _ = write_go_quoted(&mut out, l.value);
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l<'a>(name: &'a str, value: &'a str) -> Label<'a> {
        Label { name, value }
    }

    #[test]
    fn q200_truncates_characters_not_bytes() {
        assert_eq!(q200("a\"b"), "\"a\\\"b\"");
        let long = "ü".repeat(250);
        let q = q200(&long);
        assert_eq!(q.chars().count(), 202);
        assert_eq!(q200(""), "\"\"");
    }

    #[test]
    fn label_set_keeps_sent_order_and_duplicates() {
        assert_eq!(label_set(&[l("__name__", "up")]), "up");
        assert_eq!(label_set(&[]), "{}");
        assert_eq!(
            label_set(&[l("b", "2"), l("__name__", "up"), l("a", "1"), l("a", "x")]),
            "up{b=\"2\", a=\"1\", a=\"x\"}"
        );
        assert_eq!(
            label_set(&[l("__name__", ""), l("a", "1")]),
            "{__name__=\"\", a=\"1\"}"
        );
        assert_eq!(
            label_set(&[l("__name__", "m"), l("__name__", "n")]),
            "m{__name__=\"n\"}"
        );
    }

    #[test]
    fn metric_string_sorts_and_dedups() {
        assert_eq!(
            metric_string(&[l("b", "2"), l("__name__", "up"), l("a", "1"), l("b", "3")]),
            "up{a=\"1\", b=\"3\"}"
        );
        assert_eq!(metric_string(&[l("__name__", "up")]), "up");
        assert_eq!(metric_string(&[l("a", "1")]), "{a=\"1\"}");
    }

    #[test]
    fn labels_string_quotes_unusual_names() {
        assert_eq!(
            labels_string(&[l("trace_id", "abc"), l("a.b", "1")]),
            "{trace_id=\"abc\", \"a.b\"=\"1\"}"
        );
        assert_eq!(labels_string(&[]), "{}");
    }
}
