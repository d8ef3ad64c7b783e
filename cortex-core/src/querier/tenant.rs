//! [`TenantQuerier`]: all of one tenant's data as one [`Querier`] — the ingester's TSDB
//! of the tenant (head and local blocks) merged with the tenant's blocks in the bucket
//! that the ingester no longer has locally. The same series from several sources is one
//! series, its samples deduplicated by timestamp.
//!
//! Local blocks and bucket blocks with the same ULID hold the same data (the shipper
//! uploads a block under its local ULID), so each select takes the TSDB's block list
//! once and asks the bucket only for the other blocks. Older data, whose local blocks
//! were deleted after `blocks_storage.tsdb.retention_period`, comes from the bucket.
//!
//! The bucket side is read through store-gateways ([`BlocksStoreQuerier`]; the single
//! binary's in-process one), which are asked for every block the tenant's bucket index
//! lists for the range except those the TSDB holds, under the consistency check.
//!
//! One `TenantQuerier` serves one query: the per-query limits ([`QueryLimits`]) count
//! across all of its selects.

use std::collections::BTreeSet;
use std::sync::Arc;

use cortex_tsdb::block::Block;
use cortex_tsdb::db::Db;
use cortex_tsdb::head::HeadQuerier;
use cortex_tsdb::labels::Matcher;
use cortex_tsdb::querier::{merge_series, select_block};
use cortex_tsdb::ulid::Ulid;

use super::blocks_store::BlocksStoreQuerier;
use super::limits::{QueryLimiter, QueryLimits};
use super::time_split::merge_series as merge_sides;
use super::tsdb::{block_label_names, block_label_values, storage, wrap};
use super::{Querier, QuerierError, SelectHints, Series};

/// One tenant's data for one query (see the module documentation).
pub struct TenantQuerier {
    tenant: String,
    db: Option<Arc<Db>>,
    gateways: Option<BlocksStoreQuerier>,
    limiter: Arc<QueryLimiter>,
}

/// The local TSDB as of one moment: its blocks overlapping the range, every block's
/// ULID, and the head.
struct Local<'a> {
    blocks: Vec<Arc<Block>>,
    ulids: BTreeSet<Ulid>,
    head: HeadQuerier<'a>,
}

impl TenantQuerier {
    /// The querier of `tenant` over its ingester TSDB `db` alone (`None` when the
    /// ingester has none open, e.g. after closing it for idleness), enforcing `limits`.
    pub fn new(tenant: &str, db: Option<Arc<Db>>, limits: QueryLimits) -> TenantQuerier {
        TenantQuerier {
            tenant: tenant.to_string(),
            db,
            gateways: None,
            limiter: Arc::new(QueryLimiter::new(limits)),
        }
    }

    /// The querier of `tenant` over its ingester TSDB `db` (`None` when the ingester
    /// has none open) and its bucket blocks read through `gateways`; the limits
    /// `gateways` was built with count over both.
    pub fn with_gateways(
        tenant: &str,
        db: Option<Arc<Db>>,
        gateways: BlocksStoreQuerier,
    ) -> TenantQuerier {
        TenantQuerier {
            tenant: tenant.to_string(),
            db,
            limiter: gateways.limiter(),
            gateways: Some(gateways),
        }
    }

    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    fn local(&self, mint: i64, maxt: i64) -> Option<Local<'_>> {
        let db = self.db.as_ref()?;
        let all = db.blocks();
        let ulids = all.iter().map(|b| b.meta().ulid).collect();
        let blocks = all.into_iter().filter(|b| b.overlaps(mint, maxt)).collect();
        Some(Local {
            blocks,
            ulids,
            head: db.head().querier(mint, maxt),
        })
    }
}

impl Querier for TenantQuerier {
    fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Arc<dyn Series>>, QuerierError> {
        let (mint, maxt) = (hints.start, hints.end);
        let mut lists = Vec::new();
        let local = self.local(mint, maxt);
        if let Some(l) = &local {
            for b in &l.blocks {
                lists.push(select_block(b, matchers, mint, maxt).map_err(storage)?);
            }
            lists.push(l.head.select(matchers).map_err(storage)?);
        }
        let merged = merge_series(lists);
        self.limiter.add(&merged)?;
        let merged: Vec<Arc<dyn Series>> = merged.into_iter().map(wrap).collect();
        match &self.gateways {
            Some(g) => {
                let none = BTreeSet::new();
                let exclude = local.as_ref().map_or(&none, |l| &l.ulids);
                let old = g.select_excluding(hints, matchers, exclude)?;
                drop(local);
                if old.is_empty() {
                    Ok(merged)
                } else {
                    merge_sides(merged, old)
                }
            }
            None => Ok(merged),
        }
    }

    fn label_names(
        &self,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError> {
        let mut names = BTreeSet::new();
        let local = self.local(start, end);
        if let Some(l) = &local {
            for b in &l.blocks {
                names.extend(block_label_names(b, matchers).map_err(storage)?);
            }
            names.extend(l.head.label_names(matchers));
        }
        if let Some(g) = &self.gateways {
            let none = BTreeSet::new();
            let exclude = local.as_ref().map_or(&none, |l| &l.ulids);
            names.extend(g.label_names_excluding(start, end, matchers, exclude)?);
        }
        Ok(names.into_iter().collect())
    }

    fn label_values(
        &self,
        name: &str,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError> {
        let mut values = BTreeSet::new();
        let local = self.local(start, end);
        if let Some(l) = &local {
            for b in &l.blocks {
                values.extend(block_label_values(b, name, matchers).map_err(storage)?);
            }
            values.extend(l.head.label_values(name, matchers));
        }
        if let Some(g) = &self.gateways {
            let none = BTreeSet::new();
            let exclude = local.as_ref().map_or(&none, |l| &l.ulids);
            values.extend(g.label_values_excluding(name, start, end, matchers, exclude)?);
        }
        Ok(values.into_iter().collect())
    }
}
