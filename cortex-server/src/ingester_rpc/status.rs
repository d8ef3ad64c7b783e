//! Errors to gRPC statuses and back, in one place.
//!
//! Cortex's ingester answers a refusal with an `httpgrpc` error whose gRPC code is the
//! HTTP status itself, so the distributor can count 4xx apart from 5xx. Standard gRPC
//! codes are a closed set here, so a status carries both: a standard code that says
//! the same thing to any gRPC client (400 → `InvalidArgument`, 429 →
//! `ResourceExhausted`, other 4xx → `FailedPrecondition`, 503 → `Unavailable`, 504 →
//! `DeadlineExceeded`, other 5xx → `Internal`) and the exact HTTP status in the
//! [`HTTP_STATUS_METADATA`] trailer. A status without that trailer (from a proxy, or
//! the transport) is classified by its code.

use std::time::Duration;

use cortex_core::ingester::api::IngesterApiError;
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

/// The trailer carrying the HTTP status of an error.
pub const HTTP_STATUS_METADATA: &str = "x-http-status";

/// The gRPC status for `e`.
pub fn to_status(e: &IngesterApiError) -> Status {
    let http = e.status();
    let code = match http {
        400 => Code::InvalidArgument,
        429 => Code::ResourceExhausted,
        401 => Code::Unauthenticated,
        402..=499 => Code::FailedPrecondition,
        503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        _ => Code::Internal,
    };
    let mut status = Status::new(code, e.to_string());
    status
        .metadata_mut()
        .insert(HTTP_STATUS_METADATA, MetadataValue::from(http));
    status
}

/// The error for a status received from the ingester at `addr` (`timeout`: the
/// call's timeout, reported when the call ran out of time).
pub fn from_status(s: &Status, addr: &str, timeout: Duration) -> IngesterApiError {
    let http = s
        .metadata()
        .get(HTTP_STATUS_METADATA)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u16>().ok())
        .filter(|c| (400..600).contains(c));
    let message = s.message().to_string();
    if let Some(status) = http {
        return if status < 500 {
            IngesterApiError::Rejected { status, message }
        } else {
            IngesterApiError::Failed { status, message }
        };
    }
    let rejected = |status| IngesterApiError::Rejected {
        status,
        message: message.clone(),
    };
    match s.code() {
        Code::InvalidArgument => rejected(400),
        Code::Unauthenticated => rejected(401),
        Code::ResourceExhausted => rejected(429),
        Code::FailedPrecondition => rejected(422),
        Code::DeadlineExceeded | Code::Cancelled => IngesterApiError::Timeout {
            addr: addr.to_string(),
            timeout,
        },
        Code::Unavailable => IngesterApiError::Unavailable {
            addr: addr.to_string(),
            reason: message,
        },
        _ => IngesterApiError::Failed {
            status: 500,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn http_statuses_survive_the_round_trip() {
        for (err, code) in [
            (
                IngesterApiError::Rejected {
                    status: 400,
                    message: "user=t: err: out of order sample".into(),
                },
                Code::InvalidArgument,
            ),
            (
                IngesterApiError::Rejected {
                    status: 429,
                    message: "slow down".into(),
                },
                Code::ResourceExhausted,
            ),
            (
                IngesterApiError::Rejected {
                    status: 422,
                    message: "limit".into(),
                },
                Code::FailedPrecondition,
            ),
            (
                IngesterApiError::Failed {
                    status: 503,
                    message: "ingester stopping".into(),
                },
                Code::Unavailable,
            ),
            (
                IngesterApiError::Failed {
                    status: 500,
                    message: "disk full".into(),
                },
                Code::Internal,
            ),
        ] {
            let s = to_status(&err);
            assert_eq!(s.code(), code, "{err:?}");
            let back = from_status(&s, "a:1", T);
            assert_eq!(back, err);
            assert_eq!(back.is_client_error(), err.is_client_error());
        }
    }

    #[test]
    fn statuses_without_http_status_are_classified_by_code() {
        let e = from_status(&Status::unavailable("connection refused"), "a:1", T);
        assert_eq!(e.status(), 503);
        assert!(matches!(e, IngesterApiError::Unavailable { .. }));
        let e = from_status(&Status::cancelled("Timeout expired"), "a:1", T);
        assert_eq!(
            e,
            IngesterApiError::Timeout {
                addr: "a:1".into(),
                timeout: T
            }
        );
        let e = from_status(&Status::invalid_argument("bad matcher"), "a:1", T);
        assert_eq!(e.status(), 400);
        let e = from_status(&Status::unknown("?"), "a:1", T);
        assert_eq!(e.status(), 500);
        // A garbled trailer is ignored.
        let mut s = Status::internal("x");
        s.metadata_mut()
            .insert(HTTP_STATUS_METADATA, MetadataValue::from_static("abc"));
        assert_eq!(from_status(&s, "a:1", T).status(), 500);
    }
}
