//! The gRPC listener (`server.grpc_listen_port`, 9095 by default). It serves the standard
//! `grpc.health.v1.Health` service and the ingester (`cortex.Ingester`, see
//! [`crate::ingester_rpc`]); the store-gateway
//! (`gatewaypb.StoreGateway`, see [`crate::storegateway_rpc`]) in a process that runs one.

use std::sync::Arc;

use cortex_core::ingester::api::IngesterApi;
use cortex_core::storegateway::StoreGatewayApi;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;

use super::log::Logger;
use crate::ingester_rpc::IngesterService;
use crate::storegateway_rpc::StoreGatewayService;

/// Starts serving on `listener` until the returned sender sends `true`; the health
/// service reports SERVING until then. Ingester calls are answered by `ingester`, in a
/// process that runs one, store-gateway calls by `store_gateway`.
pub(crate) fn serve(
    listener: TcpListener,
    log: Logger,
    ingester: Option<Arc<dyn IngesterApi>>,
    store_gateway: Option<Arc<dyn StoreGatewayApi>>,
) -> (watch::Sender<bool>, JoinHandle<()>) {
    let (tx, mut rx) = watch::channel(false);
    let (reporter, health) = tonic_health::server::health_reporter();
    let task = tokio::spawn(async move {
        let stop = async move {
            let _ = rx.wait_for(|s| *s).await;
            reporter
                .set_service_status("", tonic_health::ServingStatus::NotServing)
                .await;
        };
        let served = tonic::transport::Server::builder()
            .add_service(health)
            .add_optional_service(ingester.map(|i| IngesterService::new(i).into_server()))
            .add_optional_service(store_gateway.map(|g| StoreGatewayService::new(g).into_server()))
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                stop,
            )
            .await;
        if let Err(e) = served {
            log.error("gRPC server failed", &[("err", &e)]);
        }
    });
    (tx, task)
}
