//! The conformance suite every [`BlockStore`] runs — local directory, memory, S3, GCS,
//! Azure — so they all behave alike: [`run_conformance`] checks the object operations
//! and the listing semantics, then the layout walkers, markers and the bucket index on
//! top of them. Also [`put_block`], which writes a small fake block the way the shipper lays
//! one out, for other tests.

use bytes::Bytes;
use cortex_tsdb::block::BlockMeta;
use cortex_tsdb::ulid::Ulid;

use super::bucketindex::{BucketIndex, read_index, update_and_write_index, update_index};
use super::error::StorageError;
use super::layout::{
    DELETION_MARK_FILENAME, chunk_segment_path, exists, global_marker_path, list_blocks,
    list_tenants, meta_path,
};
use super::markers::{DeletionMark, NoCompactMark, delete_marker, read_marker, write_marker};
use super::store::BlockStore;

/// Writes a block of `tenant` covering `[mint, maxt)`: one chunk segment, an index
/// and, unless `partial`, its `meta.json` (uploaded last, as the shipper does), with the
/// `thanos.segment_files` Cortex's ingesters write.
pub async fn put_block(
    store: &dyn BlockStore,
    tenant: &str,
    id: Ulid,
    mint: i64,
    maxt: i64,
    partial: bool,
) {
    store
        .put(
            &chunk_segment_path(tenant, id, 1),
            Bytes::from_static(b"chunks"),
        )
        .await
        .expect("put chunks");
    store
        .put(
            &format!("{tenant}/{id}/index"),
            Bytes::from_static(b"index"),
        )
        .await
        .expect("put index");
    if partial {
        return;
    }
    let mut meta = BlockMeta::new_level1(id, mint, maxt);
    meta.extra.insert(
        "thanos".into(),
        serde_json::json!({"labels": {"__org_id__": tenant}, "segment_files": ["000001"]}),
    );
    store
        .put(&meta_path(tenant, id), Bytes::from(meta.to_json()))
        .await
        .expect("put meta.json");
}

/// Runs every check against `store`, which must be empty.
pub async fn run_conformance(store: &dyn BlockStore) {
    objects(store).await;
    listing(store).await;
    deletes(store).await;
    invalid_paths(store).await;
    markers(store).await;
    bucket_index(store).await;
}

async fn objects(store: &dyn BlockStore) {
    let p = "conf-objects/a/obj";
    assert!(store.get(p).await.unwrap_err().is_not_found());
    assert!(store.head(p).await.unwrap_err().is_not_found());
    assert!(store.get_range(p, 0..1).await.unwrap_err().is_not_found());
    assert!(!exists(store, p).await.unwrap());

    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    store.put(p, Bytes::from(data.clone())).await.unwrap();
    assert!(exists(store, p).await.unwrap());
    assert_eq!(store.get(p).await.unwrap().as_ref(), &data[..]);
    let info = store.head(p).await.unwrap();
    assert_eq!(info.path, p);
    assert_eq!(info.size, 10_000);
    assert!(info.last_modified_ms > 1_600_000_000_000, "{info:?}");
    assert_eq!(
        store.get_range(p, 100..228).await.unwrap().as_ref(),
        &data[100..228]
    );
    assert_eq!(
        store.get_range(p, 9_990..20_000).await.unwrap().as_ref(),
        &data[9_990..]
    );
    assert!(store.get_range(p, 5..5).await.unwrap().is_empty());

    store.put(p, Bytes::from_static(b"new")).await.unwrap();
    assert_eq!(store.get(p).await.unwrap().as_ref(), b"new");
    assert_eq!(store.head(p).await.unwrap().size, 3);
    store.put("conf-objects/empty", Bytes::new()).await.unwrap();
    assert!(store.get("conf-objects/empty").await.unwrap().is_empty());
}

async fn listing(store: &dyn BlockStore) {
    for p in [
        "ls/t1/x",
        "ls/t1/d1/y",
        "ls/t1/d1/z/w",
        "ls/t1/d2/v",
        "ls/t2/u",
    ] {
        store.put(p, Bytes::from_static(b"1")).await.unwrap();
    }
    let l = store.list("ls/t1").await.unwrap();
    let objs: Vec<&str> = l.objects.iter().map(|o| o.path.as_str()).collect();
    assert_eq!(objs, ["ls/t1/x"]);
    assert_eq!(l.dirs, ["ls/t1/d1", "ls/t1/d2"]);
    assert_eq!(store.list("ls/t1/").await.unwrap(), l);
    let root = store.list("").await.unwrap();
    assert!(root.dirs.contains(&"ls".to_string()), "{root:?}");
    assert!(!root.dirs.iter().any(|d| d.ends_with('/')));
    let all: Vec<String> = store
        .list_recursive("ls/t1")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.path)
        .collect();
    assert_eq!(all, ["ls/t1/d1/y", "ls/t1/d1/z/w", "ls/t1/d2/v", "ls/t1/x"]);
    // A prefix is a directory, not a string prefix.
    assert!(store.list_recursive("ls/t").await.unwrap().is_empty());
    assert_eq!(
        store.list("nothing/here").await.unwrap(),
        Default::default()
    );
    assert!(store.list_recursive("nothing").await.unwrap().is_empty());
}

