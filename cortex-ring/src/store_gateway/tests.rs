//! Tests of the store-gateway ring: the block hash, ownership with and without
//! shuffle sharding, unhealthy and joining instances, zones, and the querier's side.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::SystemTime;

use bytes::Bytes;
use cortex_core::storegateway::{
    GatewayFuture, LabelsRequest, LabelsResponse, SeriesRequest, SeriesResponse,
};

use super::*;
use crate::config::RingConfig;
use crate::desc::{Desc, unix_seconds};
use crate::kv::Kv;
use crate::kv::memory::InMemoryKv;
use crate::tokens::TokenGenerator;
use cortex_core::limits::Duration as CfgDuration;

/// `(id, zone, state, stale heartbeat)` instances with 128 random tokens each.
fn desc(rows: &[(&str, &str, InstanceState, bool)]) -> Desc {
    let now = unix_seconds(SystemTime::now());
    let mut d = Desc::new();
    let mut taken = Vec::new();
    for (i, &(id, zone, state, stale)) in rows.iter().enumerate() {
        let tokens = TokenGenerator::with_seed(i as u64 + 1).generate(128, &taken);
        taken.extend(&tokens);
        let inst = d.add_ingester(id, &format!("{id}:9095"), zone, tokens, state, now);
        if stale {
            inst.timestamp = now - 3600;
        }
    }
    d
}

fn ring(rows: &[(&str, &str, InstanceState, bool)], zones: bool) -> Arc<Ring> {
    let cfg = RingConfig {
        replication_factor: 3,
        zone_awareness_enabled: zones,
        heartbeat_timeout: CfgDuration::from_secs(60),
        ..Default::default()
    };
    Arc::new(Ring::new(desc(rows), &cfg).unwrap())
}

