//! The ring descriptor stored in the KV: every instance with its address, zone, state,
//! tokens and heartbeat, plus the instance states and the operations that decide which
//! states are healthy.
//!
//! The shape follows Cortex's `ring.proto` (`Desc`, `InstanceDesc`, `InstanceState`) and
//! is serialised as JSON both in the KV and on the status page. This module owns health
//! checks and token bookkeeping for one descriptor; picking replicas lives in `ring.rs`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The lifecycle state of an instance, with Cortex's names and numeric values.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub enum InstanceState {
    /// Serving reads and writes.
    #[default]
    ACTIVE = 0,
    /// Shutting down: still readable, no longer written to.
    LEAVING = 1,
    /// Registered without tokens, waiting to join.
    PENDING = 2,
    /// Holding tokens while observing the ring before going ACTIVE.
    JOINING = 3,
    /// Removed from the ring; only gossip uses it to spread removals.
    LEFT = 4,
    /// Readable, not written to (ingester read-only mode).
    READONLY = 5,
}

impl InstanceState {
    /// Every state, in numeric order.
    pub const ALL: [InstanceState; 6] = [
        InstanceState::ACTIVE,
        InstanceState::LEAVING,
        InstanceState::PENDING,
        InstanceState::JOINING,
        InstanceState::LEFT,
        InstanceState::READONLY,
    ];

    /// The state's name as Cortex prints it (`ACTIVE`, `LEAVING`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            InstanceState::ACTIVE => "ACTIVE",
            InstanceState::LEAVING => "LEAVING",
            InstanceState::PENDING => "PENDING",
            InstanceState::JOINING => "JOINING",
            InstanceState::LEFT => "LEFT",
            InstanceState::READONLY => "READONLY",
        }
    }

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl std::fmt::Display for InstanceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which instance states an operation may use and which make the replica set grow.
///
/// As in Cortex, an operation is a pair of state sets: instances in a *healthy* state
/// can serve it, and including an instance in an *extending* state adds one more
/// instance to the replica set (so a JOINING or LEAVING ingester does not cost a copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operation {
    healthy: u16,
    extend: u16,
}

const fn mask(states: &[InstanceState]) -> u16 {
    let mut m = 0;
    let mut i = 0;
    while i < states.len() {
        m |= states[i].bit();
        i += 1;
    }
    m
}

impl Operation {
    /// Writes go to ACTIVE instances; any other state in the walk extends the set.
    pub const WRITE: Operation = Operation {
        healthy: mask(&[InstanceState::ACTIVE]),
        extend: !mask(&[InstanceState::ACTIVE]) & mask(&InstanceState::ALL),
    };

    /// Like [`Operation::WRITE`] but only READONLY instances extend the set.
    pub const WRITE_NO_EXTEND: Operation = Operation {
        healthy: mask(&[InstanceState::ACTIVE]),
        extend: mask(&[InstanceState::READONLY]),
    };

    /// Reads use ACTIVE, PENDING, LEAVING, JOINING and READONLY instances; only states
    /// that are not ACTIVE, LEAVING, JOINING or READONLY extend the set (matching writes).
    pub const READ: Operation = Operation {
        healthy: mask(&[
            InstanceState::ACTIVE,
            InstanceState::PENDING,
            InstanceState::LEAVING,
            InstanceState::JOINING,
            InstanceState::READONLY,
        ]),
        extend: mask(&[InstanceState::PENDING, InstanceState::LEFT]),
    };

    /// Every state is healthy and nothing extends: used to ask about heartbeats only.
    pub const REPORTING: Operation = Operation {
        healthy: mask(&InstanceState::ALL),
        extend: 0,
    };

    /// An operation from its healthy and extending states.
    pub const fn new(healthy: &[InstanceState], extend: &[InstanceState]) -> Operation {
        Operation {
            healthy: mask(healthy),
            extend: mask(extend),
        }
    }

    /// True when an instance in `state` may serve this operation.
    pub const fn is_healthy_state(self, state: InstanceState) -> bool {
        self.healthy & state.bit() != 0
    }

