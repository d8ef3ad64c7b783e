//! [`GatewayQuerier`]: a tenant's [`BlockSet`] as a [`Querier`], so store-gateway
//! results are read like any other source. The same series from several blocks is one
//! series whose samples are merged by timestamp (equal timestamps kept once, as blocks
//! of replicas hold the same samples).
//!
//! Samples are decoded from the fetched chunk bytes ([`ChunkSamples`]); each is checked
//! against its chunk's indexed time range and order, so damaged chunks are errors, never
//! a shorter answer.
//!
//! The `Querier` methods are synchronous: they run the block set's async calls as a task
//! on the runtime given at construction and wait for it, so they must be called from a
//! thread that is not one of that runtime's workers (the engine runs queries on the
//! blocking pool).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use cortex_tsdb::chunkenc::{ChunkIter, ValueType};
use cortex_tsdb::labels::{Labels, Matcher};
use tokio::runtime::Handle;

use super::block::BucketChunk;
use super::block_set::BlockSet;
use super::error::GatewayError;
use crate::querier::{
    Querier, QuerierError, Sample, SampleIterator, SampleValue, SelectHints, Series,
};

/// A tenant's bucket blocks as a [`Querier`] (see the module documentation).
pub struct GatewayQuerier {
    set: Arc<BlockSet>,
    runtime: Handle,
}

impl GatewayQuerier {
    /// A querier over `set`, running its bucket reads on `runtime`.
    pub fn new(set: Arc<BlockSet>, runtime: Handle) -> GatewayQuerier {
        GatewayQuerier { set, runtime }
    }

    fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, GatewayError>> + Send + 'static,
    ) -> Result<T, QuerierError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .map_err(|_| {
                QuerierError::Storage("the runtime reading the bucket shut down".to_string())
            })?
            .map_err(|e| QuerierError::Storage(e.to_string()))
    }
}

impl Querier for GatewayQuerier {
    fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Arc<dyn Series>>, QuerierError> {
        let (set, m, mint, maxt) = (self.set.clone(), matchers.to_vec(), hints.start, hints.end);
        let per_block = self.run(async move { set.series(&m, mint, maxt).await })?;
        let mut merged: BTreeMap<Labels, Vec<Vec<BucketChunk>>> = BTreeMap::new();
        for (_, series) in per_block {
            for s in series {
                merged.entry(s.labels).or_default().push(s.chunks);
            }
        }
        Ok(merged
            .into_iter()
            .map(|(labels, parts)| {
                Arc::new(GatewaySeries {
                    labels,
                    parts,
                    mint,
                    maxt,
                }) as Arc<dyn Series>
            })
            .collect())
    }

    fn label_names(
        &self,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError> {
        let (set, m) = (self.set.clone(), matchers.to_vec());
        self.run(async move { set.label_names(start, end, &m).await })
    }

    fn label_values(
        &self,
        name: &str,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError> {
        let (set, m, name) = (self.set.clone(), matchers.to_vec(), name.to_string());
        self.run(async move { set.label_values(&name, start, end, &m).await })
    }
}

/// One series: its chunks from each block that has it, read as one series whose
/// samples are merged by timestamp (equal timestamps kept once).
pub struct GatewaySeries {
    labels: Labels,
    parts: Vec<Vec<BucketChunk>>,
    mint: i64,
    maxt: i64,
}

impl GatewaySeries {
    /// The series `labels` whose chunks from each block are `parts` (each in time
    /// order), giving samples in `[mint, maxt]`.
    pub fn new(
        labels: Labels,
        parts: Vec<Vec<BucketChunk>>,
        mint: i64,
        maxt: i64,
    ) -> GatewaySeries {
        GatewaySeries {
            labels,
            parts,
            mint,
            maxt,
        }
    }
}

impl Series for GatewaySeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn samples(&self) -> Box<dyn SampleIterator + '_> {
        let parts = self
            .parts
            .iter()
            .map(|p| ChunkSamples::new(p, self.mint, self.maxt))
            .collect();
        Box::new(MergedSamples {
            parts,
            heads: Vec::new(),
            started: false,
        })
    }
}

