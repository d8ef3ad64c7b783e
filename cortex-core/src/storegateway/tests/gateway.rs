//! `StoreGateway` as queriers use it: complementary ownership splits the blocks between
//! two gateways, each answering and reporting only its own; deletion marks within the
//! delay are still served; blocks not held are not reported; a held block gone from
//! the bucket is an error naming it; index-header usage follows open blocks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::*;
use crate::storage::markers::{DeletionMark, write_marker};
use crate::storegateway::block::index_header_path;
use crate::storegateway::{
    BlockOwnership, BlockSet, BlockSetConfig, LabelsRequest, NoRangeCache, OwnsAll, RangeCache,
    SeriesRequest, StoreGateway, StoreGatewayApi, StoreGatewayConfig,
};

/// Series per block in the fixtures.
pub(super) const SERIES: usize = 12;

/// Ownership by an explicit set of `(tenant, block)`, changeable.
#[derive(Default)]
pub(super) struct Owned(pub(super) Mutex<BTreeSet<(String, Ulid)>>);

impl BlockOwnership for Owned {
    fn owns(&self, tenant: &str, block: Ulid) -> bool {
        self.0
            .lock()
            .unwrap()
            .contains(&(tenant.to_string(), block))
    }
}

/// Tenants' blocks in an in-memory bucket, with their bucket indexes.
pub(super) struct Fixture {
    pub(super) dir: TempDir,
    pub(super) rt: Runtime,
    pub(super) store: Arc<dyn BlockStore>,
    /// Each tenant's blocks, sorted.
    pub(super) blocks: BTreeMap<String, Vec<Ulid>>,
}

/// `count` blocks of [`SERIES`] series for each `(tenant, count)`, hours apart.
pub(super) fn fixture(tenants: &[(&str, usize)]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let store: Arc<dyn BlockStore> = Arc::new(ObjectBlockStore::in_memory());
    let mut blocks = BTreeMap::new();
    for (t, count) in tenants {
        let mut ids = Vec::new();
        for i in 0..*count {
            let scratch = dir.path().join(format!("db-{t}-{i}"));
            let b = write_block(&scratch, &dataset(SERIES, 20, i as i64 * 10_000_000));
            ids.push(rt.block_on(upload_to(&*store, t, &b)).0);
        }
        rt.block_on(write_index_of(&*store, t));
        ids.sort();
        blocks.insert(t.to_string(), ids);
    }
    Fixture {
        dir,
        rt,
        store,
        blocks,
    }
}

