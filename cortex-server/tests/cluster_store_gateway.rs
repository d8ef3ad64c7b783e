//! Blocks storage through store-gateways, with separate `cortex` processes on loopback
//! and the rings in etcd: one process runs the distributor and the ingester, three run
//! `-target=store-gateway` (blocks sharded with replication factor 2, so every
//! store-gateway holds only part of the blocks), one runs `-target=querier`, which
//! reads data older than `-querier.query-ingesters-within` only from the store-gateways.
//!
//! Five hours of samples are pushed and flushed to the bucket; the ingester updates
//! the tenant's bucket index. Then, through the querier:
//! - every sample older than the ingesters' window comes back exactly as written;
//! - with one store-gateway SIGKILLed, the same query gives the same answer (the blocks
//!   it held are retried on the other replica);
//! - with a block's data deleted from the bucket under the store-gateways, the query
//!   fails with an error naming the block instead of returning fewer samples.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use cortex_ring::kv::test_etcd::TestEtcd;

const TENANT: &str = "archive";
const SERIES: usize = 40;
const STEP_MS: i64 = 30_000;

/// Samples by series name.
type BySeries = BTreeMap<String, Vec<(i64, f64)>>;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn start(dir: &Path, etcd: &str, bucket: &Path, extra: &[String]) -> ServerProcess {
    std::fs::create_dir_all(dir).unwrap();
    let mut f = vec![
        "-ring.store=etcd".to_string(),
        format!("-etcd.endpoints={etcd}"),
        format!("-blocks-storage.filesystem.dir={}", bucket.display()),
        "-blocks-storage.bucket-store.sync-interval=1s".to_string(),
        "-store-gateway.sharding-ring.replication-factor=2".to_string(),
        "-store-gateway.sharding-ring.heartbeat-period=1s".to_string(),
        "-distributor.replication-factor=1".to_string(),
        "-ingester.lifecycler.heartbeat-period=1s".to_string(),
    ];
    f.extend(extra.iter().cloned());
    let f: Vec<&str> = f.iter().map(String::as_str).collect();
    ServerProcess::start(dir, &f)
}

/// Pushes `SERIES` series of 30 s samples over `[start, end)`, 30 minutes per
/// request, in time order; returns every sample by series name.
fn push_history(
    distributor: &ServerProcess,
    start: i64,
    end: i64,
) -> BTreeMap<String, Vec<(i64, f64)>> {
    let mut expected: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    let mut t = start;
    while t < end {
        let stop = (t + 1_800_000).min(end);
        let series: Vec<OwnedSeries> = (0..SERIES)
            .map(|s| {
                let samples: Vec<(i64, f64)> = (0..)
                    .map(|k| t + k * STEP_MS)
                    .take_while(|&ts| ts < stop)
                    .map(|ts| (ts, ((ts - start) / STEP_MS) as f64 * (s as f64 + 0.25)))
                    .collect();
                OwnedSeries {
                    labels: vec![
                        ("__name__".into(), "archived_total".into()),
                        ("series".into(), format!("s{s:02}")),
                    ],
                    samples,
                }
            })
            .collect();
        for s in &series {
            expected
                .entry(s.labels[1].1.clone())
                .or_default()
                .extend(&s.samples);
        }
        let r = push(distributor.addr, TENANT, &v1_body(&series)).unwrap();
        assert_eq!(r.status, 204, "push: {}", r.text());
        t = stop;
    }
    expected
}

/// The raw samples of every series in `(at - range, at]`, by series name, or the
/// error answer (status, body).
fn raw_samples(querier: &ServerProcess, range_ms: i64, at: i64) -> Result<BySeries, (u16, String)> {
    let q = format!("archived_total[{}s]", range_ms / 1000);
    let path = format!(
        "/prometheus/api/v1/query?query={}&time={}",
        encode(&q),
        at as f64 / 1000.0
    );
    let r = http(
        querier.addr,
        "GET",
        &path,
        &[("X-Scope-OrgID", TENANT)],
        b"",
    )
    .unwrap();
    if r.status != 200 {
        return Err((r.status, r.text()));
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let mut out = BTreeMap::new();
    for s in v["data"]["result"].as_array().expect("a matrix") {
        let name = s["metric"]["series"].as_str().unwrap().to_string();
        let samples = s["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
                (t, p[1].as_str().unwrap().parse::<f64>().unwrap())
            })
            .collect();
        out.insert(name, samples);
    }
    Ok(out)
}

/// The block directories of the tenant in the bucket, with their time ranges.
fn bucket_blocks(bucket: &Path) -> Vec<(String, i64, i64)> {
    let Ok(entries) = std::fs::read_dir(bucket.join(TENANT)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Ok(meta) = std::fs::read(e.path().join("meta.json")) else {
            continue;
        };
        let meta: serde_json::Value = serde_json::from_slice(&meta).unwrap();
        out.push((
            e.file_name().to_string_lossy().into_owned(),
            meta["minTime"].as_i64().unwrap(),
            meta["maxTime"].as_i64().unwrap(),
        ));
    }
    out.sort();
    out
}

/// The ULIDs the tenant's bucket index lists.
fn indexed_blocks(bucket: &Path) -> Vec<String> {
    let Ok(gz) = std::fs::read(bucket.join(TENANT).join("bucket-index.json.gz")) else {
        return Vec::new();
    };
    let idx = cortex_core::storage::bucketindex::BucketIndex::decode(&gz, "bucket-index")
        .expect("a valid bucket index");
    let mut ids: Vec<String> = idx.blocks.iter().map(|b| b.block_id.to_string()).collect();
    ids.sort();
    ids
}

