//! [`BlocksStoreQuerier`]: one tenant's bucket blocks, for one query, read through the
//! store-gateways that serve them (Cortex's blocks-store queryable).
//!
//! Each call loads the tenant's bucket index once per querier (a tenant without an
//! index has no blocks; an index that cannot be read or is older than the max stale
//! period fails the query), picks the blocks overlapping the range, minus those marked
//! for deletion longer than `ignore_deletion_marks_delay` ago ([`selection`]), and asks
//! the store-gateways for them: every block goes to the first of its replicas
//! ([`GatewayReplicas`]) not tried yet, all store-gateways at once, each told exactly
//! which blocks to read. Blocks a store-gateway did not report as queried, and those
//! of a store-gateway that failed, are asked of their next replica, for
//! [`MAX_FETCH_ATTEMPTS`] rounds in all. Blocks still missing then fail the query
//! ("consistency check failed because some blocks were not queried: ..."), except
//! those the consistency check exempts (recent uploads, blocks marked for deletion
//! long enough ago; see [`selection::must_be_queried`]). A store-gateway reporting a
//! damaged block ([`crate::storegateway::GatewayError::Corrupted`] or a bad `meta.json`) fails the query
//! at once with [`QuerierError::Block`]: the other replicas read the same objects.
//!
//! The same series from several blocks becomes one [`GatewaySeries`] with one part
//! per block, its samples merged by timestamp; a block is taken from the first
//! store-gateway that answered for it only. Series and chunks kept count towards the
//! query's [`QueryLimits`]. Label names and values are unioned and sorted.
//!
//! The [`Querier`] trait is synchronous: calls run on the tokio runtime given at
//! construction through `Handle::block_on`, so call from a blocking thread
//! (`spawn_blocking`, a plain thread), never from a runtime worker.

mod fetch;
pub mod selection;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cortex_tsdb::labels::{Labels, Matcher};
use cortex_tsdb::ulid::Ulid;
use tokio::runtime::Handle;

use self::fetch::{Fetch, Queried};
use self::selection::{KnownBlock, blocks_to_query};
use super::limits::{QueryLimiter, QueryLimits};
use super::{Querier, QuerierError, SelectHints, Series};
use crate::storage::{BucketIndex, BucketIndexReader};
use crate::storegateway::{
    BucketChunk, GatewayFuture, GatewayReplicas, GatewaySeries, LabelsRequest, LabelsResponse,
    SeriesRequest, SeriesResponse, StoreGatewayApi,
};

/// Rounds of store-gateway calls per query call (Cortex's `maxFetchSeriesAttempts`).
pub const MAX_FETCH_ATTEMPTS: usize = 3;

/// The blocks-store querier's settings (from Cortex's `blocks_storage.bucket_store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlocksStoreConfig {
    /// Blocks uploaded less than this long ago are exempt from the consistency check:
    /// store-gateways may not have loaded them yet. Cortex uses `consistency_delay + 3
    /// × sync_interval` ([`BlocksStoreConfig::from_bucket_store`]); zero checks every
    /// block.
    pub upload_grace_period: Duration,
    /// `ignore_deletion_marks_delay`: blocks marked for deletion longer ago than this
    /// are not queried (store-gateways no longer load them); those marked longer ago
    /// than half of it are exempt from the consistency check.
    pub ignore_deletion_marks_delay: Duration,
}

impl Default for BlocksStoreConfig {
    /// Cortex's defaults: no consistency delay, a 15m sync interval, a 6h delay.
    fn default() -> BlocksStoreConfig {
        BlocksStoreConfig::from_bucket_store(
            Duration::ZERO,
            Duration::from_secs(15 * 60),
            Duration::from_secs(6 * 60 * 60),
        )
    }
}

impl BlocksStoreConfig {
    /// The settings Cortex derives from `bucket_store.consistency_delay`,
    /// `bucket_store.sync_interval` and `bucket_store.ignore_deletion_mark_delay`.
    pub fn from_bucket_store(
        consistency_delay: Duration,
        sync_interval: Duration,
        ignore_deletion_marks_delay: Duration,
    ) -> BlocksStoreConfig {
        BlocksStoreConfig {
            upload_grace_period: consistency_delay.saturating_add(sync_interval.saturating_mul(3)),
            ignore_deletion_marks_delay,
        }
    }

    /// How long after its deletion mark a block must still be queried: half of
    /// `ignore_deletion_marks_delay`.
    pub fn deletion_grace_period(&self) -> Duration {
        self.ignore_deletion_marks_delay / 2
    }
}

