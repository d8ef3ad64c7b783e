//! Decodes arbitrary bytes as a chunk: the first byte is the encoding, the rest the chunk
//! data. Runs `ChunkIter` to the end (reading every sample in every form it offers),
//! checks that it never stops quietly before the announced sample count and that a reset
//! iterator reads the same, seeks on a second iterator, and resumes an appender on the
//! bytes.
#![no_main]

use cortex_tsdb::chunkenc::{
    ChunkIter, Encoding, FloatHistogramChunk, HistogramChunk, ValueType, XorChunk,
};
use cortex_tsdb::histogram::{FloatHistogram, Histogram};
use cortex_tsdb::value::STALE_NAN;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&enc, chunk)) = data.split_first() else {
        return;
    };
    let Ok(enc) = Encoding::from_u8(enc) else {
        return;
    };
    let Ok(mut it) = ChunkIter::new(enc, chunk) else {
        return;
    };
    let announced = usize::from(it.num_samples());
    let mut seen = 0usize;
    let mut last_t = i64::MIN;
    loop {
        match it.next() {
            Ok(Some(vt)) => {
                match vt {
                    ValueType::Float => {
                        let (t, v) = it.at();
                        std::hint::black_box((t, v));
                    }
                    ValueType::Histogram => {
                        let (_, h) = it.at_histogram();
                        std::hint::black_box(h.positive_buckets.len());
                        let (_, fh) = it.at_float_histogram();
                        std::hint::black_box(fh.count);
                    }
                    ValueType::FloatHistogram => {
                        let (_, fh) = it.at_float_histogram();
                        std::hint::black_box(fh.count);
                    }
                }
                last_t = it.timestamp();
                seen += 1;
            }
            Ok(None) => {
                assert_eq!(seen, announced, "iterator ended before the announced samples");
                break;
            }
            Err(_) => break,
        }
    }

    // The same iterator, reset onto the same bytes, reads them again alike.
    it.reset(enc, chunk).expect("the header was read before");
    let mut again = 0usize;
    let mut again_t = i64::MIN;
    while let Ok(Some(_)) = it.next() {
        again_t = it.timestamp();
        again += 1;
    }
    assert_eq!((again, again_t), (seen, last_t), "a reset iterator read differently");

    // Seeking never moves backwards and agrees with plain iteration.
    if let Ok(mut it) = ChunkIter::new(enc, chunk)
        && let Ok(Some(_)) = it.seek(last_t)
    {
        let t = it.timestamp();
        if let Ok(Some(_)) = it.seek(i64::MIN) {
            assert_eq!(it.timestamp(), t, "seek moved backwards");
        }
    }

    // Resuming an appender decodes the chunk; it must fail cleanly or append.
    match enc {
        Encoding::Xor => {
            if let Ok(mut c) = XorChunk::from_bytes(chunk.to_vec())
                && let Ok(mut app) = c.appender()
            {
                let _ = app.append(last_t.wrapping_add(1), 1.5);
            }
        }
        Encoding::Histogram => {
            if let Ok(mut c) = HistogramChunk::from_bytes(chunk.to_vec())
                && let Ok(mut app) = c.appender()
            {
                let stale = Histogram {
                    sum: STALE_NAN,
                    ..Histogram::default()
                };
                let _ = app.append(last_t.wrapping_add(1), &stale);
            }
        }
        Encoding::FloatHistogram => {
            if let Ok(mut c) = FloatHistogramChunk::from_bytes(chunk.to_vec())
                && let Ok(mut app) = c.appender()
            {
                let stale = FloatHistogram {
                    sum: STALE_NAN,
                    ..FloatHistogram::default()
                };
                let _ = app.append(last_t.wrapping_add(1), &stale);
            }
        }
    }
});
