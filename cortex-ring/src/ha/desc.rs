//! The bytes of an elected replica in the KV store: Cortex's `ha.ReplicaDesc` protobuf
//! (`pkg/ha/ha_tracker.proto`), so a store shared with Cortex reads the same, and the
//! gossip merge rule for those values.
//!
//! ```text
//! message ReplicaDesc {
//!   string replica     = 1;   // the elected replica
//!   int64  received_at = 2;   // ms since the epoch
//!   int64  deleted_at  = 3;   // ms since the epoch, 0 while live
//! }
//! ```
//!
//! Proto3: fields holding their default (empty string, 0) are not written; int64 is a
//! plain (not zigzag) varint, so negative values take ten bytes.

use std::cmp::Ordering;
use std::time::SystemTime;

use bytes::Bytes;
use cortex_core::distributor::ha::ReplicaDesc;
use prost::Message;

use crate::kv::gossip::Merge;

/// The wire form of [`ReplicaDesc`], written out with prost's derive.
#[derive(Clone, PartialEq, prost::Message)]
struct ReplicaDescProto {
    #[prost(string, tag = "1")]
    replica: String,
    #[prost(int64, tag = "2")]
    received_at: i64,
    #[prost(int64, tag = "3")]
    deleted_at: i64,
}

/// Encodes `desc` as Cortex's `ReplicaDesc`.
pub fn encode(desc: &ReplicaDesc) -> Bytes {
    Bytes::from(
        ReplicaDescProto {
            replica: desc.replica.clone(),
            received_at: desc.received_at,
            deleted_at: desc.deleted_at,
        }
        .encode_to_vec(),
    )
}

/// Decodes Cortex's `ReplicaDesc`; malformed bytes are an error, never a panic.
pub fn decode(bytes: &[u8]) -> Result<ReplicaDesc, prost::DecodeError> {
    let p = ReplicaDescProto::decode(bytes)?;
    Ok(ReplicaDesc {
        replica: p.replica,
        received_at: p.received_at,
        deleted_at: p.deleted_at,
    })
}

/// The gossip merge rule of elected replicas: the value written last wins, that is the
/// greater `received_at` (a failover or refresh is always later than what it replaces),
/// then the greater `deleted_at` (so a mark for deletion spreads), then the greater
/// replica name, which makes the order total and the merge a maximum: commutative,
/// associative and idempotent.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReplicaDescMerge;

fn order(a: &ReplicaDesc, b: &ReplicaDesc) -> Ordering {
    (a.received_at, a.deleted_at, &a.replica).cmp(&(b.received_at, b.deleted_at, &b.replica))
}

impl Merge for ReplicaDescMerge {
    fn merge(&self, ours: &[u8], theirs: &[u8]) -> Result<Bytes, String> {
        let a = decode(ours).map_err(|e| format!("ours: {e}"))?;
        let b = decode(theirs).map_err(|e| format!("theirs: {e}"))?;
        Ok(match order(&a, &b) {
            Ordering::Less => Bytes::copy_from_slice(theirs),
            _ => Bytes::copy_from_slice(ours),
        })
    }

    fn apply_local(
        &self,
        _current: Option<&[u8]>,
        new: &[u8],
        _now: SystemTime,
    ) -> Result<Bytes, String> {
        // The local CAS read the current value, so what it wrote stands as it is.
        decode(new).map_err(|e| e.to_string())?;
        Ok(Bytes::copy_from_slice(new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(replica: &str, received_at: i64, deleted_at: i64) -> ReplicaDesc {
        ReplicaDesc {
            replica: replica.into(),
            received_at,
            deleted_at,
        }
    }

    #[test]
    fn encoding_matches_the_proto_definition() {
        // Field 1, wire type 2 (length-delimited): key 0x0a, length 2, "r1".
        // Field 2, wire type 0 (varint): key 0x10, 1000 = 0b111_1101000 -> e8 07.
        // Field 3 holds 0 and is not written.
        let bytes = encode(&desc("r1", 1000, 0));
        assert_eq!(&bytes[..], &[0x0a, 0x02, b'r', b'1', 0x10, 0xe8, 0x07]);
        assert_eq!(decode(&bytes).unwrap(), desc("r1", 1000, 0));

        // Field 3: key 0x18; 300 = 0b10_0101100 -> ac 02.
        let bytes = encode(&desc("", 1, 300));
        assert_eq!(&bytes[..], &[0x10, 0x01, 0x18, 0xac, 0x02]);

        // A negative int64 is a ten-byte varint, not zigzag.
        let bytes = encode(&desc("", -1, 0));
        let mut want = vec![0x10];
        want.extend_from_slice(&[0xff; 9]);
        want.push(0x01);
        assert_eq!(&bytes[..], &want[..]);
        assert_eq!(decode(&bytes).unwrap().received_at, -1);
    }

    #[test]
    fn decoding_reads_fields_in_any_order_and_skips_unknown_ones() {
        // deleted_at, then an unknown field 9 (varint 5), then replica "x".
        let bytes = [0x18, 0x07, 0x48, 0x05, 0x0a, 0x01, b'x'];
        assert_eq!(decode(&bytes).unwrap(), desc("x", 0, 7));
        assert_eq!(decode(&[]).unwrap(), ReplicaDesc::default());
    }

    #[test]
    fn malformed_bytes_are_errors() {
        for bad in [
            &[0x0a, 0x05, b'a'][..],       // length beyond the end
            &[0x10][..],                   // varint missing
            &[0x0a, 0x01, 0xff][..],       // not UTF-8
            &[0x10, 0xff, 0xff, 0xff][..], // truncated varint
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn merge_keeps_the_newest_and_is_commutative_and_idempotent() {
        let m = ReplicaDescMerge;
        let values = [
            encode(&desc("r1", 100, 0)),
            encode(&desc("r2", 200, 0)),
            encode(&desc("r2", 200, 250)),
            encode(&desc("r3", 200, 0)),
        ];
        let newest = |a: &Bytes, b: &Bytes| m.merge(a, b).unwrap();
        assert_eq!(
            decode(&newest(&values[0], &values[1])).unwrap().replica,
            "r2"
        );
        assert_eq!(
            decode(&newest(&values[1], &values[2])).unwrap().deleted_at,
            250
        );
        for a in &values {
            assert_eq!(&newest(a, a), a);
            for b in &values {
                assert_eq!(newest(a, b), newest(b, a));
                for c in &values {
                    assert_eq!(newest(&newest(a, b), c), newest(a, &newest(b, c)));
                }
            }
        }
        assert!(m.merge(b"\x10", &values[0]).is_err());
        assert!(m.apply_local(None, b"\x10", SystemTime::now()).is_err());
    }
}
