//! The member list: who else is in the cluster, at which address, and when we last
//! heard from them directly. Members are learned from seeds and from the lists peers
//! send; only a message from the member itself (or its reply) counts as a sign of life,
//! and a member silent for the dead-node time is dropped and ignored in second-hand
//! lists for as long again, so a dead member is not revived by gossip about it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
struct Member {
    addr: String,
    last_seen: Instant,
}

/// The members one node knows about (itself excluded).
#[derive(Debug)]
pub(crate) struct Members {
    me: String,
    alive: HashMap<String, Member>,
    dead: HashMap<String, Instant>,
    rng: u64,
}

impl Members {
    /// An empty list for node `me`; `seed` seeds the choice of random members.
    pub(crate) fn new(me: String, seed: u64) -> Members {
        Members {
            me,
            alive: HashMap::new(),
            dead: HashMap::new(),
            rng: seed | 1,
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `name` spoke to us from `addr`: it is alive.
    pub(crate) fn heard_from(&mut self, name: &str, addr: &str, now: Instant) {
        if name == self.me || name.is_empty() {
            return;
        }
        self.dead.remove(name);
        self.alive.insert(
            name.to_string(),
            Member {
                addr: addr.to_string(),
                last_seen: now,
            },
        );
    }

    /// Adds members a peer told us about, unless we know them or recently dropped them.
    pub(crate) fn learn(&mut self, list: &[(String, String)], now: Instant) {
        for (name, addr) in list {
            if *name == self.me
                || name.is_empty()
                || self.alive.contains_key(name)
                || self.dead.contains_key(name)
            {
                continue;
            }
            self.alive.insert(
                name.clone(),
                Member {
                    addr: addr.clone(),
                    last_seen: now,
                },
            );
        }
    }

    /// Drops members not heard from for `timeout`, and forgets drops older than that.
    pub(crate) fn expire(&mut self, timeout: Duration, now: Instant) -> Vec<String> {
        let mut dropped = Vec::new();
        self.alive.retain(|name, m| {
            let keep = now.saturating_duration_since(m.last_seen) < timeout;
            if !keep {
                dropped.push(name.clone());
            }
            keep
        });
        for name in &dropped {
            self.dead.insert(name.clone(), now);
        }
        self.dead
            .retain(|_, at| now.saturating_duration_since(*at) < timeout);
        dropped.sort();
        dropped
    }

    /// Every live member as (name, address), sorted by name.
    pub(crate) fn list(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .alive
            .iter()
            .map(|(n, m)| (n.clone(), m.addr.clone()))
            .collect();
        v.sort();
        v
    }

    /// Up to `n` distinct random member addresses, skipping `except`.
    pub(crate) fn random(&mut self, n: usize, except: &str) -> Vec<String> {
        let mut pool: Vec<String> = self
            .list()
            .into_iter()
            .filter(|(name, _)| name != except)
            .map(|(_, a)| a)
            .collect();
        let mut out = Vec::new();
        while out.len() < n && !pool.is_empty() {
            let i = (self.next_random() % pool.len() as u64) as usize;
            out.push(pool.swap_remove(i));
        }
        out
    }

    /// The address of the member heard from least recently.
    pub(crate) fn stalest(&self) -> Option<String> {
        self.alive
            .values()
            .min_by_key(|m| m.last_seen)
            .map(|m| m.addr.clone())
    }

    /// True when no other member is known.
    pub(crate) fn is_empty(&self) -> bool {
        self.alive.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silent_members_are_dropped_and_not_revived_by_hearsay() {
        let t0 = Instant::now();
        let mut m = Members::new("me".into(), 42);
        m.heard_from("a", "a:1", t0);
        m.learn(
            &[("b".into(), "b:1".into()), ("me".into(), "me:1".into())],
            t0,
        );
        assert_eq!(m.list().len(), 2, "self is never a member");
        let later = t0 + Duration::from_secs(5);
        m.heard_from("a", "a:1", later);
        assert_eq!(m.stalest().as_deref(), Some("b:1"));
        assert_eq!(m.expire(Duration::from_secs(3), later), ["b"]);
        m.learn(&[("b".into(), "b:1".into())], later);
        assert_eq!(m.list(), [("a".to_string(), "a:1".to_string())]);
        // Hearing from it directly brings it back.
        m.heard_from("b", "b:2", later);
        assert_eq!(m.list().len(), 2);
        let picked = m.random(5, "a");
        assert_eq!(picked, ["b:2"]);
        assert_eq!(m.random(1, "").len(), 1);
    }
}
