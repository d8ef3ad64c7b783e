//! The distributor's own counters, with Cortex's names: what each tenant sent
//! (`cortex_distributor_received_*`, before validation, and `cortex_distributor_*_in_total`)
//! and what was dropped before reaching the ingester.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::ingester::metrics::user_labels;
use crate::limits::IngestionCounts;

/// Label pairs of one series of a family.
type LabelPairs = Vec<(String, String)>;

/// The distributor's metrics.
#[derive(Debug, Clone, Default)]
pub struct DistributorMetrics {
    /// `cortex_distributor_samples_in_total{user}`: samples received, before validation.
    pub samples_in: Family<LabelPairs, Counter>,
    /// `cortex_distributor_exemplars_in_total{user}`.
    pub exemplars_in: Family<LabelPairs, Counter>,
    /// `cortex_distributor_metadata_in_total{user}`.
    pub metadata_in: Family<LabelPairs, Counter>,
    /// `cortex_distributor_requests_in_total{user}`.
    pub requests_in: Family<LabelPairs, Counter>,
    /// `cortex_distributor_received_samples_total{user}`: samples that passed
    /// validation and the rate limit.
    pub received_samples: Family<LabelPairs, Counter>,
    /// `cortex_distributor_received_exemplars_total{user}`.
    pub received_exemplars: Family<LabelPairs, Counter>,
    /// `cortex_distributor_received_metadata_total{user}`.
    pub received_metadata: Family<LabelPairs, Counter>,
    /// `cortex_discarded_exemplars_total{reason,user}`.
    pub discarded_exemplars: Family<LabelPairs, Counter>,
    /// `cortex_distributor_deduped_samples_total{user,cluster}`: samples of HA
    /// replicas that were not elected.
    pub deduped_samples: Family<LabelPairs, Counter>,
    /// `cortex_distributor_non_ha_samples_received_total{user}`: samples of requests
    /// without both HA labels, from tenants with HA deduplication on.
    pub non_ha_samples: Family<LabelPairs, Counter>,
    /// `cortex_ha_tracker_elected_replica_changes_total{user,cluster}`.
    pub elected_replica_changes: Family<LabelPairs, Counter>,
    /// `cortex_discarded_samples_total{reason,user}`: samples dropped by validation,
    /// the rate limit or HA limits (the ingester counts its own refusals here too).
    pub discarded_samples: Family<LabelPairs, Counter>,
    /// `cortex_discarded_metadata_total{reason,user}`.
    pub discarded_metadata: Family<LabelPairs, Counter>,
}

impl DistributorMetrics {
    /// Creates the metrics and registers them on `registry`, the discarded samples and
    /// metadata families included (a distributor without a local ingester).
    pub fn new(registry: &mut Registry) -> DistributorMetrics {
        let m = DistributorMetrics::own(registry);
        registry.register(
            "cortex_discarded_samples",
            "The total number of samples that were discarded.",
            m.discarded_samples.clone(),
        );
        registry.register(
            "cortex_discarded_metadata",
            "The total number of metadata that were discarded.",
            m.discarded_metadata.clone(),
        );
        m
    }

    /// Creates the metrics and registers them on `registry`, counting discarded
    /// samples and metadata in the families of the ingester in the same process
    /// (which registered them already).
    pub fn sharing_discards(
        registry: &mut Registry,
        ingester: &crate::ingester::metrics::IngesterMetrics,
    ) -> DistributorMetrics {
        let mut m = DistributorMetrics::own(registry);
        m.discarded_samples = ingester.discarded_samples.clone();
        m.discarded_metadata = ingester.discarded_metadata.clone();
        m
    }

