//! The merge rule of the ring [`Desc`] (Cortex's `Desc.Merge` in `ring/model.go`):
//! per instance, the entry with the newer heartbeat `timestamp` wins; an instance
//! removed by a local CAS stays as a LEFT tombstone (no tokens, timestamp of the
//! removal) so the removal beats older copies elsewhere, and tombstones older than
//! `left_ingesters_timeout` are dropped. Readers never see LEFT instances.
//!
//! Unlike Cortex, ties are broken deterministically (LEFT first, then the greater
//! encoded instance) so replicas always converge, a local change that would not beat
//! the stored entry gets its timestamp raised by one second, and duplicate tokens are
//! left for the ring to resolve (it already gives them to the greatest ID).

use std::cmp::Ordering;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::merge::Merge;
use crate::desc::{Desc, InstanceDesc, InstanceState, unix_seconds};

/// The [`Merge`] rule of a ring descriptor stored as JSON.
#[derive(Debug, Clone)]
pub struct DescMerge {
    left_timeout: Duration,
}

impl DescMerge {
    /// A rule dropping LEFT tombstones `left_timeout` after the removal (0 keeps them
    /// until the next compaction, i.e. drops them right away).
    pub fn new(left_timeout: Duration) -> DescMerge {
        DescMerge { left_timeout }
    }
}

fn decode(bytes: &[u8]) -> Result<Desc, String> {
    let mut d = Desc::decode(bytes).map_err(|e| format!("decoding the ring: {e}"))?;
    for inst in d.ingesters.values_mut() {
        normalize(inst);
    }
    Ok(d)
}

fn normalize(inst: &mut InstanceDesc) {
    if inst.state == InstanceState::LEFT {
        inst.tokens.clear();
    }
    inst.tokens.dedup();
}

/// The total order replicas agree on: newer heartbeat, then LEFT, then the greater
/// encoding.
fn compare(a: &InstanceDesc, b: &InstanceDesc) -> Ordering {
    let left = |i: &InstanceDesc| i.state == InstanceState::LEFT;
    a.timestamp
        .cmp(&b.timestamp)
        .then_with(|| left(a).cmp(&left(b)))
        .then_with(|| {
            let enc = |i: &InstanceDesc| serde_json::to_vec(i).unwrap_or_default();
            enc(a).cmp(&enc(b))
        })
}

impl Merge for DescMerge {
    fn merge(&self, ours: &[u8], theirs: &[u8]) -> Result<Bytes, String> {
        let mut ours = decode(ours)?;
        let theirs = decode(theirs)?;
        for (id, inst) in theirs.ingesters {
            match ours.ingesters.get_mut(&id) {
                Some(mine) => {
                    if compare(&inst, mine) == Ordering::Greater {
                        *mine = inst;
                    }
                }
                None => {
                    ours.ingesters.insert(id, inst);
                }
            }
        }
        Ok(Bytes::from(ours.encode()))
    }

    fn apply_local(
        &self,
        current: Option<&[u8]>,
        new: &[u8],
        now: SystemTime,
    ) -> Result<Bytes, String> {
        let mut out = match current {
            Some(c) => decode(c)?,
            None => Desc::new(),
        };
        let new = decode(new)?;
        let now = unix_seconds(now);
        // Removed by the caller: record the removal as a tombstone.
        for (id, inst) in out.ingesters.iter_mut() {
            if inst.state != InstanceState::LEFT && !new.ingesters.contains_key(id) {
                inst.state = InstanceState::LEFT;
                inst.tokens.clear();
                inst.timestamp = inst.timestamp.max(now);
            }
        }
        // Changed or added by the caller: it wins, beating the stored entry.
        for (id, mut inst) in new.ingesters {
            match out.ingesters.get_mut(&id) {
                Some(cur) if *cur == inst => {}
                Some(cur) => {
                    if compare(&inst, cur) != Ordering::Greater {
                        inst.timestamp = cur.timestamp.saturating_add(1);
                    }
                    *cur = inst;
                }
                None => {
                    out.ingesters.insert(id, inst);
                }
            }
        }
        Ok(Bytes::from(out.encode()))
    }

    fn view(&self, stored: &[u8]) -> Bytes {
        match decode(stored) {
            Ok(mut d) => {
                d.ingesters.retain(|_, i| i.state != InstanceState::LEFT);
                Bytes::from(d.encode())
            }
            // Only merged values are stored; an undecodable one is shown as it is.
            Err(_) => Bytes::copy_from_slice(stored),
        }
    }

