//! The slice of etcd's v3 gRPC API the ring store uses, as protobuf messages and the
//! calls that send them: `etcdserverpb.KV` Range, DeleteRange and Txn, and the
//! bidirectional `etcdserverpb.Watch/Watch` stream.
//!
//! The messages mirror `api/etcdserverpb/rpc.proto` and `api/mvccpb/kv.proto` of etcd
//! v3 with the same field numbers, but declare only the fields this client reads or
//! writes; protobuf decoders skip the rest, so the subset stays wire compatible. They
//! are written out with prost's derive instead of generated, which keeps `protoc` and
//! a proto compiler out of the build. Nothing outside the etcd backend sees them.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::uri::PathAndQuery;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::Channel;
use tonic::{Code, Request, Status, Streaming};
use tonic_prost::ProstCodec;

/// `etcdserverpb.ResponseHeader`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResponseHeader {
    /// The store revision when the request was applied.
    #[prost(int64, tag = "3")]
    pub revision: i64,
}

/// `mvccpb.KeyValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    /// The key.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// The revision of the last modification of the key.
    #[prost(int64, tag = "3")]
    pub mod_revision: i64,
    /// The value.
    #[prost(bytes = "bytes", tag = "5")]
    pub value: bytes::Bytes,
}

/// `etcdserverpb.RangeRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RangeRequest {
    /// The first key of the range.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// One past the last key; empty for the single key `key`.
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
    /// Return keys without values.
    #[prost(bool, tag = "8")]
    pub keys_only: bool,
}

/// `etcdserverpb.RangeResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RangeResponse {
    /// The response header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// The keys in the range, sorted by key.
    #[prost(message, repeated, tag = "2")]
    pub kvs: Vec<KeyValue>,
}

/// `etcdserverpb.PutRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PutRequest {
    /// The key.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// The value.
    #[prost(bytes = "bytes", tag = "2")]
    pub value: bytes::Bytes,
}

/// `etcdserverpb.DeleteRangeRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteRangeRequest {
    /// The key.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
}

/// `etcdserverpb.DeleteRangeResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteRangeResponse {
    /// The response header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
}

/// `etcdserverpb.Compare.CompareResult.EQUAL`.
pub const COMPARE_EQUAL: i32 = 0;

/// `etcdserverpb.Compare.CompareTarget.MOD`.
pub const COMPARE_TARGET_MOD: i32 = 2;

/// `etcdserverpb.Compare`, limited to comparing a key's mod revision.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Compare {
    /// How to compare ([`COMPARE_EQUAL`]).
    #[prost(int32, tag = "1")]
    pub result: i32,
    /// What to compare ([`COMPARE_TARGET_MOD`]).
    #[prost(int32, tag = "2")]
    pub target: i32,
    /// The key.
    #[prost(bytes = "vec", tag = "3")]
    pub key: Vec<u8>,
    /// The `mod_revision` member of the `target_union` oneof; optional so that 0 (an
    /// absent key) is still sent, as a oneof member always is.
    #[prost(int64, optional, tag = "6")]
    pub mod_revision: Option<i64>,
}

/// `etcdserverpb.RequestOp`, limited to a put.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestOp {
    /// The `request_put` member of the `request` oneof.
    #[prost(message, optional, tag = "2")]
    pub request_put: Option<PutRequest>,
}

/// `etcdserverpb.TxnRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TxnRequest {
    /// Conditions that must all hold.
    #[prost(message, repeated, tag = "1")]
    pub compare: Vec<Compare>,
    /// Applied when they do.
    #[prost(message, repeated, tag = "2")]
    pub success: Vec<RequestOp>,
}

/// `etcdserverpb.TxnResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TxnResponse {
    /// The response header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// Whether every comparison held.
    #[prost(bool, tag = "2")]
    pub succeeded: bool,
}

/// `etcdserverpb.WatchCreateRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchCreateRequest {
    /// The key to watch.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// The first revision to report; 0 for "from now".
    #[prost(int64, tag = "3")]
    pub start_revision: i64,
}

/// `etcdserverpb.WatchRequest`, limited to creating a watch.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchRequest {
    /// The `create_request` member of the `request_union` oneof.
    #[prost(message, optional, tag = "1")]
    pub create_request: Option<WatchCreateRequest>,
}

/// `mvccpb.Event.EventType.DELETE` (PUT is 0).
pub const EVENT_DELETE: i32 = 1;

/// `mvccpb.Event`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// PUT (0) or [`EVENT_DELETE`].
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// The key after the change (for a delete: the key and the deleting revision).
    #[prost(message, optional, tag = "2")]
    pub kv: Option<KeyValue>,
}

/// `etcdserverpb.WatchResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchResponse {
    /// The response header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// The watch was cancelled by the server.
    #[prost(bool, tag = "4")]
    pub canceled: bool,
    /// Set when the requested start revision was compacted away.
    #[prost(int64, tag = "5")]
    pub compact_revision: i64,
    /// Why the watch was cancelled.
    #[prost(string, tag = "6")]
    pub cancel_reason: String,
    /// The changes, in revision order.
    #[prost(message, repeated, tag = "11")]
    pub events: Vec<Event>,
}

