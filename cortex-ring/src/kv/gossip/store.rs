//! One member's replica of the store: every key with its version, writer and value
//! (deleted keys kept as tombstones for a while), the merge of entries received from
//! peers, local CAS and delete, and watches. No networking here.
//!
//! Keys without a merge rule are last-writer-wins: the entry with the greater
//! `(version, writer)` wins and a local write takes the stored version plus one. Keys
//! with a rule use `version` as a deletion epoch: a greater epoch wins outright, at
//! equal epochs a value beats a deletion and two values are merged by the rule; a local
//! delete starts a new epoch, a local write keeps the epoch.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use super::merge::{Merge, MergeRegistry};
use super::wire::WireEntry;
use crate::kv::memory::MAX_CAS_RETRIES;
use crate::kv::{CasFn, KvError, StopSignal};

/// How often a watcher with nothing to report checks its stop signal.
const WATCH_POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone)]
struct Entry {
    version: u64,
    writer: String,
    value: Option<Bytes>,
    /// Local revision of the last change, for CAS checks and watchers.
    rev: u64,
    /// When the key was deleted here (tombstones are dropped after a timeout).
    deleted_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    entries: BTreeMap<String, Entry>,
    rev: u64,
}

/// The replica of one member.
#[derive(Debug)]
pub(crate) struct Store {
    node: String,
    rules: MergeRegistry,
    state: Mutex<State>,
    changed: Condvar,
    /// Serialises local CAS operations.
    cas_lock: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Store {
    /// An empty replica for member `node`.
    pub(crate) fn new(node: String, rules: MergeRegistry) -> Store {
        Store {
            node,
            rules,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            cas_lock: Mutex::new(()),
        }
    }

    fn view(&self, key: &str, value: &Option<Bytes>) -> Option<Bytes> {
        let v = value.as_ref()?;
        Some(match self.rules.rule_for(key) {
            Some(rule) => rule.view(v),
            None => v.clone(),
        })
    }

    /// What readers see of `key` and the local revision it has.
    fn read(&self, key: &str) -> (Option<Bytes>, u64) {
        let state = lock(&self.state);
        match state.entries.get(key) {
            Some(e) => (self.view(key, &e.value), e.rev),
            None => (None, 0),
        }
    }

    fn commit(&self, state: &mut State, key: &str, mut entry: Entry) -> WireEntry {
        state.rev += 1;
        entry.rev = state.rev;
        let wire = WireEntry {
            key: key.to_string(),
            version: entry.version,
            writer: entry.writer.clone(),
            value: entry.value.clone(),
        };
        state.entries.insert(key.to_string(), entry);
        self.changed.notify_all();
        wire
    }

    /// The value of `key` as readers see it.
    pub(crate) fn get(&self, key: &str) -> Option<Bytes> {
        self.read(key).0
    }

    /// A local compare-and-swap; returns the entry to gossip when something changed.
    pub(crate) fn cas(&self, key: &str, f: &mut CasFn<'_>) -> Result<Option<WireEntry>, KvError> {
        let _serial = lock(&self.cas_lock);
        for _ in 0..MAX_CAS_RETRIES {
            let (current, seen) = self.read(key);
            let new = match f(current) {
                Ok(Some(v)) => v,
                Ok(None) => return Ok(None),
                Err(e) if e.retry => continue,
                Err(e) => return Err(KvError::Aborted(e.reason)),
            };
            let mut state = lock(&self.state);
            let stored = state.entries.get(key);
            if stored.map_or(0, |e| e.rev) != seen {
                // A peer's change was merged while the callback ran.
                continue;
            }
            let entry = match (self.rules.rule_for(key), stored) {
                (Some(rule), stored) => {
                    let current = stored.and_then(|e| e.value.as_deref());
                    let value =
                        rule.apply_local(current, &new, SystemTime::now())
                            .map_err(|reason| KvError::Decode {
                                key: key.to_string(),
                                reason,
                            })?;
                    Entry {
                        version: stored.map_or(0, |e| e.version),
                        // Writers of a merged value only need to agree: take the max.
                        writer: stored
                            .map_or(self.node.as_str(), |e| e.writer.as_str())
                            .max(self.node.as_str())
                            .to_string(),
                        value: Some(value),
                        rev: 0,
                        deleted_at: None,
                    }
                }
                (None, stored) => Entry {
                    version: stored.map_or(0, |e| e.version).saturating_add(1),
                    writer: self.node.clone(),
                    value: Some(new),
                    rev: 0,
                    deleted_at: None,
                },
            };
            return Ok(Some(self.commit(&mut state, key, entry)));
        }
        Err(KvError::CasFailed {
            key: key.to_string(),
        })
    }

    /// Deletes `key` locally; returns the tombstone to gossip when it existed.
    pub(crate) fn delete(&self, key: &str) -> Option<WireEntry> {
        let _serial = lock(&self.cas_lock);
        let mut state = lock(&self.state);
        let stored = state.entries.get(key).filter(|e| e.value.is_some())?;
        let entry = Entry {
            version: stored.version.saturating_add(1),
            writer: self.node.clone(),
            value: None,
            rev: 0,
            deleted_at: Some(Instant::now()),
        };
        Some(self.commit(&mut state, key, entry))
    }

    /// The keys with a value starting with `prefix`, sorted.
    pub(crate) fn list(&self, prefix: &str) -> Vec<String> {
        let state = lock(&self.state);
        state
            .entries
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, e)| e.value.is_some())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Every entry, tombstones included (what a push-pull sends).
    pub(crate) fn snapshot(&self) -> Vec<WireEntry> {
        let state = lock(&self.state);
        state
            .entries
            .iter()
            .map(|(k, e)| WireEntry {
                key: k.clone(),
                version: e.version,
                writer: e.writer.clone(),
                value: e.value.clone(),
            })
            .collect()
    }

