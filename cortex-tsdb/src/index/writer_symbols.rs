//! The writer's copy of the symbol table: the encoded entries, the offset of each, and a
//! compact hash index from string to reference.
//!
//! Resolving the labels of every series is the writer's hottest loop. A binary search over
//! a million symbols touches twenty cold cache lines per label; the hash index (4 bytes per
//! slot, at most half full) touches about two. This file does not write anything to disk.

use super::encoding::{Decbuf, put_uvarint_str};

/// Symbols added to an index, in order.
#[derive(Debug, Default)]
pub(super) struct SymbolTable {
    /// The entries as the file stores them: `uvarint len | bytes`.
    buf: Vec<u8>,
    /// Offset in `buf` of every symbol.
    offsets: Vec<u32>,
    /// Open-addressing index: `reference + 1` of a symbol in the slot its hash picks (or
    /// the next free one); 0 is empty. Built by [`SymbolTable::seal`].
    slots: Vec<u32>,
}

fn hash(s: &[u8]) -> usize {
    xxhash_rust::xxh64::xxh64(s, 0) as usize
}

impl SymbolTable {
    /// The encoded entries.
    pub fn encoded(&self) -> &[u8] {
        &self.buf
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// The bytes of symbol `r` (empty when out of range).
    fn bytes(&self, r: u32) -> &[u8] {
        let Some(&off) = self.offsets.get(r as usize) else {
            return &[];
        };
        let b = self.buf.get(off as usize..).unwrap_or_default();
        Decbuf::new(b, 0).uvarint_bytes().unwrap_or_default()
    }

    /// Symbol `r` ("" when out of range).
    pub fn get(&self, r: u32) -> &str {
        std::str::from_utf8(self.bytes(r)).unwrap_or_default()
    }

    /// The last symbol added.
    pub fn last(&self) -> Option<&str> {
        self.len().checked_sub(1).map(|r| self.get(r as u32))
    }

    /// Appends a symbol; order is the caller's business. Returns false when the table
    /// would exceed what the format's 4-byte length can describe.
    pub fn push(&mut self, sym: &str) -> bool {
        if self.buf.len() + sym.len() + 16 > u32::MAX as usize {
            return false;
        }
        self.offsets.push(self.buf.len() as u32);
        put_uvarint_str(&mut self.buf, sym);
        true
    }

    /// Builds the hash index; call once every symbol is in.
    pub fn seal(&mut self) {
        let size = (self.len() * 2).next_power_of_two().max(16);
        let mask = size - 1;
        let mut slots = vec![0u32; size];
        for r in 0..self.len() as u32 {
            let mut i = hash(self.bytes(r)) & mask;
            while slots[i] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = r + 1;
        }
        self.slots = slots;
    }

    /// The reference of `sym`, if it was added (needs [`SymbolTable::seal`]).
    pub fn lookup(&self, sym: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = hash(sym.as_bytes()) & mask;
        loop {
            let r = *self.slots.get(i)?;
            if r == 0 {
                return None;
            }
            if self.bytes(r - 1) == sym.as_bytes() {
                return Some(r - 1);
            }
            i = (i + 1) & mask;
        }
    }

    /// Bytes of memory the table holds.
    pub fn memory(&self) -> usize {
        self.buf.capacity() + 4 * (self.offsets.capacity() + self.slots.capacity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_symbol_and_nothing_else() {
        let mut t = SymbolTable::default();
        let syms: Vec<String> = (0..5000).map(|i| format!("s{i:05}")).collect();
        assert!(t.push(""));
        for s in &syms {
            assert!(t.push(s));
        }
        t.seal();
        assert_eq!(t.lookup(""), Some(0));
        for (i, s) in syms.iter().enumerate() {
            assert_eq!(t.lookup(s), Some(i as u32 + 1));
            assert_eq!(t.get(i as u32 + 1), s);
        }
        assert_eq!(t.lookup("s5000"), None);
        assert_eq!(t.lookup("zz"), None);
        assert_eq!(t.last(), Some("s04999"));
        assert_eq!(t.get(99_999), "");
    }

    #[test]
    fn unsealed_table_finds_nothing() {
        let mut t = SymbolTable::default();
        t.push("a");
        assert_eq!(t.lookup("a"), None);
    }
}
