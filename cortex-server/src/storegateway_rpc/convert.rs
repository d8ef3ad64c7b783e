//! Protobuf messages of `proto/storegateway.proto` to and from cortex-core's types, and
//! store-gateway errors to gRPC statuses and back. Every conversion from the wire checks
//! what it reads (block IDs are 16 bytes, matchers compile, label sets are valid, chunk
//! encodings are known) and says what is wrong instead of panicking.

use bytes::Bytes;
use cortex_core::storegateway::{
    BlockSeries, BucketChunk, BucketSeries, GatewayError, LabelsRequest, SeriesRequest,
};
use cortex_tsdb::chunkenc::Encoding;
use cortex_tsdb::ulid::Ulid;
use tonic::{Code, Status};

use super::proto;
use crate::ingester_rpc::convert::{
    labels_from_proto, labels_to_proto, matchers_from_proto, matchers_to_proto,
};

/// A block ID as 16 big-endian bytes.
pub(crate) fn ulid_to_proto(id: Ulid) -> Vec<u8> {
    id.0.to_be_bytes().to_vec()
}

/// A block ID from 16 big-endian bytes.
pub(crate) fn ulid_from_proto(b: &[u8]) -> Result<Ulid, String> {
    let a: [u8; 16] = b
        .try_into()
        .map_err(|_| format!("block ID of {} bytes, want 16", b.len()))?;
    Ok(Ulid(u128::from_be_bytes(a)))
}

pub(crate) fn ulids_to_proto(ids: &[Ulid]) -> Vec<Vec<u8>> {
    ids.iter().map(|&id| ulid_to_proto(id)).collect()
}

pub(crate) fn ulids_from_proto(ids: &[Vec<u8>]) -> Result<Vec<Ulid>, String> {
    ids.iter().map(|b| ulid_from_proto(b)).collect()
}

pub(crate) fn series_request_to_proto(r: &SeriesRequest) -> proto::SeriesRequest {
    proto::SeriesRequest {
        min_time: r.min_time,
        max_time: r.max_time,
        matchers: matchers_to_proto(&r.matchers),
        skip_chunks: r.skip_chunks,
        block_ids: ulids_to_proto(&r.block_ids),
    }
}

pub(crate) fn series_request_from_proto(r: &proto::SeriesRequest) -> Result<SeriesRequest, String> {
    Ok(SeriesRequest {
        min_time: r.min_time,
        max_time: r.max_time,
        matchers: matchers_from_proto(&r.matchers)?,
        block_ids: ulids_from_proto(&r.block_ids)?,
        skip_chunks: r.skip_chunks,
    })
}

pub(crate) fn series_to_proto(block: Ulid, s: &BucketSeries) -> proto::Series {
    proto::Series {
        block_id: ulid_to_proto(block),
        labels: labels_to_proto(&s.labels),
        chunks: s
            .chunks
            .iter()
            .map(|c| proto::Chunk {
                min_time: c.min_time,
                max_time: c.max_time,
                encoding: c.encoding as u32,
                data: c.data.to_vec(),
            })
            .collect(),
    }
}

/// One streamed series: its block and the series.
pub(crate) fn series_from_proto(s: proto::Series) -> Result<(Ulid, BucketSeries), String> {
    let block = ulid_from_proto(&s.block_id)?;
    let labels = labels_from_proto(&s.labels)?;
    let mut chunks = Vec::with_capacity(s.chunks.len());
    for c in s.chunks {
        let encoding = u8::try_from(c.encoding)
            .map_err(|_| format!("unknown chunk encoding {}", c.encoding))
            .and_then(|e| Encoding::from_u8(e).map_err(|e| e.to_string()))?;
        if c.min_time > c.max_time {
            return Err(format!(
                "chunk of block {block} ends ({}) before it starts ({})",
                c.max_time, c.min_time
            ));
        }
        chunks.push(BucketChunk {
            min_time: c.min_time,
            max_time: c.max_time,
            encoding,
            data: Bytes::from(c.data),
        });
    }
    Ok((block, BucketSeries { labels, chunks }))
}

/// Appends one streamed series to `blocks`, starting a new block entry when the block
/// changes (a block seen before, not last, is found and extended).
pub(crate) fn push_series(blocks: &mut Vec<BlockSeries>, block: Ulid, s: BucketSeries) {
    match blocks.iter_mut().rev().find(|b| b.block == block) {
        Some(b) => b.series.push(s),
        None => blocks.push(BlockSeries {
            block,
            series: vec![s],
        }),
    }
}

pub(crate) fn label_names_request_to_proto(r: &LabelsRequest) -> proto::LabelNamesRequest {
    proto::LabelNamesRequest {
        start: r.min_time,
        end: r.max_time,
        matchers: matchers_to_proto(&r.matchers),
        block_ids: ulids_to_proto(&r.block_ids),
    }
}

