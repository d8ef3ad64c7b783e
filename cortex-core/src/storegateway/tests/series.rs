//! `BucketBlock::series` and the label APIs against cortex-tsdb's block reader, the
//! bytes a selective query fetches, a damaged chunk, and the cache hook.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cortex_tsdb::MatchType::{Equal, NotEqual, NotRegexp, Regexp};
use cortex_tsdb::block::Block;

use super::*;
use crate::storegateway::cache::{CacheFuture, NoRangeCache, RangeCache, RangeKey};
use crate::storegateway::{BucketBlock, BucketBlockConfig, GatewayError};

/// Matcher sets covering each matcher type, the empty-value rules and combinations.
fn matcher_sets() -> Vec<Vec<Matcher>> {
    vec![
        vec![],
        vec![m(Equal, "__name__", "metric_1")],
        vec![m(Equal, "instance", "inst7")],
        vec![m(Equal, "__name__", "metric_1"), m(NotEqual, "job", "job6")],
        vec![m(Regexp, "job", "job1|job2")],
        vec![
            m(Regexp, "job", "job[0-4]"),
            m(NotRegexp, "instance", "inst1.*"),
        ],
        vec![m(Equal, "env", "")],
        vec![m(NotEqual, "env", "")],
        vec![m(Regexp, "env", "prod|")],
        vec![m(NotRegexp, "env", "prod")],
        vec![m(NotEqual, "env", "prod")],
        vec![m(Regexp, "__name__", ".+")],
        vec![m(Regexp, "__name__", ".*"), m(Equal, "job", "job3")],
        vec![m(NotRegexp, "__name__", ".*")],
        vec![m(NotRegexp, "env", ".+")],
        vec![m(Equal, "missing", "x")],
        vec![m(Equal, "missing", "")],
        vec![
            m(Regexp, "instance", "inst(1|22|333)"),
            m(Equal, "env", "dev"),
        ],
        vec![m(Equal, "job", "job4"), m(Equal, "job", "job5")],
        vec![
            m(NotEqual, "job", "job1"),
            m(NotRegexp, "__name__", "metric_[0-2]"),
        ],
    ]
}

const RANGES: [(i64, i64); 6] = [
    (i64::MIN, i64::MAX),
    (600_000, 1_200_000),
    (0, 0),
    (1_000_000, 1_000_000),
    (3_000_000, 3_500_000),
    (100_000_000, 200_000_000),
];

#[test]
fn series_and_samples_equal_the_tsdb_block_reader_in_both_bucket_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let block_dir = write_block(&dir.path().join("db"), &dataset(400, 240, 0));
    let local = Arc::new(Block::open(&block_dir).unwrap());
    for (i, store) in stores(dir.path()).into_iter().enumerate() {
        let sync = dir.path().join(format!("sync-{i}"));
        rt.block_on(async {
            let (ulid, _) = upload(&*store, &block_dir).await;
            // Default windows, and windows so small that every item is fetched twice.
            let tiny = BucketBlockConfig {
                max_gap: 0,
                series_window: 1,
                chunk_window: 2,
            };
            for cfg in [BucketBlockConfig::default(), tiny] {
                let b = BucketBlock::open(
                    store.clone(),
                    TENANT,
                    ulid,
                    &sync,
                    &cfg,
                    Arc::new(NoRangeCache),
                )
                .await
                .unwrap();
                let mut nonempty = 0;
                for ms in matcher_sets() {
                    for (mint, maxt) in RANGES {
                        let want = tsdb_dump(&local, &ms, mint, maxt);
                        let got =
                            gateway_dump(&b.series(&ms, mint, maxt).await.unwrap(), mint, maxt);
                        assert_eq!(got, want, "matchers {ms:?}, range [{mint}, {maxt}]");
                        nonempty += usize::from(!want.is_empty());
                    }
                    let names = b.label_names(&ms).await.unwrap();
                    let want: Vec<String> =
                        crate::querier::tsdb::block_label_names(&local, &ms).unwrap();
                    assert_eq!(names, want, "label names for {ms:?}");
                    for label in ["job", "env", "__name__"] {
                        let got = b.label_values(label, &ms).await.unwrap();
                        let want =
                            crate::querier::tsdb::block_label_values(&local, label, &ms).unwrap();
                        assert_eq!(got, want, "values of {label} for {ms:?}");
                    }
                }
                assert!(nonempty > 40, "most queries select something ({nonempty})");
                let s = b.stats();
                if cfg.series_window == 1 {
                    assert!(s.series_requests >= 2 * s.postings_requests, "{s:?}");
                }
            }
        });
    }
}

