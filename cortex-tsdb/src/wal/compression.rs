//! Record compression: snappy (block format) and zstd (frames), as flagged in a
//! fragment's type byte.
//!
//! The writer compresses a record only when that makes it strictly smaller, as
//! Prometheus does; an empty record is never compressed. Decompression is bounded by the
//! input size: a snappy record whose header claims more than 32 bytes per input byte
//! (more than any snappy stream can expand) and zstd output beyond 32 KiB per input byte
//! (a one-byte RLE block expands to at most 128 KiB) are errors, so a damaged length
//! cannot make the reader allocate without bound.

use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

/// How record payloads are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// Stored as is.
    None,
    /// Snappy block format (Prometheus' default, `--storage.tsdb.wal-compression`).
    #[default]
    Snappy,
    /// Zstandard frames (Prometheus 2.46 and later,
    /// `--storage.tsdb.wal-compression-type=zstd`). We write zstd with ruzstd's fastest
    /// level; Prometheus writes its default level. Both read each other's frames.
    Zstd,
}

/// Snappy cannot expand a byte of input into more than this many bytes of output (a
/// three-byte copy element yields at most 64 bytes).
const SNAPPY_MAX_EXPANSION: usize = 32;
/// Zstd cannot expand a byte of input into more than this many bytes (a four-byte RLE
/// block yields at most 128 KiB).
const ZSTD_MAX_EXPANSION: usize = 32 * 1024;
/// Smallest zstd window we accept whatever the input size (windows are allocated
/// up front, so larger ones are bounded by the output bound).
const ZSTD_MIN_WINDOW: usize = 8 << 20;

/// Compresses records for the writer, reusing its buffers.
pub(crate) struct Compressor {
    kind: Compression,
    snappy: snap::raw::Encoder,
    buf: Vec<u8>,
}

impl Compressor {
    /// A compressor for `kind`.
    pub(crate) fn new(kind: Compression) -> Compressor {
        Compressor {
            kind,
            snappy: snap::raw::Encoder::new(),
            buf: Vec::new(),
        }
    }

    /// The payload to write for `rec` and the compression it used: compressed when that
    /// is strictly smaller, `rec` itself otherwise.
    pub(crate) fn compress<'a>(&'a mut self, rec: &'a [u8]) -> (&'a [u8], Compression) {
        if rec.is_empty() {
            return (rec, Compression::None);
        }
        let n = match self.kind {
            Compression::None => return (rec, Compression::None),
            Compression::Snappy => {
                let max = snap::raw::max_compress_len(rec.len());
                if max == 0 {
                    return (rec, Compression::None);
                }
                if self.buf.len() < max {
                    self.buf.resize(max, 0);
                }
                match self.snappy.compress(rec, &mut self.buf) {
                    Ok(n) => n,
                    Err(_) => return (rec, Compression::None),
                }
            }
            Compression::Zstd => {
                self.buf.clear();
                ruzstd::encoding::compress(
                    rec,
                    &mut self.buf,
                    ruzstd::encoding::CompressionLevel::Fastest,
                );
                self.buf.len()
            }
        };
        if n < rec.len() {
            (&self.buf[..n], self.kind)
        } else {
            (rec, Compression::None)
        }
    }
}

/// Decompresses record payloads for the reader, reusing its buffers.
#[derive(Default)]
pub(crate) struct Decompressor {
    snappy: snap::raw::Decoder,
    zstd: Option<Box<FrameDecoder>>,
    /// The last decompressed record.
    pub(crate) out: Vec<u8>,
}

impl Decompressor {
    /// Decompresses `src` into `self.out`. An empty payload is an empty record whatever
    /// the flag, as in Prometheus.
    pub(crate) fn decompress(&mut self, kind: Compression, src: &[u8]) -> Result<(), String> {
        self.out.clear();
        if src.is_empty() {
            return Ok(());
        }
        match kind {
            Compression::None => {
                self.out.extend_from_slice(src);
                Ok(())
            }
            Compression::Snappy => self.snappy(src),
            Compression::Zstd => self.zstd(src),
        }
    }

    fn snappy(&mut self, src: &[u8]) -> Result<(), String> {
        let n = snap::raw::decompress_len(src).map_err(|e| format!("snappy: {e}"))?;
        if n > src.len().saturating_mul(SNAPPY_MAX_EXPANSION) {
            return Err(format!(
                "snappy: decoded length {n} is impossible for {} compressed bytes",
                src.len()
            ));
        }
        self.out.resize(n, 0);
        let got = self
            .snappy
            .decompress(src, &mut self.out)
            .map_err(|e| format!("snappy: {e}"))?;
        if got != n {
            return Err(format!("snappy: decoded {got} bytes, header says {n}"));
        }
        Ok(())
    }

