//! The ring as the distributor's write path uses it: cortex-core's
//! [`WriteRing`] on a [`Ring`] snapshot (each token's
//! replicas from [`Ring::get`] with [`Operation::WRITE`], by address), and a
//! [`RingSource`] that hands out a [`RingClient`]'s latest snapshot.

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

/// A [`RingSource`] reading `client`'s latest snapshot on every call.
pub fn ring_source(client: Arc<RingClient>) -> RingSource {
    Arc::new(move || -> Arc<dyn WriteRing> { client.ring() })
}
