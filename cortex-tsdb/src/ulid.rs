//! ULIDs: the 128-bit, time-sortable identifiers that name blocks.
//!
//! 48 bits of Unix milliseconds followed by 80 random bits, written as 26 Crockford
//! base32 characters (`01M81BZRC0Q1GW9BQ5GFGZAWV2`). Block directory names and the `ulid`
//! fields of `meta.json` use this form.

use std::fmt;
use std::str::FromStr;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A ULID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ulid(pub u128);

/// Why a string is not a ULID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ULID {0:?}: want 26 Crockford base32 characters")]
pub struct UlidError(pub String);

impl Ulid {
    /// A ULID for time `ms` (Unix milliseconds) with `random` (only the low 80 bits used).
    pub fn from_parts(ms: u64, random: u128) -> Ulid {
        Ulid((u128::from(ms & 0xffff_ffff_ffff) << 80) | (random & ((1u128 << 80) - 1)))
    }

    /// A new ULID for time `ms` with entropy from the operating system.
    pub fn new(ms: u64) -> Ulid {
        let mut b = [0u8; 16];
        // Fall back to a time-derived value if the OS has no entropy to give; a ULID
        // needs uniqueness, not secrecy.
        if getrandom::fill(&mut b).is_err() {
            b = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
                .to_be_bytes();
        }
        Ulid::from_parts(ms, u128::from_be_bytes(b))
    }

    /// A new ULID for the current time.
    pub fn now() -> Ulid {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Ulid::new(ms)
    }

    /// The timestamp part, in Unix milliseconds.
    pub fn timestamp_ms(self) -> u64 {
        (self.0 >> 80) as u64
    }
}

impl fmt::Display for Ulid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; 26];
        for (i, c) in out.iter_mut().enumerate() {
            let shift = 125 - 5 * i as u32;
            *c = ALPHABET[((self.0 >> shift) & 0x1f) as usize];
        }
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl FromStr for Ulid {
    type Err = UlidError;

    fn from_str(s: &str) -> Result<Ulid, UlidError> {
        let bytes = s.as_bytes();
        if bytes.len() != 26 || bytes[0] > b'7' {
            return Err(UlidError(s.to_string()));
        }
        let mut v: u128 = 0;
        for &c in bytes {
            let d = match c.to_ascii_uppercase() {
                c @ b'0'..=b'9' => c - b'0',
                b'O' => 0,
                b'I' | b'L' => 1,
                c => match ALPHABET.iter().position(|&a| a == c) {
                    Some(p) => p as u8,
                    None => return Err(UlidError(s.to_string())),
                },
            };
            v = (v << 5) | u128::from(d);
        }
        Ok(Ulid(v))
    }
}

impl serde::Serialize for Ulid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Ulid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Ulid, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_prometheus_ulids() {
        for s in ["01M81BZRC0Q1GW9BQ5GFGZAWV2", "01M81FQXGMQQSBDZQQ31BZ9P1B"] {
            let u: Ulid = s.parse().unwrap();
            assert_eq!(u.to_string(), s);
        }
        // 01M81BZRC0 encodes the creation time: Nov 2026 in Unix ms.
        let u: Ulid = "01M81BZRC0Q1GW9BQ5GFGZAWV2".parse().unwrap();
        assert!((1_790_000_000_000..1_800_000_000_000).contains(&u.timestamp_ms()));
    }

    #[test]
    fn sorts_by_time() {
        let a = Ulid::new(1000);
        let b = Ulid::new(2000);
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
        assert_eq!(b.timestamp_ms(), 2000);
    }

    #[test]
    fn rejects_bad_strings() {
        for s in [
            "",
            "01M81BZRC0Q1GW9BQ5GFGZAWV",
            "01M81BZRC0Q1GW9BQ5GFGZAWVU",
            "81M81BZRC0Q1GW9BQ5GFGZAWV2",
        ] {
            assert!(s.parse::<Ulid>().is_err(), "{s}");
        }
    }
}
