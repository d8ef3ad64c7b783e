//! A snapshot of the ring ready for lookups: tokens sorted with their owners, zones
//! indexed, and Cortex's replica selection — walk clockwise from a key's token, take
//! distinct instances (one per zone when zone-aware) until the replication factor is
//! met, extending the walk for instances whose state asks for it, then keep the healthy
//! ones if they form a quorum.
//!
//! A [`Ring`] is immutable; the watching client (`client.rs`) builds a new one for each
//! change in the KV.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::{ConfigError, RingConfig};
use crate::desc::{Desc, Operation};
use crate::replication::{
    ReplicationSet, ReplicationStrategy, RingInstance, filter_healthy, filter_ignore_unhealthy,
};
use crate::shuffle::ShardCache;

/// Room for RF 3 plus a JOINING and a LEAVING instance (Cortex's `GetBufferSize`).
pub const GET_BUFFER_SIZE: usize = 5;

/// Why a lookup failed; the texts are Cortex's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// No instance holds any token (or no instance at all).
    #[error("empty ring")]
    EmptyRing,
    /// The instance asked about is not registered.
    #[error("instance not found in the ring")]
    InstanceNotFound,
    /// Too many instances or zones are unhealthy for a whole-ring operation.
    #[error("too many unhealthy instances in the ring")]
    TooManyUnhealthyInstances,
    /// Fewer healthy replicas than a quorum for a key.
    #[error(
        "at least {required} live replicas required{}, could only find {found}{}",
        if *zone_aware { " across different availability zones" } else { "" },
        if unhealthy.is_empty() { String::new() } else { format!(" - unhealthy instances: {}", unhealthy.join(",")) }
    )]
    TooFewLiveReplicas {
        /// The quorum.
        required: usize,
        /// Healthy replicas found.
        found: usize,
        /// Whether zone awareness is on (changes the message).
        zone_aware: bool,
        /// Addresses of the replicas skipped as unhealthy.
        unhealthy: Vec<String>,
    },
    /// No healthy instance for a key (the "ignore unhealthy instances" strategy).
    #[error(
        "at least 1 healthy replica required, could only find 0{}",
        if unhealthy.is_empty() { String::new() } else { format!(" - unhealthy instances: {}", unhealthy.join(",")) }
    )]
    NoHealthyReplica {
        /// Addresses of the replicas skipped as unhealthy.
        unhealthy: Vec<String>,
    },
    /// The ring configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Reusable scratch space for [`Ring::get`], so lookups on a hot path do not allocate
/// beyond the returned set.
#[derive(Debug, Default)]
pub struct GetBuffers {
    distinct: Vec<u32>,
    per_zone: Vec<usize>,
}

/// An immutable, indexed view of one [`Desc`].
#[derive(Debug, Clone)]
pub struct Ring {
    pub(crate) desc: Arc<Desc>,
    pub(crate) replication_factor: usize,
    pub(crate) heartbeat_timeout: Duration,
    pub(crate) zone_awareness: bool,
    /// Instances in ID order.
    pub(crate) instances: Vec<Arc<RingInstance>>,
    /// Zone index of each instance, into `zones`.
    pub(crate) instance_zone: Vec<u32>,
    /// Distinct zones of all instances, sorted.
    pub(crate) zones: Vec<String>,
    /// All tokens, sorted, and the owning instance of each.
    pub(crate) tokens: Vec<u32>,
    pub(crate) owners: Vec<u32>,
    /// Per zone (indexed like `zones`), that zone's tokens sorted and their owners;
    /// built only when zone awareness is on (shuffle sharding walks zones apart).
    pub(crate) zone_tokens: Vec<(Vec<u32>, Vec<u32>)>,
    /// Shuffle-shard subrings computed from this snapshot; a new snapshot starts empty,
    /// which is how a ring change invalidates them.
    pub(crate) shard_cache: ShardCache,
}

