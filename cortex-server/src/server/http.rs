//! The HTTP router, tenant resolution and request metrics
//! (`cortex_request_duration_seconds{method,route,status_code,ws}`).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::{AppState, ops, push, ring_pages};
use cortex_core::tenant::{FAKE_TENANT, ORG_ID_HEADER, tenant_id};

type Labels = Vec<(String, String)>;

/// Request metrics.
#[derive(Clone)]
pub(crate) struct HttpMetrics {
    duration: Family<Labels, Histogram>,
}

impl HttpMetrics {
    pub(crate) fn new(registry: &mut Registry) -> HttpMetrics {
        let duration = Family::<Labels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0,
            ])
        });
        registry.register(
            "cortex_request_duration_seconds",
            "Time (in seconds) spent serving HTTP requests.",
            duration.clone(),
        );
        HttpMetrics { duration }
    }
}

/// Every route of the components this process runs.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let max = state.config.distributor.max_recv_msg_size;
    let mut router = Router::new()
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/config", get(ops::config))
        .route("/services", get(ops::services))
        .route("/runtime_config", get(ops::runtime_config))
        .route(
            "/ingester/ring",
            get(ring_pages::ingester_ring).post(ring_pages::ingester_ring),
        )
        .route("/memberlist", get(ring_pages::memberlist))
        .route("/", get(ops::index));
    if state.distributor.is_some() {
        router = router
            .route(
                "/api/v1/push",
                post(push::handle).layer(DefaultBodyLimit::max(max)),
            )
            .route(
                "/distributor/ring",
                get(ring_pages::distributor_ring).post(ring_pages::distributor_ring),
            );
    }
    if state.store_gateway_ring.is_some() {
        router = router.route(
            "/store-gateway/ring",
            get(ring_pages::store_gateway_ring).post(ring_pages::store_gateway_ring),
        );
    }
    if state.ingester.is_some() {
        router = router.route("/ingester/flush", get(ops::flush).post(ops::flush));
    }
    if state.query.is_some() {
        router = router.merge(super::api::routes());
    }
    router
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Records each request's duration by route and status.
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |p| route_name(p.as_str()));
    let resp = next.run(req).await;
    state
        .http
        .duration
        .get_or_create(&vec![
            ("method".into(), method),
            ("route".into(), route),
            ("status_code".into(), resp.status().as_u16().to_string()),
            ("ws".into(), "false".into()),
        ])
        .observe(start.elapsed().as_secs_f64());
    resp
}

/// Cortex's route label: the path with `/` and other punctuation as `_`.
fn route_name(path: &str) -> String {
    let s: String = path
        .trim_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.is_empty() { "root".into() } else { s }
}

/// The request's tenant: `X-Scope-OrgID` when authentication is on (401 without it,
/// 400 when it is not a valid tenant ID), `fake` otherwise.
pub(crate) fn tenant(state: &AppState, headers: &HeaderMap) -> Result<String, TenantRefusal> {
    if !state.config.auth_enabled {
        return Ok(FAKE_TENANT.to_string());
    }
    let Some(v) = headers.get(ORG_ID_HEADER) else {
        return Err(TenantRefusal(StatusCode::UNAUTHORIZED, "no org id".into()));
    };
    let v = v
        .to_str()
        .map_err(|_| TenantRefusal(StatusCode::BAD_REQUEST, "org id is not valid ASCII".into()))?;
    tenant_id(v)
        .map(str::to_string)
        .map_err(|e| TenantRefusal(StatusCode::BAD_REQUEST, e.to_string()))
}

/// A request without a usable tenant: the status and the reason.
pub(crate) struct TenantRefusal(StatusCode, String);

impl IntoResponse for TenantRefusal {
    fn into_response(self) -> Response {
        (self.0, format!("{}\n", self.1)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::route_name;

    #[test]
    fn route_names_follow_cortex() {
        assert_eq!(route_name("/api/v1/push"), "api_v1_push");
        assert_eq!(route_name("/ingester/flush"), "ingester_flush");
        assert_eq!(route_name("/"), "root");
    }
}
