//! The single binary reads its shipped blocks through its in-process store-gateway,
//! with the postings/series/chunks caches and the metadata cache in a real memcached
//! (Debian's, started on a loopback port). Four hours of samples are shipped to a
//! filesystem bucket and the local TSDB is removed, so every query goes through the
//! store-gateway: the answers match what was written sample for sample, the first
//! query misses the caches and a repeat hits them, and after a restart of the server
//! (a new in-process cache, the same memcached) the first query already hits.
//! A block whose chunks vanish from the bucket fails the query with the block's name.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use cortex_core::cache::testing::Memcached;

const TENANT: &str = "team-cached";

/// `cortex_bucket_store_cache_{hits,requests}` for `item` on the server's `/metrics`.
fn cache_counter(p: &ServerProcess, name: &str, item: &str) -> f64 {
    let r = http(p.addr, "GET", "/metrics", &[], b"").unwrap();
    let want = format!("{name}_total{{item_type=\"{item}\"}} ");
    r.text()
        .lines()
        .find_map(|l| l.strip_prefix(&want))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{want} not on /metrics"))
}

/// The answer to a range query of every series over `[from, to]` (ms) at a 60 s step,
/// the samples' own step: every written sample comes back once.
fn read_back(p: &ServerProcess, from: i64, to: i64) -> (u16, String) {
    let path = format!(
        "/prometheus/api/v1/query_range?query=cached_series&start={}&end={}&step=60",
        from as f64 / 1000.0,
        to as f64 / 1000.0
    );
    let r = http(p.addr, "GET", &path, &[("X-Scope-OrgID", TENANT)], b"").unwrap();
    (r.status, r.text())
}

