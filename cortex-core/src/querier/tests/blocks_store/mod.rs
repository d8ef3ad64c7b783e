//! Tests of the blocks-store querier: fake store-gateways (serving, down, hiding
//! blocks, answering for blocks they were not asked, reporting damage) behind fake
//! replicas, over a real bucket index in an in-memory bucket.

mod cases;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cortex_tsdb::chunkenc::{Encoding, XorChunk};
use cortex_tsdb::labels::Matcher;
use cortex_tsdb::ulid::Ulid;
use tokio::runtime::Runtime;

use super::{TENANT, labels, runtime};
use crate::querier::QueryLimits;
use crate::querier::blocks_store::{BlocksStoreConfig, BlocksStoreQuerier};
use crate::storage::bucketindex::{IndexBlock, IndexDeletionMark, write_index};
use crate::storage::{BlockStore, BucketIndex, BucketIndexConfig, BucketIndexReader};
use crate::storage::{ObjectBlockStore, StorageError};
use crate::storegateway::{
    BlockSeries, BucketChunk, BucketSeries, GatewayError, GatewayFuture, GatewayReplicas,
    LabelsRequest, LabelsResponse, SeriesRequest, SeriesResponse, StoreGatewayApi,
};

/// The tests' clock, Unix seconds.
const NOW: i64 = 1_700_000_000;
/// An upload old enough to be checked.
const OLD: i64 = NOW - 86_400;

/// One series of a block: `job` label and float samples.
type Stored = (&'static str, Vec<(i64, f64)>);

/// The series of `job` with samples `samples`, in one XOR chunk.
fn series(job: &str, samples: &[(i64, f64)]) -> BucketSeries {
    let mut chunk = XorChunk::new();
    {
        let mut app = chunk.appender().unwrap();
        for &(t, v) in samples {
            app.append(t, v).unwrap();
        }
    }
    BucketSeries {
        labels: labels(&[("__name__", "up"), ("job", job)]),
        chunks: vec![BucketChunk {
            min_time: samples.first().map_or(0, |s| s.0),
            max_time: samples.last().map_or(0, |s| s.0),
            encoding: Encoding::Xor,
            data: Bytes::from(chunk.into_bytes()),
        }],
    }
}

/// How a fake store-gateway misbehaves.
#[derive(Clone, Default)]
enum Mode {
    /// Answers for every asked block it holds.
    #[default]
    Serve,
    /// Every call fails as unreachable.
    Down,
    /// Holds these blocks but neither reports nor answers for them (not loaded yet).
    Hide(Vec<Ulid>),
    /// Sends these blocks' series but does not report them as queried.
    Unreported(Vec<Ulid>),
    /// Answers for every block it holds, asked or not.
    Unasked,
    /// Fails calls naming this block as corrupted.
    Corrupt(Ulid),
}

/// A store-gateway holding some blocks.
#[derive(Default)]
struct FakeGateway {
    addr: String,
    blocks: HashMap<Ulid, Vec<BucketSeries>>,
    mode: Mode,
    /// The block IDs of every call, in call order.
    calls: Mutex<Vec<Vec<Ulid>>>,
}

impl FakeGateway {
    fn new(addr: &str, mode: Mode, blocks: &[(Ulid, Vec<Stored>)]) -> Arc<FakeGateway> {
        let blocks = blocks
            .iter()
            .map(|(id, ss)| (*id, ss.iter().map(|(j, s)| series(j, s)).collect()))
            .collect();
        Arc::new(FakeGateway {
            addr: addr.to_string(),
            blocks,
            mode,
            calls: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> Vec<Vec<Ulid>> {
        self.calls.lock().unwrap().clone()
    }

    /// Records the call and returns the blocks to answer for and those to report.
    fn answer(&self, tenant: &str, asked: &[Ulid]) -> Result<(Vec<Ulid>, Vec<Ulid>), GatewayError> {
        self.calls.lock().unwrap().push(asked.to_vec());
        let mut held: Vec<Ulid> = self.blocks.keys().copied().collect();
        held.sort();
        let asked_held: Vec<Ulid> = held.iter().filter(|b| asked.contains(b)).copied().collect();
        match &self.mode {
            Mode::Serve => Ok((asked_held.clone(), asked_held)),
            Mode::Down => Err(GatewayError::Unavailable {
                gateway: self.addr.clone(),
                reason: "connection refused".into(),
            }),
            Mode::Hide(hidden) => {
                let shown: Vec<Ulid> = asked_held
                    .into_iter()
                    .filter(|b| !hidden.contains(b))
                    .collect();
                Ok((shown.clone(), shown))
            }
            Mode::Unreported(quiet) => {
                let reported = asked_held
                    .iter()
                    .filter(|b| !quiet.contains(b))
                    .copied()
                    .collect();
                Ok((asked_held, reported))
            }
            Mode::Unasked => Ok((held.clone(), held)),
            Mode::Corrupt(bad) if asked.contains(bad) => Err(GatewayError::Corrupted {
                block: format!("{tenant}/{bad}"),
                object: format!("{tenant}/{bad}/chunks/000001"),
                section: "chunk".into(),
                offset: 42,
                detail: "checksum mismatch".into(),
            }),
            Mode::Corrupt(_) => Ok((asked_held.clone(), asked_held)),
        }
    }

    fn matching<'a>(
        &'a self,
        block: &Ulid,
        matchers: &'a [Matcher],
    ) -> impl Iterator<Item = &'a BucketSeries> {
        self.blocks.get(block).into_iter().flatten().filter(|s| {
            matchers
                .iter()
                .all(|m| m.matches(s.labels.get(m.name()).unwrap_or("")))
        })
    }

    fn labels(
        &self,
        tenant: &str,
        req: &LabelsRequest,
        value_of: Option<&str>,
    ) -> Result<LabelsResponse, GatewayError> {
        let (answered, queried) = self.answer(tenant, &req.block_ids)?;
        let mut values: Vec<String> = answered
            .iter()
            .flat_map(|b| self.matching(b, &req.matchers))
            .flat_map(|s| s.labels.iter())
            .filter_map(|l| match value_of {
                Some(name) => (l.name == name).then(|| l.value.to_string()),
                None => Some(l.name.to_string()),
            })
            .collect();
        values.sort();
        values.dedup();
        Ok(LabelsResponse {
            values,
            queried_blocks: queried,
        })
    }
}

impl StoreGatewayApi for FakeGateway {
    fn series<'a>(
        &'a self,
        tenant: &'a str,
        req: &'a SeriesRequest,
    ) -> GatewayFuture<'a, SeriesResponse> {
        Box::pin(async move {
            let (answered, queried) = self.answer(tenant, &req.block_ids)?;
            let blocks = answered
                .iter()
                .map(|b| BlockSeries {
                    block: *b,
                    series: self.matching(b, &req.matchers).cloned().collect(),
                })
                .collect();
            Ok(SeriesResponse {
                blocks,
                queried_blocks: queried,
            })
        })
    }

    fn label_names<'a>(
        &'a self,
        tenant: &'a str,
        req: &'a LabelsRequest,
    ) -> GatewayFuture<'a, LabelsResponse> {
        Box::pin(async move { self.labels(tenant, req, None) })
    }

    fn label_values<'a>(
        &'a self,
        tenant: &'a str,
        name: &'a str,
        req: &'a LabelsRequest,
    ) -> GatewayFuture<'a, LabelsResponse> {
        Box::pin(async move { self.labels(tenant, req, Some(name)) })
    }
}

