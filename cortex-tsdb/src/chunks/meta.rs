//! Where a chunk lives and which time range it covers: the per-chunk entry of an index
//! series.

/// A chunk's address in a block: segment file number in the upper 32 bits (0 is
/// `000001`), byte offset in that file in the lower 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ChunkRef(pub u64);

impl ChunkRef {
    /// A reference to `offset` in the segment with zero-based number `segment`.
    pub fn new(segment: u32, offset: u32) -> ChunkRef {
        ChunkRef((u64::from(segment) << 32) | u64::from(offset))
    }

    /// The zero-based segment number (0 is file `000001`).
    pub fn segment(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The byte offset in the segment file.
    pub fn offset(self) -> u32 {
        self.0 as u32
    }
}

/// A chunk as the index describes it: its time range (inclusive) and where its bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChunkMeta {
    /// Timestamp of the first sample, in milliseconds.
    pub min_time: i64,
    /// Timestamp of the last sample, in milliseconds.
    pub max_time: i64,
    /// Where the chunk's bytes are.
    pub chunk_ref: ChunkRef,
}

impl ChunkMeta {
    /// True when the chunk has samples in `[mint, maxt]`.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.min_time <= maxt && mint <= self.max_time
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_packs_segment_and_offset() {
        let r = ChunkRef::new(3, 0xdead_beef);
        assert_eq!(r.segment(), 3);
        assert_eq!(r.offset(), 0xdead_beef);
        assert_eq!(r.0, 0x0000_0003_dead_beef);
    }
}
