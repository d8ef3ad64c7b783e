//! Two distributors' HA trackers sharing one KV store — the in-memory store, a real
//! etcd (skipped with a printed reason when `etcd` is missing, except under
//! `CI=true`) and two gossip members — all run through [`two_distributors_agree`].
//! Times are logical milliseconds passed to the tracker, so nothing sleeps except to
//! wait for gossip to spread.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cortex_core::distributor::ha::{
    CleanupStats, DELETION_TIMEOUT, HaError, HaLimits, HaTracker, HaTrackerConfig,
    MemoryReplicaStore, ReplicaDesc, ReplicaStore,
};
use cortex_core::limits::Duration as CfgDuration;

use super::{HA_TRACKER_PREFIX, KvReplicaStore, encode, store_from_config};
use crate::config::{EtcdConfig, KvConfig, MemberlistConfig};
use crate::kv::memory::InMemoryKv;
use crate::kv::prefixed::PrefixedKv;
use crate::kv::test_etcd::TestEtcd;
use crate::kv::{Kv, etcd::EtcdKv};

const CONFIG: HaTrackerConfig = HaTrackerConfig {
    update_timeout: CfgDuration::from_millis(500),
    update_timeout_jitter_max: CfgDuration::from_millis(0),
};

const LIMITS: HaLimits = HaLimits {
    failover_timeout_ms: 2_000,
    max_clusters: 2,
};

fn not_match(replica: &str, elected: &str) -> Result<bool, HaError> {
    Err(HaError::ReplicasNotMatch {
        replica: replica.into(),
        elected: elected.into(),
    })
}

