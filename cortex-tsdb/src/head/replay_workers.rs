//! Parallel application of replayed float samples. The replay loop reads and decodes
//! the WAL on its own thread and hands each float sample to one of a few worker
//! threads, chosen by series reference, so every series' samples are applied in WAL
//! order by one thread while different series are appended concurrently. Before any
//! record that must see the samples before it (histograms, tombstones, exemplars) the
//! loop waits for the workers to drain ([`FloatAppliers::barrier`]).
//!
//! The loop passes samples on by reference number alone: each worker keeps its own map
//! from reference to series, fed with every new series before any sample that could
//! name it. Looking series up, with the cache misses that costs at a million series,
//! thus happens on the workers, in parallel, and the loop touches no series memory per
//! sample.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use rustc_hash::FxHashMap;

use super::series::{AppendCtx, MemSeries};
use crate::Result;

/// Samples sent to a worker at once.
const BATCH: usize = 2048;

/// Batches queued for a worker before the loop waits. The queue is deep so that neither
/// side sleeps often: on two cores, the three threads otherwise spent a third of the time
/// waiting for each other to be woken.
const QUEUE: usize = 64;

/// A sample: series reference, timestamp, value.
type Item = (u64, i64, f64);

enum Msg {
    /// Series the following samples may name, by reference.
    Series(Vec<(u64, Arc<MemSeries>)>),
    Batch(Vec<Item>),
    Sync(SyncSender<()>),
}

/// What a worker applied.
#[derive(Debug, Clone, Copy)]
pub(super) struct AppliedStats {
    pub samples: u64,
    pub samples_in_chunk_files: u64,
    pub out_of_order: u64,
    pub unknown_series_refs: u64,
    pub samples_before_head: u64,
    pub mint: i64,
    pub maxt: i64,
}

impl Default for AppliedStats {
    fn default() -> Self {
        AppliedStats {
            samples: 0,
            samples_in_chunk_files: 0,
            out_of_order: 0,
            unknown_series_refs: 0,
            samples_before_head: 0,
            mint: i64::MAX,
            maxt: i64::MIN,
        }
    }
}

/// The worker threads and their pending batches.
pub(super) struct FloatAppliers<'scope> {
    senders: Vec<SyncSender<Msg>>,
    bufs: Vec<Vec<Item>>,
    /// New series not yet sent, per worker.
    series: Vec<Vec<(u64, Arc<MemSeries>)>>,
    /// Batch buffers the workers are done with, for reuse: fresh ones would each cost
    /// page faults, as the allocator hands memory freed on another thread back late.
    spent: Receiver<Vec<Item>>,
    handles: Vec<ScopedJoinHandle<'scope, Result<AppliedStats>>>,
}