    /// Merges entries from a peer; returns those that changed here, as now stored,
    /// and how many were refused because the key's rule could not decode them.
    pub(crate) fn merge_remote(&self, incoming: Vec<WireEntry>) -> (Vec<WireEntry>, usize) {
        let mut state = lock(&self.state);
        let mut changed = Vec::new();
        let mut invalid = 0;
        for e in incoming {
            let key = e.key.clone();
            let rule = self.rules.rule_for(&key);
            let next = match (state.entries.get(&key), rule) {
                (None, None) => Ok(Some(Resolved::from(e))),
                (None, Some(rule)) => take(rule.as_ref(), e),
                (Some(cur), None) => Ok(lww(cur, e)),
                (Some(cur), Some(rule)) => merge_epochs(rule.as_ref(), cur, e),
            };
            let next = match next {
                Ok(Some(n)) => n,
                Ok(None) => continue,
                Err(_) => {
                    invalid += 1;
                    continue;
                }
            };
            if state.entries.get(&key).is_some_and(|cur| next.same_as(cur)) {
                continue;
            }
            let entry = Entry {
                deleted_at: next.value.is_none().then(Instant::now),
                version: next.version,
                writer: next.writer,
                value: next.value,
                rev: 0,
            };
            changed.push(self.commit(&mut state, &key, entry));
        }
        (changed, invalid)
    }

    /// Drops deletions older than `tombstone_timeout` and lets merge rules drop their
    /// expired tombstones.
    pub(crate) fn compact(&self, tombstone_timeout: Duration) {
        let mut state = lock(&self.state);
        let now = Instant::now();
        state.entries.retain(|_, e| {
            e.deleted_at
                .is_none_or(|at| now.saturating_duration_since(at) < tombstone_timeout)
        });
        let wall = SystemTime::now();
        let updates: Vec<(String, Entry)> = state
            .entries
            .iter()
            .filter_map(|(k, e)| {
                let rule = self.rules.rule_for(k)?;
                let value = rule.compact(e.value.as_deref()?, wall)?;
                Some((
                    k.clone(),
                    Entry {
                        value: Some(value),
                        ..e.clone()
                    },
                ))
            })
            .collect();
        for (k, e) in updates {
            self.commit(&mut state, &k, e);
        }
    }

    /// [`crate::kv::Kv::watch_key`] on this replica: delivers what readers see, skipping
    /// changes readers cannot see (such as tombstones coming and going).
    pub(crate) fn watch_key(
        &self,
        key: &str,
        stop: &StopSignal,
        f: &mut dyn FnMut(Option<Bytes>) -> bool,
    ) {
        let (mut last, mut seen) = self.read(key);
        if !f(last.clone()) {
            return;
        }
        loop {
            let value = {
                let mut state = lock(&self.state);
                loop {
                    if stop.is_stopped() {
                        return;
                    }
                    if let Some(e) = state.entries.get(key)
                        && e.rev != seen
                    {
                        seen = e.rev;
                        let v = self.view(key, &e.value);
                        if v != last {
                            break v;
                        }
                    }
                    state = self
                        .changed
                        .wait_timeout(state, WATCH_POLL)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            };
            last = value.clone();
            if !f(value) {
                return;
            }
        }
    }
}

/// The entry a merge settles on.
struct Resolved {
    version: u64,
    writer: String,
    value: Option<Bytes>,
}

impl From<WireEntry> for Resolved {
    fn from(e: WireEntry) -> Resolved {
        Resolved {
            version: e.version,
            writer: e.writer,
            value: e.value,
        }
    }
}

impl Resolved {
    fn same_as(&self, e: &Entry) -> bool {
        self.version == e.version && self.writer == e.writer && self.value == e.value
    }
}

/// Last-writer-wins: the incoming entry when it is greater by (version, writer, value).
fn lww(cur: &Entry, e: WireEntry) -> Option<Resolved> {
    let ord = (e.version, &e.writer, &e.value).cmp(&(cur.version, &cur.writer, &cur.value));
    (ord == Ordering::Greater).then(|| Resolved::from(e))
}

/// An incoming entry of a key with a rule taken as it is, its value checked (and
/// normalised) by merging it with itself.
fn take(rule: &dyn Merge, e: WireEntry) -> Result<Option<Resolved>, String> {
    let value = match &e.value {
        Some(v) => Some(rule.merge(v, v)?),
        None => None,
    };
    Ok(Some(Resolved { value, ..e.into() }))
}

/// Epoch merge of a key with a rule (see the module doc).
fn merge_epochs(rule: &dyn Merge, cur: &Entry, e: WireEntry) -> Result<Option<Resolved>, String> {
    match e.version.cmp(&cur.version) {
        Ordering::Greater => take(rule, e),
        Ordering::Less => Ok(None),
        Ordering::Equal => match (&cur.value, &e.value) {
            (_, None) => Ok(None),
            (None, Some(_)) => take(rule, e),
            (Some(a), Some(b)) => Ok(Some(Resolved {
                value: Some(rule.merge(a, b)?),
                version: cur.version,
                writer: cur.writer.clone().max(e.writer),
            })),
        },
    }
}
