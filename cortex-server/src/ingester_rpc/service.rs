//! The server side of `cortex.Ingester`: each call takes its tenant from the
//! `x-scope-orgid` metadata (Cortex's "no org id" when missing), converts the request,
//! and runs the call on the blocking pool — the local ingester reads and writes its
//! TSDBs there, as the distributor's pushes always did — and converts the answer or
//! the error ([`status::to_status`]).

use std::pin::Pin;
use std::sync::Arc;

use cortex_core::ingester::api::{IngesterApi, IngesterApiError};
use cortex_core::remote_write::decode_v1;
use futures_core::Stream;
use tokio::runtime::Handle;
use tonic::{Request, Response, Status};

use super::convert::{
    exemplar_series_to_proto, labels_to_proto, matcher_sets_from_proto, matchers_from_proto,
    metadata_query_from_proto, metadata_to_proto, push_stats_to_proto, series_to_proto,
    source_from_proto, user_stats_to_proto,
};
use super::proto::ingester_server::{Ingester, IngesterServer};
use super::{MAX_MESSAGE_SIZE, ORG_ID_METADATA, proto, status};

/// `cortex.Ingester` in front of an [`IngesterApi`] (the local ingester).
pub struct IngesterService {
    api: Arc<dyn IngesterApi>,
}

impl IngesterService {
    /// A service answering from `api`.
    pub fn new(api: Arc<dyn IngesterApi>) -> IngesterService {
        IngesterService { api }
    }

    /// The service as a tonic server, taking messages up to [`MAX_MESSAGE_SIZE`].
    pub fn into_server(self) -> IngesterServer<IngesterService> {
        IngesterServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
    }

    /// Runs `call` with the API on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&dyn IngesterApi, &Handle) -> Result<T, IngesterApiError> + Send + 'static,
    ) -> Result<T, Status> {
        let api = self.api.clone();
        let handle = Handle::current();
        tokio::task::spawn_blocking(move || call(api.as_ref(), &handle))
            .await
            .map_err(|e| Status::internal(format!("ingester call failed: {e}")))?
            .map_err(|e| status::to_status(&e))
    }
}

/// The tenant of a call.
fn tenant<T>(req: &Request<T>) -> Result<String, Status> {
    req.metadata()
        .get(ORG_ID_METADATA)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| Status::unauthenticated("no org id"))
}

fn bad_request(e: String) -> Status {
    status::to_status(&IngesterApiError::Rejected {
        status: 400,
        message: e,
    })
}

