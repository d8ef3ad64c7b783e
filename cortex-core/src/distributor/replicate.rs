//! The replicated write path (Cortex's `Push` through `ring.DoBatch`): a validated
//! request is split by ring token into one request per ingester, the requests are sent
//! concurrently, and every series and metadata entry is tracked until a quorum of its
//! replicas stored it.
//!
//! * Tokens: a series by tenant and all its labels, a request-level metadata entry by
//!   tenant and metric family name (`token.rs`). Remote-write 2.0 metadata travels
//!   inside its series.
//! * Placement: one [`WriteRing`](super::WriteRing) snapshot per push gives each
//!   token's replicas (zone awareness and health are the ring's business). Series are
//!   grouped per ingester address; the per-ingester requests copy the series' label
//!   references and samples, never the label strings.
//! * Outcome: the push succeeds when every item reached its quorum (all replicas but
//!   the ring's `max_errors`, RF/2+1 of RF). It fails with the error of the first item
//!   that cannot reach quorum (`quorum.rs`: 4xx and 5xx counted apart, the item's last
//!   error reported) — never a partial success. A ring that cannot place a token fails
//!   the push before anything is sent.
//! * Waiting: each ingester call has the remote timeout. A failure returns at once (the
//!   calls still running are dropped); a success waits until every call answered or
//!   timed out, so slower replicas still receive the write, as Cortex keeps sending
//!   after the quorum. The calls are polled together inside the returned future — a
//!   remote client overlaps them, the local ingester does each one's blocking work when
//!   first polled — and the timeout uses Tokio's timer, so the future must run inside a
//!   Tokio runtime.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use rustc_hash::FxHashMap;

use super::quorum::{Decision, ItemQuorum};
use super::targets::{RingLookupError, RingSource, WriteTargets};
use super::token::{shard_by_all_labels, shard_by_metric_name};
use crate::ingester::api::{IngesterApi, IngesterApiError};
use crate::ingester::{PushSource, PushStats};
use crate::remote_write::WriteRequest;

/// How long one ingester call may take (Cortex's `-distributor.remote-timeout`).
pub const DEFAULT_REMOTE_TIMEOUT: Duration = Duration::from_secs(2);

/// Makes the client for the ingester at an address (`host:port` as in the ring).
pub type ClientFactory = Arc<dyn Fn(&str) -> Arc<dyn IngesterApi> + Send + Sync>;

/// Why a replicated push failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplicateError {
    /// The ring could not place the request (empty ring, too few live replicas);
    /// nothing was sent. The ring's message.
    #[error("{0}")]
    Ring(RingLookupError),
    /// A series or metadata entry could not reach a quorum of its replicas; `error` is
    /// the last failure its replicas reported (Cortex's message prefix).
    #[error("failed pushing to ingester: {error}")]
    Ingester {
        /// The ingester whose answer is reported.
        addr: String,
        /// What it answered.
        error: IngesterApiError,
    },
}

impl ReplicateError {
    /// The HTTP status of the push: the ingester's 4xx when the reported failure was a
    /// refusal (do not retry), its 5xx otherwise, and 500 when the ring failed.
    pub fn http_status(&self) -> u16 {
        match self {
            ReplicateError::Ring(_) => 500,
            ReplicateError::Ingester { error, .. } => match error.status() {
                s @ 400..=599 => s,
                _ => 500,
            },
        }
    }

    /// True when the push was refused for what it holds (4xx).
    pub fn is_client_error(&self) -> bool {
        (400..500).contains(&self.http_status())
    }
}

/// Sends validated write requests to their replicated ingesters through the ring.
pub struct Replicator {
    ring: RingSource,
    factory: ClientFactory,
    clients: Mutex<HashMap<String, Arc<dyn IngesterApi>>>,
    remote_timeout: Duration,
}

impl std::fmt::Debug for Replicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replicator")
            .field("remote_timeout", &self.remote_timeout)
            .finish_non_exhaustive()
    }
}

