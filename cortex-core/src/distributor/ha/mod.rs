//! HA-pair deduplication, as Cortex's HA tracker does it: Prometheus servers scraping
//! the same targets in pairs label their series with `cluster` and `__replica__`
//! (the tenant's `ha_cluster_label` / `ha_replica_label`); per tenant and cluster one
//! replica is elected and only its samples are kept. When the elected replica has not
//! been heard from for `ha_tracker_failover_timeout`, the next replica that pushes is
//! elected. Pushes from a non-elected replica are answered 202 (accepted, dropped),
//! so the pair's senders do not retry; a tenant over `ha_max_clusters` gets a 400.
//!
//! This module holds the labels a request is judged by and the errors; the election
//! is in `tracker.rs`, the state it is kept in behind the [`ReplicaStore`] trait in
//! `store.rs` (in memory for the single binary; cortex-ring keeps it in the KV store so
//! that several distributors agree).

mod store;
mod tracker;

pub use store::{MemoryReplicaStore, ReplicaCasFn, ReplicaDesc, ReplicaStore, StoredReplica};
pub use tracker::{
    CLEANUP_INTERVAL, CleanupStats, DELETION_TIMEOUT, HaLimits, HaTracker, HaTrackerConfig,
};

use crate::limits::Duration;
use crate::remote_write::WriteRequest;

/// Why a push is not stored as it is, or the tracker cannot work.
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
    /// The failover timeout is too short for the update timeout and its jitter
    /// (Cortex's configuration check).
    #[error(
        "HA Tracker failover timeout ({failover_timeout}) must be at least 1s greater than update timeout - max jitter ({min})"
    )]
    InvalidFailoverTimeout {
        /// The configured `ha_tracker_failover_timeout`.
        failover_timeout: Duration,
        /// `ha_tracker_update_timeout + ha_tracker_update_timeout_jitter_max + 1s`.
        min: Duration,
    },
    /// The store of elected replicas failed (HTTP 500, so the sender retries).
    #[error("HA tracker store: {0}")]
    Store(String),
}

impl HaError {
    /// The HTTP status a push refused with this error answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            HaError::ReplicasNotMatch { .. } => 202,
            HaError::TooManyClusters { .. } => 400,
            HaError::InvalidFailoverTimeout { .. } | HaError::Store(_) => 500,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_write::{Label, TimeSeries};

    #[test]
    fn labels_come_from_the_first_series_and_the_replica_label_is_removed() {
        let series = |labels: Vec<Label<'static>>| TimeSeries {
            labels: labels.into(),
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
