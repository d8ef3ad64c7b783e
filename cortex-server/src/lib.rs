//! Wiring for the `cortex` binary: command line, configuration, HTTP and gRPC APIs.

pub mod cli;
pub mod config;
pub mod server;
