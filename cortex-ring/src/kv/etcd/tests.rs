//! [`EtcdKv`] against a real etcd: the conformance suite, two clients sharing one
//! etcd, the lifecycler and ring client on top, a watch that survives an etcd restart,
//! and calls from a tokio runtime's blocking pool. Each test starts its own etcd and
//! skips (with a printed reason) when the binary is missing, except under `CI=true`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cortex_core::limits::Duration as CfgDuration;

use super::EtcdKv;
use crate::config::{EtcdConfig, KvConfig, LifecyclerConfig, RingConfig};
use crate::desc::InstanceState;
use crate::kv::test_etcd::TestEtcd;
use crate::kv::{Kv, KvError, StopSignal, from_config, get_desc};
use crate::{INGESTER_RING_KEY, Lifecycler, RingClient};

fn config(etcd: &TestEtcd) -> EtcdConfig {
    EtcdConfig {
        endpoints: vec![etcd.endpoint()],
        dial_timeout: CfgDuration::from_secs(5),
        ..Default::default()
    }
}

fn client(etcd: &TestEtcd) -> EtcdKv {
    EtcdKv::new(&config(etcd)).expect("connecting to the test etcd")
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn put(kv: &dyn Kv, key: &str, value: &str) {
    let v = Bytes::copy_from_slice(value.as_bytes());
    kv.cas(key, &mut |_| Ok(Some(v.clone()))).unwrap();
}

#[test]
fn etcd_kv_passes_the_conformance_suite() {
    let Some(etcd) = TestEtcd::start_or_skip("etcd_kv_passes_the_conformance_suite") else {
        return;
    };
    crate::kv::testing::kv_conformance(&client(&etcd));
}

#[test]
fn prefixed_etcd_store_from_config_passes_the_conformance_suite() {
    let Some(etcd) = TestEtcd::start_or_skip("prefixed_etcd_store_from_config") else {
        return;
    };
    let cfg = KvConfig {
        store: "etcd".into(),
        prefix: "collectors/".into(),
        etcd: config(&etcd),
        ..Default::default()
    };
    let kv = from_config(&cfg).unwrap();
    crate::kv::testing::kv_conformance(&*kv);
    // The keys really are under the prefix in etcd.
    let raw = client(&etcd);
    assert!(raw.get("collectors/conformance/get").unwrap().is_some());
    assert_eq!(raw.get("conformance/get").unwrap(), None);
}

#[test]
fn unreachable_etcd_fails_within_the_dial_timeout() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let err = EtcdKv::new(&EtcdConfig {
        endpoints: vec![format!("127.0.0.1:{port}")],
        dial_timeout: CfgDuration::from_millis(300),
        ..Default::default()
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            KvError::Backend {
                backend: "etcd",
                ..
            }
        ),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let err = EtcdKv::new(&EtcdConfig::default()).unwrap_err();
    assert!(err.to_string().contains("endpoints is empty"), "{err}");
}

#[test]
fn a_dead_endpoint_beside_a_live_one_is_avoided() {
    let Some(etcd) = TestEtcd::start_or_skip("a_dead_endpoint_beside_a_live_one") else {
        return;
    };
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let kv = EtcdKv::new(&EtcdConfig {
        endpoints: vec![dead.to_string(), etcd.endpoint()],
        ..config(&etcd)
    })
    .unwrap();
    for i in 0..10 {
        put(&kv, "two/k", &i.to_string());
        assert_eq!(kv.get("two/k").unwrap(), Some(Bytes::from(i.to_string())));
    }
}

#[test]
fn two_clients_see_each_others_writes_and_watches() {
    let Some(etcd) = TestEtcd::start_or_skip("two_clients_see_each_others_writes") else {
        return;
    };
    let (a, b) = (client(&etcd), client(&etcd));
    put(&a, "shared/k", "from-a");
    assert_eq!(b.get("shared/k").unwrap(), Some(Bytes::from("from-a")));
    assert_eq!(b.list("shared/").unwrap(), vec!["shared/k"]);
    let stop = StopSignal::new();
    let seen = Mutex::new(Vec::new());
    let seen_now = || seen.lock().unwrap().clone();
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            a.watch_key("shared/k", &stop, &mut |v| {
                let more = v.is_some();
                seen.lock().unwrap().push(v);
                more
            })
        });
        wait_for("the current value", || !seen_now().is_empty());
        put(&b, "shared/k", "from-b");
        wait_for("a to see b's write", || {
            seen_now().last() == Some(&Some(Bytes::from("from-b")))
        });
        b.delete("shared/k").unwrap();
        wait_for("the watch to end on the deletion", || watcher.is_finished());
        stop.stop();
        watcher.join().unwrap();
    });
    assert_eq!(
        seen_now(),
        vec![
            Some(Bytes::from("from-a")),
            Some(Bytes::from("from-b")),
            None
        ]
    );
    assert_eq!(a.get("shared/k").unwrap(), None);
}

