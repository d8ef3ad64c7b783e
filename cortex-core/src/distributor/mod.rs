//! The distributor: the write path's front door. It validates a tenant's decoded
//! remote-write request against the tenant's limits (dropping what is invalid), charges
//! the tenant's ingestion rate limiters, and hands the rest to the ingester.
//!
//! Outcomes follow Cortex: over the rate limit nothing is ingested and the push fails
//! with 429; invalid series are dropped, the valid remainder is ingested, and the push
//! fails with 400 and the first problem; refusals inside the ingester (out of order,
//! series limits) are 400 too; storage failures are 5xx, which senders retry.
//!
//! In single-binary mode the ingester is the local [`Ingester`]
//! ([`Distributor::new`]). With a ring ([`Distributor::replicated`]), a [`Replicator`]
//! sends the validated request to each series' replicas and succeeds on a quorum
//! (`replicate.rs`; tokens in `token.rs`, the ring as the write path sees it in
//! `targets.rs`). With the `global` ingestion rate strategy each distributor enforces
//! its share of the tenant's rate: the limit divided by the healthy distributors, a
//! count the server keeps current ([`Distributor::with_distributor_count`]).

pub mod ha;
mod limits_adapter;
mod metrics;
mod quorum;
pub mod replicate;
pub mod targets;
pub mod token;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::runtime::Handle;

pub use limits_adapter::OverridesLimits;
pub use metrics::DistributorMetrics;
pub use replicate::{ClientFactory, DEFAULT_REMOTE_TIMEOUT, ReplicateError, Replicator};
pub use targets::{RingLookupError, RingSource, WriteRing, WriteTargets};

use crate::ingester::{Ingester, PushError, PushSource, PushStats};
use crate::limits::{Overrides, RateKind, RateLimitError, RateLimiter};
use crate::remote_write::WriteRequest;
use crate::validation::{ValidationError, validate_request};

/// Why a push failed, classified for the HTTP status it maps to.
#[derive(Debug, thiserror::Error)]
pub enum DistributorError {
    /// The request as a whole is invalid (for example a series without labels);
    /// nothing was ingested. HTTP 400.
    #[error("{0}")]
    InvalidRequest(ValidationError),
    /// Some series were invalid and dropped; the rest was ingested. HTTP 400.
    #[error("{0}")]
    Invalid(ValidationError),
    /// Over the tenant's ingestion rate; nothing was ingested. HTTP 429.
    #[error("{0}")]
    RateLimited(RateLimitError),
    /// The ingester refused or failed (400 when [`PushError::is_client_error`], else 5xx).
    #[error("{0}")]
    Ingester(PushError),
    /// A series could not reach a quorum of its ingesters, or the ring could not place
    /// it: the ingesters' 4xx when they refused the data, else 5xx.
    #[error("{0}")]
    Replicate(ReplicateError),
    /// HA deduplication: samples of a replica that is not elected (HTTP 202, dropped),
    /// a tenant over its HA cluster limit (HTTP 400, nothing ingested), or a failing
    /// store of elected replicas (HTTP 500).
    #[error("{0}")]
    Ha(ha::HaError),
}

impl DistributorError {
    /// The HTTP status this error answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            DistributorError::InvalidRequest(_) | DistributorError::Invalid(_) => 400,
            DistributorError::RateLimited(_) => 429,
            DistributorError::Ingester(PushError::Stopping) => 503,
            DistributorError::Ingester(e) if e.is_client_error() => 400,
            DistributorError::Ingester(_) => 500,
            DistributorError::Replicate(e) => e.http_status(),
            DistributorError::Ha(e) => e.http_status(),
        }
    }
}

/// What a push stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushSummary {
    /// Float samples stored.
    pub samples: u64,
    /// Native histogram samples stored.
    pub histograms: u64,
    /// Exemplars stored.
    pub exemplars: u64,
    /// Metadata entries stored.
    pub metadata: u64,
}

impl PushSummary {
    fn from_stats(s: &PushStats) -> PushSummary {
        PushSummary {
            samples: s.samples,
            histograms: s.histograms,
            exemplars: s.exemplars,
            metadata: s.metadata,
        }
    }
}