/// The items (indexes into series, then metadata) bound for one ingester.
struct Batch<'r> {
    addr: &'r str,
    items: Vec<usize>,
}

type Call<'f> = Pin<Box<dyn Future<Output = Result<PushStats, IngesterApiError>> + Send + 'f>>;

impl Replicator {
    /// A replicator placing writes with the ring `ring` hands out, reaching ingesters
    /// through clients `factory` makes (one per address, kept for later pushes), each
    /// call limited to `remote_timeout`.
    pub fn new(ring: RingSource, factory: ClientFactory, remote_timeout: Duration) -> Replicator {
        Replicator {
            ring,
            factory,
            clients: Mutex::new(HashMap::new()),
            remote_timeout,
        }
    }

    /// The client for the ingester at `addr`, made on first use.
    pub fn client(&self, addr: &str) -> Arc<dyn IngesterApi> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(addr) {
            return Arc::clone(c);
        }
        let c = (self.factory)(addr);
        clients.insert(addr.to_string(), Arc::clone(&c));
        c
    }

    /// Forgets the client for `addr` (an ingester that left the ring), so the next push
    /// to that address makes a new one.
    pub fn forget_client(&self, addr: &str) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.remove(addr);
    }

    /// Writes `req` (validated: labels sorted and unique) for `tenant` to a quorum of
    /// each series' and metadata entry's replicas.
    ///
    /// On success the stats count what the request carried, each series and entry once
    /// (not once per replica): a replica answers success only after storing every
    /// sample of its series, so every float and histogram sample, exemplar and
    /// metadata entry counted here was acknowledged by a quorum. The `failed_*` and
    /// `discarded` fields stay zero: refusals fail the push instead.
    pub async fn push<'r>(
        &self,
        tenant: &str,
        req: &WriteRequest<'r>,
        source: PushSource,
    ) -> Result<PushStats, ReplicateError> {
        let n_series = req.timeseries.len();
        let n_items = n_series + req.metadata.len();
        if n_items == 0 {
            return Ok(PushStats::default());
        }
        let mut tokens = Vec::with_capacity(n_items);
        tokens.extend(
            req.timeseries
                .iter()
                .map(|ts| shard_by_all_labels(tenant, &ts.labels)),
        );
        tokens.extend(
            req.metadata
                .iter()
                .map(|m| shard_by_metric_name(tenant, m.metric_family_name)),
        );

        let ring = (self.ring)(tenant);
        let mut targets = WriteTargets::default();
        ring.write_targets(&tokens, &mut targets)
            .map_err(ReplicateError::Ring)?;
        let (batches, mut items) = group(&targets, n_items)?;

        // One ingester taking everything (the single binary) gets the request itself;
        // otherwise each gets a request of its series and metadata.
        let whole = match batches.as_slice() {
            [only] => only.items.iter().copied().eq(0..n_items),
            _ => false,
        };
        let subs: Vec<Cow<'_, WriteRequest<'r>>> = if whole {
            vec![Cow::Borrowed(req)]
        } else {
            batches
                .iter()
                .map(|b| Cow::Owned(sub_request(req, n_series, &b.items)))
                .collect()
        };
        let clients: Vec<Arc<dyn IngesterApi>> =
            batches.iter().map(|b| self.client(b.addr)).collect();
        let timeout = self.remote_timeout;
        let mut calls: Vec<Option<Call<'_>>> = subs
            .iter()
            .zip(&clients)
            .zip(&batches)
            .map(|((sub, client), batch)| {
                let addr = batch.addr;
                let call: Call<'_> = Box::pin(async move {
                    match tokio::time::timeout(timeout, client.push(tenant, sub, source)).await {
                        Ok(answer) => answer,
                        Err(_) => Err(IngesterApiError::Timeout {
                            addr: addr.to_string(),
                            timeout,
                        }),
                    }
                });
                Some(call)
            })
            .collect();

        // Per batch, its error once it failed; the failing batch of the push.
        let mut errors: Vec<Option<IngesterApiError>> = vec![None; batches.len()];
        let mut undecided = n_items;
        let mut failed: Option<usize> = None;
        let mut running = calls.len();
        std::future::poll_fn(|cx| {
            for (k, (slot, batch)) in calls.iter_mut().zip(&batches).enumerate() {
                let Some(call) = slot else { continue };
                let Poll::Ready(answer) = call.as_mut().poll(cx) else {
                    continue;
                };
                *slot = None;
                running -= 1;
                let client_error = match answer {
                    Ok(_) => None,
                    Err(e) => {
                        let client = e.is_client_error();
                        if let Some(stored) = errors.get_mut(k) {
                            *stored = Some(e);
                        }
                        Some(client)
                    }
                };
                if undecided == 0 {
                    // Already succeeded: only waiting for the slower replicas.
                    continue;
                }
                for &i in &batch.items {
                    let Some(item) = items.get_mut(i) else {
                        continue;
                    };
                    let decision = match client_error {
                        None => item.record_success(),
                        Some(client) => item.record_error(k, client),
                    };
                    match decision {
                        Decision::Pending => {}
                        Decision::Succeeded => undecided -= 1,
                        Decision::Failed => {
                            failed = item.last_error();
                            return Poll::Ready(());
                        }
                    }
                }
            }
            if running == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        drop(calls);

        if undecided > 0 || failed.is_some() {
            let reported = failed.and_then(|k| Some((batches.get(k)?, errors.get_mut(k)?.take()?)));
            return Err(match reported {
                Some((batch, error)) => ReplicateError::Ingester {
                    addr: batch.addr.to_string(),
                    error,
                },
                None => {
                    ReplicateError::Ring("some series got no answer from their ingesters".into())
                }
            });
        }
        Ok(request_stats(req))
    }
}