impl<'scope> FloatAppliers<'scope> {
    /// Starts `workers` threads in `scope` appending with `ctx`; samples inside the
    /// out-of-order `window` go to the series' out-of-order buffer, samples before
    /// `min_valid` are skipped.
    pub(super) fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        workers: usize,
        ctx: AppendCtx<'scope>,
        window: i64,
        min_valid: i64,
    ) -> FloatAppliers<'scope> {
        let workers = workers.max(1);
        let mut senders = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        let (spent_tx, spent) = sync_channel::<Vec<Item>>((QUEUE + 2) * workers);
        for _ in 0..workers {
            let (tx, rx) = sync_channel::<Msg>(QUEUE);
            senders.push(tx);
            let spent_tx = spent_tx.clone();
            handles.push(scope.spawn(move || work(rx, spent_tx, ctx, window, min_valid)));
        }
        FloatAppliers {
            senders,
            bufs: (0..workers).map(|_| Vec::with_capacity(BATCH)).collect(),
            series: (0..workers).map(|_| Vec::new()).collect(),
            spent,
            handles,
        }
    }

    /// Makes `s` known under `series_ref` to the worker that applies its samples, ahead
    /// of any sample queued after this call.
    pub(super) fn add_series(&mut self, series_ref: u64, s: Arc<MemSeries>) {
        let shard = (series_ref % self.bufs.len() as u64) as usize;
        if let Some(pending) = self.series.get_mut(shard) {
            pending.push((series_ref, s));
        }
    }

    /// Queues one sample of the series with reference `series_ref`.
    #[inline]
    pub(super) fn push(&mut self, series_ref: u64, t: i64, v: f64) {
        let shard = (series_ref % self.bufs.len() as u64) as usize;
        let Some(buf) = self.bufs.get_mut(shard) else {
            return;
        };
        buf.push((series_ref, t, v));
        if buf.len() >= BATCH {
            self.send(shard);
        }
    }

    /// Sends worker `shard` its pending series, then its pending samples.
    #[cold]
    fn send(&mut self, shard: usize) {
        let (Some(series), Some(buf), Some(tx)) = (
            self.series.get_mut(shard),
            self.bufs.get_mut(shard),
            self.senders.get(shard),
        ) else {
            return;
        };
        // A worker that failed stopped receiving; its error surfaces in `finish`.
        if !series.is_empty() {
            let _ = tx.send(Msg::Series(std::mem::take(series)));
        }
        if !buf.is_empty() {
            let fresh = self
                .spent
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(BATCH));
            let batch = std::mem::replace(buf, fresh);
            let _ = tx.send(Msg::Batch(batch));
        }
    }

    fn send_pending(&mut self) {
        for shard in 0..self.bufs.len() {
            self.send(shard);
        }
    }

    /// Returns once every sample queued so far is applied.
    pub(super) fn barrier(&mut self) {
        self.send_pending();
        let acks: Vec<Receiver<()>> = self
            .senders
            .iter()
            .map(|tx| {
                let (ack_tx, ack_rx) = sync_channel(1);
                let _ = tx.send(Msg::Sync(ack_tx));
                ack_rx
            })
            .collect();
        for ack in acks {
            let _ = ack.recv();
        }
    }

    /// Applies what is left, stops the workers and sums what they applied; the first
    /// worker error, if any.
    pub(super) fn finish(mut self) -> Result<AppliedStats> {
        self.send_pending();
        self.senders.clear();
        let mut total = AppliedStats::default();
        let mut first_err = None;
        for h in self.handles {
            match h.join() {
                Ok(Ok(s)) => {
                    total.samples += s.samples;
                    total.samples_in_chunk_files += s.samples_in_chunk_files;
                    total.out_of_order += s.out_of_order;
                    total.unknown_series_refs += s.unknown_series_refs;
                    total.samples_before_head += s.samples_before_head;
                    total.mint = total.mint.min(s.mint);
                    total.maxt = total.maxt.max(s.maxt);
                }
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(total),
        }
    }
}

/// A worker: applies batches in order until the channel closes. After an error it only
/// acknowledges barriers, so the reader never blocks on it.
fn work(
    rx: Receiver<Msg>,
    spent: SyncSender<Vec<Item>>,
    ctx: AppendCtx<'_>,
    window: i64,
    min_valid: i64,
) -> Result<AppliedStats> {
    let mut stats = AppliedStats::default();
    let mut by_ref: FxHashMap<u64, Arc<MemSeries>> = FxHashMap::default();
    let mut err = None;
    for msg in rx {
        let mut batch = match msg {
            Msg::Sync(ack) => {
                let _ = ack.send(());
                continue;
            }
            Msg::Series(series) => {
                by_ref.extend(series);
                continue;
            }
            Msg::Batch(b) => b,
        };
        if err.is_some() {
            continue;
        }
        for &(series_ref, t, v) in &batch {
            let Some(s) = by_ref.get(&series_ref) else {
                stats.unknown_series_refs += 1;
                continue;
            };
            if t < min_valid {
                stats.samples_before_head += 1;
                continue;
            }
            let mut st = s.lock();
            if st.mmapped.last().is_some_and(|c| t <= c.max_time) {
                stats.samples_in_chunk_files += 1;
                continue;
            }
            match st.check_float(t, v) {
                Ok(true) => continue,
                Ok(false) => {
                    if let Err(e) = st.append_float(s.series_ref, t, v, ctx) {
                        err = Some(e);
                        break;
                    }
                }
                Err(_) if window > 0 && t >= st.max_time - window => {
                    let _ = st.insert_ooo(t, v);
                }
                Err(_) => {
                    stats.out_of_order += 1;
                    continue;
                }
            }
            stats.samples += 1;
            stats.mint = stats.mint.min(t);
            stats.maxt = stats.maxt.max(t);
        }
        batch.clear();
        // When the reader has enough spare buffers, this one is dropped.
        let _ = spent.try_send(batch);
    }
    match err {
        Some(e) => Err(e),
        None => Ok(stats),
    }
}
