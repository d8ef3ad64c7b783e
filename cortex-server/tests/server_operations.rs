//! Operations: per-tenant overrides in the runtime-config file take effect without a
//! restart, and `flush_blocks_on_shutdown` ships every pushed sample on SIGTERM.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn series_with_labels(n: usize, t: i64) -> OwnedSeries {
    let mut labels = vec![("__name__".to_string(), "wide".to_string())];
    for i in 0..n {
        labels.push((format!("l{i:02}"), "v".to_string()));
    }
    OwnedSeries {
        labels,
        samples: vec![(t, 1.0)],
    }
}

#[test]
fn runtime_overrides_apply_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let overrides = dir.path().join("overrides.yaml");
    std::fs::write(
        &overrides,
        "overrides:\n  small:\n    max_label_names_per_series: 3\n",
    )
    .unwrap();
    let file_flag = format!("-runtime-config.file={}", overrides.display());
    let mut server = ServerProcess::start(
        dir.path(),
        &[&file_flag, "-runtime-config.reload-period=200ms"],
    );
    let t = now_ms() - 10_000;
    let body = v1_body(&[series_with_labels(5, t)]);
    let r = push(server.addr, "small", &body).unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    // Other tenants keep the defaults (30 label names).
    let r = push(server.addr, "big", &body).unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    let page = http(server.addr, "GET", "/runtime_config", &[], b"")
        .unwrap()
        .text();
    assert!(page.contains("max_label_names_per_series: 3"), "{page}");

    std::fs::write(
        &overrides,
        "overrides:\n  small:\n    max_label_names_per_series: 10\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = push(
            server.addr,
            "small",
            &v1_body(&[series_with_labels(5, t + 1)]),
        )
        .unwrap();
        if r.status == 204 {
            break;
        }
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(
            Instant::now() < deadline,
            "the new override never took effect"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(server.signal_and_wait("TERM").success());
}

#[test]
fn flush_on_shutdown_ships_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(
        dir.path(),
        &["-blocks-storage.tsdb.flush-blocks-on-shutdown=true"],
    );
    let t = now_ms() - 600_000;
    let series: Vec<OwnedSeries> = (0..10)
        .map(|i| OwnedSeries {
            labels: vec![
                ("__name__".into(), "flushed".into()),
                ("i".into(), i.to_string()),
            ],
            samples: (0..20)
                .map(|k| (t + k * 15_000, (i * 100 + k) as f64))
                .collect(),
        })
        .collect();
    let r = push(server.addr, "tenant-f", &v1_body(&series)).unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(server.signal_and_wait("TERM").success());
    let bucket = dir.path().join("data/bucket/tenant-f");
    let blocks: Vec<_> = std::fs::read_dir(&bucket)
        .expect("the tenant's blocks were shipped on shutdown")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("meta.json").is_file())
        .collect();
    assert!(!blocks.is_empty());
    let mut samples = 0;
    for b in &blocks {
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(b.path().join("meta.json")).unwrap()).unwrap();
        samples += meta["stats"]["numSamples"].as_u64().unwrap();
    }
    assert_eq!(samples, 200);
}
