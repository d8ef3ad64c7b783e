//! Cortex's `store_gateway:` block: whether blocks are sharded across store-gateways,
//! and the store-gateway ring they register in (kept in the same KV store as the
//! ingester ring, under its own key).

use cortex_core::limits::Duration;
use serde::{Deserialize, Serialize};

/// `store_gateway:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreGatewayConfig {
    /// `sharding_enabled`: blocks are spread over the store-gateways by the ring (each
    /// block on `replication_factor` of them). Off: every store-gateway loads every
    /// block. The single binary always serves all blocks from its own store-gateway.
    pub sharding_enabled: bool,
    /// `sharding_strategy`: `default` (every tenant over all store-gateways) or
    /// `shuffle-sharding` (each tenant over `store_gateway_tenant_shard_size` of them).
    pub sharding_strategy: String,
    /// `sharding_ring`: the ring.
    pub sharding_ring: StoreGatewayRingConfig,
}

impl Default for StoreGatewayConfig {
    fn default() -> Self {
        StoreGatewayConfig {
            sharding_enabled: true,
            sharding_strategy: "default".into(),
            sharding_ring: StoreGatewayRingConfig::default(),
        }
    }
}

/// `store_gateway.sharding_ring:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreGatewayRingConfig {
    /// `replication_factor`: store-gateways holding each block. Default 3.
    pub replication_factor: usize,
    /// `heartbeat_period`: how often the instance refreshes its ring entry.
    pub heartbeat_period: Duration,
    /// `heartbeat_timeout`: an instance whose entry is older is unhealthy.
    pub heartbeat_timeout: Duration,
    /// `zone_awareness_enabled`: a block's replicas go to distinct zones.
    pub zone_awareness_enabled: bool,
    /// `instance_availability_zone`: this instance's zone.
    pub instance_availability_zone: String,
    /// `instance_id`: the ID in the ring (default: the hostname, then the ingester ID).
    pub instance_id: String,
    /// `instance_addr`: the address others reach this instance's gRPC port at.
    pub instance_addr: String,
    /// `num_tokens`: tokens per instance. Default 512, as Cortex's.
    pub num_tokens: usize,
}

impl Default for StoreGatewayRingConfig {
    fn default() -> Self {
        StoreGatewayRingConfig {
            replication_factor: 3,
            heartbeat_period: Duration::from_secs(15),
            heartbeat_timeout: Duration::from_secs(60),
            zone_awareness_enabled: false,
            instance_availability_zone: String::new(),
            instance_id: String::new(),
            instance_addr: String::new(),
            num_tokens: 512,
        }
    }
}

impl StoreGatewayConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !["default", "shuffle-sharding"].contains(&self.sharding_strategy.as_str()) {
            return Err((
                "store_gateway.sharding_strategy".into(),
                format!(
                    "unknown strategy {:?} (default, shuffle-sharding)",
                    self.sharding_strategy
                ),
            ));
        }
        let r = &self.sharding_ring;
        if r.replication_factor == 0 {
            return Err((
                "store_gateway.sharding_ring.replication_factor".into(),
                "must be more than 0".into(),
            ));
        }
        if r.num_tokens == 0 {
            return Err((
                "store_gateway.sharding_ring.num_tokens".into(),
                "must be more than 0".into(),
            ));
        }
        if r.heartbeat_timeout.to_std().is_zero() {
            return Err((
                "store_gateway.sharding_ring.heartbeat_timeout".into(),
                "must be more than 0".into(),
            ));
        }
        Ok(())
    }
}