impl Ring {
    /// Indexes `desc` for lookups with `cfg`'s replication factor, heartbeat timeout,
    /// zone awareness and excluded zones.
    pub fn new(mut desc: Desc, cfg: &RingConfig) -> Result<Ring, RingError> {
        if cfg.replication_factor == 0 {
            return Err(ConfigError::ReplicationFactor(0).into());
        }
        if !cfg.excluded_zones.is_empty() {
            desc.ingesters
                .retain(|_, i| !cfg.excluded_zones.contains(&i.zone));
        }
        Ok(Ring::index(
            desc,
            cfg.replication_factor,
            cfg.heartbeat_timeout.to_std(),
            cfg.zone_awareness_enabled,
        ))
    }

    /// Indexes `desc` as is (no zone exclusion) with the given lookup settings.
    pub(crate) fn index(
        desc: Desc,
        replication_factor: usize,
        heartbeat_timeout: Duration,
        zone_awareness: bool,
    ) -> Ring {
        let mut zones: Vec<String> = desc.ingesters.values().map(|i| i.zone.clone()).collect();
        zones.sort_unstable();
        zones.dedup();
        let instance_zone: Vec<u32> = desc
            .ingesters
            .values()
            .map(|i| zones.binary_search(&i.zone).unwrap_or(0) as u32)
            .collect();
        let instances = desc
            .ingesters
            .iter()
            .map(|(id, d)| {
                Arc::new(RingInstance {
                    id: id.clone(),
                    desc: d.clone(),
                })
            })
            .collect();
        let pairs = desc.token_owners();
        let tokens = pairs.iter().map(|p| p.0).collect();
        let owners: Vec<u32> = pairs.iter().map(|p| p.1 as u32).collect();
        let mut zone_tokens = Vec::new();
        if zone_awareness {
            zone_tokens = vec![(Vec::new(), Vec::new()); zones.len()];
            for &(token, owner) in &pairs {
                let zone = instance_zone.get(owner).copied().unwrap_or(0) as usize;
                if let Some((t, o)) = zone_tokens.get_mut(zone) {
                    t.push(token);
                    o.push(owner as u32);
                }
            }
        }
        Ring {
            desc: Arc::new(desc),
            replication_factor,
            heartbeat_timeout,
            zone_awareness,
            instances,
            instance_zone,
            zones,
            tokens,
            owners,
            zone_tokens,
            shard_cache: ShardCache::default(),
        }
    }

    /// Whether replicas are spread across availability zones.
    pub fn zone_awareness_enabled(&self) -> bool {
        self.zone_awareness
    }

    /// The descriptor this ring was built from (without excluded zones).
    pub fn desc(&self) -> &Arc<Desc> {
        &self.desc
    }

    /// The configured replication factor.
    pub fn replication_factor(&self) -> usize {
        self.replication_factor
    }

    /// How many instances are registered.
    pub fn instances_count(&self) -> usize {
        self.instances.len()
    }

    /// The sorted distinct zones of the registered instances.
    pub fn zones(&self) -> &[String] {
        &self.zones
    }

    /// The state of instance `id`.
    pub fn instance_state(&self, id: &str) -> Result<crate::InstanceState, RingError> {
        self.desc
            .ingesters
            .get(id)
            .map(|i| i.state)
            .ok_or(RingError::InstanceNotFound)
    }

    /// The replicas for `key`: the healthy instances among the first
    /// `replication_factor` distinct ones clockwise from `key` (more when the walk met
    /// instances whose state extends `op`), with `max_errors` from the quorum.
    pub fn get(
        &self,
        key: u32,
        op: Operation,
        buf: &mut GetBuffers,
    ) -> Result<ReplicationSet, RingError> {
        self.get_with_strategy(key, op, ReplicationStrategy::Quorum, buf)
    }

