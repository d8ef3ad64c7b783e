//! `query` and `query_range`: parameters checked in Prometheus' order and with its
//! messages, the tenants' query limits applied, the PromQL engine run on the blocking
//! pool, and the result encoded with its warnings and infos.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::response::Response;
use cortex_core::api::params::{parse_duration, parse_time, parse_time_param};
use cortex_core::api::{ApiError, encode};
use cortex_core::frontend::{RangeQuery, RangeResult};
use cortex_core::promql::parser::{Expr, parse_expr};
use cortex_core::promql::{Engine, QueryRange, QueryResult, Value};

use super::backend::{QueryBackend, QueryLimits};
use super::form::Form;
use super::{ApiCall, fail, ok};
use crate::server::AppState;

/// Most points a range query may return per series.
const MAX_POINTS: i64 = 11_000;

/// The current time in milliseconds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `GET|POST .../query`.
pub(crate) async fn instant(
    State(state): State<Arc<AppState>>,
    ApiCall { tenants, form, .. }: ApiCall,
) -> Response {
    let backend = match state.query() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ts = match parse_time_param(form.get("time"), "time", now_ms()) {
        Ok(t) => t,
        Err(e) => return fail(&ApiError::invalid_param("time", e)),
    };
    let common = match Common::parse(&form, backend) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let text = form.value("query").to_string();
    let expr = match parse_expr(&text) {
        Ok(e) => e,
        Err(e) => return fail(&ApiError::invalid_param("query", e)),
    };
    let range = QueryRange {
        start: ts,
        end: ts,
        step: 0,
    };
    run(backend, &tenants, common, expr, text, range).await
}

/// `GET|POST .../query_range`.
pub(crate) async fn range(
    State(state): State<Arc<AppState>>,
    ApiCall {
        tenants,
        form,
        no_store,
    }: ApiCall,
) -> Response {
    let backend = match state.query() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (start, end, step) = match range_params(&form) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let common = match Common::parse(&form, backend) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let text = form.value("query").to_string();
    // Prometheus 2 reports a range query's parse error without naming the parameter.
    let expr = match parse_expr(&text) {
        Ok(e) => e,
        Err(e) => return fail(&ApiError::bad_data(e.to_string())),
    };
    let limits = backend.limits(&tenants);
    let (start, end) = match apply_range_limits(&limits, start, end, now_ms()) {
        Ok(Some(r)) => r,
        Ok(None) => {
            return ok(&encode::query_data(&Value::Matrix(Vec::new())), &[], &[]);
        }
        Err(e) => return fail(&e),
    };
    let q = RangeCall {
        tenants: &tenants,
        common,
        expr,
        text,
        range: QueryRange { start, end, step },
        limits,
        use_cache: !no_store,
    };
    run_range(&state, backend, q).await
}

/// A range query, checked and ready to run.
struct RangeCall<'a> {
    tenants: &'a [String],
    common: Common,
    expr: Expr,
    text: String,
    range: QueryRange,
    limits: QueryLimits,
    use_cache: bool,
}

