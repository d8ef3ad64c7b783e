//! `labels`, `label/<name>/values` and `series`: matchers and time range parsed as
//! Prometheus parses them, lookups run on the blocking pool, results sorted and cut to
//! `limit` with Prometheus' warning.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use cortex_core::api::params::{MAX_TIME, MIN_TIME, parse_matchers_param, parse_time_param};
use cortex_core::api::{ApiError, encode};
use cortex_core::querier::SelectHints;
use cortex_tsdb::labels::{Labels, Matcher};

use super::form::Form;
use super::query::{TRUNCATED, parse_limit};
use super::{ApiCall, fail, ok};
use crate::server::AppState;

/// What every lookup parses: the time range, the `match[]` sets and `limit`.
struct Lookup {
    start: i64,
    end: i64,
    sets: Vec<Vec<Matcher>>,
    limit: usize,
}

fn lookup(form: &Form, match_is_param: bool) -> Result<Lookup, ApiError> {
    let start = parse_time_param(form.get("start"), "start", MIN_TIME)
        .map_err(|e| ApiError::invalid_param("start", e))?;
    let end = parse_time_param(form.get("end"), "end", MAX_TIME)
        .map_err(|e| ApiError::invalid_param("end", e))?;
    let sets = parse_matchers_param(&form.all("match[]")).map_err(|e| {
        if match_is_param {
            ApiError::invalid_param("match[]", e)
        } else {
            ApiError::bad_data(e)
        }
    })?;
    let limit = parse_limit(form)?;
    Ok(Lookup {
        start,
        end,
        sets,
        limit,
    })
}

fn truncate<T>(items: &mut Vec<T>, limit: usize) -> Vec<String> {
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        vec![TRUNCATED.to_string()]
    } else {
        Vec::new()
    }
}

/// `GET|POST .../labels`.
pub(crate) async fn names(
    State(state): State<Arc<AppState>>,
    ApiCall { tenants, form, .. }: ApiCall,
) -> Response {
    let backend = match state.query() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let l = match lookup(&form, false) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let querier = backend.querier(&tenants);
    let res = backend
        .run(move |_| {
            let mut names = BTreeSet::new();
            if l.sets.is_empty() {
                names.extend(querier.label_names(l.start, l.end, &[])?);
            }
            for set in &l.sets {
                names.extend(querier.label_names(l.start, l.end, set)?);
            }
            Ok::<_, cortex_core::querier::QuerierError>(names.into_iter().collect::<Vec<_>>())
        })
        .await;
    match res {
        Ok(Ok(mut names)) => {
            let warnings = truncate(&mut names, l.limit);
            ok(&encode::strings(&names), &warnings, &[])
        }
        Ok(Err(e)) => fail(&ApiError::from_storage(e)),
        Err(e) => fail(&e),
    }
}

/// True for a label name Prometheus 2 accepts in the `label/<name>/values` path.
fn is_legacy_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `GET .../label/<name>/values`.
pub(crate) async fn values(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    ApiCall { tenants, form, .. }: ApiCall,
) -> Response {
    let backend = match state.query() {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !is_legacy_label_name(&name) {
        return fail(&ApiError::bad_data(format!(
            "invalid label name: {}",
            go_quote(&name)
        )));
    }
    let l = match lookup(&form, false) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let querier = backend.querier(&tenants);
    let res = backend
        .run(move |_| {
            let mut values = BTreeSet::new();
            if l.sets.is_empty() {
                values.extend(querier.label_values(&name, l.start, l.end, &[])?);
            }
            for set in &l.sets {
                values.extend(querier.label_values(&name, l.start, l.end, set)?);
            }
            Ok::<_, cortex_core::querier::QuerierError>(values.into_iter().collect::<Vec<_>>())
        })
        .await;
    match res {
        Ok(Ok(mut values)) => {
            let warnings = truncate(&mut values, l.limit);
            ok(&encode::strings(&values), &warnings, &[])
        }
        Ok(Err(e)) => fail(&ApiError::from_storage(e)),
        Err(e) => fail(&e),
    }
}

/// `GET|POST .../series`.
pub(crate) async fn series(
    State(state): State<Arc<AppState>>,
    ApiCall { tenants, form, .. }: ApiCall,
) -> Response {
    let backend = match state.query() {
        Ok(b) => b,
        Err(r) => return r,
    };
    if form.all("match[]").is_empty() {
        return fail(&ApiError::bad_data("no match[] parameter provided"));
    }
    let l = match lookup(&form, true) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let querier = backend.querier(&tenants);
    let res = backend
        .run(move |_| {
            let hints = SelectHints {
                start: l.start,
                end: l.end,
                func: Some("series".into()),
                ..Default::default()
            };
            let mut all: BTreeSet<Labels> = BTreeSet::new();
            for set in &l.sets {
                for s in querier.select(&hints, set)? {
                    all.insert(s.labels().clone());
                }
            }
            Ok::<_, cortex_core::querier::QuerierError>(all.into_iter().collect::<Vec<_>>())
        })
        .await;
    match res {
        Ok(Ok(mut sets)) => {
            let warnings = truncate(&mut sets, l.limit);
            ok(&encode::label_sets(&sets), &warnings, &[])
        }
        Ok(Err(e)) => fail(&ApiError::from_storage(e)),
        Err(e) => fail(&e),
    }
}

/// Go's `%q` of a string: double quotes, backslash escapes for quotes, backslashes and
/// control characters.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
