//! Blocks shipped to the bucket are Prometheus blocks: after a flush, `promtool tsdb
//! dump` straight from the bucket's tenant directory prints exactly the pushed samples,
//! and the uploaded meta.json carries the tenant as Cortex's `__org_id__` label.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use common::*;

fn promtool() -> Option<&'static str> {
    let ok = Command::new("promtool").arg("--version").output().is_ok();
    if ok {
        return Some("promtool");
    }
    assert!(
        std::env::var("CI").is_err(),
        "promtool is required under CI (apt-get install prometheus)"
    );
    eprintln!("skipping: promtool not found (apt-get install prometheus)");
    None
}

#[test]
fn flushed_blocks_in_the_bucket_dump_with_promtool() {
    let Some(promtool) = promtool() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &[]);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Five hours of 30 s samples for 20 series, pushed in order, 30 minutes per push.
    let start = (now - 5 * 3_600_000) / 30_000 * 30_000;
    let mut expected = BTreeSet::new();
    let mut t = start;
    while t < now - 60_000 {
        let end = (t + 1_800_000).min(now - 60_000);
        let series: Vec<OwnedSeries> = (0..20)
            .map(|s| {
                let samples: Vec<(i64, f64)> = (0..)
                    .map(|k| t + k * 30_000)
                    .take_while(|&ts| ts < end)
                    .map(|ts| (ts, ((ts - start) / 30_000 * (s + 1)) as f64 * 0.5))
                    .collect();
                OwnedSeries {
                    labels: vec![
                        ("__name__".into(), "shipped_total".into()),
                        ("series".into(), format!("s{s:02}")),
                    ],
                    samples,
                }
            })
            .collect();
        for s in &series {
            for &(ts, v) in &s.samples {
                expected.insert(format!(
                    "{{__name__=\"shipped_total\", series=\"{}\"}} {v} {ts}",
                    s.labels[1].1
                ));
            }
        }
        let r = push(server.addr, "team-x", &v1_body(&series)).unwrap();
        assert_eq!(r.status, 204, "{}", r.text());
        t = end;
    }
    let r = http(server.addr, "POST", "/ingester/flush?wait=true", &[], b"").unwrap();
    assert_eq!(r.status, 204);
    assert!(server.signal_and_wait("TERM").success());

    let bucket = dir.path().join("data/bucket/team-x");
    let blocks: Vec<_> = std::fs::read_dir(&bucket)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("meta.json").is_file())
        .collect();
    assert!(blocks.len() >= 3, "5 hours make at least 3 blocks of 2h");
    for b in &blocks {
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(b.path().join("meta.json")).unwrap()).unwrap();
        assert_eq!(meta["thanos"]["labels"]["__org_id__"], "team-x", "{meta}");
        assert!(b.path().join("index").is_file());
        assert!(b.path().join("chunks/000001").is_file());
    }
    // promtool 2.42 refuses a directory without `wal/` (it opens it as a read-only TSDB);
    // an empty one is harmless to the bucket: object listings do not see empty
    // directories.
    std::fs::create_dir(bucket.join("wal")).unwrap();
    let out = Command::new(promtool)
        .args(["tsdb", "dump"])
        .arg(&bucket)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dumped: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(dumped.len(), expected.len());
    assert!(
        dumped == expected,
        "promtool dump differs from what was pushed"
    );
    eprintln!(
        "{} samples in {} blocks dumped by promtool from the bucket",
        expected.len(),
        blocks.len()
    );
}