fn active(ids: &[&'static str]) -> Vec<(&'static str, &'static str, InstanceState, bool)> {
    ids.iter()
        .map(|&id| (id, "", InstanceState::ACTIVE, false))
        .collect()
}

fn no_shards() -> ShardSizeFn {
    Arc::new(|_| 0)
}

fn blocks(n: u64) -> Vec<Ulid> {
    let mut g = TokenGenerator::with_seed(99);
    (0..n)
        .map(|i| Ulid::from_parts(1_700_000_000_000 + i, u128::from(g.next_u64())))
        .collect()
}

/// The instance IDs of `ring` (a store-gateway each) that own `block` of `tenant`.
fn owned_by(ring: &Arc<Ring>, ids: &[&str], tenant: &str, block: Ulid) -> Vec<String> {
    ids.iter()
        .filter(|id| StoreGatewayRing::fixed(Arc::clone(ring), id, no_shards()).owns(tenant, block))
        .map(|id| id.to_string())
        .collect()
}

#[test]
fn block_hash_is_fnv1a_over_the_ulid_bytes() {
    let id: Ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
    // The same hash computed byte by byte from the 128-bit value, in 64-bit arithmetic.
    let mut want: u64 = 2_166_136_261;
    for i in (0..16).rev() {
        let byte = ((id.0 >> (8 * i)) & 0xff) as u64;
        want = ((want ^ byte) * 16_777_619) % (1 << 32);
    }
    assert_eq!(u64::from(hash_block_id(id)), want);
    assert_eq!(hash_block_id(id), 4_098_868_864);
    assert_ne!(hash_block_id(Ulid(1)), hash_block_id(Ulid(2)));
}

#[test]
fn three_instances_rf_three_own_every_block() {
    let ids = ["sg-1", "sg-2", "sg-3"];
    let r = ring(&active(&ids), false);
    for b in blocks(50) {
        assert_eq!(owned_by(&r, &ids, "t", b), ids, "block {b}");
    }
}

#[test]
fn six_instances_rf_three_share_the_blocks() {
    let ids = ["sg-1", "sg-2", "sg-3", "sg-4", "sg-5", "sg-6"];
    let r = ring(&active(&ids), false);
    let replicas = StoreGatewayReplicas::fixed(Arc::clone(&r), no_shards(), clients().0);
    let mut seen = BTreeSet::new();
    for b in blocks(200) {
        let owners = owned_by(&r, &ids, "t", b);
        assert_eq!(owners.len(), 3, "block {b}: {owners:?}");
        // Readers go to the owners.
        let mut addrs = replicas.replicas("t", b).unwrap();
        addrs.sort();
        let want: Vec<String> = owners.iter().map(|o| format!("{o}:9095")).collect();
        assert_eq!(addrs, want);
        seen.extend(owners);
    }
    assert_eq!(seen.len(), 6, "every instance owns some blocks");
}

#[test]
fn unhealthy_instances_are_left_out_of_read_replicas() {
    let rows = [
        ("sg-1", "", InstanceState::ACTIVE, true),
        ("sg-2", "", InstanceState::ACTIVE, false),
        ("sg-3", "", InstanceState::ACTIVE, true),
    ];
    let r = ring(&rows, false);
    let sg = StoreGatewayRing::fixed(Arc::clone(&r), "sg-2", no_shards());
    for b in blocks(20) {
        assert_eq!(sg.read_replicas("t", b).unwrap(), ["sg-2:9095"]);
        // The default (quorum) lookup refuses one healthy replica of three.
        assert!(
            r.get(hash_block_id(b), BLOCKS_READ, &mut GetBuffers::default())
                .is_err()
        );
        assert!(sg.owns("t", b));
    }
    let all_stale = ring(&[("sg-1", "", InstanceState::ACTIVE, true)], false);
    let replicas = StoreGatewayReplicas::fixed(all_stale, no_shards(), clients().0);
    let b = blocks(1)[0];
    let err = replicas.replicas("t", b).unwrap_err().to_string();
    assert!(
        err.contains(&format!("owning the block {b}"))
            && err.contains("at least 1 healthy replica required, could only find 0"),
        "{err}"
    );
}

#[test]
fn joining_owners_load_blocks_but_reads_go_to_active_ones() {
    let rows = [
        ("sg-1", "", InstanceState::JOINING, false),
        ("sg-2", "", InstanceState::ACTIVE, false),
        ("sg-3", "", InstanceState::ACTIVE, false),
        ("sg-4", "", InstanceState::ACTIVE, false),
    ];
    let r = ring(&rows, false);
    let sg1 = StoreGatewayRing::fixed(Arc::clone(&r), "sg-1", no_shards());
    let mut joining_owns = 0;
    for b in blocks(100) {
        let read = sg1.read_replicas("t", b).unwrap();
        assert_eq!(
            read.len(),
            3,
            "the walk extends past the JOINING owner: {read:?}"
        );
        assert!(!read.contains(&"sg-1:9095".to_string()));
        if sg1.owns("t", b) {
            joining_owns += 1;
            assert!(sg1.has_active_owner("t", b));
        }
    }
    assert!(
        joining_owns > 0,
        "a JOINING instance loads the blocks it owns"
    );
}

#[test]
fn zone_aware_replicas_are_in_distinct_zones() {
    let rows = [
        ("sg-a1", "a", InstanceState::ACTIVE, false),
        ("sg-a2", "a", InstanceState::ACTIVE, false),
        ("sg-b1", "b", InstanceState::ACTIVE, false),
        ("sg-b2", "b", InstanceState::ACTIVE, false),
        ("sg-c1", "c", InstanceState::ACTIVE, false),
        ("sg-c2", "c", InstanceState::ACTIVE, false),
    ];
    let r = ring(&rows, true);
    let sg = StoreGatewayRing::fixed(Arc::clone(&r), "sg-a1", no_shards());
    for b in blocks(100) {
        let set = sg.owners("t", b).unwrap();
        assert_eq!(set.instances.len(), 3);
        assert_eq!(set.zone_count(), 3, "block {b}");
        let read = sg.read_replicas("t", b).unwrap();
        let zones: BTreeSet<char> = read.iter().filter_map(|a| a.chars().nth(3)).collect();
        assert_eq!(zones.len(), 3, "{read:?}");
    }
}

#[test]
fn a_shard_of_two_confines_a_tenant_to_two_instances() {
    let ids = ["sg-1", "sg-2", "sg-3", "sg-4", "sg-5", "sg-6"];
    let r = ring(&active(&ids), false);
    let size: ShardSizeFn = Arc::new(|tenant| if tenant == "small" { 2 } else { 0 });
    let replicas = StoreGatewayReplicas::fixed(Arc::clone(&r), size.clone(), clients().0);
    let (mut small, mut big) = (BTreeSet::new(), BTreeSet::new());
    for b in blocks(200) {
        let addrs = replicas.replicas("small", b).unwrap();
        assert_eq!(addrs.len(), 2, "RF 3 over a shard of 2");
        small.extend(addrs);
        big.extend(replicas.replicas("big", b).unwrap());
    }
    assert_eq!(small.len(), 2, "{small:?}");
    assert_eq!(big.len(), 6);
    let shard: Vec<String> = r
        .shuffle_shard_instance_ids("small", 2)
        .iter()
        .map(|id| format!("{id}:9095"))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(small.into_iter().collect::<Vec<_>>(), shard);
    // Ownership follows the shard: outside it, nothing is owned.
    for id in ids {
        let sg = StoreGatewayRing::fixed(Arc::clone(&r), id, size.clone());
        let owns_any = blocks(50).into_iter().any(|b| sg.owns("small", b));
        assert_eq!(owns_any, shard.contains(&format!("{id}:9095")), "{id}");
    }
}

/// A store-gateway client that serves nothing.
struct EmptyClient;

impl StoreGatewayApi for EmptyClient {
    fn series<'a>(&'a self, _: &'a str, _: &'a SeriesRequest) -> GatewayFuture<'a, SeriesResponse> {
        Box::pin(async { Ok(SeriesResponse::default()) })
    }

    fn label_names<'a>(
        &'a self,
        _: &'a str,
        _: &'a LabelsRequest,
    ) -> GatewayFuture<'a, LabelsResponse> {
        Box::pin(async { Ok(LabelsResponse::default()) })
    }

    fn label_values<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a LabelsRequest,
    ) -> GatewayFuture<'a, LabelsResponse> {
        Box::pin(async { Ok(LabelsResponse::default()) })
    }
}

