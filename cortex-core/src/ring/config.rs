//! Ring and lifecycler configuration with Cortex's YAML names and defaults
//! (`ingester.lifecycler.*`, `ingester.lifecycler.ring.*`), validated on load.
//!
//! Durations are Prometheus duration strings (`5s`, `1m`). Options Cortex has that this
//! crate does not implement yet (token files, consul, multi, etcd TLS and auth) are
//! absent rather than accepted and ignored, so a config using them fails loudly.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::limits::Duration;

/// Tokens each instance owns by default.
pub const DEFAULT_NUM_TOKENS: usize = 128;

/// The most tokens one instance may claim.
pub const MAX_NUM_TOKENS: usize = 1 << 16;

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `replication_factor` is 0 (Cortex's message).
    #[error("ReplicationFactor must be greater than zero: {0}")]
    ReplicationFactor(usize),
    /// `kvstore.store` names a backend this build does not have.
    #[error("invalid kvstore.store {0:?}: supported values are inmemory, etcd, memberlist")]
    UnknownStore(String),
    /// `kvstore.store` is `etcd` but `kvstore.etcd.endpoints` is empty.
    #[error("kvstore.store is etcd but kvstore.etcd.endpoints is empty")]
    NoEtcdEndpoints,
    /// `kvstore.etcd.max_retries` is 0, so no operation would ever be tried.
    #[error("kvstore.etcd.max_retries must be greater than zero")]
    EtcdMaxRetries,
    /// `kvstore.store` is `memberlist` but an interval or count it needs is zero.
    #[error("kvstore.memberlist.{0} must be greater than zero")]
    MemberlistZero(&'static str),
    /// `num_tokens` is 0 or absurdly large.
    #[error("num_tokens must be between 1 and {MAX_NUM_TOKENS}, got {0}")]
    NumTokens(usize),
    /// `heartbeat_period` is zero, so the instance would go unhealthy.
    #[error("heartbeat_period must be greater than zero")]
    HeartbeatPeriod,
    /// `id` is empty and the host name could not be read.
    #[error("the instance id is empty: set ingester.lifecycler.id")]
    EmptyId,
    /// `address` is empty, so there is nothing to advertise.
    #[error("the instance address is empty: set ingester.lifecycler.address")]
    EmptyAddress,
    /// `tokens_generator_strategy` is neither `random` nor `minimize-spread` (Cortex's
    /// message).
    #[error("invalid token generator strategy")]
    TokensGeneratorStrategy(String),
}

/// The `kvstore.store` value selecting the in-process store.
pub const STORE_INMEMORY: &str = "inmemory";

/// The `kvstore.store` value selecting etcd.
pub const STORE_ETCD: &str = "etcd";

/// The `kvstore.store` value selecting the gossip store run by the processes themselves.
pub const STORE_MEMBERLIST: &str = "memberlist";

/// `tokens_generator_strategy` value for random tokens (the default).
pub const RANDOM_TOKEN_STRATEGY: &str = "random";

/// `tokens_generator_strategy` value for tokens placed to even out ownership.
pub const MINIMIZE_SPREAD_TOKEN_STRATEGY: &str = "minimize-spread";

/// Where the ring is stored (`kvstore`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KvConfig {
    /// The backend: `inmemory`, `etcd` or `memberlist` (Cortex's `-ring.store`).
    pub store: String,
    /// Prefix for the keys in the store; should end with `/`.
    pub prefix: String,
    /// The etcd client, used when `store` is `etcd`.
    pub etcd: EtcdConfig,
    /// The gossip store, used when `store` is `memberlist`.
    pub memberlist: MemberlistConfig,
}

impl Default for KvConfig {
    fn default() -> Self {
        KvConfig {
            store: STORE_INMEMORY.to_string(),
            prefix: "collectors/".to_string(),
            etcd: EtcdConfig::default(),
            memberlist: MemberlistConfig::default(),
        }
    }
}

impl KvConfig {
    /// Checks the store is one this build has and its settings can work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.store.as_str() {
            STORE_INMEMORY => Ok(()),
            STORE_ETCD => self.etcd.validate(),
            STORE_MEMBERLIST => self.memberlist.validate(),
            other => Err(ConfigError::UnknownStore(other.to_string())),
        }
    }
}

