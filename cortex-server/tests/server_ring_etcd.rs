//! With `-ring.store=etcd` the server keeps its ring in etcd: the ingester is ACTIVE
//! under `collectors/ring` there, the ring page shows it, and pushes go through. Skips
//! (with a printed reason) when `etcd` is not installed, except under `CI=true`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use cortex_ring::kv::test_etcd::TestEtcd;
use cortex_ring::{Desc, EtcdConfig, EtcdKv, InstanceState, Kv};

#[test]
fn ring_lives_in_etcd_when_configured() {
    let Some(etcd) = TestEtcd::start_or_skip("ring_lives_in_etcd_when_configured") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let endpoints = format!("-etcd.endpoints={}", etcd.endpoint());
    let server = ServerProcess::start(
        dir.path(),
        &[
            "-ring.store=etcd",
            &endpoints,
            // A ring section in flags replaces the single-binary ring defaults.
            "-ingester.lifecycler.address=127.0.0.1",
            "-distributor.replication-factor=1",
            "-ingester.lifecycler.final-sleep=0s",
        ],
    );
    let kv = EtcdKv::new(&EtcdConfig {
        endpoints: vec![etcd.endpoint()],
        ..Default::default()
    })
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let desc = loop {
        let desc = kv
            .get("collectors/ring")
            .unwrap()
            .map(|b| Desc::decode(&b).unwrap());
        if let Some(d) = desc
            && d.ingesters
                .values()
                .any(|i| i.state == InstanceState::ACTIVE)
        {
            break d;
        }
        assert!(Instant::now() < deadline, "no ACTIVE ingester in etcd");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(desc.ingesters.len(), 1);
    let me = desc.ingesters.values().next().unwrap();
    assert_eq!(me.addr, server.grpc_addr.to_string());
    // The server's ring client follows etcd through its watch.
    loop {
        let page = http(server.addr, "GET", "/ingester/ring", &[], b"")
            .unwrap()
            .text();
        if page.contains("<td>ACTIVE</td>") {
            break;
        }
        assert!(Instant::now() < deadline, "ring page never ACTIVE: {page}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let body = v1_body(&[OwnedSeries {
        labels: vec![("__name__".into(), "up".into())],
        samples: vec![(now_ms, 1.0)],
    }]);
    let resp = push(server.addr, "team-a", &body).unwrap();
    assert_eq!(resp.status, 204, "{}", resp.text());
}