    fn compact(&self, stored: &[u8], now: SystemTime) -> Option<Bytes> {
        let mut d = decode(stored).ok()?;
        let limit = unix_seconds(now)
            .saturating_sub(i64::try_from(self.left_timeout.as_secs()).unwrap_or(i64::MAX));
        let before = d.ingesters.len();
        d.ingesters
            .retain(|_, i| i.state != InstanceState::LEFT || i.timestamp >= limit);
        (d.ingesters.len() != before).then(|| Bytes::from(d.encode()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn inst(ts: i64, state: InstanceState, tokens: &[u32]) -> InstanceDesc {
        InstanceDesc {
            addr: "a:1".into(),
            timestamp: ts,
            state,
            tokens: tokens.to_vec(),
            ..Default::default()
        }
    }

    fn ring(items: &[(&str, InstanceDesc)]) -> Vec<u8> {
        let mut d = Desc::new();
        for (id, i) in items {
            d.ingesters.insert(id.to_string(), i.clone());
        }
        d.encode()
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn newer_heartbeat_wins_and_merge_is_commutative_and_idempotent() {
        let m = DescMerge::new(Duration::from_secs(300));
        let a = ring(&[
            ("x", inst(10, InstanceState::ACTIVE, &[1])),
            ("y", inst(20, InstanceState::JOINING, &[2])),
        ]);
        let b = ring(&[
            ("x", inst(11, InstanceState::LEAVING, &[1])),
            ("y", inst(19, InstanceState::ACTIVE, &[2])),
            ("z", inst(5, InstanceState::ACTIVE, &[3])),
        ]);
        let ab = m.merge(&a, &b).unwrap();
        let ba = m.merge(&b, &a).unwrap();
        assert_eq!(ab, ba);
        let d = Desc::decode(&ab).unwrap();
        assert_eq!(d.ingesters["x"].state, InstanceState::LEAVING);
        assert_eq!(d.ingesters["y"].state, InstanceState::JOINING);
        assert!(d.ingesters.contains_key("z"));
        assert_eq!(m.merge(&ab, &ab).unwrap(), ab);
        assert!(m.merge(b"not json", &a).is_err());
    }

    #[test]
    fn equal_timestamps_prefer_left_then_a_fixed_order() {
        let m = DescMerge::new(Duration::from_secs(300));
        let live = ring(&[("x", inst(10, InstanceState::ACTIVE, &[1]))]);
        let left = ring(&[("x", inst(10, InstanceState::LEFT, &[1]))]);
        let d = Desc::decode(&m.merge(&live, &left).unwrap()).unwrap();
        assert_eq!(d.ingesters["x"].state, InstanceState::LEFT);
        assert!(d.ingesters["x"].tokens.is_empty(), "LEFT holds no tokens");
        let other = ring(&[("x", inst(10, InstanceState::JOINING, &[1]))]);
        assert_eq!(
            m.merge(&live, &other).unwrap(),
            m.merge(&other, &live).unwrap()
        );
    }

    #[test]
    fn local_removal_becomes_a_tombstone_hidden_from_readers_and_compacted() {
        let m = DescMerge::new(Duration::from_secs(300));
        let cur = ring(&[
            ("x", inst(10, InstanceState::ACTIVE, &[1])),
            ("y", inst(10, InstanceState::ACTIVE, &[2])),
        ]);
        let new = ring(&[("y", inst(10, InstanceState::ACTIVE, &[2]))]);
        let stored = m.apply_local(Some(&cur), &new, at(100)).unwrap();
        let d = Desc::decode(&stored).unwrap();
        assert_eq!(d.ingesters["x"].state, InstanceState::LEFT);
        assert_eq!(d.ingesters["x"].timestamp, 100);
        let seen = Desc::decode(&m.view(&stored)).unwrap();
        assert_eq!(seen.ingesters.keys().collect::<Vec<_>>(), ["y"]);
        // The tombstone beats the old live copy another member still has.
        let merged = Desc::decode(&m.merge(&cur, &stored).unwrap()).unwrap();
        assert_eq!(merged.ingesters["x"].state, InstanceState::LEFT);
        assert_eq!(m.compact(&stored, at(399)), None);
        let compacted = Desc::decode(&m.compact(&stored, at(401)).unwrap()).unwrap();
        assert_eq!(compacted.ingesters.keys().collect::<Vec<_>>(), ["y"]);
    }

    #[test]
    fn local_change_in_the_same_second_still_wins() {
        let m = DescMerge::new(Duration::from_secs(300));
        let cur = ring(&[("x", inst(10, InstanceState::LEFT, &[]))]);
        // Re-registering within the second the tombstone was written.
        let new = ring(&[("x", inst(10, InstanceState::ACTIVE, &[7]))]);
        let stored = m.apply_local(Some(&cur), &new, at(10)).unwrap();
        let d = Desc::decode(&stored).unwrap();
        assert_eq!(d.ingesters["x"].state, InstanceState::ACTIVE);
        assert_eq!(d.ingesters["x"].timestamp, 11);
        let merged = Desc::decode(&m.merge(&cur, &stored).unwrap()).unwrap();
        assert_eq!(merged.ingesters["x"].tokens, vec![7]);
    }
}