/// Where validated pushes go.
enum Forward {
    /// The ingester in this process.
    Local(Arc<Ingester>),
    /// The ingesters of the ring, through a replicator driven on `runtime`.
    Ring {
        replicator: Arc<Replicator>,
        runtime: Handle,
    },
}

/// Validates, rate-limits and forwards pushes to the ingesters.
pub struct Distributor {
    overrides: Arc<Overrides>,
    forward: Forward,
    distributors: Arc<AtomicUsize>,
    ingestion_rate: RateLimiter,
    histogram_rate: RateLimiter,
    metrics: DistributorMetrics,
    ha: Option<ha::HaTracker>,
}

impl Distributor {
    /// A distributor over `ingester`, reading limits from `overrides`.
    pub fn new(
        overrides: Arc<Overrides>,
        ingester: Arc<Ingester>,
        metrics: DistributorMetrics,
    ) -> Distributor {
        Distributor::with_forward(overrides, Forward::Local(ingester), metrics)
    }

    /// A distributor writing through `replicator` to the ring's ingesters, its calls
    /// driven on `runtime` ([`Distributor::push`] blocks on them).
    pub fn replicated(
        overrides: Arc<Overrides>,
        replicator: Arc<Replicator>,
        runtime: Handle,
        metrics: DistributorMetrics,
    ) -> Distributor {
        Distributor::with_forward(
            overrides,
            Forward::Ring {
                replicator,
                runtime,
            },
            metrics,
        )
    }

    fn with_forward(
        overrides: Arc<Overrides>,
        forward: Forward,
        metrics: DistributorMetrics,
    ) -> Distributor {
        Distributor {
            overrides,
            forward,
            distributors: Arc::new(AtomicUsize::new(1)),
            ingestion_rate: RateLimiter::new(RateKind::Ingestion),
            histogram_rate: RateLimiter::new(RateKind::NativeHistogram),
            metrics,
            ha: None,
        }
    }

    /// Turns on HA-pair deduplication (Cortex's `distributor.ha_tracker.enable_ha_tracker`)
    /// for tenants whose `accept_ha_samples` limit is set.
    pub fn with_ha_tracker(mut self) -> Distributor {
        self.ha = Some(ha::HaTracker::new());
        self
    }

    /// Shares the tenant's global ingestion rate among `count` healthy distributors
    /// (kept current by the caller, e.g. from the distributor ring); 1 by default.
    pub fn with_distributor_count(mut self, count: Arc<AtomicUsize>) -> Distributor {
        self.distributors = count;
        self
    }

    /// The metrics this distributor updates.
    pub fn metrics(&self) -> &DistributorMetrics {
        &self.metrics
    }

    /// Pushes `req` for `tenant` (already authenticated and validated as a tenant ID).
    /// `req` is validated in place. On success or partial success returns what was
    /// stored; see the module doc for the error semantics. Blocking: appends to the
    /// tenant's head and WAL, or waits for the replicas; call it from a blocking
    /// thread, never from a runtime worker.
    pub fn push(
        &self,
        tenant: &str,
        req: &mut WriteRequest<'_>,
    ) -> Result<PushSummary, DistributorError> {
        let limits = self.overrides.tenant(tenant);
        let received = received_counts(req);
        self.metrics.received(tenant, received);
        self.deduplicate(tenant, &limits, req, received.samples as u64)?;
        let validated =
            validate_request(req, &limits, now_ms()).map_err(DistributorError::InvalidRequest)?;
        for (reason, n) in validated.discarded.samples.iter() {
            self.metrics.discard_samples(reason, tenant, n);
        }
        for (reason, n) in validated.discarded.exemplars.iter() {
            self.metrics.discard_exemplars(reason, tenant, n);
        }
        for (reason, n) in validated.discarded.metadata.iter() {
            self.metrics.discard_metadata(reason, tenant, n);
        }
        let counts = validated.counts();
        if !validated.is_empty() {
            let now = Instant::now();
            let distributors = self.distributors.load(Ordering::Relaxed).max(1);
            let charged = self
                .ingestion_rate
                .check(tenant, &limits, distributors, now, counts)
                .and_then(|()| {
                    self.histogram_rate
                        .check(tenant, &limits, distributors, now, counts)
                });
            if let Err(e) = charged {
                let n = (counts.samples) as u64;
                self.metrics
                    .discard_samples(crate::validation::reason::RATE_LIMITED, tenant, n);
                return Err(DistributorError::RateLimited(e));
            }
        }
        self.metrics.accepted(tenant, counts);
        let summary = if validated.is_empty() {
            PushSummary::default()
        } else {
            self.forward(tenant, req)?
        };
        match validated.first_error {
            Some(e) => Err(DistributorError::Invalid(e)),
            None => Ok(summary),
        }
    }
}

