//! Removing instances from the ring without their cooperation: by hand (the `Forget`
//! button of the `/ingester/ring` page) and automatically, when an instance has not
//! heartbeated for a long time (Cortex's `AutoForgetFromRing`, run on every heartbeat
//! of a lifecycler configured with `auto_forget_delay`).
//!
//! An instance that shut down cleanly removes itself (`lifecycler.rs`); these are for
//! the ones that crashed and never came back, whose tokens would otherwise keep
//! counting as unhealthy replicas.

use std::time::{Duration, SystemTime};

use crate::desc::{Desc, unix_seconds};
use crate::kv::{CasError, Kv, KvError, cas_desc};

/// Removes instance `id` from the ring stored under `key`. Returns whether the instance
/// was registered; forgetting an unknown instance changes nothing. Fails with Cortex's
/// message when there is no ring at all.
pub fn forget(kv: &dyn Kv, key: &str, id: &str) -> Result<bool, KvError> {
    let mut found = false;
    cas_desc(kv, key, |cur| {
        let mut desc =
            cur.ok_or_else(|| CasError::abort("found empty ring when trying to unregister"))?;
        found = desc.remove_ingester(id).is_some();
        Ok(found.then_some(desc))
    })?;
    Ok(found)
}

/// Removes from `desc` every instance whose last heartbeat is more than
/// `forget_period` before `now` and returns their IDs, sorted. A zero period forgets
/// nothing.
pub fn auto_forget(desc: &mut Desc, forget_period: Duration, now: SystemTime) -> Vec<String> {
    if forget_period.is_zero() {
        return Vec::new();
    }
    let limit = i64::try_from(forget_period.as_secs()).unwrap_or(i64::MAX);
    let now = unix_seconds(now);
    let mut forgotten = Vec::new();
    desc.ingesters.retain(|id, inst| {
        let keep = now.saturating_sub(inst.timestamp) <= limit;
        if !keep {
            forgotten.push(id.clone());
        }
        keep
    });
    forgotten
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desc::InstanceState;
    use crate::kv::get_desc;
    use crate::kv::memory::InMemoryKv;
    use std::time::UNIX_EPOCH;

    const KEY: &str = "collectors/ring";

    #[test]
    fn forget_removes_one_instance_and_reports_unknown_ones() {
        let kv = InMemoryKv::new();
        assert_eq!(
            forget(&kv, KEY, "a").unwrap_err().to_string(),
            "found empty ring when trying to unregister"
        );
        cas_desc(&kv, KEY, |_| {
            let mut d = Desc::new();
            d.add_ingester("a", "a:1", "", vec![1], InstanceState::ACTIVE, 0);
            d.add_ingester("b", "b:1", "", vec![2], InstanceState::LEAVING, 0);
            Ok(Some(d))
        })
        .unwrap();
        assert_eq!(forget(&kv, KEY, "a"), Ok(true));
        assert_eq!(forget(&kv, KEY, "a"), Ok(false));
        let left: Vec<String> = get_desc(&kv, KEY)
            .unwrap()
            .unwrap()
            .ingesters
            .into_keys()
            .collect();
        assert_eq!(left, ["b"]);
    }

    #[test]
    fn auto_forget_uses_a_strict_age_limit() {
        let mut d = Desc::new();
        for (id, beat) in [("fresh", 1000), ("edge", 400), ("old", 399), ("ancient", 0)] {
            d.add_ingester(id, id, "", vec![], InstanceState::ACTIVE, 0)
                .timestamp = beat;
        }
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        assert!(auto_forget(&mut d.clone(), Duration::ZERO, now).is_empty());
        let gone = auto_forget(&mut d, Duration::from_secs(600), now);
        assert_eq!(gone, ["ancient", "old"]);
        assert_eq!(d.ingesters.keys().collect::<Vec<_>>(), ["edge", "fresh"]);
    }
}
