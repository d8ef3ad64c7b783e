//! PromQL: the parser, the engine, and everything the engine computes with.
//!
//! - [`parser`]: query text to syntax tree, with Prometheus' errors.
//! - [`engine`]: instant and range queries over a [`crate::querier::Querier`].
//! - [`value`]: the result model (vectors, matrices, scalars, strings).
//! - [`annotations`]: warnings and info notes attached to results.
//! - [`histogram`]: native histogram arithmetic.
//! - [`promqltest`]: the `.test` language Prometheus' conformance suite is written in.

mod aggregate;
pub mod annotations;
mod binary;
pub mod engine;
pub(crate) mod functions;
pub mod histogram;
pub mod parser;
pub mod promqltest;
pub mod quantile;
pub mod value;

pub use engine::{CancelToken, Engine, EngineOpts, QueryError, QueryRange, QueryResult};
pub use value::{FPoint, HPoint, Matrix, Sample, Series, Value, Vector};
