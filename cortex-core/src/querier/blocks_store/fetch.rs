//! The retry loop of the blocks-store querier: ask store-gateways for blocks, retry
//! the blocks they did not report as queried on other replicas, and fail the query
//! when blocks the consistency check requires are still missing.
//!
//! The check exempts some blocks (recent uploads a store-gateway may not have loaded
//! yet): for those, a store-gateway that answers without them is fine. A block that no
//! store-gateway answered for at all — every call that named it failed, or no replica
//! could be looked up — is retried like a required one and fails the query if still
//! unanswered: an error is not "not loaded yet".

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::task::Poll;

use cortex_tsdb::ulid::Ulid;

use super::selection::{KnownBlock, must_be_queried};
use super::{BlocksStoreConfig, MAX_FETCH_ATTEMPTS};
use crate::querier::QuerierError;
use crate::storegateway::{
    GatewayError, GatewayFuture, GatewayReplicas, LabelsResponse, SeriesResponse, StoreGatewayApi,
};

/// A store-gateway answer that says which blocks it queried.
pub(super) trait Queried {
    /// The blocks the store-gateway queried.
    fn queried_blocks(&self) -> &[Ulid];
}

impl Queried for SeriesResponse {
    fn queried_blocks(&self) -> &[Ulid] {
        &self.queried_blocks
    }
}

impl Queried for LabelsResponse {
    fn queried_blocks(&self) -> &[Ulid] {
        &self.queried_blocks
    }
}

