//! A loopback fake of the Azure Blob Storage REST calls object_store's Azure client
//! makes for a [`super::BlockStore`], for the Azure backend's conformance test: Put
//! Blob (with `If-None-Match: *`), Get Blob with `Range`, Get Blob Properties (HEAD),
//! Delete Blob, Blob Batch deletes (how object_store deletes), and List Blobs with
//! `prefix`, `delimiter` and `marker` paging over pages of a chosen size.
//!
//! Every request, and every sub-request of a batch, must carry a date, `x-ms-version`
//! and a shared-key `Authorization` for the fake's account whose signature checks out
//! with the fake's account key ([`wire::shared_key_signature`]). A request the fake
//! does not implement (copies, block uploads, tags, ...) is answered 501 and recorded,
//! so it fails the test rather than passing unnoticed.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use self::wire::{
    escape, header_line, http_date, parse_range, percent_decode, shared_key_signature,
};

mod wire;

/// The batch response's multipart boundary.
const BATCH_BOUNDARY: &str = "batchresponse_cortex_fake";

/// One stored blob.
#[derive(Debug, Clone)]
struct Blob {
    data: Bytes,
    etag: String,
    /// Last write, Unix seconds (Azure's headers have second resolution).
    modified: u64,
}

/// A running fake; it serves until the test's runtime ends.
#[derive(Debug, Clone)]
pub(crate) struct FakeAzure {
    /// Where it listens; object_store's endpoint is `http://<addr>`.
    pub addr: SocketAddr,
    /// List Blobs responses served (pages).
    pub list_pages: Arc<AtomicUsize>,
    /// Requests refused or not implemented, each with the reason.
    pub refused: Arc<Mutex<Vec<String>>>,
    account: String,
    key: Vec<u8>,
    container: String,
    page_size: usize,
    blobs: Arc<Mutex<BTreeMap<String, Blob>>>,
    etags: Arc<AtomicUsize>,
}

impl FakeAzure {
    /// The endpoint to give object_store's builder.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The names of the stored blobs.
    pub fn blob_names(&self) -> Vec<String> {
        self.blobs.lock().unwrap().keys().cloned().collect()
    }

    fn refuse(&self, status: StatusCode, code: &str, what: String) -> Response<Full<Bytes>> {
        self.refused.lock().unwrap().push(format!("{code}: {what}"));
        error(status, code)
    }

    /// Why a request is not signed with this account's shared key, if it is not.
    fn unauthorized(&self, method: &str, path: &str, query: &str, h: &HeaderMap) -> Option<String> {
        if !h.contains_key("x-ms-date") && !h.contains_key("date") {
            return Some("no x-ms-date or date header".into());
        }
        if !h.contains_key("x-ms-version") {
            return Some("no x-ms-version header".into());
        }
        let auth = h.get("authorization").and_then(|v| v.to_str().ok());
        let prefix = format!("SharedKey {}:", self.account);
        let Some(sig) = auth.and_then(|a| a.strip_prefix(&prefix)) else {
            return Some(format!("authorization {auth:?} is not {prefix}<signature>"));
        };
        let expected = shared_key_signature(&self.key, &self.account, method, path, query, h);
        (sig != expected).then(|| format!("signature {sig} is not the expected {expected}"))
    }