/// Runs a range query through the frontend (alignment, splitting, results cache),
/// each stretch it needs evaluated by the engine on the blocking pool.
async fn run_range(state: &Arc<AppState>, backend: &QueryBackend, call: RangeCall<'_>) -> Response {
    let querier = backend.querier(call.tenants);
    let mut opts = backend.engine_opts().clone();
    opts.timeout = call.common.timeout;
    if let Some(l) = call.common.lookback {
        opts.lookback_delta = l;
    }
    let lookback_ms = i64::try_from(opts.lookback_delta.as_millis()).unwrap_or(i64::MAX);
    let engine = Arc::new(Engine::new(opts));
    let expr = Arc::new(call.expr);
    let text: Arc<str> = Arc::from(call.text);
    let step = call.range.step;
    let q = RangeQuery {
        tenants: call.tenants,
        query: &text,
        expr: &expr,
        start: call.range.start,
        end: call.range.end,
        step,
        lookback_ms,
        now: now_ms(),
        max_cache_freshness_ms: call.limits.max_cache_freshness,
        parallelism: call.limits.max_query_parallelism,
        use_cache: call.use_cache,
    };
    let res = backend
        .frontend()
        .run(&q, |start, end| {
            let state = state.clone();
            let (engine, querier) = (engine.clone(), querier.clone());
            let (expr, text) = (expr.clone(), text.clone());
            async move {
                let backend = state
                    .query()
                    .map_err(|_| ApiError::internal("the querier stopped"))?;
                let range = QueryRange { start, end, step };
                let r = backend
                    .run(move |cancel| engine.exec(&*querier, &expr, &text, range, Some(cancel)))
                    .await?
                    .map_err(ApiError::from_query)?;
                let (warnings, infos) = (r.warnings(), r.infos());
                match r.value {
                    Value::Matrix(matrix) => Ok(RangeResult {
                        matrix,
                        warnings,
                        infos,
                    }),
                    _ => Err(ApiError::internal("a range query gave no matrix")),
                }
            }
        })
        .await;
    match res {
        Ok(mut r) => {
            if call.common.limit > 0 && r.matrix.len() > call.common.limit {
                r.matrix.truncate(call.common.limit);
                r.warnings.push(TRUNCATED.to_string());
            }
            ok(
                &encode::query_data(&Value::Matrix(r.matrix)),
                &r.warnings,
                &r.infos,
            )
        }
        Err(e) => fail(&e),
    }
}

