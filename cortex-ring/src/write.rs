//! The ring as the distributor's write path uses it: cortex-core's
//! [`WriteRing`] on a [`Ring`] snapshot (each token's
//! replicas from [`Ring::get`] with [`Operation::WRITE`], by address), and a
//! [`RingSource`] that hands out a [`RingClient`]'s latest snapshot — whole, or each
//! tenant's shuffle shard of it.

use std::sync::Arc;

use cortex_core::distributor::{RingLookupError, RingSource, WriteRing, WriteTargets};

use crate::client::RingClient;
use crate::desc::Operation;
use crate::ring::{GetBuffers, Ring};

impl WriteRing for Ring {
    fn write_targets<'a>(
        &'a self,
        tokens: &[u32],
        out: &mut WriteTargets<'a>,
    ) -> Result<(), RingLookupError> {
        out.clear();
        let mut buf = GetBuffers::default();
        for &token in tokens {
            let set = self.get(token, Operation::WRITE, &mut buf)?;
            // The set's instances are this snapshot's: borrow their addresses from it.
            let mut addrs = Vec::with_capacity(set.instances.len());
            for inst in &set.instances {
                let desc = self
                    .desc()
                    .ingesters
                    .get(&inst.id)
                    .ok_or(crate::ring::RingError::InstanceNotFound)?;
                addrs.push(desc.addr.as_str());
            }
            out.push(addrs, set.max_errors);
        }
        Ok(())
    }
}

/// A [`RingSource`] reading `client`'s latest snapshot on every call: every tenant
/// writes to the whole ring.
pub fn ring_source(client: Arc<RingClient>) -> RingSource {
    Arc::new(move |_: &str| -> Arc<dyn WriteRing> { client.ring() })
}

/// A [`RingSource`] writing each tenant to its shuffle shard of `client`'s latest
/// snapshot, of the size `shard_size` gives for the tenant (0: the whole ring). The
/// snapshot caches each tenant's shard until the ring changes.
pub fn sharded_ring_source(
    client: Arc<RingClient>,
    shard_size: Arc<dyn Fn(&str) -> usize + Send + Sync>,
) -> RingSource {
    Arc::new(move |tenant: &str| -> Arc<dyn WriteRing> {
        let ring = client.ring();
        match shard_size(tenant) {
            0 => ring,
            size => ring.shuffle_shard(tenant, size),
        }
    })
}
