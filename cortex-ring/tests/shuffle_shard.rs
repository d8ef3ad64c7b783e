//! Shuffle sharding across a realistic ring: stability, zone balance, consistency when
//! other instances come and go, the lookback for reads, the per-snapshot cache, and the
//! measured overlap between tenants' shards.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cortex_ring::desc::unix_seconds;
use cortex_ring::shuffle::{shuffle_shard_instances_per_zone, shuffle_shard_seed};
use cortex_ring::{Desc, InstanceState, Ring, RingConfig, TokenGenerator};

const DAY: i64 = 86_400;

/// `n` ACTIVE instances with 128 seeded tokens each, spread round-robin over `zones`
/// zones (none when 0), registered a day ago.
fn desc(n: usize, zones: usize, seed: u64) -> Desc {
    let mut g = TokenGenerator::with_seed(seed);
    let mut d = Desc::new();
    let registered = unix_seconds(SystemTime::now()) - DAY;
    for i in 0..n {
        add(&mut d, &mut g, &format!("ing-{i:03}"), zones, i, registered);
    }
    d
}

fn add(d: &mut Desc, g: &mut TokenGenerator, id: &str, zones: usize, i: usize, registered: i64) {
    let zone = if zones == 0 {
        String::new()
    } else {
        format!("zone-{}", i % zones)
    };
    let tokens = g.generate(128, &d.tokens());
    d.add_ingester(
        id,
        &format!("{id}:9095"),
        &zone,
        tokens,
        InstanceState::ACTIVE,
        registered,
    );
}

fn ring(d: Desc, zone_aware: bool) -> Arc<Ring> {
    let cfg = RingConfig {
        zone_awareness_enabled: zone_aware,
        ..Default::default()
    };
    Arc::new(Ring::new(d, &cfg).unwrap())
}

fn ids(r: &Ring) -> BTreeSet<String> {
    r.desc().ingesters.keys().cloned().collect()
}

fn zone_counts(r: &Ring) -> Vec<usize> {
    let mut counts = std::collections::BTreeMap::new();
    for i in r.desc().ingesters.values() {
        *counts.entry(i.zone.clone()).or_insert(0) += 1;
    }
    counts.into_values().collect()
}

#[test]
fn seed_is_md5_of_tenant_and_zone() {
    // `printf 'user-1' | md5sum` = d6d7705392bc7af6...; `printf 'user-1\0zone-a' |
    // md5sum` = 32f2e060be151a2b...: the seed is the first 8 bytes, big-endian.
    assert_eq!(
        shuffle_shard_seed("user-1", "") as u64,
        0xd6d7_7053_92bc_7af6
    );
    assert_eq!(
        shuffle_shard_seed("user-1", "zone-a") as u64,
        0x32f2_e060_be15_1a2b
    );
    assert_ne!(
        shuffle_shard_seed("user-1", "zone-a"),
        shuffle_shard_seed("user-1", "zone-b")
    );
    assert_eq!(shuffle_shard_instances_per_zone(4, 3), 2);
    assert_eq!(shuffle_shard_instances_per_zone(6, 3), 2);
    assert_eq!(shuffle_shard_instances_per_zone(7, 3), 3);
    assert_eq!(shuffle_shard_instances_per_zone(4, 1), 4);
}

#[test]
fn shard_is_deterministic_and_has_the_requested_size() {
    let d = desc(52, 0, 1);
    let a = ring(d.clone(), false);
    let b = ring(d, false);
    for t in 0..50 {
        let tenant = format!("tenant-{t}");
        let sa = a.shuffle_shard(&tenant, 4);
        assert_eq!(sa.instances_count(), 4, "{tenant}");
        assert_eq!(ids(&sa), ids(&b.shuffle_shard(&tenant, 4)), "{tenant}");
        let listed: BTreeSet<String> = a
            .shuffle_shard_instance_ids(&tenant, 4)
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(listed, ids(&sa), "{tenant}");
        // The subring keeps the parent's settings and answers lookups.
        assert_eq!(sa.replication_factor(), 3);
        let rs = sa
            .get(
                12345,
                cortex_ring::Operation::WRITE,
                &mut Default::default(),
            )
            .unwrap();
        assert_eq!(rs.instances.len(), 3);
        assert!(rs.instances.iter().all(|i| ids(&sa).contains(&i.id)));
    }
    let distinct: BTreeSet<BTreeSet<String>> = (0..50)
        .map(|t| ids(&a.shuffle_shard(&format!("tenant-{t}"), 4)))
        .collect();
    assert!(distinct.len() > 45, "tenants mostly get different shards");
}

