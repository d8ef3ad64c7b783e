//! The running server: builds every component the configuration's `target` asks for,
//! serves the HTTP API, and shuts down gracefully on SIGTERM or SIGINT (stop taking
//! requests, finish those in flight, stop the ingester's loops, flush if configured,
//! close every TSDB).

mod api;
mod grpc;
mod http;
pub mod log;
mod ops;
mod push;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cortex_core::distributor::{Distributor, DistributorMetrics, OverridesLimits};
use cortex_core::ingester::{Bucket, Ingester};
use cortex_core::limits::{Overrides, ReloadHandle, spawn_reloader};
use cortex_core::promql::EngineOpts;
use cortex_core::querier::bucket::{BucketBlocksConfig, BucketReader};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

use cortex_ring::{INGESTER_RING_KEY, Lifecycler, RingClient};

use crate::config::Config;
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
}

/// What the HTTP handlers share.
pub(crate) struct AppState {
    pub config: Config,
    pub log: Logger,
    pub registry: Registry,
    pub overrides: Arc<Overrides>,
    pub ingester: Arc<Ingester>,
    pub distributor: Distributor,
    pub ready: AtomicBool,
    pub stopping: AtomicBool,
    pub http: http::HttpMetrics,
    pub ring: RingClient,
    pub kv: Arc<dyn cortex_ring::Kv>,
    pub lifecycler: std::sync::Mutex<Option<Lifecycler>>,
    pub query: api::QueryBackend,
}

/// A started server.
pub struct Server {
    state: Arc<AppState>,
    listener: Option<TcpListener>,
    addr: SocketAddr,
    grpc_listener: Option<TcpListener>,
    grpc_addr: SocketAddr,
    _reloader: Option<ReloadHandle>,
}

impl Server {
    /// Opens every component (replaying WALs) and binds the HTTP listener; call
    /// [`Server::run`] to serve. Must be called inside a tokio runtime.
    pub async fn start(config: Config) -> Result<Server, ServerError> {
        let log = Logger::new(&config.server.log_level, &config.server.log_format);
        let registry = Registry::default();
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
        let tsdb = config.blocks_storage.tsdb.clone();
        let bucket = Bucket::local(&config.blocks_storage.filesystem.dir)?;
        let limits = Arc::new(OverridesLimits::new(overrides.clone(), 1, 1));
        let ingester_cfg = config.ingester.clone();
        let ingester = tokio::task::spawn_blocking(move || {
            let mut registry = registry;
            Ingester::open(ingester_cfg, tsdb, limits, bucket, "", &mut registry)
                .map(|i| (i, registry))
        })
        .await
        .map_err(|e| ServerError::Serve(std::io::Error::other(e)))?;
        let (ingester, mut registry) = ingester?;
        ingester.start(&tokio::runtime::Handle::current());
        let mut distributor = Distributor::new(
            overrides.clone(),
            ingester.clone(),
            DistributorMetrics::new(&mut registry),
        );
        if config.distributor.ha_tracker.enable_ha_tracker {
            distributor = distributor.with_ha_tracker();
        }
        let http = http::HttpMetrics::new(&mut registry);
        ops::register_process_metrics(&mut registry);
        let addr = format!(
            "{}:{}",
            if config.server.http_listen_address.is_empty() {
                "0.0.0.0"
            } else {
                &config.server.http_listen_address
            },
            config.server.http_listen_port
        );
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| ServerError::Listen {
                addr: addr.clone(),
                source,
            })?;
        let addr = listener.local_addr().map_err(ServerError::Serve)?;
        let grpc_addr = format!(
            "{}:{}",
            if config.server.grpc_listen_address.is_empty() {
                "0.0.0.0"
            } else {
                &config.server.grpc_listen_address
            },
            config.server.grpc_listen_port
        );
        let grpc_listener =
            TcpListener::bind(&grpc_addr)
                .await
                .map_err(|source| ServerError::Listen {
                    addr: grpc_addr.clone(),
                    source,
                })?;
        let grpc_addr = grpc_listener.local_addr().map_err(ServerError::Serve)?;
        // The ring lives in the configured KV store (in memory by default in the single
        // binary); the ingester joins it. Connecting to etcd blocks, as does the
        // lifecycler's first write, so both run on the blocking pool.
        let mut lc_cfg = config.ingester.lifecycler.clone();
        lc_cfg.listen_port = grpc_addr.port();
        let ring_cfg = lc_cfg.ring.clone();
        let (kv, lifecycler) = tokio::task::spawn_blocking(move || {
            let kv = cortex_ring::kv::from_config(&lc_cfg.ring.kvstore)?;
            let lifecycler = Lifecycler::start(lc_cfg, kv.clone(), INGESTER_RING_KEY)?;
            Ok::<_, ServerError>((kv, lifecycler))
        })
        .await
        .map_err(|e| ServerError::Serve(std::io::Error::other(e)))??;
        let ring = RingClient::start(kv.clone(), INGESTER_RING_KEY, ring_cfg)?;
        log.info(
            "server listening",
            &[
                ("http", &addr),
                ("grpc", &grpc_addr),
                ("target", &config.target),
            ],
        );
        let bucket_reader = Arc::new(BucketReader::new(
            ingester.bucket().clone(),
            BucketBlocksConfig {
                sync_interval: config.blocks_storage.bucket_store.sync_interval.to_std(),
                sync_dir: config.blocks_storage.bucket_store.sync_dir.clone(),
            },
            tokio::runtime::Handle::current(),
        ));
        let query = api::QueryBackend::new(
            ingester.clone(),
            bucket_reader,
            overrides.clone(),
            EngineOpts {
                max_samples: config.querier.max_samples,
                timeout: config.querier.timeout.to_std(),
                lookback_delta: config.querier.lookback_delta.to_std(),
                no_step_subquery_interval: config.querier.default_evaluation_interval.to_std(),
            },
            config.auth_enabled,
            config.tenant_federation.enabled,
            config.querier.max_concurrent,
        );
        let state = Arc::new(AppState {
            config,
            log,
            registry,
            overrides,
            ingester,
            distributor,
            ready: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            http,
            ring,
            kv,
            lifecycler: std::sync::Mutex::new(Some(lifecycler)),
            query,
        });
        Ok(Server {
            state,
            listener: Some(listener),
            addr,
            grpc_listener: Some(grpc_listener),
            grpc_addr,
            _reloader: reloader,
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
                let (tx, task) = grpc::serve(l, state.log, state.ingester.clone());
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
        let shut = state.ingester.shutdown().await;
        match &shut {
            Ok(()) => state.log.info("ingester stopped", &[]),
            Err(e) => state.log.error("ingester shutdown failed", &[("err", e)]),
        }
        let lifecycler = state
            .lifecycler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(lc) = lifecycler {
            match tokio::task::spawn_blocking(move || lc.leave()).await {
                Ok(Ok(())) => state.log.info("left the ring", &[]),
                Ok(Err(e)) => state.log.warn("leaving the ring failed", &[("err", &e)]),
                Err(e) => state.log.warn("leaving the ring failed", &[("err", &e)]),
            }
        }
        result?;
        shut?;
        Ok(())
    }
}

use std::future::IntoFuture as _;

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