/// One tenant's bucket blocks for one query, through the store-gateways (see the
/// module documentation).
pub struct BlocksStoreQuerier {
    tenant: String,
    index_reader: BucketIndexReader,
    replicas: Arc<dyn GatewayReplicas>,
    runtime: Handle,
    cfg: BlocksStoreConfig,
    limiter: Arc<QueryLimiter>,
    now_secs: Option<i64>,
    index: tokio::sync::Mutex<Option<Arc<BucketIndex>>>,
    last_served: Mutex<Vec<(Ulid, String)>>,
}

impl BlocksStoreQuerier {
    /// The querier of `tenant`, loading its bucket index through `index_reader`, its
    /// blocks from the store-gateways `replicas` names, calls driven on `runtime`,
    /// enforcing `limits` over all calls of the query.
    pub fn new(
        tenant: &str,
        index_reader: BucketIndexReader,
        replicas: Arc<dyn GatewayReplicas>,
        runtime: Handle,
        cfg: BlocksStoreConfig,
        limits: QueryLimits,
    ) -> BlocksStoreQuerier {
        BlocksStoreQuerier {
            tenant: tenant.to_string(),
            index_reader,
            replicas,
            runtime,
            cfg,
            limiter: Arc::new(QueryLimiter::new(limits)),
            now_secs: None,
            index: tokio::sync::Mutex::new(None),
            last_served: Mutex::new(Vec::new()),
        }
    }

    /// Uses `now_secs` (Unix seconds) as the current time for the index staleness and
    /// the block checks, instead of the clock.
    pub fn with_now(mut self, now_secs: i64) -> BlocksStoreQuerier {
        self.now_secs = Some(now_secs);
        self
    }

    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The counter of this query's fetched series and chunks, to share with the other
    /// sources of the same query.
    pub(crate) fn limiter(&self) -> Arc<QueryLimiter> {
        Arc::clone(&self.limiter)
    }

    /// The blocks the last successful call queried, by ULID, each with the address of
    /// the store-gateway whose answer was used; empty after a failed call.
    pub fn last_queried_blocks(&self) -> Vec<(Ulid, String)> {
        self.last_served
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn now_secs(&self) -> i64 {
        self.now_secs.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        })
    }

    /// The blocks to query for `[mint, maxt]` except those in `exclude`, loading the
    /// index on first use.
    async fn known_blocks(
        &self,
        mint: i64,
        maxt: i64,
        now_secs: i64,
        exclude: &BTreeSet<Ulid>,
    ) -> Result<Vec<KnownBlock>, QuerierError> {
        let mut cached = self.index.lock().await;
        let idx = match &*cached {
            Some(idx) => Arc::clone(idx),
            None => {
                let idx = self
                    .index_reader
                    .load_shared(&self.tenant, now_secs)
                    .await
                    .map_err(|e| {
                        QuerierError::Storage(format!(
                            "failed to load the bucket index of tenant {}: {e}",
                            self.tenant
                        ))
                    })?;
                Arc::clone(cached.insert(idx))
            }
        };
        let mut blocks = blocks_to_query(&idx, mint, maxt, &self.cfg, now_secs);
        if !exclude.is_empty() {
            blocks.retain(|b| !exclude.contains(&b.id));
        }
        Ok(blocks)
    }

    /// Runs one query call over the blocks of `[mint, maxt]` not in `exclude` (see
    /// [`Fetch::run`]).
    fn query<'c, R: Queried>(
        &'c self,
        mint: i64,
        maxt: i64,
        exclude: &BTreeSet<Ulid>,
        call: impl Fn(Arc<dyn StoreGatewayApi>, Vec<Ulid>) -> GatewayFuture<'c, R>,
        accept: impl FnMut(R, &[Ulid]) -> Result<(), QuerierError>,
    ) -> Result<(), QuerierError> {
        let now_secs = self.now_secs();
        let result = self.runtime.block_on(async {
            let blocks = self.known_blocks(mint, maxt, now_secs, exclude).await?;
            let fetch = Fetch {
                tenant: &self.tenant,
                replicas: &*self.replicas,
                cfg: &self.cfg,
                now_secs,
            };
            fetch.run(&blocks, call, accept).await
        });
        let mut last = self.last_served.lock().unwrap_or_else(|e| e.into_inner());
        last.clear();
        let served = result?;
        last.extend(served);
        Ok(())
    }

    /// Adds the series of the blocks `new` of `answer` to `merged`, counting them
    /// against the limits; each block once.
    fn merge_series(
        &self,
        merged: &mut BTreeMap<Labels, Vec<Vec<BucketChunk>>>,
        answer: SeriesResponse,
        new: &[Ulid],
    ) -> Result<(), QuerierError> {
        let mut taken: Vec<Ulid> = Vec::with_capacity(new.len());
        for block in answer.blocks {
            if !new.contains(&block.block) || taken.contains(&block.block) {
                continue;
            }
            taken.push(block.block);
            self.limiter
                .add_series(block.series.iter().map(|s| &s.labels))?;
            self.limiter
                .add_chunks(block.series.iter().map(|s| s.chunks.len()).sum())?;
            for s in block.series {
                merged.entry(s.labels).or_default().push(s.chunks);
            }
        }
        Ok(())
    }

    /// Label names (`name` = `None`) or values of `name`, unioned over the blocks not
    /// in `exclude`.
    fn labels(
        &self,
        name: Option<&str>,
        start: i64,
        end: i64,
        matchers: &[Matcher],
        exclude: &BTreeSet<Ulid>,
    ) -> Result<Vec<String>, QuerierError> {
        let tenant = self.tenant.as_str();
        let mut values = BTreeSet::new();
        self.query(
            start,
            end,
            exclude,
            |client, block_ids| {
                let req = LabelsRequest {
                    min_time: start,
                    max_time: end,
                    matchers: matchers.to_vec(),
                    block_ids,
                };
                let name = name.map(str::to_string);
                Box::pin(async move {
                    match name {
                        Some(name) => client.label_values(tenant, &name, &req).await,
                        None => client.label_names(tenant, &req).await,
                    }
                })
            },
            |answer: LabelsResponse, new| {
                if !new.is_empty() {
                    values.extend(answer.values);
                }
                Ok(())
            },
        )?;
        Ok(values.into_iter().collect())
    }
}

