//! [`EtcdKv`]: the ring's [`Kv`] over etcd v3, with Cortex's etcd client semantics
//! (`pkg/ring/kv/etcd`): CAS is read → callback → a transaction that puts only if the
//! key's mod revision is still the one read, retried up to `max_retries` times; a watch
//! reconnects with backoff (1s doubling to 1m) and delivers the latest value.
//!
//! Client approach: etcd's gRPC API spoken directly with tonic, over the workspace's one
//! tonic/prost/hyper stack. The few messages needed are declared by hand in [`proto`]
//! (the `etcd-client` crate generates its code with `protoc` at build time, which
//! this build does not require). With several endpoints, calls stick to one and move
//! to the next when it is unreachable. The keys are used as given: the configured
//! prefix is applied by [`PrefixedKv`](super::prefixed::PrefixedKv) in
//! [`from_config`](super::from_config). Not implemented: TLS and etcd authentication.
//!
//! Threads: the trait is blocking and the client is async, so each `EtcdKv` owns a
//! private tokio runtime with one worker thread. Every call is spawned onto that
//! runtime and the caller waits on a std channel for the answer; callbacks (CAS
//! functions, watch functions) run on the caller's thread. The caller never enters the
//! private runtime, so calling from a `spawn_blocking` thread (or even, wastefully,
//! from an async task of another runtime) cannot panic or deadlock: the worker that
//! does the I/O is never the one waiting. Dropping the store shuts the runtime down in
//! the background, which is allowed anywhere.

pub mod proto;
#[cfg(test)]
mod tests;
mod watch;

use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use tokio::runtime::{Handle, Runtime};
use tonic::transport::Endpoint;
use tonic::{Code, Status};

use self::proto::{
    COMPARE_EQUAL, COMPARE_TARGET_MOD, Compare, DeleteRangeRequest, PutRequest, RangeRequest,
    RequestOp, Rpc, TxnRequest,
};
use super::{CasFn, Kv, KvError, StopSignal};
use crate::config::EtcdConfig;

/// How long one request may take once connected.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the client pings an idle connection (Cortex's hard-coded value).
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// First pause between retries of an idempotent request that found etcd unavailable.
const RETRY_MIN_BACKOFF: Duration = Duration::from_millis(50);

/// Longest pause between such retries.
const RETRY_MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The [`Kv`] backend over etcd. Create one per process and share it as `Arc<dyn Kv>`.
pub struct EtcdKv {
    /// Taken on drop to shut down without blocking.
    runtime: Option<Runtime>,
    handle: Handle,
    rpc: Rpc,
    max_retries: usize,
}

impl std::fmt::Debug for EtcdKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdKv")
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// A backend error with etcd's (or the transport's) explanation.
fn backend(reason: impl std::fmt::Display) -> KvError {
    KvError::Backend {
        backend: "etcd",
        reason: reason.to_string(),
    }
}

fn status_error(s: &Status) -> KvError {
    backend(format!("{:?}: {}", s.code(), s.message()))
}

/// `host:port` gets the `http://` scheme; URLs pass through.
fn endpoint_url(endpoint: &str) -> String {
    if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("http://{endpoint}")
    }
}

impl EtcdKv {
    /// Connects to the configured endpoints, failing when none answers (each gets
    /// `dial_timeout`), like Cortex, which dials before the ring starts.
    pub fn new(cfg: &EtcdConfig) -> Result<EtcdKv, KvError> {
        cfg.validate().map_err(KvError::Config)?;
        let dial_timeout = cfg.dial_timeout.to_std();
        let mut endpoints = Vec::with_capacity(cfg.endpoints.len());
        for e in &cfg.endpoints {
            let ep = Endpoint::from_shared(endpoint_url(e))
                .map_err(|err| backend(format!("invalid endpoint {e:?}: {err}")))?
                .connect_timeout(dial_timeout)
                .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
                .keep_alive_timeout(2 * dial_timeout)
                .keep_alive_while_idle(true);
            endpoints.push(ep);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("etcd-kv")
            .enable_all()
            .build()
            .map_err(|e| backend(format!("starting the client runtime: {e}")))?;
        let channels = {
            let _in_runtime = runtime.enter();
            endpoints.iter().map(Endpoint::connect_lazy).collect()
        };
        let kv = EtcdKv {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            rpc: Rpc::new(channels, REQUEST_TIMEOUT),
            max_retries: cfg.max_retries,
        };
        // Any key will do to check etcd answers; each endpoint gets the dial timeout.
        let probe = kv
            .rpc
            .with_timeout(dial_timeout.max(Duration::from_millis(1)));
        kv.run(async move {
            probe
                .range(RangeRequest {
                    key: b"/".to_vec(),
                    keys_only: true,
                    ..Default::default()
                })
                .await
        })?
        .map_err(|s| {
            backend(format!(
                "no endpoint of {:?} answered within {dial_timeout:?}: {}",
                cfg.endpoints,
                s.message()
            ))
        })?;
        Ok(kv)
    }

    /// Runs `fut` on the private runtime and waits for its output.
    fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, KvError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.handle.spawn(async move {
            // The caller may be gone; nobody to tell then.
            let _ = tx.send(fut.await);
        });
        rx.recv().map_err(|_| backend("the client runtime stopped"))
    }