/// Groups items per ingester address and makes each item's quorum tracker; an item
/// without any replica cannot be written and fails the push.
fn group<'r>(
    targets: &WriteTargets<'r>,
    n_items: usize,
) -> Result<(Vec<Batch<'r>>, Vec<ItemQuorum<usize>>), ReplicateError> {
    let mut slots: FxHashMap<&'r str, usize> = FxHashMap::default();
    let mut batches: Vec<Batch<'r>> = Vec::new();
    let mut items = Vec::with_capacity(n_items);
    for i in 0..n_items {
        let (addrs, max_errors) = targets
            .get(i)
            .filter(|(addrs, _)| !addrs.is_empty())
            .ok_or_else(|| {
                ReplicateError::Ring("the ring returned no ingester for a series".into())
            })?;
        items.push(ItemQuorum::new(addrs.len(), max_errors));
        for &addr in addrs {
            let slot = *slots.entry(addr).or_insert_with(|| {
                batches.push(Batch {
                    addr,
                    items: Vec::new(),
                });
                batches.len() - 1
            });
            if let Some(b) = batches.get_mut(slot) {
                b.items.push(i);
            }
        }
    }
    Ok((batches, items))
}

/// The request for one ingester: the series and metadata entries at `items`.
fn sub_request<'a>(req: &WriteRequest<'a>, n_series: usize, items: &[usize]) -> WriteRequest<'a> {
    let mut sub = WriteRequest {
        protocol: req.protocol,
        ..WriteRequest::default()
    };
    for &i in items {
        if let Some(ts) = req.timeseries.get(i) {
            sub.timeseries.push(ts.clone());
        } else if let Some(m) = i.checked_sub(n_series).and_then(|j| req.metadata.get(j)) {
            sub.metadata.push(*m);
        }
    }
    sub
}

/// What `req` carries, each series and metadata entry once.
fn request_stats(req: &WriteRequest<'_>) -> PushStats {
    let mut stats = PushStats {
        metadata: req.metadata.len() as u64,
        ..PushStats::default()
    };
    for ts in &req.timeseries {
        stats.samples += ts.samples.len() as u64;
        stats.histograms += ts.histograms.len() as u64;
        stats.exemplars += ts.exemplars.len() as u64;
        stats.metadata += u64::from(ts.metadata.is_some());
    }
    stats
}
