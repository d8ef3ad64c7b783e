//! The store-gateway over gRPC: the `gatewaypb.StoreGateway` service
//! (`proto/storegateway.proto`), served by [`StoreGatewayService`] in front of any
//! [`StoreGatewayApi`](cortex_core::storegateway::StoreGatewayApi) (the local
//! store-gateway), and [`StoreGatewayClient`], which implements the same trait for a
//! remote store-gateway; [`StoreGatewayPool`] keeps one client per ring address.
//!
//! - [`convert`]: protobuf messages to and from the core types, and errors to statuses.
//! - [`service`]: the server side; [`client`]: the client side; [`pool`]: clients by
//!   address.
//!
//! The tenant of every call travels as `x-scope-orgid` request metadata, as in Cortex.

pub mod client;
mod convert;
pub mod pool;
pub mod service;

pub use client::{StoreGatewayClient, StoreGatewayClientConfig};
pub use pool::StoreGatewayPool;
pub use service::StoreGatewayService;

/// The messages of `proto/ingester.proto` the store-gateway's messages use (matchers,
/// label pairs), where the generated code looks for them.
pub(crate) use crate::ingester_rpc::proto as cortex;

/// The generated messages, service and client of `proto/storegateway.proto`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    tonic::include_proto!("gatewaypb");
}

/// Largest message either side accepts: one series with its chunks, or a label list.
pub const MAX_MESSAGE_SIZE: usize = 64 << 20;