/// The end of the range holding every key that starts with `prefix` (etcd's
/// `GetPrefixRangeEnd`): the prefix with its last byte below 0xff incremented and what
/// follows dropped; `[0]` (no upper bound) when there is no such byte.
pub fn prefix_range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// Connections to etcd's endpoints that send the calls above; cheap to clone.
///
/// Calls go to the current endpoint; when it is unreachable (`Unavailable`) or does not
/// answer in time, the next one becomes current and the call is tried there, each
/// endpoint once per call. Retrying a transaction elsewhere is safe: if the first try
/// did apply, the retry's mod-revision comparison fails and the CAS loop re-reads.
#[derive(Clone)]
pub struct Rpc {
    channels: Arc<[Channel]>,
    current: Arc<AtomicUsize>,
    timeout: Duration,
}

impl Rpc {
    /// Calls over `channels` (one per endpoint); each attempt fails after `timeout`.
    pub fn new(channels: Vec<Channel>, timeout: Duration) -> Rpc {
        Rpc {
            channels: channels.into(),
            current: Arc::new(AtomicUsize::new(0)),
            timeout,
        }
    }

    /// The same connections with another per-attempt timeout.
    pub fn with_timeout(&self, timeout: Duration) -> Rpc {
        Rpc {
            timeout,
            ..self.clone()
        }
    }

    /// Runs `call` on the current endpoint, moving on while endpoints fail.
    async fn on_endpoints<T, F, Fut>(&self, call: F) -> Result<T, Status>
    where
        F: Fn(tonic::client::Grpc<Channel>) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let n = self.channels.len();
        let mut last = Status::unavailable("no etcd endpoints");
        for _ in 0..n {
            let i = self.current.load(Ordering::Relaxed) % n;
            let Some(channel) = self.channels.get(i) else {
                break;
            };
            let attempt = async {
                let mut grpc = tonic::client::Grpc::new(channel.clone());
                grpc.ready()
                    .await
                    .map_err(|e| Status::unavailable(format!("connecting: {e}")))?;
                call(grpc).await
            };
            match tokio::time::timeout(self.timeout, attempt).await {
                Ok(Err(s)) if s.code() == Code::Unavailable => last = s,
                Ok(r) => return r,
                Err(_) => {
                    last = Status::deadline_exceeded(format!("no answer within {:?}", self.timeout))
                }
            }
            // Another call may have moved on already; then keep its choice.
            let _ =
                self.current
                    .compare_exchange(i, (i + 1) % n, Ordering::Relaxed, Ordering::Relaxed);
        }
        Err(last)
    }

    async fn unary<Req, Resp>(&self, path: &'static str, req: Req) -> Result<Resp, Status>
    where
        Req: prost::Message + Clone + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        self.on_endpoints(|mut grpc| {
            let req = req.clone();
            async move {
                let resp = grpc
                    .unary(
                        Request::new(req),
                        PathAndQuery::from_static(path),
                        ProstCodec::<Req, Resp>::default(),
                    )
                    .await?;
                Ok(resp.into_inner())
            }
        })
        .await
    }

    /// `KV/Range`.
    pub async fn range(&self, req: RangeRequest) -> Result<RangeResponse, Status> {
        self.unary("/etcdserverpb.KV/Range", req).await
    }

    /// `KV/DeleteRange`.
    pub async fn delete_range(
        &self,
        req: DeleteRangeRequest,
    ) -> Result<DeleteRangeResponse, Status> {
        self.unary("/etcdserverpb.KV/DeleteRange", req).await
    }

    /// `KV/Txn`.
    pub async fn txn(&self, req: TxnRequest) -> Result<TxnResponse, Status> {
        self.unary("/etcdserverpb.KV/Txn", req).await
    }

    /// Opens a `Watch/Watch` stream carrying the one watch `create`. The request side
    /// stays open (etcd ends a stream whose client stopped sending) until the returned
    /// stream is dropped.
    pub async fn watch(
        &self,
        create: WatchCreateRequest,
    ) -> Result<Streaming<WatchResponse>, Status> {
        self.on_endpoints(|mut grpc| {
            let requests = requests(WatchRequest {
                create_request: Some(create.clone()),
            });
            async move {
                let resp = grpc
                    .streaming(
                        Request::new(requests),
                        PathAndQuery::from_static("/etcdserverpb.Watch/Watch"),
                        ProstCodec::<WatchRequest, WatchResponse>::default(),
                    )
                    .await?;
                Ok(resp.into_inner())
            }
        })
        .await
    }
}

/// One request, then a stream that never ends.
fn requests(first: WatchRequest) -> impl Stream<Item = WatchRequest> + Send + 'static {
    tokio_stream::once(first).chain(tokio_stream::pending())
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn prefix_range_end_follows_etcd() {
        assert_eq!(prefix_range_end(b"abc"), b"abd");
        assert_eq!(prefix_range_end(b"a\xff"), b"b");
        assert_eq!(prefix_range_end(b"\xff\xff"), vec![0]);
        assert_eq!(prefix_range_end(b""), vec![0]);
    }

    #[test]
    fn compare_sends_a_zero_mod_revision() {
        let c = Compare {
            result: COMPARE_EQUAL,
            target: COMPARE_TARGET_MOD,
            key: b"k".to_vec(),
            mod_revision: Some(0),
        };
        // target (tag 2) = 2, key (tag 3) = "k", mod_revision (tag 6) = 0; result is the
        // default and not sent.
        assert_eq!(c.encode_to_vec(), vec![0x10, 2, 0x1a, 1, b'k', 0x30, 0]);
    }
}
