//! [`StoreGatewayApi`] for [`StoreGateway`]: a request is answered from those of its
//! `block_ids` this store-gateway lists for the tenant (opened on first use), and
//! exactly those are reported as queried; a block it does not have is left out, for the
//! querier to ask another store-gateway. A listed block that cannot be read fails the
//! call: it is never reported as queried with a partial answer.
//!
//! The blocks of one request are read concurrently, a few at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;

use cortex_tsdb::labels::Matcher;
use cortex_tsdb::ulid::Ulid;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::api::{
    BlockSeries, GatewayFuture, LabelsRequest, LabelsResponse, SeriesRequest, SeriesResponse,
    StoreGatewayApi,
};
use super::block::BucketBlock;
use super::error::GatewayError;
use super::gateway::StoreGateway;

/// Blocks of one request read at once.
const BLOCK_CONCURRENCY: usize = 8;

impl StoreGateway {
    /// Runs `f` on each of the blocks `ids` of `tenant` listed here (once per block),
    /// concurrently; the results in the order of `ids`. The first error fails it all.
    async fn per_block<T, F, Fut>(
        &self,
        tenant: &str,
        ids: &[Ulid],
        f: F,
    ) -> Result<Vec<(Ulid, T)>, GatewayError>
    where
        T: Send + 'static,
        F: Fn(Arc<BucketBlock>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<T, GatewayError>> + Send + 'static,
    {
        let Some(set) = self.block_set(tenant) else {
            return Ok(Vec::new());
        };
        let mut seen = BTreeSet::new();
        let wanted: Vec<Ulid> = ids
            .iter()
            .copied()
            .filter(|id| seen.insert(*id) && set.is_listed(*id))
            .collect();
        let sem = Arc::new(Semaphore::new(BLOCK_CONCURRENCY));
        let mut tasks = JoinSet::new();
        for (i, id) in wanted.into_iter().enumerate() {
            let (set, sem, f) = (set.clone(), sem.clone(), f.clone());
            tasks.spawn(async move {
                let _permit = sem.acquire_owned().await;
                // Unlisted by a sync since: not queried here.
                let Some(block) = set.open_listed(&[id]).await?.pop() else {
                    return Ok(None);
                };
                Ok(Some((i, id, f(block).await?)))
            });
        }
        let mut done = BTreeMap::new();
        while let Some(r) = tasks.join_next().await {
            let r = r.map_err(|e| GatewayError::Runtime {
                block: tenant.to_string(),
                reason: format!("a block read failed to run: {e}"),
            })?;
            if let Some((i, id, v)) = r? {
                done.insert(i, (id, v));
            }
        }
        Ok(done.into_values().collect())
    }
}

/// True when block `b` has samples in `[mint, maxt]`.
fn overlaps(b: &BucketBlock, mint: i64, maxt: i64) -> bool {
    mint <= maxt && b.meta().min_time <= maxt && mint < b.meta().max_time
}

fn labels_response(per_block: Vec<(Ulid, Vec<String>)>) -> LabelsResponse {
    let mut values = BTreeSet::new();
    let mut queried_blocks = Vec::with_capacity(per_block.len());
    for (id, v) in per_block {
        queried_blocks.push(id);
        values.extend(v);
    }
    LabelsResponse {
        values: values.into_iter().collect(),
        queried_blocks,
    }
}

impl StoreGatewayApi for StoreGateway {
    fn series<'a>(
        &'a self,
        tenant: &'a str,
        req: &'a SeriesRequest,
    ) -> GatewayFuture<'a, SeriesResponse> {
        Box::pin(async move {
            let matchers: Arc<[Matcher]> = req.matchers.clone().into();
            let (mint, maxt, skip) = (req.min_time, req.max_time, req.skip_chunks);
            let per_block = self
                .per_block(tenant, &req.block_ids, move |b| {
                    let m = matchers.clone();
                    async move { b.series_with(&m, mint, maxt, skip).await }
                })
                .await?;
            let mut resp = SeriesResponse::default();
            for (block, series) in per_block {
                resp.queried_blocks.push(block);
                if !series.is_empty() {
                    resp.blocks.push(BlockSeries { block, series });
                }
            }
            Ok(resp)
        })
    }

    fn label_names<'a>(
        &'a self,
        tenant: &'a str,
        req: &'a LabelsRequest,
    ) -> GatewayFuture<'a, LabelsResponse> {
        Box::pin(async move {
            let matchers: Arc<[Matcher]> = req.matchers.clone().into();
            let (mint, maxt) = (req.min_time, req.max_time);
            let per_block = self
                .per_block(tenant, &req.block_ids, move |b| {
                    let m = matchers.clone();
                    async move {
                        if !overlaps(&b, mint, maxt) {
                            return Ok(Vec::new());
                        }
                        b.label_names(&m).await
                    }
                })
                .await?;
            Ok(labels_response(per_block))
        })
    }

    fn label_values<'a>(
        &'a self,
        tenant: &'a str,
        name: &'a str,
        req: &'a LabelsRequest,
    ) -> GatewayFuture<'a, LabelsResponse> {
        Box::pin(async move {
            let matchers: Arc<[Matcher]> = req.matchers.clone().into();
            let name: Arc<str> = name.into();
            let (mint, maxt) = (req.min_time, req.max_time);
            let per_block = self
                .per_block(tenant, &req.block_ids, move |b| {
                    let (m, name) = (matchers.clone(), name.clone());
                    async move {
                        if !overlaps(&b, mint, maxt) {
                            return Ok(Vec::new());
                        }
                        b.label_values(&name, &m).await
                    }
                })
                .await?;
            Ok(labels_response(per_block))
        })
    }
}
