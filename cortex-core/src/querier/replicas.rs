//! What a read of recent data needs from the ring and from the ingester clients, as
//! traits this crate owns (the ring itself lives in `cortex-ring`, which implements
//! [`IngesterRing`]): the read replication set of a tenant — the ingesters to ask and
//! how many of them (or of their zones) may fail — a factory of [`IngesterApi`]
//! clients, and the quorum rule that decides whether the answers that came back are
//! complete.
//!
//! The rule is Cortex's for reads over the whole ring (or a tenant's shuffle shard):
//! every series has a replica on all but `max_errors` of the instances, or, when the
//! set is zone-aware (`max_unavailable_zones > 0`), in every zone but that many. Fanning
//! out and merging the answers is [`super::ingesters`]' job.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use crate::ingester::api::{IngesterApi, IngesterApiError};

use super::QuerierError;

/// One ingester of a read replication set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaInstance {
    /// The instance ID in the ring.
    pub id: String,
    /// The address its clients connect to.
    pub addr: String,
    /// Its availability zone ("" when zone awareness is off).
    pub zone: String,
}

/// The ingesters a read must ask and the failures it tolerates (the ring's
/// `ReplicationSet` for the READ operation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaSet {
    /// The healthy instances, in ring (instance ID) order.
    pub instances: Vec<ReplicaInstance>,
    /// How many instances may fail; used when `max_unavailable_zones` is 0.
    pub max_errors: usize,
    /// How many zones may have failing instances (zone-aware sets).
    pub max_unavailable_zones: usize,
}

impl ReplicaSet {
    /// True when an answer from every instance except those at `failed` (indexes into
    /// `instances`) holds every series: at most `max_errors` failures, or failures in at
    /// most `max_unavailable_zones` distinct zones.
    pub fn tolerates(&self, failed: &[usize]) -> bool {
        if self.max_unavailable_zones > 0 {
            let mut zones: Vec<&str> = failed
                .iter()
                .filter_map(|&i| self.instances.get(i))
                .map(|i| i.zone.as_str())
                .collect();
            zones.sort_unstable();
            zones.dedup();
            zones.len() <= self.max_unavailable_zones
        } else {
            failed.len() <= self.max_errors
        }
    }
}

/// The ring as a read of recent data sees it.
pub trait IngesterRing: Send + Sync {
    /// The ingesters holding `tenant`'s recent data: every healthy instance of the
    /// ring, or of the tenant's shuffle shard of `shard_size` instances when
    /// `shard_size > 0`. Fails with [`QuerierError::Ring`] when the ring cannot answer a
    /// read at all (empty, too many unhealthy instances).
    fn read_replicas(&self, tenant: &str, shard_size: usize) -> Result<ReplicaSet, QuerierError>;
}

/// Hands out the client of an ingester (a pool of gRPC connections, or the local
/// ingester in tests and the single binary).
pub trait IngesterClients: Send + Sync {
    /// The client for `instance`; an error when no connection can be made, which
    /// counts as that instance failing.
    fn client(&self, instance: &ReplicaInstance) -> Result<Arc<dyn IngesterApi>, IngesterApiError>;
}

impl<F> IngesterClients for F
where
    F: Fn(&ReplicaInstance) -> Result<Arc<dyn IngesterApi>, IngesterApiError> + Send + Sync,
{
    fn client(&self, instance: &ReplicaInstance) -> Result<Arc<dyn IngesterApi>, IngesterApiError> {
        self(instance)
    }
}

/// An ingester that failed a read, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedIngester {
    /// Its address.
    pub addr: String,
    /// What it answered.
    pub error: IngesterApiError,
}

impl std::fmt::Display for FailedIngester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.addr, self.error)
    }
}

/// One call's future per instance.
pub(crate) type CallFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, IngesterApiError>> + Send + 'a>>;

/// Runs `call` against every instance of `set` concurrently and waits for all of them
/// (not just a quorum, so every replica that answers contributes). Returns each
/// successful answer with its instance's index, in set order, when the failures are
/// within what the set tolerates; otherwise the error naming the failed instances (a
/// limit error when an ingester refused the read for a per-query limit).
pub(crate) async fn call_all<'a, T: Send + 'a>(
    set: &ReplicaSet,
    clients: &dyn IngesterClients,
    mut call: impl FnMut(Arc<dyn IngesterApi>) -> CallFuture<'a, T>,
) -> Result<Vec<(usize, T)>, QuerierError> {
    let mut calls: Vec<Option<CallFuture<'a, T>>> = set
        .instances
        .iter()
        .map(|inst| {
            Some(match clients.client(inst) {
                Ok(client) => call(client),
                Err(e) => Box::pin(std::future::ready(Err(e))) as CallFuture<'a, T>,
            })
        })
        .collect();
    let mut results: Vec<Option<Result<T, IngesterApiError>>> =
        (0..calls.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, out) in calls.iter_mut().zip(results.iter_mut()) {
            let Some(fut) = slot else { continue };
            match fut.as_mut().poll(cx) {
                Poll::Ready(r) => {
                    *out = Some(r);
                    *slot = None;
                }
                Poll::Pending => pending = true,
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;

    let mut ok = Vec::with_capacity(results.len());
    let mut failed_idx = Vec::new();
    let mut failed = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Some(Ok(v)) => ok.push((i, v)),
            Some(Err(error)) => {
                failed_idx.push(i);
                let addr = set
                    .instances
                    .get(i)
                    .map_or_else(String::new, |inst| inst.addr.clone());
                failed.push(FailedIngester { addr, error });
            }
            None => {}
        }
    }
    if set.tolerates(&failed_idx) {
        return Ok(ok);
    }
    if let Some(limit) = failed.iter().find(|f| f.error.status() == 422) {
        return Err(QuerierError::Limit(limit.error.to_string()));
    }
    Err(QuerierError::Ingesters {
        queried: set.instances.len(),
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(zones: &[&str], max_errors: usize, max_unavailable_zones: usize) -> ReplicaSet {
        ReplicaSet {
            instances: zones
                .iter()
                .enumerate()
                .map(|(i, z)| ReplicaInstance {
                    id: format!("ingester-{i}"),
                    addr: format!("10.0.0.{i}:9095"),
                    zone: z.to_string(),
                })
                .collect(),
            max_errors,
            max_unavailable_zones,
        }
    }

    #[test]
    fn instance_quorum_tolerates_max_errors_failures() {
        let s = set(&["", "", ""], 1, 0);
        assert!(s.tolerates(&[]));
        assert!(s.tolerates(&[2]));
        assert!(!s.tolerates(&[0, 2]));
    }

    #[test]
    fn zone_quorum_counts_zones_not_instances() {
        let s = set(&["a", "a", "b", "b", "c", "c"], 0, 1);
        assert!(s.tolerates(&[0, 1]), "both failures in zone a");
        assert!(!s.tolerates(&[0, 2]), "failures in zones a and b");
    }

    #[test]
    fn no_tolerance_requires_every_instance() {
        let s = set(&["a", "b"], 0, 0);
        assert!(s.tolerates(&[]));
        assert!(!s.tolerates(&[1]));
    }
}
