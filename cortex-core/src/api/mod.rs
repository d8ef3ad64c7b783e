//! Prometheus' HTTP query API, independent of any HTTP framework: parameter parsing
//! ([`params`]), the JSON bodies byte for byte as Prometheus writes them ([`encode`],
//! built from the primitives in [`json`]) and the error model ([`ApiError`]).
//!
//! The server's handlers parse requests with these, run the PromQL engine or a
//! querier, and map [`ErrorType`] to HTTP statuses.

pub mod ast_json;
pub mod encode;
mod error;
pub mod json;
pub mod params;

pub use error::{ApiError, ErrorType};
