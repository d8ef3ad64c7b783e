//! A cluster of separate `cortex` processes on loopback: three ingesters
//! (`-target=ingester`) in zones a, b and c with replication factor 3, a distributor
//! (`-target=distributor`) and a querier (`-target=querier`) — the ring kept in etcd,
//! and again gossiped among the processes themselves. Clients only talk HTTP: remote
//! write to the distributor, PromQL to the querier.
//!
//! 100k series are pushed. One ingester SIGKILLed: pushes keep succeeding and every
//! query returns complete, exact results. Two down: pushes fail with a 5xx, never a
//! partial success. The first victim restarts, replays its WAL and rejoins; the failed
//! push is retried as a client would; then every series holds exactly the samples of
//! the successful pushes — nothing lost, nothing duplicated.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use cortex_ring::kv::test_etcd::TestEtcd;

const TENANT: &str = "cluster";
const SERIES: usize = 100_000;
const BATCH: usize = 5_000;
const METRICS: usize = 10;
const STEP_MS: i64 = 15_000;

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
    /// Gossip ports: ingesters a, b, c, the distributor and the querier.
    Gossip([u16; 5]),
}

/// The processes of the cluster, by gossip slot.
#[derive(Clone, Copy)]
enum Role {
    Ingester(usize),
    Distributor,
    Querier,
}

impl Role {
    fn slot(self) -> usize {
        match self {
            Role::Ingester(i) => i,
            Role::Distributor => 3,
            Role::Querier => 4,
        }
    }
}

const ZONES: [&str; 3] = ["a", "b", "c"];

fn flags(store: &Store, role: Role, bucket: &std::path::Path) -> Vec<String> {
    let mut f = match store {
        Store::Etcd(endpoint) => vec![
            "-ring.store=etcd".to_string(),
            format!("-etcd.endpoints={endpoint}"),
        ],
        Store::Gossip(ports) => {
            let join: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
            vec![
                "-ring.store=memberlist".to_string(),
                "-memberlist.bind-addr=127.0.0.1".to_string(),
                format!("-memberlist.bind-port={}", ports[role.slot()]),
                format!("-memberlist.join={}", join.join(",")),
                format!("-memberlist.nodename=member-{}", role.slot()),
            ]
        }
    };
    f.extend([
        "-distributor.replication-factor=3".to_string(),
        "-ingester.lifecycler.ring.zone-awareness-enabled=true".to_string(),
        "-ingester.lifecycler.heartbeat-period=1s".to_string(),
        format!("-blocks-storage.filesystem.dir={}", bucket.display()),
    ]);
    match role {
        Role::Ingester(i) => f.extend([
            "-target=ingester".to_string(),
            format!("-ingester.lifecycler.availability-zone=zone-{}", ZONES[i]),
            format!("-ingester.lifecycler.id=ingester-{}", ZONES[i]),
        ]),
        Role::Distributor => f.extend([
            "-target=distributor".to_string(),
            "-distributor.ring.instance-id=distributor-1".to_string(),
            "-distributor.ring.heartbeat-period=1s".to_string(),
            // Each round is 100k samples within moments.
            "-distributor.ingestion-rate-limit=100000000".to_string(),
            "-distributor.ingestion-burst-size=100000000".to_string(),
        ]),
        Role::Querier => f.push("-target=querier".to_string()),
    }
    f
}

fn start(
    dir: &std::path::Path,
    store: &Store,
    role: Role,
    bucket: &std::path::Path,
) -> ServerProcess {
    let f = flags(store, role, bucket);
    let f: Vec<&str> = f.iter().map(String::as_str).collect();
    ServerProcess::start(dir, &f)
}

/// The remote-write bodies of one round at `t`: every series once, value
/// `series index + round`.
fn round_bodies(t: i64, round: usize) -> Vec<Vec<u8>> {
    (0..SERIES)
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(|chunk| {
            let series: Vec<OwnedSeries> = chunk
                .iter()
                .map(|&i| OwnedSeries {
                    labels: vec![
                        ("__name__".into(), format!("cluster_metric_{}", i % METRICS)),
                        ("instance".into(), format!("host-{:03}:9100", i % 997)),
                        ("job".into(), format!("job-{}", i % 7)),
                        ("series".into(), i.to_string()),
                    ],
                    samples: vec![(t, (i + round) as f64)],
                })
                .collect();
            v1_body(&series)
        })
        .collect()
}

/// Pushes a round to the distributor: `Ok` when every request was stored (204),
/// else the first failure's status and body.
fn push_round(distributor: &ServerProcess, bodies: &[Vec<u8>]) -> Result<(), (u16, String)> {
    for body in bodies {
        let r = push(distributor.addr, TENANT, body).expect("push request");
        if r.status != 204 {
            return Err((r.status, r.text()));
        }
    }
    Ok(())
}

