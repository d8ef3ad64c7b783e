//! The HA tracker: decides, per push, whether its replica is the elected one of its
//! tenant and cluster, following Cortex's `HATracker`.
//!
//! It keeps a local cache of every (tenant, cluster)'s [`ReplicaDesc`] in front of a
//! [`ReplicaStore`]. A push of the cached elected replica whose `received_at` is
//! younger than `ha_tracker_update_timeout` (plus this tracker's jitter, drawn once
//! from ±`ha_tracker_update_timeout_jitter_max`) is accepted without touching the
//! store, and a push of another replica is refused then. Any other push is a
//! compare-and-swap on the store: another replica elected and heard from within the
//! tenant's failover timeout refuses it; otherwise it is elected (or refreshed) with
//! `received_at` = now. So the store is written at most about once per update timeout
//! per cluster, and an elected replica that keeps pushing is never failed over
//! (the failover timeout is longer than the update timeout plus jitter).
//!
//! The cache is correct without being refreshed: a cached entry is only trusted while
//! it is younger than the update window, and no other distributor can fail over before
//! the longer failover timeout. Refreshing it ([`HaTracker::sync`]) saves
//! compare-and-swaps and lets `ha_max_clusters` count the clusters other distributors
//! elected. [`HaTracker::cleanup`] marks entries not written for [`DELETION_TIMEOUT`]
//! as deleted and removes those marked that long ago, as Cortex does every
//! [`CLEANUP_INTERVAL`].

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration as StdDuration;

use super::HaError;
use super::store::{MemoryReplicaStore, ReplicaDesc, ReplicaStore};
use crate::limits::Duration;

/// How often Cortex runs the cleanup of old entries (with ±20% jitter).
pub const CLEANUP_INTERVAL: StdDuration = StdDuration::from_secs(30 * 60);

/// Entries not written for this long are marked deleted, and entries marked this long
/// ago are removed (Cortex's `deletionTimeout`).
pub const DELETION_TIMEOUT: StdDuration = StdDuration::from_secs(30 * 60);

/// The tracker's settings from Cortex's `distributor.ha_tracker` block (the failover
/// timeout is the per-tenant limit `ha_tracker_failover_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HaTrackerConfig {
    /// `ha_tracker_update_timeout`: the elected replica's `received_at` is written to
    /// the store only when it is at least this old (default 15s).
    pub update_timeout: Duration,
    /// `ha_tracker_update_timeout_jitter_max`: the most jitter added to or taken from
    /// the update timeout, so distributors do not write at once (default 5s).
    pub update_timeout_jitter_max: Duration,
}

impl Default for HaTrackerConfig {
    fn default() -> Self {
        HaTrackerConfig {
            update_timeout: Duration::from_secs(15),
            update_timeout_jitter_max: Duration::from_secs(5),
        }
    }
}

impl HaTrackerConfig {
    /// Checks a failover timeout against these settings as Cortex does: it must be at
    /// least `update_timeout + update_timeout_jitter_max + 1s`, or a replica that keeps
    /// pushing could be failed over before its `received_at` is refreshed.
    pub fn validate(&self, failover_timeout: Duration) -> Result<(), HaError> {
        let min = Duration::from_millis(
            (self.update_timeout.as_millis() as u64)
                .saturating_add(self.update_timeout_jitter_max.as_millis() as u64)
                .saturating_add(1000),
        );
        if failover_timeout < min {
            return Err(HaError::InvalidFailoverTimeout {
                failover_timeout,
                min,
            });
        }
        Ok(())
    }
}

/// What a tenant's HA settings are for one check.
#[derive(Debug, Clone, Copy)]
pub struct HaLimits {
    /// How long the elected replica may be silent before another is elected (ms).
    pub failover_timeout_ms: i64,
    /// Most clusters a tenant may have; 0 for no limit.
    pub max_clusters: usize,
}

/// What one [`HaTracker::cleanup`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanupStats {
    /// Entries marked for deletion.
    pub marked: usize,
    /// Entries removed from the store.
    pub deleted: usize,
    /// Entries whose marking or removal failed (tried again next time).
    pub failed: usize,
}

/// Per tenant, per cluster, the cached entry.
type Cache = HashMap<String, HashMap<String, ReplicaDesc>>;

struct Inner {
    store: Arc<dyn ReplicaStore>,
    /// `update_timeout` plus this tracker's jitter, in ms (never negative).
    update_window_ms: i64,
    cache: Mutex<Cache>,
}

