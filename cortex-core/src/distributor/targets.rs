//! [`WriteRing`]: the ring as the distributor's write path sees it — for each token of a
//! batch, the addresses of the ingesters its write goes to and how many of them may fail.
//!
//! The hash ring itself (replica selection, zone awareness, health, quorum size) lives in
//! the `cortex-ring` crate, which implements this trait for its ring snapshots; this
//! crate only states what it needs, so the distributor does not depend on the ring's
//! types. A [`RingSource`] hands out the current snapshot of the ring a tenant writes
//! to (its shuffle shard when it has one), so one push sees one ring.

use std::sync::Arc;

/// Why the ring could not place a batch (an empty ring, too few live replicas, ...);
/// the ring's own error, kept whole for its message.
pub type RingLookupError = Box<dyn std::error::Error + Send + Sync>;

/// Hands out the ring a tenant's writes go to as it is now (the whole ring, or the
/// tenant's shuffle shard); called once per push with the tenant.
pub type RingSource = Arc<dyn Fn(&str) -> Arc<dyn WriteRing> + Send + Sync>;

/// A snapshot of the ring that places writes.
pub trait WriteRing: Send + Sync {
    /// Fills `out` (cleared first) with one replica set per token of `tokens`, in order:
    /// the healthy ingesters the token's write goes to, by address, and how many of
    /// them may fail. Fails when any token cannot be placed; the message is the ring's.
    fn write_targets<'a>(
        &'a self,
        tokens: &[u32],
        out: &mut WriteTargets<'a>,
    ) -> Result<(), RingLookupError>;
}

/// Replica sets for a batch of tokens, stored flat: addresses borrowed from the ring.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteTargets<'a> {
    addrs: Vec<&'a str>,
    /// Per set: the end of its addresses in `addrs`, and its tolerated failures.
    sets: Vec<(usize, usize)>,
}

impl<'a> WriteTargets<'a> {
    /// Empties the sets, keeping the allocations.
    pub fn clear(&mut self) {
        self.addrs.clear();
        self.sets.clear();
    }

    /// Appends the set of the next token: its replicas' addresses and how many of them
    /// may fail.
    pub fn push(&mut self, addrs: impl IntoIterator<Item = &'a str>, max_errors: usize) {
        self.addrs.extend(addrs);
        self.sets.push((self.addrs.len(), max_errors));
    }

    /// How many sets there are.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// True when there is no set.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Set `i`: its replicas' addresses and how many of them may fail.
    pub fn get(&self, i: usize) -> Option<(&[&'a str], usize)> {
        let &(end, max_errors) = self.sets.get(i)?;
        let start = match i.checked_sub(1) {
            Some(prev) => self.sets.get(prev).map_or(0, |s| s.0),
            None => 0,
        };
        Some((self.addrs.get(start..end)?, max_errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_come_back_in_order() {
        let mut t = WriteTargets::default();
        assert!(t.is_empty());
        t.push(["a:1", "b:1", "c:1"], 1);
        t.push([], 0);
        t.push(["b:1"], 0);
        assert_eq!(t.len(), 3);
        assert_eq!(t.get(0), Some((&["a:1", "b:1", "c:1"][..], 1)));
        assert_eq!(t.get(1), Some((&[][..], 0)));
        assert_eq!(t.get(2), Some((&["b:1"][..], 0)));
        assert_eq!(t.get(3), None);
        t.clear();
        assert_eq!(t.get(0), None);
    }
}