impl BlocksStoreQuerier {
    /// [`Querier::select`] over the blocks not in `exclude` (those a local TSDB still
    /// holds, read there instead); excluded blocks are neither asked for nor required
    /// by the consistency check.
    pub fn select_excluding(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
        exclude: &BTreeSet<Ulid>,
    ) -> Result<Vec<Arc<dyn Series>>, QuerierError> {
        let (mint, maxt) = (hints.start, hints.end);
        // The series API needs labels only (Cortex skips chunks for it too).
        let skip_chunks = hints.func.as_deref() == Some("series");
        let tenant = self.tenant.as_str();
        let mut merged = BTreeMap::new();
        self.query(
            mint,
            maxt,
            exclude,
            |client, block_ids| {
                let req = SeriesRequest {
                    min_time: mint,
                    max_time: maxt,
                    matchers: matchers.to_vec(),
                    block_ids,
                    skip_chunks,
                };
                Box::pin(async move { client.series(tenant, &req).await })
            },
            |answer: SeriesResponse, new| self.merge_series(&mut merged, answer, new),
        )?;
        Ok(merged
            .into_iter()
            .map(|(labels, parts)| {
                Arc::new(GatewaySeries::new(labels, parts, mint, maxt)) as Arc<dyn Series>
            })
            .collect())
    }

    /// [`Querier::label_names`] over the blocks not in `exclude`.
    pub fn label_names_excluding(
        &self,
        start: i64,
        end: i64,
        matchers: &[Matcher],
        exclude: &BTreeSet<Ulid>,
    ) -> Result<Vec<String>, QuerierError> {
        self.labels(None, start, end, matchers, exclude)
    }

    /// [`Querier::label_values`] over the blocks not in `exclude`.
    pub fn label_values_excluding(
        &self,
        name: &str,
        start: i64,
        end: i64,
        matchers: &[Matcher],
        exclude: &BTreeSet<Ulid>,
    ) -> Result<Vec<String>, QuerierError> {
        self.labels(Some(name), start, end, matchers, exclude)
    }
}

impl Querier for BlocksStoreQuerier {
    fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Arc<dyn Series>>, QuerierError> {
        self.select_excluding(hints, matchers, &BTreeSet::new())
    }

    fn label_names(
        &self,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError> {
        self.labels(None, start, end, matchers, &BTreeSet::new())
    }

    fn label_values(
        &self,
        name: &str,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError> {
        self.labels(Some(name), start, end, matchers, &BTreeSet::new())
    }
}
