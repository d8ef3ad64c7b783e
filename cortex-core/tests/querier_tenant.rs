//! A tenant's data as the single binary's query reads it: samples whose local block
//! was shipped and then deleted by local retention come from the bucket through an
//! in-process store-gateway (synced from the bucket index the ingester wrote), recent
//! ones from the ingester's head.

mod ingester_common;

use std::sync::Arc;

use cortex_core::ingester::{Bucket, StaticLimits};
use cortex_core::querier::blocks_store::{BlocksStoreConfig, BlocksStoreQuerier};
use cortex_core::querier::tenant::TenantQuerier;
use cortex_core::querier::{Querier, QueryLimits, SampleValue, SelectHints};
use cortex_core::storage::{BucketIndexConfig, BucketIndexReader};
use cortex_core::storegateway::{
    BlockSetConfig, InProcessReplicas, NoRangeCache, OwnsAll, StoreGateway, StoreGatewayConfig,
};
use ingester_common::*;

fn samples(q: &dyn Querier) -> Vec<(i64, f64)> {
    let hints = SelectHints {
        start: i64::MIN,
        end: i64::MAX,
        ..Default::default()
    };
    let series = q.select(&hints, &[]).unwrap();
    assert_eq!(series.len(), 1);
    let mut it = series[0].samples();
    let mut out = Vec::new();
    while let Some(s) = it.next().unwrap() {
        if let SampleValue::Float(v) = s.value {
            out.push((s.t, v));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_past_local_retention_is_read_from_the_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = Bucket::local(&dir.path().join("bucket")).unwrap();
    let ing = open(
        tsdb_config(dir.path()),
        bucket.clone(),
        StaticLimits::default(),
    );
    // Samples from 1970: far beyond the 6h local retention once shipped.
    let m = [("__name__", "m")];
    ing.push("t", &request(vec![series(&m, &[(1000, 1.0)])]))
        .unwrap();
    ing.compact_all(true).unwrap();
    ing.ship().await.unwrap();
    ing.compact_all(false).unwrap();
    assert!(ing.db("t").unwrap().blocks().is_empty(), "deleted locally");
    let now = cortex_core::ingester::tenant::now_ms();
    ing.push("t", &request(vec![series(&m, &[(now, 2.0)])]))
        .unwrap();

    let store = bucket.block_store().clone();
    let gateway = Arc::new(StoreGateway::new(
        store.clone(),
        StoreGatewayConfig {
            block_set: BlockSetConfig {
                sync_dir: dir.path().join("sync"),
                ..Default::default()
            },
            ..Default::default()
        },
        Arc::new(OwnsAll),
        Arc::new(NoRangeCache),
    ));
    let report = gateway.sync_all(now / 1000).await;
    assert_eq!((report.tenants, report.blocks), (1, 1), "{report:?}");
    let ing2 = ing.clone();
    let handle = tokio::runtime::Handle::current();
    let (full, local) = tokio::task::spawn_blocking(move || {
        let blocks = BlocksStoreQuerier::new(
            "t",
            BucketIndexReader::new(store, BucketIndexConfig::default()),
            Arc::new(InProcessReplicas::new(gateway)),
            handle,
            BlocksStoreConfig::default(),
            QueryLimits::default(),
        );
        let q = TenantQuerier::with_gateways("t", ing2.db("t"), blocks);
        let local = TenantQuerier::new("t", ing2.db("t"), QueryLimits::default());
        (samples(&q), samples(&local))
    })
    .await
    .unwrap();
    assert_eq!(full, [(1000, 1.0), (now, 2.0)]);
    assert_eq!(local, [(now, 2.0)], "the old sample is only in the bucket");
}
