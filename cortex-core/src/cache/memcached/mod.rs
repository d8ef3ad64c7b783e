//! [`MemcachedCache`]: the [`Cache`] backed by one or more memcached servers.
//!
//! - Keys become memcached keys with [`memcached_key`]; a hashed key's value is stored
//!   as `<original key><value>` with flag [`FLAG_KEY_PREFIXED`] and checked on fetch,
//!   so a hash collision reads as a miss.
//! - Each key lives on the server [`server_for`] picks; a fetch groups keys by server,
//!   cuts each group into batches of `max_get_multi_batch_size` keys and runs the
//!   batches concurrently, at most `max_get_multi_concurrency` at a time across fetches.
//! - Stores go through a queue of `max_async_buffer_size` items drained by
//!   `max_async_concurrency` workers; the caller never waits, and an item that does not
//!   fit in the queue is dropped and counted.
//! - Any failure (unreachable server, timeout, a reply that is not the protocol) is
//!   counted in [`CacheStats::failures`] and its keys are misses.
//!
//! The wire format is in [`protocol`]; connections in `pool`.

pub(crate) mod pool;
pub mod protocol;
#[cfg(test)]
mod protocol_tests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Mutex as AsyncMutex, Notify, Semaphore, mpsc};
use tokio::task::JoinSet;

use self::pool::ServerPool;
use self::protocol::{StoreReply, Value, exptime};
use super::config::MemcachedConfig;
use super::error::CacheError;
use super::hash::{memcached_key, server_for};
use super::stats::{CacheStats, Counters};
use super::{Cache, CacheFuture, Fetched};

/// The flags of an item whose value starts with the original (hashed) key.
pub const FLAG_KEY_PREFIXED: u32 = 1;

/// The longest value read from a server: memcached's own ceiling on item size.
pub const MAX_VALUE_LEN: u64 = 1 << 30;

/// One queued `set`.
#[derive(Debug)]
struct StoreJob {
    key: String,
    mkey: String,
    hashed: bool,
    value: Bytes,
    exptime: u32,
}

/// What the fetches and the store workers share.
#[derive(Debug)]
struct Shared {
    name: String,
    servers: Vec<ServerPool>,
    batch_size: usize,
    get_multi: Option<Arc<Semaphore>>,
    counters: Counters,
    /// Stores queued or running.
    in_flight: AtomicUsize,
    /// Signalled when `in_flight` drops to zero.
    idle: Notify,
}

/// A cache in memcached servers (see the module documentation).
#[derive(Debug)]
pub struct MemcachedCache {
    shared: Arc<Shared>,
    max_item_size: u64,
    queue: mpsc::Sender<StoreJob>,
}

