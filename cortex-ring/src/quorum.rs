//! Quorum accounting for calls fanned out to a replication set.
//!
//! [`ReplicationSet::do_until_quorum`] calls every instance of one set concurrently and
//! finishes as soon as enough succeeded (all but `max_errors`, or every instance of all
//! but `max_unavailable_zones` zones) or too many failed (Cortex's `ReplicationSet.Do`
//! with its result trackers). Per-series accounting of batched writes (Cortex's
//! `DoBatch`) lives with the distributor (`cortex_core::distributor`).
//!
//! It spawns nothing: the caller's futures run inside the returned future, so any
//! executor (or none, for synchronous closures) works.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use crate::replication::{ReplicationSet, RingInstance};

/// Success and failure counting for one whole replication set.
#[derive(Debug)]
enum SetTracker {
    /// All but `max_errors` instances must succeed.
    Instances {
        min_success: usize,
        max_errors: usize,
        succeeded: usize,
        failed: usize,
    },
    /// Every instance of all but `max_unavailable_zones` zones must succeed.
    Zones {
        /// Per zone: instances not answered yet, and failures.
        zones: BTreeMap<String, (usize, usize)>,
        max_unavailable_zones: usize,
    },
}

impl SetTracker {
    fn new(set: &ReplicationSet) -> SetTracker {
        if set.max_unavailable_zones > 0 {
            let mut zones = BTreeMap::new();
            for i in &set.instances {
                zones.entry(i.desc.zone.clone()).or_insert((0, 0)).0 += 1;
            }
            SetTracker::Zones {
                zones,
                max_unavailable_zones: set.max_unavailable_zones,
            }
        } else {
            SetTracker::Instances {
                min_success: set.instances.len().saturating_sub(set.max_errors),
                max_errors: set.max_errors,
                succeeded: 0,
                failed: 0,
            }
        }
    }

    fn record(&mut self, zone: &str, ok: bool) {
        match self {
            SetTracker::Instances {
                succeeded, failed, ..
            } => *(if ok { succeeded } else { failed }) += 1,
            SetTracker::Zones { zones, .. } => {
                if let Some((waiting, failures)) = zones.get_mut(zone) {
                    *waiting = waiting.saturating_sub(1);
                    if !ok {
                        *failures += 1;
                    }
                }
            }
        }
    }

    fn succeeded(&self) -> bool {
        match self {
            SetTracker::Instances {
                min_success,
                succeeded,
                ..
            } => succeeded >= min_success,
            SetTracker::Zones {
                zones,
                max_unavailable_zones,
            } => {
                let done = zones.values().filter(|(w, f)| *w == 0 && *f == 0).count();
                done >= zones.len().saturating_sub(*max_unavailable_zones)
            }
        }
    }

    fn failed(&self) -> bool {
        match self {
            SetTracker::Instances {
                max_errors, failed, ..
            } => failed > max_errors,
            SetTracker::Zones {
                zones,
                max_unavailable_zones,
            } => zones.values().filter(|(_, f)| *f > 0).count() > *max_unavailable_zones,
        }
    }
}

