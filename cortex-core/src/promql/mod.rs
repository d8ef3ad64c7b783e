//! PromQL: the parser and, built on it, the query engine.

pub mod parser;
