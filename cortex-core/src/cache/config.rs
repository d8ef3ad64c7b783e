//! The cache configuration with Cortex's names and defaults — `backend`,
//! `inmemory.max_size_bytes` and the `memcached.*` client options Cortex's blocks
//! storage caches take — and [`open_cache`], which turns it into a [`Cache`].
//!
//! `memcached.addresses` is Cortex's comma-separated list of `host:port`; the DNS
//! service-discovery prefixes Cortex also accepts (`dns+`, `dnssrv+`, `dnssrvnoa+`)
//! are refused rather than read as host names.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Cache;
use super::error::CacheError;
use super::inmemory::InMemoryCache;
use super::memcached::MemcachedCache;
use crate::ingester::duration::GoDuration;

/// Which cache to use (`backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CacheBackend {
    /// `""` (default): no cache.
    #[default]
    #[serde(rename = "")]
    None,
    /// `inmemory`: an LRU in the process.
    #[serde(rename = "inmemory")]
    InMemory,
    /// `memcached`: memcached servers.
    #[serde(rename = "memcached")]
    Memcached,
}

/// One cache's configuration (Cortex's `index_cache`, `chunks_cache`, ... blocks).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// `backend`: `""` (no cache, default), `inmemory` or `memcached`.
    pub backend: CacheBackend,
    /// `inmemory`: options of the in-process cache.
    pub inmemory: InMemoryConfig,
    /// `memcached`: options of the memcached client.
    pub memcached: MemcachedConfig,
}

/// `inmemory`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InMemoryConfig {
    /// `max_size_bytes`: the most bytes of keys and values held. Default 1 GiB
    /// (Cortex's).
    pub max_size_bytes: u64,
    /// `max_item_size`: items bigger than this are not stored; 0 means only
    /// `max_size_bytes` limits them. Default 125 MiB (Thanos' in-memory cache).
    pub max_item_size: u64,
}

impl Default for InMemoryConfig {
    fn default() -> InMemoryConfig {
        InMemoryConfig {
            max_size_bytes: 1 << 30,
            max_item_size: 125 << 20,
        }
    }
}

/// `memcached`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemcachedConfig {
    /// `addresses`: comma-separated `host:port` of the servers. Required.
    pub addresses: String,
    /// `timeout`: the longest one operation (dialling, writing the request, reading the
    /// reply) may take. Default `100ms`.
    pub timeout: GoDuration,
    /// `max_idle_connections`: idle connections kept per server. Default 16.
    pub max_idle_connections: usize,
    /// `max_async_concurrency`: concurrent store operations. Default 50.
    pub max_async_concurrency: usize,
    /// `max_async_buffer_size`: stores queued before more are dropped. Default 10000.
    pub max_async_buffer_size: usize,
    /// `max_get_multi_concurrency`: concurrent get batches; 0 is unlimited. Default 100.
    pub max_get_multi_concurrency: usize,
    /// `max_get_multi_batch_size`: keys per get request; 0 is unlimited. Default 0.
    pub max_get_multi_batch_size: usize,
    /// `max_item_size`: items bigger than this are not stored; 0 is no limit. Default
    /// 1 MiB, memcached's own default limit.
    pub max_item_size: u64,
}

impl Default for MemcachedConfig {
    fn default() -> MemcachedConfig {
        MemcachedConfig {
            addresses: String::new(),
            timeout: GoDuration(std::time::Duration::from_millis(100)),
            max_idle_connections: 16,
            max_async_concurrency: 50,
            max_async_buffer_size: 10_000,
            max_get_multi_concurrency: 100,
            max_get_multi_batch_size: 0,
            max_item_size: 1 << 20,
        }
    }
}

impl MemcachedConfig {
    /// The servers' addresses, each checked to be `host:port`.
    pub fn address_list(&self) -> Result<Vec<String>, CacheError> {
        let mut out = Vec::new();
        if self.addresses.trim().is_empty() {
            return Ok(out);
        }
        for address in self.addresses.split(',').map(str::trim) {
            let bad = |reason: &str| CacheError::BadAddress {
                address: address.to_string(),
                reason: reason.to_string(),
            };
            if address.is_empty() {
                return Err(bad("empty entry in the list"));
            }
            if ["dns+", "dnssrv+", "dnssrvnoa+"]
                .iter()
                .any(|p| address.starts_with(p))
            {
                return Err(bad(
                    "DNS service discovery is not supported; list the servers as host:port",
                ));
            }
            let Some((host, port)) = address.rsplit_once(':') else {
                return Err(bad("expected host:port"));
            };
            if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(bad("missing or invalid host"));
            }
            if port.parse::<u16>().map_or(true, |p| p == 0) {
                return Err(bad("port must be a number from 1 to 65535"));
            }
            out.push(address.to_string());
        }
        Ok(out)
    }

    /// Checks the options: at least one valid address, a non-zero timeout, at least one
    /// store worker and room for at least one queued store.
    pub fn validate(&self) -> Result<(), CacheError> {
        if self.address_list()?.is_empty() {
            return Err(CacheError::BadConfig(
                "memcached.addresses is empty: list at least one host:port".into(),
            ));
        }
        if self.timeout.is_zero() {
            return Err(CacheError::BadConfig(
                "memcached.timeout must be greater than 0".into(),
            ));
        }
        if self.max_async_concurrency == 0 {
            return Err(CacheError::BadConfig(
                "memcached.max_async_concurrency must be greater than 0".into(),
            ));
        }
        if self.max_async_buffer_size == 0 {
            return Err(CacheError::BadConfig(
                "memcached.max_async_buffer_size must be greater than 0".into(),
            ));
        }
        Ok(())
    }
}