/// The etcd client (`kvstore.etcd`, Cortex's `-etcd.*` flags).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EtcdConfig {
    /// The etcd endpoints to connect to (`host:port` or `http://host:port`); a YAML list
    /// or a comma-separated string.
    #[serde(deserialize_with = "de_list")]
    pub endpoints: Vec<String>,
    /// The dial timeout for the etcd connection.
    pub dial_timeout: Duration,
    /// The maximum number of retries to do for failed ops.
    pub max_retries: usize,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        EtcdConfig {
            endpoints: Vec::new(),
            dial_timeout: Duration::from_secs(10),
            max_retries: 10,
        }
    }
}

impl EtcdConfig {
    /// Checks there is somewhere to connect to and something to try.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.endpoints.is_empty() {
            return Err(ConfigError::NoEtcdEndpoints);
        }
        if self.max_retries == 0 {
            return Err(ConfigError::EtcdMaxRetries);
        }
        Ok(())
    }
}

/// The gossip store (`kvstore.memberlist`, Cortex's `-memberlist.*` flags): every
/// process keeps a replica of the store and exchanges changes with its peers over TCP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemberlistConfig {
    /// Name of this node in the cluster; empty uses the host name.
    pub node_name: String,
    /// Add a random suffix to the node name, so a restarted process is a new member.
    pub randomize_node_name: bool,
    /// Other cluster members to join (`host:port`); a YAML list or a comma-separated
    /// string. A member without a port uses `bind_port`.
    #[serde(deserialize_with = "de_list")]
    pub join_members: Vec<String>,
    /// IP addresses to listen on for gossip; only the first is used, empty listens on
    /// every interface.
    #[serde(deserialize_with = "de_list")]
    pub bind_addr: Vec<String>,
    /// The port to listen on for gossip; 0 picks a free port.
    pub bind_port: u16,
    /// The address advertised to other members; empty advertises the bind address (or,
    /// when that is every interface, the address peers see the connection come from).
    pub advertise_addr: String,
    /// The port advertised to other members; 0 advertises the port listened on.
    pub advertise_port: u16,
    /// How often to probe the member heard from least recently.
    pub gossip_interval: Duration,
    /// How many members each local change is pushed to right away.
    pub gossip_nodes: usize,
    /// How often to exchange the full state with a random member.
    pub pull_push_interval: Duration,
    /// A member not heard from for this long is dropped from the member list.
    pub gossip_to_dead_nodes_time: Duration,
    /// The timeout for connecting to a member and for each exchange with it.
    pub stream_timeout: Duration,
    /// How long LEFT instances stay in the ring as tombstones before being removed.
    pub left_ingesters_timeout: Duration,
    /// How long deleted keys are remembered, so the deletion reaches every member.
    pub tombstone_timeout: Duration,
}

impl Default for MemberlistConfig {
    fn default() -> Self {
        MemberlistConfig {
            node_name: String::new(),
            randomize_node_name: true,
            join_members: Vec::new(),
            bind_addr: Vec::new(),
            bind_port: 7946,
            advertise_addr: String::new(),
            advertise_port: 0,
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: 3,
            pull_push_interval: Duration::from_secs(30),
            gossip_to_dead_nodes_time: Duration::from_secs(30),
            stream_timeout: Duration::from_secs(10),
            left_ingesters_timeout: Duration::from_secs(5 * 60),
            tombstone_timeout: Duration::from_secs(5 * 60),
        }
    }
}

impl MemberlistConfig {
    /// Checks every interval and count the protocol relies on is set.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let zero = [
            ("gossip_interval", self.gossip_interval.is_zero()),
            ("gossip_nodes", self.gossip_nodes == 0),
            ("pull_push_interval", self.pull_push_interval.is_zero()),
            (
                "gossip_to_dead_nodes_time",
                self.gossip_to_dead_nodes_time.is_zero(),
            ),
            ("stream_timeout", self.stream_timeout.is_zero()),
        ];
        match zero.into_iter().find(|(_, z)| *z) {
            Some((name, _)) => Err(ConfigError::MemberlistZero(name)),
            None => Ok(()),
        }
    }
}

