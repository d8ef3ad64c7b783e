//! Shipping: bucket layout and Thanos meta, the shipper record across restarts, upload
//! failures retried, flushed blocks readable from the bucket (by us and by promtool),
//! and local retention.

mod ingester_common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use cortex_core::ingester::shipper_meta::ShipperMeta;
use cortex_core::ingester::{Bucket, StaticLimits};
use cortex_tsdb::block::{Block, BlockMeta};
use cortex_tsdb::querier::select_block;
use ingester_common::*;
use object_store::local::LocalFileSystem;

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn bucket_blocks(bucket_dir: &std::path::Path, tenant: &str) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(bucket_dir.join(tenant)) else {
        return Vec::new();
    };
    // Block directories only: the tenant's bucket index sits next to them.
    let mut v: Vec<String> = rd
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_ships_blocks_with_thanos_meta_and_they_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let bucket_dir = dir.path().join("bucket");
    let ing = open(
        tsdb_config(dir.path()),
        Bucket::local(&bucket_dir).unwrap(),
        StaticLimits::default(),
    );
    let pushed: Vec<(i64, f64)> = (0..50).map(|i| (i * 60_000 + 1, i as f64)).collect();
    let late: Vec<(i64, f64)> = vec![(2 * HOUR + 5, 99.0)];
    ing.push(
        "team-a",
        &request(vec![series(&[("__name__", "m"), ("x", "1")], &pushed)]),
    )
    .unwrap();
    ing.push(
        "team-a",
        &request(vec![series(&[("__name__", "m"), ("x", "1")], &late)]),
    )
    .unwrap();
    let stats = ing.flush().await.unwrap();
    assert_eq!(stats.blocks_cut, 2);
    assert_eq!(stats.shipped.uploaded, 2);
    assert_eq!(ing.metrics().shipper_uploads.get(), 2);

    let blocks = bucket_blocks(&bucket_dir, "team-a");
    assert_eq!(blocks.len(), 2);
    let mut all = Vec::new();
    for id in &blocks {
        let bdir = bucket_dir.join("team-a").join(id);
        assert!(bdir.join("chunks/000001").is_file());
        assert!(bdir.join("index").is_file());
        let text = std::fs::read_to_string(bdir.join("meta.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let th = &v["thanos"];
        assert_eq!(th["labels"], serde_json::json!({"__org_id__": "team-a"}));
        assert_eq!(th["downsample"]["resolution"], 0);
        assert_eq!(th["source"], "receive");
        assert_eq!(th["segment_files"], serde_json::json!(["000001"]));
        let files = th["files"].as_array().unwrap();
        let index_size = std::fs::metadata(bdir.join("index")).unwrap().len();
        assert_eq!(files[1]["rel_path"], "index");
        assert_eq!(files[1]["size_bytes"], index_size);
        assert_eq!(files[2], serde_json::json!({"rel_path": "meta.json"}));
        // The local block's meta.json has no Thanos section.
        let local =
            std::fs::read_to_string(dir.path().join("tsdb/team-a").join(id).join("meta.json"))
                .unwrap();
        assert!(!local.contains("thanos"));
        let meta = BlockMeta::from_json(text.as_bytes(), &bdir).unwrap();
        assert_eq!(&meta.ulid.to_string(), id);
        let block = Arc::new(Block::open(&bdir).unwrap());
        all.extend(floats(
            &select_block(&block, &[], i64::MIN, i64::MAX).unwrap(),
        ));
    }
    let samples: Vec<(i64, f64)> = all.iter().flat_map(|(_, s)| s.clone()).collect();
    let mut expected = pushed.clone();
    expected.extend(late);
    assert_eq!(samples, expected);
    assert_eq!(
        ShipperMeta::read(&dir.path().join("tsdb/team-a"))
            .unwrap()
            .unwrap()
            .uploaded
            .len(),
        2
    );

    // promtool reads the bucket's tenant directory.
    // promtool opens a data directory: the tenant's blocks plus an empty WAL.
    let data = tempfile::tempdir().unwrap();
    for id in &blocks {
        copy_dir(&bucket_dir.join("team-a").join(id), &data.path().join(id));
    }
    std::fs::create_dir(data.path().join("wal")).unwrap();
    match Command::new("promtool")
        .args(["tsdb", "dump"])
        .arg(data.path())
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8_lossy(&out.stdout);
            let lines: Vec<&str> = text.lines().filter(|l| l.contains("__name__")).collect();
            assert_eq!(lines.len(), expected.len(), "{text}");
            assert!(lines[0].ends_with(" 0 1"), "{}", lines[0]);
            assert!(
                lines
                    .last()
                    .unwrap()
                    .ends_with(&format!(" 99 {}", 2 * HOUR + 5))
            );
        }
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "promtool is required under CI: {e}"
            );
            println!("skipping the promtool check: promtool not runnable ({e})");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_neither_uploads_again_nor_forgets_unshipped_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let bucket_dir = dir.path().join("bucket");
    let mut cfg = tsdb_config(dir.path());
    cfg.ship_interval = cortex_core::ingester::duration::GoDuration::ZERO;
    // A recent sample, so local retention keeps the unshipped block.
    let now = cortex_core::ingester::tenant::now_ms();
    {
        let ing = open(
            cfg.clone(),
            Bucket::local(&bucket_dir).unwrap(),
            StaticLimits::default(),
        );
        ing.push(
            "t",
            &request(vec![series(&[("__name__", "m")], &[(now, 1.0)])]),
        )
        .unwrap();
        // Shipping off: the block is cut but not uploaded.
        assert_eq!(ing.flush().await.unwrap().shipped.uploaded, 0);
        ing.shutdown().await.unwrap();
    }
    assert!(bucket_blocks(&bucket_dir, "t").is_empty());
    cfg.ship_interval = cortex_core::ingester::duration::GoDuration::minutes(1);
    let first = {
        let ing = open(
            cfg.clone(),
            Bucket::local(&bucket_dir).unwrap(),
            StaticLimits::default(),
        );
        assert_eq!(ing.tenants(), ["t"]);
        assert_eq!(ing.ship().await.unwrap().uploaded, 1);
        ing.shutdown().await.unwrap();
        bucket_blocks(&bucket_dir, "t")
    };
    assert_eq!(first.len(), 1);
    let meta_path = bucket_dir.join("t").join(&first[0]).join("meta.json");
    let before = std::fs::read(&meta_path).unwrap();
    let ing = open(
        cfg,
        Bucket::local(&bucket_dir).unwrap(),
        StaticLimits::default(),
    );
    let s = ing.ship().await.unwrap();
    assert_eq!((s.uploaded, s.failed), (0, 0));
    assert_eq!(std::fs::read(&meta_path).unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_uploads_are_counted_and_retried_whole() {
    let dir = tempfile::tempdir().unwrap();
    let bucket_dir = dir.path().join("bucket");
    std::fs::create_dir_all(&bucket_dir).unwrap();
    let flaky = Arc::new(FlakyStore {
        inner: Arc::new(LocalFileSystem::new_with_prefix(&bucket_dir).unwrap()),
        // chunks/000001 succeeds, index fails: a partial upload without meta.json.
        fail_puts: AtomicUsize::new(0),
    });
    let ing = open(
        tsdb_config(dir.path()),
        Bucket::new(flaky.clone()),
        StaticLimits::default(),
    );
    ing.push(
        "t",
        &request(vec![series(&[("__name__", "m")], &[(1000, 1.0)])]),
    )
    .unwrap();
    ing.compact_all(true).unwrap();
    flaky
        .fail_puts
        .store(1, std::sync::atomic::Ordering::Release);
    // The first put (the chunk file) fails.
    let s = ing.ship().await.unwrap();
    assert_eq!((s.uploaded, s.failed), (0, 1));
    assert!(s.first_error.unwrap().contains("injected failure"));
    assert_eq!(ing.metrics().shipper_upload_failures.get(), 1);
    let id = ing.db("t").unwrap().blocks()[0].meta().ulid.to_string();
    assert!(!bucket_dir.join("t").join(&id).join("meta.json").exists());
    assert!(
        ShipperMeta::read(&dir.path().join("tsdb/t"))
            .unwrap()
            .unwrap()
            .uploaded
            .is_empty()
    );
    // The next ship uploads it whole.
    let s = ing.ship().await.unwrap();
    assert_eq!((s.uploaded, s.failed), (1, 0));
    for f in ["chunks/000001", "index", "meta.json"] {
        assert!(bucket_dir.join("t").join(&id).join(f).is_file(), "{f}");
    }
    assert_eq!(ing.metrics().shipper_uploads.get(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_blocks_are_deleted_after_retention_only_once_shipped() {
    let dir = tempfile::tempdir().unwrap();
    let bucket_dir = dir.path().join("bucket");
    let ing = open(
        tsdb_config(dir.path()),
        Bucket::local(&bucket_dir).unwrap(),
        StaticLimits::default(),
    );
    // Samples from 1970: far beyond the 6h retention by the wall clock.
    ing.push(
        "t",
        &request(vec![series(&[("__name__", "m")], &[(1000, 1.0)])]),
    )
    .unwrap();
    ing.compact_all(true).unwrap();
    // Not shipped yet: kept.
    ing.compact_all(false).unwrap();
    assert_eq!(ing.db("t").unwrap().blocks().len(), 1);
    ing.ship().await.unwrap();
    ing.compact_all(false).unwrap();
    assert!(ing.db("t").unwrap().blocks().is_empty());
    assert_eq!(bucket_blocks(&bucket_dir, "t").len(), 1);
    assert_eq!(ing.metrics().retention_deleted_blocks.get(), 1);
}
