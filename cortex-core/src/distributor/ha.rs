//! HA-pair deduplication, as Cortex's HA tracker does it: Prometheus servers scraping
//! the same targets in pairs label their series with `cluster` and `__replica__`
//! (the tenant's `ha_cluster_label` / `ha_replica_label`); per tenant and cluster one
//! replica is elected and only its samples are kept. When the elected replica has not
//! been heard from for `ha_tracker_failover_timeout`, the next replica that pushes is
//! elected. Pushes from a non-elected replica are answered 202 (accepted, dropped),
//! so the pair's senders do not retry; a tenant over `ha_max_clusters` gets a 400.
//!
//! The elected replicas live in this process' memory, which is right for the single
//! binary; distributors that must agree with each other keep them in the ring's KV
//! store (not yet wired).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::remote_write::WriteRequest;

/// Why a push is not stored as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HaError {
    /// Samples from a replica other than the elected one (HTTP 202: accepted, dropped).
    #[error("replicas did not mach, rejecting sample: replica={replica}, elected={elected}")]
    ReplicasNotMatch {
        /// The replica that pushed.
        replica: String,
        /// The elected replica.
        elected: String,
    },
    /// The tenant already has as many HA clusters as it may (HTTP 400).
    #[error("too many HA clusters (limit: {limit})")]
    TooManyClusters {
        /// The tenant's `ha_max_clusters`.
        limit: usize,
    },
}

/// The elected replica of one cluster.
#[derive(Debug, Clone)]
struct Elected {
    replica: String,
    last_seen_ms: i64,
}

/// The elected replica of every (tenant, cluster).
#[derive(Debug, Default)]
pub struct HaTracker {
    clusters: Mutex<HashMap<String, HashMap<String, Elected>>>,
}

/// What a tenant's HA settings are for one check.
#[derive(Debug, Clone, Copy)]
pub struct HaLimits {
    /// How long the elected replica may be silent before another is elected (ms).
    pub failover_timeout_ms: i64,
    /// Most clusters a tenant may have; 0 for no limit.
    pub max_clusters: usize,
}

/// The cluster and replica label values of a request, from its first series as in
/// Cortex (`None` unless both are present).
pub fn find_ha_labels<'a>(
    req: &WriteRequest<'a>,
    cluster_label: &str,
    replica_label: &str,
) -> Option<(&'a str, &'a str)> {
    let first = req.timeseries.first()?;
    let mut cluster = None;
    let mut replica = None;
    for l in &first.labels {
        if l.name == cluster_label {
            cluster = Some(l.value);
        } else if l.name == replica_label {
            replica = Some(l.value);
        }
    }
    match (cluster, replica) {
        (Some(c), Some(r)) if !c.is_empty() && !r.is_empty() => Some((c, r)),
        _ => None,
    }
}

/// Removes the replica label from every series (the stored series are the same
/// whichever replica was elected).
pub fn remove_replica_label(req: &mut WriteRequest<'_>, replica_label: &str) {
    for ts in &mut req.timeseries {
        ts.labels.retain(|l| l.name != replica_label);
    }
}

impl HaTracker {
    /// An empty tracker.
    pub fn new() -> HaTracker {
        HaTracker::default()
    }

    /// Checks a push of `replica` in `cluster` at `now_ms`: accepted from the elected
    /// replica (refreshing its last-seen time), from a new cluster (electing it), or
    /// from another replica once the elected one was silent for the failover timeout
    /// (electing it; returns true in the second field when the election changed).
    pub fn check(
        &self,
        tenant: &str,
        cluster: &str,
        replica: &str,
        now_ms: i64,
        limits: HaLimits,
    ) -> Result<bool, HaError> {
        let mut clusters = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        let tenant_clusters = clusters.entry(tenant.to_string()).or_default();
        if let Some(e) = tenant_clusters.get_mut(cluster) {
            if e.replica == replica {
                e.last_seen_ms = e.last_seen_ms.max(now_ms);
                return Ok(false);
            }
            if now_ms - e.last_seen_ms >= limits.failover_timeout_ms {
                e.replica = replica.to_string();
                e.last_seen_ms = now_ms;
                return Ok(true);
            }
            return Err(HaError::ReplicasNotMatch {
                replica: replica.to_string(),
                elected: e.replica.clone(),
            });
        }
        if limits.max_clusters > 0 && tenant_clusters.len() >= limits.max_clusters {
            return Err(HaError::TooManyClusters {
                limit: limits.max_clusters,
            });
        }
        tenant_clusters.insert(
            cluster.to_string(),
            Elected {
                replica: replica.to_string(),
                last_seen_ms: now_ms,
            },
        );
        Ok(true)
    }

    /// The elected replica of a tenant's cluster, if any.
    pub fn elected(&self, tenant: &str, cluster: &str) -> Option<String> {
        self.clusters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
            .and_then(|c| c.get(cluster))
            .map(|e| e.replica.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_write::{Label, TimeSeries};

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

    #[test]
    fn labels_come_from_the_first_series_and_the_replica_label_is_removed() {
        let series = |labels: Vec<Label<'static>>| TimeSeries {
            labels,
            ..Default::default()
        };
        let l = |name: &'static str, value: &'static str| Label { name, value };
        let mut req = WriteRequest {
            timeseries: vec![
                series(vec![
                    l("__name__", "up"),
                    l("__replica__", "r1"),
                    l("cluster", "c"),
                ]),
                series(vec![l("__name__", "x"), l("__replica__", "r1")]),
            ],
            ..Default::default()
        };
        assert_eq!(
            find_ha_labels(&req, "cluster", "__replica__"),
            Some(("c", "r1"))
        );
        remove_replica_label(&mut req, "__replica__");
        assert!(
            req.timeseries
                .iter()
                .all(|s| s.labels.iter().all(|l| l.name != "__replica__"))
        );
        assert_eq!(find_ha_labels(&req, "cluster", "__replica__"), None);
    }
}
