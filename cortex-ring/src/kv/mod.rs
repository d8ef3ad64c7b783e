//! The key-value store the ring lives in: the [`Kv`] trait every backend implements
//! (in-memory, etcd and gossip), [`from_config`] that builds the configured one,
//! its errors, the stop signal that ends a watch, and typed helpers that read and
//! update a [`Desc`] stored as JSON.
//!
//! The trait is synchronous and object-safe: values are opaque bytes (the caller picks
//! the codec), callbacks are `&mut dyn FnMut`. Backends that talk to a network block the
//! calling thread; the lifecycler and the ring client run on their own threads, and
//! async callers use `spawn_blocking`.

pub mod etcd;
pub mod gossip;
pub mod memory;
pub mod prefixed;
#[cfg(any(test, feature = "testing"))]
pub mod test_etcd;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bytes::Bytes;

use crate::config::{ConfigError, KvConfig, STORE_ETCD, STORE_INMEMORY, STORE_MEMBERLIST};
use crate::desc::Desc;

/// Why a KV operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// Every compare-and-swap attempt lost to a concurrent writer (Cortex's message).
    #[error("failed to CAS {key}")]
    CasFailed {
        /// The key.
        key: String,
    },
    /// The CAS callback gave up.
    #[error("{0}")]
    Aborted(String),
    /// The stored value could not be decoded.
    #[error("decoding the value of key {key}: {reason}")]
    Decode {
        /// The key.
        key: String,
        /// The decoder's complaint.
        reason: String,
    },
    /// The store configuration cannot work.
    #[error("{0}")]
    Config(ConfigError),
    /// The backend could not be reached or refused the request.
    #[error("kv store {backend}: {reason}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// What went wrong.
        reason: String,
    },
}

/// What a CAS callback returns to give up: with `retry` the backend calls it again on a
/// fresh read (up to its retry limit), otherwise the CAS fails with
/// [`KvError::Aborted`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasError {
    /// Try again with a fresh value.
    pub retry: bool,
    /// Why the callback gave up.
    pub reason: String,
}

impl CasError {
    /// Gives up for good.
    pub fn abort(reason: impl Into<String>) -> CasError {
        CasError {
            retry: false,
            reason: reason.into(),
        }
    }
}

/// A CAS callback: gets the current value (`None` when the key is absent) and returns
/// the value to store, or `None` to leave the key as it is.
pub type CasFn<'a> = dyn FnMut(Option<Bytes>) -> Result<Option<Bytes>, CasError> + 'a;

/// A key-value store with compare-and-swap and watches (Cortex's `kv.Client`).
pub trait Kv: Send + Sync {
    /// The value of `key`, `None` when absent.
    fn get(&self, key: &str) -> Result<Option<Bytes>, KvError>;