    async fn handle(self, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        let (parts, body) = req.into_parts();
        let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
            return Ok(error(StatusCode::BAD_REQUEST, "InvalidInput"));
        };
        let what = format!("{} {}", parts.method, parts.uri);
        let (path, query) = (parts.uri.path(), parts.uri.query().unwrap_or(""));
        if let Some(why) = self.unauthorized(parts.method.as_str(), path, query, &parts.headers) {
            return Ok(self.refuse(
                StatusCode::FORBIDDEN,
                "AuthenticationFailed",
                format!("{what}: {why}"),
            ));
        }
        let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let q = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let segments: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        if segments[0] != self.container {
            return Ok(error(StatusCode::NOT_FOUND, "ContainerNotFound"));
        }
        let name = segments[1..].join("/");
        let m = &parts.method;
        Ok(match (name.is_empty(), q("restype"), q("comp")) {
            (true, Some("container"), Some("list")) if m == Method::GET => self.list(&q),
            (true, Some("container"), Some("batch")) if m == Method::POST => {
                self.batch(&parts.headers, &body)
            }
            (false, None, None)
                if m == Method::PUT && !parts.headers.contains_key("x-ms-copy-source") =>
            {
                self.put(&name, &parts.headers, body)
            }
            (false, None, None) if m == Method::GET || m == Method::HEAD => {
                self.get(&name, &parts.headers, m == Method::HEAD)
            }
            (false, None, None) if m == Method::DELETE => {
                delete_status(&mut self.blobs.lock().unwrap(), &name).0
            }
            _ => self.refuse(StatusCode::NOT_IMPLEMENTED, "NotImplemented", what),
        })
    }

    fn put(&self, name: &str, h: &HeaderMap, data: Bytes) -> Response<Full<Bytes>> {
        if h.get("x-ms-blob-type").is_none_or(|t| t != "BlockBlob") {
            return error(StatusCode::BAD_REQUEST, "InvalidBlobType");
        }
        let mut blobs = self.blobs.lock().unwrap();
        if h.get("if-none-match").is_some_and(|v| v == "*") && blobs.contains_key(name) {
            return error(StatusCode::CONFLICT, "BlobAlreadyExists");
        }
        let blob = Blob {
            data,
            etag: format!(
                "\"0x8D{:013X}\"",
                self.etags.fetch_add(1, Ordering::Relaxed)
            ),
            modified: now_secs(),
        };
        let resp = response(StatusCode::CREATED)
            .header("etag", &blob.etag)
            .header("last-modified", http_date(blob.modified))
            .body(Full::default())
            .unwrap();
        blobs.insert(name.to_string(), blob);
        resp
    }

    fn get(&self, name: &str, h: &HeaderMap, head: bool) -> Response<Full<Bytes>> {
        let Some(blob) = self.blobs.lock().unwrap().get(name).cloned() else {
            return error(StatusCode::NOT_FOUND, "BlobNotFound");
        };
        let size = blob.data.len() as u64;
        let range = match h.get("range").map(|r| parse_range(r, size)) {
            None => None,
            Some(Some(r)) => Some(r),
            Some(None) => {
                return response(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header("x-ms-error-code", "InvalidRange")
                    .header("content-range", format!("bytes */{size}"))
                    .body(Full::default())
                    .unwrap();
            }
        };
        let (status, data) = match range {
            Some((start, end)) => (
                StatusCode::PARTIAL_CONTENT,
                blob.data.slice(start as usize..=end as usize),
            ),
            None => (StatusCode::OK, blob.data.clone()),
        };
        let mut b = response(status)
            .header("content-length", data.len())
            .header("content-type", "application/octet-stream")
            .header("etag", &blob.etag)
            .header("last-modified", http_date(blob.modified))
            .header("accept-ranges", "bytes")
            .header("x-ms-blob-type", "BlockBlob");
        if let Some((start, end)) = range {
            b = b.header("content-range", format!("bytes {start}-{end}/{size}"));
        }
        b.body(Full::new(if head { Bytes::new() } else { data }))
            .unwrap()
    }

    /// List Blobs: names below `prefix`, folded at the first `delimiter` after it into
    /// `BlobPrefix` entries, after `marker`, at most a page of them.
    fn list<'q>(&self, q: &impl Fn(&str) -> Option<&'q str>) -> Response<Full<Bytes>> {
        let prefix = q("prefix").unwrap_or("");
        let delimiter = q("delimiter").filter(|d| !d.is_empty());
        let marker = q("marker").unwrap_or("");
        let limit = q("maxresults")
            .and_then(|m| m.parse().ok())
            .unwrap_or(usize::MAX)
            .min(self.page_size);
        let blobs = self.blobs.lock().unwrap();
        // (key, blob): a blob, or a common prefix when `blob` is None.
        let mut entries: Vec<(String, Option<&Blob>)> = Vec::new();
        for (name, blob) in blobs
            .range(prefix.to_string()..)
            .take_while(|(n, _)| n.starts_with(prefix))
        {
            let folded = delimiter.and_then(|d| {
                name[prefix.len()..]
                    .find(d)
                    .map(|i| name[..prefix.len() + i + d.len()].to_string())
            });
            match folded {
                Some(p) if entries.last().is_some_and(|(k, _)| *k == p) => {}
                Some(p) => entries.push((p, None)),
                None => entries.push((name.clone(), Some(blob))),
            }
        }
        entries.retain(|(k, _)| k.as_str() > marker);
        let more = entries.len() > limit;
        entries.truncate(limit);
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<EnumerationResults ServiceEndpoint=\"http://{}/\" ContainerName=\"{}\"><Prefix>{}</Prefix>",
            self.addr,
            self.container,
            escape(prefix)
        );
        if let Some(d) = delimiter {
            xml += &format!("<Delimiter>{}</Delimiter>", escape(d));
        }
        xml += "<Blobs>";
        for (key, blob) in &entries {
            match blob {
                None => xml += &format!("<BlobPrefix><Name>{}</Name></BlobPrefix>", escape(key)),
                Some(b) => {
                    xml += &format!(
                        "<Blob><Name>{}</Name><Properties><Last-Modified>{}</Last-Modified><Etag>{}</Etag><Content-Length>{}</Content-Length><Content-Type>application/octet-stream</Content-Type><BlobType>BlockBlob</BlobType></Properties></Blob>",
                        escape(key),
                        http_date(b.modified),
                        escape(&b.etag),
                        b.data.len()
                    )
                }
            }
        }
        let next = if more {
            entries.last().map(|(k, _)| escape(k)).unwrap_or_default()
        } else {
            String::new()
        };
        xml += &format!("</Blobs><NextMarker>{next}</NextMarker></EnumerationResults>");
        self.list_pages.fetch_add(1, Ordering::Relaxed);
        response(StatusCode::OK)
            .header("content-type", "application/xml")
            .body(Full::new(Bytes::from(xml)))
            .unwrap()
    }

    /// Blob Batch: a `multipart/mixed` body of Delete Blob sub-requests, each answered
    /// in a part of the `multipart/mixed` response with the same `Content-ID`.
    fn batch(&self, h: &HeaderMap, body: &[u8]) -> Response<Full<Bytes>> {
        let boundary = h
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("multipart/mixed; boundary="));
        let (Some(boundary), Ok(body)) = (boundary, std::str::from_utf8(body)) else {
            return error(StatusCode::BAD_REQUEST, "InvalidInput");
        };
        let mut out = String::new();
        for part in body
            .split(&format!("--{boundary}"))
            .skip(1)
            .take_while(|p| !p.starts_with("--"))
        {
            let (Some((part_headers, request)), true) =
                (part.split_once("\r\n\r\n"), part.starts_with("\r\n"))
            else {
                return error(StatusCode::BAD_REQUEST, "InvalidInput");
            };
            let id = header_line(part_headers, "content-id").unwrap_or_default();
            let mut lines = request.split("\r\n");
            let request_line = lines.next().unwrap_or_default();
            let mut sub = HeaderMap::new();
            for line in lines.take_while(|l| !l.is_empty()) {
                if let Some((n, v)) = line.split_once(": ")
                    && let (Ok(n), Ok(v)) = (
                        n.parse::<hyper::header::HeaderName>(),
                        HeaderValue::from_str(v),
                    )
                {
                    sub.insert(n, v);
                }
            }
            let path = request_line
                .strip_prefix("DELETE ")
                .and_then(|r| r.strip_suffix(" HTTP/1.1"));
            let refusal = path.and_then(|p| self.unauthorized("DELETE", p, "", &sub));
            let status = if let Some(why) = refusal {
                self.refused
                    .lock()
                    .unwrap()
                    .push(format!("batch part {id}: {request_line}: {why}"));
                (StatusCode::FORBIDDEN, "AuthenticationFailed")
            } else if let Some(path) = path.and_then(|p| p.strip_prefix('/')) {
                let segs: Vec<String> = path.split('/').map(percent_decode).collect();
                if segs[0] != self.container || segs.len() < 2 {
                    (StatusCode::NOT_FOUND, "ContainerNotFound")
                } else {
                    delete_status(&mut self.blobs.lock().unwrap(), &segs[1..].join("/")).1
                }
            } else {
                (StatusCode::BAD_REQUEST, "InvalidInput")
            };
            let (code, reason) = status;
            out += &format!(
                "--{BATCH_BOUNDARY}\r\nContent-Type: application/http\r\nContent-ID: {id}\r\n\r\n"
            );
            out += &format!("HTTP/1.1 {} {reason}\r\n", code.as_u16());
            if !code.is_success() {
                out += &format!("x-ms-error-code: {reason}\r\n");
            }
            out += "Content-Length: 0\r\n\r\n";
        }
        out += &format!("--{BATCH_BOUNDARY}--\r\n");
        response(StatusCode::ACCEPTED)
            .header(
                "content-type",
                format!("multipart/mixed; boundary={BATCH_BOUNDARY}"),
            )
            .body(Full::new(Bytes::from(out)))
            .unwrap()
    }
}