impl MemcachedCache {
    /// A cache named `name` over the servers of `cfg`. Must be called inside a Tokio
    /// runtime: the store workers are spawned on it. Connections are made on first use,
    /// so servers that are down now are not an error.
    pub fn new(name: &str, cfg: &MemcachedConfig) -> Result<MemcachedCache, CacheError> {
        cfg.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| CacheError::NoRuntime {
            name: name.to_string(),
        })?;
        let mut addresses = cfg.address_list()?;
        // Sorted, so the key → server mapping does not depend on the order in the config.
        addresses.sort();
        addresses.dedup();
        let servers = addresses
            .into_iter()
            .map(|a| ServerPool::new(a, cfg.timeout.0, cfg.max_idle_connections))
            .collect();
        let shared = Arc::new(Shared {
            name: name.to_string(),
            servers,
            batch_size: if cfg.max_get_multi_batch_size == 0 {
                usize::MAX
            } else {
                cfg.max_get_multi_batch_size
            },
            get_multi: (cfg.max_get_multi_concurrency > 0)
                .then(|| Arc::new(Semaphore::new(cfg.max_get_multi_concurrency))),
            counters: Counters::default(),
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
        });
        let (queue, rx) = mpsc::channel(cfg.max_async_buffer_size.max(1));
        let rx = Arc::new(AsyncMutex::new(rx));
        for _ in 0..cfg.max_async_concurrency.max(1) {
            runtime.spawn(store_worker(shared.clone(), rx.clone()));
        }
        Ok(MemcachedCache {
            shared,
            max_item_size: cfg.max_item_size,
            queue,
        })
    }

    /// The servers' addresses, in the order keys are spread over them.
    pub fn addresses(&self) -> Vec<&str> {
        self.shared
            .servers
            .iter()
            .map(ServerPool::address)
            .collect()
    }

    /// Waits until every store queued so far has been sent (or has failed).
    pub async fn flush(&self) {
        loop {
            let notified = self.shared.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.shared.in_flight.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Takes stores off the queue until the cache is dropped and the queue drained.
async fn store_worker(shared: Arc<Shared>, rx: Arc<AsyncMutex<mpsc::Receiver<StoreJob>>>) {
    loop {
        let job = rx.lock().await.recv().await;
        let Some(job) = job else { return };
        let server = &shared.servers[server_for(&job.mkey, shared.servers.len())];
        let data: [&[u8]; 2] = if job.hashed {
            [job.key.as_bytes(), &job.value]
        } else {
            [&[], &job.value]
        };
        let flags = if job.hashed { FLAG_KEY_PREFIXED } else { 0 };
        match server.set(&job.mkey, flags, job.exptime, &data).await {
            Ok(StoreReply::Stored) => {}
            Ok(StoreReply::NotStored) | Err(_) => Counters::add(&shared.counters.failures, 1),
        }
        if shared.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            shared.idle.notify_waiters();
        }
    }
}

/// One `get` of up to `batch_size` keys from `server`.
async fn fetch_batch(
    shared: Arc<Shared>,
    server: usize,
    mkeys: Vec<String>,
) -> Result<Vec<Value>, CacheError> {
    let _permit = match &shared.get_multi {
        // The semaphore is never closed.
        Some(sem) => sem.clone().acquire_owned().await.ok(),
        None => None,
    };
    let keys: Vec<&str> = mkeys.iter().map(String::as_str).collect();
    shared.servers[server].get_multi(&keys, MAX_VALUE_LEN).await
}

/// The caller's value of `key` from what memcached returned under its memcached key.
fn decode(key: &str, hashed: bool, value: &Value) -> Option<Bytes> {
    if !hashed {
        return (value.flags == 0).then(|| value.data.clone());
    }
    let matches = value.flags == FLAG_KEY_PREFIXED && value.data.starts_with(key.as_bytes());
    matches.then(|| value.data.slice(key.len()..))
}

impl Cache for MemcachedCache {
    fn name(&self) -> &str {
        &self.shared.name
    }

    fn store(&self, items: Vec<(String, Bytes)>, ttl: Duration) {
        let exptime = exptime(ttl);
        let counters = &self.shared.counters;
        for (key, value) in items {
            let mkey = memcached_key(&key).into_owned();
            let hashed = mkey != key;
            let size = value.len() as u64 + if hashed { key.len() as u64 } else { 0 };
            if self.max_item_size != 0 && size > self.max_item_size {
                Counters::add(&counters.skipped_too_large, 1);
                continue;
            }
            self.shared.in_flight.fetch_add(1, Ordering::AcqRel);
            let job = StoreJob {
                key,
                mkey,
                hashed,
                value,
                exptime,
            };
            match self.queue.try_send(job) {
                Ok(()) => Counters::add(&counters.stored, 1),
                Err(_) => {
                    Counters::add(&counters.dropped_queue_full, 1);
                    if self.shared.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
                        self.shared.idle.notify_waiters();
                    }
                }
            }
        }
    }

    fn fetch<'a>(&'a self, keys: &'a [String]) -> CacheFuture<'a, Fetched> {
        Box::pin(async move {
            let shared = &self.shared;
            let mkeys: Vec<String> = keys.iter().map(|k| memcached_key(k).into_owned()).collect();
            // Distinct memcached keys per server.
            let mut per_server: Vec<Vec<String>> = vec![Vec::new(); shared.servers.len()];
            let mut seen = std::collections::HashSet::with_capacity(keys.len());
            for mkey in &mkeys {
                if seen.insert(mkey.as_str()) {
                    per_server[server_for(mkey, shared.servers.len())].push(mkey.clone());
                }
            }
            let mut batches = JoinSet::new();
            for (server, mut group) in per_server.into_iter().enumerate() {
                while !group.is_empty() {
                    let rest = group.split_off(group.len().min(shared.batch_size));
                    batches.spawn(fetch_batch(shared.clone(), server, group));
                    group = rest;
                }
            }
            let mut found: HashMap<String, Value> = HashMap::with_capacity(keys.len());
            while let Some(joined) = batches.join_next().await {
                match joined {
                    Ok(Ok(values)) => {
                        found.extend(values.into_iter().map(|v| (v.key.clone(), v)));
                    }
                    // A failed batch (or a batch task that panicked) is misses.
                    Ok(Err(_)) | Err(_) => Counters::add(&shared.counters.failures, 1),
                }
            }
            let mut fetched = Fetched {
                hits: HashMap::with_capacity(found.len()),
                misses: Vec::new(),
            };
            for (key, mkey) in keys.iter().zip(&mkeys) {
                let hashed = mkey != key;
                match found.get(mkey).and_then(|v| decode(key, hashed, v)) {
                    Some(value) => {
                        fetched.hits.insert(key.clone(), value);
                    }
                    None => fetched.misses.push(key.clone()),
                }
            }
            shared
                .counters
                .fetched(keys.len(), keys.len() - fetched.misses.len());
            fetched
        })
    }

    fn stats(&self) -> CacheStats {
        self.shared.counters.snapshot()
    }
}