impl CacheConfig {
    /// Checks the options of the chosen backend.
    pub fn validate(&self) -> Result<(), CacheError> {
        match self.backend {
            CacheBackend::None => Ok(()),
            CacheBackend::InMemory if self.inmemory.max_size_bytes == 0 => Err(
                CacheError::BadConfig("inmemory.max_size_bytes must be greater than 0".into()),
            ),
            CacheBackend::InMemory => Ok(()),
            CacheBackend::Memcached => self.memcached.validate(),
        }
    }
}

/// The cache `cfg` describes, named `name`; `None` when `backend` is empty. A memcached
/// cache must be opened inside a Tokio runtime.
pub fn open_cache(cfg: &CacheConfig, name: &str) -> Result<Option<Arc<dyn Cache>>, CacheError> {
    cfg.validate()?;
    Ok(match cfg.backend {
        CacheBackend::None => None,
        CacheBackend::InMemory => Some(Arc::new(InMemoryCache::new(
            name,
            cfg.inmemory.max_size_bytes,
            cfg.inmemory.max_item_size,
        ))),
        CacheBackend::Memcached => Some(Arc::new(MemcachedCache::new(name, &cfg.memcached)?)),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn defaults_are_cortexs() {
        let cfg: CacheConfig = serde_yaml::from_str("{}").unwrap();
        assert_eq!(cfg.backend, CacheBackend::None);
        assert_eq!(cfg.inmemory.max_size_bytes, 1 << 30);
        let m = &cfg.memcached;
        assert_eq!(m.timeout.0, Duration::from_millis(100));
        assert_eq!(m.max_idle_connections, 16);
        assert_eq!(m.max_async_concurrency, 50);
        assert_eq!(m.max_async_buffer_size, 10_000);
        assert_eq!(m.max_get_multi_concurrency, 100);
        assert_eq!(m.max_get_multi_batch_size, 0);
        assert_eq!(m.max_item_size, 1 << 20);
        assert!(open_cache(&cfg, "c").unwrap().is_none());
    }

    #[test]
    fn reads_cortex_yaml() {
        let cfg: CacheConfig = serde_yaml::from_str(
            "backend: memcached\nmemcached:\n  addresses: a:11211, b:11211\n  timeout: 250ms\n  max_get_multi_batch_size: 100\n",
        )
        .unwrap();
        assert_eq!(cfg.backend, CacheBackend::Memcached);
        assert_eq!(cfg.memcached.timeout.0, Duration::from_millis(250));
        assert_eq!(cfg.memcached.max_get_multi_batch_size, 100);
        assert_eq!(
            cfg.memcached.address_list().unwrap(),
            vec!["a:11211".to_string(), "b:11211".to_string()]
        );
        let yaml = serde_yaml::to_string(&cfg).unwrap();
        let back: CacheConfig = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn refuses_unknown_fields_and_backends() {
        assert!(serde_yaml::from_str::<CacheConfig>("backend: redis").is_err());
        assert!(
            serde_yaml::from_str::<CacheConfig>("memcached:\n  dns_provider_update_interval: 10s")
                .is_err()
        );
        assert!(serde_yaml::from_str::<CacheConfig>("inmemory:\n  max_size: 1").is_err());
    }

    #[test]
    fn refuses_bad_memcached_options() {
        let with = |addresses: &str| CacheConfig {
            backend: CacheBackend::Memcached,
            memcached: MemcachedConfig {
                addresses: addresses.into(),
                ..MemcachedConfig::default()
            },
            ..CacheConfig::default()
        };
        assert!(matches!(with("").validate(), Err(CacheError::BadConfig(_))));
        for bad in [
            "a",
            "a:",
            ":1",
            "a:0",
            "a:70000",
            "a:1,,b:2",
            "dns+mc:11211",
            "a b:1",
        ] {
            assert!(
                matches!(with(bad).validate(), Err(CacheError::BadAddress { .. })),
                "{bad}"
            );
        }
        assert!(with("[::1]:11211").validate().is_ok());
        let mut cfg = with("a:1");
        cfg.memcached.timeout = GoDuration::ZERO;
        assert!(matches!(cfg.validate(), Err(CacheError::BadConfig(_))));
        let mut cfg = with("a:1");
        cfg.memcached.max_async_buffer_size = 0;
        assert!(matches!(cfg.validate(), Err(CacheError::BadConfig(_))));
        let mut cfg = with("a:1");
        cfg.memcached.max_async_concurrency = 0;
        assert!(matches!(cfg.validate(), Err(CacheError::BadConfig(_))));
    }

    #[test]
    fn memcached_needs_a_runtime() {
        let cfg = MemcachedConfig {
            addresses: "127.0.0.1:1".into(),
            ..MemcachedConfig::default()
        };
        assert!(matches!(
            MemcachedCache::new("c", &cfg),
            Err(CacheError::NoRuntime { .. })
        ));
    }

    #[test]
    fn opens_an_inmemory_cache() {
        let cfg: CacheConfig =
            serde_yaml::from_str("backend: inmemory\ninmemory:\n  max_size_bytes: 1000").unwrap();
        let cache = open_cache(&cfg, "index-cache").unwrap().unwrap();
        assert_eq!(cache.name(), "index-cache");
    }
}