    fn zstd(&mut self, src: &[u8]) -> Result<(), String> {
        let cap = src.len().saturating_mul(ZSTD_MAX_EXPANSION);
        let dec = self
            .zstd
            .get_or_insert_with(|| Box::new(FrameDecoder::new()));
        dec.set_max_window_size(cap.max(ZSTD_MIN_WINDOW) as u64);
        let mut input = src;
        while !input.is_empty() {
            match dec.reset(&mut input) {
                Ok(()) => {}
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                    length,
                    ..
                })) => {
                    input = input
                        .get(length as usize..)
                        .ok_or("zstd: skippable frame runs past the record")?;
                    continue;
                }
                Err(e) => return Err(format!("zstd: {e}")),
            }
            loop {
                let before = input.len();
                let finished = dec
                    .decode_blocks(&mut input, BlockDecodingStrategy::UptoBytes(1 << 20))
                    .map_err(|e| format!("zstd: {e}"))?;
                dec.collect_to_writer(&mut self.out)
                    .map_err(|e| format!("zstd: {e}"))?;
                if self.out.len() > cap {
                    return Err(format!(
                        "zstd: output exceeds {cap} bytes for {} compressed bytes",
                        src.len()
                    ));
                }
                if finished {
                    break;
                }
                if input.len() == before {
                    return Err("zstd: frame makes no progress".into());
                }
            }
            if let (Some(want), Some(got)) =
                (dec.get_checksum_from_data(), dec.get_calculated_checksum())
                && want != got
            {
                return Err(format!(
                    "zstd: content checksum {got:08x}, frame says {want:08x}"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compresses_only_when_smaller() {
        let mut c = Compressor::new(Compression::Snappy);
        let (p, k) = c.compress(b"abc");
        assert_eq!((p, k), (&b"abc"[..], Compression::None));
        let rec = vec![7u8; 1000];
        let (p, k) = c.compress(&rec);
        assert_eq!(k, Compression::Snappy);
        assert!(p.len() < 100);
        let mut d = Decompressor::default();
        d.decompress(Compression::Snappy, c.compress(&rec).0)
            .unwrap();
        assert_eq!(d.out, rec);
        assert_eq!(c.compress(b"").1, Compression::None);
    }

    #[test]
    fn zstd_round_trips_through_our_writer() {
        let mut c = Compressor::new(Compression::Zstd);
        let rec: Vec<u8> = (0..5000u32).flat_map(|i| (i % 97).to_be_bytes()).collect();
        let (p, k) = c.compress(&rec);
        assert_eq!(k, Compression::Zstd);
        let p = p.to_vec();
        let mut d = Decompressor::default();
        d.decompress(Compression::Zstd, &p).unwrap();
        assert_eq!(d.out, rec);
    }

    /// Two frames from the reference implementation, as a zstd stream may hold several:
    /// `printf 'hello hello hello hello hello' | zstd -19` and
    /// `printf ', and goodbye' | zstd -3`, each with its content checksum.
    const REFERENCE_FRAMES: [u8; 51] = [
        0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x68, 0x65, 0x00, 0x00, 0x30, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
        0x20, 0x01, 0x00, 0xa9, 0x4b, 0x11, 0x87, 0x4e, 0x20, 0x0a, 0x28, 0xb5, 0x2f, 0xfd, 0x04,
        0x58, 0x69, 0x00, 0x00, 0x2c, 0x20, 0x61, 0x6e, 0x64, 0x20, 0x67, 0x6f, 0x6f, 0x64, 0x62,
        0x79, 0x65, 0x01, 0x96, 0x60, 0xb7,
    ];

    #[test]
    fn zstd_reads_reference_encoder_frames() {
        let mut d = Decompressor::default();
        d.decompress(Compression::Zstd, &REFERENCE_FRAMES).unwrap();
        assert_eq!(d.out, b"hello hello hello hello hello, and goodbye");
        let mut bad = REFERENCE_FRAMES;
        bad[24] ^= 1;
        let err = d.decompress(Compression::Zstd, &bad).unwrap_err();
        assert!(err.contains("checksum"), "{err}");
    }

    #[test]
    fn impossible_snappy_length_is_refused_before_allocating() {
        let mut d = Decompressor::default();
        // Header claims 2^32-1 bytes.
        let err = d
            .decompress(Compression::Snappy, &[0xff, 0xff, 0xff, 0xff, 0x0f, 0])
            .unwrap_err();
        assert!(err.contains("impossible"), "{err}");
    }

    #[test]
    fn garbage_is_an_error_for_both_codecs() {
        let mut d = Decompressor::default();
        assert!(d.decompress(Compression::Snappy, &[5, 0xff, 1]).is_err());
        assert!(
            d.decompress(Compression::Zstd, &[0x28, 0xb5, 0x2f, 0xfd, 0xff])
                .is_err()
        );
        d.decompress(Compression::Zstd, &[]).unwrap();
        assert!(d.out.is_empty());
    }
}