/// The samples in `[mint, maxt]` of one block's chunks of a series, checked against
/// the chunks' indexed ranges and for increasing timestamps.
pub struct ChunkSamples<'a> {
    chunks: &'a [BucketChunk],
    next_chunk: usize,
    cur: Option<(ChunkIter<'a>, &'a BucketChunk)>,
    mint: i64,
    maxt: i64,
    last_t: i64,
}

impl<'a> ChunkSamples<'a> {
    /// The samples of `chunks` (in time order) within `[mint, maxt]`.
    pub fn new(chunks: &'a [BucketChunk], mint: i64, maxt: i64) -> ChunkSamples<'a> {
        ChunkSamples {
            chunks,
            next_chunk: 0,
            cur: None,
            mint,
            maxt,
            last_t: i64::MIN,
        }
    }

    fn corrupt(c: &BucketChunk, detail: String) -> QuerierError {
        QuerierError::Storage(format!(
            "corrupted chunk [{}, {}]: {detail}",
            c.min_time, c.max_time
        ))
    }

    /// The next sample in range, or `None` at the end.
    pub fn next_sample(&mut self) -> Result<Option<Sample>, QuerierError> {
        loop {
            if self.cur.is_none() {
                let Some(c) = self.chunks.get(self.next_chunk) else {
                    return Ok(None);
                };
                self.next_chunk += 1;
                if c.max_time < self.mint || c.min_time > self.maxt {
                    continue;
                }
                let it = ChunkIter::new(c.encoding, &c.data)
                    .map_err(|e| Self::corrupt(c, e.to_string()))?;
                self.cur = Some((it, c));
            }
            let Some((it, c)) = self.cur.as_mut() else {
                continue;
            };
            let c: &BucketChunk = c;
            let vt = match it.next().map_err(|e| Self::corrupt(c, e.to_string()))? {
                Some(vt) => vt,
                None => {
                    self.cur = None;
                    continue;
                }
            };
            let t = it.timestamp();
            if t < c.min_time || t > c.max_time {
                return Err(Self::corrupt(
                    c,
                    format!("sample at {t} lies outside the chunk's indexed range"),
                ));
            }
            if t <= self.last_t {
                return Err(Self::corrupt(
                    c,
                    format!(
                        "sample at {t} does not follow the previous one at {}",
                        self.last_t
                    ),
                ));
            }
            self.last_t = t;
            if t < self.mint {
                continue;
            }
            if t > self.maxt {
                self.next_chunk = self.chunks.len();
                self.cur = None;
                return Ok(None);
            }
            let value = match vt {
                ValueType::Float => SampleValue::Float(it.at().1),
                ValueType::Histogram | ValueType::FloatHistogram => {
                    SampleValue::Histogram(Arc::new(it.at_float_histogram().1.clone()))
                }
            };
            return Ok(Some(Sample { t, st: 0, value }));
        }
    }
}

/// Several blocks' samples of one series, merged by timestamp.
struct MergedSamples<'a> {
    parts: Vec<ChunkSamples<'a>>,
    heads: Vec<Option<Sample>>,
    started: bool,
}

impl SampleIterator for MergedSamples<'_> {
    fn next(&mut self) -> Result<Option<Sample>, QuerierError> {
        if !self.started {
            self.started = true;
            for p in &mut self.parts {
                let h = p.next_sample()?;
                self.heads.push(h);
            }
        }
        let Some(t) = self.heads.iter().flatten().map(|s| s.t).min() else {
            return Ok(None);
        };
        let mut out = None;
        for (p, h) in self.parts.iter_mut().zip(&mut self.heads) {
            if h.as_ref().is_some_and(|s| s.t == t) {
                let s = h.take();
                if out.is_none() {
                    out = s;
                }
                *h = p.next_sample()?;
            }
        }
        Ok(out)
    }
}
