//! Shared workload generators for the criterion benches and the load tool.
//!
//! - [`promql`]: in-memory series for the PromQL engine benches.

pub mod promql;
