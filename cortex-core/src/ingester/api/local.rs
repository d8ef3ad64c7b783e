//! [`IngesterApi`] for the local [`Ingester`]: each call does its work when its future
//! is first polled, on the polling thread (see the [`api`](super) module on where to
//! poll). Reads go through a [`TsdbQuerier`] over the tenant's TSDB, so they see the
//! head and the local blocks; a tenant without a TSDB has no data. Query answers are
//! gathered in memory, then handed out in batches of [`QUERY_BATCH_SERIES`] series.
//! Exemplars come from the tenant's head, the only place a TSDB keeps them.

use std::collections::BTreeSet;

use cortex_tsdb::exemplar::ExemplarSeries;
use cortex_tsdb::labels::{Labels, Matcher};

use super::{
    ApiFuture, IngesterApi, IngesterApiError, QUERY_BATCH_SERIES, SeriesData, SeriesStream,
};
use crate::ingester::metadata::{MetadataEntry, MetadataQuery};
use crate::ingester::push::PushStats;
use crate::ingester::rate::PushSource;
use crate::ingester::{Ingester, UserStats};
use crate::querier::tsdb::TsdbQuerier;
use crate::querier::{Querier, QuerierError, SelectHints};
use crate::remote_write::WriteRequest;

/// Samples read from a series per call of the sample iterator.
const SAMPLE_BATCH: usize = 1024;

impl Ingester {
    fn querier(&self, tenant: &str) -> Option<TsdbQuerier> {
        self.db(tenant).map(TsdbQuerier::new)
    }

    fn query_series(
        &self,
        tenant: &str,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<SeriesData>, QuerierError> {
        let Some(q) = self.querier(tenant) else {
            return Ok(Vec::new());
        };
        let hints = SelectHints {
            start,
            end,
            ..SelectHints::default()
        };
        let mut out = Vec::new();
        for series in q.select(&hints, matchers)? {
            let mut it = series.samples();
            let mut samples = Vec::new();
            loop {
                let n = it.next_batch(&mut samples, SAMPLE_BATCH)?;
                if n == 0 || samples.last().is_some_and(|s| s.t > end) {
                    break;
                }
            }
            // Storage may return samples outside the range.
            samples.retain(|s| s.t >= start && s.t <= end);
            if !samples.is_empty() {
                out.push(SeriesData {
                    labels: series.labels().clone(),
                    samples,
                });
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    fn series_sets(
        &self,
        tenant: &str,
        start: i64,
        end: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Result<Vec<Labels>, QuerierError> {
        let Some(q) = self.querier(tenant) else {
            return Ok(Vec::new());
        };
        let hints = SelectHints {
            start,
            end,
            ..SelectHints::default()
        };
        let mut all = BTreeSet::new();
        for set in matcher_sets {
            for s in q.select(&hints, set)? {
                all.insert(s.labels().clone());
            }
        }
        Ok(all.into_iter().collect())
    }
}

fn read_err(e: QuerierError) -> IngesterApiError {
    IngesterApiError::from_querier(&e)
}

impl IngesterApi for Ingester {
    fn push<'a, 'r>(
        &'a self,
        tenant: &'a str,
        req: &'a WriteRequest<'r>,
        source: PushSource,
    ) -> ApiFuture<'a, PushStats> {
        Box::pin(async move {
            self.push_from(tenant, req, source)
                .map_err(|e| IngesterApiError::from_push(&e))
        })
    }

    fn query<'a>(
        &'a self,
        tenant: &'a str,
        start: i64,
        end: i64,
        matchers: &'a [Matcher],
    ) -> ApiFuture<'a, SeriesStream> {
        Box::pin(async move {
            let series = self
                .query_series(tenant, start, end, matchers)
                .map_err(read_err)?;
            Ok(SeriesStream::from_series(series, QUERY_BATCH_SERIES))
        })
    }

    fn exemplars<'a>(
        &'a self,
        tenant: &'a str,
        start: i64,
        end: i64,
        matcher_sets: &'a [Vec<Matcher>],
    ) -> ApiFuture<'a, Vec<ExemplarSeries>> {
        Box::pin(async move {
            let Some(db) = self.db(tenant) else {
                return Ok(Vec::new());
            };
            db.exemplars(matcher_sets, start, end)
                .map_err(|e| IngesterApiError::Failed {
                    status: 500,
                    message: e.to_string(),
                })
        })
    }

