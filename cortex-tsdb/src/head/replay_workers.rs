//! Parallel application of replayed float samples. The replay loop reads and decodes
//! the WAL on its own thread and hands each float sample to one of a few worker
//! threads, chosen by series reference, so every series' samples are applied in WAL
//! order by one thread while different series are appended concurrently. Before any
//! record that must see the samples before it (histograms, tombstones, exemplars) the
//! loop waits for the workers to drain ([`FloatAppliers::barrier`]).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use super::series::{AppendCtx, MemSeries};
use crate::Result;

/// Samples sent to a worker at once.
const BATCH: usize = 2048;

type Item = (Arc<MemSeries>, i64, f64);

enum Msg {
    Batch(Vec<Item>),
    Sync(SyncSender<()>),
}

/// What a worker applied.
#[derive(Debug, Clone, Copy)]
pub(super) struct AppliedStats {
    pub samples: u64,
    pub samples_in_chunk_files: u64,
    pub out_of_order: u64,
    pub mint: i64,
    pub maxt: i64,
}

impl Default for AppliedStats {
    fn default() -> Self {
        AppliedStats {
            samples: 0,
            samples_in_chunk_files: 0,
            out_of_order: 0,
            mint: i64::MAX,
            maxt: i64::MIN,
        }
    }
}

/// The worker threads and their pending batches.
pub(super) struct FloatAppliers<'scope> {
    senders: Vec<SyncSender<Msg>>,
    bufs: Vec<Vec<Item>>,
    handles: Vec<ScopedJoinHandle<'scope, Result<AppliedStats>>>,
}

impl<'scope> FloatAppliers<'scope> {
    /// Starts `workers` threads in `scope` appending with `ctx`; samples inside the
    /// out-of-order `window` go to the series' out-of-order buffer.
    pub(super) fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        workers: usize,
        ctx: AppendCtx<'scope>,
        window: i64,
    ) -> FloatAppliers<'scope> {
        let workers = workers.max(1);
        let mut senders = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = sync_channel::<Msg>(4);
            senders.push(tx);
            handles.push(scope.spawn(move || work(rx, ctx, window)));
        }
        FloatAppliers {
            senders,
            bufs: (0..workers).map(|_| Vec::with_capacity(BATCH)).collect(),
            handles,
        }
    }

    /// Queues one sample of `s`.
    #[inline]
    pub(super) fn push(&mut self, s: &Arc<MemSeries>, t: i64, v: f64) {
        let shard = (s.series_ref % self.bufs.len() as u64) as usize;
        let Some(buf) = self.bufs.get_mut(shard) else {
            return;
        };
        buf.push((s.clone(), t, v));
        if buf.len() >= BATCH {
            let batch = std::mem::replace(buf, Vec::with_capacity(BATCH));
            // A worker that failed stopped receiving; its error surfaces in `finish`.
            let _ = self.senders[shard].send(Msg::Batch(batch));
        }
    }

    fn send_pending(&mut self) {
        for (buf, tx) in self.bufs.iter_mut().zip(&self.senders) {
            if !buf.is_empty() {
                let _ = tx.send(Msg::Batch(std::mem::take(buf)));
            }
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
fn work(rx: Receiver<Msg>, ctx: AppendCtx<'_>, window: i64) -> Result<AppliedStats> {
    let mut stats = AppliedStats::default();
    let mut err = None;
    for msg in rx {
        let batch = match msg {
            Msg::Sync(ack) => {
                let _ = ack.send(());
                continue;
            }
            Msg::Batch(b) => b,
        };
        if err.is_some() {
            continue;
        }
        for (s, t, v) in batch {
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
    }
    match err {
        Some(e) => Err(e),
        None => Ok(stats),
    }
}
