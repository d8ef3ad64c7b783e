//! Every [`BlockStore`] implementation through the conformance suite — a local
//! directory, memory, S3 against an S3-compatible server (s3s over a temporary
//! directory), GCS against GCS's XML API ([`super::gcs_fake`]) and Azure against a
//! Blob Storage fake ([`super::azure_fake`]), all on loopback — plus the bucket-index
//! reader's staleness rules and the updater's reuse of what an old index already knows.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cortex_tsdb::ulid::Ulid;

use super::azure::AzureConfig;
use super::bucketindex::{BucketIndex, update_index, write_index};
use super::config::{Backend, BucketConfig, BucketIndexConfig, BucketLookupType, S3Config};
use super::error::StorageError;
use super::gcs::GcsConfig;
use super::store::{BlockStore, ObjectBlockStore};
use super::testing::{put_block, run_conformance};
use super::{BucketIndexReader, open_block_store};
use crate::ingester::duration::GoDuration;

#[tokio::test]
async fn local_filesystem_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectBlockStore::local(&dir.path().join("bucket")).unwrap();
    run_conformance(&store).await;
    // Objects are the files under the directory.
    store.put("t/x", Bytes::from_static(b"abc")).await.unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("bucket/t/x")).unwrap(),
        b"abc"
    );
}

#[tokio::test]
async fn in_memory_conforms() {
    run_conformance(&ObjectBlockStore::in_memory()).await;
}

const ACCESS_KEY: &str = "cortex-test";
const SECRET_KEY: &str = "cortex-test-secret";
const BUCKET: &str = "blocks";

/// An S3 server on loopback serving buckets from `root`'s subdirectories.
async fn start_s3_server(root: &std::path::Path) -> SocketAddr {
    std::fs::create_dir_all(root.join(BUCKET)).unwrap();
    let fs = s3s_fs::FileSystem::new(root).unwrap();
    let mut b = s3s::service::S3ServiceBuilder::new(fs);
    b.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = b.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let service = service.clone();
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(conn);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    addr
}

