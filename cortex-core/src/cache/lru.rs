//! [`Lru`]: the least-recently-used map under [`super::InMemoryCache`], bounded by the
//! total bytes of its keys and values. Entries live in a slab threaded by a doubly
//! linked list (most recent first) and are found through a hash map, so insert, lookup
//! and eviction are O(1). It knows nothing about locking, TTLs' clocks or counters.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

const NIL: usize = usize::MAX;

#[derive(Debug)]
struct Slot {
    key: Arc<str>,
    value: Bytes,
    expires: Option<Instant>,
    prev: usize,
    next: usize,
}

/// A map from keys to values with expiry times, holding at most `max_bytes` of keys
/// plus values and evicting the least recently used entries to make room.
#[derive(Debug)]
pub struct Lru {
    map: HashMap<Arc<str>, usize>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    head: usize,
    tail: usize,
    bytes: u64,
    max_bytes: u64,
}

fn entry_size(key: &str, value: &Bytes) -> u64 {
    (key.len() + value.len()) as u64
}

impl Lru {
    /// An empty map holding at most `max_bytes`.
    pub fn new(max_bytes: u64) -> Lru {
        Lru {
            map: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            bytes: 0,
            max_bytes,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes of keys and values held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Inserts or replaces `key`, making it the most recently used, and returns how
    /// many other entries were evicted to make room. An entry bigger than `max_bytes`
    /// is not inserted (and any old value of `key` is removed).
    pub fn insert(&mut self, key: &str, value: Bytes, expires: Option<Instant>) -> usize {
        self.remove(key);
        let size = entry_size(key, &value);
        if size > self.max_bytes {
            return 0;
        }
        let mut evicted = 0;
        while self.bytes + size > self.max_bytes && self.tail != NIL {
            self.remove_slot(self.tail);
            evicted += 1;
        }
        let key: Arc<str> = Arc::from(key);
        let slot = Slot {
            key: key.clone(),
            value,
            expires,
            prev: NIL,
            next: NIL,
        };
        let idx = match self.free.pop() {
            Some(idx) => {
                self.slots[idx] = slot;
                idx
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        self.push_front(idx);
        self.map.insert(key, idx);
        self.bytes += size;
        evicted
    }

    /// The value of `key` unless it expired by `now` (an expired entry is removed),
    /// making it the most recently used.
    pub fn get(&mut self, key: &str, now: Instant) -> Option<Bytes> {
        let idx = *self.map.get(key)?;
        if self.slots[idx].expires.is_some_and(|at| at <= now) {
            self.remove_slot(idx);
            return None;
        }
        self.unlink(idx);
        self.push_front(idx);
        Some(self.slots[idx].value.clone())
    }

    /// Removes `key`; true if it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        match self.map.get(key) {
            Some(&idx) => {
                self.remove_slot(idx);
                true
            }
            None => false,
        }
    }

    fn remove_slot(&mut self, idx: usize) {
        self.unlink(idx);
        let slot = &mut self.slots[idx];
        let key = slot.key.clone();
        self.bytes -= entry_size(&key, &slot.value);
        slot.value = Bytes::new();
        slot.key = Arc::from("");
        self.map.remove(&key);
        self.free.push(idx);
    }

    fn unlink(&mut self, idx: usize) {
        let (prev, next) = (self.slots[idx].prev, self.slots[idx].next);
        if prev == NIL {
            self.head = next;
        } else {
            self.slots[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slots[next].prev = prev;
        }
        self.slots[idx].prev = NIL;
        self.slots[idx].next = NIL;
    }

    fn push_front(&mut self, idx: usize) {
        self.slots[idx].prev = NIL;
        self.slots[idx].next = self.head;
        if self.head != NIL {
            self.slots[self.head].prev = idx;
        }
        self.head = idx;
        if self.tail == NIL {
            self.tail = idx;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn val(n: usize) -> Bytes {
        Bytes::from(vec![7u8; n])
    }

    #[test]
    fn evicts_least_recently_used_by_bytes() {
        // Each entry is 1 key byte + 9 value bytes = 10 bytes; 30 fit.
        let mut lru = Lru::new(30);
        let now = Instant::now();
        assert_eq!(lru.insert("a", val(9), None), 0);
        assert_eq!(lru.insert("b", val(9), None), 0);
        assert_eq!(lru.insert("c", val(9), None), 0);
        assert_eq!(lru.bytes(), 30);
        assert!(lru.get("a", now).is_some()); // a is now the most recent
        assert_eq!(lru.insert("d", val(9), None), 1);
        assert!(lru.get("b", now).is_none(), "b was the least recently used");
        assert!(lru.get("a", now).is_some());
        assert!(lru.get("c", now).is_some());
        assert!(lru.get("d", now).is_some());
        // A 20-byte entry evicts two.
        assert_eq!(lru.insert("e", val(19), None), 2);
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.bytes(), 30);
        assert!(lru.get("e", now).is_some());
        assert!(lru.get("d", now).is_some());
    }

    #[test]
    fn replacing_a_key_accounts_its_new_size() {
        let mut lru = Lru::new(100);
        lru.insert("k", val(50), None);
        lru.insert("k", val(10), None);
        assert_eq!(lru.len(), 1);
        assert_eq!(lru.bytes(), 11);
        assert_eq!(lru.get("k", Instant::now()).unwrap().len(), 10);
    }

    #[test]
    fn entry_bigger_than_the_map_is_refused_and_evicts_nothing() {
        let mut lru = Lru::new(10);
        lru.insert("a", val(5), None);
        assert_eq!(lru.insert("b", val(10), None), 0);
        assert!(lru.get("b", Instant::now()).is_none());
        assert!(lru.get("a", Instant::now()).is_some());
    }

    #[test]
    fn expired_entries_are_dropped_on_lookup() {
        let mut lru = Lru::new(100);
        let now = Instant::now();
        lru.insert("a", val(5), Some(now + Duration::from_secs(1)));
        assert!(lru.get("a", now).is_some());
        assert!(lru.get("a", now + Duration::from_secs(1)).is_none());
        assert!(lru.is_empty());
        assert_eq!(lru.bytes(), 0);
    }

    #[test]
    fn slots_are_reused_after_removal() {
        let mut lru = Lru::new(1000);
        for round in 0..10 {
            for i in 0..10 {
                lru.insert(&format!("k{i}"), val(round + 1), None);
            }
            for i in 0..10 {
                assert!(lru.remove(&format!("k{i}")));
            }
        }
        assert!(lru.is_empty());
        assert_eq!(lru.bytes(), 0);
        assert!(lru.slots.len() <= 10);
    }
}
