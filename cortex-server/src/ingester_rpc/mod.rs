//! The ingester over gRPC: the `cortex.Ingester` service (`proto/ingester.proto`,
//! compiled by `build.rs`), served by [`IngesterService`] in front of any
//! [`IngesterApi`](cortex_core::ingester::api::IngesterApi) (the local ingester), and
//! [`IngesterClient`], which implements the same trait for a remote ingester.
//!
//! - [`convert`]: protobuf messages to and from the core types.
//! - [`status`]: errors to gRPC statuses and back (the one place of that mapping).
//! - [`service`]: the server side; [`client`]: the client side; [`pool`]: clients by
//!   ring address for replicated writes and reads.
//!
//! The tenant of every call travels as `x-scope-orgid` request metadata, as in Cortex.

pub mod client;
pub(crate) mod convert;
pub mod pool;
pub mod service;
pub mod status;

pub use client::{IngesterClient, IngesterClientConfig, IngesterClientError};
pub use pool::IngesterPool;
pub use service::IngesterService;

/// The generated messages, service and client of `proto/ingester.proto`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    tonic::include_proto!("cortex");
}

/// The gRPC metadata key naming the tenant (Cortex's `X-Scope-OrgID`, lower case as
/// gRPC metadata keys are).
pub const ORG_ID_METADATA: &str = "x-scope-orgid";

/// Largest message either side accepts: a push carries a whole remote-write request,
/// so this is the push API's body limit.
pub const MAX_MESSAGE_SIZE: usize = cortex_core::remote_write::DEFAULT_MAX_RECV_MSG_SIZE;
