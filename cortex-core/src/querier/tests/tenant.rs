//! The tenant querier as the single binary runs it — the ingester's TSDB and the
//! tenant's bucket blocks through an in-process store-gateway: conformance with data
//! split across bucket, local block and head; local and bucket copies of a block read
//! once; the per-query limits counted over both.

use std::sync::Arc;

use cortex_tsdb::block::BlockMeta;
use cortex_tsdb::labels::Matcher;
use cortex_tsdb::ulid::Ulid;

use super::*;
use crate::querier::blocks_store::{BlocksStoreConfig, BlocksStoreQuerier};
use crate::querier::federated::FederatedQuerier;
use crate::querier::tenant::TenantQuerier;
use crate::querier::testing::{Capabilities, Fixture, run_conformance_with};
use crate::querier::{QuerierError, QueryLimits};
use crate::storage::bucketindex::update_and_write_index;
use crate::storage::{BucketIndexConfig, BucketIndexReader};
use crate::storegateway::{
    BlockSetConfig, InProcessReplicas, NoRangeCache, OwnsAll, StoreGateway, StoreGatewayConfig,
};

/// A tenant's bucket blocks, indexed and served by an in-process store-gateway.
struct BucketBlocks {
    gateway: Arc<StoreGateway>,
    index: BucketIndexReader,
    handle: tokio::runtime::Handle,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl BucketBlocks {
    /// Writes the tenant's bucket index and syncs a store-gateway from it.
    fn new(rt: &Runtime, bucket: &Bucket, sync_dir: &Path) -> BucketBlocks {
        let store = bucket.block_store().clone();
        let now = now_secs();
        rt.block_on(update_and_write_index(&*store, TENANT, now))
            .unwrap();
        let cfg = StoreGatewayConfig {
            block_set: BlockSetConfig {
                sync_dir: sync_dir.to_path_buf(),
                ..Default::default()
            },
            ..Default::default()
        };
        let gateway = Arc::new(StoreGateway::new(
            store.clone(),
            cfg,
            Arc::new(OwnsAll),
            Arc::new(NoRangeCache),
        ));
        let report = rt.block_on(gateway.sync_all(now));
        assert!(report.errors.is_empty(), "{report:?}");
        BucketBlocks {
            gateway,
            index: BucketIndexReader::new(store, BucketIndexConfig::default()),
            handle: rt.handle().clone(),
        }
    }

    /// The ULIDs the store-gateway lists for the tenant.
    fn listed(&self) -> Vec<Ulid> {
        self.gateway
            .listed_blocks()
            .remove(TENANT)
            .unwrap_or_default()
    }

    /// The tenant's querier over `db` and these blocks, with `limits`.
    fn querier(&self, db: Option<Arc<Db>>, limits: QueryLimits) -> TenantQuerier {
        let store = BlocksStoreQuerier::new(
            TENANT,
            self.index.clone(),
            Arc::new(InProcessReplicas::new(self.gateway.clone())),
            self.handle.clone(),
            BlocksStoreConfig::default(),
            limits,
        );
        TenantQuerier::with_gateways(TENANT, db, store)
    }
}

const TSDB: Capabilities = Capabilities {
    start_timestamps: false,
    counter_reset_hints: false,
};

/// Loads `data` as an ingester would hold it after some time: samples before 50s only
/// in a bucket block, 50s..120s in a local block that was also shipped, the rest in the
/// head. Returns the TSDB and the tenant's bucket blocks. Each call works in a new
/// directory below `parent`.
fn split(parent: &Path, rt: &Runtime, data: &Fixture, remote: bool) -> (Arc<Db>, BucketBlocks) {
    std::fs::create_dir_all(parent).unwrap();
    let dir = tempfile::tempdir_in(parent).unwrap().keep();
    let dir = dir.as_path();
    let bucket = if remote {
        Bucket::new(Arc::new(object_store::memory::InMemory::new()))
    } else {
        Bucket::local(&dir.join("bucket")).unwrap()
    };
    let old = write_block(&dir.join("old"), data, i64::MIN, 50_000);
    put_block(rt, &bucket, &old);
    let db = open_db(&dir.join("ingester"));
    append(&db, data, 50_000, 120_000);
    let cut = db.compact_head_all().unwrap();
    assert_eq!(cut.len(), 1);
    put_block(
        rt,
        &bucket,
        &dir.join("ingester").join(cut[0].ulid.to_string()),
    );
    append(&db, data, 120_000, i64::MAX);
    (db, BucketBlocks::new(rt, &bucket, &dir.join("sync")))
}

#[test]
fn tenant_querier_over_a_local_bucket_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    run_conformance_with(TSDB, |data| {
        let (db, blocks) = split(dir.path(), &rt, data, false);
        blocks.querier(Some(db), QueryLimits::default())
    });
}

#[test]
fn tenant_querier_over_a_remote_bucket_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    run_conformance_with(TSDB, |data| {
        let (db, blocks) = split(dir.path(), &rt, data, true);
        blocks.querier(Some(db), QueryLimits::default())
    });
}

#[test]
fn federated_querier_of_one_tenant_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    run_conformance_with(TSDB, |data| {
        let (db, blocks) = split(dir.path(), &rt, data, false);
        let q = blocks.querier(Some(db), QueryLimits::default());
        FederatedQuerier::new(vec![(TENANT.to_string(), Box::new(q) as Box<dyn Querier>)])
    });
}