    /// Runs an idempotent request, retrying while etcd is unavailable (at most
    /// `max_retries` attempts).
    fn run_idempotent<T, F, Fut>(&self, op: F) -> Result<T, KvError>
    where
        T: Send + 'static,
        F: Fn(Rpc) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Status>> + Send,
    {
        let rpc = self.rpc.clone();
        let attempts = self.max_retries.max(1);
        self.run(async move {
            let mut pause = RETRY_MIN_BACKOFF;
            let mut attempt = 1;
            loop {
                match op(rpc.clone()).await {
                    Err(s) if s.code() == Code::Unavailable && attempt < attempts => {
                        attempt += 1;
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(RETRY_MAX_BACKOFF);
                    }
                    r => return r,
                }
            }
        })?
        .map_err(|s| status_error(&s))
    }

    /// The value of `key` and its mod revision (0 when absent).
    fn read(&self, key: &str) -> Result<(Option<Bytes>, i64), KvError> {
        let key = key.as_bytes().to_vec();
        let resp = self.run_idempotent(move |rpc| {
            let key = key.clone();
            async move {
                rpc.range(RangeRequest {
                    key,
                    ..Default::default()
                })
                .await
            }
        })?;
        Ok(match resp.kvs.into_iter().next() {
            Some(kv) => (Some(kv.value), kv.mod_revision),
            None => (None, 0),
        })
    }

    /// Puts `value` if `key`'s mod revision is still `revision`; false when it is not.
    fn put_if_unchanged(&self, key: &str, revision: i64, value: Bytes) -> Result<bool, KvError> {
        let key = key.as_bytes().to_vec();
        let rpc = self.rpc.clone();
        let req = TxnRequest {
            compare: vec![Compare {
                result: COMPARE_EQUAL,
                target: COMPARE_TARGET_MOD,
                key: key.clone(),
                mod_revision: Some(revision),
            }],
            success: vec![RequestOp {
                request_put: Some(PutRequest { key, value }),
            }],
        };
        let resp = self
            .run(async move { rpc.txn(req).await })?
            .map_err(|s| status_error(&s))?;
        Ok(resp.succeeded)
    }
}

impl Drop for EtcdKv {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Kv for EtcdKv {
    fn get(&self, key: &str) -> Result<Option<Bytes>, KvError> {
        Ok(self.read(key)?.0)
    }

    fn cas(&self, key: &str, f: &mut CasFn<'_>) -> Result<(), KvError> {
        // Like Cortex: a failed read or write counts as an attempt, and when the
        // attempts run out the last such error is returned instead of "failed to CAS".
        let mut last_error = None;
        for _ in 0..self.max_retries {
            let (current, revision) = match self.read(key) {
                Ok(r) => r,
                Err(e) => {
                    last_error = Some(e);
                    continue;
                }
            };
            let new = match f(current) {
                Ok(Some(v)) => v,
                Ok(None) => return Ok(()),
                Err(e) if e.retry => {
                    last_error = Some(KvError::Aborted(e.reason));
                    continue;
                }
                Err(e) => return Err(KvError::Aborted(e.reason)),
            };
            match self.put_if_unchanged(key, revision, new) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| KvError::CasFailed {
            key: key.to_string(),
        }))
    }

    fn delete(&self, key: &str) -> Result<(), KvError> {
        let key = key.as_bytes().to_vec();
        self.run_idempotent(move |rpc| {
            let key = key.clone();
            async move { rpc.delete_range(DeleteRangeRequest { key }).await }
        })?;
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        let key = prefix.as_bytes().to_vec();
        let range_end = proto::prefix_range_end(&key);
        let resp = self.run_idempotent(move |rpc| {
            let (key, range_end) = (key.clone(), range_end.clone());
            async move {
                rpc.range(RangeRequest {
                    key,
                    range_end,
                    keys_only: true,
                })
                .await
            }
        })?;
        // etcd returns keys sorted by their bytes, which is the order of the strings.
        resp.kvs
            .into_iter()
            .map(|kv| {
                String::from_utf8(kv.key).map_err(|e| KvError::Decode {
                    key: String::from_utf8_lossy(e.as_bytes()).into_owned(),
                    reason: "the key is not UTF-8".to_string(),
                })
            })
            .collect()
    }

    fn watch_key(&self, key: &str, stop: &StopSignal, f: &mut dyn FnMut(Option<Bytes>) -> bool) {
        watch::watch_key(&self.handle, &self.rpc, key, stop, f);
    }
}
