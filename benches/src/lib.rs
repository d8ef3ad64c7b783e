//! Shared workload generators for the criterion benches and the load tool.