impl Distributor {
    /// Hands the validated request to the local ingester or the ring's replicas.
    fn forward(
        &self,
        tenant: &str,
        req: &WriteRequest<'_>,
    ) -> Result<PushSummary, DistributorError> {
        match &self.forward {
            Forward::Local(ingester) => ingester
                .push(tenant, req)
                .map(|s| PushSummary::from_stats(&s))
                .map_err(DistributorError::Ingester),
            Forward::Ring {
                replicator,
                runtime,
            } => runtime
                .block_on(replicator.push(tenant, req, PushSource::Api))
                .map(|s| PushSummary::from_stats(&s))
                .map_err(DistributorError::Replicate),
        }
    }

    /// HA deduplication of a push (see [`ha`]): nothing to do without both HA labels
    /// or for tenants without `accept_ha_samples`; otherwise the request is refused
    /// when its replica is not elected, and the replica label is removed when it is.
    fn deduplicate(
        &self,
        tenant: &str,
        limits: &crate::limits::Limits,
        req: &mut WriteRequest<'_>,
        samples: u64,
    ) -> Result<(), DistributorError> {
        let Some(tracker) = &self.ha else {
            return Ok(());
        };
        if !limits.accept_ha_samples || req.timeseries.is_empty() {
            return Ok(());
        }
        let user = |extra: Option<(&str, &str)>| {
            let mut l = vec![("user".to_string(), tenant.to_string())];
            if let Some((k, v)) = extra {
                l.push((k.to_string(), v.to_string()));
            }
            l
        };
        let Some((cluster, replica)) =
            ha::find_ha_labels(req, &limits.ha_cluster_label, &limits.ha_replica_label)
        else {
            self.metrics
                .non_ha_samples
                .get_or_create(&user(None))
                .inc_by(samples);
            return Ok(());
        };
        let ha_limits = ha::HaLimits {
            failover_timeout_ms: limits.ha_tracker_failover_timeout.as_millis(),
            max_clusters: limits.ha_max_clusters,
        };
        match tracker.check(tenant, cluster, replica, now_ms(), ha_limits) {
            Ok(changed) => {
                if changed {
                    self.metrics
                        .elected_replica_changes
                        .get_or_create(&user(Some(("cluster", cluster))))
                        .inc();
                }
                ha::remove_replica_label(req, &limits.ha_replica_label);
                Ok(())
            }
            Err(e @ ha::HaError::ReplicasNotMatch { .. }) => {
                self.metrics
                    .deduped_samples
                    .get_or_create(&user(Some(("cluster", cluster))))
                    .inc_by(samples);
                Err(DistributorError::Ha(e))
            }
            Err(e @ ha::HaError::TooManyClusters { .. }) => {
                self.metrics.discard_samples(
                    crate::validation::reason::TOO_MANY_HA_CLUSTERS,
                    tenant,
                    samples,
                );
                Err(DistributorError::Ha(e))
            }
            Err(e) => Err(DistributorError::Ha(e)),
        }
    }

    /// Turns on HA-pair deduplication with `tracker`, for example one whose elected
    /// replicas live in the KV store shared by every distributor (keep a clone to call
    /// [`ha::HaTracker::sync`] and [`ha::HaTracker::cleanup`] periodically).
    pub fn with_ha(mut self, tracker: ha::HaTracker) -> Distributor {
        self.ha = Some(tracker);
        self
    }
}

/// Samples, exemplars and metadata as received, before validation.
fn received_counts(req: &WriteRequest<'_>) -> crate::limits::IngestionCounts {
    let mut c = crate::limits::IngestionCounts {
        metadata: req.metadata.len(),
        ..Default::default()
    };
    for ts in &req.timeseries {
        c.samples += ts.samples.len() + ts.histograms.len();
        c.histograms += ts.histograms.len();
        c.exemplars += ts.exemplars.len();
        c.metadata += usize::from(ts.metadata.is_some());
    }
    c
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
