//! Replication sets: the instances an operation on one key (or on the whole ring) goes
//! to, and how many of them may fail before the operation fails — quorum is RF/2+1.
//!
//! [`filter_healthy`] is Cortex's default replication strategy: drop unhealthy
//! instances, then require a quorum of the (possibly extended) set.
//! [`filter_ignore_unhealthy`] is its "ignore unhealthy instances" strategy, used by
//! the store-gateway ring: keep the healthy ones, any one of which will do. Choosing
//! the candidate instances is the ring's job (`ring.rs`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::desc::{InstanceDesc, Operation};
use crate::ring::RingError;

/// An instance as the ring hands it out: its ID and descriptor, shared, cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingInstance {
    /// The instance ID (the key in [`crate::Desc::ingesters`]).
    pub id: String,
    /// The instance as registered.
    pub desc: InstanceDesc,
}

/// The instances to send an operation to and the failures it tolerates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicationSet {
    /// The healthy instances, in ring order for a key.
    pub instances: Vec<Arc<RingInstance>>,
    /// How many instances may fail; exclusive with `max_unavailable_zones`.
    pub max_errors: usize,
    /// How many zones may fail (zone-aware whole-ring sets); exclusive with `max_errors`.
    pub max_unavailable_zones: usize,
}

impl ReplicationSet {
    /// How many instances must succeed.
    pub fn quorum(&self) -> usize {
        self.instances.len().saturating_sub(self.max_errors)
    }

    /// True when an instance with address `addr` is in the set.
    pub fn includes(&self, addr: &str) -> bool {
        self.instances.iter().any(|i| i.desc.addr == addr)
    }

    /// The addresses of the instances.
    pub fn addresses(&self) -> Vec<&str> {
        self.instances
            .iter()
            .map(|i| i.desc.addr.as_str())
            .collect()
    }

    /// How many distinct zones the instances are in.
    pub fn zone_count(&self) -> usize {
        let mut zones: Vec<&str> = self
            .instances
            .iter()
            .map(|i| i.desc.zone.as_str())
            .collect();
        zones.sort_unstable();
        zones.dedup();
        zones.len()
    }
}

/// Removes from `instances` those unhealthy for `op`; returns their addresses.
fn retain_healthy(
    instances: &mut Vec<Arc<RingInstance>>,
    op: Operation,
    heartbeat_timeout: Duration,
    now: SystemTime,
) -> Vec<String> {
    let mut unhealthy = Vec::new();
    instances.retain(|i| {
        let ok = i.desc.is_healthy(op, heartbeat_timeout, now);
        if !ok {
            unhealthy.push(i.desc.addr.clone());
        }
        ok
    });
    unhealthy
}

/// Cortex's default replication strategy: removes from `instances` those unhealthy for
/// `op`, then requires `max(RF, len)/2 + 1` of the rest and returns how many may fail.
pub fn filter_healthy(
    instances: &mut Vec<Arc<RingInstance>>,
    op: Operation,
    replication_factor: usize,
    heartbeat_timeout: Duration,
    zone_awareness: bool,
    now: SystemTime,
) -> Result<usize, RingError> {
    let unhealthy = retain_healthy(instances, op, heartbeat_timeout, now);
    // A joining/leaving instance extends the set beyond RF; the quorum follows it.
    let rf = replication_factor.max(instances.len());
    let min_success = rf / 2 + 1;
    if instances.len() < min_success {
        return Err(RingError::TooFewLiveReplicas {
            required: min_success,
            found: instances.len(),
            zone_aware: zone_awareness,
            unhealthy,
        });
    }
    Ok(instances.len() - min_success)
}

/// How a key's candidate instances become its replication set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplicationStrategy {
    /// [`filter_healthy`]: a quorum of the healthy instances is required.
    #[default]
    Quorum,
    /// [`filter_ignore_unhealthy`]: every healthy instance holds the data alone.
    IgnoreUnhealthy,
}

