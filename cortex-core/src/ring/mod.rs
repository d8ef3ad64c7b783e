//! The ring's configuration, shared by the components that join or read a ring (the
//! ingester's lifecycler, distributors, queriers). The ring itself, its KV backends and
//! the lifecycler live in the `cortex-ring` crate.

pub mod config;

pub use config::{ConfigError, DEFAULT_NUM_TOKENS, KvConfig, LifecyclerConfig, RingConfig};
