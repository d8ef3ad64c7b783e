//! Wiring for the `cortex` binary: command line, configuration, HTTP and gRPC APIs, and
//! the gRPC clients of remote components ([`ingester_rpc`], [`storegateway_rpc`]).

pub mod cli;
pub mod config;
pub mod ingester_rpc;
pub mod server;
pub mod storegateway_rpc;