fn m_data() -> Fixture {
    vec![
        (
            labels(&[("__name__", "m"), ("x", "1")]),
            (0..30).map(|i| float(i * 10_000, i as f64)).collect(),
        ),
        (
            labels(&[("__name__", "m"), ("x", "2")]),
            (0..30).map(|i| float(i * 10_000, -(i as f64))).collect(),
        ),
    ]
}

#[test]
fn data_only_in_the_bucket_is_returned() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let data = m_data();
    let (db, blocks) = split(dir.path(), &rt, &data, false);
    let with_bucket = blocks.querier(Some(db.clone()), QueryLimits::default());
    let got = dump(&with_bucket, &all());
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1.len(), 30, "every sample, old ones from the bucket");
    assert_eq!(got[0].1[0], (0, 0.0));
    // Without the bucket the old samples are missing: the bucket supplied them.
    let local_only = TenantQuerier::new(TENANT, Some(db), QueryLimits::default());
    assert_eq!(dump(&local_only, &all())[0].1.first(), Some(&(50_000, 5.0)));
    // A tenant the ingester has no TSDB for is read from the bucket alone.
    let (_, blocks) = split(&dir.path().join("again"), &rt, &data, false);
    let bucket_only = blocks.querier(None, QueryLimits::default());
    let got = dump(&bucket_only, &all());
    assert_eq!(got[0].1.len(), 12, "the old block and the shipped one");
    assert_eq!(
        with_bucket.label_values("x", 0, 40_000, &[]).unwrap(),
        ["1", "2"]
    );
}

#[test]
fn a_block_both_local_and_in_the_bucket_is_read_from_the_ingester_only() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let bucket = Bucket::local(&dir.path().join("bucket")).unwrap();
    let data = m_data();
    let db = open_db(&dir.path().join("ingester"));
    append(&db, &data, 0, 100_000);
    let local = db.compact_head_all().unwrap().remove(0).ulid;
    // The bucket's copy under the same ULID holds another series, so reading it
    // would show.
    let other = vec![(
        labels(&[("__name__", "only_in_bucket_copy")]),
        vec![float(1_000, 1.0)],
    )];
    let copy = write_block(&dir.path().join("other"), &other, 0, 100_000);
    let mut meta = BlockMeta::read(&copy).unwrap();
    meta.ulid = local;
    meta.write(&copy).unwrap();
    copy_dir(
        &copy,
        &dir.path()
            .join("bucket")
            .join(TENANT)
            .join(local.to_string()),
    );
    let blocks = BucketBlocks::new(&rt, &bucket, &dir.path().join("sync"));
    let q = blocks.querier(Some(db), QueryLimits::default());
    let got = dump(&q, &all());
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|(l, _)| l.contains("\"m\"")));
    assert_eq!(
        q.label_values("__name__", i64::MIN, i64::MAX, &[]).unwrap(),
        ["m"]
    );
    assert_eq!(blocks.listed(), [local], "the copy is listed");
    // Read without the ingester, the bucket's copy is what there is.
    let bucket_only = blocks.querier(None, QueryLimits::default());
    assert_eq!(dump(&bucket_only, &all()).len(), 1);
}

#[test]
fn shipped_blocks_are_not_fetched_twice_so_do_not_count_twice_against_the_chunk_limit() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let data = m_data();
    let (db, blocks) = split(dir.path(), &rt, &data, false);
    // Two series, each in the bucket-only block, the local block and the head: six
    // chunks. Were the shipped copy of the local block read too, it would be eight.
    let limits = QueryLimits {
        max_fetched_chunks_per_query: 6,
        ..Default::default()
    };
    let q = blocks.querier(Some(db.clone()), limits);
    assert_eq!(q.select(&all(), &[]).unwrap().len(), 2);
    let limits = QueryLimits {
        max_fetched_chunks_per_query: 5,
        ..Default::default()
    };
    let q = blocks.querier(Some(db), limits);
    let err = q.select(&all(), &[]).err().unwrap();
    assert_eq!(
        err,
        QuerierError::Limit(
            "the query hit the max number of chunks limit (limit: 5 chunks)".into()
        )
    );
}

#[test]
fn the_series_limit_counts_unique_series_over_the_whole_query() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let data = m_data();
    let (db, blocks) = split(dir.path(), &rt, &data, false);
    let limits = QueryLimits {
        max_fetched_series_per_query: 1,
        ..Default::default()
    };
    let q = blocks.querier(Some(db.clone()), limits);
    let one = [Matcher::equal("x", "1")];
    // The same series twice is one series.
    assert_eq!(q.select(&all(), &one).unwrap().len(), 1);
    assert_eq!(q.select(&all(), &one).unwrap().len(), 1);
    let err = q.select(&all(), &[Matcher::equal("x", "2")]).err().unwrap();
    assert_eq!(
        err,
        QuerierError::Limit(
            "the query hit the max number of series limit (limit: 1 series)".into()
        )
    );
    assert_eq!(
        err.to_string(),
        "the query hit the max number of series limit (limit: 1 series)"
    );
    // A new query starts counting afresh; 0 is unlimited.
    let q = blocks.querier(Some(db), QueryLimits::default());
    assert_eq!(q.select(&all(), &[]).unwrap().len(), 2);
}
