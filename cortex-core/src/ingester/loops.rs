//! The ingester's background work as tokio tasks on a runtime the caller provides:
//! head compaction and local retention every `head_compaction_interval` (on the
//! blocking pool, since the TSDB does blocking I/O), shipping every `ship_interval`
//! (object stores are async) and rewriting bucket indexes that went stale without a
//! ship, idle-TSDB closing, ingestion-rate ticks, and housekeeping
//! (metadata retention, active series, gauges) every
//! `active_series_metrics_update_period`. Tasks hold a weak reference to the ingester
//! and stop when told to or when it is gone.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Ingester;

/// How often idle TSDBs are looked for, at most (Cortex's default).
const CLOSE_IDLE_TSDB_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The running background tasks.
pub(crate) struct Loops {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Loops {
    /// Starts every loop the configuration asks for.
    pub(crate) fn spawn(ing: &Arc<Ingester>, handle: &Handle) -> Loops {
        let (stop, _) = watch::channel(false);
        let cfg = ing.tsdb_config().clone();
        let mut tasks = Vec::new();
        let weak = Arc::downgrade(ing);
        tasks.push(every(
            handle,
            &stop,
            &weak,
            cfg.head_compaction_interval.0,
            |ing| {
                Box::pin(async move {
                    let _ = tokio::task::spawn_blocking(move || ing.compact_all(false)).await;
                })
            },
        ));
        if cfg.shipping_enabled() {
            tasks.push(every(handle, &stop, &weak, cfg.ship_interval.0, |ing| {
                Box::pin(async move {
                    let _ = ing.ship().await;
                })
            }));
            let period = super::bucket_index::STALE_INDEX_CHECK;
            tasks.push(every(handle, &stop, &weak, period, |ing| {
                Box::pin(async move {
                    ing.refresh_stale_bucket_indexes().await;
                })
            }));
        }
        if cfg.shipping_enabled() && !cfg.close_idle_tsdb_timeout.is_zero() {
            let period = CLOSE_IDLE_TSDB_INTERVAL.min(cfg.close_idle_tsdb_timeout.0);
            tasks.push(every(handle, &stop, &weak, period, |ing| {
                Box::pin(async move {
                    let _ = tokio::task::spawn_blocking(move || ing.close_idle()).await;
                })
            }));
        }
        tasks.push(every(
            handle,
            &stop,
            &weak,
            super::rate::RATE_UPDATE_PERIOD,
            |ing| {
                Box::pin(async move {
                    ing.tick_rates();
                })
            },
        ));
        let period = ing.config().active_series_metrics_update_period.0;
        if !period.is_zero() {
            tasks.push(every(handle, &stop, &weak, period, |ing| {
                Box::pin(async move {
                    ing.housekeeping();
                })
            }));
        }
        Loops { stop, tasks }
    }

    /// Stops the loops and waits for the work in progress.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

type Step = fn(Arc<Ingester>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

fn every(
    handle: &Handle,
    stop: &watch::Sender<bool>,
    ing: &Weak<Ingester>,
    period: Duration,
    step: Step,
) -> JoinHandle<()> {
    let mut stopped = stop.subscribe();
    let ing = ing.clone();
    let period = period.max(Duration::from_millis(10));
    handle.spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => break,
            }
            let Some(ing) = ing.upgrade() else { break };
            step(ing).await;
        }
    })
}