async fn deletes(store: &dyn BlockStore) {
    store
        .put("del/a/b", Bytes::from_static(b"1"))
        .await
        .unwrap();
    store.delete("del/a/b").await.unwrap();
    assert!(store.get("del/a/b").await.unwrap_err().is_not_found());
    store.delete("del/a/b").await.unwrap();
    store.delete("del/never").await.unwrap();
    // Once its last object is gone, a directory is gone from listings.
    let root = store.list("").await.unwrap();
    assert!(!root.dirs.contains(&"del".to_string()), "{root:?}");
}

async fn invalid_paths(store: &dyn BlockStore) {
    for bad in ["", "a//b", "a/../b"] {
        let r = store.put(bad, Bytes::from_static(b"1")).await;
        assert!(
            matches!(r, Err(StorageError::InvalidPath { .. })),
            "{bad:?}: {r:?}"
        );
    }
}

async fn markers(store: &dyn BlockStore) {
    let id = Ulid::from_parts(1_700_000_000_000, 42);
    assert!(
        read_marker::<DeletionMark>(store, "mk", id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let m = DeletionMark::new(id, 1_700_000_100, "retention");
    write_marker(store, "mk", &m).await.unwrap();
    assert_eq!(
        read_marker::<DeletionMark>(store, "mk", id).await.unwrap(),
        m
    );
    let global = global_marker_path("mk", id, DELETION_MARK_FILENAME);
    let g: DeletionMark = serde_json::from_slice(&store.get(&global).await.unwrap()).unwrap();
    assert_eq!(g, m);
    let nc = NoCompactMark::new(id, 1_700_000_200, "manual", "");
    write_marker(store, "mk", &nc).await.unwrap();
    assert_eq!(
        read_marker::<NoCompactMark>(store, "mk", id).await.unwrap(),
        nc
    );
    delete_marker::<DeletionMark>(store, "mk", id)
        .await
        .unwrap();
    assert!(!exists(store, &global).await.unwrap());
    assert!(
        read_marker::<DeletionMark>(store, "mk", id)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

async fn bucket_index(store: &dyn BlockStore) {
    let t = "tenant-idx";
    let full = Ulid::from_parts(1_700_000_000_000, 1);
    let partial = Ulid::from_parts(1_700_000_000_000, 2);
    let marked = Ulid::from_parts(1_700_000_000_000, 3);
    put_block(store, t, full, 0, 7_200_000, false).await;
    put_block(store, t, partial, 0, 7_200_000, true).await;
    put_block(store, t, marked, 7_200_000, 14_400_000, false).await;
    write_marker(store, t, &DeletionMark::new(marked, 1_700_000_500, ""))
        .await
        .unwrap();
    store
        .put(&format!("{t}/not-a-block/x"), Bytes::from_static(b"1"))
        .await
        .unwrap();

    assert_eq!(
        list_blocks(store, t).await.unwrap(),
        vec![full, partial, marked]
    );
    let tenants = list_tenants(store).await.unwrap();
    assert!(tenants.contains(&t.to_string()), "{tenants:?}");

    assert!(read_index(store, t).await.unwrap_err().is_not_found());
    let out = update_and_write_index(store, t, 1_700_001_000)
        .await
        .unwrap();
    let ids: Vec<Ulid> = out.index.blocks.iter().map(|b| b.block_id).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&full) && ids.contains(&marked));
    assert_eq!(
        out.partials.keys().copied().collect::<Vec<_>>(),
        vec![partial]
    );
    assert_eq!(out.index.block_deletion_marks.len(), 1);
    assert_eq!(out.index.block_deletion_marks[0].block_id, marked);
    assert_eq!(
        out.index.block_deletion_marks[0].deletion_time,
        1_700_000_500
    );
    let b = out
        .index
        .blocks
        .iter()
        .find(|b| b.block_id == full)
        .unwrap();
    assert_eq!((b.min_time, b.max_time), (0, 7_200_000));
    assert_eq!((b.segments_format.as_str(), b.segments_num), ("1b6d", 1));
    let meta_info = store.head(&meta_path(t, full)).await.unwrap();
    assert_eq!(b.uploaded_at, meta_info.last_modified_ms / 1000);

    let read: BucketIndex = read_index(store, t).await.unwrap();
    assert_eq!(read, out.index);

    // The partial block completes, the marked block and its marks are deleted.
    put_block(store, t, partial, 0, 7_200_000, false).await;
    for f in store
        .list_recursive(&format!("{t}/{marked}"))
        .await
        .unwrap()
    {
        store.delete(&f.path).await.unwrap();
    }
    delete_marker::<DeletionMark>(store, t, marked)
        .await
        .unwrap();
    let next = update_index(store, t, Some(&read), 1_700_002_000)
        .await
        .unwrap();
    let mut ids: Vec<Ulid> = next.index.blocks.iter().map(|b| b.block_id).collect();
    ids.sort();
    assert_eq!(ids, vec![full, partial]);
    assert!(next.partials.is_empty());
    assert!(next.index.block_deletion_marks.is_empty());
    assert_eq!(next.index.updated_at, 1_700_002_000);
}
