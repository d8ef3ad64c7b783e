//! `POST .../read`: Prometheus remote read over the request's tenants. The request is
//! decoded and answered on the blocking pool; a sampled answer is sent whole, a
//! streamed one frame by frame as storage produces them (a client that goes away
//! stops the producer). Errors are plain text with the status Prometheus uses.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cortex_core::remote_read::{
    DEFAULT_MAX_READ_REQUEST_SIZE, ReadOptions, RemoteReadError, ResponseBody, decode_read_request,
    respond,
};
use tokio::sync::{mpsc, oneshot};

use crate::server::AppState;

/// Largest accepted (compressed) request body.
pub(crate) const MAX_READ_BODY: usize = DEFAULT_MAX_READ_REQUEST_SIZE;

/// The frames of a streamed answer, as the response body reads them.
struct Frames(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_core::Stream for Frames {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// What the producer reports before the body: the headers, or why there is no answer.
enum Start {
    Sampled(&'static str, Option<&'static str>, Bytes),
    Streamed(&'static str),
    Failed(RemoteReadError),
}

fn refuse(e: &RemoteReadError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    (status, format!("{e}\n")).into_response()
}

/// The handler.
pub(crate) async fn handle(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let backend = match state.query() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let tenants = match backend.tenants(&headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let querier = backend.querier(&tenants);
    let opts = ReadOptions::default();
    let (start_tx, start_rx) = oneshot::channel();
    let (frame_tx, frame_rx) = mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        let req = match decode_read_request(&body, MAX_READ_BODY) {
            Ok(r) => r,
            Err(e) => {
                let _ = start_tx.send(Start::Failed(e));
                return;
            }
        };
        let resp = match respond(&req, &*querier, &opts) {
            Ok(r) => r,
            Err(e) => {
                let _ = start_tx.send(Start::Failed(e));
                return;
            }
        };
        match resp.body {
            ResponseBody::Sampled(b) => {
                let _ = start_tx.send(Start::Sampled(resp.content_type, resp.content_encoding, b));
            }
            ResponseBody::Streamed(frames) => {
                if start_tx.send(Start::Streamed(resp.content_type)).is_err() {
                    return;
                }
                for f in *frames {
                    let item = f.map_err(|e| std::io::Error::other(e.to_string()));
                    let failed = item.is_err();
                    if frame_tx.blocking_send(item).is_err() || failed {
                        return;
                    }
                }
            }
        }
    });
    let start = match start_rx.await {
        Ok(s) => s,
        Err(_) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "remote read task failed\n",
            )
                .into_response();
        }
    };
    let (content_type, encoding, body) = match start {
        Start::Failed(e) => {
            if e.http_status() >= 500 {
                state.log.error("remote read failed", &[("err", &e)]);
            }
            return refuse(&e);
        }
        Start::Sampled(ct, enc, b) => (ct, enc, Body::from(b)),
        Start::Streamed(ct) => (ct, None, Body::from_stream(Frames(frame_rx))),
    };
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(enc) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
    }
    resp
}
