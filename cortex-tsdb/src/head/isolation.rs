//! Isolation: a query sees only appends that were fully committed when it started.
//!
//! Every appender takes an append id when it starts committing; ids are handed out in
//! increasing order and are "open" until the commit has been applied to every series.
//! A query takes a [`IsolationState`]: the next id at its start and the ids open then.
//! Each series remembers, for its recent commits, the id and how many samples the series
//! had before that commit; a reader of the series stops before the first sample written
//! by a commit its state does not see. Series forget commit records older than the
//! oldest open id, so the record list stays short.

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

    /// True when the append with `id` is visible.
    #[inline]
    pub fn sees(&self, id: u64) -> bool {
        id < self.max_id && !self.open.contains(&id)
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

    /// The state for a query starting now.
    pub fn state(&self) -> IsolationState {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        IsolationState {
            max_id: g.next + 1,
            open: g.open.iter().copied().collect(),
        }
    }

    /// The lowest id that may still be invisible to some reader starting now: commit
    /// records of older ids can be forgotten.
    pub fn low_watermark(&self) -> u64 {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.open.first().copied().unwrap_or(g.next + 1)
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
        assert!(!s.sees(a));
        assert!(s.sees(b));
        let c = iso.open_append();
        assert!(!s.sees(c), "started after the state was taken");
        assert_eq!(iso.low_watermark(), a);
        iso.close_append(a);
        iso.close_append(c);
        assert!(iso.state().sees(a) && iso.state().sees(c));
        assert_eq!(iso.low_watermark(), c + 1);
    }
}
