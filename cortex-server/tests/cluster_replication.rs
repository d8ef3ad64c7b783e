//! Replication across separate processes: three `cortex` processes in zones a, b and c
//! join one ring with replication factor 3 — kept in etcd, and again gossiped among the
//! processes themselves; writes go through the distributor's
//! replicated write path and reads through the querier's replicated read path, both
//! over gRPC to the processes' ingesters.
//!
//! One ingester SIGKILLed: pushes keep succeeding and reads stay complete. Two down:
//! pushes fail with a 5xx, never a partial success. The killed ingester restarts,
//! replays its WAL and rejoins: nothing it acknowledged is lost, and reads merge the
//! replicas back to the complete data.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use cortex_core::distributor::Replicator;
use cortex_core::ingester::PushSource;
use cortex_core::querier::ingesters::IngestersQuerier;
use cortex_core::querier::replicas::IngesterClients;
use cortex_core::querier::{Querier, QueryLimits, SampleValue, SelectHints};
use cortex_core::remote_write::{Label, Sample, TimeSeries, WriteRequest};
use cortex_ring::kv::test_etcd::TestEtcd;
use cortex_ring::{
    INGESTER_RING_KEY, InstanceState, KvConfig, QuerierRing, RingClient, RingConfig, ring_source,
};
use cortex_server::ingester_rpc::{IngesterClientConfig, IngesterPool};
use cortex_tsdb::labels::Matcher;

const TENANT: &str = "cluster";
const SERIES: usize = 3000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Where the ring lives.
#[derive(Clone)]
enum Store {
    /// An etcd endpoint.
    Etcd(String),
    /// Gossip ports: one per zone a, b, c, and one for the test's own member.
    Gossip([u16; 4]),
}

impl Store {
    fn flags(&self, zone: &str) -> Vec<String> {
        match self {
            Store::Etcd(endpoint) => vec![
                "-ring.store=etcd".into(),
                format!("-etcd.endpoints={endpoint}"),
            ],
            Store::Gossip(ports) => {
                let i = (zone.as_bytes()[0] - b'a') as usize;
                vec![
                    "-ring.store=memberlist".into(),
                    "-memberlist.bind-addr=127.0.0.1".into(),
                    format!("-memberlist.bind-port={}", ports[i]),
                    format!("-memberlist.join={}", join_list(ports)),
                ]
            }
        }
    }

    fn kv_config(&self) -> KvConfig {
        match self {
            Store::Etcd(endpoint) => KvConfig {
                store: "etcd".into(),
                etcd: cortex_ring::EtcdConfig {
                    endpoints: vec![endpoint.clone()],
                    ..Default::default()
                },
                ..Default::default()
            },
            Store::Gossip(ports) => {
                let mut kv = KvConfig {
                    store: "memberlist".into(),
                    ..Default::default()
                };
                kv.memberlist.bind_addr = vec!["127.0.0.1".into()];
                kv.memberlist.bind_port = ports[3];
                kv.memberlist.join_members =
                    join_list(ports).split(',').map(String::from).collect();
                kv
            }
        }
    }
}

