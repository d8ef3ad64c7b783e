//! The query API's error: Prometheus' `errorType` and the message, and how engine and
//! storage errors map onto them. The HTTP status for each type is chosen in one place
//! in the server.

use crate::promql::QueryError;
use crate::querier::QuerierError;

/// Prometheus' `errorType` of a failed API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// `bad_data`: the request is malformed (HTTP 400).
    BadData,
    /// `execution`: the query failed while running, or hit a limit (HTTP 422).
    Execution,
    /// `timeout`: the query ran out of time (HTTP 503).
    Timeout,
    /// `canceled`: the client went away (HTTP 499).
    Canceled,
    /// `internal`: our own fault (HTTP 500).
    Internal,
    /// `unavailable`: a dependency is not ready (HTTP 503).
    Unavailable,
    /// `not_found` (HTTP 404).
    NotFound,
}

impl ErrorType {
    /// The name in the JSON envelope.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::Internal => "internal",
            ErrorType::Unavailable => "unavailable",
            ErrorType::NotFound => "not_found",
        }
    }
}

/// A failed API call: its type and the message shown to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.as_str())]
pub struct ApiError {
    /// The error type.
    pub kind: ErrorType,
    /// The message (`error` in the envelope).
    pub message: String,
}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorType, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
        }
    }

    /// A `bad_data` error.
    pub fn bad_data(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorType::BadData, message)
    }

    /// A `bad_data` error about one parameter, worded as Prometheus words it:
    /// `invalid parameter "step": <reason>`.
    pub fn invalid_param(param: &str, reason: impl std::fmt::Display) -> ApiError {
        ApiError::bad_data(format!("invalid parameter \"{param}\": {reason}"))
    }

    /// An `execution` error.
    pub fn execution(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorType::Execution, message)
    }

    /// An `internal` error.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorType::Internal, message)
    }

    /// The error of a failed query: timeouts and cancellation by their type, storage
    /// failures as `internal` (limits reached in storage as `execution`), everything
    /// else the engine refuses as `execution`.
    pub fn from_query(e: QueryError) -> ApiError {
        let kind = match &e {
            QueryError::Timeout => ErrorType::Timeout,
            QueryError::Canceled => ErrorType::Canceled,
            QueryError::Parse(_) | QueryError::InvalidRangeType(_) => ErrorType::BadData,
            QueryError::Storage(s) => return ApiError::from_storage(s.clone()),
            QueryError::TooManySamples | QueryError::Eval(_) => ErrorType::Execution,
        };
        ApiError::new(kind, e.to_string())
    }

    /// The error of a failed storage read outside the engine (label and series
    /// lookups).
    pub fn from_storage(e: QuerierError) -> ApiError {
        let kind = if e.is_limit() {
            ErrorType::Execution
        } else {
            ErrorType::Internal
        };
        ApiError::new(kind, e.to_string())
    }
}
