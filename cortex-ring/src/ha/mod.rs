//! The HA tracker's elected replicas in the KV store, so that every distributor
//! agrees on them (Cortex keeps them under `ha-tracker/<tenant>/<cluster>`, one
//! [`ReplicaDesc`] protobuf per key, `desc.rs`).
//!
//! [`KvReplicaStore`] implements cortex-core's [`ReplicaStore`] over any [`Kv`]
//! (in-memory, etcd, gossip); give it a store whose keys are under the HA prefix
//! ([`store_from_config`] with `kvstore.prefix` = [`HA_TRACKER_PREFIX`], or a
//! [`PrefixedKv`](crate::PrefixedKv)). Build the tracker with
//! [`HaTracker::with_store`] and keep its cache current with [`spawn_maintenance`].
//!
//! The cache is refreshed by polling (list the keys, read each) rather than by
//! watching: the [`Kv`] trait watches single keys, and a cluster appears as a new key,
//! so a watch would need a prefix watch in every backend or a thread per key. Polling
//! works the same on every backend, recovers from any outage on the next round and
//! sees deletions. Its delay costs nothing in correctness: the tracker trusts a cached
//! entry only while it is younger than the update timeout, and decides everything
//! else by a compare-and-swap on the store (see cortex-core's `ha/tracker.rs`); a
//! fresher cache only saves writes and lets `ha_max_clusters` count the clusters
//! other distributors elected.
//!
//! Gossip is eventually consistent: two distributors on different members can both
//! elect a replica before they hear of each other; the merge rule
//! ([`ReplicaDescMerge`], the newest `received_at` wins) makes the members converge on
//! one. Cortex does not support memberlist for the HA tracker for this reason; use
//! etcd when the brief double-acceptance matters.

mod desc;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cortex_core::distributor::ha::{
    CLEANUP_INTERVAL, HaError, HaTracker, ReplicaCasFn, ReplicaStore, StoredReplica,
};

pub use desc::{ReplicaDescMerge, decode, encode};

use crate::config::KvConfig;
use crate::kv::gossip::MergeRegistry;
use crate::kv::{CasError, Kv, KvError, StopSignal};

/// Cortex's default `distributor.ha_tracker.kvstore.prefix`.
pub const HA_TRACKER_PREFIX: &str = "ha-tracker/";

/// How often [`spawn_maintenance`] refreshes the tracker's cache by default.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(5);

/// The elected replicas in a [`Kv`], one key `<tenant>/<cluster>` each.
#[derive(Clone)]
pub struct KvReplicaStore {
    kv: Arc<dyn Kv>,
}

impl KvReplicaStore {
    /// A store over `kv`, whose keys should already be under the HA prefix.
    pub fn new(kv: Arc<dyn Kv>) -> KvReplicaStore {
        KvReplicaStore { kv }
    }
}

fn key(tenant: &str, cluster: &str) -> String {
    format!("{tenant}/{cluster}")
}

fn store_error(e: KvError) -> HaError {
    HaError::Store(e.to_string())
}

impl ReplicaStore for KvReplicaStore {
    fn cas(&self, tenant: &str, cluster: &str, f: &mut ReplicaCasFn<'_>) -> Result<(), HaError> {
        let key = key(tenant, cluster);
        // Errors of the callback are kept here to be returned as they are.
        let mut failure: Option<HaError> = None;
        let result = self.kv.cas(&key, &mut |value| {
            failure = None;
            let current = match value.map(|b| decode(&b)).transpose() {
                Ok(c) => c,
                Err(e) => {
                    let reason = format!("decoding the value of key {key}: {e}");
                    failure = Some(HaError::Store(reason.clone()));
                    return Err(CasError::abort(reason));
                }
            };
            match f(current.as_ref()) {
                Ok(new) => Ok(new.as_ref().map(encode)),
                Err(e) => {
                    let reason = e.to_string();
                    failure = Some(e);
                    Err(CasError::abort(reason))
                }
            }
        });
        match (result, failure) {
            (Err(KvError::Aborted(_)), Some(e)) => Err(e),
            (r, _) => r.map_err(store_error),
        }
    }

    fn list(&self) -> Result<Vec<StoredReplica>, HaError> {
        let mut out = Vec::new();
        for k in self.kv.list("").map_err(store_error)? {
            // Keys of other users of the store (a ring without a '/') are not ours.
            let Some((tenant, cluster)) = k.split_once('/') else {
                continue;
            };
            if tenant.is_empty() || cluster.is_empty() {
                continue;
            }
            // A key deleted since the listing is skipped; so is one that does not
            // decode, which must not stop every other cluster from syncing.
            let Some(bytes) = self.kv.get(&k).map_err(store_error)? else {
                continue;
            };
            let Ok(desc) = decode(&bytes) else {
                continue;
            };
            out.push(StoredReplica {
                tenant: tenant.to_string(),
                cluster: cluster.to_string(),
                desc,
            });
        }
        Ok(out)
    }

    fn delete(&self, tenant: &str, cluster: &str) -> Result<(), HaError> {
        self.kv.delete(&key(tenant, cluster)).map_err(store_error)
    }
}

/// Builds the HA tracker's KV store from its `kvstore` block (Cortex's
/// `distributor.ha_tracker.kvstore`, prefix [`HA_TRACKER_PREFIX`] by default): like
/// [`crate::kv::from_config`], but a gossip store merges every key under the prefix
/// with [`ReplicaDescMerge`].
pub fn store_from_config(cfg: &KvConfig) -> Result<Arc<dyn Kv>, KvError> {
    let mut rules = MergeRegistry::new();
    rules.register(cfg.prefix.clone(), Arc::new(ReplicaDescMerge));
    crate::kv::from_config_with_rules(cfg, rules)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The cleanup period with Cortex's ±20% jitter.
fn cleanup_period(seed: u64) -> Duration {
    let base = CLEANUP_INTERVAL.as_millis() as u64;
    let spread = base / 5;
    Duration::from_millis(base - spread + seed % (2 * spread).max(1))
}

/// Starts a thread that keeps `tracker` current: it syncs the cache at once and then
/// every `sync_interval`, and runs the cleanup of old entries every
/// [`CLEANUP_INTERVAL`] (±20%). Failures are retried on the next round. The thread
/// ends when `stop` is signalled.
pub fn spawn_maintenance(
    tracker: HaTracker,
    sync_interval: Duration,
    stop: StopSignal,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("ha-tracker".into())
        .spawn(move || {
            let seed = now_ms().unsigned_abs();
            let mut next_cleanup = Instant::now() + cleanup_period(seed);
            let mut round: u64 = 0;
            loop {
                let _ = tracker.sync();
                if Instant::now() >= next_cleanup {
                    let _ = tracker.cleanup(now_ms());
                    round = round.wrapping_add(1);
                    next_cleanup =
                        Instant::now() + cleanup_period(seed.wrapping_mul(31).wrapping_add(round));
                }
                if stop.wait(sync_interval) {
                    return;
                }
            }
        })
}