#[test]
fn size_zero_or_at_least_the_instance_count_is_the_whole_ring() {
    let r = ring(desc(10, 0, 2), false);
    for size in [0, 10, 11, 1000] {
        assert!(Arc::ptr_eq(&r.shuffle_shard("t", size), &r), "size {size}");
    }
    assert_eq!(r.shuffle_shard("t", 9).instances_count(), 9);
    assert_eq!(r.cached_shards(), 1, "whole-ring answers are not cached");
}

#[test]
fn zone_aware_shards_are_balanced_and_rounded_up() {
    let r = ring(desc(30, 3, 3), true);
    for t in 0..30 {
        let tenant = format!("tenant-{t}");
        for (size, per_zone) in [(1, 1), (3, 1), (4, 2), (6, 2), (7, 3), (9, 3)] {
            let s = r.shuffle_shard(&tenant, size);
            assert_eq!(zone_counts(&s), vec![per_zone; 3], "{tenant} size {size}");
        }
    }
    // Not zone-aware: the exact size, wherever the instances are.
    let r = ring(desc(30, 3, 3), false);
    assert_eq!(r.shuffle_shard("tenant-1", 4).instances_count(), 4);
}

/// Adding instances can only bring some of them into a shard, each displacing one old
/// member; removing instances outside a shard leaves it exactly as it was.
fn check_consistency(zones: usize) {
    let zone_aware = zones > 0;
    let base = desc(52, zones, 4);
    let before = ring(base.clone(), zone_aware);
    let mut grown = base.clone();
    let mut g = TokenGenerator::with_seed(99);
    let added: BTreeSet<String> = (0..6).map(|i| format!("new-{i}")).collect();
    for (i, id) in added.iter().enumerate() {
        add(&mut grown, &mut g, id, zones, i, 0);
    }
    let after = ring(grown, zone_aware);
    let mut moved = 0;
    for t in 0..200 {
        let tenant = format!("tenant-{t}");
        let old = ids(&before.shuffle_shard(&tenant, 6));
        let new = ids(&after.shuffle_shard(&tenant, 6));
        let joined: BTreeSet<_> = new.intersection(&added).cloned().collect();
        let lost: BTreeSet<_> = old.difference(&new).cloned().collect();
        assert_eq!(lost.len(), joined.len(), "{tenant}: {old:?} -> {new:?}");
        assert_eq!(
            new.difference(&joined).count() + lost.len(),
            old.len(),
            "{tenant}"
        );
        moved += lost.len();

        // Remove ten instances outside this tenant's shard: nothing moves.
        let mut shrunk = base.clone();
        let outside: Vec<String> = base
            .ingesters
            .keys()
            .filter(|id| !old.contains(*id))
            .take(10)
            .cloned()
            .collect();
        for id in &outside {
            shrunk.remove_ingester(id);
        }
        assert_eq!(
            ids(&ring(shrunk, zone_aware).shuffle_shard(&tenant, 6)),
            old,
            "{tenant} after removing {outside:?}"
        );
    }
    // With 6 of 58 instances new, about a tenth of shard members should move.
    println!("zones={zones}: {moved} of 1200 shard members moved after adding 6 instances");
    assert!(moved > 0 && moved < 300, "moved {moved}");
}

#[test]
fn shard_does_not_move_when_unrelated_instances_join_or_leave() {
    check_consistency(0);
}

#[test]
fn zone_aware_shard_does_not_move_when_unrelated_instances_join_or_leave() {
    check_consistency(3);
}

