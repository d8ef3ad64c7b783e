//! HA-pair deduplication: two Prometheus replicas of one cluster push the same series;
//! the first is elected and stored without its replica label, the other is answered
//! 202 and dropped, and tenants without `accept_ha_samples` keep every sample.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::*;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn body(replica: &str, t: i64, v: f64) -> Vec<u8> {
    v1_body(&[OwnedSeries {
        labels: vec![
            ("__name__".into(), "ha_metric".into()),
            ("__replica__".into(), replica.into()),
            ("cluster".into(), "prom-pair".into()),
            ("job".into(), "scraped".into()),
        ],
        samples: vec![(t, v)],
    }])
}

#[test]
fn only_the_elected_replica_is_stored_without_its_replica_label() {
    let dir = tempfile::tempdir().unwrap();
    let overrides = dir.path().join("overrides.yaml");
    std::fs::write(
        &overrides,
        "overrides:\n  paired:\n    accept_ha_samples: true\n",
    )
    .unwrap();
    let file_flag = format!("-runtime-config.file={}", overrides.display());
    let server = ServerProcess::start(
        dir.path(),
        &["-distributor.ha-tracker.enable=true", &file_flag],
    );
    let t = now_ms() - 60_000;
    let r = push(server.addr, "paired", &body("replica-1", t, 1.0)).unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    let r = push(server.addr, "paired", &body("replica-2", t + 1000, 2.0)).unwrap();
    assert_eq!(r.status, 202, "{}", r.text());
    assert!(
        r.text().contains(
            "replicas did not mach, rejecting sample: replica=replica-2, elected=replica-1"
        ),
        "{}",
        r.text()
    );
    let r = push(server.addr, "paired", &body("replica-1", t + 15_000, 3.0)).unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    // A tenant without accept_ha_samples stores both replicas as separate series.
    for (i, rep) in ["replica-1", "replica-2"].iter().enumerate() {
        let r = push(server.addr, "unpaired", &body(rep, t, i as f64)).unwrap();
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let series = |tenant: &str| {
        let r = http(
            server.addr,
            "GET",
            "/api/v1/series?match[]=ha_metric",
            &[("X-Scope-OrgID", tenant)],
            b"",
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        v["data"].as_array().unwrap().clone()
    };
    let paired = series("paired");
    assert_eq!(paired.len(), 1, "{paired:?}");
    assert!(paired[0].get("__replica__").is_none(), "{paired:?}");
    assert_eq!(paired[0]["cluster"], "prom-pair");
    assert_eq!(series("unpaired").len(), 2);
    let metrics = http(server.addr, "GET", "/metrics", &[], b"")
        .unwrap()
        .text();
    assert!(
        metrics.contains(
            "cortex_distributor_deduped_samples_total{user=\"paired\",cluster=\"prom-pair\"} 1"
        ),
        "{metrics}"
    );
}

/// Two distributor processes of one cluster share the election through etcd: a
/// replica elected through one is the elected replica for the other.
#[test]
fn distributors_share_the_elected_replica_through_etcd() {
    let Some(etcd) = cortex_ring::kv::test_etcd::TestEtcd::start_or_skip(
        "distributors_share_the_elected_replica_through_etcd",
    ) else {
        return;
    };
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let overrides = dirs[0].path().join("overrides.yaml");
    std::fs::write(
        &overrides,
        "overrides:\n  paired:\n    accept_ha_samples: true\n",
    )
    .unwrap();
    let endpoint = etcd.endpoint();
    let common = [
        "-ring.store=etcd".to_string(),
        format!("-etcd.endpoints={endpoint}"),
        "-distributor.replication-factor=1".to_string(),
        format!("-runtime-config.file={}", overrides.display()),
        "-distributor.ha-tracker.enable=true".to_string(),
        "-distributor.ha-tracker.store=etcd".to_string(),
        format!("-distributor.ha-tracker.etcd.endpoints={endpoint}"),
    ];
    let start = |i: usize, extra: &[&str]| {
        let mut f: Vec<&str> = common.iter().map(String::as_str).collect();
        f.extend_from_slice(extra);
        ServerProcess::start(dirs[i].path(), &f)
    };
    let ingester = start(
        0,
        &["-target=ingester", "-ingester.lifecycler.id=ingester-1"],
    );
    let d1 = start(
        1,
        &[
            "-target=distributor",
            "-distributor.ring.instance-id=d1",
            "-distributor.ring.heartbeat-period=1s",
            "-distributor.ring.heartbeat-timeout=3s",
        ],
    );
    let mut d2 = start(
        2,
        &[
            "-target=distributor",
            "-distributor.ring.instance-id=d2",
            "-distributor.ring.heartbeat-period=1s",
        ],
    );
    let t = now_ms() - 60_000;
    let r = push(d1.addr, "paired", &body("replica-1", t, 1.0)).unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    let r = push(d2.addr, "paired", &body("replica-2", t + 1000, 2.0)).unwrap();
    assert_eq!(r.status, 202, "{}", r.text());
    assert!(r.text().contains("elected=replica-1"), "{}", r.text());
    let r = push(d2.addr, "paired", &body("replica-1", t + 2000, 3.0)).unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    // Both distributors count each other in the distributor ring.
    let ring = http(d1.addr, "GET", "/distributor/ring?format=json", &[], b"").unwrap();
    let desc: serde_json::Value = serde_json::from_slice(&ring.body).unwrap();
    let ids: Vec<&String> = desc["ingesters"].as_object().unwrap().keys().collect();
    assert_eq!(ids, ["d1", "d2"], "{desc}");
    // A distributor that stopped heartbeating shows as UNHEALTHY on the ring page.
    d2.signal_and_wait("KILL");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let page = http(d1.addr, "GET", "/distributor/ring", &[], b"")
            .unwrap()
            .text();
        if page.contains("<td>d2</td><td></td><td>127.0.0.1") && page.contains("UNHEALTHY") {
            assert_eq!(page.matches("UNHEALTHY").count(), 1, "{page}");
            assert!(page.contains("ACTIVE"), "{page}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{page}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    drop((ingester, d1, d2));
}
