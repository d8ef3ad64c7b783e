//! `StoreGateway::sync_all` over time: tenants dropped (with their local directory) when
//! they leave the bucket or own nothing here, an unreadable bucket index keeping the
//! previous blocks and being reported, and the loops syncing at once, on request, and
//! closing idle blocks.

use std::time::Duration;

use super::gateway::{Owned, fixture, series_req};
use super::*;
use crate::storegateway::{NoRangeCache, OwnsAll, StoreGatewayApi};

/// Waits up to 10s for `cond`.
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn tenants_are_dropped_when_they_own_nothing_here_or_leave_the_bucket() {
    let fx = fixture(&[("team-a", 2), ("team-b", 2)]);
    let own = Arc::new(Owned::default());
    let all: Vec<(String, Ulid)> = fx
        .blocks
        .iter()
        .flat_map(|(t, ids)| ids.iter().map(move |id| (t.clone(), *id)))
        .collect();
    own.0.lock().unwrap().extend(all.iter().cloned());
    let gw = fx.gateway("gw", own.clone(), Arc::new(NoRangeCache));
    let b_dir = fx.dir.path().join("gw").join("team-b");
    let sync_and_open_b = || {
        let r = fx.rt.block_on(gw.sync_all(now_secs()));
        fx.rt
            .block_on(gw.series("team-b", &series_req(&fx.blocks["team-b"])))
            .unwrap();
        r
    };
    let r = sync_and_open_b();
    assert_eq!((r.tenants, r.blocks, r.dropped_tenants), (2, 4, 0));
    assert!(b_dir.is_dir());

    // The ring moved team-b's blocks elsewhere.
    own.0.lock().unwrap().retain(|(t, _)| t != "team-b");
    let r = fx.rt.block_on(gw.sync_all(now_secs()));
    assert_eq!((r.tenants, r.blocks, r.dropped_tenants), (1, 2, 1));
    assert_eq!(gw.tenants(), ["team-a"]);
    assert!(
        !b_dir.exists(),
        "a dropped tenant's local directory is removed"
    );

    // Back, then deleted from the bucket altogether.
    own.0.lock().unwrap().extend(all.iter().cloned());
    assert_eq!(sync_and_open_b().tenants, 2);
    assert!(b_dir.is_dir());
    fx.rt.block_on(async {
        for o in fx.store.list_recursive("team-b").await.unwrap() {
            fx.store.delete(&o.path).await.unwrap();
        }
    });
    let r = fx.rt.block_on(gw.sync_all(now_secs()));
    assert_eq!((r.tenants, r.dropped_tenants, r.errors.len()), (1, 1, 0));
    assert!(!b_dir.exists());
    let resp = fx
        .rt
        .block_on(gw.series("team-b", &series_req(&fx.blocks["team-b"])))
        .unwrap();
    assert!(resp.queried_blocks.is_empty());
}

#[test]
fn an_unreadable_bucket_index_keeps_the_blocks_held_and_is_reported() {
    let fx = fixture(&[(TENANT, 2)]);
    let gw = fx.gateway("gw", Arc::new(OwnsAll), Arc::new(NoRangeCache));
    fx.rt.block_on(gw.sync_all(now_secs()));
    let ids = fx.blocks[TENANT].clone();
    let garbage = Bytes::from_static(b"not gzip at all");
    fx.rt.block_on(async {
        let path = format!("{TENANT}/bucket-index.json.gz");
        fx.store.put(&path, garbage.clone()).await.unwrap();
        // A new tenant whose only index is damaged.
        let b = write_block(&fx.dir.path().join("db-c"), &dataset(3, 5, 0));
        upload_to(&*fx.store, "team-c", &b).await;
        fx.store
            .put("team-c/bucket-index.json.gz", garbage)
            .await
            .unwrap();
    });
    let r = fx.rt.block_on(gw.sync_all(now_secs()));
    let failed: Vec<&str> = r.errors.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(failed, [TENANT, "team-c"], "{r:?}");
    assert!(r.errors[0].1.contains("bucket-index.json.gz"), "{r:?}");
    assert_eq!((r.tenants, r.blocks), (1, 2));
    assert_eq!(gw.last_sync(), Some(r));
    let resp = fx
        .rt
        .block_on(gw.series(TENANT, &series_req(&ids)))
        .unwrap();
    assert_eq!(
        resp.queried_blocks, ids,
        "still served from the previous list"
    );
}

#[test]
fn loops_sync_at_once_and_on_request_and_close_idle_blocks() {
    let fx = fixture(&[(TENANT, 1)]);
    let mut cfg = fx.config("gw");
    cfg.sync_interval = Duration::from_secs(3600);
    cfg.block_set.idle_timeout = Duration::from_millis(200);
    let gw = Arc::new(crate::storegateway::StoreGateway::new(
        fx.store.clone(),
        cfg,
        Arc::new(OwnsAll),
        Arc::new(NoRangeCache),
    ));
    let loops = gw.spawn_loops(fx.rt.handle());
    wait_for("the first sync", || gw.last_sync().is_some());
    assert_eq!(gw.listed_blocks()[TENANT], fx.blocks[TENANT]);

    let added = fx.rt.block_on(async {
        let b = write_block(&fx.dir.path().join("db-new"), &dataset(4, 5, 50_000_000));
        let id = upload_to(&*fx.store, TENANT, &b).await.0;
        write_index_of(&*fx.store, TENANT).await;
        id
    });
    // Long before the next periodic sync: only the request makes it happen.
    gw.resync();
    wait_for("the requested sync", || {
        gw.listed_blocks()[TENANT].contains(&added)
    });

    let all = gw.listed_blocks()[TENANT].clone();
    fx.rt
        .block_on(gw.series(TENANT, &series_req(&all)))
        .unwrap();
    assert_eq!(gw.loaded_blocks(), 2);
    wait_for("idle blocks to close", || gw.loaded_blocks() == 0);
    fx.rt.block_on(loops.stop());
}

#[test]
fn the_first_sync_sweeps_what_an_earlier_run_left_in_the_sync_dir() {
    let fx = fixture(&[("team-a", 2)]);
    let sync_dir = fx.dir.path().join("gw");
    let ids = &fx.blocks["team-a"];
    let put = |rel: &str| {
        let p = sync_dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, b"x").unwrap();
        p
    };
    // A tenant no longer in the bucket, a block no longer listed, and a listed block
    // holding its index-header beside files of a whole downloaded block.
    let gone_tenant = put("team-gone/01ARZ3NDEKTSV4RRFFQ69G5FAV/index-header");
    let gone_block = put("team-a/01ARZ3NDEKTSV4RRFFQ69G5FAV/index-header");
    let header = put(&format!("team-a/{}/index-header", ids[0]));
    let chunks = put(&format!("team-a/{}/chunks/000001", ids[0]));
    let index = put(&format!("team-a/{}/index", ids[0]));

    let gw = fx.gateway("gw", Arc::new(OwnsAll), Arc::new(NoRangeCache));
    let r = fx.rt.block_on(gw.sync_all(now_secs()));
    assert_eq!((r.tenants, r.blocks), (1, 2));
    assert!(!gone_tenant.parent().unwrap().parent().unwrap().exists());
    assert!(!gone_block.parent().unwrap().exists());
    assert!(!chunks.parent().unwrap().exists());
    assert!(!index.exists());
    assert!(header.is_file(), "a listed block's index-header is kept");

    // Later syncs leave files alone.
    let late = put(&format!("team-a/{}/index", ids[1]));
    fx.rt.block_on(gw.sync_all(now_secs()));
    assert!(late.is_file());
}
