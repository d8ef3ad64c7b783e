//! `POST /api/v1/push`: remote write 1.0 and 2.0 into the distributor. Decoding and
//! appending run on the blocking pool. Status codes follow Cortex: 204 when everything
//! was stored; 400 with the reason for bad data (the valid part is still stored); 401
//! without a tenant; 413 too large; 415 for an unknown content type or encoding; 429
//! over the rate limit; 5xx only for our own faults.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cortex_core::distributor::{DistributorError, PushSummary};
use cortex_core::remote_write::{ContentHeaders, DecodeError, Protocol, decode_request};

use super::AppState;
use super::http::tenant;

/// What a push came to.
enum Outcome {
    Stored(Protocol, PushSummary),
    BadBody(DecodeError),
    Refused(DistributorError),
    NotRunning,
}

/// The push handler.
pub(crate) async fn handle(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if state.stopping.load(std::sync::atomic::Ordering::Acquire) {
        return (StatusCode::SERVICE_UNAVAILABLE, "server is shutting down\n").into_response();
    }
    let tenant = match tenant(&state, &headers) {
        Ok(t) => t,
        Err(refusal) => return refusal.into_response(),
    };
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = text(header::CONTENT_TYPE);
    let content_encoding = text(header::CONTENT_ENCODING);
    let version = headers
        .get("X-Prometheus-Remote-Write-Version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let st = state.clone();
    let tenant2 = tenant.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let ch = ContentHeaders {
            content_type: content_type.as_deref(),
            content_encoding: content_encoding.as_deref(),
            remote_write_version: version.as_deref(),
        };
        let mut scratch = Vec::new();
        let max = st.config.distributor.max_recv_msg_size;
        let mut req = match decode_request(&body, &ch, max, &mut scratch) {
            Ok(r) => r,
            Err(e) => return Outcome::BadBody(e),
        };
        let protocol = req.protocol;
        let Some(distributor) = &st.distributor else {
            return Outcome::NotRunning;
        };
        match distributor.push(&tenant2, &mut req) {
            Ok(s) => Outcome::Stored(protocol, s),
            Err(e) => Outcome::Refused(e),
        }
    })
    .await;
    match outcome {
        Ok(Outcome::Stored(protocol, s)) => {
            let mut resp = StatusCode::NO_CONTENT.into_response();
            if protocol == Protocol::V2 {
                let h = resp.headers_mut();
                for (name, n) in [
                    ("x-prometheus-remote-write-samples-written", s.samples),
                    ("x-prometheus-remote-write-histograms-written", s.histograms),
                    ("x-prometheus-remote-write-exemplars-written", s.exemplars),
                ] {
                    h.insert(HeaderName::from_static(name), HeaderValue::from(n));
                }
            }
            resp
        }
        Ok(Outcome::NotRunning) => super::not_running("distributor"),
        Ok(Outcome::BadBody(e)) => {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, format!("{e}\n")).into_response()
        }
        Ok(Outcome::Refused(e)) => {
            let status =
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status.is_server_error() {
                state
                    .log
                    .error("push failed", &[("tenant", &tenant), ("err", &e)]);
            }
            (status, format!("{e}\n")).into_response()
        }
        Err(e) => {
            state
                .log
                .error("push task failed", &[("tenant", &tenant), ("err", &e)]);
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}
