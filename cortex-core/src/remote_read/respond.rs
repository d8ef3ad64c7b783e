//! Answering a request: response-type negotiation as Prometheus does it, then either the
//! `SAMPLES` body or the `STREAMED_XOR_CHUNKS` frame producer, with the headers each
//! needs. This is what the HTTP handler calls (in a blocking task: storage is read
//! synchronously).

use bytes::Bytes;

use super::error::RemoteReadError;
use super::sampled::sampled_body;
use super::streamed::StreamedFrames;
use super::{
    ReadOptions, ReadRequest, ResponseType, SAMPLES_CONTENT_ENCODING, SAMPLES_CONTENT_TYPE,
    STREAMED_CONTENT_TYPE,
};
use crate::querier::Querier;

/// The body of an answer.
pub enum ResponseBody<'q> {
    /// The whole `SAMPLES` body, snappy-compressed.
    Sampled(Bytes),
    /// The frames of a `STREAMED_XOR_CHUNKS` body, to be written (and flushed) one by
    /// one as they come. A frame that fails is an error after the status was sent; the
    /// server should then abort the response so the client sees a broken stream.
    Streamed(Box<StreamedFrames<'q>>),
}

/// An answer to a remote-read request: headers and body.
pub struct ReadResponse<'q> {
    /// The negotiated response type.
    pub response_type: ResponseType,
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// The `Content-Encoding` header, if any (`snappy` for `SAMPLES`).
    pub content_encoding: Option<&'static str>,
    /// The body.
    pub body: ResponseBody<'q>,
}

/// The response type Prometheus picks: the first of `accepted` it supports, `SAMPLES`
/// when the list is empty, and an error when it supports none of them.
pub fn negotiate(accepted: &[ResponseType]) -> Result<ResponseType, RemoteReadError> {
    if accepted.is_empty() {
        return Ok(ResponseType::Samples);
    }
    accepted
        .iter()
        .copied()
        .find(|t| !matches!(t, ResponseType::Unknown(_)))
        .ok_or_else(|| RemoteReadError::UnsupportedResponseTypes {
            accepted: accepted.to_vec(),
        })
}

/// Answers `req` from `querier`: negotiates the response type, then builds the
/// `SAMPLES` body (every query, under `opts.sample_limit` per query) or starts the
/// frame producer (frames of about `opts.max_bytes_in_frame`; the first query's series
/// are selected before this returns, so a storage error there comes back here).
pub fn respond<'q>(
    req: &'q ReadRequest,
    querier: &'q dyn Querier,
    opts: &ReadOptions,
) -> Result<ReadResponse<'q>, RemoteReadError> {
    let response_type = negotiate(&req.accepted_response_types)?;
    match response_type {
        ResponseType::StreamedXorChunks => Ok(ReadResponse {
            response_type,
            content_type: STREAMED_CONTENT_TYPE,
            content_encoding: None,
            body: ResponseBody::Streamed(Box::new(StreamedFrames::new(req, querier, opts)?)),
        }),
        ResponseType::Samples | ResponseType::Unknown(_) => Ok(ReadResponse {
            response_type,
            content_type: SAMPLES_CONTENT_TYPE,
            content_encoding: Some(SAMPLES_CONTENT_ENCODING),
            body: ResponseBody::Sampled(sampled_body(req, querier, opts)?),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ResponseType::{Samples, StreamedXorChunks, Unknown};

    #[test]
    fn negotiation_takes_the_first_supported_type() {
        assert_eq!(negotiate(&[]), Ok(Samples));
        assert_eq!(
            negotiate(&[StreamedXorChunks, Samples]),
            Ok(StreamedXorChunks)
        );
        assert_eq!(negotiate(&[Samples, StreamedXorChunks]), Ok(Samples));
        assert_eq!(
            negotiate(&[Unknown(9), StreamedXorChunks]),
            Ok(StreamedXorChunks)
        );
        assert_eq!(negotiate(&[Unknown(9), Samples]), Ok(Samples));
        assert_eq!(
            negotiate(&[Unknown(9), Unknown(2)]),
            Err(RemoteReadError::UnsupportedResponseTypes {
                accepted: vec![Unknown(9), Unknown(2)]
            })
        );
    }
}
