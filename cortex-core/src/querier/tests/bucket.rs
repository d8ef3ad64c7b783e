//! Bucket blocks: deletion marks, vanished files, the sync interval, and the download
//! cache of a remote store.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt};

use super::*;
use crate::querier::QuerierError;
use crate::querier::bucket::{BucketBlocks, BucketBlocksConfig, BucketReader};

fn one_series(v: f64) -> Vec<(Labels, Vec<Sample>)> {
    one_series_at(1_000, v)
}

fn one_series_at(t: i64, v: f64) -> Vec<(Labels, Vec<Sample>)> {
    vec![(labels(&[("__name__", "m")]), vec![float(t, v)])]
}

fn cfg(dir: &Path, every: Duration) -> BucketBlocksConfig {
    BucketBlocksConfig {
        sync_interval: every,
        sync_dir: dir.join("sync"),
    }
}

fn values(b: &BucketBlocks) -> Result<Vec<f64>, QuerierError> {
    let series = b.select(&[], i64::MIN, i64::MAX, &BTreeSet::new())?;
    let mut out = Vec::new();
    for s in &series {
        let mut it = s.iter();
        while cortex_tsdb::querier::SampleIterator::next(&mut it)
            .unwrap()
            .is_some()
        {
            out.push(cortex_tsdb::querier::SampleIterator::at(&it).1);
        }
    }
    Ok(out)
}

#[test]
fn deletion_marked_blocks_are_ignored_in_either_place() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    for remote in [false, true] {
        let bucket = if remote {
            Bucket::new(Arc::new(InMemory::new()))
        } else {
            Bucket::local(&dir.path().join("bucket")).unwrap()
        };
        let base = dir.path().join(format!("remote-{remote}"));
        let kept = write_block(&base.join("a"), &one_series(1.0), 0, 10_000);
        let global = write_block(&base.join("b"), &one_series(2.0), 0, 10_000);
        let inside = write_block(&base.join("c"), &one_series(3.0), 0, 10_000);
        for b in [&kept, &global, &inside] {
            put_block(&rt, &bucket, b);
        }
        let blocks = BucketBlocks::new(
            &bucket,
            TENANT,
            &cfg(&base, Duration::ZERO),
            rt.handle().clone(),
        );
        assert_eq!(
            blocks.listed().len(),
            0,
            "nothing is read before the first call"
        );
        blocks.sync().unwrap();
        assert_eq!(blocks.listed().len(), 3);
        let mark = bytes::Bytes::from_static(b"{\"version\":1}");
        rt.block_on(async {
            let p = ObjectPath::from(format!(
                "{TENANT}/markers/{}-deletion-mark.json",
                ulid_of(&global)
            ));
            bucket.put(&p, mark.clone()).await.unwrap();
            let p = ObjectPath::from(format!("{TENANT}/{}/deletion-mark.json", ulid_of(&inside)));
            bucket.put(&p, mark).await.unwrap();
        });
        assert_eq!(values(&blocks).unwrap(), [1.0], "remote: {remote}");
        assert_eq!(blocks.listed(), [ulid_of(&kept)]);
    }
}

#[test]
fn a_listed_block_whose_files_vanish_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    for remote in [false, true] {
        let store = Arc::new(InMemory::new());
        let bucket = if remote {
            Bucket::new(store.clone())
        } else {
            Bucket::local(&dir.path().join("bucket")).unwrap()
        };
        let base = dir.path().join(format!("remote-{remote}"));
        let good = write_block(&base.join("a"), &one_series(1.0), 0, 10_000);
        let gone = write_block(&base.join("b"), &one_series(2.0), 0, 10_000);
        put_block(&rt, &bucket, &good);
        put_block(&rt, &bucket, &gone);
        let long = Duration::from_secs(3600);
        let blocks = BucketBlocks::new(&bucket, TENANT, &cfg(&base, long), rt.handle().clone());
        blocks.sync().unwrap();
        let ulid = ulid_of(&gone);
        if remote {
            let p = ObjectPath::from(format!("{TENANT}/{ulid}/index"));
            rt.block_on(store.delete(&p)).unwrap();
        } else {
            let d = dir
                .path()
                .join("bucket")
                .join(TENANT)
                .join(ulid.to_string());
            std::fs::remove_file(d.join("index")).unwrap();
        }
        let err = values(&blocks).expect_err("no partial answer");
        match &err {
            QuerierError::Block { tenant, block, .. } => {
                assert_eq!(
                    (tenant.as_str(), block.as_str()),
                    (TENANT, ulid.to_string().as_str())
                );
            }
            e => panic!("remote {remote}: {e:?}"),
        }
        assert!(err.to_string().contains(&ulid.to_string()));
        // Label queries fail alike; excluding the block (held locally) answers.
        assert!(
            blocks
                .label_names(i64::MIN, i64::MAX, &[], &BTreeSet::new())
                .is_err()
        );
        let exclude = BTreeSet::from([ulid]);
        let series = blocks.select(&[], i64::MIN, i64::MAX, &exclude).unwrap();
        assert_eq!(series.len(), 1);
    }
}