impl ReplicationSet {
    /// Calls `f` for every instance concurrently and returns the successful results once
    /// a quorum succeeded: all but `max_errors` instances, or (when
    /// `max_unavailable_zones` is set) every instance in all but that many zones. Returns
    /// the error that made the quorum impossible as soon as it happens. Calls still
    /// running when the answer is known are dropped (cancelled).
    pub async fn do_until_quorum<T, E, F, Fut>(&self, mut f: F) -> Result<Vec<T>, E>
    where
        F: FnMut(Arc<RingInstance>) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut tracker = SetTracker::new(self);
        let mut results = Vec::with_capacity(self.instances.len());
        if tracker.succeeded() {
            return Ok(results);
        }
        let mut calls: Vec<Option<(usize, Pin<Box<Fut>>)>> = self
            .instances
            .iter()
            .enumerate()
            .map(|(i, inst)| Some((i, Box::pin(f(Arc::clone(inst))))))
            .collect();
        std::future::poll_fn(move |cx| {
            for slot in calls.iter_mut() {
                let Some((idx, call)) = slot else { continue };
                let Poll::Ready(result) = call.as_mut().poll(cx) else {
                    continue;
                };
                let zone = self
                    .instances
                    .get(*idx)
                    .map_or("", |i| i.desc.zone.as_str());
                *slot = None;
                match result {
                    Ok(v) => {
                        tracker.record(zone, true);
                        results.push(v);
                        if tracker.succeeded() {
                            return Poll::Ready(Ok(std::mem::take(&mut results)));
                        }
                    }
                    Err(e) => {
                        tracker.record(zone, false);
                        if tracker.failed() {
                            return Poll::Ready(Err(e));
                        }
                    }
                }
            }
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desc::InstanceDesc;
    use std::task::{Context, Waker};

    fn set(zones: &[&str], max_errors: usize, max_unavailable_zones: usize) -> ReplicationSet {
        let instances = zones
            .iter()
            .enumerate()
            .map(|(i, z)| {
                Arc::new(RingInstance {
                    id: format!("i{i}"),
                    desc: InstanceDesc {
                        addr: format!("i{i}:9095"),
                        zone: z.to_string(),
                        ..Default::default()
                    },
                })
            })
            .collect();
        ReplicationSet {
            instances,
            max_errors,
            max_unavailable_zones,
        }
    }

    /// Runs a future whose calls are all immediately ready.
    fn run<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("future not ready"),
        }
    }

    /// Answers by instance ID: `Ok(id)` unless the ID is in `failing`.
    fn answer(
        failing: &'static [&'static str],
    ) -> impl FnMut(Arc<RingInstance>) -> std::future::Ready<Result<String, String>> {
        move |i| {
            std::future::ready(if failing.contains(&i.id.as_str()) {
                Err(format!("{} down", i.id))
            } else {
                Ok(i.id.clone())
            })
        }
    }

    #[test]
    fn instance_quorum_returns_after_enough_successes() {
        let rs = set(&["", "", ""], 1, 0);
        assert_eq!(
            run(rs.do_until_quorum(answer(&[]))),
            Ok(vec!["i0".into(), "i1".into()])
        );
        assert_eq!(
            run(rs.do_until_quorum(answer(&["i0"]))),
            Ok(vec!["i1".into(), "i2".into()])
        );
        assert_eq!(
            run(rs.do_until_quorum(answer(&["i0", "i2"]))),
            Err("i2 down".to_string())
        );
        let empty = set(&[], 0, 0);
        assert_eq!(run(empty.do_until_quorum(answer(&[]))), Ok(vec![]));
    }

    #[test]
    fn zone_quorum_needs_whole_zones() {
        let rs = set(&["a", "a", "b", "b", "c", "c"], 0, 1);
        // Zone a fails once: b and c must answer completely.
        let got = run(rs.do_until_quorum(answer(&["i0"]))).unwrap();
        assert_eq!(got, ["i1", "i2", "i3", "i4", "i5"]);
        // Without failures two whole zones are enough: the call stops after zone b.
        let got = run(rs.do_until_quorum(answer(&[]))).unwrap();
        assert_eq!(got, ["i0", "i1", "i2", "i3"]);
        // Failures in two zones exceed the one tolerated.
        assert_eq!(
            run(rs.do_until_quorum(answer(&["i1", "i3"]))),
            Err("i3 down".to_string())
        );
    }

    #[test]
    fn pending_calls_keep_the_quorum_open() {
        let rs = set(&["", "", ""], 1, 0);
        let mut polled_once = false;
        let fut = rs.do_until_quorum(|i| {
            let slow = i.id == "i0";
            async move {
                if slow {
                    std::future::pending::<()>().await;
                }
                Ok::<_, String>(i.id.clone())
            }
        });
        let mut fut = std::pin::pin!(fut);
        if let Poll::Ready(v) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            polled_once = true;
            assert_eq!(v, Ok(vec!["i1".to_string(), "i2".to_string()]));
        }
        assert!(
            polled_once,
            "two of three answered: quorum without the slow one"
        );
    }
}
