//! Shared workload generators for the criterion benches and the load tools.
//!
//! - [`promql`]: in-memory series for the PromQL engine benches.
//! - [`e2e`]: the end-to-end tools' workload, remote write senders, dashboard queries and
//!   server management (`cortex-bench`, `query-latency`).

pub mod e2e;
pub mod promql;