    /// True when including an instance in `state` should grow the replica set by one.
    pub const fn extends_on(self, state: InstanceState) -> bool {
        self.extend & state.bit() != 0
    }
}

/// One instance in the ring.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceDesc {
    /// The address clients connect to (`host:port`).
    pub addr: String,
    /// Unix seconds of the last heartbeat.
    pub timestamp: i64,
    /// The lifecycle state.
    pub state: InstanceState,
    /// The tokens the instance owns, sorted ascending.
    pub tokens: Vec<u32>,
    /// The availability zone; empty when unknown.
    pub zone: String,
    /// Unix seconds of when the instance registered; 0 when unknown.
    pub registered_timestamp: i64,
}

/// Seconds since the Unix epoch of `t` (negative before 1970).
pub fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

impl InstanceDesc {
    /// True when the last heartbeat is at most `heartbeat_timeout` before `now`; a zero
    /// timeout disables the check (Cortex's `IsHeartbeatHealthy`).
    pub fn is_heartbeat_healthy(&self, heartbeat_timeout: Duration, now: SystemTime) -> bool {
        if heartbeat_timeout.is_zero() {
            return true;
        }
        let beat = if self.timestamp >= 0 {
            UNIX_EPOCH.checked_add(Duration::from_secs(self.timestamp as u64))
        } else {
            UNIX_EPOCH.checked_sub(Duration::from_secs(self.timestamp.unsigned_abs()))
        };
        match beat.map(|b| now.duration_since(b)) {
            Some(Ok(age)) => age <= heartbeat_timeout,
            // A heartbeat in the future is recent enough.
            Some(Err(_)) => true,
            None => false,
        }
    }

    /// True when the state allows `op` and the heartbeat is recent (Cortex's `IsHealthy`).
    pub fn is_healthy(&self, op: Operation, heartbeat_timeout: Duration, now: SystemTime) -> bool {
        op.is_healthy_state(self.state) && self.is_heartbeat_healthy(heartbeat_timeout, now)
    }

    /// Why the instance is not ready to serve, if it is not: a stale heartbeat or a state
    /// other than ACTIVE/READONLY.
    pub fn readiness_problem(
        &self,
        heartbeat_timeout: Duration,
        now: SystemTime,
    ) -> Option<String> {
        if !self.is_heartbeat_healthy(heartbeat_timeout, now) {
            return Some(format!("instance {} past heartbeat timeout", self.addr));
        }
        if !matches!(self.state, InstanceState::ACTIVE | InstanceState::READONLY) {
            return Some(format!("instance {} in state {}", self.addr, self.state));
        }
        None
    }
}

/// The whole ring: instance ID → instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Desc {
    /// Every registered instance by ID (Cortex keeps the historical name `ingesters`).
    pub ingesters: BTreeMap<String, InstanceDesc>,
}

/// The distance from token `from` clockwise to token `to`; a full circle when equal.
pub fn token_distance(from: u32, to: u32) -> u64 {
    if from < to {
        u64::from(to - from)
    } else {
        (1u64 << 32) - u64::from(from) + u64::from(to)
    }
}

impl Desc {
    /// An empty ring.
    pub fn new() -> Desc {
        Desc::default()
    }

    /// Adds or replaces instance `id`, heartbeating now; `tokens` are sorted and kept as
    /// the instance's only tokens.
    pub fn add_ingester(
        &mut self,
        id: &str,
        addr: &str,
        zone: &str,
        mut tokens: Vec<u32>,
        state: InstanceState,
        registered_timestamp: i64,
    ) -> &mut InstanceDesc {
        tokens.sort_unstable();
        let desc = InstanceDesc {
            addr: addr.to_string(),
            timestamp: unix_seconds(SystemTime::now()),
            state,
            tokens,
            zone: zone.to_string(),
            registered_timestamp,
        };
        self.ingesters
            .entry(id.to_string())
            .insert_entry(desc)
            .into_mut()
    }

    /// Removes instance `id` and its tokens.
    pub fn remove_ingester(&mut self, id: &str) -> Option<InstanceDesc> {
        self.ingesters.remove(id)
    }