#[test]
fn the_block_list_is_read_again_only_after_the_sync_interval() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let bucket = Bucket::local(&dir.path().join("bucket")).unwrap();
    let first = write_block(&dir.path().join("a"), &one_series(1.0), 0, 10_000);
    put_block(&rt, &bucket, &first);
    let lazy = BucketBlocks::new(
        &bucket,
        TENANT,
        &cfg(dir.path(), Duration::from_secs(3600)),
        rt.handle().clone(),
    );
    let eager = BucketBlocks::new(
        &bucket,
        TENANT,
        &cfg(dir.path(), Duration::ZERO),
        rt.handle().clone(),
    );
    assert_eq!(values(&lazy).unwrap(), [1.0]);
    assert_eq!(values(&eager).unwrap(), [1.0]);
    let second = write_block(
        &dir.path().join("b"),
        &one_series_at(25_000, 2.0),
        20_000,
        30_000,
    );
    put_block(&rt, &bucket, &second);
    assert_eq!(values(&lazy).unwrap(), [1.0], "listed within the interval");
    assert_eq!(
        values(&eager).unwrap(),
        [1.0, 2.0],
        "one series from two blocks"
    );
    assert_eq!(eager.listed().len(), 2);
    lazy.sync().unwrap();
    assert_eq!(values(&lazy).unwrap(), [1.0, 2.0]);
    // An upload without meta.json yet is not a block.
    let d = dir
        .path()
        .join("bucket")
        .join(TENANT)
        .join(ulid_of(&second).to_string());
    std::fs::remove_file(d.join("meta.json")).unwrap();
    eager.sync().unwrap();
    assert_eq!(eager.listed(), [ulid_of(&first)]);
}

#[test]
fn remote_blocks_are_downloaded_once_and_dropped_when_gone() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let store = Arc::new(InMemory::new());
    let bucket = Bucket::new(store.clone());
    let block = write_block(&dir.path().join("a"), &one_series(7.0), 0, 10_000);
    put_block(&rt, &bucket, &block);
    let ulid = ulid_of(&block);
    let reader = BucketReader::new(
        bucket.clone(),
        cfg(dir.path(), Duration::ZERO),
        rt.handle().clone(),
    );
    let blocks = reader.tenant(TENANT);
    assert!(
        Arc::ptr_eq(&blocks, &reader.tenant(TENANT)),
        "one per tenant"
    );
    assert_eq!(values(&blocks).unwrap(), [7.0]);
    let cached = dir.path().join("sync").join(TENANT).join(ulid.to_string());
    assert!(cached.join("index").is_file());
    assert!(cached.join("chunks").join("000001").is_file());
    let leftovers: Vec<_> = std::fs::read_dir(cached.parent().unwrap())
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary directory is left");
    // The chunks are not fetched again: a new reader (a restart) uses the cached copy.
    let chunk = ObjectPath::from(format!("{TENANT}/{ulid}/chunks/000001"));
    rt.block_on(store.delete(&chunk)).unwrap();
    let again = BucketBlocks::new(
        &bucket,
        TENANT,
        &cfg(dir.path(), Duration::ZERO),
        rt.handle().clone(),
    );
    assert_eq!(values(&again).unwrap(), [7.0]);
    // Gone from the bucket: no longer listed, and its copy is deleted.
    let prefix = ObjectPath::from(format!("{TENANT}/{ulid}"));
    rt.block_on(async {
        let listed = store.list_with_delimiter(Some(&prefix)).await.unwrap();
        for o in listed.objects {
            store.delete(&o.location).await.unwrap();
        }
    });
    assert!(values(&again).unwrap().is_empty());
    assert!(!cached.exists());
}
