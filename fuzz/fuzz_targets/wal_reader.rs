//! Reads arbitrary bytes as a WAL segment: every outcome is records, a torn tail or a
//! corruption error naming the segment, never a panic; a reported torn tail lies inside
//! the segment.
#![no_main]

use cortex_tsdb::Error;
use cortex_tsdb::wal::Reader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    let mut r = Reader::from_bytes("00000000", 0, data.to_vec());
    let mut records = 0usize;
    loop {
        match r.next_record() {
            Ok(Some(_)) => {
                records += 1;
                assert!(r.record_offset() < len.max(1));
            }
            Ok(None) => break,
            Err(Error::Corrupted { file, offset, .. }) => {
                assert_eq!(file.to_str(), Some("00000000"));
                assert!(offset <= len);
                break;
            }
            Err(e) => panic!("unexpected error kind: {e}"),
        }
    }
    if let Some(t) = r.torn_tail() {
        assert!(t.offset <= len);
        assert_eq!(t.offset + t.bytes, len);
    }
    assert!(r.next_record().unwrap().is_none());
    let _ = records;
});
