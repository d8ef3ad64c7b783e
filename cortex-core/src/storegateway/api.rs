//! [`StoreGatewayApi`]: what a querier asks of one store-gateway, whether it runs in the
//! same process or is reached over gRPC, and [`GatewayReplicas`]: which store-gateways
//! hold a tenant's block.
//!
//! A querier names the blocks it wants in every request (it knows them from the bucket
//! index); a store-gateway answers from those of them it has loaded and reports exactly
//! which ones it queried, so the querier can check that every block was covered and
//! retry the others elsewhere. Series come back per block, each with its chunks, so
//! copies of a series in overlapping blocks are merged by the querier sample by sample.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use cortex_tsdb::labels::Matcher;
use cortex_tsdb::ulid::Ulid;

use super::block::BucketSeries;
use super::error::GatewayError;

/// The future every [`StoreGatewayApi`] method returns.
pub type GatewayFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, GatewayError>> + Send + 'a>>;

/// A `Series` call: the series matching `matchers` with samples in
/// `[min_time, max_time]`, read from the blocks `block_ids` (those the store-gateway has).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRequest {
    /// Start of the range, ms (inclusive).
    pub min_time: i64,
    /// End of the range, ms (inclusive).
    pub max_time: i64,
    /// All must match.
    pub matchers: Vec<Matcher>,
    /// The blocks to read; a store-gateway never reads blocks not named here.
    pub block_ids: Vec<Ulid>,
    /// Labels only: no chunks are fetched or sent.
    pub skip_chunks: bool,
}

/// The series of one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSeries {
    /// The block.
    pub block: Ulid,
    /// Its matching series, sorted by labels, each with its chunks overlapping the range.
    pub series: Vec<BucketSeries>,
}

/// A store-gateway's answer to a `Series` call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesResponse {
    /// Series per queried block (blocks without a matching series may be left out).
    pub blocks: Vec<BlockSeries>,
    /// Every block that was queried, matching series or not.
    pub queried_blocks: Vec<Ulid>,
}

/// A `LabelNames` or `LabelValues` call.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelsRequest {
    /// Start of the range, ms (inclusive).
    pub min_time: i64,
    /// End of the range, ms (inclusive).
    pub max_time: i64,
    /// Only series matching all of these count (all series when empty).
    pub matchers: Vec<Matcher>,
    /// The blocks to read.
    pub block_ids: Vec<Ulid>,
}

/// A store-gateway's answer to a `LabelNames` or `LabelValues` call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelsResponse {
    /// Names or values, sorted and deduplicated.
    pub values: Vec<String>,
    /// Every block that was queried.
    pub queried_blocks: Vec<Ulid>,
}

/// One store-gateway as a querier sees it.
pub trait StoreGatewayApi: Send + Sync {
    /// The series of `tenant` that `req` asks for.
    fn series<'a>(
        &'a self,
        tenant: &'a str,
        req: &'a SeriesRequest,
    ) -> GatewayFuture<'a, SeriesResponse>;

    /// Label names of `tenant`'s series in the requested blocks.
    fn label_names<'a>(
        &'a self,
        tenant: &'a str,
        req: &'a LabelsRequest,
    ) -> GatewayFuture<'a, LabelsResponse>;

    /// Values of label `name` among `tenant`'s series in the requested blocks.
    fn label_values<'a>(
        &'a self,
        tenant: &'a str,
        name: &'a str,
        req: &'a LabelsRequest,
    ) -> GatewayFuture<'a, LabelsResponse>;
}

/// Where a tenant's blocks are served: the store-gateway ring (or the one in-process
/// store-gateway of the single binary) and clients of its members.
pub trait GatewayReplicas: Send + Sync {
    /// Addresses of the store-gateways that should hold `block` of `tenant`, in the
    /// order to try them (the tenant's shuffle shard when it has one). An error when no
    /// healthy store-gateway holds it.
    fn replicas(&self, tenant: &str, block: Ulid) -> Result<Vec<String>, GatewayError>;

    /// The client of the store-gateway at `addr`.
    fn client(&self, addr: &str) -> Arc<dyn StoreGatewayApi>;
}

/// The single binary's one store-gateway, called in this process: every block is
/// served by it, under the name [`InProcessReplicas::NAME`].
pub struct InProcessReplicas {
    api: Arc<dyn StoreGatewayApi>,
}

impl InProcessReplicas {
    /// The name the in-process store-gateway goes by in errors.
    pub const NAME: &'static str = "in-process store-gateway";

    /// Replicas that are `api` alone.
    pub fn new(api: Arc<dyn StoreGatewayApi>) -> InProcessReplicas {
        InProcessReplicas { api }
    }
}

impl GatewayReplicas for InProcessReplicas {
    fn replicas(&self, _tenant: &str, _block: Ulid) -> Result<Vec<String>, GatewayError> {
        Ok(vec![InProcessReplicas::NAME.to_string()])
    }

    fn client(&self, _addr: &str) -> Arc<dyn StoreGatewayApi> {
        self.api.clone()
    }
}

/// Which blocks a store-gateway loads: with sharding, the blocks the ring gives it
/// (its tenant's shuffle shard, RF copies); without, all of them ([`OwnsAll`]).
pub trait BlockOwnership: Send + Sync {
    /// True when this store-gateway should load and serve `block` of `tenant`.
    fn owns(&self, tenant: &str, block: Ulid) -> bool;
}

/// Every block belongs to this store-gateway (sharding off, or the single binary).
#[derive(Debug, Clone, Copy, Default)]
pub struct OwnsAll;

impl BlockOwnership for OwnsAll {
    fn owns(&self, _tenant: &str, _block: Ulid) -> bool {
        true
    }
}
