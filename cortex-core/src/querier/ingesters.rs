//! [`IngestersQuerier`]: one tenant's recent data, read from the ingesters that hold
//! its replicas (Cortex's distributor queryable). Each call asks the ring for the
//! tenant's read replication set ([`IngesterRing`]), sends the call to every ingester
//! of it concurrently, and merges the answers: the RF copies of a series become one
//! series with the union of their samples, one per timestamp (the copy of the ingester
//! earliest in the set wins where copies disagree); label names and values are
//! unioned; exemplars merge like samples, one per timestamp.
//!
//! Failures are tolerated as the set allows — `max_errors` ingesters, or every
//! ingester of `max_unavailable_zones` zones — because each series then still has a
//! replica among the answers. Beyond that the call fails with
//! [`QuerierError::Ingesters`] naming the failed ingesters; it never answers with data
//! that may be missing series. Unlike Cortex, which stops at the first quorum of
//! answers, every call waits for all ingesters (bounded by the clients' timeouts), so
//! a replica that missed samples is completed by the others.
//!
//! The [`Querier`] trait is synchronous: the calls run on the tokio runtime whose
//! [`Handle`] is given at construction, driven by `Handle::block_on` on the calling
//! thread. Call it from a blocking thread (`spawn_blocking`, a plain thread), never
//! from a runtime worker: `block_on` panics there.
//!
//! The ingesters stream samples, not chunks, so of the per-query limits
//! ([`QueryLimits`]) only `max_fetched_series_per_query` applies, counted over the
//! merged series of every select of the query.

use std::sync::Arc;

use cortex_tsdb::exemplar::ExemplarSeries;
use cortex_tsdb::labels::Matcher;
use tokio::runtime::Handle;

use super::limits::{QueryLimiter, QueryLimits};
use super::replica_merge::{merge_copies, merge_exemplar_copies, union_sorted};
use super::replicas::{CallFuture, IngesterClients, IngesterRing, call_all};
use super::{Querier, QuerierError, SelectHints, Series};
use crate::ingester::api::{IngesterApi, SeriesData};
use crate::ingester::{MetadataEntry, MetadataQuery};

/// One tenant's data held by the ingesters, for one query (see the module
/// documentation).
pub struct IngestersQuerier {
    tenant: String,
    ring: Arc<dyn IngesterRing>,
    clients: Arc<dyn IngesterClients>,
    runtime: Handle,
    shard_size: usize,
    limiter: QueryLimiter,
}

impl IngestersQuerier {
    /// The querier of `tenant` over the ingesters `ring` names, reached through
    /// `clients`, with calls driven on `runtime`, enforcing `limits`. It reads the
    /// whole ring; see [`IngestersQuerier::with_shard_size`].
    pub fn new(
        tenant: &str,
        ring: Arc<dyn IngesterRing>,
        clients: Arc<dyn IngesterClients>,
        runtime: Handle,
        limits: QueryLimits,
    ) -> IngestersQuerier {
        IngestersQuerier {
            tenant: tenant.to_string(),
            ring,
            clients,
            runtime,
            shard_size: 0,
            limiter: QueryLimiter::new(limits),
        }
    }

    /// Reads only the tenant's shuffle shard of `size` ingesters (the tenant's
    /// `ingestion_tenant_shard_size`); 0 reads the whole ring.
    pub fn with_shard_size(mut self, size: usize) -> IngestersQuerier {
        self.shard_size = size;
        self
    }

    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The tenant's metric metadata matching `query`, from every ingester of its read
    /// set: the answers concatenated in set order (replicas repeat entries; callers
    /// deduplicate).
    pub fn metadata(&self, query: &MetadataQuery) -> Result<Vec<MetadataEntry>, QuerierError> {
        let lists = self.fan_out(|client, tenant| {
            Box::pin(async move { client.metadata(tenant, query).await })
        })?;
        Ok(lists.into_iter().flatten().collect())
    }

