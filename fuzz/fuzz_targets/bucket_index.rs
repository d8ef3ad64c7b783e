//! Fuzzes decoding of a tenant's `bucket-index.json.gz`: gzip then JSON. Must never
//! panic; whatever decodes must encode and decode to the same index.

#![no_main]

use cortex_core::storage::BucketIndex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(idx) = BucketIndex::decode(data, "t/bucket-index.json.gz") {
        let again = BucketIndex::decode(&idx.encode(), "t/bucket-index.json.gz")
            .expect("an encoded index decodes");
        assert_eq!(again, idx);
    }
    // The JSON alone, for inputs the fuzzer finds faster without gzip.
    let _ = BucketIndex::from_json(data, "t/bucket-index.json");
});