/// Cortex's "ignore unhealthy instances" strategy: removes from `instances` those
/// unhealthy for `op` and requires one healthy instance; all but one may fail.
pub fn filter_ignore_unhealthy(
    instances: &mut Vec<Arc<RingInstance>>,
    op: Operation,
    heartbeat_timeout: Duration,
    now: SystemTime,
) -> Result<usize, RingError> {
    let unhealthy = retain_healthy(instances, op, heartbeat_timeout, now);
    if instances.is_empty() {
        return Err(RingError::NoHealthyReplica { unhealthy });
    }
    Ok(instances.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desc::unix_seconds;

    fn set(live: usize, dead: usize) -> Vec<Arc<RingInstance>> {
        let now = unix_seconds(SystemTime::now());
        let mut v = Vec::new();
        for i in 0..live {
            let desc = InstanceDesc {
                addr: format!("live{}", i + 1),
                timestamp: now,
                ..Default::default()
            };
            v.push(Arc::new(RingInstance {
                id: desc.addr.clone(),
                desc,
            }));
        }
        for i in 0..dead {
            let desc = InstanceDesc {
                addr: format!("dead{}", i + 1),
                ..Default::default()
            };
            v.push(Arc::new(RingInstance {
                id: desc.addr.clone(),
                desc,
            }));
        }
        v
    }

    /// Cortex's `TestRingReplicationStrategy` table.
    #[test]
    fn quorum_and_max_errors_match_cortex() {
        let cases: [(usize, usize, usize, Result<usize, &str>); 9] = [
            (1, 1, 0, Ok(0)),
            (
                1,
                0,
                1,
                Err(
                    "at least 1 live replicas required, could only find 0 - unhealthy instances: dead1",
                ),
            ),
            (3, 2, 0, Ok(0)),
            (3, 3, 0, Ok(1)),
            (3, 2, 1, Ok(0)),
            (
                3,
                1,
                2,
                Err(
                    "at least 2 live replicas required, could only find 1 - unhealthy instances: dead1,dead2",
                ),
            ),
            (3, 4, 0, Ok(1)),
            (3, 3, 1, Ok(1)),
            (3, 2, 2, Ok(0)),
        ];
        for (rf, live, dead, want) in cases {
            let mut instances = set(live, dead);
            let got = filter_healthy(
                &mut instances,
                Operation::READ,
                rf,
                Duration::from_secs(100),
                false,
                SystemTime::now(),
            );
            match want {
                Ok(max_errors) => {
                    assert_eq!(
                        got.ok(),
                        Some(max_errors),
                        "rf={rf} live={live} dead={dead}"
                    );
                    assert_eq!(instances.len(), live);
                }
                Err(msg) => assert_eq!(
                    got.unwrap_err().to_string(),
                    msg,
                    "rf={rf} live={live} dead={dead}"
                ),
            }
        }
    }

    #[test]
    fn ignoring_unhealthy_instances_needs_one_healthy_replica() {
        let mut instances = set(1, 2);
        let got = filter_ignore_unhealthy(
            &mut instances,
            Operation::READ,
            Duration::from_secs(100),
            SystemTime::now(),
        );
        assert_eq!(got, Ok(0));
        assert_eq!(instances.len(), 1);
        let mut instances = set(3, 0);
        let got = filter_ignore_unhealthy(
            &mut instances,
            Operation::READ,
            Duration::from_secs(100),
            SystemTime::now(),
        );
        assert_eq!(got, Ok(2));
        let mut instances = set(0, 2);
        let err = filter_ignore_unhealthy(
            &mut instances,
            Operation::READ,
            Duration::from_secs(100),
            SystemTime::now(),
        );
        assert_eq!(
            err.unwrap_err().to_string(),
            "at least 1 healthy replica required, could only find 0 - unhealthy instances: dead1,dead2"
        );
    }

    #[test]
    fn zone_aware_message_names_availability_zones() {
        let mut instances = set(0, 3);
        let err = filter_healthy(
            &mut instances,
            Operation::WRITE,
            3,
            Duration::from_secs(60),
            true,
            SystemTime::now(),
        );
        assert_eq!(
            err.unwrap_err().to_string(),
            "at least 2 live replicas required across different availability zones, could only find 0 - unhealthy instances: dead1,dead2,dead3"
        );
    }

    #[test]
    fn set_helpers_report_addresses_zones_and_quorum() {
        let rs = ReplicationSet {
            instances: set(3, 0),
            max_errors: 1,
            max_unavailable_zones: 0,
        };
        assert_eq!(rs.quorum(), 2);
        assert!(rs.includes("live2"));
        assert!(!rs.includes("dead1"));
        assert_eq!(rs.addresses(), vec!["live1", "live2", "live3"]);
        assert_eq!(rs.zone_count(), 1);
    }
}