/// The value of an unlabelled metric on a process' `/metrics`.
fn metric(p: &ServerProcess, name: &str) -> f64 {
    let r = http(p.addr, "GET", "/metrics", &[], b"").unwrap();
    r.text()
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not on /metrics"))
}

/// Fails naming the first series whose samples differ.
fn assert_same(
    got: &BTreeMap<String, Vec<(i64, f64)>>,
    want: &BTreeMap<String, Vec<(i64, f64)>>,
    what: &str,
) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: series"
    );
    for (k, w) in want {
        let g = &got[k];
        if g != w {
            let first = g.iter().zip(w).position(|(a, b)| a != b);
            panic!(
                "{what}: series {k} has {} samples, want {}; first difference at {first:?}: got {:?}, want {:?}",
                g.len(),
                w.len(),
                first.map(|i| g[i]),
                first.map(|i| w[i]),
            );
        }
    }
}

#[test]
fn old_data_is_served_by_store_gateways_completely_or_not_at_all() {
    let Some(etcd) = TestEtcd::start_or_skip("cluster_store_gateway") else {
        return;
    };
    let endpoint = etcd.endpoint();
    let root = tempfile::tempdir().unwrap();
    let bucket = root.path().join("bucket");
    std::fs::create_dir_all(&bucket).unwrap();

    let writer = start(
        &root.path().join("writer"),
        &endpoint,
        &bucket,
        &[
            "-target=distributor,ingester".to_string(),
            "-ingester.lifecycler.id=ingester-1".to_string(),
            "-distributor.ring.instance-id=distributor-1".to_string(),
            "-distributor.ingestion-rate-limit=100000000".to_string(),
            "-distributor.ingestion-burst-size=100000000".to_string(),
        ],
    );
    let mut gateways: Vec<ServerProcess> = (0..3)
        .map(|i| {
            start(
                &root.path().join(format!("gateway-{i}")),
                &endpoint,
                &bucket,
                &[
                    "-target=store-gateway".to_string(),
                    format!("-store-gateway.sharding-ring.instance-id=store-gateway-{i}"),
                ],
            )
        })
        .collect();
    let querier = start(
        &root.path().join("querier"),
        &endpoint,
        &bucket,
        &[
            "-target=querier".to_string(),
            "-querier.query-ingesters-within=1h".to_string(),
            "-querier.query-store-after=0s".to_string(),
        ],
    );

    // Five hours up to a minute ago, flushed into blocks and shipped.
    let now = now_ms();
    let start_t = (now - 5 * 3_600_000) / STEP_MS * STEP_MS;
    let expected = push_history(&writer, start_t, now - 60_000);
    let r = http(writer.addr, "POST", "/ingester/flush?wait=true", &[], b"").unwrap();
    assert!(r.status < 300, "flush: {} {}", r.status, r.text());
    let blocks = bucket_blocks(&bucket);
    assert!(blocks.len() >= 2, "shipped blocks: {blocks:?}");
    // The bucket index lists every shipped block.
    let deadline = Instant::now() + Duration::from_secs(30);
    let ids: Vec<String> = blocks.iter().map(|b| b.0.clone()).collect();
    while indexed_blocks(&bucket) != ids {
        assert!(
            Instant::now() < deadline,
            "bucket index {:?} does not list the shipped blocks {ids:?}",
            indexed_blocks(&bucket)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Store-gateways sync every second; the querier's consistency check leaves out
    // blocks uploaded within 3 sync intervals. Past both, every block must be served.
    std::thread::sleep(Duration::from_secs(5));

    // Everything older than the ingesters' hour, as written.
    let at = now - 3_600_000 - 60_000;
    // Reaches well before the first sample.
    let range = 6 * 3_600_000;
    let want: BTreeMap<String, Vec<(i64, f64)>> = expected
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.iter().copied().filter(|&(t, _)| t <= at).collect(),
            )
        })
        .collect();
    let samples: usize = want.values().map(Vec::len).sum();
    assert!(samples > SERIES * 400, "{samples} samples to compare");
    let got = raw_samples(&querier, range, at).unwrap_or_else(|e| panic!("query failed: {e:?}"));
    assert_eq!(got.len(), SERIES);
    assert!(
        got == want,
        "samples from the store-gateways differ from those written"
    );

    // Sharded: every block is held by exactly two of the three store-gateways.
    let listed: f64 = gateways
        .iter()
        .map(|g| metric(g, "cortex_bucket_store_blocks_listed"))
        .sum();
    assert_eq!(
        listed,
        2.0 * blocks.len() as f64,
        "blocks held over the store-gateways"
    );

    // One store-gateway down: its blocks come from their other replica.
    gateways[0].signal_and_wait("KILL");
    for _ in 0..3 {
        let got = raw_samples(&querier, range, at)
            .unwrap_or_else(|e| panic!("query with a store-gateway down: {e:?}"));
        assert_same(&got, &want, "samples with a store-gateway down");
    }

    // A block deleted from under the store-gateways: a clear error, not fewer samples.
    let (victim, _, _) = blocks
        .iter()
        .find(|(_, min, max)| *min <= at && *max > start_t)
        .cloned()
        .expect("a block in the queried range");
    // Its data goes; its meta.json stays, so the bucket index keeps listing it, as
    // when a block is lost by the storage rather than deleted by the compactor.
    let dir = bucket.join(TENANT).join(&victim);
    std::fs::remove_dir_all(dir.join("chunks")).unwrap();
    std::fs::remove_file(dir.join("index")).unwrap();
    let (status, body) =
        raw_samples(&querier, range, at).expect_err("a query over a deleted block");
    assert!(status >= 400, "status {status}");
    assert!(
        body.contains(&victim),
        "the error names the block {victim}: {body}"
    );
    eprintln!("query over a lost block: {status} {body}");
    drop(gateways);
}
