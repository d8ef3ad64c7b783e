//! Keys as memcached takes them, and which server holds a key.
//!
//! memcached keys are at most 250 bytes without spaces or control characters. A key
//! that is printable ASCII and short enough is used as is; any other key is replaced by
//! the hex FNV-1a 128-bit hash of it ([`memcached_key`]). A hash can collide, so the
//! memcached client stores the original key in front of the value of a hashed key and
//! checks it on the way back: a collision is a miss, never another key's value.
//!
//! Servers are picked by jump consistent hashing ([`jump_hash`], Lamping and Veach) of
//! the key's 64-bit FNV-1a hash, over the servers sorted by address: adding a server
//! moves about 1/n of the keys and no key moves between two old servers.

use std::borrow::Cow;

/// The longest key memcached accepts, in bytes.
pub const MAX_KEY_LEN: usize = 250;

/// True if memcached takes `key` as it is: 1 to [`MAX_KEY_LEN`] bytes of printable
/// ASCII without spaces.
pub fn is_valid_memcached_key(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN && key.iter().all(|b| b.is_ascii_graphic())
}

/// The key memcached stores `key` under: `key` itself if it is valid
/// ([`is_valid_memcached_key`]), else its 32-hex-digit FNV-1a 128-bit hash.
pub fn memcached_key(key: &str) -> Cow<'_, str> {
    if is_valid_memcached_key(key.as_bytes()) {
        Cow::Borrowed(key)
    } else {
        Cow::Owned(format!("{:032x}", fnv1a_128(key.as_bytes())))
    }
}

/// 64-bit FNV-1a of `data`.
pub fn fnv1a_64(data: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    data.iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// 128-bit FNV-1a of `data`.
pub fn fnv1a_128(data: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    data.iter()
        .fold(OFFSET, |h, &b| (h ^ u128::from(b)).wrapping_mul(PRIME))
}

/// The bucket in `0..buckets` that jump consistent hashing assigns `key` to; 0 when
/// `buckets` is 0.
pub fn jump_hash(mut key: u64, buckets: usize) -> usize {
    let buckets = buckets as i64;
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    while j < buckets {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b.max(0) as usize
}

/// The index of the server in `0..servers` that holds the memcached key `mkey`.
pub fn server_for(mkey: &str, servers: usize) -> usize {
    jump_hash(fnv1a_64(mkey.as_bytes()), servers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_printable_keys_are_kept() {
        assert_eq!(memcached_key("P:01H8:abc"), "P:01H8:abc");
        let max = "k".repeat(MAX_KEY_LEN);
        assert_eq!(memcached_key(&max), max.as_str());
    }

    #[test]
    fn long_spaced_control_and_empty_keys_are_hashed() {
        for key in [
            "k".repeat(MAX_KEY_LEN + 1),
            "a b".to_string(),
            "a\r\nget x".to_string(),
            "ключ".to_string(),
            String::new(),
        ] {
            let mkey = memcached_key(&key);
            assert_eq!(mkey.len(), 32, "{key:?}");
            assert!(is_valid_memcached_key(mkey.as_bytes()));
            assert_ne!(mkey, key.as_str());
        }
        assert_ne!(
            memcached_key(&"a".repeat(300)),
            memcached_key(&"b".repeat(300))
        );
    }

    #[test]
    fn fnv_matches_published_vectors() {
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(fnv1a_128(b""), 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d);
        assert_eq!(fnv1a_128(b"a"), 0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964);
    }

    #[test]
    fn jump_hash_is_stable_and_moves_few_keys_when_a_server_is_added() {
        assert_eq!(jump_hash(42, 0), 0);
        assert_eq!(jump_hash(42, 1), 0);
        let keys: Vec<u64> = (0..10_000u64).map(|i| fnv1a_64(&i.to_be_bytes())).collect();
        let mut counts = [0usize; 4];
        let mut moved = 0;
        for &k in &keys {
            let four = jump_hash(k, 4);
            let five = jump_hash(k, 5);
            counts[four] += 1;
            if four != five {
                assert_eq!(five, 4, "a key moved between two old servers");
                moved += 1;
            }
        }
        assert!(
            counts.iter().all(|&c| (2000..3000).contains(&c)),
            "{counts:?}"
        );
        assert!((1500..2500).contains(&moved), "{moved} keys moved");
    }
}
