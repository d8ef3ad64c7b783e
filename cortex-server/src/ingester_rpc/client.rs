//! [`IngesterClient`]: [`IngesterApi`] for an ingester across the network, over one
//! tonic channel (HTTP/2, multiplexed, cloned per call). The channel connects lazily,
//! on the first call, and reconnects by itself; every call has a timeout (sent to the
//! server as `grpc-timeout` too). For a query the timeout covers the start of the
//! answer; the stream of batches then runs as long as the caller reads it.

use std::time::Duration;

use cortex_core::ingester::api::{ApiFuture, IngesterApi, IngesterApiError, SeriesStream};
use cortex_core::ingester::metadata::{MetadataEntry, MetadataQuery};
use cortex_core::ingester::{PushSource, PushStats, UserStats};
use cortex_core::remote_write::WriteRequest;
use cortex_tsdb::exemplar::ExemplarSeries;
use cortex_tsdb::labels::{Labels, Matcher};
use tonic::Request;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

use super::convert::{
    exemplar_series_from_proto, labels_from_proto, matcher_sets_to_proto, matchers_to_proto,
    metadata_from_proto, metadata_query_to_proto, push_stats_from_proto, push_to_proto,
    series_from_proto, user_stats_from_proto,
};
use super::proto::ingester_client::IngesterClient as Raw;
use super::{MAX_MESSAGE_SIZE, ORG_ID_METADATA, proto, status};

/// How a client calls its ingester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngesterClientConfig {
    /// Longest a call may take (Cortex's `distributor.remote-timeout` default, 2s).
    pub timeout: Duration,
    /// Longest connecting may take.
    pub connect_timeout: Duration,
}