/// A list given as a YAML sequence or as one comma-separated string (the flag form).
fn de_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        Many(Vec<String>),
        One(String),
    }
    let items = match List::deserialize(d)? {
        List::Many(v) => v,
        List::One(s) => s.split(',').map(String::from).collect(),
    };
    Ok(items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect())
}

/// How clients read the ring (`ring` in Cortex's config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RingConfig {
    /// The KV store holding the ring.
    pub kvstore: KvConfig,
    /// Instances that have not heartbeated for this long are unhealthy; 0 disables.
    pub heartbeat_timeout: Duration,
    /// How many instances each key is written to and read from.
    pub replication_factor: usize,
    /// Replicate across availability zones (at most one copy per zone).
    pub zone_awareness_enabled: bool,
    /// Zones whose instances are ignored, comma-separated in YAML.
    #[serde(serialize_with = "ser_csv", deserialize_with = "de_csv")]
    pub excluded_zones: Vec<String>,
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            kvstore: KvConfig::default(),
            heartbeat_timeout: Duration::from_secs(60),
            replication_factor: 3,
            zone_awareness_enabled: false,
            excluded_zones: Vec::new(),
        }
    }
}

impl RingConfig {
    /// Checks the values make sense together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.replication_factor == 0 {
            return Err(ConfigError::ReplicationFactor(0));
        }
        self.kvstore.validate()
    }
}

fn ser_csv<S: Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.join(","))
}

fn de_csv<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let s = String::deserialize(d)?;
    Ok(s.split(',')
        .map(str::trim)
        .filter(|z| !z.is_empty())
        .map(String::from)
        .collect())
}

/// How an instance registers itself (`ingester.lifecycler`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LifecyclerConfig {
    /// The ring this instance joins.
    pub ring: RingConfig,
    /// Tokens to claim.
    pub num_tokens: usize,
    /// How often to heartbeat.
    pub heartbeat_period: Duration,
    /// With a non-zero value, join as JOINING and check the tokens are still ours after
    /// this long before going ACTIVE.
    pub observe_period: Duration,
    /// Wait this long after start before claiming tokens.
    pub join_after: Duration,
    /// Keep heartbeating this long after going LEAVING, before unregistering.
    pub final_sleep: Duration,
    /// The availability zone of this instance.
    pub availability_zone: String,
    /// Remove the instance from the ring on a clean shutdown.
    pub unregister_on_shutdown: bool,
    /// Remove other instances whose last heartbeat is older than this (0 disables);
    /// the name is the one Cortex uses for the compactor ring.
    pub auto_forget_delay: Duration,
    /// How new tokens are chosen: `random` or `minimize-spread` (case-insensitive).
    pub tokens_generator_strategy: String,
    /// The address to advertise; required.
    pub address: String,
    /// The port to advertise; 0 uses the server's gRPC listen port.
    pub port: u16,
    /// The instance ID; defaults to the host name.
    pub id: String,
    /// The server's gRPC listen port, filled in by the server (not configurable).
    #[serde(skip)]
    pub listen_port: u16,
}

impl Default for LifecyclerConfig {
    fn default() -> Self {
        LifecyclerConfig {
            ring: RingConfig::default(),
            num_tokens: DEFAULT_NUM_TOKENS,
            heartbeat_period: Duration::from_secs(5),
            observe_period: Duration::ZERO,
            join_after: Duration::ZERO,
            final_sleep: Duration::from_secs(30),
            availability_zone: String::new(),
            unregister_on_shutdown: true,
            auto_forget_delay: Duration::ZERO,
            tokens_generator_strategy: RANDOM_TOKEN_STRATEGY.to_string(),
            address: String::new(),
            port: 0,
            id: hostname(),
            listen_port: 0,
        }
    }
}