fn join_list(ports: &[u16; 4]) -> String {
    ports
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn flags(store: &Store, zone: &str) -> Vec<String> {
    let mut f = store.flags(zone);
    f.extend([
        "-distributor.replication-factor=3".into(),
        "-ingester.lifecycler.ring.zone-awareness-enabled=true".into(),
        format!("-ingester.lifecycler.availability-zone=zone-{zone}"),
        format!("-ingester.lifecycler.id=ingester-{zone}"),
        "-ingester.lifecycler.heartbeat-period=1s".into(),
    ]);
    f
}

fn start(dir: &std::path::Path, store: &Store, zone: &str) -> ServerProcess {
    let f = flags(store, zone);
    let f: Vec<&str> = f.iter().map(String::as_str).collect();
    ServerProcess::start(dir, &f)
}

/// Pushes one sample at `t` for every series (value `t / 1000 + i`).
fn push(rt: &tokio::runtime::Runtime, rep: &Replicator, t: i64) -> Result<(), (u16, String)> {
    let names: Vec<String> = (0..SERIES).map(|i| format!("s{i:05}")).collect();
    for chunk in names.chunks(500) {
        let req = WriteRequest {
            timeseries: chunk
                .iter()
                .map(|n| TimeSeries {
                    labels: vec![
                        Label {
                            name: "__name__",
                            value: "cluster_metric",
                        },
                        Label {
                            name: "series",
                            value: n,
                        },
                    ],
                    samples: vec![Sample {
                        timestamp: t,
                        value: (t / 1000) as f64 + n[1..].parse::<f64>().unwrap(),
                    }],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        rt.block_on(rep.push(TENANT, &req, PushSource::Api))
            .map_err(|e| (e.http_status(), e.to_string()))?;
    }
    Ok(())
}

/// Every series of the tenant read through the ring: (series, its sample timestamps).
fn read_all(querier: &IngestersQuerier, from: i64, to: i64) -> Vec<(String, Vec<i64>)> {
    let hints = SelectHints {
        start: from,
        end: to,
        ..Default::default()
    };
    let series = querier
        .select(&hints, &[Matcher::equal("__name__", "cluster_metric")])
        .expect("read through the ring");
    series
        .iter()
        .map(|s| {
            let mut it = s.samples();
            let mut ts = Vec::new();
            while let Some(sample) = it.next().unwrap() {
                assert!(matches!(sample.value, SampleValue::Float(_)));
                ts.push(sample.t);
            }
            (s.labels().get("series").unwrap_or("").to_string(), ts)
        })
        .collect()
}

/// How many series `server`'s own ingester holds at `t` (its local query API).
fn local_count(server: &ServerProcess, t: i64) -> String {
    let r = http(
        server.addr,
        "GET",
        &format!(
            "/api/v1/query?query=count(cluster_metric)&time={}",
            t as f64 / 1000.0
        ),
        &[("X-Scope-OrgID", TENANT)],
        b"",
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    v["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap_or("none")
        .to_string()
}

#[test]
fn replicated_paths_over_a_ring_in_etcd() {
    let Some(etcd) = TestEtcd::start_or_skip("replicated_paths_over_a_ring_in_etcd") else {
        return;
    };
    replicated_writes_and_reads(Store::Etcd(etcd.endpoint()));
}

#[test]
fn replicated_paths_over_a_gossiped_ring() {
    replicated_writes_and_reads(Store::Gossip([
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    ]));
}

/// Writes and reads with all three ingesters up, one killed, two killed, and the
/// first one restarted.
fn replicated_writes_and_reads(store: Store) {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut a = start(dirs[0].path(), &store, "a");
    let mut b = start(dirs[1].path(), &store, "b");
    let mut c = start(dirs[2].path(), &store, "c");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let kv = cortex_ring::kv::from_config(&store.kv_config()).unwrap();
    let ring_cfg = RingConfig {
        replication_factor: 3,
        zone_awareness_enabled: true,
        ..Default::default()
    };
    let client = Arc::new(RingClient::start(kv, INGESTER_RING_KEY, ring_cfg).unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .ring()
        .desc()
        .ingesters
        .values()
        .filter(|i| i.state == InstanceState::ACTIVE)
        .count()
        < 3
    {
        assert!(
            Instant::now() < deadline,
            "three ACTIVE ingesters in the ring"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pool = Arc::new(IngesterPool::new(
        IngesterClientConfig::default(),
        rt.handle().clone(),
    ));
    let rep = Replicator::new(
        ring_source(client.clone()),
        pool.client_factory(),
        Duration::from_secs(2),
    );
    let querier = || {
        IngestersQuerier::new(
            TENANT,
            Arc::new(QuerierRing::new(client.clone(), Duration::ZERO)),
            pool.clone() as Arc<dyn IngesterClients>,
            rt.handle().clone(),
            QueryLimits::default(),
        )
    };

    // All up: every ingester holds every series.
    let t0 = now_ms() - 120_000;
    let times = [t0, t0 + 15_000];
    for t in times {
        push(&rt, &rep, t).expect("push with all ingesters up");
    }
    for s in [&a, &b, &c] {
        assert_eq!(local_count(s, t0 + 15_000), SERIES.to_string());
    }

    // One ingester killed: pushes succeed, reads are complete.
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    push(&rt, &rep, t0 + 30_000).expect("push with one ingester down");
    let all = read_all(&querier(), t0 - 1, t0 + 60_000);
    assert_eq!(all.len(), SERIES);
    for (name, ts) in &all {
        assert_eq!(ts, &vec![t0, t0 + 15_000, t0 + 30_000], "{name}");
    }

    // Two down: no quorum, and the push says so with a 5xx.
    c.child.kill().unwrap();
    c.child.wait().unwrap();
    let err = push(&rt, &rep, t0 + 45_000).expect_err("a push without quorum must fail");
    assert!(err.0 >= 500, "{err:?}");

    // The first victim comes back: its WAL replays everything it acknowledged, and
    // reads (a and b up, c down) merge the replicas to the complete data.
    b = start(dirs[1].path(), &store, "b");
    assert_eq!(local_count(&b, t0 + 15_000), SERIES.to_string());
    // It came back on a new port: wait until the ring (gossip takes a moment) says so.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ring = client.ring();
        let desc = ring.desc();
        if desc
            .ingesters
            .get("ingester-b")
            .is_some_and(|i| i.state == InstanceState::ACTIVE && i.addr == b.grpc_addr.to_string())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted ingester in the ring"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let all = read_all(&querier(), t0 - 1, t0 + 60_000);
    assert_eq!(all.len(), SERIES);
    for (name, ts) in &all {
        assert!(
            ts.starts_with(&[t0, t0 + 15_000, t0 + 30_000]),
            "{name}: {ts:?}"
        );
    }
    push(&rt, &rep, t0 + 60_000).expect("push with quorum back");
    c = start(dirs[2].path(), &store, "c");
    assert_eq!(local_count(&c, t0 + 15_000), SERIES.to_string());
    for s in [&mut a, &mut b, &mut c] {
        assert!(s.signal_and_wait("TERM").success());
    }
    drop(rt);
}
