//! Gossip across real members on loopback: the conformance suite on one member, and
//! three members converging on plain keys, on concurrent ring updates, with
//! lifecyclers, after a member stops and after a forget.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cortex_core::limits::Duration as CfgDuration;

use super::{DescMerge, GossipKv, MergeRegistry};
use crate::config::{LifecyclerConfig, MemberlistConfig};
use crate::desc::{Desc, InstanceState};
use crate::forget::forget;
use crate::kv::{Kv, StopSignal, cas_desc, get_desc};
use crate::lifecycler::Lifecycler;
use crate::tokens::TokenGenerator;

const RING: &str = "collectors/ring";

fn cfg(name: &str, seeds: &[&GossipKv]) -> MemberlistConfig {
    MemberlistConfig {
        node_name: name.to_string(),
        randomize_node_name: false,
        join_members: seeds.iter().map(|k| k.local_addr().to_string()).collect(),
        bind_addr: vec!["127.0.0.1".into()],
        bind_port: 0,
        gossip_interval: CfgDuration::from_millis(50),
        pull_push_interval: CfgDuration::from_millis(200),
        gossip_to_dead_nodes_time: CfgDuration::from_secs(2),
        stream_timeout: CfgDuration::from_secs(2),
        ..Default::default()
    }
}

fn rules() -> MergeRegistry {
    let mut r = MergeRegistry::new();
    r.register(RING, Arc::new(DescMerge::new(Duration::from_secs(300))));
    r
}

fn member(name: &str, seeds: &[&GossipKv]) -> Arc<GossipKv> {
    Arc::new(GossipKv::start(&cfg(name, seeds), rules()).expect("member starts"))
}

fn cluster() -> Vec<Arc<GossipKv>> {
    let a = member("node-0", &[]);
    let b = member("node-1", &[&a]);
    let c = member("node-2", &[&a]);
    let nodes = vec![a, b, c];
    wait_for("everyone knows everyone", || {
        nodes.iter().all(|n| n.members().len() == 2)
    });
    nodes
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn ring_ids(kv: &dyn Kv) -> Vec<String> {
    get_desc(kv, RING)
        .unwrap()
        .unwrap_or_default()
        .ingesters
        .into_keys()
        .collect()
}

#[test]
fn a_single_member_passes_the_conformance_suite() {
    let kv = member("solo", &[]);
    crate::kv::testing::kv_conformance(&*kv);
}

#[test]
fn binding_a_bad_address_is_an_error() {
    let mut c = cfg("x", &[]);
    c.bind_addr = vec!["not-an-ip".into()];
    assert!(matches!(
        GossipKv::start(&c, rules()),
        Err(super::GossipError::Bind { .. })
    ));
}

#[test]
fn a_write_on_one_member_reaches_the_others_get_and_watch() {
    let nodes = cluster();
    let stop = StopSignal::new();
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut seen = Vec::new();
            nodes[2].watch_key("plain/k", &stop, &mut |v| {
                seen.push(v.clone());
                v.as_deref() != Some(&b"v2"[..])
            });
            seen
        });
        nodes[0]
            .cas("plain/k", &mut |_| Ok(Some(Bytes::from_static(b"v1"))))
            .unwrap();
        wait_for("v1 on node-1", || {
            nodes[1].get("plain/k").unwrap().as_deref() == Some(&b"v1"[..])
        });
        // A later write from another member wins everywhere.
        nodes[1]
            .cas("plain/k", &mut |cur| {
                assert_eq!(cur.as_deref(), Some(&b"v1"[..]));
                Ok(Some(Bytes::from_static(b"v2")))
            })
            .unwrap();
        for n in &nodes {
            wait_for("v2 everywhere", || {
                n.get("plain/k").unwrap().as_deref() == Some(&b"v2"[..])
            });
        }
        wait_for("watcher done", || watcher.is_finished());
        stop.stop();
        let seen = watcher.join().unwrap();
        // The watch may start before or after the first write lands.
        let allowed = [None, Some(&b"v1"[..]), Some(&b"v2"[..])];
        assert!(
            seen.iter().all(|v| allowed.contains(&v.as_deref())),
            "{seen:?}"
        );
        assert_eq!(seen.last().unwrap().as_deref(), Some(&b"v2"[..]));
    });
    nodes[2].delete("plain/k").unwrap();
    for n in &nodes {
        wait_for("deletion everywhere", || {
            n.get("plain/k").unwrap().is_none()
        });
        assert!(n.list("plain/").unwrap().is_empty());
    }
}