/// Fixed replicas per block; unknown addresses are down.
#[derive(Default)]
struct Replicas {
    by_block: HashMap<Ulid, Vec<String>>,
    gateways: HashMap<String, Arc<FakeGateway>>,
}

impl Replicas {
    fn new(gateways: &[&Arc<FakeGateway>], by_block: &[(Ulid, &[&str])]) -> Arc<Replicas> {
        Arc::new(Replicas {
            by_block: by_block
                .iter()
                .map(|(b, addrs)| (*b, addrs.iter().map(|a| a.to_string()).collect()))
                .collect(),
            gateways: gateways
                .iter()
                .map(|g| (g.addr.clone(), Arc::clone(g)))
                .collect(),
        })
    }
}

impl GatewayReplicas for Replicas {
    fn replicas(&self, _tenant: &str, block: Ulid) -> Result<Vec<String>, GatewayError> {
        self.by_block
            .get(&block)
            .cloned()
            .ok_or_else(|| GatewayError::Ring(format!("no healthy store-gateway for {block}")))
    }

    fn client(&self, addr: &str) -> Arc<dyn StoreGatewayApi> {
        match self.gateways.get(addr) {
            Some(g) => Arc::clone(g) as Arc<dyn StoreGatewayApi>,
            None => FakeGateway::new(addr, Mode::Down, &[]),
        }
    }
}

/// A bucket with a bucket index and the runtime the querier calls run on.
struct Env {
    rt: Runtime,
    store: Arc<ObjectBlockStore>,
}

/// An index entry of block `id` over `[min, max)` uploaded at `uploaded_at`.
fn entry(id: Ulid, min: i64, max: i64, uploaded_at: i64) -> IndexBlock {
    IndexBlock {
        block_id: id,
        min_time: min,
        max_time: max,
        segments_format: String::new(),
        segments_num: 0,
        series_max_size: 0,
        chunk_max_size: 0,
        uploaded_at,
    }
}

/// A deletion mark of `id` made at `at`.
fn mark(id: Ulid, at: i64) -> IndexDeletionMark {
    IndexDeletionMark {
        block_id: id,
        deletion_time: at,
    }
}

impl Env {
    /// A bucket whose index (updated at `NOW`) lists `blocks` and `marks`.
    fn new(blocks: Vec<IndexBlock>, marks: Vec<IndexDeletionMark>) -> Env {
        let env = Env {
            rt: runtime(),
            store: Arc::new(ObjectBlockStore::in_memory()),
        };
        let mut idx = BucketIndex::empty(NOW);
        idx.blocks = blocks;
        idx.block_deletion_marks = marks;
        env.write(&idx);
        env
    }

    fn write(&self, idx: &BucketIndex) {
        self.rt
            .block_on(write_index(&*self.store, TENANT, idx))
            .unwrap();
    }

    fn put_raw(&self, path: &str, data: &'static [u8]) -> Result<(), StorageError> {
        self.rt
            .block_on(self.store.put(path, Bytes::from_static(data)))
    }

    fn querier(&self, replicas: Arc<Replicas>, limits: QueryLimits) -> BlocksStoreQuerier {
        let reader = BucketIndexReader::new(
            Arc::clone(&self.store) as Arc<dyn BlockStore>,
            BucketIndexConfig::default(),
        );
        let cfg = BlocksStoreConfig {
            upload_grace_period: Duration::from_secs(45 * 60),
            ignore_deletion_marks_delay: Duration::from_secs(6 * 3600),
        };
        BlocksStoreQuerier::new(
            TENANT,
            reader,
            replicas,
            self.rt.handle().clone(),
            cfg,
            limits,
        )
        .with_now(NOW)
    }
}
