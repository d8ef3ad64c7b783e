//! Merge rules: how two replicas' values of one key are combined, chosen per key by
//! the longest registered key prefix. A key without a rule is last-writer-wins, decided
//! by the store itself (`store.rs`) from each entry's version and writer; this module
//! only holds the rules for values that know how to merge (the ring [`Desc`]).
//!
//! [`Desc`]: crate::desc::Desc

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;

/// A value type whose replicas can be merged, so concurrent updates from different
/// members converge without coordination.
///
/// [`Merge::merge`] must be commutative, associative and idempotent on the values the
/// store holds, or members can end up with different values.
pub trait Merge: Send + Sync + std::fmt::Debug {
    /// Combines the value held here with one received from a peer. A value that cannot
    /// be decoded is an error (the store then keeps its own).
    fn merge(&self, ours: &[u8], theirs: &[u8]) -> Result<Bytes, String>;

    /// Applies a local CAS: `new` is what the callback returned after reading
    /// [`Merge::view`] of `current`, and is authoritative for everything it changed;
    /// what it dropped is recorded so the removal can spread (as tombstones).
    fn apply_local(
        &self,
        current: Option<&[u8]>,
        new: &[u8],
        now: SystemTime,
    ) -> Result<Bytes, String>;

    /// What readers of the store see: the stored value without its tombstones.
    fn view(&self, stored: &[u8]) -> Bytes {
        Bytes::copy_from_slice(stored)
    }

    /// Drops tombstones that have lived long enough; `None` when nothing changes.
    fn compact(&self, _stored: &[u8], _now: SystemTime) -> Option<Bytes> {
        None
    }
}

/// The merge rules of a store, by key prefix.
#[derive(Debug, Clone, Default)]
pub struct MergeRegistry {
    rules: Vec<(String, Arc<dyn Merge>)>,
}

impl MergeRegistry {
    /// No rules: every key is last-writer-wins.
    pub fn new() -> MergeRegistry {
        MergeRegistry::default()
    }

    /// Uses `rule` for every key starting with `prefix` (the longest matching prefix
    /// wins); registering a prefix again replaces its rule.
    pub fn register(&mut self, prefix: impl Into<String>, rule: Arc<dyn Merge>) {
        let prefix = prefix.into();
        self.rules.retain(|(p, _)| *p != prefix);
        self.rules.push((prefix, rule));
    }

    /// The rule for `key`, `None` for last-writer-wins.
    pub fn rule_for(&self, key: &str) -> Option<&Arc<dyn Merge>> {
        self.rules
            .iter()
            .filter(|(p, _)| key.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len())
            .map(|(_, r)| r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Tag(&'static str);

    impl Merge for Tag {
        fn merge(&self, _: &[u8], _: &[u8]) -> Result<Bytes, String> {
            Ok(Bytes::from_static(self.0.as_bytes()))
        }
        fn apply_local(&self, _: Option<&[u8]>, _: &[u8], _: SystemTime) -> Result<Bytes, String> {
            Ok(Bytes::from_static(self.0.as_bytes()))
        }
    }

    fn tag(r: &MergeRegistry, key: &str) -> Option<Bytes> {
        r.rule_for(key).map(|m| m.merge(b"", b"").unwrap())
    }

    #[test]
    fn longest_prefix_wins_and_unmatched_keys_have_no_rule() {
        let mut r = MergeRegistry::new();
        r.register("collectors/", Arc::new(Tag("short")));
        r.register("collectors/ring", Arc::new(Tag("long")));
        assert_eq!(tag(&r, "collectors/ring").as_deref(), Some(&b"long"[..]));
        assert_eq!(tag(&r, "collectors/other").as_deref(), Some(&b"short"[..]));
        assert_eq!(tag(&r, "elsewhere"), None);
        r.register("collectors/ring", Arc::new(Tag("replaced")));
        assert_eq!(
            tag(&r, "collectors/ring").as_deref(),
            Some(&b"replaced"[..])
        );
    }
}
