//! A pool of gRPC store-gateway clients, one per ring address, for the querier's
//! blocks-store reads. Clients connect lazily; an address that cannot even name an
//! endpoint gets a client whose every call fails as unavailable, so its blocks are
//! retried on other replicas instead of breaking the query.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cortex_core::storegateway::{
    GatewayError, GatewayFuture, LabelsRequest, LabelsResponse, SeriesRequest, SeriesResponse,
    StoreGatewayApi,
};
use tokio::runtime::Handle;

use super::StoreGatewayClient;
use super::StoreGatewayClientConfig;

/// Clients by address.
pub struct StoreGatewayPool {
    cfg: StoreGatewayClientConfig,
    runtime: Handle,
    clients: Mutex<HashMap<String, Arc<dyn StoreGatewayApi>>>,
}

impl StoreGatewayPool {
    /// An empty pool; clients are made on `runtime` as addresses are asked for.
    pub fn new(cfg: StoreGatewayClientConfig, runtime: Handle) -> StoreGatewayPool {
        StoreGatewayPool {
            cfg,
            runtime,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client of the store-gateway at `addr`.
    pub fn get(&self, addr: &str) -> Arc<dyn StoreGatewayApi> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(addr) {
            return c.clone();
        }
        // Lazy channels need a runtime to exist in, even when built off it.
        let _enter = self.runtime.enter();
        let client: Arc<dyn StoreGatewayApi> = match StoreGatewayClient::new(addr, &self.cfg) {
            Ok(c) => Arc::new(c),
            Err(e) => Arc::new(Unreachable(e.to_string(), addr.to_string())),
        };
        clients.insert(addr.to_string(), client.clone());
        client
    }

    /// The pool as a client factory.
    pub fn factory(self: &Arc<Self>) -> cortex_ring::store_gateway::ClientFactory {
        let pool = self.clone();
        Arc::new(move |addr: &str| pool.get(addr))
    }
}

/// A store-gateway no call reaches: the reason, the address.
struct Unreachable(String, String);

impl Unreachable {
    fn fail<'a, T: 'a>(&self) -> GatewayFuture<'a, T> {
        let err = GatewayError::Unavailable {
            gateway: self.1.clone(),
            reason: self.0.clone(),
        };
        Box::pin(async move { Err(err) })
    }
}

impl StoreGatewayApi for Unreachable {
    fn series<'a>(&'a self, _: &'a str, _: &'a SeriesRequest) -> GatewayFuture<'a, SeriesResponse> {
        self.fail()
    }

    fn label_names<'a>(
        &'a self,
        _: &'a str,
        _: &'a LabelsRequest,
    ) -> GatewayFuture<'a, LabelsResponse> {
        self.fail()
    }

    fn label_values<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a LabelsRequest,
    ) -> GatewayFuture<'a, LabelsResponse> {
        self.fail()
    }
}
