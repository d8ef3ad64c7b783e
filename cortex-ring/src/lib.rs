//! The Cortex hash ring: instance descriptors, tokens, replication sets with quorum,
//! zone awareness, shuffle sharding, the lifecycler and KV backends.
//!
//! The crate is being built up issue by issue; what is here works, and nothing here
//! pretends to.