#[test]
fn lookback_adds_recently_registered_and_readonly_instances() {
    let now = SystemTime::now();
    let now_secs = unix_seconds(now);
    let mut d = desc(40, 0, 5);
    let r = ring(d.clone(), false);
    let plain = ids(&r.shuffle_shard("tenant-x", 4));

    // Mark two of the shard as registered 10 minutes ago and one as READONLY.
    let members: Vec<String> = plain.iter().cloned().collect();
    for id in &members[..2] {
        d.ingesters.get_mut(id).unwrap().registered_timestamp = now_secs - 600;
    }
    d.ingesters.get_mut(&members[2]).unwrap().state = InstanceState::READONLY;
    let r = ring(d, false);

    // Without a lookback only READONLY is passed over: one more instance replaces it.
    let no_lookback = ids(&r.shuffle_shard("tenant-x", 4));
    assert_eq!(no_lookback.len(), 5);
    assert!(plain.is_subset(&no_lookback));

    // A one-hour lookback keeps the two new instances and finds two more.
    let hour = Duration::from_secs(3600);
    let with = ids(&r.shuffle_shard_with_lookback("tenant-x", 4, hour, now));
    assert_eq!(with.len(), 7, "{with:?}");
    assert!(no_lookback.is_subset(&with));

    // A five-minute lookback no longer covers them.
    let short = Duration::from_secs(300);
    assert_eq!(
        ids(&r.shuffle_shard_with_lookback("tenant-x", 4, short, now)),
        no_lookback
    );

    // The cached answer expires once the instances age out of the window.
    let later = now + Duration::from_secs(3600 - 600 + 1);
    assert_eq!(
        ids(&r.shuffle_shard_with_lookback("tenant-x", 4, hour, later)),
        no_lookback
    );
    // (A later snapshot asked about the earlier time computes it afresh.)
    let again = ring(r.desc().as_ref().clone(), false);
    assert_eq!(
        ids(&again.shuffle_shard_with_lookback("tenant-x", 4, hour, now)),
        with
    );
}

#[test]
fn subrings_are_cached_per_snapshot() {
    let d = desc(20, 0, 6);
    let r = ring(d.clone(), false);
    let a = r.shuffle_shard("t1", 3);
    assert!(Arc::ptr_eq(&a, &r.shuffle_shard("t1", 3)));
    assert!(!Arc::ptr_eq(&a, &r.shuffle_shard("t1", 4)));
    r.shuffle_shard("t2", 3);
    assert_eq!(r.cached_shards(), 3);
    // A new snapshot (the client builds one per ring change) starts empty.
    let fresh = ring(d, false);
    assert_eq!(fresh.cached_shards(), 0);
    assert_eq!(ids(&fresh.shuffle_shard("t1", 3)), ids(&a));
}

/// How often two tenants' shards share at most one and at most two instances.
fn sharing(zones: usize, pairs: usize) -> (f64, f64, Vec<usize>) {
    let r = ring(desc(52, zones, 7), zones > 0);
    let mut hist = vec![0usize; 8];
    for p in 0..pairs {
        let a = r.shuffle_shard_instance_ids(&format!("tenant-{}", 2 * p), 4);
        let b = r.shuffle_shard_instance_ids(&format!("tenant-{}", 2 * p + 1), 4);
        let shared = a.iter().filter(|id| b.contains(id)).count();
        if let Some(h) = hist.get_mut(shared) {
            *h += 1;
        }
    }
    let le = |k: usize| hist[..=k].iter().sum::<usize>() as f64 / pairs as f64;
    (le(1), le(2), hist)
}

#[test]
fn tenants_rarely_share_more_than_one_instance() {
    const PAIRS: usize = 10_000;
    for zones in [0, 3] {
        let (le1, le2, hist) = sharing(zones, PAIRS);
        println!(
            "52 instances, shard size 4, zones={zones}: P(shared<=1)={:.2}% P(shared<=2)={:.2}% histogram {hist:?} over {PAIRS} tenant pairs",
            le1 * 100.0,
            le2 * 100.0
        );
        assert!(le1 >= 0.73, "zones={zones}: P(<=1) = {le1}");
        assert!(le2 >= 0.93, "zones={zones}: P(<=2) = {le2}");
    }
}
