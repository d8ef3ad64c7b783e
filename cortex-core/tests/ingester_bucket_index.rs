//! The bucket index kept current by shipping: written when blocks are uploaded and
//! listing them, left alone when nothing changed, rewritten by a new process when it is
//! missing, and a failed update counted without failing the ship.

mod ingester_common;

use cortex_core::ingester::{Bucket, StaticLimits};
use cortex_core::storage::bucketindex::read_index;
use cortex_core::storage::{BlockStore, ObjectBlockStore};
use cortex_tsdb::ulid::Ulid;
use ingester_common::*;

async fn indexed(store: &ObjectBlockStore, tenant: &str) -> Vec<Ulid> {
    let mut ids: Vec<Ulid> = read_index(store, tenant)
        .await
        .unwrap()
        .blocks
        .iter()
        .map(|b| b.block_id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipping_writes_the_bucket_index_and_a_new_process_repairs_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let bucket_dir = dir.path().join("bucket");
    let store = ObjectBlockStore::local(&bucket_dir).unwrap();
    let cfg = tsdb_config(dir.path());
    let now = cortex_core::ingester::tenant::now_ms();
    let first = {
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
        let s = ing.flush().await.unwrap().shipped;
        assert_eq!(
            (s.uploaded, s.index_updates, s.index_update_failures),
            (1, 1, 0)
        );
        assert_eq!(ing.metrics().bucket_index_updates.get(), 1);
        let ids: Vec<Ulid> = ing
            .db("t")
            .unwrap()
            .blocks()
            .iter()
            .map(|b| b.meta().ulid)
            .collect();
        assert_eq!(
            indexed(&store, "t").await,
            ids,
            "the index lists the shipped block"
        );
        let idx = read_index(&store, "t").await.unwrap();
        assert!(
            (idx.updated_at - now / 1000).abs() < 60,
            "{}",
            idx.updated_at
        );

        // Nothing new: the index is left alone.
        let s = ing.ship().await.unwrap();
        assert_eq!((s.uploaded, s.index_updates), (0, 0));
        ing.shutdown().await.unwrap();
        ids
    };
    // The index is lost (say, a concurrent writer's stale copy was deleted); a restarted
    // ingester that uploads nothing writes it again.
    store.delete("t/bucket-index.json.gz").await.unwrap();
    let ing = open(
        cfg,
        Bucket::local(&bucket_dir).unwrap(),
        StaticLimits::default(),
    );
    let s = ing.ship().await.unwrap();
    assert_eq!((s.uploaded, s.index_updates), (0, 1));
    assert_eq!(indexed(&store, "t").await, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_without_blocks_in_the_bucket_gets_no_index() {
    let dir = tempfile::tempdir().unwrap();
    let bucket_dir = dir.path().join("bucket");
    let ing = open(
        tsdb_config(dir.path()),
        Bucket::local(&bucket_dir).unwrap(),
        StaticLimits::default(),
    );
    let now = cortex_core::ingester::tenant::now_ms();
    ing.push(
        "t",
        &request(vec![series(&[("__name__", "m")], &[(now, 1.0)])]),
    )
    .unwrap();
    // The head is not cut: nothing to upload, nothing to index.
    let s = ing.ship().await.unwrap();
    assert_eq!(
        (s.uploaded, s.index_updates, s.index_update_failures),
        (0, 0, 0)
    );
    assert!(!bucket_dir.join("t/bucket-index.json.gz").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_index_update_is_counted_and_retried_without_failing_the_ship() {
    let dir = tempfile::tempdir().unwrap();
    let bucket_dir = dir.path().join("bucket");
    let store = ObjectBlockStore::local(&bucket_dir).unwrap();
    // A directory where the index goes: it can be neither read nor written.
    let blocker = bucket_dir.join("t/bucket-index.json.gz");
    std::fs::create_dir_all(blocker.join("x")).unwrap();
    std::fs::write(blocker.join("x/y"), b"").unwrap();
    let ing = open(
        tsdb_config(dir.path()),
        Bucket::local(&bucket_dir).unwrap(),
        StaticLimits::default(),
    );
    ing.push(
        "t",
        &request(vec![series(&[("__name__", "m")], &[(1000, 1.0)])]),
    )
    .unwrap();
    ing.compact_all(true).unwrap();
    let s = ing.ship().await.unwrap();
    assert_eq!((s.uploaded, s.failed), (1, 0), "the block itself shipped");
    assert_eq!((s.index_updates, s.index_update_failures), (0, 1));
    assert!(s.index_error.unwrap().contains("bucket index of t"));
    assert_eq!(ing.metrics().bucket_index_update_failures.get(), 1);

    std::fs::remove_dir_all(&blocker).unwrap();
    let s = ing.ship().await.unwrap();
    assert_eq!(
        (s.uploaded, s.index_updates, s.index_update_failures),
        (0, 1, 0)
    );
    let id = ing.db("t").unwrap().blocks()[0].meta().ulid;
    assert_eq!(indexed(&store, "t").await, [id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_indexes_of_tenants_nobody_ships_for_are_rewritten() {
    use cortex_core::ingester::bucket_index::{STALE_INDEX_AGE, refresh_stale};
    use cortex_core::storage::bucketindex::{BucketIndex, write_index};

    // A block laid out as the shipper uploads it; `partial` leaves out meta.json.
    async fn put_block(store: &ObjectBlockStore, tenant: &str, id: Ulid, partial: bool) {
        let p = |f: &str| format!("{tenant}/{id}/{f}");
        let chunk = bytes::Bytes::from_static(b"chunks");
        store.put(&p("chunks/000001"), chunk).await.unwrap();
        let index = bytes::Bytes::from_static(b"index");
        store.put(&p("index"), index).await.unwrap();
        if !partial {
            let meta = cortex_tsdb::block::BlockMeta::new_level1(id, 0, 100);
            let meta = bytes::Bytes::from(meta.to_json());
            store.put(&p("meta.json"), meta).await.unwrap();
        }
    }

    let store = ObjectBlockStore::in_memory();
    let (a, b) = (
        Ulid::from_parts(1_700_000_000_000, 1),
        Ulid::from_parts(1_700_000_000_000, 2),
    );
    // `idle` has a block and an index that does not list it; `fresh` has one written
    // just now; `unindexed` has a block and no index; `partial` has only a block still
    // being uploaded, and no index.
    put_block(&store, "idle", a, false).await;
    write_index(&store, "idle", &BucketIndex::empty(1))
        .await
        .unwrap();
    put_block(&store, "unindexed", b, false).await;
    put_block(&store, "partial", b, true).await;
    let now = cortex_core::ingester::tenant::now_ms();
    write_index(&store, "fresh", &BucketIndex::empty(now / 1000))
        .await
        .unwrap();

    // Right after the writes nothing is older than the limit: only the missing
    // indexes of tenants with block directories are written (a partial block is not
    // listed in it).
    let r = refresh_stale(&store, now, STALE_INDEX_AGE).await;
    assert_eq!((r.tenants, r.updated, r.failed.len()), (4, 2, 0), "{r:?}");
    assert_eq!(indexed(&store, "unindexed").await, vec![b]);
    assert!(indexed(&store, "partial").await.is_empty());
    assert!(indexed(&store, "idle").await.is_empty());

    // Later, every index is older than the limit and is rewritten from the bucket.
    let later = now + STALE_INDEX_AGE.as_millis() as i64 + 1000;
    let r = refresh_stale(&store, later, STALE_INDEX_AGE).await;
    assert_eq!((r.tenants, r.updated, r.failed.len()), (4, 4, 0), "{r:?}");
    assert_eq!(indexed(&store, "idle").await, vec![a]);
    assert_eq!(
        read_index(&store, "idle").await.unwrap().updated_at,
        later / 1000
    );
}