    /// Reads `key`, calls `f` with the value and stores what it returns — atomically: when
    /// another writer got in between, `f` runs again on the new value. Only one of
    /// concurrent CASes on a key succeeds per round; no update is lost.
    fn cas(&self, key: &str, f: &mut CasFn<'_>) -> Result<(), KvError>;

    /// Removes `key`; removing an absent key is not an error.
    fn delete(&self, key: &str) -> Result<(), KvError>;

    /// The keys starting with `prefix` (prefix included), sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>, KvError>;

    /// Calls `f` with the current value of `key`, then after every change, in commit
    /// order (changes close together may be coalesced: the latest value is always
    /// delivered). Returns when `f` returns false or `stop` is signalled; backend errors
    /// are retried, not returned.
    fn watch_key(&self, key: &str, stop: &StopSignal, f: &mut dyn FnMut(Option<Bytes>) -> bool);
}

/// Builds the store `cfg` selects (`kvstore.store`: `inmemory`, `etcd` or
/// `memberlist`), with its keys under `kvstore.prefix`. Connecting to etcd blocks up to
/// its dial timeout and joining the gossip cluster up to its stream timeout per seed, so
/// async callers call this from `spawn_blocking`. The gossip store merges the ingester
/// ring (`{prefix}ring`) and the distributor ring (`{prefix}distributor`) with
/// [`gossip::DescMerge`].
pub fn from_config(cfg: &KvConfig) -> Result<Arc<dyn Kv>, KvError> {
    open_store(cfg).map(|s| s.kv)
}

/// Like [`from_config`], with the merge rules a gossip store uses given by the caller
/// (registered by stored key prefix, the store's prefix included; other backends
/// ignore them).
pub fn from_config_with_rules(
    cfg: &KvConfig,
    rules: gossip::MergeRegistry,
) -> Result<Arc<dyn Kv>, KvError> {
    open_store_with_rules(cfg, rules).map(|s| s.kv)
}

/// A store built from its configuration, with the gossip member behind it when the
/// store is `memberlist` (for its membership status).
#[derive(Clone)]
pub struct OpenedStore {
    /// The store, keys under the configured prefix.
    pub kv: Arc<dyn Kv>,
    /// The gossip member, when the store is gossip.
    pub gossip: Option<Arc<gossip::GossipKv>>,
}

/// Like [`from_config`], also handing out the gossip member. Besides the two rings,
/// a gossip store merges the HA tracker's entries kept under
/// `{prefix}`[`crate::ha::HA_TRACKER_PREFIX`] with [`crate::ha::ReplicaDescMerge`].
pub fn open_store(cfg: &KvConfig) -> Result<OpenedStore, KvError> {
    let mut rules = gossip::MergeRegistry::new();
    for key in [crate::INGESTER_RING_KEY, crate::DISTRIBUTOR_RING_KEY] {
        rules.register(
            format!("{}{}", cfg.prefix, key),
            Arc::new(gossip::DescMerge::new(
                cfg.memberlist.left_ingesters_timeout.to_std(),
            )),
        );
    }
    rules.register(
        format!("{}{}", cfg.prefix, crate::ha::HA_TRACKER_PREFIX),
        Arc::new(crate::ha::ReplicaDescMerge),
    );
    open_store_with_rules(cfg, rules)
}

/// [`open_store`] with the caller's merge rules.
pub fn open_store_with_rules(
    cfg: &KvConfig,
    rules: gossip::MergeRegistry,
) -> Result<OpenedStore, KvError> {
    cfg.validate().map_err(KvError::Config)?;
    let mut member = None;
    let store: Arc<dyn Kv> = match cfg.store.as_str() {
        STORE_INMEMORY => Arc::new(memory::InMemoryKv::new()),
        STORE_ETCD => Arc::new(etcd::EtcdKv::new(&cfg.etcd)?),
        STORE_MEMBERLIST => {
            let kv =
                gossip::GossipKv::start(&cfg.memberlist, rules).map_err(|e| KvError::Backend {
                    backend: "memberlist",
                    reason: e.to_string(),
                })?;
            let kv = Arc::new(kv);
            member = Some(kv.clone());
            kv
        }
        other => {
            return Err(KvError::Config(ConfigError::UnknownStore(
                other.to_string(),
            )));
        }
    };
    let kv = if cfg.prefix.is_empty() {
        store
    } else {
        Arc::new(prefixed::PrefixedKv::new(store, cfg.prefix.clone()))
    };
    Ok(OpenedStore { kv, gossip: member })
}

/// A one-way "stop now" flag that wakes whoever waits on it.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<(Mutex<bool>, Condvar)>);

impl StopSignal {
    /// A signal not yet given.
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Gives the signal; every waiter wakes.
    pub fn stop(&self) {
        let (flag, cv) = &*self.0;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
    }

    /// True once the signal was given.
    pub fn is_stopped(&self) -> bool {
        *self.0.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleeps up to `timeout`, returning early (true) when the signal is given.
    pub fn wait(&self, timeout: Duration) -> bool {
        let (flag, cv) = &*self.0;
        let guard = flag.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = cv
            .wait_timeout_while(guard, timeout, |stopped| !*stopped)
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

/// Reads the ring stored under `key`.
pub fn get_desc(kv: &dyn Kv, key: &str) -> Result<Option<Desc>, KvError> {
    kv.get(key)?.map(|b| decode(key, &b)).transpose()
}

/// Compare-and-swap on the ring stored under `key`: `f` gets the current ring (`None`
/// when absent) and returns the ring to store, or `None` to leave it.
pub fn cas_desc(
    kv: &dyn Kv,
    key: &str,
    mut f: impl FnMut(Option<Desc>) -> Result<Option<Desc>, CasError>,
) -> Result<(), KvError> {
    let mut decode_error = None;
    let result = kv.cas(key, &mut |value| {
        let current = match value.map(|b| decode(key, &b)).transpose() {
            Ok(d) => d,
            Err(e) => {
                let reason = e.to_string();
                decode_error = Some(e);
                return Err(CasError::abort(reason));
            }
        };
        Ok(f(current)?.map(|d| Bytes::from(d.encode())))
    });
    match (result, decode_error) {
        (Err(_), Some(e)) => Err(e),
        (r, _) => r,
    }
}

fn decode(key: &str, bytes: &[u8]) -> Result<Desc, KvError> {
    Desc::decode(bytes).map_err(|e| KvError::Decode {
        key: key.to_string(),
        reason: e.to_string(),
    })
}
