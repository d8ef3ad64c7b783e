//! The ring client used by distributors and queriers: watches the ring key in a [`Kv`]
//! on its own thread and publishes an up-to-date [`Ring`] snapshot that lookups read
//! without locking.
//!
//! A value that fails to decode leaves the previous snapshot in place and is counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use arc_swap::ArcSwap;

use crate::config::RingConfig;
use crate::desc::{Desc, Operation};
use crate::kv::{Kv, StopSignal, get_desc};
use crate::replication::ReplicationSet;
use crate::ring::{GetBuffers, Ring, RingError};

/// Why the client could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingClientError {
    /// The ring configuration is invalid.
    #[error(transparent)]
    Ring(#[from] RingError),
    /// The first read of the ring failed (Cortex's message).
    #[error("unable to initialise ring state: {0}")]
    Init(#[from] crate::kv::KvError),
    /// The watch thread could not be started.
    #[error("starting the ring watch thread: {0}")]
    Spawn(String),
}

/// Keeps a [`Ring`] in step with the KV. Dropping it stops the watch.
pub struct RingClient {
    current: Arc<ArcSwap<Ring>>,
    decode_errors: Arc<AtomicU64>,
    stop: StopSignal,
    thread: Option<JoinHandle<()>>,
}

impl RingClient {
    /// Reads the ring under `key` once (so the first snapshot is current when this
    /// returns), then follows every change on a background thread.
    pub fn start(
        kv: Arc<dyn Kv>,
        key: &str,
        cfg: RingConfig,
    ) -> Result<RingClient, RingClientError> {
        cfg.validate().map_err(RingError::from)?;
        let initial = get_desc(&*kv, key)?.unwrap_or_default();
        let current = Arc::new(ArcSwap::from_pointee(Ring::new(initial, &cfg)?));
        let decode_errors = Arc::new(AtomicU64::new(0));
        let stop = StopSignal::new();
        let thread = {
            let (current, decode_errors, stop, key) = (
                Arc::clone(&current),
                Arc::clone(&decode_errors),
                stop.clone(),
                key.to_string(),
            );
            std::thread::Builder::new()
                .name("ring-client".to_string())
                .spawn(move || {
                    kv.watch_key(&key, &stop, &mut |value| {
                        let desc = match value.map(|b| Desc::decode(&b)).transpose() {
                            Ok(d) => d.unwrap_or_default(),
                            Err(_) => {
                                decode_errors.fetch_add(1, Ordering::Relaxed);
                                return true;
                            }
                        };
                        // The config was validated, so building the ring cannot fail.
                        if let Ok(ring) = Ring::new(desc, &cfg) {
                            current.store(Arc::new(ring));
                        }
                        true
                    });
                })
                .map_err(|e| RingClientError::Spawn(e.to_string()))?
        };
        Ok(RingClient {
            current,
            decode_errors,
            stop,
            thread: Some(thread),
        })
    }

    /// The latest snapshot.
    pub fn ring(&self) -> Arc<Ring> {
        self.current.load_full()
    }

    /// [`Ring::get`] on the latest snapshot.
    pub fn get(
        &self,
        key: u32,
        op: Operation,
        buf: &mut GetBuffers,
    ) -> Result<ReplicationSet, RingError> {
        self.current.load().get(key, op, buf)
    }

    /// Ring values seen in the KV that could not be decoded.
    pub fn decode_errors(&self) -> u64 {
        self.decode_errors.load(Ordering::Relaxed)
    }
}

impl Drop for RingClient {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LifecyclerConfig;
    use crate::kv::memory::InMemoryKv;
    use crate::lifecycler::Lifecycler;
    use crate::tokens::TokenGenerator;
    use bytes::Bytes;
    use cortex_core::limits::Duration as CfgDuration;
    use std::time::{Duration, Instant};

    const KEY: &str = "collectors/ring";

    fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn ingester(kv: &Arc<InMemoryKv>, i: u64) -> Lifecycler {
        let cfg = LifecyclerConfig {
            id: format!("ing-{i}"),
            address: format!("10.0.0.{i}"),
            port: 9095,
            heartbeat_period: CfgDuration::from_millis(20),
            final_sleep: CfgDuration::ZERO,
            ..Default::default()
        };
        Lifecycler::start_with_generator(cfg, kv.clone(), KEY, TokenGenerator::with_seed(i))
            .unwrap()
    }

    fn active(client: &RingClient) -> usize {
        let ring = client.ring();
        ring.desc()
            .ingesters
            .values()
            .filter(|i| i.state == crate::InstanceState::ACTIVE)
            .count()
    }

    #[test]
    fn distributor_view_follows_ingesters_joining_and_leaving() {
        let kv = Arc::new(InMemoryKv::new());
        let client = RingClient::start(kv.clone(), KEY, RingConfig::default()).unwrap();
        let mut buf = GetBuffers::default();
        assert_eq!(
            client.get(42, Operation::WRITE, &mut buf),
            Err(RingError::EmptyRing)
        );
        let mut ingesters: Vec<_> = (1..=3).map(|i| ingester(&kv, i)).collect();
        wait_for("3 ACTIVE ingesters", || active(&client) == 3);
        let rs = client.get(42, Operation::WRITE, &mut buf).unwrap();
        assert_eq!((rs.instances.len(), rs.max_errors), (3, 1));
        assert!(rs.includes("10.0.0.2:9095"));
        ingesters.pop().unwrap().leave().unwrap();
        wait_for("2 instances", || client.ring().instances_count() == 2);
        let rs = client.get(42, Operation::WRITE, &mut buf).unwrap();
        assert_eq!((rs.instances.len(), rs.max_errors), (2, 0));
        for l in ingesters {
            l.leave().unwrap();
        }
        wait_for("empty ring", || client.ring().instances_count() == 0);
    }

    #[test]
    fn undecodable_values_keep_the_last_good_ring() {
        let kv = Arc::new(InMemoryKv::new());
        let l = ingester(&kv, 1);
        let client = RingClient::start(kv.clone(), KEY, RingConfig::default()).unwrap();
        assert_eq!(
            client.ring().instances_count(),
            1,
            "the first snapshot is read at start"
        );
        kv.cas(KEY, &mut |_| Ok(Some(Bytes::from_static(b"not json"))))
            .unwrap();
        wait_for("a decode error", || client.decode_errors() == 1);
        assert_eq!(client.ring().instances_count(), 1);
        drop(l);
    }

    #[test]
    fn invalid_config_is_refused() {
        let kv: Arc<dyn Kv> = Arc::new(InMemoryKv::new());
        let cfg = RingConfig {
            replication_factor: 0,
            ..Default::default()
        };
        assert!(matches!(
            RingClient::start(kv, KEY, cfg),
            Err(RingClientError::Ring(RingError::Config(_)))
        ));
    }
}