pub(crate) fn label_names_request_from_proto(
    r: &proto::LabelNamesRequest,
) -> Result<LabelsRequest, String> {
    Ok(LabelsRequest {
        min_time: r.start,
        max_time: r.end,
        matchers: matchers_from_proto(&r.matchers)?,
        block_ids: ulids_from_proto(&r.block_ids)?,
    })
}

pub(crate) fn label_values_request_to_proto(
    name: &str,
    r: &LabelsRequest,
) -> proto::LabelValuesRequest {
    proto::LabelValuesRequest {
        label: name.to_string(),
        start: r.min_time,
        end: r.max_time,
        matchers: matchers_to_proto(&r.matchers),
        block_ids: ulids_to_proto(&r.block_ids),
    }
}

pub(crate) fn label_values_request_from_proto(
    r: &proto::LabelValuesRequest,
) -> Result<(String, LabelsRequest), String> {
    Ok((
        r.label.clone(),
        LabelsRequest {
            min_time: r.start,
            max_time: r.end,
            matchers: matchers_from_proto(&r.matchers)?,
            block_ids: ulids_from_proto(&r.block_ids)?,
        },
    ))
}

/// The gRPC status for a store-gateway error: damaged data is `DataLoss` (the caller
/// must not retry it elsewhere and pretend nothing happened), anything else
/// `Unavailable` or `Internal` (the caller retries the blocks on another replica).
pub(crate) fn to_status(e: &GatewayError) -> Status {
    let code = match e {
        GatewayError::Corrupted { .. }
        | GatewayError::RemoteCorrupted { .. }
        | GatewayError::Meta { .. } => Code::DataLoss,
        GatewayError::Unavailable { .. } | GatewayError::Ring(_) => Code::Unavailable,
        _ => Code::Internal,
    };
    Status::new(code, e.to_string())
}

/// The error for a status received from the store-gateway at `addr`.
pub(crate) fn from_status(s: &Status, addr: &str) -> GatewayError {
    match s.code() {
        Code::DataLoss => GatewayError::RemoteCorrupted {
            gateway: addr.to_string(),
            detail: s.message().to_string(),
        },
        Code::DeadlineExceeded | Code::Cancelled => GatewayError::Unavailable {
            gateway: addr.to_string(),
            reason: format!("call timed out: {}", s.message()),
        },
        _ => GatewayError::Unavailable {
            gateway: addr.to_string(),
            reason: s.message().to_string(),
        },
    }
}

/// A status for a request that cannot be decoded.
pub(crate) fn bad_request(e: String) -> Status {
    Status::invalid_argument(e)
}

#[cfg(test)]
mod tests {
    use cortex_tsdb::labels::{Labels, MatchType, Matcher};

    use super::*;

    #[test]
    fn requests_round_trip_and_bad_block_ids_are_refused() {
        let req = SeriesRequest {
            min_time: -5,
            max_time: 10,
            matchers: vec![Matcher::new(MatchType::Regexp, "job", "a.*").unwrap()],
            block_ids: vec![Ulid(1), Ulid(u128::MAX)],
            skip_chunks: true,
        };
        let back = series_request_from_proto(&series_request_to_proto(&req)).unwrap();
        assert_eq!(back, req);
        let mut bad = series_request_to_proto(&req);
        bad.block_ids.push(vec![1, 2, 3]);
        let err = series_request_from_proto(&bad).unwrap_err();
        assert!(err.contains("3 bytes"), "{err}");
    }

    #[test]
    fn series_round_trip_and_unknown_encodings_are_refused() {
        let s = BucketSeries {
            labels: Labels::from_pairs([("__name__", "up"), ("job", "a")]).unwrap(),
            chunks: vec![BucketChunk {
                min_time: 1,
                max_time: 2,
                encoding: Encoding::Xor,
                data: Bytes::from_static(b"\x00\x01"),
            }],
        };
        let p = series_to_proto(Ulid(7), &s);
        assert_eq!(series_from_proto(p.clone()).unwrap(), (Ulid(7), s));
        let mut bad = p.clone();
        bad.chunks[0].encoding = 9;
        assert!(series_from_proto(bad).unwrap_err().contains("9"));
        let mut bad = p;
        bad.chunks[0].min_time = 3;
        assert!(series_from_proto(bad).is_err());
    }

    #[test]
    fn damaged_data_stays_damaged_across_the_wire() {
        let e = GatewayError::Corrupted {
            block: "t/01".into(),
            object: "t/01/index".into(),
            section: "series".into(),
            offset: 8,
            detail: "bad crc".into(),
        };
        let back = from_status(&to_status(&e), "gw:9095");
        assert!(back.is_corrupted());
        assert!(back.to_string().contains("t/01/index"), "{back}");
        let e = GatewayError::Unavailable {
            gateway: "x".into(),
            reason: "down".into(),
        };
        assert!(!from_status(&to_status(&e), "gw:9095").is_corrupted());
    }
}
