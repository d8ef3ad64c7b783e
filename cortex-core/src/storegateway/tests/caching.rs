//! `CachingRange` under a `StoreGateway`: a repeated query is answered from the index
//! and chunks caches (cold: all misses; warm: all hits, no bucket requests), and with
//! only an index cache the chunks still come from the bucket.

use cortex_tsdb::MatchType::Regexp;

use super::gateway::{fixture, series_req};
use super::*;
use crate::cache::{Cache, InMemoryCache};
use crate::storegateway::{CachingRange, CachingRangeConfig, FetchStats, OwnsAll, StoreGatewayApi};

fn query_requests(s: &FetchStats) -> (u64, u64, u64) {
    (s.postings_requests, s.series_requests, s.chunk_requests)
}

fn mem(name: &str) -> Option<Arc<dyn Cache>> {
    Some(Arc::new(InMemoryCache::new(name, 64 << 20, 0)))
}

#[test]
fn a_repeated_query_is_served_from_the_caches() {
    let fx = fixture(&[(TENANT, 2)]);
    let ids = fx.blocks[TENANT].clone();
    let cache = Arc::new(CachingRange::new(
        mem("index-cache"),
        mem("chunks-cache"),
        CachingRangeConfig::default(),
    ));
    let gw = fx.gateway("gw", Arc::new(OwnsAll), cache.clone());
    fx.rt.block_on(gw.sync_all(now_secs()));
    let mut req = series_req(&ids);
    req.matchers = vec![m(Regexp, "job", "job1|job2")];

    let cold = fx.rt.block_on(gw.series(TENANT, &req)).unwrap();
    assert_eq!(cold.queried_blocks, ids);
    assert!(cold.blocks.iter().all(|b| !b.series.is_empty()));
    let after_cold = gw.stats();
    let c1 = cache.stats();
    assert_eq!(c1.total().hits, 0);
    assert!(c1.postings.misses > 0 && c1.series.misses > 0 && c1.chunks.misses > 0);
    assert_eq!(c1.total().hit_ratio(), 0.0);
    let (p, s, c) = query_requests(&after_cold);
    assert!(p > 0 && s > 0 && c > 0);

    let warm = fx.rt.block_on(gw.series(TENANT, &req)).unwrap();
    assert_eq!(warm, cold);
    let c2 = cache.stats();
    assert_eq!(c2.postings.hits, c1.postings.misses);
    assert_eq!(c2.series.hits, c1.series.misses);
    assert_eq!(c2.chunks.hits, c1.chunks.misses);
    assert_eq!(c2.total().misses, c1.total().misses, "no new misses");
    assert_eq!(
        query_requests(&gw.stats()),
        query_requests(&after_cold),
        "the warm query made no bucket request"
    );
    assert!(gw.stats().cache_hits > 0);
}

#[test]
fn without_a_chunks_cache_chunks_come_from_the_bucket_every_time() {
    let fx = fixture(&[(TENANT, 1)]);
    let ids = fx.blocks[TENANT].clone();
    let cache = Arc::new(CachingRange::new(
        mem("index-cache"),
        None,
        CachingRangeConfig::default(),
    ));
    let gw = fx.gateway("gw", Arc::new(OwnsAll), cache.clone());
    fx.rt.block_on(gw.sync_all(now_secs()));
    let req = series_req(&ids);
    fx.rt.block_on(gw.series(TENANT, &req)).unwrap();
    let (p1, s1, c1) = query_requests(&gw.stats());
    fx.rt.block_on(gw.series(TENANT, &req)).unwrap();
    let (p2, s2, c2) = query_requests(&gw.stats());
    assert_eq!((p2, s2), (p1, s1), "postings and series were cached");
    assert_eq!(c2, 2 * c1, "chunks were fetched again");
    let st = cache.stats();
    assert_eq!(
        (st.chunks.hits, st.chunks.misses),
        (0, 0),
        "chunks never looked up"
    );
    assert_eq!(st.postings.hit_ratio(), 0.5);
}
