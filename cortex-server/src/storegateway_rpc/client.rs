//! [`StoreGatewayClient`]: [`StoreGatewayApi`] for a store-gateway across the network,
//! over one lazily connecting tonic channel. A `Series` answer is read to its end: the
//! series, then the queried blocks, which must come last — a stream that ends without
//! them was cut short and counts as a failed call (its blocks are retried elsewhere),
//! never as a shorter answer.

use std::time::Duration;

use cortex_core::storegateway::{
    GatewayError, GatewayFuture, LabelsRequest, LabelsResponse, SeriesRequest, SeriesResponse,
    StoreGatewayApi,
};
use tonic::Request;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

use super::MAX_MESSAGE_SIZE;
use super::convert::{
    from_status, label_names_request_to_proto, label_values_request_to_proto, push_series,
    series_from_proto, series_request_to_proto, ulids_from_proto,
};
use super::proto::series_response::Result as Item;
use super::proto::store_gateway_client::StoreGatewayClient as Raw;
use crate::ingester_rpc::ORG_ID_METADATA;

/// How a client calls its store-gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreGatewayClientConfig {
    /// Longest a call may take, the whole answer included.
    pub timeout: Duration,
    /// Longest connecting may take.
    pub connect_timeout: Duration,
}

impl Default for StoreGatewayClientConfig {
    fn default() -> Self {
        StoreGatewayClientConfig {
            timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A store-gateway across the network (see the module documentation).
#[derive(Debug, Clone)]
pub struct StoreGatewayClient {
    addr: String,
    raw: Raw<Channel>,
    timeout: Duration,
}

impl StoreGatewayClient {
    /// A client of the store-gateway at `addr` (`host:port` as the ring lists it, or an
    /// `http://` URI). Does not connect yet; must be called inside a tokio runtime.
    pub fn new(
        addr: &str,
        cfg: &StoreGatewayClientConfig,
    ) -> Result<StoreGatewayClient, GatewayError> {
        let uri = if addr.contains("://") {
            addr.to_string()
        } else {
            format!("http://{addr}")
        };
        let endpoint = Endpoint::from_shared(uri)
            .map_err(|e| GatewayError::Unavailable {
                gateway: addr.to_string(),
                reason: format!("invalid address: {e}"),
            })?
            .timeout(cfg.timeout)
            .connect_timeout(cfg.connect_timeout);
        let raw = Raw::new(endpoint.connect_lazy())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        Ok(StoreGatewayClient {
            addr: addr.to_string(),
            raw,
            timeout: cfg.timeout,
        })
    }

    /// The store-gateway's address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `msg` as a request of `tenant`, with the call's timeout.
    fn request<T>(&self, tenant: &str, msg: T) -> Result<Request<T>, GatewayError> {
        let org = MetadataValue::try_from(tenant).map_err(|_| GatewayError::Unavailable {
            gateway: self.addr.clone(),
            reason: format!("invalid tenant ID {tenant:?}"),
        })?;
        let mut req = Request::new(msg);
        req.metadata_mut().insert(ORG_ID_METADATA, org);
        req.set_timeout(self.timeout);
        Ok(req)
    }

    fn invalid(&self, reason: String) -> GatewayError {
        GatewayError::Unavailable {
            gateway: self.addr.clone(),
            reason: format!("invalid answer: {reason}"),
        }
    }

    async fn read_series(
        &self,
        tenant: &str,
        req: &SeriesRequest,
    ) -> Result<SeriesResponse, GatewayError> {
        let call = async {
            let req = self.request(tenant, series_request_to_proto(req))?;
            let mut stream = self
                .raw
                .clone()
                .series(req)
                .await
                .map_err(|s| from_status(&s, &self.addr))?
                .into_inner();
            let mut out = SeriesResponse::default();
            let mut hints = None;
            while let Some(msg) = stream
                .message()
                .await
                .map_err(|s| from_status(&s, &self.addr))?
            {
                if hints.is_some() {
                    return Err(self.invalid("series after the queried blocks".to_string()));
                }
                match msg.result {
                    Some(Item::Series(s)) => {
                        let (block, s) = series_from_proto(s).map_err(|e| self.invalid(e))?;
                        push_series(&mut out.blocks, block, s);
                    }
                    Some(Item::Hints(h)) => {
                        hints = Some(ulids_from_proto(&h.block_ids).map_err(|e| self.invalid(e))?);
                    }
                    None => return Err(self.invalid("empty message".to_string())),
                }
            }
            out.queried_blocks = hints.ok_or_else(|| {
                self.invalid("the stream ended before the queried blocks".to_string())
            })?;
            Ok(out)
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| GatewayError::Unavailable {
                gateway: self.addr.clone(),
                reason: format!("call timed out after {:?}", self.timeout),
            })?
    }
}

fn labels_response(
    client: &StoreGatewayClient,
    values: Vec<String>,
    queried: &[Vec<u8>],
) -> Result<LabelsResponse, GatewayError> {
    Ok(LabelsResponse {
        values,
        queried_blocks: ulids_from_proto(queried).map_err(|e| client.invalid(e))?,
    })
}

impl StoreGatewayApi for StoreGatewayClient {
    fn series<'a>(
        &'a self,
        tenant: &'a str,
        req: &'a SeriesRequest,
    ) -> GatewayFuture<'a, SeriesResponse> {
        Box::pin(self.read_series(tenant, req))
    }

    fn label_names<'a>(
        &'a self,
        tenant: &'a str,
        req: &'a LabelsRequest,
    ) -> GatewayFuture<'a, LabelsResponse> {
        Box::pin(async move {
            let req = self.request(tenant, label_names_request_to_proto(req))?;
            let resp = self
                .raw
                .clone()
                .label_names(req)
                .await
                .map_err(|s| from_status(&s, &self.addr))?
                .into_inner();
            labels_response(self, resp.names, &resp.queried_blocks)
        })
    }

    fn label_values<'a>(
        &'a self,
        tenant: &'a str,
        name: &'a str,
        req: &'a LabelsRequest,
    ) -> GatewayFuture<'a, LabelsResponse> {
        Box::pin(async move {
            let req = self.request(tenant, label_values_request_to_proto(name, req))?;
            let resp = self
                .raw
                .clone()
                .label_values(req)
                .await
                .map_err(|s| from_status(&s, &self.addr))?
                .into_inner();
            labels_response(self, resp.values, &resp.queried_blocks)
        })
    }
}
