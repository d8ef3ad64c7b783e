//! A [`Kv`] replicated by gossip among the processes themselves, with no external
//! service (Cortex's `memberlist` store, much simplified).
//!
//! What it does: every member keeps a full replica ([`store`]) and listens on TCP
//! (`bind_addr:bind_port`). On start it push-pulls its state with the first seed of
//! `join_members` that answers (and retries the seeds while it knows no member).
//! A local CAS or delete is a read-modify-write under a per-member lock, then the
//! changed entry is pushed at once to `gossip_nodes` random members; a member that
//! changes on a push passes the change on the same way. Every `pull_push_interval` a
//! member exchanges its whole state with one random member, which repairs anything a
//! push missed. Every `gossip_interval` it probes the member heard from least recently;
//! members are learned from the lists peers send, and one not heard from directly for
//! `gossip_to_dead_nodes_time` is dropped. Values merge by the rule registered for the
//! key's prefix ([`MergeRegistry`]; the ring uses [`DescMerge`]), other keys are
//! last-writer-wins by (version, node name). Watches fire on local changes and on
//! merged remote ones.
//!
//! What it does not do: SWIM failure detection (indirect probes, suspicion,
//! refutation), UDP, encryption or authentication, compression, cluster labels, DNS
//! service discovery of seeds, deltas (whole values travel), or any read-your-writes
//! guarantee across members — reads are local and eventually consistent.

mod desc_merge;
mod members;
mod merge;
mod store;
mod transport;
pub mod wire;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

pub use desc_merge::DescMerge;
pub use merge::{Merge, MergeRegistry};

use super::{CasFn, Kv, KvError, StopSignal};
use crate::config::MemberlistConfig;
use members::Members;
use store::Store;
use transport::{Settings, Shared};

/// Why the gossip store could not start or a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GossipError {
    /// The listen address is invalid or taken.
    #[error("memberlist: listening on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: String,
        /// The system's complaint.
        reason: String,
    },
    /// The runtime or its thread could not be started.
    #[error("memberlist: starting the gossip runtime: {0}")]
    Runtime(String),
    /// A connection to a peer failed.
    #[error("memberlist: {what}: {reason}")]
    Io {
        /// What was being done, with the peer.
        what: String,
        /// The failure.
        reason: String,
    },
    /// A peer sent bytes that are not a valid message.
    #[error("memberlist: invalid message: {0}")]
    Wire(String),
}

/// A gossiping replica of the KV store. Dropping it stops the member (peers drop it
/// after `gossip_to_dead_nodes_time`).
pub struct GossipKv {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for GossipKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GossipKv")
            .field("name", &self.shared.name)
            .field("local_addr", &self.local_addr)
            .finish()
    }
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "memberlist".to_string())
}

fn seed_from(local: SocketAddr) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ u64::from(std::process::id()).rotate_left(32) ^ u64::from(local.port())
}

impl GossipKv {
    /// Starts a member: listens, joins the cluster through `cfg.join_members` (waiting
    /// for the first attempt, at most `stream_timeout` per seed) and gossips in the
    /// background. Values of keys matching a prefix in `rules` merge by its rule.
    pub fn start(cfg: &MemberlistConfig, rules: MergeRegistry) -> Result<GossipKv, GossipError> {
        let bind_ip: IpAddr = match cfg.bind_addr.first() {
            Some(a) => a.parse().map_err(|_| GossipError::Bind {
                addr: a.clone(),
                reason: "not an IP address".into(),
            })?,
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        let bind = SocketAddr::new(bind_ip, cfg.bind_port);
        let bind_err = |e: std::io::Error| GossipError::Bind {
            addr: bind.to_string(),
            reason: e.to_string(),
        };
        let listener = TcpListener::bind(bind).map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;
        let local_addr = listener.local_addr().map_err(bind_err)?;
        let seed = seed_from(local_addr);

        let mut name = if cfg.node_name.is_empty() {
            host_name()
        } else {
            cfg.node_name.clone()
        };
        if cfg.randomize_node_name {
            name = format!("{name}-{:08x}", seed as u32);
        }
        let host = if cfg.advertise_addr.is_empty() {
            local_addr.ip().to_string()
        } else {
            cfg.advertise_addr.clone()
        };
        let port = match cfg.advertise_port {
            0 => local_addr.port(),
            p => p,
        };
        let advertise = match host.parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, port).to_string(),
            Err(_) => format!("{host}:{port}"),
        };
        let seeds = cfg
            .join_members
            .iter()
            .map(|m| {
                if m.parse::<SocketAddr>().is_ok()
                    || m.rsplit_once(':')
                        .is_some_and(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok())
                {
                    m.clone()
                } else {
                    format!("{m}:{}", cfg.bind_port)
                }
            })
            .collect();
        let settings = Settings {
            gossip_interval: cfg.gossip_interval.to_std(),
            gossip_nodes: cfg.gossip_nodes.max(1),
            pull_push_interval: cfg.pull_push_interval.to_std(),
            dead_time: cfg.gossip_to_dead_nodes_time.to_std(),
            stream_timeout: cfg.stream_timeout.to_std(),
            tombstone_timeout: cfg.tombstone_timeout.to_std(),
            seeds,
        };

        let (push, pushes) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            store: Store::new(name.clone(), rules),
            members: Mutex::new(Members::new(name.clone(), seed)),
            name,
            advertise,
            settings,
            push,
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| GossipError::Runtime(e.to_string()))?;
        let (stop, stopped) = watch::channel(false);
        let (joined_tx, joined) = std::sync::mpsc::channel();
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("memberlist-{}", local_addr.port()))
            .spawn(move || {
                runtime.block_on(transport::run(worker, listener, pushes, stopped, joined_tx));
            })
            .map_err(|e| GossipError::Runtime(e.to_string()))?;
        // Returns when the first join attempt is over (or the loop ended early).
        let _ = joined.recv();
        Ok(GossipKv {
            shared,
            local_addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address the member listens on (useful with `bind_port: 0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The member's node name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The other members this one knows, as (name, address), sorted by name.
    pub fn members(&self) -> Vec<(String, String)> {
        self.shared
            .members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .list()
    }

    fn gossip(&self, entry: Option<wire::WireEntry>) {
        if let Some(e) = entry {
            // The loop only goes away on drop, when nobody is left to tell.
            let _ = self.shared.push.send(vec![e]);
        }
    }
}

impl Drop for GossipKv {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Kv for GossipKv {
    fn get(&self, key: &str) -> Result<Option<Bytes>, KvError> {
        Ok(self.shared.store.get(key))
    }

    fn cas(&self, key: &str, f: &mut CasFn<'_>) -> Result<(), KvError> {
        let changed = self.shared.store.cas(key, f)?;
        self.gossip(changed);
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), KvError> {
        let changed = self.shared.store.delete(key);
        self.gossip(changed);
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        Ok(self.shared.store.list(prefix))
    }

    fn watch_key(&self, key: &str, stop: &StopSignal, f: &mut dyn FnMut(Option<Bytes>) -> bool) {
        self.shared.store.watch_key(key, stop, f);
    }
}
