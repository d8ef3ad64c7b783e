//! Prometheus' HTTP query API under `/prometheus/api/v1/` and `/api/v1/`: instant and
//! range queries, series, label names and values, metadata, exemplars, query
//! formatting and parsing, build information and remote read.
//!
//! Requests are parsed like Prometheus parses them (form values from the body of a
//! form POST first, then the URL), answered with the JSON bodies of
//! [`cortex_core::api::encode`], and failures mapped to HTTP statuses here, in one place.

mod backend;
mod form;
mod labels;
mod misc;
mod query;
mod read;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cortex_core::api::{ApiError, ErrorType, encode};

use super::AppState;

pub(crate) use backend::{QueryBackend, Recent, Store};
pub(crate) use form::Form;

/// Largest form body accepted, as Go's `ParseForm` allows.
const MAX_FORM_BYTES: usize = 10 << 20;

/// A query API request, as every tenant-bound handler starts: the request's tenants
/// (401/400 before anything else is read when they are missing or invalid) and its
/// parameters, from a form body and the URL as Prometheus reads them.
pub(crate) struct ApiCall {
    /// The tenants, sorted.
    pub tenants: Vec<String>,
    /// The parameters.
    pub form: Form,
    /// The request asked not to be answered from or stored in caches
    /// (`Cache-Control: no-store`).
    pub no_store: bool,
}

impl axum::extract::FromRequest<Arc<AppState>> for ApiCall {
    type Rejection = Response;

    async fn from_request(
        req: axum::extract::Request,
        state: &Arc<AppState>,
    ) -> Result<ApiCall, Response> {
        let (parts, body) = req.into_parts();
        let tenants = state.query()?.tenants(&parts.headers)?;
        let body = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|e| (StatusCode::PAYLOAD_TOO_LARGE, format!("{e}\n")).into_response())?;
        let form = Form::parse(&parts.method, &parts.headers, parts.uri.query(), &body);
        let no_store = parts
            .headers
            .get_all(header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|d| d.trim().eq_ignore_ascii_case("no-store"));
        Ok(ApiCall {
            tenants,
            form,
            no_store,
        })
    }
}

/// HTTP status of an API error type.
pub(crate) fn status_of(kind: ErrorType) -> StatusCode {
    match kind {
        ErrorType::BadData => StatusCode::BAD_REQUEST,
        ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorType::Timeout | ErrorType::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        // Nginx's "client closed request", as Prometheus 3 answers a canceled query.
        ErrorType::Canceled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        ErrorType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorType::NotFound => StatusCode::NOT_FOUND,
    }
}

fn json(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A success response around `data` (JSON).
pub(crate) fn ok(data: &str, warnings: &[String], infos: &[String]) -> Response {
    json(StatusCode::OK, encode::success(data, warnings, infos))
}

/// An error response.
pub(crate) fn fail(e: &ApiError) -> Response {
    json(status_of(e.kind), encode::error(e))
}

/// The API's routes, under both prefixes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    let mut r = Router::new();
    for prefix in ["/prometheus/api/v1", "/api/v1"] {
        r = r
            .route(
                &format!("{prefix}/query"),
                get(query::instant).post(query::instant),
            )
            .route(
                &format!("{prefix}/query_range"),
                get(query::range).post(query::range),
            )
            .route(
                &format!("{prefix}/series"),
                get(labels::series).post(labels::series),
            )
            .route(
                &format!("{prefix}/labels"),
                get(labels::names).post(labels::names),
            )
            .route(
                &format!("{prefix}/label/{{name}}/values"),
                get(labels::values),
            )
            .route(&format!("{prefix}/metadata"), get(misc::metadata))
            .route(
                &format!("{prefix}/query_exemplars"),
                get(misc::exemplars).post(misc::exemplars),
            )
            .route(
                &format!("{prefix}/format_query"),
                get(misc::format_query).post(misc::format_query),
            )
            .route(
                &format!("{prefix}/parse_query"),
                get(misc::parse_query).post(misc::parse_query),
            )
            .route(&format!("{prefix}/status/buildinfo"), get(misc::build_info));
    }
    let r = r.layer(DefaultBodyLimit::max(MAX_FORM_BYTES));
    let mut read = Router::new();
    for prefix in ["/prometheus/api/v1", "/api/v1"] {
        read = read.route(&format!("{prefix}/read"), post(read::handle));
    }
    r.merge(read.layer(DefaultBodyLimit::max(read::MAX_READ_BODY)))
}
