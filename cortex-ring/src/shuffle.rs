//! Shuffle sharding: each tenant gets a small, stable subring of the instances, so one
//! tenant's load (or a query of death) reaches only its shard, and two tenants rarely
//! share many instances.
//!
//! The selection follows Cortex's `Ring.ShuffleShard`: every zone (or the whole ring
//! when zone awareness is off) is an independent ring with its own pseudo-random
//! sequence seeded from the MD5 of the tenant ID (and zone); each pick draws a token
//! from the sequence and walks clockwise to the first instance not yet picked. The
//! shard size is rounded up to a multiple of the number of zones. Because picks only
//! depend on the seeded positions, instances joining or leaving elsewhere in the ring
//! move a tenant's shard by at most one instance.
//!
//! The pseudo-random sequence is this crate's SplitMix64 ([`TokenGenerator`]), not Go's
//! `math/rand`, so shards are stable across our processes but are not the same
//! instances a Go Cortex would pick for the tenant.
//!
//! Computed subrings are cached on the [`Ring`] snapshot they came from; the ring
//! client builds a new snapshot for every ring change, which empties the cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::desc::{Desc, InstanceState, unix_seconds};
use crate::md5;
use crate::ring::Ring;
use crate::tokens::TokenGenerator;

/// The pseudo-random seed for `tenant`'s picks in `zone` (empty when zone awareness is
/// off): the first 8 bytes, big-endian, of `MD5(tenant [0x00 zone])`, as Cortex
/// computes it.
pub fn shuffle_shard_seed(tenant: &str, zone: &str) -> i64 {
    let sum = if zone.is_empty() {
        md5::digest(&[tenant.as_bytes()])
    } else {
        md5::digest(&[tenant.as_bytes(), &[0], zone.as_bytes()])
    };
    let mut first = [0u8; 8];
    first.copy_from_slice(&sum[..8]);
    i64::from_be_bytes(first)
}

/// Instances picked per zone for a shard of `size` over `zones` zones: the size
/// divided by the zones, rounded up (Cortex's `ShuffleShardExpectedInstancesPerZone`).
pub fn shuffle_shard_instances_per_zone(size: usize, zones: usize) -> usize {
    size.div_ceil(zones.max(1))
}

/// One zone's name, sorted tokens and their owners' instance indexes.
type ZoneTokens<'a> = (&'a str, &'a [u32], &'a [u32]);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ShardKey {
    tenant: String,
    size: usize,
    lookback_secs: u64,
}

#[derive(Debug)]
struct CachedShard {
    ring: Arc<Ring>,
    /// Unix seconds from which the membership may differ (an instance leaves the
    /// lookback window); `None` when only a ring change can alter it.
    expires_at: Option<i64>,
}

/// The subrings computed from one ring snapshot, by tenant, size and lookback.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShardCache(Arc<Mutex<HashMap<ShardKey, CachedShard>>>);