#[test]
fn lifecycler_and_ring_client_over_etcd_reach_active() {
    let Some(etcd) = TestEtcd::start_or_skip("lifecycler_and_ring_client_over_etcd") else {
        return;
    };
    let kv: Arc<dyn Kv> = Arc::new(client(&etcd));
    let cfg = LifecyclerConfig {
        id: "ing-1".into(),
        address: "10.0.0.1".into(),
        port: 9095,
        num_tokens: 32,
        heartbeat_period: CfgDuration::from_millis(100),
        final_sleep: CfgDuration::ZERO,
        ..Default::default()
    };
    let ring = RingClient::start(kv.clone(), INGESTER_RING_KEY, RingConfig::default()).unwrap();
    let lifecycler = Lifecycler::start(cfg, kv.clone(), INGESTER_RING_KEY).unwrap();
    wait_for("ACTIVE in the ring client", || {
        ring.ring().instance_state("ing-1").ok() == Some(InstanceState::ACTIVE)
    });
    let desc = get_desc(&*kv, INGESTER_RING_KEY).unwrap().unwrap();
    assert_eq!(desc.ingesters["ing-1"].tokens.len(), 32);
    assert_eq!(desc.ingesters["ing-1"].tokens, lifecycler.tokens());
    lifecycler.leave().unwrap();
    wait_for("the ring client to see the instance go", || {
        ring.ring().instances_count() == 0
    });
}

#[test]
fn watch_resumes_after_etcd_restart_with_the_latest_value() {
    let Some(mut etcd) = TestEtcd::start_or_skip("watch_resumes_after_etcd_restart") else {
        return;
    };
    let (watched, writer) = (client(&etcd), client(&etcd));
    put(&writer, "restart/k", "before");
    let stop = StopSignal::new();
    let latest = Mutex::new(None::<Bytes>);
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            watched.watch_key("restart/k", &stop, &mut |v| {
                *latest.lock().unwrap() = v;
                true
            })
        });
        let current = || latest.lock().unwrap().clone();
        wait_for("the first value", || {
            current() == Some(Bytes::from("before"))
        });
        etcd.stop();
        etcd.start();
        // Written right after the restart, possibly before the watch is back: the
        // resumed watch must still deliver it.
        put(&writer, "restart/k", "after-1");
        put(&writer, "restart/k", "after-2");
        wait_for("the value written after the restart", || {
            current() == Some(Bytes::from("after-2"))
        });
        // And the watch keeps following.
        put(&writer, "restart/k", "after-3");
        wait_for("a later change", || {
            current() == Some(Bytes::from("after-3"))
        });
        stop.stop();
        watcher.join().unwrap();
    });
}

#[test]
fn calls_from_a_runtime_blocking_pool_do_not_deadlock() {
    let Some(etcd) = TestEtcd::start_or_skip("calls_from_a_runtime_blocking_pool") else {
        return;
    };
    // The server's shape: a current-thread runtime whose only worker awaits a
    // spawn_blocking call that uses the store, then drops the store in async code.
    let kv: Arc<dyn Kv> = Arc::new(client(&etcd));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got = rt.block_on(async move {
        let kv2 = kv.clone();
        let got = tokio::task::spawn_blocking(move || {
            put(&*kv2, "pool/k", "v");
            kv2.get("pool/k")
        })
        .await
        .unwrap();
        drop(kv);
        got
    });
    assert_eq!(got.unwrap(), Some(Bytes::from("v")));
}