/// The single value of an instant query at `t` through the querier.
fn scalar_query(querier: &ServerProcess, query: &str, t: i64) -> f64 {
    let path = format!(
        "/prometheus/api/v1/query?query={}&time={}",
        encode(query),
        t as f64 / 1000.0
    );
    let r = http(
        querier.addr,
        "GET",
        &path,
        &[("X-Scope-OrgID", TENANT)],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let value = v["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap_or_else(|| panic!("{query}: no value in {v}"));
    value.parse().unwrap()
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Checks, through the querier, that every series holds exactly the samples of
/// `rounds` (each as pushed at `t0 + k * STEP_MS` with value `index + k`).
fn check_complete(querier: &ServerProcess, t0: i64, rounds: &[usize]) {
    let at = t0 + 5 * STEP_MS;
    let sel = r#"{__name__=~"cluster_metric_.*"}"#;
    let n = rounds.len() as f64;
    assert_eq!(
        scalar_query(querier, &format!("count({sel})"), at),
        SERIES as f64,
        "series after rounds {rounds:?}"
    );
    assert_eq!(
        scalar_query(
            querier,
            &format!("count(count_over_time({sel}[10m]) == {n})"),
            at
        ),
        SERIES as f64,
        "series with exactly {n} samples after rounds {rounds:?}"
    );
    let index_sum = (SERIES * (SERIES - 1) / 2) as f64;
    let expected = rounds
        .iter()
        .map(|&k| index_sum + (k * SERIES) as f64)
        .sum::<f64>();
    assert_eq!(
        scalar_query(querier, &format!("sum(sum_over_time({sel}[10m]))"), at),
        expected,
        "sum of every sample after rounds {rounds:?}"
    );
}

/// Waits until the distributor's view of the ring shows `want` ACTIVE ingesters at
/// the addresses of `ingesters`.
fn wait_for_ring(distributor: &ServerProcess, ingesters: &[&ServerProcess]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = http(
            distributor.addr,
            "GET",
            "/ingester/ring?format=json",
            &[],
            b"",
        )
        .unwrap();
        let desc: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let active: Vec<String> = desc["ingesters"]
            .as_object()
            .map(|m| {
                m.values()
                    .filter(|i| i["state"] == "ACTIVE")
                    .filter_map(|i| i["addr"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if ingesters
            .iter()
            .all(|i| active.contains(&i.grpc_addr.to_string()))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "ingesters {:?} not ACTIVE in the distributor's ring: {desc}",
            ingesters.iter().map(|i| i.grpc_addr).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `cortex_ingester_memory_series` of an ingester.
fn memory_series(ingester: &ServerProcess) -> f64 {
    let r = http(ingester.addr, "GET", "/metrics", &[], b"").unwrap();
    r.text()
        .lines()
        .find_map(|l| l.strip_prefix("cortex_ingester_memory_series "))
        .and_then(|v| v.trim().parse().ok())
        .expect("cortex_ingester_memory_series")
}

#[test]
fn separate_processes_over_a_ring_in_etcd() {
    let Some(etcd) = TestEtcd::start_or_skip("separate_processes_over_a_ring_in_etcd") else {
        return;
    };
    cluster_survives_ingester_failures(Store::Etcd(etcd.endpoint()));
}

#[test]
fn separate_processes_over_a_gossiped_ring() {
    cluster_survives_ingester_failures(Store::Gossip([
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    ]));
}

fn cluster_survives_ingester_failures(store: Store) {
    let bucket = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let ingester = |i: usize| start(dirs[i].path(), &store, Role::Ingester(i), bucket.path());
    let a = ingester(0);
    let mut b = ingester(1);
    let mut c = ingester(2);
    let distributor = start(dirs[3].path(), &store, Role::Distributor, bucket.path());
    let querier = start(dirs[4].path(), &store, Role::Querier, bucket.path());
    wait_for_ring(&distributor, &[&a, &b, &c]);
    wait_for_ring(&querier, &[&a, &b, &c]);

    let t0 = now_ms() - 5 * 60_000;
    let bodies: Vec<Vec<Vec<u8>>> = (0..5)
        .map(|k| round_bodies(t0 + k as i64 * STEP_MS, k))
        .collect();

    // All up.
    push_round(&distributor, &bodies[0]).expect("push with all ingesters up");
    push_round(&distributor, &bodies[1]).expect("push with all ingesters up");
    for i in [&a, &b, &c] {
        assert_eq!(
            memory_series(i),
            SERIES as f64,
            "every ingester has a replica"
        );
    }
    check_complete(&querier, t0, &[0, 1]);

    // One ingester killed: pushes succeed, queries are complete and exact.
    b.signal_and_wait("KILL");
    push_round(&distributor, &bodies[2]).expect("push with one ingester down");
    check_complete(&querier, t0, &[0, 1, 2]);

    // Two down: no quorum, and the push says so with a 5xx.
    c.signal_and_wait("KILL");
    let (status, body) =
        push_round(&distributor, &bodies[3]).expect_err("a push without quorum must fail");
    assert!(status >= 500, "{status}: {body}");

    // The first victim comes back: its WAL replays what it acknowledged, it rejoins,
    // and the failed push is retried as a client would.
    b = ingester(1);
    assert_eq!(memory_series(&b), SERIES as f64, "WAL replayed");
    wait_for_ring(&distributor, &[&a, &b]);
    wait_for_ring(&querier, &[&a, &b]);
    push_round(&distributor, &bodies[3]).expect("retried push with quorum back");
    check_complete(&querier, t0, &[0, 1, 2, 3]);

    // The second victim comes back too: nothing lost, nothing duplicated.
    c = ingester(2);
    wait_for_ring(&distributor, &[&a, &b, &c]);
    wait_for_ring(&querier, &[&a, &b, &c]);
    push_round(&distributor, &bodies[4]).expect("push with all ingesters up again");
    check_complete(&querier, t0, &[0, 1, 2, 3, 4]);

    for mut p in [a, b, c, distributor, querier] {
        assert!(p.signal_and_wait("TERM").success());
    }
}
