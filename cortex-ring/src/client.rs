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
    pub fn start(kv: Arc<dyn Kv>, key: &str, cfg: RingConfig) -> Result<RingClient, RingClientError> {
        cfg.validate().map_err(RingError::from)?;
        let initial = get_desc(&*kv, key)?.unwrap_or_default();
        let current = Arc::new(ArcSwap::from_pointee(Ring::new(initial, &cfg)?));
        let decode_errors = Arc::new(AtomicU64::new(0));
        let stop = StopSignal::new();
        let thread = {
            let (current, decode_errors, stop, key) =
                (Arc::clone(&current), Arc::clone(&decode_errors), stop.clone(), key.to_string());
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
        Ok(RingClient { current, decode_errors, stop, thread: Some(thread) })
    }

    /// The latest snapshot.
    pub fn ring(&self) -> Arc<Ring> {
        self.current.load_full()
    }

    /// [`Ring::get`] on the latest snapshot.
    pub fn get(&self, key: u32, op: Operation, buf: &mut GetBuffers) -> Result<ReplicationSet, RingError> {
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