    /// Like [`Ring::get`], with the candidates filtered by `strategy`: the quorum rule
    /// of [`Ring::get`], or (store-gateways) every healthy candidate, an error only
    /// when there is none.
    pub fn get_with_strategy(
        &self,
        key: u32,
        op: Operation,
        strategy: ReplicationStrategy,
        buf: &mut GetBuffers,
    ) -> Result<ReplicationSet, RingError> {
        if self.tokens.is_empty() {
            return Err(RingError::EmptyRing);
        }
        let n = self.tokens.len();
        let mut rf = self.replication_factor;
        // Zones with instances (self.zones) is non-empty whenever there are tokens.
        let max_per_zone = rf / self.zones.len().max(1);
        let mut zones_with_extra = rf % self.zones.len().max(1);
        buf.distinct.clear();
        buf.per_zone.clear();
        buf.per_zone.resize(self.zones.len(), 0);
        let mut instances = Vec::with_capacity(GET_BUFFER_SIZE);

        let start = self.tokens.partition_point(|&t| t <= key) % n;
        let mut i = start;
        for _ in 0..n {
            if buf.distinct.len() >= rf {
                break;
            }
            let owner = self.owners[i];
            i = (i + 1) % n;
            if buf.distinct.contains(&owner) {
                continue;
            }
            let inst = &self.instances[owner as usize];
            let zoned = self.zone_awareness && !inst.desc.zone.is_empty();
            let zone = self.instance_zone[owner as usize] as usize;
            if zoned {
                let limit = max_per_zone + usize::from(zones_with_extra > 0);
                if buf.per_zone[zone] >= limit {
                    continue;
                }
            }
            buf.distinct.push(owner);
            if op.extends_on(inst.desc.state) {
                rf += 1;
            } else if zoned {
                // Count the zone only when not extending: the extra instance should come
                // from the same zone.
                if buf.per_zone[zone] >= max_per_zone && buf.per_zone[zone] > 0 {
                    zones_with_extra = zones_with_extra.saturating_sub(1);
                }
                buf.per_zone[zone] += 1;
            }
            instances.push(Arc::clone(inst));
        }

        let now = SystemTime::now();
        let max_errors = match strategy {
            ReplicationStrategy::Quorum => filter_healthy(
                &mut instances,
                op,
                self.replication_factor,
                self.heartbeat_timeout,
                self.zone_awareness,
                now,
            )?,
            ReplicationStrategy::IgnoreUnhealthy => {
                filter_ignore_unhealthy(&mut instances, op, self.heartbeat_timeout, now)?
            }
        };
        Ok(ReplicationSet {
            instances,
            max_errors,
            max_unavailable_zones: 0,
        })
    }

    /// Every instance healthy for `op`, without any quorum check.
    pub fn get_all_healthy(&self, op: Operation) -> Result<ReplicationSet, RingError> {
        if self.instances.is_empty() {
            return Err(RingError::EmptyRing);
        }
        let now = SystemTime::now();
        let instances = self
            .instances
            .iter()
            .filter(|i| i.desc.is_healthy(op, self.heartbeat_timeout, now))
            .cloned()
            .collect();
        Ok(ReplicationSet {
            instances,
            max_errors: 0,
            max_unavailable_zones: 0,
        })
    }

