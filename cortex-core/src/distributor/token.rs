//! Ring tokens for what the distributor writes: a series' token hashes the tenant ID and
//! every label name and value in order (Cortex's `shardByAllLabels`); a metadata entry's
//! hashes the tenant ID and the metric family name (`shardByMetricName`).
//!
//! The hash is 32-bit FNV-1 (multiply, then xor each byte — not FNV-1a) over the bytes
//! of the strings one after another, with no separators, exactly as Cortex's
//! `HashNew32`/`HashAdd32` feed it, so a series lands on the same ingesters as in a
//! Cortex cluster with the same ring. Labels must already be sorted (validation does
//! that): the same set in another order gives another token.

use crate::remote_write::Label;

const OFFSET32: u32 = 2_166_136_261;
const PRIME32: u32 = 16_777_619;

/// Adds the bytes of `s` to the FNV-1 hash `h`.
fn hash_add(mut h: u32, s: &str) -> u32 {
    for &b in s.as_bytes() {
        h = h.wrapping_mul(PRIME32);
        h ^= u32::from(b);
    }
    h
}

/// The hash of the tenant ID alone, the start of every token (Cortex's `shardByUser`).
pub fn shard_by_user(tenant: &str) -> u32 {
    hash_add(OFFSET32, tenant)
}

/// The token of a series: the tenant ID, then each label's name and value in the order
/// given (Cortex's `shardByAllLabels`).
pub fn shard_by_all_labels(tenant: &str, labels: &[Label<'_>]) -> u32 {
    labels.iter().fold(shard_by_user(tenant), |h, l| {
        hash_add(hash_add(h, l.name), l.value)
    })
}

/// The token of a metadata entry: the tenant ID, then the metric family name (Cortex's
/// `shardByMetricName`).
pub fn shard_by_metric_name(tenant: &str, metric_family_name: &str) -> u32 {
    hash_add(shard_by_user(tenant), metric_family_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label<'a>(name: &'a str, value: &'a str) -> Label<'a> {
        Label { name, value }
    }

    #[test]
    fn hash_is_fnv1_32_over_the_concatenated_bytes() {
        // The FNV-1 32-bit reference values: "" is the offset basis, "a" = 0x050c5d7e,
        // "foobar" = 0x31f0b262 (FNV-1a would give 0xe40c292c and 0xbf9cf968).
        assert_eq!(shard_by_user(""), 0x811c_9dc5);
        assert_eq!(shard_by_user("a"), 0x050c_5d7e);
        assert_eq!(shard_by_user("foobar"), 0x31f0_b262);
        // Tenant, name and value are fed back to back without separators.
        assert_eq!(shard_by_all_labels("foo", &[label("b", "ar")]), 0x31f0_b262);
        assert_eq!(shard_by_all_labels("fo", &[label("o", "bar")]), 0x31f0_b262);
        assert_eq!(shard_by_metric_name("foo", "bar"), 0x31f0_b262);
        assert_eq!(shard_by_all_labels("foobar", &[]), 0x31f0_b262);
    }

    #[test]
    fn series_tokens_depend_on_tenant_labels_and_order() {
        let a = [label("__name__", "up"), label("job", "x")];
        let b = [label("job", "x"), label("__name__", "up")];
        let t = shard_by_all_labels("user-1", &a);
        assert_eq!(t, shard_by_all_labels("user-1", &a));
        assert_ne!(t, shard_by_all_labels("user-2", &a));
        assert_ne!(t, shard_by_all_labels("user-1", &b));
        assert_ne!(t, shard_by_all_labels("user-1", &a[..1]));
        // Hand-computed: FNV-1 of "user-1__name__up" is 0xd2fba2d0.
        assert_eq!(shard_by_all_labels("user-1", &a[..1]), 0xd2fb_a2d0);
    }
}
