//! The network side of a member, run on the member's own tokio runtime: accepting
//! peers' messages, the periodic probe and push-pull, pushing local changes, joining
//! through the seeds. Every exchange is one request and one reply on a new TCP
//! connection, bounded by `stream_timeout`.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;

use super::GossipError;
use super::members::Members;
use super::store::Store;
use super::wire::{Kind, Message, WireEntry};

/// How a member gossips (from `kvstore.memberlist`).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) gossip_interval: Duration,
    pub(crate) gossip_nodes: usize,
    pub(crate) pull_push_interval: Duration,
    pub(crate) dead_time: Duration,
    pub(crate) stream_timeout: Duration,
    pub(crate) tombstone_timeout: Duration,
    pub(crate) seeds: Vec<String>,
}

/// What the runtime and the [`super::GossipKv`] handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) name: String,
    /// The advertised `host:port`; the host may be unspecified (peers fill it in).
    pub(crate) advertise: String,
    pub(crate) store: Store,
    pub(crate) members: Mutex<Members>,
    pub(crate) settings: Settings,
    /// Entries to push to a few members right away.
    pub(crate) push: mpsc::UnboundedSender<Vec<WireEntry>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn message(&self, kind: Kind, entries: Vec<WireEntry>) -> Message {
        Message {
            kind,
            from: self.name.clone(),
            addr: self.advertise.clone(),
            members: lock(&self.members).list(),
            entries,
        }
    }

    /// Takes in what a peer sent: it is alive, its members, its entries. Returns the
    /// entries that changed here.
    fn absorb(&self, msg: Message, peer: Option<IpAddr>) -> Vec<WireEntry> {
        let now = Instant::now();
        {
            let mut members = lock(&self.members);
            members.heard_from(&msg.from, &reachable(&msg.addr, peer), now);
            members.learn(&msg.members, now);
        }
        self.store.merge_remote(msg.entries).0
    }
}

/// `addr` with an unspecified host replaced by the IP the connection came from.
fn reachable(addr: &str, peer: Option<IpAddr>) -> String {
    match (addr.parse::<SocketAddr>(), peer) {
        (Ok(a), Some(ip)) if a.ip().is_unspecified() => SocketAddr::new(ip, a.port()).to_string(),
        _ => addr.to_string(),
    }
}

/// Sends `msg` to `addr` and absorbs the reply; returns the entries that changed here.
async fn exchange(
    shared: &Shared,
    addr: &str,
    msg: Message,
) -> Result<Vec<WireEntry>, GossipError> {
    let limit = shared.settings.stream_timeout;
    let io = |what: &str, e: std::io::Error| GossipError::Io {
        what: format!("{what} {addr}"),
        reason: e.to_string(),
    };
    let timed_out = |what: &str| GossipError::Io {
        what: format!("{what} {addr}"),
        reason: format!("timed out after {limit:?}"),
    };
    let mut stream = timeout(limit, TcpStream::connect(addr))
        .await
        .map_err(|_| timed_out("connecting to"))?
        .map_err(|e| io("connecting to", e))?;
    let peer = stream.peer_addr().ok().map(|a| a.ip());
    let reply = timeout(limit, async {
        msg.write_to(&mut stream)
            .await
            .map_err(|e| io("writing to", e))?;
        Message::read_from(&mut stream).await
    })
    .await
    .map_err(|_| timed_out("exchanging with"))??;
    if reply.kind != Kind::Reply {
        return Err(GossipError::Wire(format!(
            "{addr} answered with {:?}, not a reply",
            reply.kind
        )));
    }
    Ok(shared.absorb(reply, peer))
}

async fn serve_one(shared: Arc<Shared>, mut stream: TcpStream) -> Result<(), GossipError> {
    let peer = stream.peer_addr().ok().map(|a| a.ip());
    let limit = shared.settings.stream_timeout;
    timeout(limit, async {
        let msg = Message::read_from(&mut stream).await?;
        let kind = msg.kind;
        let changed = shared.absorb(msg, peer);
        let entries = match kind {
            Kind::PushPull => shared.store.snapshot(),
            Kind::Push | Kind::Reply => Vec::new(),
        };
        if kind == Kind::Push && !changed.is_empty() {
            // Pass news on; merging is idempotent, so this stops once everyone has it.
            let _ = shared.push.send(changed);
        }
        shared
            .message(Kind::Reply, entries)
            .write_to(&mut stream)
            .await
            .map_err(|e| GossipError::Io {
                what: "replying".into(),
                reason: e.to_string(),
            })
    })
    .await
    .map_err(|_| GossipError::Io {
        what: "serving a peer".into(),
        reason: format!("timed out after {limit:?}"),
    })?
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve_one(Arc::clone(&shared), stream));
            }
            // Out of descriptors and the like: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Push-pulls with each seed until one answers; true when one did.
async fn join(shared: &Shared) -> bool {
    for seed in &shared.settings.seeds {
        let msg = shared.message(Kind::PushPull, shared.store.snapshot());
        if exchange(shared, seed, msg).await.is_ok() {
            return true;
        }
    }
    false
}

fn push_to(shared: &Arc<Shared>, addrs: Vec<String>, kind: Kind, entries: Vec<WireEntry>) {
    for addr in addrs {
        let shared = Arc::clone(shared);
        let msg = shared.message(kind, entries.clone());
        tokio::spawn(async move {
            let _ = exchange(&shared, &addr, msg).await;
        });
    }
}

/// The member's main loop; returns when `stop` turns true. `joined` is told when the
/// first attempt to join is over.
pub(crate) async fn run(
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
    mut pushes: mpsc::UnboundedReceiver<Vec<WireEntry>>,
    mut stop: watch::Receiver<bool>,
    joined: std::sync::mpsc::Sender<()>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(_) => {
            let _ = joined.send(());
            return;
        }
    };
    let acceptor = tokio::spawn(accept_loop(Arc::clone(&shared), listener));
    join(&shared).await;
    let _ = joined.send(());
    let s = shared.settings.clone();
    let mut probe = tokio::time::interval(s.gossip_interval);
    let mut pull = tokio::time::interval(s.pull_push_interval);
    pull.reset();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(entries) = pushes.recv() => {
                let addrs = lock(&shared.members).random(s.gossip_nodes, "");
                push_to(&shared, addrs, Kind::Push, entries);
            }
            _ = probe.tick() => {
                let stalest = {
                    let mut members = lock(&shared.members);
                    members.expire(s.dead_time, Instant::now());
                    members.stalest()
                };
                push_to(&shared, stalest.into_iter().collect(), Kind::Push, Vec::new());
            }
            _ = pull.tick() => {
                shared.store.compact(s.tombstone_timeout);
                let empty = lock(&shared.members).is_empty();
                if empty {
                    join(&shared).await;
                } else {
                    let addrs = lock(&shared.members).random(1, "");
                    push_to(&shared, addrs, Kind::PushPull, shared.store.snapshot());
                }
            }
        }
    }
    acceptor.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_hosts_are_replaced_by_the_peer_ip() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(reachable("0.0.0.0:7946", Some(ip)), "10.1.2.3:7946");
        assert_eq!(reachable("10.9.9.9:7946", Some(ip)), "10.9.9.9:7946");
        assert_eq!(reachable("ing-1:7946", Some(ip)), "ing-1:7946");
        assert_eq!(reachable("0.0.0.0:7946", None), "0.0.0.0:7946");
    }
}
