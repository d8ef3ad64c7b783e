//! The server side of `gatewaypb.StoreGateway`: each call takes its tenant from the
//! `x-scope-orgid` metadata, converts the request, asks the store-gateway, and streams
//! the answer — one message per series, then the queried blocks — or converts the
//! error (damaged data stays distinguishable from an unavailable store-gateway).

use std::pin::Pin;
use std::sync::Arc;

use cortex_core::storegateway::StoreGatewayApi;
use futures_core::Stream;
use tonic::{Request, Response, Status};

use super::convert::{
    bad_request, label_names_request_from_proto, label_values_request_from_proto,
    series_request_from_proto, series_to_proto, to_status, ulids_to_proto,
};
use super::proto::store_gateway_server::{StoreGateway, StoreGatewayServer};
use super::{MAX_MESSAGE_SIZE, proto};
use crate::ingester_rpc::ORG_ID_METADATA;

/// `gatewaypb.StoreGateway` in front of a [`StoreGatewayApi`] (the local store-gateway).
pub struct StoreGatewayService {
    api: Arc<dyn StoreGatewayApi>,
}

impl StoreGatewayService {
    /// A service answering from `api`.
    pub fn new(api: Arc<dyn StoreGatewayApi>) -> StoreGatewayService {
        StoreGatewayService { api }
    }

    /// The service as a tonic server, taking messages up to [`MAX_MESSAGE_SIZE`].
    pub fn into_server(self) -> StoreGatewayServer<StoreGatewayService> {
        StoreGatewayServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
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

type SeriesStream = Pin<Box<dyn Stream<Item = Result<proto::SeriesResponse, Status>> + Send>>;

/// A stream over messages already made.
struct Messages(std::vec::IntoIter<proto::SeriesResponse>);

impl Stream for Messages {
    type Item = Result<proto::SeriesResponse, Status>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.next().map(Ok))
    }
}

#[tonic::async_trait]
impl StoreGateway for StoreGatewayService {
    type SeriesStream = SeriesStream;

    async fn series(
        &self,
        request: Request<proto::SeriesRequest>,
    ) -> Result<Response<SeriesStream>, Status> {
        let tenant = tenant(&request)?;
        let req = series_request_from_proto(request.get_ref()).map_err(bad_request)?;
        let resp = self
            .api
            .series(&tenant, &req)
            .await
            .map_err(|e| to_status(&e))?;
        let mut out = Vec::new();
        for b in &resp.blocks {
            for s in &b.series {
                out.push(proto::SeriesResponse {
                    result: Some(proto::series_response::Result::Series(series_to_proto(
                        b.block, s,
                    ))),
                });
            }
        }
        out.push(proto::SeriesResponse {
            result: Some(proto::series_response::Result::Hints(
                proto::QueriedBlocks {
                    block_ids: ulids_to_proto(&resp.queried_blocks),
                },
            )),
        });
        Ok(Response::new(Box::pin(Messages(out.into_iter()))))
    }

    async fn label_names(
        &self,
        request: Request<proto::LabelNamesRequest>,
    ) -> Result<Response<proto::LabelNamesResponse>, Status> {
        let tenant = tenant(&request)?;
        let req = label_names_request_from_proto(request.get_ref()).map_err(bad_request)?;
        let resp = self
            .api
            .label_names(&tenant, &req)
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(proto::LabelNamesResponse {
            names: resp.values,
            queried_blocks: ulids_to_proto(&resp.queried_blocks),
        }))
    }

    async fn label_values(
        &self,
        request: Request<proto::LabelValuesRequest>,
    ) -> Result<Response<proto::LabelValuesResponse>, Status> {
        let tenant = tenant(&request)?;
        let (name, req) =
            label_values_request_from_proto(request.get_ref()).map_err(bad_request)?;
        let resp = self
            .api
            .label_values(&tenant, &name, &req)
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(proto::LabelValuesResponse {
            values: resp.values,
            queried_blocks: ulids_to_proto(&resp.queried_blocks),
        }))
    }
}
