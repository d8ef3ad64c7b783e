//! Chunk encodings: how a run of samples of one series is compressed into bytes.
//!
//! Byte-compatible with Prometheus' `tsdb/chunkenc`: XOR for floats (encoding 1),
//! histogram (2) and float histogram (3). Any other encoding byte is an error, never
//! misread as one of these.

/// The encoding byte stored in front of every chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Encoding {
    /// Gorilla-style XOR compression of float samples.
    Xor = 1,
    /// Integer native histograms.
    Histogram = 2,
    /// Float native histograms.
    FloatHistogram = 3,
}

impl Encoding {
    /// The encoding for a stored byte; anything but 1, 2 or 3 is
    /// [`ChunkError::UnknownEncoding`].
    pub fn from_u8(b: u8) -> Result<Encoding, ChunkError> {
        match b {
            1 => Ok(Encoding::Xor),
            2 => Ok(Encoding::Histogram),
            3 => Ok(Encoding::FloatHistogram),
            other => Err(ChunkError::UnknownEncoding(other)),
        }
    }

    /// Prometheus' name for the encoding.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Xor => "XOR",
            Encoding::Histogram => "histogram",
            Encoding::FloatHistogram => "floathistogram",
        }
    }
}

/// The kind of sample an iterator stands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// A float sample.
    Float,
    /// An integer native histogram.
    Histogram,
    /// A float native histogram.
    FloatHistogram,
}

/// Why chunk bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The encoding byte is not one we know.
    #[error("unknown chunk encoding {0}")]
    UnknownEncoding(u8),
    /// The data ended before the samples it announces.
    #[error("chunk data truncated while reading {0}")]
    Truncated(&'static str),
    /// The data is structurally invalid.
    #[error("invalid chunk data: {0}")]
    Invalid(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_encodings_are_errors() {
        assert_eq!(Encoding::from_u8(1), Ok(Encoding::Xor));
        assert_eq!(Encoding::from_u8(3), Ok(Encoding::FloatHistogram));
        for b in [0u8, 4, 0x81, 255] {
            assert_eq!(Encoding::from_u8(b), Err(ChunkError::UnknownEncoding(b)));
        }
    }
}