fn s3_config(addr: SocketAddr) -> BucketConfig {
    BucketConfig {
        backend: Backend::S3,
        s3: S3Config {
            endpoint: addr.to_string(),
            bucket_name: BUCKET.into(),
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
            insecure: true,
            bucket_lookup_type: BucketLookupType::Path,
            ..S3Config::default()
        },
        ..BucketConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start_s3_server(dir.path()).await;
    let store = open_block_store(&s3_config(addr)).unwrap();
    assert!(store.local_dir().is_none());
    run_conformance(&*store).await;
    // The objects really went to the server's directory.
    store.put("t/x", Bytes::from_static(b"abc")).await.unwrap();
    assert_eq!(
        std::fs::read(dir.path().join(BUCKET).join("t/x")).unwrap(),
        b"abc"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_with_wrong_secret_is_an_object_store_error() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start_s3_server(dir.path()).await;
    let mut cfg = s3_config(addr);
    cfg.s3.secret_access_key = "wrong".into();
    let store = open_block_store(&cfg).unwrap();
    let r = store.put("t/x", Bytes::from_static(b"abc")).await;
    assert!(
        matches!(r, Err(StorageError::ObjectStore { op: "put", .. })),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let fake = super::gcs_fake::start(dir.path(), BUCKET).await;
    let cfg = BucketConfig {
        backend: Backend::Gcs,
        gcs: GcsConfig {
            bucket_name: BUCKET.into(),
            service_account: super::gcs_fake::service_account_key(&fake),
        },
        ..BucketConfig::default()
    };
    let store = open_block_store(&cfg).unwrap();
    run_conformance(&*store).await;
    store.put("t/x", Bytes::from_static(b"abc")).await.unwrap();
    assert_eq!(
        std::fs::read(dir.path().join(BUCKET).join("t/x")).unwrap(),
        b"abc"
    );
    assert!(
        fake.refused.lock().unwrap().is_empty(),
        "{:?}",
        fake.refused
    );
    assert!(fake.served.load(std::sync::atomic::Ordering::Relaxed) > 50);
}

const AZURE_ACCOUNT: &str = "cortexblocks";
const AZURE_CONTAINER: &str = "blocks";
/// The account key the fake checks signatures with, and its base64 for the config.
const AZURE_KEY_BYTES: &[u8] = b"secret-key-for-tests";
const AZURE_KEY: &str = "c2VjcmV0LWtleS1mb3ItdGVzdHM=";

/// An Azure store for `cfg`'s settings, pointed at `fake` over plain HTTP.
fn azure_store(cfg: &AzureConfig, fake: &super::azure_fake::FakeAzure) -> ObjectBlockStore {
    let azure = super::azure::builder(cfg)
        .unwrap()
        .with_endpoint(fake.endpoint())
        .with_allow_http(true)
        .build()
        .unwrap();
    ObjectBlockStore::new(Arc::new(azure))
}

fn azure_config() -> AzureConfig {
    AzureConfig {
        account_name: AZURE_ACCOUNT.into(),
        account_key: AZURE_KEY.into(),
        container_name: AZURE_CONTAINER.into(),
        max_retries: 0,
        ..AzureConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_conforms() {
    // Pages of 2 entries, so listings follow NextMarker.
    let fake = super::azure_fake::start(AZURE_ACCOUNT, AZURE_KEY_BYTES, AZURE_CONTAINER, 2).await;
    let store = azure_store(&azure_config(), &fake);
    run_conformance(&store).await;
    store.put("t/x", Bytes::from_static(b"abc")).await.unwrap();
    assert!(fake.blob_names().contains(&"t/x".to_string()));
    assert!(
        fake.refused.lock().unwrap().is_empty(),
        "{:?}",
        fake.refused
    );
    assert!(fake.list_pages.load(std::sync::atomic::Ordering::Relaxed) > 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_with_a_wrong_key_or_account_is_an_object_store_error() {
    let fake = super::azure_fake::start(AZURE_ACCOUNT, AZURE_KEY_BYTES, AZURE_CONTAINER, 100).await;
    let wrong_key = AzureConfig {
        // base64 of `another-key`
        account_key: "YW5vdGhlci1rZXk=".into(),
        ..azure_config()
    };
    let other_account = AzureConfig {
        account_name: "someoneelse".into(),
        ..azure_config()
    };
    for cfg in [wrong_key, other_account] {
        let store = azure_store(&cfg, &fake);
        let r = store.put("t/x", Bytes::from_static(b"abc")).await;
        assert!(
            matches!(r, Err(StorageError::ObjectStore { op: "put", .. })),
            "{r:?}"
        );
        let r = store.list("t").await;
        assert!(
            matches!(r, Err(StorageError::ObjectStore { op: "list", .. })),
            "{r:?}"
        );
    }
    assert_eq!(fake.refused.lock().unwrap().len(), 4);
    assert!(fake.blob_names().is_empty());
}

fn reader(store: Arc<dyn BlockStore>, max_stale: GoDuration) -> BucketIndexReader {
    BucketIndexReader::new(
        store,
        BucketIndexConfig {
            max_stale_period: max_stale,
        },
    )
}

#[tokio::test]
async fn missing_index_reads_as_empty_for_a_new_tenant() {
    let store: Arc<dyn BlockStore> = Arc::new(ObjectBlockStore::in_memory());
    let idx = reader(store, GoDuration::hours(1))
        .load("new", 1000)
        .await
        .unwrap();
    assert_eq!(idx, BucketIndex::empty(1000));
}

#[tokio::test]
async fn stale_index_is_refused_fresh_one_loads() {
    let store: Arc<dyn BlockStore> = Arc::new(ObjectBlockStore::in_memory());
    write_index(&*store, "t", &BucketIndex::empty(10_000))
        .await
        .unwrap();
    let r = reader(store.clone(), GoDuration::hours(1));
    assert_eq!(r.load("t", 10_000 + 3600).await.unwrap().updated_at, 10_000);
    let err = r.load("t", 10_000 + 3601).await.unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::IndexTooOld { ref tenant, updated_at: 10_000, age_secs: 3601, max_stale_secs: 3600 }
                if tenant == "t"
        ),
        "{err:?}"
    );
    // Zero disables the check.
    let unchecked = reader(store, GoDuration::ZERO);
    assert!(unchecked.load("t", i64::MAX).await.is_ok());
}

#[tokio::test]
async fn corrupted_index_is_an_error_not_empty() {
    let store: Arc<dyn BlockStore> = Arc::new(ObjectBlockStore::in_memory());
    store
        .put("t/bucket-index.json.gz", Bytes::from_static(b"garbage"))
        .await
        .unwrap();
    let r = reader(store, GoDuration::hours(1)).load("t", 0).await;
    assert!(matches!(r, Err(StorageError::Corrupted { .. })), "{r:?}");
}

#[tokio::test]
async fn cached_reader_reads_the_bucket_once_per_refresh_and_still_checks_age() {
    let store: Arc<dyn BlockStore> = Arc::new(ObjectBlockStore::in_memory());
    let cfg = BucketIndexConfig {
        max_stale_period: GoDuration::hours(1),
    };
    // No index yet: empty, and remembered for a while (until invalidated).
    let r = BucketIndexReader::cached(store.clone(), cfg.clone(), Duration::from_secs(3600));
    assert_eq!(r.load("t", 5).await.unwrap(), BucketIndex::empty(5));
    write_index(&*store, "t", &BucketIndex::empty(10_000))
        .await
        .unwrap();
    assert_eq!(
        r.load("t", 10_000).await.unwrap(),
        BucketIndex::empty(10_000)
    );
    r.invalidate("t");
    assert_eq!(r.load("t", 10_000).await.unwrap().updated_at, 10_000);
    // A newer index in the bucket is not read before the refresh interval...
    write_index(&*store, "t", &BucketIndex::empty(20_000))
        .await
        .unwrap();
    let clone = r.clone();
    assert_eq!(clone.load("t", 10_100).await.unwrap().updated_at, 10_000);
    // ...but the cached one is refused once too old,
    let err = r.load("t", 10_000 + 3601).await.unwrap_err();
    assert!(matches!(err, StorageError::IndexTooOld { .. }), "{err:?}");
    // and an invalidated tenant is read again.
    r.invalidate("t");
    assert_eq!(r.load("t", 20_000).await.unwrap().updated_at, 20_000);
    // With a zero refresh interval every load reads the bucket.
    let uncached = BucketIndexReader::cached(store.clone(), cfg, Duration::ZERO);
    assert_eq!(uncached.load("t", 20_000).await.unwrap().updated_at, 20_000);
    write_index(&*store, "t", &BucketIndex::empty(30_000))
        .await
        .unwrap();
    assert_eq!(uncached.load("t", 30_000).await.unwrap().updated_at, 30_000);
}

#[tokio::test]
async fn updater_reuses_indexed_blocks_without_reading_them() {
    let store = ObjectBlockStore::in_memory();
    let a = Ulid::from_parts(1_700_000_000_000, 1);
    let gone = Ulid::from_parts(1_700_000_000_000, 2);
    put_block(&store, "t", a, 0, 100, false).await;
    let first = update_index(&store, "t", None, 50).await.unwrap();
    // An old index claiming other times for `a` (and a block no longer in the bucket):
    // blocks are immutable, so the updater keeps the old entry and drops the gone one.
    let mut old = first.index.clone();
    old.blocks[0].min_time = 42;
    let mut gone_entry = old.blocks[0].clone();
    gone_entry.block_id = gone;
    old.blocks.push(gone_entry);
    let next = update_index(&store, "t", Some(&old), 60).await.unwrap();
    assert_eq!(next.index.blocks.len(), 1);
    assert_eq!(next.index.blocks[0].block_id, a);
    assert_eq!(next.index.blocks[0].min_time, 42);
}

#[tokio::test]
async fn updater_counts_no_compact_marks_and_skips_corrupted_metas() {
    use super::markers::{NoCompactMark, write_marker};
    let store = ObjectBlockStore::in_memory();
    let a = Ulid::from_parts(1_700_000_000_000, 1);
    let bad = Ulid::from_parts(1_700_000_000_000, 2);
    put_block(&store, "t", a, 0, 100, false).await;
    put_block(&store, "t", bad, 0, 100, true).await;
    store
        .put(
            &format!("t/{bad}/meta.json"),
            Bytes::from_static(b"{not json"),
        )
        .await
        .unwrap();
    write_marker(&store, "t", &NoCompactMark::new(a, 5, "manual", ""))
        .await
        .unwrap();
    let out = update_index(&store, "t", None, 50).await.unwrap();
    assert_eq!(out.no_compact_marks, 1);
    assert_eq!(out.index.blocks.len(), 1);
    assert!(
        out.partials[&bad].contains("corrupted"),
        "{:?}",
        out.partials
    );
}
