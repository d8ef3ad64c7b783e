//! A pool of gRPC ingester clients, one per ring address, shared by the distributor's
//! replicated writes ([`IngesterPool::client_factory`]) and the querier's replicated
//! reads (`IngesterClients`). Clients connect lazily; an address that cannot even
//! name an endpoint gets a client whose every call fails as unavailable, so it counts
//! as a failed replica instead of breaking the whole request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cortex_core::distributor::ClientFactory;
use cortex_core::ingester::api::{ApiFuture, IngesterApi, IngesterApiError, SeriesStream};
use cortex_core::ingester::{MetadataEntry, MetadataQuery, PushSource, PushStats, UserStats};
use cortex_core::querier::replicas::{IngesterClients, ReplicaInstance};
use cortex_core::remote_write::WriteRequest;
use cortex_tsdb::exemplar::ExemplarSeries;
use cortex_tsdb::labels::{Labels, Matcher};
use tokio::runtime::Handle;

use super::{IngesterClient, IngesterClientConfig};

/// Clients by address.
pub struct IngesterPool {
    cfg: IngesterClientConfig,
    runtime: Handle,
    clients: Mutex<HashMap<String, Arc<dyn IngesterApi>>>,
}

impl IngesterPool {
    /// An empty pool; clients are made on `runtime` as addresses are asked for.
    pub fn new(cfg: IngesterClientConfig, runtime: Handle) -> IngesterPool {
        IngesterPool {
            cfg,
            runtime,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client of the ingester at `addr`.
    pub fn get(&self, addr: &str) -> Arc<dyn IngesterApi> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(addr) {
            return c.clone();
        }
        // Lazy channels need a runtime to exist in, even when built off it.
        let _enter = self.runtime.enter();
        let client: Arc<dyn IngesterApi> = match IngesterClient::new(addr, &self.cfg) {
            Ok(c) => Arc::new(c),
            Err(e) => Arc::new(Unreachable {
                addr: addr.to_string(),
                reason: e.to_string(),
            }),
        };
        clients.insert(addr.to_string(), client.clone());
        client
    }

    /// Drops the client of `addr` (an ingester that left the ring).
    pub fn remove(&self, addr: &str) {
        self.clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(addr);
    }

    /// The pool as the distributor's client factory.
    pub fn client_factory(self: &Arc<Self>) -> ClientFactory {
        let pool = self.clone();
        Arc::new(move |addr: &str| pool.get(addr))
    }
}

impl IngesterClients for IngesterPool {
    fn client(&self, instance: &ReplicaInstance) -> Result<Arc<dyn IngesterApi>, IngesterApiError> {
        Ok(self.get(&instance.addr))
    }
}

/// An ingester no call reaches.
struct Unreachable {
    addr: String,
    reason: String,
}

impl Unreachable {
    fn fail<'a, T: 'a>(&self) -> ApiFuture<'a, T> {
        let err = IngesterApiError::Unavailable {
            addr: self.addr.clone(),
            reason: self.reason.clone(),
        };
        Box::pin(async move { Err(err) })
    }
}

impl IngesterApi for Unreachable {
    fn push<'a, 'r>(
        &'a self,
        _: &'a str,
        _: &'a WriteRequest<'r>,
        _: PushSource,
    ) -> ApiFuture<'a, PushStats> {
        self.fail()
    }

    fn query<'a>(
        &'a self,
        _: &'a str,
        _: i64,
        _: i64,
        _: &'a [Matcher],
    ) -> ApiFuture<'a, SeriesStream> {
        self.fail()
    }

    fn exemplars<'a>(
        &'a self,
        _: &'a str,
        _: i64,
        _: i64,
        _: &'a [Vec<Matcher>],
    ) -> ApiFuture<'a, Vec<ExemplarSeries>> {
        self.fail()
    }

    fn label_names<'a>(
        &'a self,
        _: &'a str,
        _: i64,
        _: i64,
        _: &'a [Matcher],
    ) -> ApiFuture<'a, Vec<String>> {
        self.fail()
    }

    fn label_values<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: i64,
        _: i64,
        _: &'a [Matcher],
    ) -> ApiFuture<'a, Vec<String>> {
        self.fail()
    }

    fn series<'a>(
        &'a self,
        _: &'a str,
        _: i64,
        _: i64,
        _: &'a [Vec<Matcher>],
    ) -> ApiFuture<'a, Vec<Labels>> {
        self.fail()
    }

    fn metadata<'a>(
        &'a self,
        _: &'a str,
        _: &'a MetadataQuery,
    ) -> ApiFuture<'a, Vec<MetadataEntry>> {
        self.fail()
    }

    fn user_stats<'a>(&'a self, _: &'a str) -> ApiFuture<'a, UserStats> {
        self.fail()
    }
}
