//! `BlockSet` and `GatewayQuerier`: the block list from the bucket index, deletion marks,
//! idle unloading and reloading, merging across blocks, and the querier conformance
//! suite.

use std::time::{Duration, Instant};

use cortex_tsdb::MatchType::Equal;

use super::*;
use crate::querier::testing::{Capabilities, run_conformance_with};
use crate::querier::{Querier, SelectHints};
use crate::storage::markers::{DeletionMark, write_marker};
use crate::storegateway::block::index_header_path;
use crate::storegateway::{BlockSet, BlockSetConfig, GatewayQuerier, NoRangeCache};

fn set_cfg(dir: &Path) -> BlockSetConfig {
    BlockSetConfig {
        sync_dir: dir.join("sync"),
        idle_timeout: Duration::from_secs(600),
        ..Default::default()
    }
}

fn all() -> SelectHints {
    SelectHints {
        start: i64::MIN,
        end: i64::MAX,
        ..Default::default()
    }
}

/// `labels => samples` of every selected series, floats as bits.
fn dump(q: &dyn Querier, matchers: &[Matcher]) -> Dump {
    q.select(&all(), matchers)
        .unwrap()
        .iter()
        .map(|s| {
            let mut it = s.samples();
            let mut v = Vec::new();
            while let Some(x) = it.next().unwrap() {
                v.push((x.t, bits(&x.value)));
            }
            (s.labels().to_string(), v)
        })
        .collect()
}

#[test]
fn idle_blocks_unload_and_reload_and_deletion_marked_blocks_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    // Two blocks with the same series at different times, and a third to delete.
    let a = write_block(&dir.path().join("a"), &dataset(30, 100, 0));
    let b = write_block(&dir.path().join("b"), &dataset(30, 100, 10_000_000));
    let c = write_block(&dir.path().join("c"), &dataset(5, 10, 20_000_000));
    for (i, store) in stores(dir.path()).into_iter().enumerate() {
        let base = dir.path().join(format!("gw-{i}"));
        let (ua, ub, uc) = rt.block_on(async {
            let ua = upload(&*store, &a).await.0;
            let ub = upload(&*store, &b).await.0;
            let uc = upload(&*store, &c).await.0;
            write_index(&*store).await;
            (ua, ub, uc)
        });
        let set = Arc::new(BlockSet::new(
            store.clone(),
            TENANT,
            set_cfg(&base),
            Arc::new(NoRangeCache),
        ));
        let q = GatewayQuerier::new(set.clone(), rt.handle().clone());
        assert!(
            set.listed().is_empty(),
            "nothing is read before the first query"
        );
        let ms = [m(Equal, "instance", "inst3")];
        let before = dump(&q, &ms);
        assert_eq!(set.listed(), [ua, ub, uc]);
        assert_eq!(set.loaded(), [ua, ub, uc]);
        // One series, merged across the three blocks in time order.
        assert_eq!(before.len(), 1);
        assert_eq!(before[0].1.len(), 210);
        assert!(before[0].1.windows(2).all(|w| w[0].0 < w[1].0));

        // Not idle long enough: nothing unloads.
        assert!(set.unload_idle(Instant::now()).is_empty());
        let later = Instant::now() + Duration::from_secs(601);
        assert_eq!(set.unload_idle(later), [ua, ub, uc]);
        assert!(set.loaded().is_empty());
        let header = index_header_path(&base.join("sync"), TENANT, ua);
        assert!(header.is_file(), "the index-header stays on disk");
        assert_eq!(dump(&q, &ms), before, "reloaded blocks answer the same");
        assert_eq!(set.loaded(), [ua, ub, uc]);
        assert_eq!(
            set.stats().header_requests,
            0,
            "reloading reuses the index-header"
        );

        // A deletion mark takes the block out at the next sync.
        rt.block_on(async {
            write_marker(&*store, TENANT, &DeletionMark::new(uc, 0, "test"))
                .await
                .unwrap();
            write_index(&*store).await;
            set.sync(now()).await.unwrap();
        });
        assert_eq!(set.listed(), [ua, ub]);
        let after = dump(&q, &ms);
        assert_eq!(after[0].1.len(), 200);
        assert_eq!(after[0].1[..], before[0].1[..200]);
        let gone = index_header_path(&base.join("sync"), TENANT, uc);
        assert!(!gone.exists(), "a dropped block's directory is removed");
        assert_eq!(
            q.label_values("instance", i64::MIN, i64::MAX, &[])
                .unwrap()
                .len(),
            30
        );
        assert_eq!(
            q.label_names(20_000_000, i64::MAX, &[]).unwrap(),
            Vec::<String>::new(),
            "only the deleted block covered that range"
        );
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn gateway_querier_passes_the_querier_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let caps = Capabilities {
        start_timestamps: false,
        counter_reset_hints: false,
    };
    run_conformance_with(caps, |data| {
        let db = Db::open(
            &dir.path().join("db"),
            DbOptions {
                retention: None,
                ..Default::default()
            },
        )
        .unwrap();
        let mut app = db.appender();
        for (labels, samples) in data {
            for s in samples {
                match &s.value {
                    SampleValue::Float(v) => {
                        app.append(labels, s.t, *v).unwrap();
                    }
                    SampleValue::Histogram(h) => {
                        app.append_float_histogram(labels, s.t, h).unwrap();
                    }
                }
            }
        }
        app.commit().unwrap();
        let metas = db.compact_head_all().unwrap();
        let store: Arc<dyn BlockStore> = Arc::new(ObjectBlockStore::in_memory());
        rt.block_on(async {
            for meta in &metas {
                upload(&*store, &dir.path().join("db").join(meta.ulid.to_string())).await;
            }
            write_index(&*store).await;
        });
        let set = BlockSet::new(store, TENANT, set_cfg(dir.path()), Arc::new(NoRangeCache));
        GatewayQuerier::new(Arc::new(set), rt.handle().clone())
    });
}