/// The `(series label, [(t ms, value)])` of a successful range query answer.
fn matrix(body: &str) -> Vec<(String, Vec<(i64, f64)>)> {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let mut out: Vec<(String, Vec<(i64, f64)>)> = v["data"]["result"]
        .as_array()
        .unwrap_or_else(|| panic!("no result: {body}"))
        .iter()
        .map(|s| {
            let name = s["metric"]["series"].as_str().unwrap().to_string();
            let values = s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
                    (t, p[1].as_str().unwrap().parse::<f64>().unwrap())
                })
                .collect();
            (name, values)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Fails naming the first series and sample where `got` and `want` differ.
fn same_samples(got: &[(String, Vec<(i64, f64)>)], want: &[(String, Vec<(i64, f64)>)]) {
    assert_eq!(got.len(), want.len(), "series count");
    for ((gn, gs), (wn, ws)) in got.iter().zip(want) {
        assert_eq!(gn, wn, "series names");
        let diff = gs.iter().zip(ws).position(|(a, b)| a != b);
        assert!(
            diff.is_none() && gs.len() == ws.len(),
            "{gn}: {} samples, want {}; first difference at {diff:?}",
            gs.len(),
            ws.len()
        );
    }
}

#[test]
fn store_gateway_caches_in_memcached_serve_shipped_blocks() {
    let Some(mc) = Memcached::start() else { return };
    let flags: Vec<String> = ["index-cache", "chunks-cache", "metadata-cache"]
        .iter()
        .flat_map(|c| {
            [
                format!("-blocks-storage.bucket-store.{c}.backend=memcached"),
                format!(
                    "-blocks-storage.bucket-store.{c}.memcached.addresses={}",
                    mc.address
                ),
            ]
        })
        .chain([
            // Every chunk store of the cold pass must reach memcached.
            "-blocks-storage.bucket-store.chunks-cache.memcached.max-async-buffer-size=100000"
                .to_string(),
            // One query, one read of each chunk. Split at UTC midnight, the second part's
            // lookback would read the first part's last chunks again, and would hit them
            // once their asynchronous stores had landed.
            "-querier.split-queries-by-interval=0".to_string(),
        ])
        .collect();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let dir = tempfile::tempdir().unwrap();
    // Written without caches; memcached comes in with the restart (a store-gateway
    // started earlier would have cached the bucket's empty tenant list).
    let mut server = ServerProcess::start(dir.path(), &[]);

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Four hours of 60 s samples for 20 series: at least two 2h blocks when flushed.
    let start = (now - 4 * 3_600_000) / 60_000 * 60_000;
    let series: Vec<OwnedSeries> = (0..20)
        .map(|s| OwnedSeries {
            labels: vec![
                ("__name__".into(), "cached_series".into()),
                ("series".into(), format!("s{s:02}")),
            ],
            samples: (0..)
                .map(|k| start + k * 60_000)
                .take_while(|&t| t < now - 60_000)
                .map(|t| (t, ((t - start) / 60_000) as f64 * 0.5 + s as f64))
                .collect(),
        })
        .collect();
    let r = push(server.addr, TENANT, &v1_body(&series)).unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    let r = http(server.addr, "POST", "/ingester/flush?wait=true", &[], b"").unwrap();
    assert_eq!(r.status, 204);
    assert!(server.signal_and_wait("TERM").success());
    // Without its local TSDB the server reads everything through its store-gateway.
    std::fs::remove_dir_all(dir.path().join("data/tsdb")).unwrap();

    let want: Vec<(String, Vec<(i64, f64)>)> = series
        .iter()
        .map(|s| (s.labels[1].1.clone(), s.samples.clone()))
        .collect();
    let (from, to) = (start, now - 60_000);
    let server = ServerProcess::start(dir.path(), &flags);
    let items = ["Postings", "Series", "Chunks"];
    let counters = |p: &ServerProcess| -> Vec<(f64, f64)> {
        items
            .iter()
            .map(|i| {
                (
                    cache_counter(p, "cortex_bucket_store_cache_hits", i),
                    cache_counter(p, "cortex_bucket_store_cache_requests", i),
                )
            })
            .collect()
    };
    let before = counters(&server);
    let (status, cold) = read_back(&server, from, to);
    assert_eq!(status, 200, "{cold}");
    same_samples(&matrix(&cold), &want);
    let after_cold = counters(&server);
    for (i, item) in items.iter().enumerate() {
        assert!(after_cold[i].1 > before[i].1, "{item}: no cache lookups");
        assert_eq!(after_cold[i].0, before[i].0, "{item}: a cold pass hit");
    }
    // Stores to memcached are asynchronous: wait until the repeat hits everything.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let before = counters(&server);
        let (status, warm) = read_back(&server, from, to);
        assert_eq!(status, 200, "{warm}");
        assert_eq!(warm, cold, "warm answer differs from cold");
        let after = counters(&server);
        let all_hit = (0..items.len()).all(|i| {
            let (hits, reqs) = (after[i].0 - before[i].0, after[i].1 - before[i].1);
            reqs > 0.0 && hits == reqs
        });
        if all_hit {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "warm pass still misses: {before:?} -> {after:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(server);

    // A new process: its in-process state is empty, memcached still holds the items.
    let server = ServerProcess::start(dir.path(), &flags);
    let before = counters(&server);
    let (status, again) = read_back(&server, from, to);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, cold);
    let after = counters(&server);
    for (i, item) in items.iter().enumerate() {
        let (hits, reqs) = (after[i].0 - before[i].0, after[i].1 - before[i].1);
        assert!(
            reqs > 0.0 && hits == reqs,
            "{item} after restart: {hits} hits of {reqs}"
        );
    }
    drop(server);

    // A block whose chunks are gone and that memcached does not hold fails the query.
    drop(mc);
    let bucket = dir.path().join("data/bucket").join(TENANT);
    let block = std::fs::read_dir(&bucket)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.path().join("meta.json").is_file())
        .expect("a block in the bucket");
    std::fs::remove_dir_all(block.path().join("chunks")).unwrap();
    std::fs::remove_file(block.path().join("index")).unwrap();
    let ulid = block.file_name().to_string_lossy().to_string();
    // Blocks uploaded within 3 sync intervals are exempt from the consistency check
    // (store-gateways may not have them yet); with a 1s interval these are past it.
    std::thread::sleep(Duration::from_secs(4));
    let local_flags = ["-blocks-storage.bucket-store.sync-interval=1s"];
    let server = ServerProcess::start(dir.path(), &local_flags);
    let (status, body) = read_back(&server, from, to);
    eprintln!("query over a lost block: {status} {body}");
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains(&ulid),
        "error does not name block {ulid}: {body}"
    );
}