impl LifecyclerConfig {
    /// Checks the values make sense together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.ring.validate()?;
        if self.num_tokens == 0 || self.num_tokens > MAX_NUM_TOKENS {
            return Err(ConfigError::NumTokens(self.num_tokens));
        }
        if self.heartbeat_period.is_zero() {
            return Err(ConfigError::HeartbeatPeriod);
        }
        if self.id.is_empty() {
            return Err(ConfigError::EmptyId);
        }
        if self.address.is_empty() {
            return Err(ConfigError::EmptyAddress);
        }
        if !self.tokens_generator_strategy.is_empty()
            && !self
                .tokens_generator_strategy
                .eq_ignore_ascii_case(RANDOM_TOKEN_STRATEGY)
            && !self.minimize_spread_tokens()
        {
            return Err(ConfigError::TokensGeneratorStrategy(
                self.tokens_generator_strategy.clone(),
            ));
        }
        Ok(())
    }

    /// True when `tokens_generator_strategy` asks for spread-minimizing tokens.
    pub fn minimize_spread_tokens(&self) -> bool {
        self.tokens_generator_strategy
            .eq_ignore_ascii_case(MINIMIZE_SPREAD_TOKEN_STRATEGY)
    }

    /// The `host:port` advertised in the ring.
    pub fn advertised_addr(&self) -> String {
        let port = if self.port > 0 {
            self.port
        } else {
            self.listen_port
        };
        format!("{}:{}", self.address, port)
    }
}

