//! The end-to-end load tools' parts: a workload of realistic series, its remote write
//! bodies, concurrent senders, dashboard range queries, and the servers under test.
//!
//! - [`workload`]: which series exist at each round, their labels and values;
//! - [`bodies`]: remote write 1.0 request bodies of a workload, sharded by sender;
//! - [`send`]: concurrent, order-keeping senders with per-status counts;
//! - [`dashboard`]: dashboard range queries and their latency quantiles;
//! - [`servers`]: starting cortex, Prometheus and VictoriaMetrics, and `/proc` usage;
//! - [`http`]: the small HTTP/1.1 client they share.

pub mod bodies;
pub mod dashboard;
pub mod http;
pub mod send;
pub mod servers;
pub mod workload;