    fn label_names<'a>(
        &'a self,
        tenant: &'a str,
        start: i64,
        end: i64,
        matchers: &'a [Matcher],
    ) -> ApiFuture<'a, Vec<String>> {
        Box::pin(async move {
            match self.querier(tenant) {
                Some(q) => q.label_names(start, end, matchers).map_err(read_err),
                None => Ok(Vec::new()),
            }
        })
    }

    fn label_values<'a>(
        &'a self,
        tenant: &'a str,
        name: &'a str,
        start: i64,
        end: i64,
        matchers: &'a [Matcher],
    ) -> ApiFuture<'a, Vec<String>> {
        Box::pin(async move {
            match self.querier(tenant) {
                Some(q) => q.label_values(name, start, end, matchers).map_err(read_err),
                None => Ok(Vec::new()),
            }
        })
    }

    fn series<'a>(
        &'a self,
        tenant: &'a str,
        start: i64,
        end: i64,
        matcher_sets: &'a [Vec<Matcher>],
    ) -> ApiFuture<'a, Vec<Labels>> {
        Box::pin(async move {
            self.series_sets(tenant, start, end, matcher_sets)
                .map_err(read_err)
        })
    }

    fn metadata<'a>(
        &'a self,
        tenant: &'a str,
        query: &'a MetadataQuery,
    ) -> ApiFuture<'a, Vec<MetadataEntry>> {
        Box::pin(async move { Ok(Ingester::metadata(self, tenant, query)) })
    }

    fn user_stats<'a>(&'a self, tenant: &'a str) -> ApiFuture<'a, UserStats> {
        Box::pin(async move { Ok(Ingester::user_stats(self, tenant)) })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use prometheus_client::registry::Registry;

    use super::*;
    use crate::ingester::{Bucket, IngesterConfig, StaticLimits, TsdbConfig, testing};
    use crate::remote_write::{Label, Sample, TimeSeries};

    fn open(dir: &std::path::Path) -> Arc<Ingester> {
        let tsdb = TsdbConfig {
            dir: dir.join("tsdb"),
            max_exemplars: testing::CONFORMANCE_MAX_EXEMPLARS,
            ..TsdbConfig::default()
        };
        let bucket = Bucket::local(&dir.join("bucket")).expect("bucket");
        Ingester::open(
            IngesterConfig::default(),
            tsdb,
            Arc::new(StaticLimits::default()),
            bucket,
            "",
            &mut Registry::default(),
        )
        .expect("ingester opens")
    }

    fn one_sample(t: i64) -> WriteRequest<'static> {
        WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: "__name__",
                    value: "up",
                }]
                .into(),
                samples: vec![Sample {
                    timestamp: t,
                    value: 1.0,
                }]
                .into(),
                ..TimeSeries::default()
            }],
            ..WriteRequest::default()
        }
    }

    #[tokio::test]
    async fn local_ingester_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ing = open(dir.path());
        testing::run_conformance(ing.as_ref()).await;
    }

    #[tokio::test]
    async fn user_stats_report_rates_per_source_after_a_tick() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ing = open(dir.path());
        let api: &dyn IngesterApi = ing.as_ref();
        let t = crate::ingester::tenant::now_ms();
        api.push("t", &one_sample(t), PushSource::Api)
            .await
            .expect("push");
        api.push("t", &one_sample(t + 1), PushSource::Rule)
            .await
            .expect("push");
        assert_eq!(
            api.user_stats("t").await.expect("stats").ingestion_rate,
            0.0
        );
        ing.tick_rates();
        let s = api.user_stats("t").await.expect("stats");
        let per_sample = 1.0 / crate::ingester::rate::RATE_UPDATE_PERIOD.as_secs_f64();
        assert_eq!(s.api_ingestion_rate, per_sample);
        assert_eq!(s.rule_ingestion_rate, per_sample);
        assert_eq!(s.ingestion_rate, 2.0 * per_sample);
        assert_eq!(s.num_series, 1);
        assert_eq!(s.active_series, 1);
    }

    #[tokio::test]
    async fn push_to_a_stopping_ingester_is_a_server_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ing = open(dir.path());
        ing.shutdown().await.expect("shutdown");
        let e = IngesterApi::push(ing.as_ref(), "t", &one_sample(0), PushSource::Api)
            .await
            .expect_err("refused");
        assert_eq!(e.status(), 503);
        assert!(!e.is_client_error());
    }
}
