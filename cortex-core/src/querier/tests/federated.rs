//! Tenant federation over in-memory tenants: the tenant label, matchers choosing
//! tenants, label names and values.

use cortex_tsdb::labels::{MatchType, Matcher};

use super::*;
use crate::querier::federated::{FederatedQuerier, ORIGINAL_TENANT_LABEL, TENANT_LABEL};
use crate::querier::memory::MemoryQuerier;

fn tenant(series: &[&[(&str, &str)]]) -> Box<dyn Querier> {
    let mut q = MemoryQuerier::new();
    for (i, l) in series.iter().enumerate() {
        q.add_float(&labels(l), 1_000, i as f64);
    }
    Box::new(q)
}

fn federated() -> FederatedQuerier {
    FederatedQuerier::new(vec![
        (
            "b".to_string(),
            tenant(&[&[("__name__", "up"), ("job", "web")]]),
        ),
        (
            "a".to_string(),
            tenant(&[
                &[("__name__", "up"), ("job", "api")],
                &[("__name__", "up"), ("job", "db"), (TENANT_LABEL, "x")],
            ]),
        ),
        ("c".to_string(), tenant(&[&[("__name__", "other")]])),
    ])
}

fn m(kind: MatchType, name: &str, value: &str) -> Matcher {
    Matcher::new(kind, name, value).unwrap()
}

fn selected(q: &dyn Querier, ms: &[Matcher]) -> Vec<String> {
    q.select(&all(), ms)
        .unwrap()
        .iter()
        .map(|s| s.labels().to_string())
        .collect()
}

#[test]
fn every_series_is_labelled_with_its_tenant_in_label_order() {
    let got = selected(&federated(), &[m(MatchType::Equal, "__name__", "up")]);
    assert_eq!(
        got,
        [
            r#"{__name__="up", __tenant_id__="a", job="api"}"#,
            r#"{__name__="up", __tenant_id__="a", job="db", original___tenant_id__="x"}"#,
            r#"{__name__="up", __tenant_id__="b", job="web"}"#,
        ]
    );
    // The samples are the tenant's.
    let s = federated()
        .select(&all(), &[m(MatchType::Equal, "job", "web")])
        .unwrap();
    let mut it = s[0].samples();
    assert_eq!(it.next().unwrap().map(|x| x.t), Some(1_000));
}

#[test]
fn tenant_matchers_choose_the_tenants_asked() {
    let q = federated();
    let up = m(MatchType::Equal, "__name__", "up");
    let tenants = |ms: &[Matcher]| -> Vec<String> {
        let mut with = vec![up.clone()];
        with.extend_from_slice(ms);
        q.select(&all(), &with)
            .unwrap()
            .iter()
            .map(|s| s.labels().get(TENANT_LABEL).unwrap().to_string())
            .collect()
    };
    assert_eq!(tenants(&[m(MatchType::Equal, TENANT_LABEL, "b")]), ["b"]);
    assert_eq!(
        tenants(&[m(MatchType::NotEqual, TENANT_LABEL, "b")]),
        ["a", "a"]
    );
    assert_eq!(tenants(&[m(MatchType::Regexp, TENANT_LABEL, "b|c")]), ["b"]);
    assert_eq!(
        tenants(&[m(MatchType::NotRegexp, TENANT_LABEL, "a|b")]),
        Vec::<String>::new()
    );
    // Not passed on: the tenants' own series have no such label (or another value).
    assert_eq!(
        tenants(&[m(MatchType::Equal, TENANT_LABEL, "a")]),
        ["a", "a"]
    );
    // A matcher on the original label reaches the tenant's own label.
    let got = selected(
        &q,
        &[up.clone(), m(MatchType::Equal, ORIGINAL_TENANT_LABEL, "x")],
    );
    assert_eq!(got.len(), 1);
    assert!(got[0].contains(r#"job="db""#));
}

#[test]
fn label_names_and_values_include_the_tenants() {
    let q = federated();
    let (lo, hi) = (i64::MIN, i64::MAX);
    // Tenant "a" has its own __tenant_id__, so the original label is listed too.
    assert_eq!(
        q.label_names(lo, hi, &[]).unwrap(),
        ["__name__", TENANT_LABEL, "job", ORIGINAL_TENANT_LABEL]
    );
    let only_b = [m(MatchType::Equal, TENANT_LABEL, "b")];
    assert_eq!(
        q.label_names(lo, hi, &only_b).unwrap(),
        ["__name__", TENANT_LABEL, "job"]
    );
    assert_eq!(
        q.label_values(TENANT_LABEL, lo, hi, &[]).unwrap(),
        ["a", "b", "c"]
    );
    let not_a = [m(MatchType::NotRegexp, TENANT_LABEL, "a")];
    assert_eq!(
        q.label_values(TENANT_LABEL, lo, hi, &not_a).unwrap(),
        ["b", "c"]
    );
    assert_eq!(
        q.label_values("job", lo, hi, &[]).unwrap(),
        ["api", "db", "web"]
    );
    assert_eq!(q.label_values("job", lo, hi, &not_a).unwrap(), ["web"]);
    assert_eq!(
        q.label_values(ORIGINAL_TENANT_LABEL, lo, hi, &[]).unwrap(),
        ["x"]
    );
}

#[test]
fn one_tenant_is_answered_by_its_querier_alone() {
    let q = FederatedQuerier::new(vec![("a".to_string(), tenant(&[&[("__name__", "up")]]))]);
    assert_eq!(selected(&q, &[]), [r#"{__name__="up"}"#]);
    assert_eq!(
        q.label_names(i64::MIN, i64::MAX, &[]).unwrap(),
        ["__name__"]
    );
}