    /// Every token in the ring, sorted (duplicates kept).
    pub fn tokens(&self) -> Vec<u32> {
        let mut all: Vec<u32> = self
            .ingesters
            .values()
            .flat_map(|i| i.tokens.iter().copied())
            .collect();
        all.sort_unstable();
        all
    }

    /// The instances in `state`, by ID.
    pub fn find_by_state(&self, state: InstanceState) -> Vec<(&str, &InstanceDesc)> {
        self.ingesters
            .iter()
            .filter(|(_, i)| i.state == state)
            .map(|(id, i)| (id.as_str(), i))
            .collect()
    }

    /// Sorted `(token, owner)` pairs; `owner` indexes the instances in ID order (the
    /// iteration order of [`Desc::ingesters`]). A token claimed twice keeps both entries
    /// and both point at the instance with the greatest ID, as Cortex resolves it.
    pub fn token_owners(&self) -> Vec<(u32, usize)> {
        let mut pairs: Vec<(u32, usize)> = self
            .ingesters
            .values()
            .enumerate()
            .flat_map(|(idx, inst)| inst.tokens.iter().map(move |&t| (t, idx)))
            .collect();
        pairs.sort_unstable();
        // Within a run of equal tokens the last pair has the greatest owner index.
        let mut i = pairs.len();
        while i > 0 {
            let token = pairs[i - 1].0;
            let owner = pairs[i - 1].1;
            let mut j = i - 1;
            while j > 0 && pairs[j - 1].0 == token {
                j -= 1;
                pairs[j].1 = owner;
            }
            i = j;
        }
        pairs
    }

    /// The share of the hash space each instance owns (token `t` owns the keys from the
    /// previous token up to `t`), by ID; instances without tokens own 0.
    pub fn ownership(&self) -> BTreeMap<String, f64> {
        let ids: Vec<&String> = self.ingesters.keys().collect();
        let mut owned = vec![0u64; ids.len()];
        let mut pairs = self.token_owners();
        // Duplicates share one owner; counting them twice would count a full circle.
        pairs.dedup_by_key(|p| p.0);
        for (i, &(token, owner)) in pairs.iter().enumerate() {
            let prev = if i == 0 {
                pairs[pairs.len() - 1].0
            } else {
                pairs[i - 1].0
            };
            owned[owner] += token_distance(prev, token);
        }
        ids.into_iter()
            .zip(owned)
            .map(|(id, o)| (id.clone(), o as f64 / (1u64 << 32) as f64))
            .collect()
    }

    /// Why the ring is not ready, if it is not: an instance that is not ACTIVE/READONLY
    /// or past its heartbeat, or no tokens at all (Cortex's `Desc.IsReady`).
    pub fn readiness_problem(
        &self,
        heartbeat_timeout: Duration,
        now: SystemTime,
    ) -> Option<String> {
        let mut tokens = 0;
        for inst in self.ingesters.values() {
            if let Some(p) = inst.readiness_problem(heartbeat_timeout, now) {
                return Some(p);
            }
            tokens += inst.tokens.len();
        }
        (tokens == 0).then(|| "no tokens in ring".to_string())
    }