/// The host name, or empty when it cannot be read.
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_cortex_defaults() {
        let c: LifecyclerConfig = serde_yaml::from_str("{}").unwrap();
        assert_eq!(c.num_tokens, 128);
        assert_eq!(c.heartbeat_period, Duration::from_secs(5));
        assert_eq!(c.final_sleep, Duration::from_secs(30));
        assert_eq!(c.join_after, Duration::ZERO);
        assert_eq!(c.observe_period, Duration::ZERO);
        assert!(c.unregister_on_shutdown);
        assert_eq!(c.tokens_generator_strategy, "random");
        assert_eq!(c.ring.heartbeat_timeout, Duration::from_secs(60));
        assert_eq!(c.ring.replication_factor, 3);
        assert!(!c.ring.zone_awareness_enabled);
        assert_eq!(c.ring.kvstore.prefix, "collectors/");
        assert_eq!(c.ring.kvstore.store, "inmemory");
        assert!(c.ring.kvstore.etcd.endpoints.is_empty());
        assert_eq!(c.ring.kvstore.etcd.dial_timeout, Duration::from_secs(10));
        assert_eq!(c.ring.kvstore.etcd.max_retries, 10);
    }

    #[test]
    fn etcd_block_uses_cortex_names() {
        let yaml = "
store: etcd
prefix: rings/
etcd:
  endpoints: [etcd-0:2379, etcd-1:2379]
  dial_timeout: 3s
  max_retries: 4
";
        let c: KvConfig = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(c.store, "etcd");
        assert_eq!(c.prefix, "rings/");
        assert_eq!(c.etcd.endpoints, vec!["etcd-0:2379", "etcd-1:2379"]);
        assert_eq!(c.etcd.dial_timeout, Duration::from_secs(3));
        assert_eq!(c.etcd.max_retries, 4);
        assert_eq!(c.validate(), Ok(()));
        let flat: KvConfig = serde_yaml::from_str("etcd: {endpoints: 'a:1, b:2'}").unwrap();
        assert_eq!(flat.etcd.endpoints, vec!["a:1", "b:2"]);
        assert!(serde_yaml::from_str::<KvConfig>("etcd: {tls_enabled: true}").is_err());
    }

    #[test]
    fn memberlist_block_uses_cortex_names_and_defaults() {
        let d = MemberlistConfig::default();
        assert_eq!(d.bind_port, 7946);
        assert!(d.randomize_node_name);
        assert_eq!(d.gossip_interval, Duration::from_millis(200));
        assert_eq!(d.gossip_nodes, 3);
        assert_eq!(d.pull_push_interval, Duration::from_secs(30));
        assert_eq!(d.left_ingesters_timeout, Duration::from_secs(300));
        let yaml = "
store: memberlist
memberlist:
  node_name: ing-1
  randomize_node_name: false
  join_members: [ing-2:7946, ing-3]
  bind_addr: 10.0.0.1
  bind_port: 7000
  gossip_interval: 50ms
  pull_push_interval: 1s
";
        let c: KvConfig = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(c.store, STORE_MEMBERLIST);
        assert_eq!(c.memberlist.node_name, "ing-1");
        assert_eq!(c.memberlist.join_members, vec!["ing-2:7946", "ing-3"]);
        assert_eq!(c.memberlist.bind_addr, vec!["10.0.0.1"]);
        assert_eq!(c.memberlist.bind_port, 7000);
        assert_eq!(c.memberlist.gossip_interval, Duration::from_millis(50));
        assert_eq!(c.validate(), Ok(()));
        let mut bad = c.clone();
        bad.memberlist.gossip_nodes = 0;
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "kvstore.memberlist.gossip_nodes must be greater than zero"
        );
        assert!(serde_yaml::from_str::<KvConfig>("memberlist: {nodename: x}").is_err());
    }

    #[test]
    fn yaml_uses_cortex_names_and_refuses_unknown_keys() {
        let yaml = "
ring:
  kvstore: {store: inmemory}
  heartbeat_timeout: 2m
  replication_factor: 5
  zone_awareness_enabled: true
  excluded_zones: zone-c, zone-d
num_tokens: 64
heartbeat_period: 10s
join_after: 1s
observe_period: 3s
final_sleep: 0s
availability_zone: zone-a
unregister_on_shutdown: false
address: 10.0.0.7
port: 9095
id: ingester-7
";
        let c: LifecyclerConfig = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(c.ring.heartbeat_timeout, Duration::from_secs(120));
        assert_eq!(c.ring.replication_factor, 5);
        assert_eq!(c.ring.excluded_zones, vec!["zone-c", "zone-d"]);
        assert_eq!(c.num_tokens, 64);
        assert_eq!(c.availability_zone, "zone-a");
        assert_eq!(c.advertised_addr(), "10.0.0.7:9095");
        assert_eq!(c.validate(), Ok(()));
        let back: LifecyclerConfig =
            serde_yaml::from_str(&serde_yaml::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert!(serde_yaml::from_str::<LifecyclerConfig>("tokens_file_path: /x").is_err());
        assert!(serde_yaml::from_str::<LifecyclerConfig>("heartbeat_period: 5").is_err());
    }

    #[test]
    fn validation_rejects_what_cannot_work() {
        let ok = LifecyclerConfig {
            address: "a".into(),
            id: "i".into(),
            ..Default::default()
        };
        assert_eq!(ok.validate(), Ok(()));
        let mut c = ok.clone();
        c.ring.replication_factor = 0;
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "ReplicationFactor must be greater than zero: 0"
        );
        let c = LifecyclerConfig {
            num_tokens: 0,
            ..ok.clone()
        };
        assert_eq!(c.validate(), Err(ConfigError::NumTokens(0)));
        let c = LifecyclerConfig {
            address: String::new(),
            ..ok.clone()
        };
        assert_eq!(c.validate(), Err(ConfigError::EmptyAddress));
        let c = LifecyclerConfig {
            heartbeat_period: Duration::ZERO,
            ..ok.clone()
        };
        assert_eq!(c.validate(), Err(ConfigError::HeartbeatPeriod));
        let c = LifecyclerConfig {
            tokens_generator_strategy: "sorted".into(),
            ..ok.clone()
        };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "invalid token generator strategy"
        );
        for strategy in ["random", "Minimize-Spread", ""] {
            let c = LifecyclerConfig {
                tokens_generator_strategy: strategy.into(),
                ..ok.clone()
            };
            assert_eq!(c.validate(), Ok(()), "{strategy}");
            assert_eq!(c.minimize_spread_tokens(), strategy == "Minimize-Spread");
        }
        let mut c = ok;
        c.ring.kvstore.store = "consul".into();
        assert_eq!(
            c.validate(),
            Err(ConfigError::UnknownStore("consul".into()))
        );
        c.ring.kvstore.store = "etcd".into();
        assert_eq!(c.validate(), Err(ConfigError::NoEtcdEndpoints));
        c.ring.kvstore.etcd.endpoints = vec!["127.0.0.1:2379".into()];
        assert_eq!(c.validate(), Ok(()));
        c.ring.kvstore.etcd.max_retries = 0;
        assert_eq!(c.validate(), Err(ConfigError::EtcdMaxRetries));
        let c = LifecyclerConfig {
            port: 0,
            listen_port: 9095,
            address: "h".into(),
            ..Default::default()
        };
        assert_eq!(c.advertised_addr(), "h:9095");
    }
}
