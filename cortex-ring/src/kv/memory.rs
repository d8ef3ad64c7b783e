//! An in-process [`Kv`]: a versioned map behind a mutex, with a condition variable that
//! wakes watchers on every commit. It is the default ring store of the single binary
//! and the reference the conformance suite is written against.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;

use super::{CasFn, Kv, KvError, StopSignal};

/// CAS attempts before giving up (Cortex's default for its KV clients).
pub const MAX_CAS_RETRIES: usize = 10;

/// How often a watcher with nothing to report checks its stop signal.
const WATCH_POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Default)]
struct State {
    /// Every key ever written; deleted keys stay as `None` so watchers see the deletion.
    entries: BTreeMap<String, Entry>,
    revision: u64,
}

#[derive(Debug)]
struct Entry {
    value: Option<Bytes>,
    /// The store revision of the last change to this key.
    revision: u64,
}

/// The in-memory KV store. Share it as `Arc<InMemoryKv>` (or `Arc<dyn Kv>`).
#[derive(Debug, Default)]
pub struct InMemoryKv {
    state: Mutex<State>,
    changed: Condvar,
}

impl InMemoryKv {
    /// An empty store.
    pub fn new() -> InMemoryKv {
        InMemoryKv::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value and revision of `key` (revision 0 when never written).
    fn read(&self, key: &str) -> (Option<Bytes>, u64) {
        let state = self.lock();
        state
            .entries
            .get(key)
            .map_or((None, 0), |e| (e.value.clone(), e.revision))
    }

    fn commit(&self, state: &mut State, key: &str, value: Option<Bytes>) {
        state.revision += 1;
        let revision = state.revision;
        state
            .entries
            .insert(key.to_string(), Entry { value, revision });
        self.changed.notify_all();
    }
}

impl Kv for InMemoryKv {
    fn get(&self, key: &str) -> Result<Option<Bytes>, KvError> {
        Ok(self.read(key).0)
    }

    fn cas(&self, key: &str, f: &mut CasFn<'_>) -> Result<(), KvError> {
        for _ in 0..MAX_CAS_RETRIES {
            let (current, revision) = self.read(key);
            // The callback runs without the lock, like a remote client's would.
            let new = match f(current) {
                Ok(Some(v)) => v,
                Ok(None) => return Ok(()),
                Err(e) if e.retry => continue,
                Err(e) => return Err(KvError::Aborted(e.reason)),
            };
            let mut state = self.lock();
            let now = state.entries.get(key).map_or(0, |e| e.revision);
            if now == revision {
                self.commit(&mut state, key, Some(new));
                return Ok(());
            }
        }
        Err(KvError::CasFailed {
            key: key.to_string(),
        })
    }

    fn delete(&self, key: &str) -> Result<(), KvError> {
        let mut state = self.lock();
        if state.entries.get(key).is_some_and(|e| e.value.is_some()) {
            self.commit(&mut state, key, None);
        }
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        let state = self.lock();
        Ok(state
            .entries
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, e)| e.value.is_some())
            .map(|(k, _)| k.clone())
            .collect())
    }

    fn watch_key(&self, key: &str, stop: &StopSignal, f: &mut dyn FnMut(Option<Bytes>) -> bool) {
        let (value, mut seen) = self.read(key);
        if !f(value) {
            return;
        }
        loop {
            let value = {
                let mut state = self.lock();
                loop {
                    if stop.is_stopped() {
                        return;
                    }
                    match state.entries.get(key) {
                        Some(e) if e.revision != seen => {
                            seen = e.revision;
                            break e.value.clone();
                        }
                        _ => {}
                    }
                    state = self
                        .changed
                        .wait_timeout(state, WATCH_POLL)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            };
            if !f(value) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_kv_passes_the_conformance_suite() {
        crate::kv::testing::kv_conformance(&InMemoryKv::new());
    }
}
