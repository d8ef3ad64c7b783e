//! The smaller endpoints: `metadata`, `query_exemplars`, `format_query`,
//! `parse_query` and `status/buildinfo`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use cortex_core::api::encode::{BuildInfo, MetadataJson};
use cortex_core::api::params::{MAX_TIME, MIN_TIME, parse_time_param};
use cortex_core::api::{ApiError, ast_json, encode};
use cortex_core::ingester::MetadataQuery;
use cortex_core::promql::parser::pretty::pretty;
use cortex_core::promql::parser::{Expr, parse_expr};
use cortex_tsdb::exemplar::ExemplarSeries;
use cortex_tsdb::labels::Matcher;

use super::form::Form;
use super::{ApiCall, fail, ok};
use crate::server::AppState;

/// `GET .../metadata`: the tenants' metric metadata by metric name.
pub(crate) async fn metadata(
    State(state): State<Arc<AppState>>,
    ApiCall { tenants, form, .. }: ApiCall,
) -> Response {
    let backend = match state.query() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let number = |name: &str, msg: &str| -> Result<Option<usize>, ApiError> {
        match form.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n < 0 => Ok(None),
                Ok(n) => Ok(Some(n as usize)),
                Err(_) => Err(ApiError::bad_data(msg)),
            },
        }
    };
    let limit = match number("limit", "limit must be a number") {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let limit_per_metric = match number("limit_per_metric", "limit_per_metric must be a number") {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let q = MetadataQuery {
        metric: form
            .get("metric")
            .filter(|m| !m.is_empty())
            .map(str::to_string),
        limit: None,
        limit_per_metric,
    };
    let entries = {
        let st = state.clone();
        backend
            .run(move |_| {
                let Ok(backend) = st.query() else {
                    return Err(ApiError::internal("querier not running"));
                };
                let mut all = Vec::new();
                for t in &tenants {
                    let found = backend
                        .metadata(t, &q)
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    all.extend(found);
                }
                Ok(all)
            })
            .await
    };
    let entries = match entries {
        Ok(Ok(e)) => e,
        Ok(Err(e)) | Err(e) => return fail(&e),
    };
    let mut by_metric: BTreeMap<String, BTreeSet<MetadataJson>> = BTreeMap::new();
    for e in entries {
        by_metric
            .entry(e.metric_family_name.clone())
            .or_default()
            .insert(MetadataJson {
                metric_type: e.type_name().to_string(),
                help: e.help.clone(),
                unit: e.unit.clone(),
            });
    }
    let by_metric: BTreeMap<String, Vec<MetadataJson>> = by_metric
        .into_iter()
        .take(limit.unwrap_or(usize::MAX))
        .map(|(k, v)| {
            let mut v: Vec<_> = v.into_iter().collect();
            if let Some(n) = limit_per_metric {
                v.truncate(n);
            }
            (k, v)
        })
        .collect();
    ok(&encode::metadata(&by_metric), &[], &[])
}

/// Every vector selector's matchers in `e`.
fn selectors(e: &Expr, out: &mut Vec<Vec<Matcher>>) {
    match e {
        Expr::VectorSelector(vs) => out.push(vs.matchers.clone()),
        Expr::MatrixSelector(m) => out.push(m.vs.matchers.clone()),
        Expr::Aggregate(a) => {
            selectors(&a.expr, out);
            if let Some(p) = &a.param {
                selectors(p, out);
            }
        }
        Expr::Binary(b) => {
            selectors(&b.lhs, out);
            selectors(&b.rhs, out);
        }
        Expr::Call(c) => c.args.iter().for_each(|a| selectors(a, out)),
        Expr::Subquery(s) => selectors(&s.expr, out),
        Expr::Paren(p) => selectors(&p.expr, out),
        Expr::Unary(u) => selectors(&u.expr, out),
        Expr::StepInvariant(s) => selectors(&s.expr, out),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Duration(_) => {}
    }
}

/// `GET|POST .../query_exemplars`: exemplars of the series the query selects.
pub(crate) async fn exemplars(
    State(state): State<Arc<AppState>>,
    ApiCall { tenants, form, .. }: ApiCall,
) -> Response {
    let backend = match state.query() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let start = match parse_time_param(form.get("start"), "start", MIN_TIME) {
        Ok(t) => t,
        Err(e) => return fail(&ApiError::invalid_param("start", e)),
    };
    let end = match parse_time_param(form.get("end"), "end", MAX_TIME) {
        Ok(t) => t,
        Err(e) => return fail(&ApiError::invalid_param("end", e)),
    };
    if end < start {
        return fail(&ApiError::bad_data(
            "end timestamp must not be before start timestamp",
        ));
    }
    let expr = match parse_expr(form.value("query")) {
        Ok(e) => e,
        Err(e) => return fail(&ApiError::bad_data(e.to_string())),
    };
    let mut sets = Vec::new();
    selectors(&expr, &mut sets);
    if sets.is_empty() {
        // Prometheus answers a query without selectors with no content.
        return StatusCode::NO_CONTENT.into_response();
    }
    let federated = tenants.len() > 1;
    let st = state.clone();
    let res = backend
        .run(move |_| {
            let Ok(backend) = st.query() else {
                return Err(ApiError::internal("querier not running"));
            };
            let mut all: Vec<ExemplarSeries> = Vec::new();
            for t in &tenants {
                let found = backend
                    .exemplars(t, &sets, start, end)
                    .map_err(ApiError::from_storage)?;
                for mut s in found {
                    if federated {
                        s.series_labels = with_tenant(&s.series_labels, t);
                    }
                    all.push(s);
                }
            }
            all.sort_by(|a, b| a.series_labels.cmp(&b.series_labels));
            Ok::<_, ApiError>(all)
        })
        .await;
    match res {
        Ok(Ok(all)) => ok(&encode::exemplars(&all), &[], &[]),
        Ok(Err(e)) | Err(e) => fail(&e),
    }
}

/// `labels` with `__tenant_id__="<tenant>"` added (federated results).
fn with_tenant(labels: &cortex_tsdb::labels::Labels, tenant: &str) -> cortex_tsdb::labels::Labels {
    let mut b = labels.to_builder();
    b.set("__tenant_id__", tenant);
    b.build().unwrap_or_else(|_| labels.clone())
}

/// `GET|POST .../format_query`: the query printed in canonical form.
pub(crate) async fn format_query(
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let form = Form::parse(&method, &headers, query.as_deref(), &body);
    match parse_expr(form.value("query")) {
        Ok(e) => {
            let mut out = String::new();
            cortex_core::api::json::write_string(&mut out, &pretty(&e));
            ok(&out, &[], &[])
        }
        Err(e) => fail(&ApiError::invalid_param("query", e)),
    }
}

/// `GET|POST .../parse_query`: the query's syntax tree as JSON.
pub(crate) async fn parse_query(
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let form = Form::parse(&method, &headers, query.as_deref(), &body);
    match parse_expr(form.value("query")) {
        Ok(e) => ok(&ast_json::translate(&e), &[], &[]),
        Err(e) => fail(&ApiError::invalid_param("query", e)),
    }
}

/// `GET .../status/buildinfo`.
pub(crate) async fn build_info() -> Response {
    let info = BuildInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        revision: option_env!("CORTEX_BUILD_REVISION")
            .unwrap_or("")
            .to_string(),
        branch: option_env!("CORTEX_BUILD_BRANCH").unwrap_or("").to_string(),
        build_user: option_env!("CORTEX_BUILD_USER").unwrap_or("").to_string(),
        build_date: option_env!("CORTEX_BUILD_DATE").unwrap_or("").to_string(),
        go_version: concat!("rust", env!("CARGO_PKG_RUST_VERSION")).to_string(),
    };
    ok(&encode::build_info(&info), &[], &[])
}
