//! Where the elected replicas live: the [`ReplicaStore`] trait the tracker reads and
//! writes through, the [`ReplicaDesc`] it keeps per tenant and cluster (Cortex's
//! `ReplicaDesc`), and [`MemoryReplicaStore`], the store of a single process.
//!
//! The trait is synchronous (the distributor checks pushes on blocking threads) and
//! small: a compare-and-swap on one entry, a listing of every entry and a delete. The
//! KV-backed store that lets several distributors share the election is in
//! cortex-ring; this module does not know about encodings or networks.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::HaError;

/// The elected replica of one (tenant, cluster), as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaDesc {
    /// The elected replica (the value of the tenant's `ha_replica_label`).
    pub replica: String,
    /// When a push of the elected replica was last written to the store, in
    /// milliseconds since the epoch.
    pub received_at: i64,
    /// When the entry was marked for deletion (ms since the epoch); 0 while it is live.
    pub deleted_at: i64,
}

impl ReplicaDesc {
    /// True once the cleanup marked the entry for deletion.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at > 0
    }
}

/// One entry of a store's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReplica {
    /// The tenant.
    pub tenant: String,
    /// The cluster (the value of the tenant's `ha_cluster_label`).
    pub cluster: String,
    /// What is stored for them.
    pub desc: ReplicaDesc,
}

/// A compare-and-swap callback: gets the current entry (`None` when absent) and
/// returns the entry to store, or `None` to leave it as it is. An error gives up and
/// is returned by [`ReplicaStore::cas`].
pub type ReplicaCasFn<'a> =
    dyn FnMut(Option<&ReplicaDesc>) -> Result<Option<ReplicaDesc>, HaError> + 'a;

/// The shared election state of the HA tracker.
pub trait ReplicaStore: Send + Sync {
    /// Reads the entry of (`tenant`, `cluster`), calls `f` with it and stores what `f`
    /// returns, atomically: when another writer got in between, `f` runs again on the
    /// new entry. Errors of `f` are returned as they are; failures of the store are
    /// [`HaError::Store`].
    fn cas(&self, tenant: &str, cluster: &str, f: &mut ReplicaCasFn<'_>) -> Result<(), HaError>;

    /// Every entry, those marked for deletion included, in no particular order.
    fn list(&self) -> Result<Vec<StoredReplica>, HaError>;

    /// Removes the entry of (`tenant`, `cluster`); removing an absent one is no error.
    fn delete(&self, tenant: &str, cluster: &str) -> Result<(), HaError>;
}

/// The elected replicas in this process' memory: right for the single binary, where
/// one distributor decides alone.
#[derive(Debug, Default)]
pub struct MemoryReplicaStore {
    entries: Mutex<BTreeMap<(String, String), ReplicaDesc>>,
}

impl MemoryReplicaStore {
    /// An empty store.
    pub fn new() -> MemoryReplicaStore {
        MemoryReplicaStore::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), ReplicaDesc>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ReplicaStore for MemoryReplicaStore {
    fn cas(&self, tenant: &str, cluster: &str, f: &mut ReplicaCasFn<'_>) -> Result<(), HaError> {
        let mut entries = self.lock();
        let key = (tenant.to_string(), cluster.to_string());
        // The callback runs under the lock, so no other writer can get in between.
        if let Some(new) = f(entries.get(&key))? {
            entries.insert(key, new);
        }
        Ok(())
    }

    fn list(&self) -> Result<Vec<StoredReplica>, HaError> {
        Ok(self
            .lock()
            .iter()
            .map(|((tenant, cluster), desc)| StoredReplica {
                tenant: tenant.clone(),
                cluster: cluster.clone(),
                desc: desc.clone(),
            })
            .collect())
    }

    fn delete(&self, tenant: &str, cluster: &str) -> Result<(), HaError> {
        self.lock()
            .remove(&(tenant.to_string(), cluster.to_string()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(replica: &str, received_at: i64) -> ReplicaDesc {
        ReplicaDesc {
            replica: replica.into(),
            received_at,
            deleted_at: 0,
        }
    }

    #[test]
    fn memory_store_cas_list_and_delete() {
        let s = MemoryReplicaStore::new();
        let mut seen = Vec::new();
        s.cas("u", "c", &mut |cur| {
            seen.push(cur.cloned());
            Ok(Some(desc("r1", 5)))
        })
        .unwrap();
        assert_eq!(seen, vec![None]);
        // None leaves the entry; an error is returned and nothing is written.
        s.cas("u", "c", &mut |_| Ok(None)).unwrap();
        let err = s
            .cas("u", "c", &mut |_| {
                Err(HaError::TooManyClusters { limit: 1 })
            })
            .unwrap_err();
        assert_eq!(err, HaError::TooManyClusters { limit: 1 });
        s.cas("u", "d", &mut |_| Ok(Some(desc("r2", 6)))).unwrap();
        let mut listed = s.list().unwrap();
        listed.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        assert_eq!(
            listed,
            vec![
                StoredReplica {
                    tenant: "u".into(),
                    cluster: "c".into(),
                    desc: desc("r1", 5)
                },
                StoredReplica {
                    tenant: "u".into(),
                    cluster: "d".into(),
                    desc: desc("r2", 6)
                },
            ]
        );
        s.delete("u", "c").unwrap();
        s.delete("u", "absent").unwrap();
        assert_eq!(s.list().unwrap().len(), 1);
    }
}