/// Waits until `store` holds an entry for (`tenant`, `cluster`) that `want` accepts
/// (`None`: until it holds none); reads the store, never a tracker's cache.
fn wait_stored(
    store: &dyn ReplicaStore,
    tenant: &str,
    cluster: &str,
    what: &str,
    want: impl Fn(Option<&ReplicaDesc>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = store.list().expect("listing the store");
        let entry = listed
            .iter()
            .find(|s| s.tenant == tenant && s.cluster == cluster)
            .map(|s| &s.desc);
        if want(entry) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn elected(replica: &'static str) -> impl Fn(Option<&ReplicaDesc>) -> bool {
    move |d| d.is_some_and(|d| d.replica == replica && !d.is_deleted())
}

/// The behaviour every store must give two distributors `a` and `b` (each with its
/// own handle on one shared store).
fn two_distributors_agree(store_a: Arc<dyn ReplicaStore>, store_b: Arc<dyn ReplicaStore>) {
    let a = HaTracker::with_store(store_a.clone(), &CONFIG);
    let b = HaTracker::with_store(store_b.clone(), &CONFIG);

    // A elects r1.
    assert_eq!(a.check("u", "c1", "r1", 1_000, LIMITS), Ok(true));
    wait_stored(&*store_b, "u", "c1", "r1 at B", elected("r1"));
    // B, which has not seen c1 yet, asks the store: r2 is refused with a 202 ...
    let err = b.check("u", "c1", "r2", 1_600, LIMITS);
    assert_eq!(err, not_match("r2", "r1"));
    assert_eq!(err.unwrap_err().http_status(), 202);
    // ... and r1 accepted (its received_at is refreshed: past the update timeout).
    assert_eq!(b.check("u", "c1", "r1", 1_700, LIMITS), Ok(false));
    assert_eq!(b.elected("u", "c1").as_deref(), Some("r1"));
    wait_stored(&*store_a, "u", "c1", "the refresh at A", |d| {
        d.is_some_and(|d| d.received_at == 1_700)
    });
    // Still within the failover timeout of the refresh: r2 is refused at A.
    assert_eq!(
        a.check("u", "c1", "r2", 3_600, LIMITS),
        not_match("r2", "r1")
    );

    // r1 silent for the failover timeout: r2 pushing through B takes over ...
    assert_eq!(b.check("u", "c1", "r2", 3_700, LIMITS), Ok(true));
    wait_stored(&*store_a, "u", "c1", "r2 at A", elected("r2"));
    // ... and A, whose cache still says r1, refuses r1 and then accepts r2.
    assert_eq!(
        a.check("u", "c1", "r1", 3_800, LIMITS),
        not_match("r1", "r2")
    );
    assert_eq!(a.elected("u", "c1").as_deref(), Some("r2"));
    assert_eq!(a.check("u", "c1", "r2", 3_800, LIMITS), Ok(false));

    // ha_max_clusters counts the clusters another distributor elected, once synced.
    assert_eq!(a.check("u", "c2", "r1", 3_800, LIMITS), Ok(true));
    wait_stored(&*store_b, "u", "c2", "c2 at B", elected("r1"));
    assert_eq!(b.sync(), Ok(2));
    assert_eq!(b.clusters("u"), 2);
    assert_eq!(
        b.check("u", "c3", "r1", 3_900, LIMITS),
        Err(HaError::TooManyClusters { limit: 2 })
    );
    assert_eq!(b.check("u", "c2", "r1", 3_900, LIMITS), Ok(false));
    assert_eq!(b.check("v", "c1", "r9", 3_900, LIMITS), Ok(true));

    // A restarted distributor (a new tracker on the same store) knows the election.
    let restarted = HaTracker::with_store(store_a.clone(), &CONFIG);
    assert_eq!(
        restarted.check("u", "c1", "r1", 3_900, LIMITS),
        not_match("r1", "r2")
    );
    assert_eq!(restarted.check("u", "c1", "r2", 3_900, LIMITS), Ok(false));
    let restarted = HaTracker::with_store(store_a.clone(), &CONFIG);
    wait_stored(&*store_a, "v", "c1", "v/c1 at A", elected("r9"));
    assert_eq!(restarted.sync(), Ok(3));
    assert_eq!(restarted.elected("u", "c2").as_deref(), Some("r1"));
    assert_eq!(
        restarted.check("u", "c3", "r1", 3_900, LIMITS),
        Err(HaError::TooManyClusters { limit: 2 })
    );

    // Cleanup: entries not written for the deletion timeout are marked deleted, which
    // frees the tenant's clusters everywhere, and removed a deletion timeout later.
    let timeout = DELETION_TIMEOUT.as_millis() as i64;
    let now = 10_000 + timeout;
    assert_eq!(
        a.cleanup(now),
        Ok(CleanupStats {
            marked: 3,
            deleted: 0,
            failed: 0
        })
    );
    assert_eq!(a.clusters("u"), 0);
    for (tenant, cluster) in [("u", "c1"), ("u", "c2"), ("v", "c1")] {
        wait_stored(&*store_b, tenant, cluster, "the mark at B", |d| {
            d.is_some_and(ReplicaDesc::is_deleted)
        });
    }
    assert_eq!(b.sync(), Ok(0));
    assert_eq!(b.elected("u", "c1"), None);
    assert_eq!(b.check("u", "c3", "r1", now, LIMITS), Ok(true));
    wait_stored(&*store_a, "u", "c3", "c3 at A", elected("r1"));
    assert_eq!(
        a.cleanup(now + timeout),
        Ok(CleanupStats {
            marked: 0,
            deleted: 3,
            failed: 0
        })
    );
    for (tenant, cluster) in [("u", "c1"), ("u", "c2"), ("v", "c1")] {
        wait_stored(&*store_b, tenant, cluster, "the deletion at B", |d| {
            d.is_none()
        });
    }
    assert_eq!(b.sync(), Ok(1));
    assert_eq!(b.elected("u", "c3").as_deref(), Some("r1"));
}

fn prefixed(kv: Arc<dyn Kv>) -> Arc<dyn ReplicaStore> {
    Arc::new(KvReplicaStore::new(Arc::new(PrefixedKv::new(
        kv,
        HA_TRACKER_PREFIX,
    ))))
}

#[test]
fn two_distributors_agree_over_the_memory_replica_store() {
    let store: Arc<dyn ReplicaStore> = Arc::new(MemoryReplicaStore::new());
    two_distributors_agree(store.clone(), store);
}

#[test]
fn two_distributors_agree_over_the_in_memory_kv() {
    let kv: Arc<dyn Kv> = Arc::new(InMemoryKv::new());
    two_distributors_agree(prefixed(kv.clone()), prefixed(kv));
}

#[test]
fn two_distributors_agree_over_etcd() {
    let Some(etcd) = TestEtcd::start_or_skip("two_distributors_agree_over_etcd") else {
        return;
    };
    let client = || -> Arc<dyn Kv> {
        Arc::new(
            EtcdKv::new(&EtcdConfig {
                endpoints: vec![etcd.endpoint()],
                dial_timeout: CfgDuration::from_secs(5),
                ..Default::default()
            })
            .expect("connecting to the test etcd"),
        )
    };
    two_distributors_agree(prefixed(client()), prefixed(client()));
}

fn gossip_config(name: &str, port: u16, seeds: Vec<String>) -> KvConfig {
    KvConfig {
        store: "memberlist".into(),
        prefix: HA_TRACKER_PREFIX.into(),
        memberlist: MemberlistConfig {
            node_name: name.to_string(),
            randomize_node_name: false,
            join_members: seeds,
            bind_addr: vec!["127.0.0.1".into()],
            bind_port: port,
            gossip_interval: CfgDuration::from_millis(50),
            pull_push_interval: CfgDuration::from_millis(200),
            gossip_to_dead_nodes_time: CfgDuration::from_secs(2),
            stream_timeout: CfgDuration::from_secs(2),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn two_distributors_agree_over_gossip() {
    // Two members built as the server builds the HA store, the second joining the
    // first (which listens on a port picked free beforehand).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let first = store_from_config(&gossip_config("ha-0", port, Vec::new())).expect("member starts");
    let seed = format!("127.0.0.1:{port}");
    let second = store_from_config(&gossip_config("ha-1", 0, vec![seed])).expect("member starts");
    two_distributors_agree(
        Arc::new(KvReplicaStore::new(first)),
        Arc::new(KvReplicaStore::new(second)),
    );
}

#[test]
fn entries_are_stored_as_replica_desc_protobuf_under_tenant_and_cluster() {
    let inner = Arc::new(InMemoryKv::new());
    let store = prefixed(inner.clone());
    let t = HaTracker::with_store(store, &CONFIG);
    assert_eq!(
        t.check("tenant-1", "eu/west", "r1", 1_000, LIMITS),
        Ok(true)
    );
    assert_eq!(
        inner.get("ha-tracker/tenant-1/eu/west").unwrap(),
        Some(encode(&ReplicaDesc {
            replica: "r1".into(),
            received_at: 1_000,
            deleted_at: 0,
        }))
    );
    // The cluster keeps its '/' when listed back.
    let listed = KvReplicaStore::new(Arc::new(PrefixedKv::new(inner, HA_TRACKER_PREFIX)))
        .list()
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (&*listed[0].tenant, &*listed[0].cluster),
        ("tenant-1", "eu/west")
    );
}

#[test]
fn a_value_that_does_not_decode_is_a_store_error_and_skipped_by_listing() {
    let inner: Arc<dyn Kv> = Arc::new(InMemoryKv::new());
    inner
        .cas("ha-tracker/u/bad", &mut |_| {
            Ok(Some(Bytes::from_static(b"\x0a\x09")))
        })
        .unwrap();
    inner
        .cas("ha-tracker/ring", &mut |_| {
            Ok(Some(Bytes::from_static(b"{}")))
        })
        .unwrap();
    let store = prefixed(inner);
    let t = HaTracker::with_store(store.clone(), &CONFIG);
    let err = t.check("u", "bad", "r1", 0, LIMITS).unwrap_err();
    assert!(
        matches!(&err, HaError::Store(m) if m.contains("u/bad")),
        "{err}"
    );
    assert_eq!(err.http_status(), 500);
    assert_eq!(store.list(), Ok(Vec::new()));
    assert_eq!(t.sync(), Ok(0));
}
