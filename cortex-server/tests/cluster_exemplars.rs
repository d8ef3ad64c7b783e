//! Exemplar queries in a cluster of separate `cortex` processes on loopback: three
//! ingesters (`-target=ingester`) with replication factor 3, a distributor and a
//! querier, the ring gossiped among them. An exemplar pushed through the distributor
//! is held by every ingester; `query_exemplars` on the querier reads them through the
//! ring and answers it once, not once per replica, and still answers it with one
//! ingester killed.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use cortex_core::remote_write::{
    Exemplar, Label, Sample, TimeSeries, WriteRequest, compress, encode_v1,
};
use serde_json::Value;

const TENANT: &str = "exemplars";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Flags of process `slot` (0-2 ingesters, 3 distributor, 4 querier).
fn flags(ports: &[u16; 5], slot: usize) -> Vec<String> {
    let join: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut f = vec![
        "-ring.store=memberlist".to_string(),
        "-memberlist.bind-addr=127.0.0.1".to_string(),
        format!("-memberlist.bind-port={}", ports[slot]),
        format!("-memberlist.join={}", join.join(",")),
        format!("-memberlist.nodename=member-{slot}"),
        "-distributor.replication-factor=3".to_string(),
        "-ingester.lifecycler.heartbeat-period=1s".to_string(),
        "-ingester.max-exemplars=100".to_string(),
    ];
    match slot {
        0..=2 => f.extend([
            "-target=ingester".to_string(),
            format!("-ingester.lifecycler.id=ingester-{slot}"),
        ]),
        3 => f.extend([
            "-target=distributor".to_string(),
            "-distributor.ring.instance-id=distributor-1".to_string(),
            "-distributor.ring.heartbeat-period=1s".to_string(),
        ]),
        _ => f.push("-target=querier".to_string()),
    }
    f
}

/// One series with samples at `t` and `t + 15s` and an exemplar at each.
fn body(t: i64) -> Vec<u8> {
    let traces = ["trace-1", "trace-2"];
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![
                Label {
                    name: "__name__",
                    value: "requests_total",
                },
                Label {
                    name: "job",
                    value: "api",
                },
            ]
            .into(),
            samples: (0..2)
                .map(|i| Sample {
                    timestamp: t + i * 15_000,
                    value: i as f64,
                })
                .collect(),
            exemplars: traces
                .iter()
                .zip(0..)
                .map(|(trace, i)| Exemplar {
                    labels: vec![Label {
                        name: "trace_id",
                        value: trace,
                    }],
                    value: i as f64,
                    timestamp: t + i * 15_000,
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut raw = Vec::new();
    encode_v1(&req, &mut raw);
    let mut out = Vec::new();
    compress(&raw, &mut out);
    out
}

/// Waits until `process`' view of the ring shows every one of `ingesters` ACTIVE.
fn wait_for_ring(process: &ServerProcess, ingesters: &[&ServerProcess]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = http(process.addr, "GET", "/ingester/ring?format=json", &[], b"").unwrap();
        let desc: Value = serde_json::from_slice(&r.body).unwrap_or_default();
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
            "ingesters not ACTIVE in the ring: {desc}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `query_exemplars` for `requests_total` through the querier: each series' labels
/// (as JSON) and its exemplars as (trace id, timestamp in seconds).
fn exemplars(querier: &ServerProcess, start: i64, end: i64) -> Vec<(Value, Vec<(String, f64)>)> {
    let path = format!(
        "/prometheus/api/v1/query_exemplars?query=requests_total&start={}&end={}",
        start as f64 / 1000.0,
        end as f64 / 1000.0
    );
    let r = http(
        querier.addr,
        "GET",
        &path,
        &[("X-Scope-OrgID", TENANT)],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {v}"))
        .iter()
        .map(|s| {
            let es = s["exemplars"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| {
                    (
                        e["labels"]["trace_id"].as_str().unwrap_or("").to_string(),
                        e["timestamp"].as_f64().unwrap_or(f64::NAN),
                    )
                })
                .collect();
            (s["seriesLabels"].clone(), es)
        })
        .collect()
}

#[test]
fn querier_reads_exemplars_through_the_ring() {
    let ports = [
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    ];
    let dirs: Vec<_> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let start = |slot: usize| {
        let f = flags(&ports, slot);
        let f: Vec<&str> = f.iter().map(String::as_str).collect();
        ServerProcess::start(dirs[slot].path(), &f)
    };
    let a = start(0);
    let mut b = start(1);
    let c = start(2);
    let distributor = start(3);
    let querier = start(4);
    wait_for_ring(&distributor, &[&a, &b, &c]);
    wait_for_ring(&querier, &[&a, &b, &c]);

    let t0 = now_ms() - 5 * 60_000;
    let r = push(distributor.addr, TENANT, &body(t0)).unwrap();
    assert_eq!(r.status, 204, "{}", r.text());

    let want = vec![(
        serde_json::json!({"__name__": "requests_total", "job": "api"}),
        vec![
            ("trace-1".to_string(), t0 as f64 / 1000.0),
            ("trace-2".to_string(), (t0 + 15_000) as f64 / 1000.0),
        ],
    )];
    assert_eq!(
        exemplars(&querier, t0 - 60_000, t0 + 60_000),
        want,
        "three replicas answer one series with each exemplar once"
    );
    assert_eq!(
        exemplars(&querier, t0 + 1, t0 + 60_000),
        vec![(want[0].0.clone(), vec![want[0].1[1].clone()])],
        "the range cuts exemplars"
    );

    b.signal_and_wait("KILL");
    assert_eq!(
        exemplars(&querier, t0 - 60_000, t0 + 60_000),
        want,
        "one ingester down is tolerated"
    );
    for mut p in [a, c, distributor, querier] {
        assert!(p.signal_and_wait("TERM").success());
    }
}