    /// The JSON stored in the KV.
    pub fn encode(&self) -> Vec<u8> {
        // A map of plain structs with string keys always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses the JSON stored in the KV; token lists are sorted on the way in.
    pub fn decode(bytes: &[u8]) -> Result<Desc, serde_json::Error> {
        let mut desc: Desc = serde_json::from_slice(bytes)?;
        for inst in desc.ingesters.values_mut() {
            if !inst.tokens.is_sorted() {
                inst.tokens.sort_unstable();
            }
        }
        Ok(desc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    }

    #[test]
    fn operations_match_cortex_state_sets() {
        use InstanceState::*;
        for s in InstanceState::ALL {
            assert_eq!(Operation::WRITE.is_healthy_state(s), s == ACTIVE, "{s}");
            assert_eq!(Operation::WRITE.extends_on(s), s != ACTIVE, "{s}");
            assert_eq!(
                Operation::WRITE_NO_EXTEND.extends_on(s),
                s == READONLY,
                "{s}"
            );
            assert_eq!(Operation::READ.is_healthy_state(s), s != LEFT, "{s}");
            assert_eq!(
                Operation::READ.extends_on(s),
                !matches!(s, ACTIVE | LEAVING | JOINING | READONLY),
                "{s}"
            );
            assert!(Operation::REPORTING.is_healthy_state(s));
            assert!(!Operation::REPORTING.extends_on(s));
        }
    }

    #[test]
    fn heartbeat_health_uses_timeout_and_zero_disables_it() {
        let inst = InstanceDesc {
            timestamp: 1000,
            ..Default::default()
        };
        let minute = Duration::from_secs(60);
        assert!(inst.is_heartbeat_healthy(minute, at(1060)));
        assert!(!inst.is_heartbeat_healthy(minute, at(1061)));
        assert!(
            inst.is_heartbeat_healthy(minute, at(900)),
            "future heartbeat"
        );
        assert!(inst.is_heartbeat_healthy(Duration::ZERO, at(1_000_000)));
        let leaving = InstanceDesc {
            state: InstanceState::LEAVING,
            ..inst.clone()
        };
        assert!(!leaving.is_healthy(Operation::WRITE, minute, at(1000)));
        assert!(leaving.is_healthy(Operation::READ, minute, at(1000)));
    }

    #[test]
    fn json_round_trip_uses_cortex_field_and_state_names() {
        let mut d = Desc::new();
        d.add_ingester(
            "ing-1",
            "10.0.0.1:9095",
            "zone-a",
            vec![30, 10, 20],
            InstanceState::JOINING,
            5,
        );
        let json = String::from_utf8(d.encode()).unwrap();
        assert!(json.contains("\"ingesters\""), "{json}");
        assert!(json.contains("\"state\":\"JOINING\""), "{json}");
        assert!(json.contains("\"registered_timestamp\":5"), "{json}");
        let back = Desc::decode(json.as_bytes()).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.ingesters["ing-1"].tokens, vec![10, 20, 30]);
        let unsorted = br#"{"ingesters":{"a":{"tokens":[5,1,3]}}}"#;
        assert_eq!(
            Desc::decode(unsorted).unwrap().ingesters["a"].tokens,
            vec![1, 3, 5]
        );
        assert!(Desc::decode(b"{\"ingesters\":{\"a\":{\"state\":\"BOGUS\"}}}").is_err());
    }

    #[test]
    fn token_owners_resolve_duplicates_to_greatest_id_and_ownership_sums_to_one() {
        let mut d = Desc::new();
        d.add_ingester(
            "a",
            "",
            "",
            vec![1 << 30, 3 << 30],
            InstanceState::ACTIVE,
            0,
        );
        d.add_ingester(
            "b",
            "",
            "",
            vec![2 << 30, 3 << 30],
            InstanceState::ACTIVE,
            0,
        );
        d.add_ingester("c", "", "", vec![], InstanceState::PENDING, 0);
        let owners = d.token_owners();
        assert_eq!(
            owners,
            vec![(1 << 30, 0), (2 << 30, 1), (3 << 30, 1), (3 << 30, 1)]
        );
        let own = d.ownership();
        assert_eq!(own["c"], 0.0);
        assert!((own.values().sum::<f64>() - 1.0).abs() < 1e-12);
        // a owns (3<<30 .. 1<<30] wrapping: half the ring.
        assert!((own["a"] - 0.5).abs() < 1e-12, "{own:?}");
    }

    #[test]
    fn readiness_reports_the_first_problem() {
        let now = SystemTime::now();
        let ts = unix_seconds(now);
        let mut d = Desc::new();
        assert_eq!(
            d.readiness_problem(Duration::from_secs(60), now).as_deref(),
            Some("no tokens in ring")
        );
        d.add_ingester("a", "a:1", "", vec![1], InstanceState::ACTIVE, ts);
        assert_eq!(d.readiness_problem(Duration::from_secs(60), now), None);
        d.add_ingester("b", "b:1", "", vec![2], InstanceState::JOINING, ts);
        assert_eq!(
            d.readiness_problem(Duration::from_secs(60), now).as_deref(),
            Some("instance b:1 in state JOINING")
        );
    }
}