    /// The instances a whole-ring operation (e.g. a query over all ingesters) must reach:
    /// all healthy ones, with `max_errors` (or `max_unavailable_zones` when zone-aware)
    /// set so that a quorum of every key's replicas answers.
    pub fn get_replication_set_for_operation(
        &self,
        op: Operation,
    ) -> Result<ReplicationSet, RingError> {
        if self.tokens.is_empty() {
            return Err(RingError::EmptyRing);
        }
        let now = SystemTime::now();
        let mut healthy = Vec::with_capacity(self.instances.len());
        let mut failed_zones: Vec<&str> = Vec::new();
        for inst in &self.instances {
            if inst.desc.is_healthy(op, self.heartbeat_timeout, now) {
                healthy.push(Arc::clone(inst));
            } else if !failed_zones.contains(&inst.desc.zone.as_str()) {
                failed_zones.push(&inst.desc.zone);
            }
        }
        let rf = self.replication_factor;
        if self.zone_awareness {
            // RF copies in RF zones tolerate RF/2 failing zones, fewer when the ring
            // spans fewer zones than RF.
            let replicated_zones = self.zones.len().min(rf);
            let max_unavailable = replicated_zones / 2;
            if failed_zones.len() > max_unavailable {
                return Err(RingError::TooManyUnhealthyInstances);
            }
            // A zone with one failure is useless: drop its healthy instances too.
            healthy.retain(|i| !failed_zones.contains(&i.desc.zone.as_str()));
            Ok(ReplicationSet {
                instances: healthy,
                max_errors: 0,
                max_unavailable_zones: max_unavailable - failed_zones.len(),
            })
        } else {
            let required = self.instances.len().max(rf) - rf / 2;
            if healthy.len() < required {
                return Err(RingError::TooManyUnhealthyInstances);
            }
            let max_errors = healthy.len() - required;
            Ok(ReplicationSet {
                instances: healthy,
                max_errors,
                max_unavailable_zones: 0,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desc::{InstanceDesc, InstanceState, unix_seconds};
    use InstanceState::*;

    const STALE: i64 = 3600;

    /// A ring from `(id, zone, state, token, stale)` rows, one token each.
    fn ring(rows: &[(&str, &str, InstanceState, u32, bool)], rf: usize, zones: bool) -> Ring {
        let now = unix_seconds(SystemTime::now());
        let mut desc = Desc::new();
        for &(id, zone, state, token, stale) in rows {
            desc.ingesters.insert(
                id.to_string(),
                InstanceDesc {
                    addr: format!("{id}:9095"),
                    timestamp: if stale { now - STALE } else { now },
                    state,
                    tokens: vec![token],
                    zone: zone.to_string(),
                    registered_timestamp: now,
                },
            );
        }
        let cfg = RingConfig {
            replication_factor: rf,
            zone_awareness_enabled: zones,
            ..Default::default()
        };
        Ring::new(desc, &cfg).unwrap()
    }

    fn ids(rs: &ReplicationSet) -> Vec<&str> {
        rs.instances.iter().map(|i| i.id.as_str()).collect()
    }

    fn five(states: [InstanceState; 5], stale: [bool; 5]) -> Ring {
        let names = ["a", "b", "c", "d", "e"];
        let rows: Vec<_> = (0..5)
            .map(|i| (names[i], "", states[i], 100 * (i as u32 + 1), stale[i]))
            .collect();
        ring(&rows, 3, false)
    }

    #[test]
    fn empty_ring_and_zero_rf_are_errors() {
        let r = Ring::new(Desc::new(), &RingConfig::default()).unwrap();
        assert_eq!(
            r.get(1, Operation::WRITE, &mut GetBuffers::default()),
            Err(RingError::EmptyRing)
        );
        assert_eq!(
            r.get_all_healthy(Operation::READ),
            Err(RingError::EmptyRing)
        );
        assert_eq!(
            r.get_replication_set_for_operation(Operation::READ),
            Err(RingError::EmptyRing)
        );
        assert_eq!(RingError::EmptyRing.to_string(), "empty ring");
        let cfg = RingConfig {
            replication_factor: 0,
            ..Default::default()
        };
        assert_eq!(
            Ring::new(Desc::new(), &cfg).unwrap_err().to_string(),
            "ReplicationFactor must be greater than zero: 0"
        );
    }

    #[test]
    fn walk_starts_after_the_key_and_wraps() {
        let r = five([ACTIVE; 5], [false; 5]);
        let mut buf = GetBuffers::default();
        let rs = r.get(150, Operation::WRITE, &mut buf).unwrap();
        assert_eq!(ids(&rs), ["b", "c", "d"]);
        assert_eq!((rs.max_errors, rs.quorum()), (1, 2));
        // A key equal to a token belongs to the next one.
        assert_eq!(
            ids(&r.get(200, Operation::WRITE, &mut buf).unwrap()),
            ["c", "d", "e"]
        );
        assert_eq!(
            ids(&r.get(450, Operation::WRITE, &mut buf).unwrap()),
            ["e", "a", "b"]
        );
        assert_eq!(
            ids(&r.get(u32::MAX, Operation::READ, &mut buf).unwrap()),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn writes_extend_past_joining_and_leaving_instances_reads_do_not() {
        let r = five([ACTIVE, JOINING, LEAVING, ACTIVE, ACTIVE], [false; 5]);
        let mut buf = GetBuffers::default();
        // Write walks b (JOINING, extends), c (LEAVING, extends), d, e, a; keeps the ACTIVE ones.
        let rs = r.get(150, Operation::WRITE, &mut buf).unwrap();
        assert_eq!(ids(&rs), ["d", "e", "a"]);
        assert_eq!(rs.max_errors, 1);
        // Reads use JOINING and LEAVING instances without extending.
        let rs = r.get(150, Operation::READ, &mut buf).unwrap();
        assert_eq!(ids(&rs), ["b", "c", "d"]);
        assert_eq!(rs.max_errors, 1);
        // Without extension the walk stops at three instances and only d is writable.
        assert_eq!(
            r.get(150, Operation::WRITE_NO_EXTEND, &mut buf)
                .unwrap_err()
                .to_string(),
            "at least 2 live replicas required, could only find 1 - unhealthy instances: b:9095,c:9095"
        );
    }

    #[test]
    fn unhealthy_instances_reduce_the_set_until_quorum_fails() {
        let mut buf = GetBuffers::default();
        let r = five([ACTIVE; 5], [false, true, false, false, false]);
        let rs = r.get(150, Operation::WRITE, &mut buf).unwrap();
        assert_eq!(ids(&rs), ["c", "d"]);
        assert_eq!(rs.max_errors, 0);
        let r = five([ACTIVE; 5], [false, true, true, false, false]);
        assert_eq!(
            r.get(150, Operation::WRITE, &mut buf)
                .unwrap_err()
                .to_string(),
            "at least 2 live replicas required, could only find 1 - unhealthy instances: b:9095,c:9095"
        );
        // Fewer instances than RF: 2 of RF 3 is still a quorum, with no error to spare.
        let r = ring(
            &[("a", "", ACTIVE, 1, false), ("b", "", ACTIVE, 2, false)],
            3,
            false,
        );
        let rs = r.get(0, Operation::WRITE, &mut buf).unwrap();
        assert_eq!((rs.instances.len(), rs.max_errors), (2, 0));
    }

    #[test]
    fn zone_awareness_takes_one_instance_per_zone() {
        let rows = [
            ("a1", "a", ACTIVE, 100, false),
            ("a2", "a", ACTIVE, 200, false),
            ("b1", "b", ACTIVE, 300, false),
            ("b2", "b", ACTIVE, 400, false),
            ("c1", "c", ACTIVE, 500, false),
            ("c2", "c", ACTIVE, 600, false),
        ];
        let mut buf = GetBuffers::default();
        assert_eq!(
            ids(&ring(&rows, 3, true)
                .get(50, Operation::WRITE, &mut buf)
                .unwrap()),
            ["a1", "b1", "c1"]
        );
        assert_eq!(
            ids(&ring(&rows, 3, false)
                .get(50, Operation::WRITE, &mut buf)
                .unwrap()),
            ["a1", "a2", "b1"]
        );
        // RF above the zone count: zones take turns holding the extra copy.
        let rs = ring(&rows, 5, true)
            .get(50, Operation::WRITE, &mut buf)
            .unwrap();
        assert_eq!(ids(&rs), ["a1", "a2", "b1", "b2", "c1"]);
        // RF below the zone count: one per zone.
        let rows4 = [
            ("a1", "a", ACTIVE, 100, false),
            ("a2", "a", ACTIVE, 150, false),
            ("b1", "b", ACTIVE, 200, false),
            ("c1", "c", ACTIVE, 300, false),
            ("d1", "d", ACTIVE, 400, false),
        ];
        assert_eq!(
            ids(&ring(&rows4, 3, true)
                .get(50, Operation::WRITE, &mut buf)
                .unwrap()),
            ["a1", "b1", "c1"]
        );
    }

    #[test]
    fn zone_aware_extension_stays_in_the_same_zone() {
        let rows = [
            ("a1", "a", LEAVING, 100, false),
            ("a2", "a", ACTIVE, 200, false),
            ("b1", "b", ACTIVE, 300, false),
            ("b2", "b", ACTIVE, 350, false),
            ("c1", "c", ACTIVE, 500, false),
        ];
        let rs = ring(&rows, 3, true)
            .get(50, Operation::WRITE, &mut GetBuffers::default())
            .unwrap();
        assert_eq!(ids(&rs), ["a2", "b1", "c1"]);
        assert_eq!(rs.max_errors, 1);
        assert_eq!(rs.zone_count(), 3);
        let err = ring(
            &[
                ("a1", "a", ACTIVE, 1, true),
                ("b1", "b", ACTIVE, 2, true),
                ("c1", "c", ACTIVE, 3, false),
            ],
            3,
            true,
        )
        .get(0, Operation::WRITE, &mut GetBuffers::default())
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "at least 2 live replicas required across different availability zones, could only find 1 - unhealthy instances: a1:9095,b1:9095"
        );
    }

    #[test]
    fn all_healthy_and_instance_lookups() {
        let r = five(
            [ACTIVE, JOINING, LEAVING, ACTIVE, PENDING],
            [false, false, false, true, false],
        );
        assert_eq!(ids(&r.get_all_healthy(Operation::WRITE).unwrap()), ["a"]);
        assert_eq!(
            ids(&r.get_all_healthy(Operation::READ).unwrap()),
            ["a", "b", "c", "e"]
        );
        assert_eq!(
            r.get_all_healthy(Operation::REPORTING)
                .unwrap()
                .instances
                .len(),
            4
        );
        assert_eq!(r.instances_count(), 5);
        assert_eq!(r.instance_state("c"), Ok(LEAVING));
        assert_eq!(r.instance_state("zz"), Err(RingError::InstanceNotFound));
    }

    #[test]
    fn whole_ring_sets_tolerate_rf_over_two_failures() {
        let r = five([ACTIVE; 5], [false, true, false, false, false]);
        let rs = r
            .get_replication_set_for_operation(Operation::READ)
            .unwrap();
        assert_eq!((rs.instances.len(), rs.max_errors), (4, 0));
        let r = five([ACTIVE; 5], [false; 5]);
        assert_eq!(
            r.get_replication_set_for_operation(Operation::READ)
                .unwrap()
                .max_errors,
            1
        );
        let r = five([ACTIVE; 5], [false, true, true, false, false]);
        assert_eq!(
            r.get_replication_set_for_operation(Operation::READ),
            Err(RingError::TooManyUnhealthyInstances)
        );
        assert_eq!(
            RingError::TooManyUnhealthyInstances.to_string(),
            "too many unhealthy instances in the ring"
        );
        let r = ring(
            &[("a", "", ACTIVE, 1, false), ("b", "", ACTIVE, 2, false)],
            3,
            false,
        );
        assert_eq!(
            r.get_replication_set_for_operation(Operation::READ)
                .unwrap()
                .max_errors,
            0
        );
    }

    #[test]
    fn zone_aware_whole_ring_sets_drop_failed_zones() {
        let rows = |stale_b: bool, stale_c: bool| {
            ring(
                &[
                    ("a1", "a", ACTIVE, 1, false),
                    ("a2", "a", ACTIVE, 2, false),
                    ("b1", "b", ACTIVE, 3, stale_b),
                    ("b2", "b", ACTIVE, 4, false),
                    ("c1", "c", ACTIVE, 5, stale_c),
                    ("c2", "c", ACTIVE, 6, false),
                ],
                3,
                true,
            )
        };
        let rs = rows(false, false)
            .get_replication_set_for_operation(Operation::READ)
            .unwrap();
        assert_eq!(
            (rs.instances.len(), rs.max_errors, rs.max_unavailable_zones),
            (6, 0, 1)
        );
        let rs = rows(true, false)
            .get_replication_set_for_operation(Operation::READ)
            .unwrap();
        assert_eq!(ids(&rs), ["a1", "a2", "c1", "c2"]);
        assert_eq!(rs.max_unavailable_zones, 0);
        assert_eq!(
            rows(true, true).get_replication_set_for_operation(Operation::READ),
            Err(RingError::TooManyUnhealthyInstances)
        );
    }

    #[test]
    fn excluded_zones_are_left_out() {
        let mut desc = Desc::new();
        let now = unix_seconds(SystemTime::now());
        for (id, zone, token) in [("a1", "a", 1), ("b1", "b", 2), ("c1", "c", 3)] {
            desc.add_ingester(id, id, zone, vec![token], ACTIVE, now);
        }
        let cfg = RingConfig {
            excluded_zones: vec!["b".into()],
            ..Default::default()
        };
        let r = Ring::new(desc, &cfg).unwrap();
        assert_eq!(r.instances_count(), 2);
        assert_eq!(r.zones(), ["a", "c"]);
        assert_eq!(
            ids(&r
                .get(0, Operation::WRITE, &mut GetBuffers::default())
                .unwrap()),
            ["a1", "c1"]
        );
    }
}