#[test]
fn concurrent_ring_cas_on_different_members_converges_to_both() {
    let nodes = cluster();
    std::thread::scope(|s| {
        for (i, n) in nodes.iter().take(2).enumerate() {
            s.spawn(move || {
                let id = format!("ing-{i}");
                cas_desc(&**n, RING, |cur| {
                    let mut d = cur.unwrap_or_default();
                    d.add_ingester(&id, &id, "", vec![i as u32 + 1], InstanceState::ACTIVE, 0);
                    Ok(Some(d))
                })
                .unwrap();
            });
        }
    });
    for n in &nodes {
        wait_for("both instances on every member", || {
            ring_ids(&**n) == ["ing-0", "ing-1"]
        });
    }
    let d: Desc = get_desc(&*nodes[2], RING).unwrap().unwrap();
    assert_eq!(d.tokens(), vec![1, 2]);
}

fn lifecycler(i: usize, kv: &Arc<GossipKv>) -> Lifecycler {
    let id = format!("ing-{i}");
    let cfg = LifecyclerConfig {
        address: format!("{id}.local"),
        id,
        port: 9095,
        num_tokens: 16,
        heartbeat_period: CfgDuration::from_millis(100),
        final_sleep: CfgDuration::ZERO,
        ..Default::default()
    };
    let kv: Arc<dyn Kv> = kv.clone();
    Lifecycler::start_with_generator(cfg, kv, RING, TokenGenerator::with_seed(i as u64 + 7))
        .expect("lifecycler starts")
}

#[test]
fn lifecyclers_on_each_member_survive_a_stop_and_a_forget() {
    let mut nodes = cluster();
    let mut ls: Vec<Lifecycler> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| lifecycler(i, n))
        .collect();
    for n in &nodes {
        wait_for("three ACTIVE instances in every member's ring", || {
            let d = get_desc(&**n, RING).unwrap().unwrap_or_default();
            d.ingesters.len() == 3
                && d.ingesters
                    .values()
                    .all(|i| i.state == InstanceState::ACTIVE)
        });
    }
    let mut tokens = get_desc(&*nodes[0], RING).unwrap().unwrap().tokens();
    tokens.dedup();
    assert_eq!(tokens.len(), 48, "every instance's tokens are visible");

    // Member 2 crashes: its lifecycler and its replica go away without unregistering.
    drop(ls.pop());
    let gone = nodes.pop().unwrap();
    let gone_name = gone.name().to_string();
    drop(gone);
    for n in &nodes {
        wait_for("the stopped member is dropped", || {
            n.members().iter().all(|(name, _)| *name != gone_name)
        });
    }
    // The others keep working.
    nodes[1]
        .cas("plain/after", &mut |_| Ok(Some(Bytes::from_static(b"ok"))))
        .unwrap();
    wait_for("a write after the stop", || {
        nodes[0].get("plain/after").unwrap().is_some()
    });

    // Forgetting the crashed instance on one member removes it everywhere.
    assert_eq!(forget(&*nodes[0], RING, "ing-2"), Ok(true));
    for n in &nodes {
        wait_for("the forget reaches every member", || {
            ring_ids(&**n) == ["ing-0", "ing-1"]
        });
    }
    // Heartbeats of the live instances do not bring the forgotten one back.
    std::thread::sleep(Duration::from_millis(400));
    for n in &nodes {
        assert_eq!(ring_ids(&**n), ["ing-0", "ing-1"]);
    }
    for l in ls {
        l.leave().unwrap();
    }
    for n in &nodes {
        wait_for("clean leaves reach every member", || {
            ring_ids(&**n).is_empty()
        });
    }
}