/// A client factory and the addresses it was asked for.
fn clients() -> (ClientFactory, Arc<Mutex<Vec<String>>>) {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&asked);
    let factory: ClientFactory = Arc::new(move |addr: &str| {
        log.lock().unwrap().push(addr.to_string());
        Arc::new(EmptyClient) as Arc<dyn StoreGatewayApi>
    });
    (factory, asked)
}

#[test]
fn replicas_follow_the_ring_client_and_hand_out_clients() {
    let kv = Arc::new(InMemoryKv::new());
    let d = desc(&active(&["sg-1", "sg-2"]));
    kv.cas(crate::STORE_GATEWAY_RING_KEY, &mut |_| {
        Ok(Some(Bytes::from(d.encode())))
    })
    .unwrap();
    let client = Arc::new(
        RingClient::start(kv, crate::STORE_GATEWAY_RING_KEY, RingConfig::default()).unwrap(),
    );
    let (factory, asked) = clients();
    let replicas = StoreGatewayReplicas::new(Arc::clone(&client), no_shards(), factory);
    let b = blocks(1)[0];
    let mut addrs = replicas.replicas("t", b).unwrap();
    addrs.sort();
    assert_eq!(addrs, ["sg-1:9095", "sg-2:9095"]);
    let sg = StoreGatewayRing::new(client, "sg-2", no_shards());
    assert!(sg.owns("t", b));
    assert_eq!(sg.instance_id(), "sg-2");
    assert!(asked.lock().unwrap().is_empty());
    let _client = replicas.client("sg-1:9095");
    assert_eq!(*asked.lock().unwrap(), ["sg-1:9095"]);
}