impl ShardCache {
    fn get(&self, key: &ShardKey, now: i64) -> Option<Arc<Ring>> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|c| c.expires_at.is_none_or(|at| now < at))
            .map(|c| Arc::clone(&c.ring))
    }

    fn put(&self, key: ShardKey, ring: Arc<Ring>, expires_at: Option<i64>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(key, CachedShard { ring, expires_at });
    }

    /// How many subrings are cached.
    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Ring {
    /// The subring of `size` instances for `tenant` (spread evenly over the zones, `size`
    /// rounded up to a multiple of their number, when zone awareness is on). The same
    /// ring and tenant always give the same shard. A `size` of 0, or at least the number
    /// of instances, gives the whole ring.
    pub fn shuffle_shard(self: &Arc<Self>, tenant: &str, size: usize) -> Arc<Ring> {
        self.shuffle_shard_cached(tenant, size, Duration::ZERO, SystemTime::now())
    }

    /// Like [`Ring::shuffle_shard`], but the subring also holds every instance that was
    /// part of the tenant's shard at any time since `now - lookback`: instances
    /// registered within the lookback are kept and the walk continues past them (a new
    /// instance took the place of an older one, which may still hold the data), and
    /// READONLY instances are always passed over the same way. For reads only: the
    /// result may be unbalanced across zones.
    pub fn shuffle_shard_with_lookback(
        self: &Arc<Self>,
        tenant: &str,
        size: usize,
        lookback: Duration,
        now: SystemTime,
    ) -> Arc<Ring> {
        self.shuffle_shard_cached(tenant, size, lookback, now)
    }

    /// The IDs of the instances [`Ring::shuffle_shard`] would put in `tenant`'s shard,
    /// in pick order, without building (or caching) the subring.
    pub fn shuffle_shard_instance_ids(&self, tenant: &str, size: usize) -> Vec<&str> {
        if size == 0 || self.instances.len() <= size {
            return self.instances.iter().map(|i| i.id.as_str()).collect();
        }
        let (order, _) = self.pick(tenant, size, Duration::ZERO, 0);
        order
            .into_iter()
            .filter_map(|idx| self.instances.get(idx))
            .map(|i| i.id.as_str())
            .collect()
    }

    /// How many subrings this snapshot has cached.
    pub fn cached_shards(&self) -> usize {
        self.shard_cache.len()
    }

    fn shuffle_shard_cached(
        self: &Arc<Self>,
        tenant: &str,
        size: usize,
        lookback: Duration,
        now: SystemTime,
    ) -> Arc<Ring> {
        if size == 0 || self.instances.len() <= size {
            return Arc::clone(self);
        }
        let key = ShardKey {
            tenant: tenant.to_string(),
            size,
            lookback_secs: lookback.as_secs(),
        };
        let now_secs = unix_seconds(now);
        if let Some(ring) = self.shard_cache.get(&key, now_secs) {
            return ring;
        }
        let (ring, expires_at) = self.compute_shard(tenant, size, lookback, now_secs);
        let ring = Arc::new(ring);
        self.shard_cache.put(key, Arc::clone(&ring), expires_at);
        ring
    }

    /// The instance indexes of `tenant`'s shard, in pick order, and when a lookback
    /// inclusion expires.
    fn pick(
        &self,
        tenant: &str,
        size: usize,
        lookback: Duration,
        now_secs: i64,
    ) -> (Vec<usize>, Option<i64>) {
        let lookback_secs = i64::try_from(lookback.as_secs()).unwrap_or(i64::MAX);
        let lookback_until = now_secs.saturating_sub(lookback_secs);
        let mut expires_at: Option<i64> = None;
        let (per_zone, zones): (usize, Vec<ZoneTokens<'_>>) = if self.zone_awareness {
            let zones = self
                .zones
                .iter()
                .zip(&self.zone_tokens)
                .map(|(z, (t, o))| (z.as_str(), t.as_slice(), o.as_slice()))
                .collect();
            (
                shuffle_shard_instances_per_zone(size, self.zones.len()),
                zones,
            )
        } else {
            (
                size,
                vec![("", self.tokens.as_slice(), self.owners.as_slice())],
            )
        };

        let mut picked = vec![false; self.instances.len()];
        let mut order = Vec::with_capacity(size);
        for (zone, tokens, owners) in zones {
            let n = tokens.len();
            let mut rng = TokenGenerator::with_seed(shuffle_shard_seed(tenant, zone) as u64);
            for _ in 0..per_zone {
                let draw = rng.next_token();
                let start = tokens.partition_point(|&t| t <= draw);
                let mut found = false;
                for step in 0..n {
                    let p = (start + step) % n;
                    let Some(owner) = owners.get(p).map(|&o| o as usize) else {
                        break;
                    };
                    match picked.get_mut(owner) {
                        Some(seen) if !*seen => *seen = true,
                        _ => continue,
                    }
                    order.push(owner);
                    let Some(inst) = self.instances.get(owner) else {
                        continue;
                    };
                    let within_lookback =
                        !lookback.is_zero() && inst.desc.registered_timestamp >= lookback_until;
                    if within_lookback {
                        let at = inst.desc.registered_timestamp.saturating_add(lookback_secs);
                        expires_at = Some(expires_at.map_or(at, |e| e.min(at)));
                    }
                    if within_lookback || inst.desc.state == InstanceState::READONLY {
                        continue;
                    }
                    found = true;
                    break;
                }
                // The zone has no unpicked instance left.
                if !found {
                    break;
                }
            }
        }
        (order, expires_at)
    }

    fn compute_shard(
        &self,
        tenant: &str,
        size: usize,
        lookback: Duration,
        now_secs: i64,
    ) -> (Ring, Option<i64>) {
        let (order, expires_at) = self.pick(tenant, size, lookback, now_secs);
        let mut desc = Desc::new();
        for idx in order {
            if let Some(inst) = self.instances.get(idx) {
                desc.ingesters.insert(inst.id.clone(), inst.desc.clone());
            }
        }
        let ring = Ring::index(
            desc,
            self.replication_factor,
            self.heartbeat_timeout,
            self.zone_awareness,
        );
        (ring, expires_at)
    }
}