/// `start`, `end` and `step` (ms) of a range query, checked as Prometheus checks them.
fn range_params(form: &Form) -> Result<(i64, i64, i64), ApiError> {
    let start = parse_time(form.value("start")).map_err(|e| ApiError::invalid_param("start", e))?;
    let end = parse_time(form.value("end")).map_err(|e| ApiError::invalid_param("end", e))?;
    if end < start {
        return Err(ApiError::invalid_param(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step_ns =
        parse_duration(form.value("step")).map_err(|e| ApiError::invalid_param("step", e))?;
    if step_ns <= 0 {
        return Err(ApiError::invalid_param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    let span_ns = (end as i128 - start as i128) * 1_000_000;
    if span_ns / step_ns as i128 > MAX_POINTS as i128 {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let step = step_ns / 1_000_000;
    if step == 0 {
        return Err(ApiError::invalid_param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    Ok((start, end, step))
}

/// Applies `max_query_length` (refusing longer ranges) and `max_query_lookback`
/// (moving the start forward; `None` when nothing is left to read).
fn apply_range_limits(
    limits: &QueryLimits,
    start: i64,
    end: i64,
    now: i64,
) -> Result<Option<(i64, i64)>, ApiError> {
    let mut start = start;
    if limits.max_query_lookback > 0 {
        let min = now - limits.max_query_lookback;
        if end < min {
            return Ok(None);
        }
        start = start.max(min);
    }
    if limits.max_query_length > 0 && end - start > limits.max_query_length {
        return Err(ApiError::bad_data(format!(
            "the query time range exceeds the limit (query length: {}, limit: {})",
            go_duration(end - start),
            go_duration(limits.max_query_length)
        )));
    }
    Ok(Some((start, end)))
}

/// Go's `time.Duration.String()` of a whole number of milliseconds (`1h0m0s`, `1.5s`).
pub(crate) fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let neg = ms < 0;
    let ms = ms.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    let (h, m) = (ms / 3_600_000, (ms / 60_000) % 60);
    let secs = (ms % 60_000) as f64 / 1000.0;
    let s = cortex_tsdb::float_format::go_f(secs);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{s}s")
    }
}

/// The parameters `query` and `query_range` share: `timeout`, `lookback_delta`, `limit`.
struct Common {
    timeout: Duration,
    lookback: Option<Duration>,
    limit: usize,
}

impl Common {
    fn parse(form: &Form, backend: &QueryBackend) -> Result<Common, ApiError> {
        let mut timeout = backend.engine_opts().timeout;
        if let Some(t) = form.get("timeout").filter(|t| !t.is_empty()) {
            let ns = parse_duration(t).map_err(|e| ApiError::invalid_param("timeout", e))?;
            timeout = timeout.min(Duration::from_nanos(ns.max(0) as u64));
        }
        let mut lookback = None;
        if let Some(l) = form.get("lookback_delta").filter(|l| !l.is_empty()) {
            let ns = parse_duration(l).map_err(|e| {
                ApiError::bad_data(format!("error parsing lookback delta duration: {e}"))
            })?;
            if ns > 0 {
                lookback = Some(Duration::from_nanos(ns as u64));
            }
        }
        let limit = parse_limit(form)?;
        Ok(Common {
            timeout,
            lookback,
            limit,
        })
    }
}

/// The `limit` parameter: 0 (no limit) when absent.
pub(crate) fn parse_limit(form: &Form) -> Result<usize, ApiError> {
    match form.get("limit").filter(|l| !l.is_empty()) {
        None => Ok(0),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(n as usize),
            Ok(_) => Err(ApiError::invalid_param(
                "limit",
                "limit must be non-negative",
            )),
            Err(_) => Err(ApiError::invalid_param(
                "limit",
                format!("strconv.Atoi: parsing \"{s}\": invalid syntax"),
            )),
        },
    }
}

/// The warning Prometheus adds when `limit` cut a result short.
pub(crate) const TRUNCATED: &str = "results truncated due to limit";

async fn run(
    backend: &QueryBackend,
    tenants: &[String],
    common: Common,
    expr: Expr,
    text: String,
    range: QueryRange,
) -> Response {
    let querier = backend.querier(tenants);
    let mut opts = backend.engine_opts().clone();
    opts.timeout = common.timeout;
    if let Some(l) = common.lookback {
        opts.lookback_delta = l;
    }
    let engine = Engine::new(opts);
    let res = backend
        .run(move |cancel| engine.exec(&*querier, &expr, &text, range, Some(cancel)))
        .await;
    match res {
        Ok(Ok(r)) => respond(r, common.limit),
        Ok(Err(e)) => fail(&ApiError::from_query(e)),
        Err(e) => fail(&e),
    }
}

fn respond(mut r: QueryResult, limit: usize) -> Response {
    let mut warnings = r.warnings();
    let infos = r.infos();
    if limit > 0 {
        let truncated = match &mut r.value {
            Value::Vector(v) if v.len() > limit => {
                v.truncate(limit);
                true
            }
            Value::Matrix(m) if m.len() > limit => {
                m.truncate(limit);
                true
            }
            _ => false,
        };
        if truncated {
            warnings.push(TRUNCATED.to_string());
        }
    }
    ok(&encode::query_data(&r.value), &warnings, &infos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(500), "500ms");
        assert_eq!(go_duration(1500), "1.5s");
        assert_eq!(go_duration(3_600_000), "1h0m0s");
        assert_eq!(go_duration(721 * 3_600_000), "721h0m0s");
        assert_eq!(go_duration(90_000), "1m30s");
    }

    #[test]
    fn range_limits() {
        let l = QueryLimits {
            max_query_length: 3_600_000,
            ..Default::default()
        };
        assert_eq!(
            apply_range_limits(&l, 0, 3_600_000, 0),
            Ok(Some((0, 3_600_000)))
        );
        let e = apply_range_limits(&l, 0, 7_200_000, 0).unwrap_err();
        assert_eq!(
            e.message,
            "the query time range exceeds the limit (query length: 2h0m0s, limit: 1h0m0s)"
        );
        let lb = QueryLimits {
            max_query_lookback: 1000,
            ..Default::default()
        };
        assert_eq!(
            apply_range_limits(&lb, 0, 5000, 5000),
            Ok(Some((4000, 5000)))
        );
        assert_eq!(apply_range_limits(&lb, 0, 3000, 5000), Ok(None));
    }
}
