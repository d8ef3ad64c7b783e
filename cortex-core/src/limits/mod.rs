//! Per-tenant limits: the [`Limits`] struct with Cortex's option names and defaults, the
//! table that exposes each option as a command-line flag, per-tenant [`Overrides`]
//! reloaded from the runtime configuration file, and the per-tenant ingestion
//! [`rate`] limiter.
//!
//! - `duration.rs`: the configuration duration type (`2w`, `1h30m`).
//! - `option.rs`: the option table mechanism; `config.rs`: the list of limits.
//! - `overrides.rs`: the runtime configuration file and its reloading.
//! - `rate.rs`: token buckets per tenant.

mod config;
mod duration;
mod option;
mod overrides;
pub mod rate;

use std::path::PathBuf;

pub use config::{IngestionRateStrategy, Limits};
pub use duration::{Duration, DurationError};
pub use option::{LimitOption, LimitValue};
pub use overrides::{Overrides, ReloadHandle, RuntimeConfig, parse_runtime_config, spawn_reloader};
pub use rate::{IngestionCounts, RateKind, RateLimitError, RateLimiter};

/// Why limits or the runtime configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    /// A command-line value does not parse as the option's type.
    #[error("invalid value {value:?} for flag -{flag}: {reason}")]
    InvalidFlagValue {
        /// The flag, without dashes.
        flag: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A value parses but is out of range.
    #[error("invalid limits: {key}: {reason}")]
    Invalid {
        /// The option's YAML key.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A tenant's override is out of range.
    #[error("invalid overrides for tenant {tenant:?}: {key}: {reason}")]
    InvalidOverride {
        /// The tenant.
        tenant: String,
        /// The option's YAML key.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The runtime configuration file could not be read.
    #[error("reading runtime config {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The runtime configuration is not valid YAML of the expected shape. The message
    /// names the key path and the line.
    #[error("parsing runtime config{}: {source}", file_suffix(path))]
    Parse {
        /// The file (empty when parsed from a string).
        path: PathBuf,
        /// The YAML error, with its location.
        source: serde_yaml::Error,
    },
}

/// ` <path>` for a named file, nothing for text parsed from a string.
fn file_suffix(path: &std::path::Path) -> String {
    if path.as_os_str().is_empty() {
        String::new()
    } else {
        format!(" {}", path.display())
    }
}

/// Every limit option, in declaration order.
pub fn options() -> &'static [LimitOption] {
    config::OPTIONS
}

/// The option with the given command-line flag (without dashes).
pub fn option_by_flag(flag: &str) -> Option<&'static LimitOption> {
    config::OPTIONS.iter().find(|o| o.flag == flag)
}

/// The option with the given YAML key.
pub fn option_by_key(key: &str) -> Option<&'static LimitOption> {
    config::OPTIONS.iter().find(|o| o.key == key)
}

#[cfg(test)]
mod tests;
