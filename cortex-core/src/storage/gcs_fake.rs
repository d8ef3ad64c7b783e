//! Google Cloud Storage's XML API on loopback, for the GCS backend's conformance test.
//!
//! object_store's GCS client speaks GCS's XML API, which is S3's path-style API
//! (`/<bucket>/<object>`, `list-type=2` listings, `ETag`/`Last-Modified`/`Content-Range`
//! headers), so s3s over a temporary directory — the server the S3 test uses — serves
//! the objects. A thin front checks that each request is what a GCS client sends with
//! OAuth disabled (no token or the empty bearer token, no AWS signature or `x-amz-*`
//! header, no GCS extension this front does not translate) and drops the token, which s3s would
//! otherwise reject as a malformed AWS signature. Anything else is answered 400 and
//! recorded, so a request the front does not understand fails the test instead of
//! being served by accident.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{Request, Response, StatusCode};

/// The bearer header object_store sends when the key says `"disable_oauth": true` (an
/// empty token; HTTP drops the trailing space).
const EMPTY_BEARER: &str = "Bearer";

/// A running fake; it serves until the test's runtime ends.
#[derive(Debug, Clone)]
pub(crate) struct FakeGcs {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Requests served (passed to s3s).
    pub served: Arc<AtomicUsize>,
    /// Requests refused, each described by method, path and reason.
    pub refused: Arc<Mutex<Vec<String>>>,
}

impl FakeGcs {
    /// The base URL to put in the service-account key's `gcs_base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Why a request is not one a GCS client without OAuth sends, if it is not.
fn refusal(req: &Request<Incoming>) -> Option<String> {
    // Reads and listings leave the empty token out; writes send it as it is.
    match req.headers().get(AUTHORIZATION).map(|v| v.to_str()) {
        None => {}
        Some(Ok(v)) if v.trim_end() == EMPTY_BEARER => {}
        Some(other) => return Some(format!("authorization is {other:?}, not the empty bearer")),
    }
    for name in req.headers().keys() {
        let n = name.as_str();
        if n.starts_with("x-amz-") {
            return Some(format!("S3 header {n}"));
        }
        // Copies, conditional writes and generations are GCS extensions s3s does not
        // know under these names.
        if n.starts_with("x-goog-") && !n.starts_with("x-goog-meta-") {
            return Some(format!("untranslated GCS header {n}"));
        }
    }
    None
}

/// Starts the fake serving bucket `bucket`, whose objects are the files under
/// `root/<bucket>`.
pub(crate) async fn start(root: &Path, bucket: &str) -> FakeGcs {
    std::fs::create_dir_all(root.join(bucket)).unwrap();
    let s3 = s3s::service::S3ServiceBuilder::new(s3s_fs::FileSystem::new(root).unwrap()).build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake = FakeGcs {
        addr: listener.local_addr().unwrap(),
        served: Arc::default(),
        refused: Arc::default(),
    };
    let state = fake.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let (s3, state) = (s3.clone(), state.clone());
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                let (s3, state) = (s3.clone(), state.clone());
                async move {
                    if let Some(why) = refusal(&req) {
                        let line = format!("{} {}: {why}", req.method(), req.uri());
                        state.refused.lock().unwrap().push(line.clone());
                        let mut resp = Response::new(s3s::Body::from(line));
                        *resp.status_mut() = StatusCode::BAD_REQUEST;
                        return Ok(resp);
                    }
                    req.headers_mut().remove(AUTHORIZATION);
                    state.served.fetch_add(1, Ordering::Relaxed);
                    s3.call(req.map(s3s::Body::from)).await
                }
            });
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(conn);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    fake
}

/// A service-account key pointing object_store at `fake` with OAuth disabled: the
/// client sends an empty bearer token and never asks Google for one. The key material
/// is never used.
pub(crate) fn service_account_key(fake: &FakeGcs) -> String {
    serde_json::json!({
        "type": "service_account",
        "client_email": "cortex-test@example.iam.gserviceaccount.com",
        "private_key": "unused",
        "private_key_id": "unused",
        "gcs_base_url": fake.base_url(),
        "disable_oauth": true,
    })
    .to_string()
}