/// Deletes `name`: the response for a direct Delete Blob and the status for a batch part.
fn delete_status(
    blobs: &mut BTreeMap<String, Blob>,
    name: &str,
) -> (Response<Full<Bytes>>, (StatusCode, &'static str)) {
    if blobs.remove(name).is_some() {
        let resp = response(StatusCode::ACCEPTED)
            .body(Full::default())
            .unwrap();
        (resp, (StatusCode::ACCEPTED, "Accepted"))
    } else {
        (
            error(StatusCode::NOT_FOUND, "BlobNotFound"),
            (StatusCode::NOT_FOUND, "BlobNotFound"),
        )
    }
}

/// Starts a fake for container `container` of `account`, whose shared key is `key`
/// (the bytes, not base64), listing at most `page_size` entries per List Blobs
/// response.
pub(crate) async fn start(
    account: &str,
    key: &[u8],
    container: &str,
    page_size: usize,
) -> FakeAzure {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake = FakeAzure {
        addr: listener.local_addr().unwrap(),
        list_pages: Arc::default(),
        refused: Arc::default(),
        account: account.to_string(),
        key: key.to_vec(),
        container: container.to_string(),
        page_size: page_size.max(1),
        blobs: Arc::default(),
        etags: Arc::default(),
    };
    let server = fake.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let fake = server.clone();
            let service = hyper::service::service_fn(move |req| fake.clone().handle(req));
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

/// A response with the headers every Blob service response carries.
fn response(status: StatusCode) -> hyper::http::response::Builder {
    Response::builder()
        .status(status)
        .header("x-ms-version", "2021-08-06")
        .header("date", http_date(now_secs()))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An Azure error response: the code in `x-ms-error-code` and an XML body.
fn error(status: StatusCode, code: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{code}</Message></Error>"
    );
    response(status)
        .header("x-ms-error-code", code)
        .header("content-type", "application/xml")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}