#[test]
fn a_selective_query_fetches_a_small_part_of_the_block() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let block_dir = write_block(&dir.path().join("db"), &dataset(2000, 240, 0));
    let store: Arc<dyn BlockStore> = Arc::new(ObjectBlockStore::in_memory());
    rt.block_on(async {
        let (ulid, size) = upload(&*store, &block_dir).await;
        let cfg = BucketBlockConfig::default();
        let sync = dir.path().join("sync");
        let b = BucketBlock::open(store, TENANT, ulid, &sync, &cfg, Arc::new(NoRangeCache))
            .await
            .unwrap();
        let header = b.stats();
        let index_size = std::fs::metadata(block_dir.join("index")).unwrap().len();
        assert!(header.header_bytes < index_size, "{header:?}, index {index_size}");
        let ms = [m(Equal, "instance", "inst1234")];
        let got = b.series(&ms, i64::MIN, i64::MAX).await.unwrap();
        assert_eq!(got.len(), 1);
        let s = b.stats();
        eprintln!(
            "block {size} bytes (index {index_size}); index-header build read {} bytes in {} \
             requests; query for one series: postings {}B/{}req, series {}B/{}req, chunks {}B/{}req",
            s.header_bytes,
            s.header_requests,
            s.postings_bytes,
            s.postings_requests,
            s.series_bytes,
            s.series_requests,
            s.chunk_bytes,
            s.chunk_requests
        );
        assert!(
            s.query_bytes() * 40 < size,
            "fetched {} of {size} bytes",
            s.query_bytes()
        );
        assert_eq!(s.postings_requests + s.series_requests + s.chunk_requests, 3);
    });
}

#[test]
fn a_damaged_chunk_in_the_bucket_is_a_corruption_error_naming_the_segment() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let block_dir = write_block(&dir.path().join("db"), &dataset(20, 60, 0));
    let store: Arc<dyn BlockStore> = Arc::new(ObjectBlockStore::in_memory());
    rt.block_on(async {
        let (ulid, _) = upload(&*store, &block_dir).await;
        let seg = format!("{TENANT}/{ulid}/chunks/000001");
        let mut b = store.get(&seg).await.unwrap().to_vec();
        b[20] ^= 0x5a;
        store.put(&seg, Bytes::from(b)).await.unwrap();
        let cfg = BucketBlockConfig::default();
        let sync = dir.path().join("sync");
        let blk = BucketBlock::open(store, TENANT, ulid, &sync, &cfg, Arc::new(NoRangeCache))
            .await
            .unwrap();
        let err = blk.series(&[], i64::MIN, i64::MAX).await.unwrap_err();
        match &err {
            GatewayError::Corrupted {
                object,
                section,
                detail,
                ..
            } => {
                assert_eq!(object, &seg);
                assert_eq!(section, "chunk");
                assert!(detail.contains("CRC-32C mismatch"), "{detail}");
            }
            e => panic!("want a corruption error, got {e}"),
        }
        // Series whose chunks are intact still read.
        let ok = blk
            .series(&[m(Equal, "instance", "inst19")], i64::MIN, i64::MAX)
            .await;
        assert_eq!(ok.unwrap().len(), 1);
    });
}

/// A cache in a map, counting what it served.
#[derive(Debug, Default)]
struct MapCache(Mutex<HashMap<RangeKey, Bytes>>);

impl RangeCache for MapCache {
    fn fetch<'a>(&'a self, keys: &'a [RangeKey]) -> CacheFuture<'a, HashMap<RangeKey, Bytes>> {
        let m = self.0.lock().unwrap();
        let hits = keys
            .iter()
            .filter_map(|k| m.get(k).map(|b| (k.clone(), b.clone())))
            .collect();
        Box::pin(async move { hits })
    }

    fn store<'a>(&'a self, items: &'a [(RangeKey, Bytes)]) -> CacheFuture<'a, ()> {
        self.0.lock().unwrap().extend(items.iter().cloned());
        Box::pin(async {})
    }
}

#[test]
fn items_in_the_cache_are_not_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let block_dir = write_block(&dir.path().join("db"), &dataset(100, 120, 0));
    let store: Arc<dyn BlockStore> = Arc::new(ObjectBlockStore::in_memory());
    let cache = Arc::new(MapCache::default());
    rt.block_on(async {
        let (ulid, _) = upload(&*store, &block_dir).await;
        let cfg = BucketBlockConfig::default();
        let sync = dir.path().join("sync");
        let ms = [m(Regexp, "job", "job[12]")];
        let first = BucketBlock::open(store.clone(), TENANT, ulid, &sync, &cfg, cache.clone())
            .await
            .unwrap();
        let want = first.series(&ms, i64::MIN, i64::MAX).await.unwrap();
        assert!(first.stats().chunk_requests > 0);
        let second = BucketBlock::open(store, TENANT, ulid, &sync, &cfg, cache.clone())
            .await
            .unwrap();
        let got = second.series(&ms, i64::MIN, i64::MAX).await.unwrap();
        assert_eq!(got, want);
        let s = second.stats();
        assert_eq!(s.header_requests, 0, "the index-header on disk is reused");
        assert_eq!(s.query_bytes(), 0, "{s:?}");
        assert!(s.cache_hits as usize > want.len(), "{s:?}");
    });
}
