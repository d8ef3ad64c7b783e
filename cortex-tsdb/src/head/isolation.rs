//! Isolation: a query sees only appends that were fully committed when it started.
//!
//! Every appender takes an append id when it starts committing; ids are handed out in
//! increasing order and are "open" until the commit has been applied to every series.
//! A query takes a [`IsolationState`]: the next id at its start and the ids open then.
//! Each series remembers, for its recent commits, the id and how many samples the series
//! had before that commit; a reader of the series stops before the first sample written
//! by a commit its state does not see. A series keeps the record of an older commit only
//! while some reader may not see it ([`RecordHorizon`]): while the commit is open (readers
//! starting now would not see it) or a registered reader started before it closed. Most
//! series therefore hold just the record of their newest commit.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// Tracks open appends.
#[derive(Debug, Default)]
pub struct Isolation {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    open: BTreeSet<u64>,
    /// For every reader holding a state: the oldest id it does not see, with a count.
    readers: std::collections::BTreeMap<u64, usize>,
}

/// What a query may see.
#[derive(Debug, Clone)]
pub struct IsolationState {
    /// Ids at or above this were not started when the query began.
    pub max_id: u64,
    /// Ids open when the query began.
    pub open: Vec<u64>,
}

impl IsolationState {
    /// A state that sees everything (for replay and compaction, where no append runs).
    pub fn all() -> IsolationState {
        IsolationState {
            max_id: u64::MAX,
            open: Vec::new(),
        }
    }

    /// The oldest append id this state does not see.
    pub fn oldest_unseen(&self) -> u64 {
        self.open
            .first()
            .copied()
            .unwrap_or(self.max_id)
            .min(self.max_id)
    }

    /// True when the append with `id` is visible.
    #[inline]
    pub fn sees(&self, id: u64) -> bool {
        id < self.max_id && !self.open.contains(&id)
    }
}

/// Which commit records a series must keep, as of the start of a commit: taken once per
/// commit and asked for every record the commit's series would otherwise forget.
#[derive(Debug, Clone, Default)]
pub struct RecordHorizon {
    /// The oldest id a registered reader does not see (`u64::MAX` without readers).
    readers_low: u64,
    /// Ids from here on were not handed out yet when the horizon was taken.
    next: u64,
    /// Ids open when the horizon was taken, ascending.
    open: Vec<u64>,
}

impl RecordHorizon {
    /// True when the record of append `id` may still be needed by a reader: a registered
    /// reader may not see it, or the append was open (or not yet started) when the horizon
    /// was taken, so readers starting later may not see it either. Records of appends that
    /// every current and future reader sees are not needed.
    #[inline]
    pub fn needs(&self, id: u64) -> bool {
        id >= self.readers_low || id >= self.next || self.open.binary_search(&id).is_ok()
    }
}

impl Isolation {
    /// Opens a new append and returns its id.
    pub fn open_append(&self) -> u64 {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.next += 1;
        let id = g.next;
        g.open.insert(id);
        id
    }

    /// Marks append `id` complete.
    pub fn close_append(&self, id: u64) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.open.remove(&id);
    }

    /// The state for a query starting now. While the reader holds it (until
    /// [`Isolation::release`]), series keep the commit records it needs.
    pub fn state(&self) -> IsolationState {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let state = IsolationState {
            max_id: g.next + 1,
            open: g.open.iter().copied().collect(),
        };
        *g.readers.entry(state.oldest_unseen()).or_default() += 1;
        state
    }

    /// Ends a reader's hold on the commit records its state needs.
    pub fn release(&self, state: &IsolationState) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let key = state.oldest_unseen();
        if let Some(n) = g.readers.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                g.readers.remove(&key);
            }
        }
    }

    /// The newest id handed out so far.
    pub fn last_id(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).next
    }

    /// Waits until every append with an id up to `id` has closed.
    pub fn wait_for_appends_up_to(&self, id: u64) {
        let mut backoff = std::time::Duration::from_micros(50);
        while self.lowest_open_append() <= id {
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(std::time::Duration::from_millis(10));
        }
    }

    /// The lowest id of an append still open (or the next id when none is).
    pub fn lowest_open_append(&self) -> u64 {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.open.first().copied().unwrap_or(g.next + 1)
    }

    /// Fills `h` with what decides which commit records are still needed (see
    /// [`RecordHorizon::needs`]); reuses its buffer.
    pub fn record_horizon(&self, h: &mut RecordHorizon) {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        h.readers_low = g.readers.keys().next().copied().unwrap_or(u64::MAX);
        h.next = g.next + 1;
        h.open.clear();
        h.open.extend(g.open.iter().copied());
    }

    /// The lowest id that may still be invisible to a current or future reader: commit
    /// records of older ids can be forgotten.
    pub fn low_watermark(&self) -> u64 {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let appends = g.open.first().copied().unwrap_or(g.next + 1);
        g.readers.keys().next().map_or(appends, |r| appends.min(*r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_appends_are_invisible_until_closed() {
        let iso = Isolation::default();
        let a = iso.open_append();
        let b = iso.open_append();
        iso.close_append(b);
        let s = iso.state();
        iso.release(&s);
        assert!(!s.sees(a));
        assert!(s.sees(b));
        let c = iso.open_append();
        assert!(!s.sees(c), "started after the state was taken");
        assert_eq!(iso.low_watermark(), a);
        iso.close_append(a);
        iso.close_append(c);
        let all = iso.state();
        assert!(all.sees(a) && all.sees(c));
        // A reader holding a state keeps the watermark at what it cannot see.
        let held = iso.state();
        let d = iso.open_append();
        iso.close_append(d);
        assert_eq!(iso.low_watermark(), held.oldest_unseen());
        iso.release(&held);
        iso.release(&all);
        assert_eq!(iso.low_watermark(), d + 1);
    }

    #[test]
    fn records_are_needed_while_open_or_unseen_by_a_reader() {
        let iso = Isolation::default();
        let mut h = RecordHorizon::default();
        let a = iso.open_append();
        let b = iso.open_append();
        iso.close_append(a);
        iso.record_horizon(&mut h);
        // No reader: a closed append is seen by everyone from now on; an open one is not,
        // nor is one that was not started yet.
        assert!(!h.needs(a));
        assert!(h.needs(b));
        assert!(h.needs(b + 1));
        // A reader that started while `b` was open keeps its record after `b` closes, and
        // with it every later one; earlier closed ones stay unneeded.
        let reader = iso.state();
        iso.close_append(b);
        let c = iso.open_append();
        iso.close_append(c);
        iso.record_horizon(&mut h);
        assert!(!h.needs(a));
        assert!(h.needs(b));
        assert!(h.needs(c));
        iso.release(&reader);
        iso.record_horizon(&mut h);
        assert!(!h.needs(b) && !h.needs(c));
    }
}