    fn own(registry: &mut Registry) -> DistributorMetrics {
        let m = DistributorMetrics::default();
        let reg = |r: &mut Registry, name: &str, help: &str, f: &Family<LabelPairs, Counter>| {
            r.register(name, help, f.clone());
        };
        reg(
            registry,
            "cortex_distributor_deduped_samples",
            "The total number of deduplicated samples.",
            &m.deduped_samples,
        );
        reg(
            registry,
            "cortex_distributor_non_ha_samples_received",
            "The total number of received samples that didn't have HA labels.",
            &m.non_ha_samples,
        );
        reg(
            registry,
            "cortex_ha_tracker_elected_replica_changes",
            "The number of times the elected replica has changed for a user ID/cluster.",
            &m.elected_replica_changes,
        );
        reg(
            registry,
            "cortex_distributor_samples_in",
            "The total number of samples that have come in to the distributor, including rejected or deduped samples.",
            &m.samples_in,
        );
        reg(
            registry,
            "cortex_distributor_exemplars_in",
            "The total number of exemplars that have come in to the distributor, including rejected or deduped exemplars.",
            &m.exemplars_in,
        );
        reg(
            registry,
            "cortex_distributor_metadata_in",
            "The total number of metadata that have come in to the distributor, including rejected.",
            &m.metadata_in,
        );
        reg(
            registry,
            "cortex_distributor_requests_in",
            "The total number of requests that have come in to the distributor, including rejected or deduped requests.",
            &m.requests_in,
        );
        reg(
            registry,
            "cortex_distributor_received_samples",
            "The total number of received samples, excluding rejected and deduped samples.",
            &m.received_samples,
        );
        reg(
            registry,
            "cortex_distributor_received_exemplars",
            "The total number of received exemplars, excluding rejected and deduped exemplars.",
            &m.received_exemplars,
        );
        reg(
            registry,
            "cortex_distributor_received_metadata",
            "The total number of received metadata, excluding rejected.",
            &m.received_metadata,
        );
        reg(
            registry,
            "cortex_discarded_exemplars",
            "The total number of exemplars that were discarded.",
            &m.discarded_exemplars,
        );
        m
    }

    /// Counts a request as it came in.
    pub(super) fn received(&self, tenant: &str, c: IngestionCounts) {
        let user = user_labels(tenant);
        self.requests_in.get_or_create(&user).inc();
        self.samples_in
            .get_or_create(&user)
            .inc_by(c.samples as u64);
        self.exemplars_in
            .get_or_create(&user)
            .inc_by(c.exemplars as u64);
        self.metadata_in
            .get_or_create(&user)
            .inc_by(c.metadata as u64);
    }

    /// Counts what passed validation and the rate limit.
    pub(super) fn accepted(&self, tenant: &str, c: IngestionCounts) {
        let user = user_labels(tenant);
        self.received_samples
            .get_or_create(&user)
            .inc_by(c.samples as u64);
        self.received_exemplars
            .get_or_create(&user)
            .inc_by(c.exemplars as u64);
        self.received_metadata
            .get_or_create(&user)
            .inc_by(c.metadata as u64);
    }

    /// Counts `n` samples of `tenant` dropped for `reason`.
    pub(super) fn discard_samples(&self, reason: &str, tenant: &str, n: u64) {
        if n > 0 {
            self.discarded_samples
                .get_or_create(&reason_user(reason, tenant))
                .inc_by(n);
        }
    }

    /// Counts `n` metadata entries of `tenant` dropped for `reason`.
    pub(super) fn discard_metadata(&self, reason: &str, tenant: &str, n: u64) {
        if n > 0 {
            self.discarded_metadata
                .get_or_create(&reason_user(reason, tenant))
                .inc_by(n);
        }
    }

    /// Counts `n` exemplars of `tenant` dropped for `reason`.
    pub(super) fn discard_exemplars(&self, reason: &str, tenant: &str, n: u64) {
        self.discarded_exemplars
            .get_or_create(&vec![
                ("reason".to_string(), reason.to_string()),
                ("user".to_string(), tenant.to_string()),
            ])
            .inc_by(n);
    }
}

fn reason_user(reason: &str, tenant: &str) -> LabelPairs {
    vec![
        ("reason".to_string(), reason.to_string()),
        ("user".to_string(), tenant.to_string()),
    ]
}