/// The HA tracker. Clones share the same cache and store, so the server can keep one
/// for [`HaTracker::sync`] and [`HaTracker::cleanup`] and give another to the
/// distributor.
#[derive(Clone)]
pub struct HaTracker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HaTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HaTracker")
            .field("update_window_ms", &self.inner.update_window_ms)
            .field("cached_tenants", &self.lock().len())
            .finish_non_exhaustive()
    }
}

impl Default for HaTracker {
    fn default() -> Self {
        HaTracker::new()
    }
}

impl HaTracker {
    /// A tracker of this process alone: a [`MemoryReplicaStore`] and the default
    /// settings.
    pub fn new() -> HaTracker {
        HaTracker::with_store(
            Arc::new(MemoryReplicaStore::new()),
            &HaTrackerConfig::default(),
        )
    }

    /// A tracker over a shared `store`, with an empty cache (call [`HaTracker::sync`]
    /// to fill it). The update jitter is drawn once here, uniformly from
    /// [-`update_timeout_jitter_max`, +`update_timeout_jitter_max`).
    pub fn with_store(store: Arc<dyn ReplicaStore>, config: &HaTrackerConfig) -> HaTracker {
        let max = config.update_timeout_jitter_max.as_millis();
        let jitter = if max > 0 {
            let r = RandomState::new().hash_one(std::time::Instant::now());
            (r % (2 * max as u64)) as i64 - max
        } else {
            0
        };
        HaTracker {
            inner: Arc::new(Inner {
                store,
                update_window_ms: config
                    .update_timeout
                    .as_millis()
                    .saturating_add(jitter)
                    .max(0),
                cache: Mutex::new(Cache::new()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Cache> {
        self.inner.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cache_put(&self, tenant: &str, cluster: &str, desc: ReplicaDesc) {
        let mut cache = self.lock();
        if desc.is_deleted() {
            if let Some(clusters) = cache.get_mut(tenant) {
                clusters.remove(cluster);
                if clusters.is_empty() {
                    cache.remove(tenant);
                }
            }
            return;
        }
        cache
            .entry(tenant.to_string())
            .or_default()
            .insert(cluster.to_string(), desc);
    }

    /// Checks a push of `replica` in `cluster` at `now_ms`: accepted from the elected
    /// replica, from a new cluster (electing it), or from another replica once the
    /// elected one was not heard from for the failover timeout (electing it). Returns
    /// true when the election changed. Refusals are [`HaError::ReplicasNotMatch`] and
    /// [`HaError::TooManyClusters`]; a failing store is [`HaError::Store`].
    pub fn check(
        &self,
        tenant: &str,
        cluster: &str,
        replica: &str,
        now_ms: i64,
        limits: HaLimits,
    ) -> Result<bool, HaError> {
        // A per-tenant failover timeout shorter than the update window would fail
        // over replicas that keep pushing; refresh more often for such tenants.
        let window = if self.inner.update_window_ms < limits.failover_timeout_ms {
            self.inner.update_window_ms
        } else {
            limits.failover_timeout_ms / 2
        };
        {
            let cache = self.lock();
            let clusters = cache.get(tenant);
            let cached = clusters.and_then(|c| c.get(cluster));
            match cached {
                Some(e) if now_ms.saturating_sub(e.received_at) < window => {
                    if e.replica != replica {
                        return Err(HaError::ReplicasNotMatch {
                            replica: replica.to_string(),
                            elected: e.replica.clone(),
                        });
                    }
                    return Ok(false);
                }
                Some(_) => {}
                None => {
                    let known = clusters.map_or(0, HashMap::len);
                    if limits.max_clusters > 0 && known >= limits.max_clusters {
                        return Err(HaError::TooManyClusters {
                            limit: limits.max_clusters,
                        });
                    }
                }
            }
        }
        let mut outcome: Option<(ReplicaDesc, bool)> = None;
        let result = self.inner.store.cas(tenant, cluster, &mut |current| {
            outcome = None;
            if let Some(cur) = current.filter(|d| !d.is_deleted()) {
                let age = now_ms.saturating_sub(cur.received_at);
                if cur.replica == replica && age < window {
                    outcome = Some((cur.clone(), false));
                    return Ok(None);
                }
                if cur.replica != replica && age < limits.failover_timeout_ms {
                    outcome = Some((cur.clone(), false));
                    return Err(HaError::ReplicasNotMatch {
                        replica: replica.to_string(),
                        elected: cur.replica.clone(),
                    });
                }
            }
            let changed = current.is_none_or(|d| d.is_deleted() || d.replica != replica);
            let new = ReplicaDesc {
                replica: replica.to_string(),
                received_at: now_ms,
                deleted_at: 0,
            };
            outcome = Some((new.clone(), changed));
            Ok(Some(new))
        });
        match (&result, outcome) {
            (Ok(()) | Err(HaError::ReplicasNotMatch { .. }), Some((desc, changed))) => {
                self.cache_put(tenant, cluster, desc);
                result.map(|()| changed)
            }
            _ => result.map(|()| false),
        }
    }

    /// The elected replica of a tenant's cluster as this tracker's cache knows it.
    pub fn elected(&self, tenant: &str, cluster: &str) -> Option<String> {
        self.lock()
            .get(tenant)
            .and_then(|c| c.get(cluster))
            .map(|e| e.replica.clone())
    }

    /// How many clusters of `tenant` the cache knows (what `ha_max_clusters` counts).
    pub fn clusters(&self, tenant: &str) -> usize {
        self.lock().get(tenant).map_or(0, HashMap::len)
    }

    /// Refreshes the cache from the store: learns what other distributors elected and
    /// forgets entries deleted or marked for deletion. Entries this tracker wrote while
    /// the store was being read are kept. Returns how many entries are cached.
    pub fn sync(&self) -> Result<usize, HaError> {
        let before = self.lock().clone();
        let listed = self.inner.store.list()?;
        let mut cache = self.lock();
        let mut seen: HashMap<&str, Vec<&str>> = HashMap::new();
        for s in &listed {
            seen.entry(&s.tenant).or_default().push(&s.cluster);
            let cached = cache.get(&s.tenant).and_then(|c| c.get(&s.cluster));
            if cached.is_some_and(|c| c.received_at > s.desc.received_at) {
                continue;
            }
            if s.desc.is_deleted() {
                if let Some(clusters) = cache.get_mut(&s.tenant) {
                    clusters.remove(&s.cluster);
                }
            } else {
                cache
                    .entry(s.tenant.clone())
                    .or_default()
                    .insert(s.cluster.clone(), s.desc.clone());
            }
        }
        // Entries gone from the store, unless written here since the listing began.
        for (tenant, clusters) in cache.iter_mut() {
            let listed_here = seen.get(tenant.as_str());
            clusters.retain(|cluster, desc| {
                listed_here.is_some_and(|l| l.contains(&cluster.as_str()))
                    || before.get(tenant).and_then(|c| c.get(cluster)) != Some(desc)
            });
        }
        cache.retain(|_, clusters| !clusters.is_empty());
        Ok(cache.values().map(HashMap::len).sum())
    }

    /// Cortex's cleanup of old entries, at `now_ms`: entries marked for deletion at
    /// least [`DELETION_TIMEOUT`] ago are removed from the store, and entries whose
    /// `received_at` is older than that are marked deleted (`deleted_at` = now), so
    /// every distributor drops them from its cache on its next sync. The server calls
    /// it every [`CLEANUP_INTERVAL`] or so. Only a failing listing is an error; single
    /// entries that fail are counted and tried again next time.
    pub fn cleanup(&self, now_ms: i64) -> Result<CleanupStats, HaError> {
        let deadline = now_ms.saturating_sub(DELETION_TIMEOUT.as_millis() as i64);
        let mut stats = CleanupStats::default();
        for s in self.inner.store.list()? {
            if s.desc.is_deleted() {
                if s.desc.deleted_at > deadline {
                    continue;
                }
                match self.inner.store.delete(&s.tenant, &s.cluster) {
                    Ok(()) => stats.deleted += 1,
                    Err(_) => stats.failed += 1,
                }
                continue;
            }
            if s.desc.received_at >= deadline {
                continue;
            }
            let mut marked = None;
            let result = self.inner.store.cas(&s.tenant, &s.cluster, &mut |current| {
                marked = None;
                let Some(cur) = current.filter(|d| !d.is_deleted() && d.received_at < deadline)
                else {
                    return Ok(None);
                };
                let new = ReplicaDesc {
                    deleted_at: now_ms.max(1),
                    ..cur.clone()
                };
                marked = Some(new.clone());
                Ok(Some(new))
            });
            match (result, marked) {
                (Ok(()), Some(desc)) => {
                    stats.marked += 1;
                    self.cache_put(&s.tenant, &s.cluster, desc);
                }
                (Ok(()), None) => {}
                (Err(_), _) => stats.failed += 1,
            }
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::super::store::{ReplicaCasFn, StoredReplica};
    use super::*;

    const LIMITS: HaLimits = HaLimits {
        failover_timeout_ms: 30_000,
        max_clusters: 2,
    };

    #[test]
    fn the_first_replica_is_elected_and_others_are_refused_until_failover() {
        let t = HaTracker::new();
        assert_eq!(t.check("u", "c1", "r1", 1_000, LIMITS), Ok(true));
        assert_eq!(t.check("u", "c1", "r1", 2_000, LIMITS), Ok(false));
        assert_eq!(
            t.check("u", "c1", "r2", 3_000, LIMITS),
            Err(HaError::ReplicasNotMatch {
                replica: "r2".into(),
                elected: "r1".into()
            })
        );
        assert_eq!(
            t.check("u", "c1", "r2", 3_000, LIMITS)
                .unwrap_err()
                .to_string(),
            "replicas did not mach, rejecting sample: replica=r2, elected=r1"
        );
        // r1 keeps pushing: no failover however long r2 waits.
        assert_eq!(t.check("u", "c1", "r1", 31_000, LIMITS), Ok(false));
        assert!(t.check("u", "c1", "r2", 60_000, LIMITS).is_err());
        // r1 silent for the failover timeout: r2 takes over, and r1 is refused.
        assert_eq!(t.check("u", "c1", "r2", 61_000, LIMITS), Ok(true));
        assert_eq!(t.elected("u", "c1").as_deref(), Some("r2"));
        assert!(t.check("u", "c1", "r1", 62_000, LIMITS).is_err());
        // Other tenants and clusters are independent.
        assert_eq!(t.check("v", "c1", "r1", 62_000, LIMITS), Ok(true));
    }

    #[test]
    fn a_tenant_is_limited_in_clusters() {
        let t = HaTracker::new();
        assert!(t.check("u", "c1", "r", 0, LIMITS).is_ok());
        assert!(t.check("u", "c2", "r", 0, LIMITS).is_ok());
        assert_eq!(
            t.check("u", "c3", "r", 0, LIMITS),
            Err(HaError::TooManyClusters { limit: 2 })
        );
        assert_eq!(
            HaError::TooManyClusters { limit: 2 }.to_string(),
            "too many HA clusters (limit: 2)"
        );
        // Known clusters still work.
        assert!(t.check("u", "c1", "r", 1, LIMITS).is_ok());
    }

    /// A memory store that counts the writes that reach it.
    #[derive(Default)]
    struct Counting {
        inner: MemoryReplicaStore,
        writes: AtomicUsize,
    }

    impl ReplicaStore for Counting {
        fn cas(
            &self,
            tenant: &str,
            cluster: &str,
            f: &mut ReplicaCasFn<'_>,
        ) -> Result<(), HaError> {
            self.inner.cas(tenant, cluster, &mut |cur| {
                let new = f(cur)?;
                if new.is_some() {
                    self.writes.fetch_add(1, Ordering::SeqCst);
                }
                Ok(new)
            })
        }
        fn list(&self) -> Result<Vec<StoredReplica>, HaError> {
            self.inner.list()
        }
        fn delete(&self, tenant: &str, cluster: &str) -> Result<(), HaError> {
            self.inner.delete(tenant, cluster)
        }
    }

    const NO_JITTER: HaTrackerConfig = HaTrackerConfig {
        update_timeout: Duration::from_secs(15),
        update_timeout_jitter_max: Duration::from_millis(0),
    };

    #[test]
    fn the_store_is_written_once_per_update_timeout() {
        let store = Arc::new(Counting::default());
        let t = HaTracker::with_store(store.clone(), &NO_JITTER);
        assert_eq!(t.check("u", "c", "r1", 0, LIMITS), Ok(true));
        for now in (1_000..15_000).step_by(1_000) {
            assert_eq!(t.check("u", "c", "r1", now, LIMITS), Ok(false));
        }
        assert_eq!(store.writes.load(Ordering::SeqCst), 1);
        // 15s after the stored received_at the push is written again.
        assert_eq!(t.check("u", "c", "r1", 15_000, LIMITS), Ok(false));
        assert_eq!(store.writes.load(Ordering::SeqCst), 2);
        assert_eq!(store.list().unwrap()[0].desc.received_at, 15_000);
        // Refusals from the cache do not write either.
        assert!(t.check("u", "c", "r2", 16_000, LIMITS).is_err());
        assert_eq!(store.writes.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_tenant_failover_timeout_below_the_update_window_still_refreshes_in_time() {
        let store = Arc::new(Counting::default());
        let t = HaTracker::with_store(store.clone(), &NO_JITTER);
        let short = HaLimits {
            failover_timeout_ms: 4_000,
            max_clusters: 0,
        };
        assert_eq!(t.check("u", "c", "r1", 0, short), Ok(true));
        assert_eq!(t.check("u", "c", "r1", 2_000, short), Ok(false));
        assert_eq!(store.list().unwrap()[0].desc.received_at, 2_000);
        // r1 was heard from 3s ago, within the 4s failover timeout.
        assert!(t.check("u", "c", "r2", 5_000, short).is_err());
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let cfg = HaTrackerConfig::default();
        for _ in 0..50 {
            let w = HaTracker::with_store(Arc::new(MemoryReplicaStore::new()), &cfg)
                .inner
                .update_window_ms;
            assert!((10_000..20_000).contains(&w), "window {w}");
        }
    }

    #[test]
    fn failover_timeout_must_exceed_update_timeout_and_jitter_by_a_second() {
        let cfg = HaTrackerConfig::default();
        assert_eq!(cfg.validate(Duration::from_secs(21)), Ok(()));
        assert_eq!(cfg.validate(Duration::from_secs(30)), Ok(()));
        let err = cfg.validate(Duration::from_millis(20_999)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "HA Tracker failover timeout (20s999ms) must be at least 1s greater than update timeout - max jitter (21s)"
        );
    }

    #[test]
    fn sync_learns_other_writers_and_forgets_deleted_entries() {
        let store = Arc::new(MemoryReplicaStore::new());
        let a = HaTracker::with_store(store.clone(), &NO_JITTER);
        let b = HaTracker::with_store(store.clone(), &NO_JITTER);
        assert_eq!(a.check("u", "c1", "r1", 0, LIMITS), Ok(true));
        assert_eq!(a.check("u", "c2", "r1", 0, LIMITS), Ok(true));
        assert_eq!(b.clusters("u"), 0);
        assert_eq!(b.sync(), Ok(2));
        assert_eq!(b.elected("u", "c1").as_deref(), Some("r1"));
        assert_eq!(
            b.check("u", "c3", "r1", 1, LIMITS),
            Err(HaError::TooManyClusters { limit: 2 })
        );
        store.delete("u", "c2").unwrap();
        assert_eq!(b.sync(), Ok(1));
        assert_eq!(b.elected("u", "c2"), None);
        assert_eq!(b.check("u", "c3", "r1", 1, LIMITS), Ok(true));
    }

    #[test]
    fn cleanup_marks_old_entries_then_deletes_them() {
        let store = Arc::new(MemoryReplicaStore::new());
        let t = HaTracker::with_store(store.clone(), &NO_JITTER);
        let timeout = DELETION_TIMEOUT.as_millis() as i64;
        assert_eq!(t.check("u", "old", "r1", 1_000, LIMITS), Ok(true));
        assert_eq!(t.check("u", "new", "r1", 5_000, LIMITS), Ok(true));
        let now = 2_000 + timeout;
        assert_eq!(
            t.cleanup(now),
            Ok(CleanupStats {
                marked: 1,
                deleted: 0,
                failed: 0
            })
        );
        assert_eq!(t.elected("u", "old"), None);
        assert_eq!(t.elected("u", "new").as_deref(), Some("r1"));
        let old = |s: &MemoryReplicaStore| {
            s.list()
                .unwrap()
                .into_iter()
                .find(|s| s.cluster == "old")
                .map(|s| s.desc)
        };
        assert_eq!(old(&store).map(|d| d.deleted_at), Some(now));
        // Marked too recently to be removed.
        assert_eq!(t.cleanup(now + 1).map(|s| s.deleted), Ok(0));
        assert_eq!(t.cleanup(now + timeout).map(|s| s.deleted), Ok(1));
        assert_eq!(old(&store), None);
        // A marked entry is a free cluster: any replica is elected.
        assert_eq!(t.check("u", "new", "r2", now + timeout, LIMITS), Ok(true));
    }
}