type QueryStream = Pin<Box<dyn Stream<Item = Result<proto::QueryStreamResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Ingester for IngesterService {
    async fn push(
        &self,
        request: Request<proto::PushRequest>,
    ) -> Result<Response<proto::PushResponse>, Status> {
        let tenant = tenant(&request)?;
        let msg = request.into_inner();
        let source = source_from_proto(msg.source).map_err(bad_request)?;
        let stats = self
            .blocking(move |api, handle| {
                let req =
                    decode_v1(&msg.write_request).map_err(|e| IngesterApiError::Rejected {
                        status: 400,
                        message: e.to_string(),
                    })?;
                handle.block_on(api.push(&tenant, &req, source))
            })
            .await?;
        Ok(Response::new(push_stats_to_proto(&stats)))
    }

    type QueryStreamStream = QueryStream;

    async fn query_stream(
        &self,
        request: Request<proto::QueryRequest>,
    ) -> Result<Response<QueryStream>, Status> {
        let tenant = tenant(&request)?;
        let msg = request.into_inner();
        let matchers = matchers_from_proto(&msg.matchers).map_err(bad_request)?;
        let (start, end) = (msg.start_timestamp_ms, msg.end_timestamp_ms);
        let series = self
            .blocking(move |api, handle| {
                handle.block_on(async { api.query(&tenant, start, end, &matchers).await })
            })
            .await?;
        let out = tokio_stream::StreamExt::map(series, |batch| match batch {
            Ok(b) => Ok(proto::QueryStreamResponse {
                timeseries: b.iter().map(series_to_proto).collect(),
            }),
            Err(e) => Err(status::to_status(&e)),
        });
        Ok(Response::new(Box::pin(out)))
    }

    async fn query_exemplars(
        &self,
        request: Request<proto::ExemplarQueryRequest>,
    ) -> Result<Response<proto::ExemplarQueryResponse>, Status> {
        let tenant = tenant(&request)?;
        let msg = request.into_inner();
        let sets = matcher_sets_from_proto(&msg.matchers).map_err(bad_request)?;
        let (start, end) = (msg.start_timestamp_ms, msg.end_timestamp_ms);
        let series = self
            .blocking(move |api, handle| handle.block_on(api.exemplars(&tenant, start, end, &sets)))
            .await?;
        Ok(Response::new(proto::ExemplarQueryResponse {
            timeseries: series.iter().map(exemplar_series_to_proto).collect(),
        }))
    }

    async fn label_names(
        &self,
        request: Request<proto::LabelNamesRequest>,
    ) -> Result<Response<proto::LabelNamesResponse>, Status> {
        let tenant = tenant(&request)?;
        let msg = request.into_inner();
        let matchers = msg.matchers.map(|m| m.matchers).unwrap_or_default();
        let matchers = matchers_from_proto(&matchers).map_err(bad_request)?;
        let (start, end) = (msg.start_timestamp_ms, msg.end_timestamp_ms);
        let label_names = self
            .blocking(move |api, handle| {
                handle.block_on(api.label_names(&tenant, start, end, &matchers))
            })
            .await?;
        Ok(Response::new(proto::LabelNamesResponse { label_names }))
    }

    async fn label_values(
        &self,
        request: Request<proto::LabelValuesRequest>,
    ) -> Result<Response<proto::LabelValuesResponse>, Status> {
        let tenant = tenant(&request)?;
        let msg = request.into_inner();
        let matchers = msg.matchers.map(|m| m.matchers).unwrap_or_default();
        let matchers = matchers_from_proto(&matchers).map_err(bad_request)?;
        let (start, end, name) = (msg.start_timestamp_ms, msg.end_timestamp_ms, msg.label_name);
        let label_values = self
            .blocking(move |api, handle| {
                handle.block_on(api.label_values(&tenant, &name, start, end, &matchers))
            })
            .await?;
        Ok(Response::new(proto::LabelValuesResponse { label_values }))
    }

    async fn metrics_for_label_matchers(
        &self,
        request: Request<proto::MetricsForLabelMatchersRequest>,
    ) -> Result<Response<proto::MetricsForLabelMatchersResponse>, Status> {
        let tenant = tenant(&request)?;
        let msg = request.into_inner();
        let sets = matcher_sets_from_proto(&msg.matchers_set).map_err(bad_request)?;
        let (start, end) = (msg.start_timestamp_ms, msg.end_timestamp_ms);
        let series = self
            .blocking(move |api, handle| handle.block_on(api.series(&tenant, start, end, &sets)))
            .await?;
        Ok(Response::new(proto::MetricsForLabelMatchersResponse {
            metric: series
                .iter()
                .map(|l| proto::Metric {
                    labels: labels_to_proto(l),
                })
                .collect(),
        }))
    }

    async fn metrics_metadata(
        &self,
        request: Request<proto::MetricsMetadataRequest>,
    ) -> Result<Response<proto::MetricsMetadataResponse>, Status> {
        let tenant = tenant(&request)?;
        let q = metadata_query_from_proto(request.get_ref());
        let entries = self
            .blocking(move |api, handle| handle.block_on(api.metadata(&tenant, &q)))
            .await?;
        Ok(Response::new(proto::MetricsMetadataResponse {
            metadata: entries.iter().map(metadata_to_proto).collect(),
        }))
    }

    async fn user_stats(
        &self,
        request: Request<proto::UserStatsRequest>,
    ) -> Result<Response<proto::UserStatsResponse>, Status> {
        let tenant = tenant(&request)?;
        let stats = self
            .blocking(move |api, handle| handle.block_on(api.user_stats(&tenant)))
            .await?;
        Ok(Response::new(user_stats_to_proto(&stats)))
    }
}