impl Fixture {
    pub(super) fn config(&self, name: &str) -> StoreGatewayConfig {
        StoreGatewayConfig {
            block_set: BlockSetConfig {
                sync_dir: self.dir.path().join(name),
                idle_timeout: Duration::from_secs(600),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    pub(super) fn gateway(
        &self,
        name: &str,
        own: Arc<dyn BlockOwnership>,
        cache: Arc<dyn RangeCache>,
    ) -> Arc<StoreGateway> {
        Arc::new(StoreGateway::new(
            self.store.clone(),
            self.config(name),
            own,
            cache,
        ))
    }
}

pub(super) fn series_req(ids: &[Ulid]) -> SeriesRequest {
    SeriesRequest {
        min_time: i64::MIN,
        max_time: i64::MAX,
        matchers: vec![],
        block_ids: ids.to_vec(),
        skip_chunks: false,
    }
}

fn labels_req(ids: &[Ulid], min_time: i64, max_time: i64) -> LabelsRequest {
    LabelsRequest {
        min_time,
        max_time,
        matchers: vec![],
        block_ids: ids.to_vec(),
    }
}

#[test]
fn complementary_gateways_cover_every_block_once_and_report_only_their_own() {
    let fx = fixture(&[("team-a", 4), ("team-b", 3)]);
    // A tenant directory without a bucket index is no tenant of the gateway.
    fx.rt
        .block_on(fx.store.put("junk/x", Bytes::from_static(b"1")))
        .unwrap();
    let (a, b) = (Owned::default(), Owned::default());
    for (t, ids) in &fx.blocks {
        for (i, id) in ids.iter().enumerate() {
            let own = if i % 2 == 0 { &a } else { &b };
            own.0.lock().unwrap().insert((t.clone(), *id));
        }
    }
    let (own_a, own_b) = (a.0.lock().unwrap().clone(), b.0.lock().unwrap().clone());
    let ga = fx.gateway("a", Arc::new(a), Arc::new(NoRangeCache));
    let gb = fx.gateway("b", Arc::new(b), Arc::new(NoRangeCache));
    let ra = fx.rt.block_on(ga.sync_all(now_secs()));
    let rb = fx.rt.block_on(gb.sync_all(now_secs()));
    assert_eq!(
        (ra.tenants, ra.blocks, ra.errors.len()),
        (2, 4, 0),
        "{ra:?}"
    );
    assert_eq!(
        (rb.tenants, rb.blocks, rb.errors.len()),
        (2, 3, 0),
        "{rb:?}"
    );
    assert_eq!(ga.tenants(), ["team-a", "team-b"]);

    for (t, ids) in &fx.blocks {
        let listed_a = ga.listed_blocks().remove(t).unwrap();
        let listed_b = gb.listed_blocks().remove(t).unwrap();
        assert!(listed_a.iter().all(|id| own_a.contains(&(t.clone(), *id))));
        assert!(listed_b.iter().all(|id| own_b.contains(&(t.clone(), *id))));
        // A block the bucket index does not know is asked for too: nobody reports it.
        let mut asked = ids.clone();
        asked.push(Ulid::from_parts(1, 1));
        let req = series_req(&asked);
        let resp_a = fx.rt.block_on(ga.series(t, &req)).unwrap();
        let resp_b = fx.rt.block_on(gb.series(t, &req)).unwrap();
        assert_eq!(resp_a.queried_blocks, listed_a);
        assert_eq!(resp_b.queried_blocks, listed_b);
        let mut all: Vec<Ulid> =
            [resp_a.queried_blocks.clone(), resp_b.queried_blocks.clone()].concat();
        all.sort();
        assert_eq!(&all, ids, "together they cover every block exactly once");
        for bs in resp_a.blocks.iter().chain(&resp_b.blocks) {
            assert_eq!(bs.series.len(), SERIES, "{}", bs.block);
            assert!(bs.series.iter().all(|s| !s.chunks.is_empty()));
        }
        // Labels only: the same series, no chunks.
        let mut bare = req.clone();
        bare.skip_chunks = true;
        let only = fx.rt.block_on(ga.series(t, &bare)).unwrap();
        assert_eq!(only.queried_blocks, resp_a.queried_blocks);
        for (x, y) in only.blocks.iter().zip(&resp_a.blocks) {
            let labels = |b: &crate::storegateway::BlockSeries| -> Vec<Labels> {
                b.series.iter().map(|s| s.labels.clone()).collect()
            };
            assert_eq!(labels(x), labels(y));
            assert!(x.series.iter().all(|s| s.chunks.is_empty()));
        }
        // Label values, deduplicated over the blocks of both.
        let lr = labels_req(&asked, i64::MIN, i64::MAX);
        let va = fx.rt.block_on(ga.label_values(t, "instance", &lr)).unwrap();
        let vb = fx.rt.block_on(gb.label_values(t, "instance", &lr)).unwrap();
        assert_eq!(va.queried_blocks, listed_a);
        assert_eq!(va.values.len(), SERIES, "the same series in every block");
        assert_eq!(va.values, vb.values);
        let names = fx.rt.block_on(ga.label_names(t, &lr)).unwrap().values;
        assert_eq!(names, ["__name__", "env", "instance", "job"]);
        // Out of every block's range: queried, nothing found.
        let far = labels_req(ids, 1 << 50, 1 << 51);
        let r = fx.rt.block_on(ga.label_names(t, &far)).unwrap();
        assert_eq!((r.queried_blocks, r.values.len()), (listed_a, 0));
    }
    let nobody = fx
        .rt
        .block_on(ga.series("team-z", &series_req(&fx.blocks["team-a"])));
    assert_eq!(nobody.unwrap(), Default::default());
}

#[test]
fn blocks_marked_for_deletion_are_served_until_the_delay_passes() {
    let fx = fixture(&[(TENANT, 3)]);
    let ids = fx.blocks[TENANT].clone();
    let now = now_secs();
    fx.rt.block_on(async {
        let old = DeletionMark::new(ids[0], now - 7 * 3600, "retention");
        let recent = DeletionMark::new(ids[1], now - 3600, "retention");
        write_marker(&*fx.store, TENANT, &old).await.unwrap();
        write_marker(&*fx.store, TENANT, &recent).await.unwrap();
        write_index_of(&*fx.store, TENANT).await;
    });
    let gw = fx.gateway("gw", Arc::new(OwnsAll), Arc::new(NoRangeCache));
    fx.rt.block_on(gw.sync_all(now));
    assert_eq!(gw.listed_blocks()[TENANT], ids[1..]);
    let resp = fx
        .rt
        .block_on(gw.series(TENANT, &series_req(&ids)))
        .unwrap();
    assert_eq!(
        resp.queried_blocks,
        ids[1..],
        "the recently marked block is served"
    );
    // A plain block-set sync leaves every marked block out.
    let set = BlockSet::new(
        fx.store.clone(),
        TENANT,
        fx.config("plain").block_set,
        Arc::new(NoRangeCache),
    );
    fx.rt.block_on(set.sync(now)).unwrap();
    assert_eq!(set.listed(), ids[2..]);
}

#[test]
fn a_held_block_gone_from_the_bucket_is_an_error_naming_it() {
    let fx = fixture(&[(TENANT, 2)]);
    let ids = fx.blocks[TENANT].clone();
    let gw = fx.gateway("gw", Arc::new(OwnsAll), Arc::new(NoRangeCache));
    fx.rt.block_on(gw.sync_all(now_secs()));
    // The first block is opened before the deletion, the second is not.
    fx.rt
        .block_on(gw.series(TENANT, &series_req(&ids[..1])))
        .unwrap();
    fx.rt.block_on(async {
        for id in &ids {
            for o in fx
                .store
                .list_recursive(&format!("{TENANT}/{id}"))
                .await
                .unwrap()
            {
                fx.store.delete(&o.path).await.unwrap();
            }
        }
    });
    for id in &ids {
        let err = fx.rt.block_on(gw.series(TENANT, &series_req(&[*id])));
        let msg = err.unwrap_err().to_string();
        assert!(msg.contains(&id.to_string()), "{msg}");
    }
    let lr = labels_req(&ids[1..], i64::MIN, i64::MAX);
    let err = fx.rt.block_on(gw.label_values(TENANT, "job", &lr));
    assert!(err.unwrap_err().to_string().contains(&ids[1].to_string()));
}

#[test]
fn index_header_usage_follows_the_open_blocks() {
    let fx = fixture(&[(TENANT, 3), ("team-b", 2)]);
    let gw = fx.gateway("gw", Arc::new(OwnsAll), Arc::new(NoRangeCache));
    fx.rt.block_on(gw.sync_all(now_secs()));
    assert_eq!(gw.index_header_usage(), Default::default());
    let mut on_disk = 0;
    for (t, ids) in &fx.blocks {
        fx.rt.block_on(gw.series(t, &series_req(ids))).unwrap();
        for id in ids {
            let path = index_header_path(&fx.dir.path().join("gw"), t, *id);
            on_disk += std::fs::metadata(path).unwrap().len();
        }
    }
    let u = gw.index_header_usage();
    assert_eq!((u.blocks, gw.loaded_blocks()), (5, 5));
    assert_eq!(u.file_bytes, on_disk);
    assert!(u.heap_bytes > 0 && u.bytes_per_block() == (on_disk + u.heap_bytes) / 5);
    assert!(gw.stats().header_requests > 0);
    assert_eq!(gw.unload_idle(Instant::now() + Duration::from_secs(601)), 5);
    assert_eq!(gw.index_header_usage(), Default::default());
    assert_eq!(gw.loaded_blocks(), 0);
}