impl Default for IngesterClientConfig {
    fn default() -> Self {
        IngesterClientConfig {
            timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum IngesterClientError {
    /// The address is not a usable `host:port` (or URI).
    #[error("invalid ingester address {addr:?}: {reason}")]
    InvalidAddress {
        /// The address given.
        addr: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// An ingester across the network (see the module documentation).
#[derive(Debug, Clone)]
pub struct IngesterClient {
    addr: String,
    raw: Raw<Channel>,
    timeout: Duration,
}

impl IngesterClient {
    /// A client of the ingester at `addr` (`host:port`, as the ring lists ingesters, or
    /// an `http://` URI). Does not connect yet; must be called inside a tokio runtime.
    pub fn new(
        addr: &str,
        cfg: &IngesterClientConfig,
    ) -> Result<IngesterClient, IngesterClientError> {
        let uri = if addr.contains("://") {
            addr.to_string()
        } else {
            format!("http://{addr}")
        };
        let invalid = |reason: String| IngesterClientError::InvalidAddress {
            addr: addr.to_string(),
            reason,
        };
        let endpoint = Endpoint::from_shared(uri)
            .map_err(|e| invalid(e.to_string()))?
            .timeout(cfg.timeout)
            .connect_timeout(cfg.connect_timeout);
        let raw = Raw::new(endpoint.connect_lazy())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        Ok(IngesterClient {
            addr: addr.to_string(),
            raw,
            timeout: cfg.timeout,
        })
    }

    /// The ingester's address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `msg` as a request of `tenant`, with the call's timeout.
    fn request<T>(&self, tenant: &str, msg: T) -> Result<Request<T>, IngesterApiError> {
        let org = MetadataValue::try_from(tenant).map_err(|_| IngesterApiError::Rejected {
            status: 400,
            message: format!("invalid tenant ID {tenant:?}"),
        })?;
        let mut req = Request::new(msg);
        req.metadata_mut().insert(ORG_ID_METADATA, org);
        req.set_timeout(self.timeout);
        Ok(req)
    }

    fn error(&self, s: &tonic::Status) -> IngesterApiError {
        status::from_status(s, &self.addr, self.timeout)
    }

    fn invalid(&self, reason: String) -> IngesterApiError {
        IngesterApiError::InvalidResponse {
            addr: self.addr.clone(),
            reason,
        }
    }
}

impl IngesterApi for IngesterClient {
    fn push<'a, 'r>(
        &'a self,
        tenant: &'a str,
        req: &'a WriteRequest<'r>,
        source: PushSource,
    ) -> ApiFuture<'a, PushStats> {
        Box::pin(async move {
            let req = self.request(tenant, push_to_proto(req, source))?;
            let resp = self
                .raw
                .clone()
                .push(req)
                .await
                .map_err(|s| self.error(&s))?;
            Ok(push_stats_from_proto(resp.get_ref()))
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
            let req = self.request(
                tenant,
                proto::QueryRequest {
                    start_timestamp_ms: start,
                    end_timestamp_ms: end,
                    matchers: matchers_to_proto(matchers),
                },
            )?;
            let stream = self
                .raw
                .clone()
                .query_stream(req)
                .await
                .map_err(|s| self.error(&s))?
                .into_inner();
            let this = self.clone();
            Ok(SeriesStream::new(tokio_stream::StreamExt::map(
                stream,
                move |msg| match msg {
                    Ok(m) => m
                        .timeseries
                        .into_iter()
                        .map(series_from_proto)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| this.invalid(e)),
                    Err(s) => Err(this.error(&s)),
                },
            )))
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
            let req = self.request(
                tenant,
                proto::ExemplarQueryRequest {
                    start_timestamp_ms: start,
                    end_timestamp_ms: end,
                    matchers: matcher_sets_to_proto(matcher_sets),
                },
            )?;
            let resp = self
                .raw
                .clone()
                .query_exemplars(req)
                .await
                .map_err(|s| self.error(&s))?;
            resp.into_inner()
                .timeseries
                .into_iter()
                .map(exemplar_series_from_proto)
                .collect::<Result<_, _>>()
                .map_err(|e| self.invalid(e))
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
            let req = self.request(
                tenant,
                proto::LabelNamesRequest {
                    start_timestamp_ms: start,
                    end_timestamp_ms: end,
                    matchers: Some(proto::LabelMatchers {
                        matchers: matchers_to_proto(matchers),
                    }),
                },
            )?;
            let resp = self
                .raw
                .clone()
                .label_names(req)
                .await
                .map_err(|s| self.error(&s))?;
            Ok(resp.into_inner().label_names)
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
            let req = self.request(
                tenant,
                proto::LabelValuesRequest {
                    label_name: name.to_string(),
                    start_timestamp_ms: start,
                    end_timestamp_ms: end,
                    matchers: Some(proto::LabelMatchers {
                        matchers: matchers_to_proto(matchers),
                    }),
                },
            )?;
            let resp = self
                .raw
                .clone()
                .label_values(req)
                .await
                .map_err(|s| self.error(&s))?;
            Ok(resp.into_inner().label_values)
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
            let req = self.request(
                tenant,
                proto::MetricsForLabelMatchersRequest {
                    start_timestamp_ms: start,
                    end_timestamp_ms: end,
                    matchers_set: matcher_sets_to_proto(matcher_sets),
                },
            )?;
            let resp = self
                .raw
                .clone()
                .metrics_for_label_matchers(req)
                .await
                .map_err(|s| self.error(&s))?;
            resp.into_inner()
                .metric
                .iter()
                .map(|m| labels_from_proto(&m.labels))
                .collect::<Result<_, _>>()
                .map_err(|e| self.invalid(e))
        })
    }

    fn metadata<'a>(
        &'a self,
        tenant: &'a str,
        query: &'a MetadataQuery,
    ) -> ApiFuture<'a, Vec<MetadataEntry>> {
        Box::pin(async move {
            let req = self.request(tenant, metadata_query_to_proto(query))?;
            let resp = self
                .raw
                .clone()
                .metrics_metadata(req)
                .await
                .map_err(|s| self.error(&s))?;
            Ok(resp
                .get_ref()
                .metadata
                .iter()
                .map(metadata_from_proto)
                .collect())
        })
    }

    fn user_stats<'a>(&'a self, tenant: &'a str) -> ApiFuture<'a, UserStats> {
        Box::pin(async move {
            let req = self.request(tenant, proto::UserStatsRequest {})?;
            let resp = self
                .raw
                .clone()
                .user_stats(req)
                .await
                .map_err(|s| self.error(&s))?;
            Ok(user_stats_from_proto(resp.get_ref()))
        })
    }
}
