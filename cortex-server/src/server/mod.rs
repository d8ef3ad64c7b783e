//! The running server: builds every component the configuration's `target` asks for
//! (`components.rs`), serves the HTTP API and gRPC, and shuts down gracefully on
//! SIGTERM or SIGINT (stop taking requests, finish those in flight, stop the ingester's
//! loops, flush if configured, close every TSDB, leave the rings).

mod api;
mod components;
mod frontend_metrics;
mod grpc;
mod http;
pub mod log;
mod ops;
mod push;
mod ring_pages;
mod store_gateway;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cortex_core::distributor::Distributor;
use cortex_core::ingester::Ingester;
use cortex_core::limits::{Overrides, ReloadHandle, spawn_reloader};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

use cortex_ring::{INGESTER_RING_KEY, Lifecycler, RingClient};

use crate::config::Config;
use crate::ingester_rpc::{IngesterClientConfig, IngesterPool};
use log::Logger;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration's runtime overrides could not be loaded.
    #[error("loading runtime config: {0}")]
    Overrides(#[from] cortex_core::limits::LimitsError),
    /// The ingester failed to open or shut down.
    #[error("ingester: {0}")]
    Ingester(#[from] cortex_core::ingester::IngesterError),
    /// A listener could not be bound.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving HTTP: {0}")]
    Serve(std::io::Error),
    /// The ingester could not join the ring.
    #[error("joining the ring: {0}")]
    Lifecycler(#[from] cortex_ring::LifecyclerError),
    /// The ring could not be read.
    #[error("reading the ring: {0}")]
    Ring(#[from] cortex_ring::RingClientError),
    /// The ring's KV store could not be set up (bad `kvstore` config, etcd unreachable).
    #[error("ring kv store: {0}")]
    Kv(#[from] cortex_ring::KvError),
    /// The blocks bucket could not be opened (bad `blocks_storage` config).
    #[error("blocks storage: {0}")]
    Storage(#[from] cortex_core::storage::StorageError),
}

/// What the HTTP handlers share.
pub(crate) struct AppState {
    pub config: Config,
    pub log: Logger,
    pub registry: Registry,
    pub overrides: Arc<Overrides>,
    /// The ingester, when this process runs one.
    pub ingester: Option<Arc<Ingester>>,
    /// The distributor, when this process runs one.
    pub distributor: Option<Distributor>,
    /// The querier, when this process runs one.
    pub query: Option<api::QueryBackend>,
    /// The store-gateway, when this process runs one in a cluster.
    pub store_gateway: Option<store_gateway::StoreGatewayParts>,
    pub ready: AtomicBool,
    pub stopping: AtomicBool,
    pub http: http::HttpMetrics,
    /// The ingester ring, as every component sees it.
    pub ring: Arc<RingClient>,
    /// The store-gateway ring, when this process runs a store-gateway or a querier of
    /// a cluster.
    pub store_gateway_ring: Option<Arc<RingClient>>,
    /// The distributor ring, when this process runs a distributor.
    pub distributor_ring: Option<Arc<RingClient>>,
    pub kv: Arc<dyn cortex_ring::Kv>,
    /// The gossip member, when the ring is gossiped.
    pub gossip: Option<Arc<cortex_ring::GossipKv>>,
    /// The ingester's registration in the ring.
    pub lifecycler: std::sync::Mutex<Option<Lifecycler>>,
    /// The distributor's registration in the distributor ring.
    pub distributor_lifecycler: std::sync::Mutex<Option<Lifecycler>>,
}

impl AppState {
    /// The store-gateway as its gRPC service answers from it.
    fn store_gateway_api(&self) -> Option<Arc<dyn cortex_core::storegateway::StoreGatewayApi>> {
        self.store_gateway.as_ref().map(|g| g.api())
    }

    /// The querier, or a 404 for a process that does not run one.
    #[allow(clippy::result_large_err)]
    pub(crate) fn query(&self) -> Result<&api::QueryBackend, axum::response::Response> {
        self.query.as_ref().ok_or_else(|| not_running("querier"))
    }
}

/// The answer of an endpoint whose component this process does not run.
pub(crate) fn not_running(component: &str) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (
        axum::http::StatusCode::NOT_FOUND,
        format!("the {component} is not running in this process (see -target)\n"),
    )
        .into_response()
}

/// A started server.
pub struct Server {
    state: Arc<AppState>,
    listener: Option<TcpListener>,
    addr: SocketAddr,
    grpc_listener: Option<TcpListener>,
    grpc_addr: SocketAddr,
    _reloader: Option<ReloadHandle>,
    _counts: Option<tokio::task::JoinHandle<()>>,
    ha_stop: Option<cortex_ring::StopSignal>,
}

impl Server {
    /// Opens the components `target` names (replaying the ingester's WAL), joins the
    /// rings and binds the listeners; call [`Server::run`] to serve. Must be called
    /// inside a tokio runtime.
    pub async fn start(config: Config) -> Result<Server, ServerError> {
        let log = Logger::new(&config.server.log_level, &config.server.log_format);
        let mut registry = Registry::default();
        let overrides = Arc::new(Overrides::from_config(
            config.limits.clone(),
            &config.runtime_config,
        )?);
        let reloader = if config.runtime_config.file.is_empty() {
            None
        } else {
            Some(
                spawn_reloader(overrides.clone(), config.runtime_config.period.to_std())
                    .map_err(|e| ServerError::Serve(std::io::Error::other(e)))?,
            )
        };
        let (listener, addr) = bind(
            &config.server.http_listen_address,
            config.server.http_listen_port,
        )
        .await?;
        let (grpc_listener, grpc_addr) = bind(
            &config.server.grpc_listen_address,
            config.server.grpc_listen_port,
        )
        .await?;
        let runtime = tokio::runtime::Handle::current();
        // The rings live in the configured KV store (in memory in the single binary).
        // Connecting to etcd or joining the gossip cluster blocks.
        let kv_cfg = config.ingester.lifecycler.ring.kvstore.clone();
        let store =
            blocking(move || cortex_ring::open_store(&kv_cfg).map_err(ServerError::from)).await?;
        let ring = Arc::new(RingClient::start(
            store.kv.clone(),
            INGESTER_RING_KEY,
            config.ingester.lifecycler.ring.clone(),
        )?);
        let local = config.runs_locally();
        let counts = components::Counts::default();

        let ingester = if config.runs("ingester") {
            Some(components::open_ingester(&config, &overrides, &counts, &mut registry).await?)
        } else {
            None
        };
        let lifecycler = match &ingester {
            Some(_) => Some(components::join_ingester_ring(&config, &store.kv, grpc_addr).await?),
            None => None,
        };
        // Pushes are bounded by the distributor's remote timeout, reads by the query
        // timeout: two pools of clients.
        let pool = |timeout: std::time::Duration| {
            Arc::new(IngesterPool::new(
                IngesterClientConfig {
                    timeout,
                    ..IngesterClientConfig::default()
                },
                runtime.clone(),
            ))
        };
        let write_pool = pool(config.distributor.remote_timeout.to_std());
        let read_pool = pool(config.querier.timeout.to_std());
        let mut ha_stop = None;
        let (distributor, distributor_ring, distributor_lifecycler) = if config.runs("distributor")
        {
            let parts = components::start_distributor(
                &config,
                &overrides,
                ingester.as_ref(),
                local,
                &ring,
                &write_pool,
                &store.kv,
                grpc_addr,
                &counts,
                &mut registry,
            )
            .await?;
            ha_stop = parts.ha_stop;
            (
                Some(parts.distributor),
                Some(parts.ring),
                Some(parts.lifecycler),
            )
        } else {
            (None, None, None)
        };
        // A cluster's store-gateways and queriers share the store-gateway ring; the
        // single binary runs one store-gateway serving every block, in this process.
        let store_gateway_ring =
            if !local && (config.runs("store-gateway") || config.runs("querier")) {
                Some(store_gateway::ring_client(&config, &store.kv).await?)
            } else {
                None
            };
        let mut blocks = None;
        let store_gateway = match (&store_gateway_ring, &ingester) {
            (Some(gw_ring), _) if config.runs("store-gateway") => Some(
                store_gateway::start_store_gateway(
                    &config,
                    &overrides,
                    &store.kv,
                    gw_ring,
                    grpc_addr.port(),
                )
                .await?,
            ),
            (None, Some(ing)) if local && config.runs("querier") => {
                let index = components::querier_index_reader(&config)?;
                let watch = components::ship_watch(ing.clone(), index.clone());
                let (parts, errors) =
                    store_gateway::start_local_store_gateway(&config, watch).await?;
                for (tenant, e) in &errors {
                    log.warn(
                        "store-gateway: tenant's blocks not synced",
                        &[("tenant", tenant), ("err", e)],
                    );
                }
                blocks = Some(components::Blocks::InProcess {
                    replicas: store_gateway::in_process_replicas(&parts),
                    index,
                });
                Some(parts)
            }
            _ => None,
        };
        if let Some(g) = &store_gateway {
            store_gateway::register_metrics(g, &mut registry);
        }
        let query = if config.runs("querier") {
            let local_ingester = ingester.as_ref().filter(|_| local);
            let blocks = match (blocks, &store_gateway_ring) {
                (Some(b), _) => b,
                (None, Some(r)) => components::Blocks::Ring(r.clone()),
                (None, None) => {
                    return Err(ServerError::Serve(std::io::Error::other(
                        "a querier without store-gateways",
                    )));
                }
            };
            Some(components::query_backend(
                &config,
                &overrides,
                local_ingester,
                &ring,
                &read_pool,
                blocks,
            )?)
        } else {
            None
        };
        if let Some(q) = &query {
            frontend_metrics::register(q.frontend().clone(), &mut registry);
        }
        let counts_task = components::spawn_count_updater(
            counts,
            ring.clone(),
            distributor_ring
                .clone()
                .map(|r| (r, config.distributor.ring.heartbeat_timeout.to_std())),
            config.ingester.lifecycler.ring.heartbeat_timeout.to_std(),
        );
        let http = http::HttpMetrics::new(&mut registry);
        ops::register_process_metrics(&mut registry);
        log.info(
            "server listening",
            &[
                ("http", &addr),
                ("grpc", &grpc_addr),
                ("target", &config.target),
            ],
        );
        let state = Arc::new(AppState {
            config,
            log,
            registry,
            overrides,
            ingester,
            distributor,
            query,
            store_gateway,
            ready: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            http,
            ring,
            distributor_ring,
            store_gateway_ring,
            kv: store.kv,
            gossip: store.gossip,
            lifecycler: std::sync::Mutex::new(lifecycler),
            distributor_lifecycler: std::sync::Mutex::new(distributor_lifecycler),
        });
        Ok(Server {
            state,
            listener: Some(listener),
            addr,
            grpc_listener: Some(grpc_listener),
            grpc_addr,
            _reloader: reloader,
            _counts: Some(counts_task),
            ha_stop,
        })
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Serves until `shutdown` turns true (or SIGTERM/SIGINT when `signals`), then
    /// shuts down gracefully.
    pub async fn run(
        mut self,
        mut shutdown: watch::Receiver<bool>,
        signals: bool,
    ) -> Result<(), ServerError> {
        let Some(listener) = self.listener.take() else {
            return Ok(());
        };
        let state = self.state.clone();
        let router = http::router(state.clone());
        let (grpc_stop, grpc_task) = match self.grpc_listener.take() {
            Some(l) => {
                let ingester = state
                    .ingester
                    .clone()
                    .map(|i| i as Arc<dyn cortex_core::ingester::api::IngesterApi>);
                let (tx, task) = grpc::serve(l, state.log, ingester, state.store_gateway_api());
                (Some(tx), Some(task))
            }
            None => (None, None),
        };
        state.ready.store(true, Ordering::Release);
        let stop_state = state.clone();
        let graceful = async move {
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => {}
                _ = wait_for_signal(), if signals => {}
            }
            stop_state.ready.store(false, Ordering::Release);
            stop_state.stopping.store(true, Ordering::Release);
            stop_state.log.info("shutting down", &[]);
            if let Some(tx) = grpc_stop {
                let _ = tx.send(true);
            }
        };
        let timeout = state.config.server.graceful_shutdown_timeout.to_std();
        // Answers go out as soon as they are written: without TCP_NODELAY a response
        // written in two parts waits for the client's delayed ACK (milliseconds).
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let serve = axum::serve(listener, router).with_graceful_shutdown(graceful);
        let served = serve.into_future();
        // In-flight requests get `graceful_shutdown_timeout` once shutdown begins.
        let result = tokio::select! {
            r = served => r.map_err(ServerError::Serve),
            _ = async {
                while !state.stopping.load(Ordering::Acquire) {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                tokio::time::sleep(timeout).await;
            } => {
                state.log.warn("graceful shutdown timed out; dropping in-flight requests", &[]);
                Ok(())
            }
        };
        if let Some(mut task) = grpc_task {
            // Open gRPC connections get the same grace period as HTTP requests.
            if tokio::time::timeout(timeout, &mut task).await.is_err() {
                state.log.warn(
                    "gRPC connections still open after the grace period; closing",
                    &[],
                );
                task.abort();
            }
        }
        // LEAVING first, as Cortex does: distributors stop writing to this ingester
        // while it flushes and closes.
        let lifecycler = state
            .lifecycler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(lc) = lifecycler {
            let lc = tokio::task::spawn_blocking(move || {
                let _ = lc.change_state(cortex_ring::InstanceState::LEAVING);
                lc
            })
            .await;
            if let Ok(lc) = lc {
                *state.lifecycler.lock().unwrap_or_else(|e| e.into_inner()) = Some(lc);
            }
        }
        let shut = match &state.ingester {
            Some(ingester) => {
                let shut = ingester.shutdown().await;
                match &shut {
                    Ok(()) => state.log.info("ingester stopped", &[]),
                    Err(e) => state.log.error("ingester shutdown failed", &[("err", e)]),
                }
                shut
            }
            None => Ok(()),
        };
        for (ring, slot) in [
            ("ingester", &state.lifecycler),
            ("distributor", &state.distributor_lifecycler),
        ] {
            let lifecycler = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(lc) = lifecycler {
                match tokio::task::spawn_blocking(move || lc.leave()).await {
                    Ok(Ok(())) => state.log.info("left the ring", &[("ring", &ring)]),
                    Ok(Err(e)) => state
                        .log
                        .warn("leaving the ring failed", &[("ring", &ring), ("err", &e)]),
                    Err(e) => state
                        .log
                        .warn("leaving the ring failed", &[("ring", &ring), ("err", &e)]),
                }
            }
        }
        if let Some(g) = &state.store_gateway {
            match g.stop().await {
                Ok(()) => state
                    .log
                    .info("left the ring", &[("ring", &"store-gateway")]),
                Err(e) => state.log.warn(
                    "leaving the ring failed",
                    &[("ring", &"store-gateway"), ("err", &e)],
                ),
            }
        }
        if let Some(stop) = self.ha_stop.take() {
            stop.stop();
        }
        result?;
        shut?;
        Ok(())
    }
}

use std::future::IntoFuture as _;

use axum::serve::ListenerExt as _;

/// Binds a TCP listener on `address` (all interfaces when empty) and `port`.
async fn bind(address: &str, port: u16) -> Result<(TcpListener, SocketAddr), ServerError> {
    let addr = format!(
        "{}:{}",
        if address.is_empty() {
            "0.0.0.0"
        } else {
            address
        },
        port
    );
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| ServerError::Listen {
            addr: addr.clone(),
            source,
        })?;
    let bound = listener.local_addr().map_err(ServerError::Serve)?;
    Ok((listener, bound))
}

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServerError> + Send + 'static,
) -> Result<T, ServerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServerError::Serve(std::io::Error::other(e)))?
}

/// Resolves on SIGTERM or SIGINT.
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}

/// Runs the server with the process' signals until it stops; returns the exit code.
pub fn run_process(config: Config) -> i32 {
    let log = Logger::new(&config.server.log_level, &config.server.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cortex")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log.error("starting runtime", &[("err", &e)]);
            return 1;
        }
    };
    rt.block_on(async move {
        let server = match Server::start(config).await {
            Ok(s) => s,
            Err(e) => {
                log.error("starting server", &[("err", &e)]);
                return 1;
            }
        };
        let (_tx, rx) = watch::channel(false);
        match server.run(rx, true).await {
            Ok(()) => 0,
            Err(e) => {
                log.error("server stopped", &[("err", &e)]);
                1
            }
        }
    })
}