/// Waits for every future, returning their outputs in order.
async fn join_all<'a, T>(mut futs: Vec<GatewayFuture<'a, T>>) -> Vec<Result<T, GatewayError>> {
    let mut slots: Vec<Option<Result<T, GatewayError>>> = (0..futs.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (fut, slot) in futs.iter_mut().zip(slots.iter_mut()) {
            if slot.is_some() {
                continue;
            }
            match fut.as_mut().poll(cx) {
                Poll::Ready(r) => *slot = Some(r),
                Poll::Pending => pending = true,
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    slots.into_iter().flatten().collect()
}

/// True for errors that say a block's bytes are damaged: asking another replica would
/// read the same bucket objects, so the query fails instead.
fn is_damaged(e: &GatewayError) -> bool {
    matches!(
        e,
        GatewayError::Corrupted { .. }
            | GatewayError::Meta { .. }
            | GatewayError::RemoteCorrupted { .. }
    )
}

/// The query error for a damaged block reported by the store-gateway at `addr`.
fn damaged(tenant: &str, addr: &str, e: &GatewayError) -> QuerierError {
    let block = match e {
        GatewayError::Corrupted { block, .. } | GatewayError::Meta { block, .. } => {
            block.rsplit('/').next().unwrap_or(block).to_string()
        }
        // A remote store-gateway's message starts with `block <tenant>/<ULID>: `.
        GatewayError::RemoteCorrupted { detail, .. } => detail
            .strip_prefix("block ")
            .and_then(|d| d.split(':').next())
            .map(|b| b.rsplit('/').next().unwrap_or(b).to_string())
            .unwrap_or_default(),
        _ => String::new(),
    };
    QuerierError::Block {
        tenant: tenant.to_string(),
        block,
        reason: format!("store-gateway {addr}: {e}"),
    }
}

/// What a fetch did: the store-gateway that answered for each queried block.
pub(super) type Served = BTreeMap<Ulid, String>;

/// The blocks, the replicas and the settings of one fetch.
pub(super) struct Fetch<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// Where blocks are served.
    pub replicas: &'a dyn GatewayReplicas,
    /// Check settings.
    pub cfg: &'a BlocksStoreConfig,
    /// The time of the check, Unix seconds.
    pub now_secs: i64,
}

impl Fetch<'_> {
    /// Queries `blocks`: each round sends every block still missing to its first
    /// replica not yet tried, all store-gateways concurrently, through `call(client,
    /// block_ids)`. Each answer goes to `accept(answer, blocks)` with the blocks it newly
    /// covers (asked of that store-gateway, reported queried, not answered before), so
    /// a block answered twice is kept once. After each round only the blocks the
    /// consistency check requires are retried, for [`MAX_FETCH_ATTEMPTS`] rounds in
    /// all. Returns which store-gateway served each block.
    pub async fn run<'c, R: Queried>(
        &self,
        blocks: &[KnownBlock],
        call: impl Fn(Arc<dyn StoreGatewayApi>, Vec<Ulid>) -> GatewayFuture<'c, R>,
        mut accept: impl FnMut(R, &[Ulid]) -> Result<(), QuerierError>,
    ) -> Result<Served, QuerierError> {
        let mut served = Served::new();
        let mut tried: HashMap<Ulid, Vec<String>> = HashMap::new();
        let mut errors: Vec<String> = Vec::new();
        let mut answered: HashSet<Ulid> = HashSet::new();
        let mut remaining: Vec<Ulid> = blocks.iter().map(|b| b.id).collect();
        for _ in 0..MAX_FETCH_ATTEMPTS {
            let groups = self.assign(&remaining, &tried, &mut errors);
            if groups.is_empty() {
                break;
            }
            let calls = groups
                .iter()
                .map(|(addr, ids)| call(self.replicas.client(addr), ids.clone()))
                .collect();
            let results = join_all(calls).await;
            for ((addr, ids), result) in groups.into_iter().zip(results) {
                for id in &ids {
                    tried.entry(*id).or_default().push(addr.clone());
                }
                match result {
                    Err(e) if is_damaged(&e) => return Err(damaged(self.tenant, &addr, &e)),
                    Err(e) => remember(&mut errors, format!("{addr}: {e}")),
                    Ok(answer) => {
                        answered.extend(ids.iter().copied());
                        let mut new = Vec::new();
                        for b in answer.queried_blocks() {
                            if ids.contains(b) && !served.contains_key(b) {
                                served.insert(*b, addr.clone());
                                new.push(*b);
                            }
                        }
                        accept(answer, &new)?;
                    }
                }
            }
            remaining = self.missing(blocks, &served, &answered);
            if remaining.is_empty() {
                break;
            }
        }
        remaining = self.missing(blocks, &served, &answered);
        if remaining.is_empty() {
            return Ok(served);
        }
        let ids: Vec<String> = remaining.iter().map(Ulid::to_string).collect();
        let mut msg = format!(
            "consistency check failed because some blocks were not queried: {}",
            ids.join(" ")
        );
        if !errors.is_empty() {
            msg.push_str(&format!(" (store-gateway errors: {})", errors.join("; ")));
        }
        Err(QuerierError::Storage(msg))
    }

    /// The blocks not served that the check requires, or that no store-gateway
    /// answered for.
    fn missing(
        &self,
        blocks: &[KnownBlock],
        served: &Served,
        answered: &HashSet<Ulid>,
    ) -> Vec<Ulid> {
        blocks
            .iter()
            .filter(|b| !served.contains_key(&b.id))
            .filter(|b| !answered.contains(&b.id) || must_be_queried(b, self.cfg, self.now_secs))
            .map(|b| b.id)
            .collect()
    }

    /// Groups `blocks` by the first replica of each not yet in `tried`, in the order
    /// the store-gateways first appear. Blocks whose replicas cannot be looked up (the
    /// error is remembered) or were all tried are left out.
    fn assign(
        &self,
        blocks: &[Ulid],
        tried: &HashMap<Ulid, Vec<String>>,
        errors: &mut Vec<String>,
    ) -> Vec<(String, Vec<Ulid>)> {
        let mut groups: Vec<(String, Vec<Ulid>)> = Vec::new();
        for &id in blocks {
            let addrs = match self.replicas.replicas(self.tenant, id) {
                Ok(addrs) => addrs,
                Err(e) => {
                    remember(errors, format!("block {id}: {e}"));
                    continue;
                }
            };
            let done = tried.get(&id).map(Vec::as_slice).unwrap_or_default();
            let Some(addr) = addrs.into_iter().find(|a| !done.contains(a)) else {
                continue;
            };
            match groups.iter_mut().find(|(a, _)| *a == addr) {
                Some((_, ids)) => ids.push(id),
                None => groups.push((addr, vec![id])),
            }
        }
        groups
    }
}

/// Adds `e` to `errors` unless it is there already.
fn remember(errors: &mut Vec<String>, e: String) {
    if !errors.contains(&e) {
        errors.push(e);
    }
}