    /// The tenant's exemplars in `[start, end]` of the series matching any of
    /// `matcher_sets`, from every ingester of its read set (Cortex's
    /// `QueryExemplars`): the replicas' copies of a series merged into one, its
    /// exemplars in time order with one per timestamp, series sorted by labels.
    pub fn exemplars(
        &self,
        start: i64,
        end: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Result<Vec<ExemplarSeries>, QuerierError> {
        let copies = self.fan_out(|client, tenant| {
            Box::pin(async move { client.exemplars(tenant, start, end, matcher_sets).await })
        })?;
        Ok(merge_exemplar_copies(copies))
    }

    /// Calls every ingester of the tenant's read set with `call(client, tenant)` and
    /// returns the successful answers in set order, or the quorum error.
    fn fan_out<'c, T: Send + 'c>(
        &'c self,
        call: impl Fn(Arc<dyn IngesterApi>, &'c str) -> CallFuture<'c, T>,
    ) -> Result<Vec<T>, QuerierError> {
        let set = self.ring.read_replicas(&self.tenant, self.shard_size)?;
        let tenant = self.tenant.as_str();
        let answers = self
            .runtime
            .block_on(call_all(&set, &*self.clients, |client| {
                call(client, tenant)
            }))?;
        Ok(answers.into_iter().map(|(_, v)| v).collect())
    }
}

impl Querier for IngestersQuerier {
    fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Arc<dyn Series>>, QuerierError> {
        let (start, end) = (hints.start, hints.end);
        let copies: Vec<Vec<SeriesData>> = self.fan_out(|client, tenant| {
            Box::pin(async move {
                client
                    .query(tenant, start, end, matchers)
                    .await?
                    .collect()
                    .await
            })
        })?;
        let merged = merge_copies(copies);
        self.limiter.add_series(merged.iter().map(|s| &s.labels))?;
        Ok(merged
            .into_iter()
            .map(|s| Arc::new(s) as Arc<dyn Series>)
            .collect())
    }

    fn label_names(
        &self,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError> {
        let lists = self.fan_out(|client, tenant| {
            Box::pin(async move { client.label_names(tenant, start, end, matchers).await })
        })?;
        Ok(union_sorted(lists))
    }

    fn label_values(
        &self,
        name: &str,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError> {
        let lists = self.fan_out(|client, tenant| {
            Box::pin(async move {
                client
                    .label_values(tenant, name, start, end, matchers)
                    .await
            })
        })?;
        Ok(union_sorted(lists))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use prometheus_client::registry::Registry;
    use tokio::runtime::Runtime;

    use super::*;
    use crate::ingester::api::IngesterApiError;
    use crate::ingester::{Bucket, Ingester, IngesterConfig, PushSource, StaticLimits, TsdbConfig};
    use crate::querier::replicas::{ReplicaInstance, ReplicaSet};
    use crate::remote_write::{Exemplar, Label, Sample, TimeSeries, WriteRequest};

    /// Always the same read set.
    struct FixedRing(ReplicaSet);

    impl IngesterRing for FixedRing {
        fn read_replicas(&self, _: &str, _: usize) -> Result<ReplicaSet, QuerierError> {
            Ok(self.0.clone())
        }
    }

    fn open(dir: &std::path::Path) -> Arc<Ingester> {
        let tsdb = TsdbConfig {
            dir: dir.join("tsdb"),
            max_exemplars: 100,
            ..TsdbConfig::default()
        };
        Ingester::open(
            IngesterConfig::default(),
            tsdb,
            Arc::new(StaticLimits::default()),
            Bucket::local(&dir.join("bucket")).expect("bucket"),
            "",
            &mut Registry::default(),
        )
        .expect("ingester opens")
    }

    /// A push of series `job` with one sample and one exemplar (trace `trace`) at each
    /// of `times`.
    fn push_req<'a>(job: &'a str, times: &[i64], trace: &'a str) -> WriteRequest<'a> {
        WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![
                    Label {
                        name: "__name__",
                        value: "requests_total",
                    },
                    Label {
                        name: "job",
                        value: job,
                    },
                ]
                .into(),
                samples: times
                    .iter()
                    .map(|&timestamp| Sample {
                        timestamp,
                        value: 1.0,
                    })
                    .collect(),
                exemplars: times
                    .iter()
                    .map(|&timestamp| Exemplar {
                        labels: vec![Label {
                            name: "trace_id",
                            value: trace,
                        }],
                        value: 1.0,
                        timestamp,
                    })
                    .collect(),
                ..TimeSeries::default()
            }],
            ..WriteRequest::default()
        }
    }

    /// Three ingesters of which `down` are unreachable, tolerating one failure.
    struct Cluster {
        _dirs: Vec<tempfile::TempDir>,
        ingesters: Vec<Arc<Ingester>>,
        runtime: Runtime,
    }

    impl Cluster {
        fn new() -> Cluster {
            let dirs: Vec<_> = (0..3)
                .map(|_| tempfile::tempdir().expect("tempdir"))
                .collect();
            let ingesters = dirs.iter().map(|d| open(d.path())).collect();
            Cluster {
                _dirs: dirs,
                ingesters,
                runtime: Runtime::new().expect("runtime"),
            }
        }

        fn push(&self, i: usize, req: &WriteRequest<'_>) {
            let api: &dyn IngesterApi = self.ingesters[i].as_ref();
            self.runtime
                .block_on(api.push("t", req, PushSource::Api))
                .expect("push");
        }

        fn querier(&self, down: &[usize]) -> IngestersQuerier {
            let instances: Vec<ReplicaInstance> = (0..3)
                .map(|i| ReplicaInstance {
                    id: format!("ingester-{i}"),
                    addr: format!("ingester-{i}:9095"),
                    zone: String::new(),
                })
                .collect();
            let by_addr: HashMap<String, Arc<dyn IngesterApi>> = instances
                .iter()
                .zip(&self.ingesters)
                .enumerate()
                .filter(|(i, _)| !down.contains(i))
                .map(|(_, (inst, ing))| (inst.addr.clone(), ing.clone() as Arc<dyn IngesterApi>))
                .collect();
            let clients = move |inst: &ReplicaInstance| {
                by_addr
                    .get(&inst.addr)
                    .cloned()
                    .ok_or_else(|| IngesterApiError::Unavailable {
                        addr: inst.addr.clone(),
                        reason: "connection refused".into(),
                    })
            };
            let ring = FixedRing(ReplicaSet {
                instances,
                max_errors: 1,
                max_unavailable_zones: 0,
            });
            IngestersQuerier::new(
                "t",
                Arc::new(ring),
                Arc::new(clients),
                self.runtime.handle().clone(),
                QueryLimits::default(),
            )
        }
    }

    /// Each series' `job` and its exemplars as (timestamp, trace id).
    fn view(got: &[ExemplarSeries]) -> Vec<(String, Vec<(i64, String)>)> {
        got.iter()
            .map(|s| {
                let es = s
                    .exemplars
                    .iter()
                    .map(|e| (e.ts, e.labels.get("trace_id").unwrap_or("").to_string()))
                    .collect();
                (s.series_labels.get("job").unwrap_or("").to_string(), es)
            })
            .collect()
    }

    #[test]
    fn exemplars_of_replicas_merge_and_tolerate_one_failure() {
        let c = Cluster::new();
        let t0 = crate::ingester::tenant::now_ms() - 60_000;
        // Replica 0 missed the second exemplar of `a`; replica 1 missed `b`.
        c.push(0, &push_req("a", &[t0], "one"));
        c.push(0, &push_req("b", &[t0], "bee"));
        c.push(1, &push_req("a", &[t0, t0 + 1000], "one"));
        c.push(2, &push_req("b", &[t0], "bee"));
        let all = [vec![Matcher::equal("__name__", "requests_total")]];

        let got = c
            .querier(&[])
            .exemplars(t0, t0 + 1000, &all)
            .expect("every ingester answers");
        let want = vec![
            (
                "a".to_string(),
                vec![(t0, "one".to_string()), (t0 + 1000, "one".to_string())],
            ),
            ("b".to_string(), vec![(t0, "bee".to_string())]),
        ];
        assert_eq!(
            view(&got),
            want,
            "one series per label set, one exemplar per time"
        );

        // Ingester 0 down: the other two still hold every series.
        let got = c
            .querier(&[0])
            .exemplars(t0, t0 + 1000, &all)
            .expect("one failure is tolerated");
        assert_eq!(view(&got), want);

        let err = c
            .querier(&[0, 2])
            .exemplars(t0, t0 + 1000, &all)
            .expect_err("two failures are not");
        assert!(
            matches!(err, QuerierError::Ingesters { queried: 3, ref failed } if failed.len() == 2),
            "{err:?}"
        );
    }
}
