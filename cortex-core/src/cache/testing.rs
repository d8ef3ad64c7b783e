//! The conformance suite every [`Cache`] runs — the in-process LRU and the memcached
//! client — so both behave alike: [`run_conformance`] stores and fetches plain, long
//! and odd keys and many keys at once, overwrites, expires items by TTL and checks
//! the counters.
//!
//! Stores may be asynchronous, so the suite waits for what it stored to show up by
//! polling with a deadline; the cache must be large enough for a few hundred small
//! items and start empty.
//!
//! Also [`Memcached`]: Debian's memcached started on a loopback port for tests.

use std::collections::HashMap;
use std::net::TcpStream as StdTcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Cache, Fetched};

/// How long a stored item may take to become visible, or an expired one to go.
const DEADLINE: Duration = Duration::from_secs(10);

/// Fetches `keys` until `done` holds for the result, failing after [`DEADLINE`].
pub async fn fetch_until(
    cache: &dyn Cache,
    keys: &[String],
    what: &str,
    done: impl Fn(&Fetched) -> bool,
) -> Fetched {
    let start = Instant::now();
    loop {
        let fetched = cache.fetch(keys).await;
        if done(&fetched) {
            return fetched;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{}: {what}: still not so after {DEADLINE:?}: {} hits, misses {:?}",
            cache.name(),
            fetched.hits.len(),
            fetched.misses
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs every check against `cache`, which must be empty.
pub async fn run_conformance(cache: &dyn Cache) {
    empty_fetch(cache).await;
    store_and_fetch(cache).await;
    many_keys(cache).await;
    overwrite(cache).await;
    ttl_expiry(cache).await;
}

async fn empty_fetch(cache: &dyn Cache) {
    let before = cache.stats();
    let none = cache.fetch(&[]).await;
    assert!(none.hits.is_empty() && none.misses.is_empty());
    let keys = vec!["conf-absent-1".to_string(), "conf-absent-2".to_string()];
    let got = cache.fetch(&keys).await;
    assert!(got.hits.is_empty());
    assert_eq!(got.misses, keys);
    let after = cache.stats();
    assert_eq!(after.requests - before.requests, 2);
    assert_eq!(after.misses - before.misses, 2);
    assert_eq!(after.hits, before.hits);
}

async fn store_and_fetch(cache: &dyn Cache) {
    let items: Vec<(String, Bytes)> = vec![
        ("conf-plain".into(), Bytes::from_static(b"value")),
        ("conf-empty-value".into(), Bytes::new()),
        (
            format!("conf-long-{}", "x".repeat(400)),
            Bytes::from_static(b"long"),
        ),
        (
            "conf key with spaces\r\n".into(),
            Bytes::from_static(b"spaces"),
        ),
        (
            "conf-binary".into(),
            Bytes::from_static(b"\0\r\nEND\r\n\xff"),
        ),
    ];
    let mut keys: Vec<String> = items.iter().map(|(k, _)| k.clone()).collect();
    let before = cache.stats();
    cache.store(items.clone(), Duration::ZERO);
    keys.push("conf-never-stored".into());
    keys.push(format!("conf-long-{}", "y".repeat(400)));
    let got = fetch_until(cache, &keys, "stored items visible", |f| f.hits.len() == 5).await;
    let want: HashMap<String, Bytes> = items.into_iter().collect();
    assert_eq!(got.hits, want);
    assert_eq!(got.misses, keys[5..].to_vec());
    let after = cache.stats();
    assert_eq!(after.stored - before.stored, 5);
    assert_eq!(
        after.requests - before.requests,
        (after.hits - before.hits) + (after.misses - before.misses)
    );
    assert!(after.hits - before.hits >= 5);
}

async fn many_keys(cache: &dyn Cache) {
    let items: Vec<(String, Bytes)> = (0..300)
        .map(|i| {
            (
                format!("conf-many-{i}"),
                Bytes::from(format!("v{i}").repeat(i % 7 + 1)),
            )
        })
        .collect();
    let keys: Vec<String> = items.iter().map(|(k, _)| k.clone()).collect();
    cache.store(items.clone(), Duration::from_secs(3600));
    let got = fetch_until(cache, &keys, "300 items visible", |f| f.misses.is_empty()).await;
    assert_eq!(got.hits, items.into_iter().collect::<HashMap<_, _>>());
}

async fn overwrite(cache: &dyn Cache) {
    let keys = vec!["conf-overwrite".to_string()];
    cache.store(
        vec![(keys[0].clone(), Bytes::from_static(b"old"))],
        Duration::ZERO,
    );
    fetch_until(cache, &keys, "first value", |f| {
        f.hits.contains_key(&keys[0])
    })
    .await;
    cache.store(
        vec![(keys[0].clone(), Bytes::from_static(b"new"))],
        Duration::ZERO,
    );
    fetch_until(cache, &keys, "second value", |f| {
        f.hits.get(&keys[0]).is_some_and(|v| v.as_ref() == b"new")
    })
    .await;
}

async fn ttl_expiry(cache: &dyn Cache) {
    let one = "conf-ttl-1s".to_string();
    let two = "conf-ttl-2s".to_string();
    let forever = "conf-ttl-none".to_string();
    cache.store(
        vec![(one.clone(), Bytes::from_static(b"1"))],
        Duration::from_secs(1),
    );
    cache.store(
        vec![(two.clone(), Bytes::from_static(b"2"))],
        Duration::from_secs(2),
    );
    cache.store(
        vec![(forever.clone(), Bytes::from_static(b"f"))],
        Duration::ZERO,
    );
    // A 2s item lives at least a second even on a server with a one-second clock.
    let keys = vec![two.clone(), forever.clone()];
    fetch_until(cache, &keys, "2s item visible", |f| f.hits.len() == 2).await;
    let keys = vec![one.clone(), two.clone(), forever.clone()];
    let got = fetch_until(cache, &keys, "1s and 2s items expire", |f| {
        f.misses.len() == 2
    })
    .await;
    assert_eq!(got.misses, vec![one, two]);
    assert_eq!(got.hits[&forever].as_ref(), b"f");
}

/// A memcached process on a loopback port, killed when dropped.
pub struct Memcached {
    child: Child,
    /// Its `host:port`.
    pub address: String,
}

impl Memcached {
    /// Starts memcached, or returns `None` (after saying why) when it is not installed
    /// and `CI` is not `true`.
    pub fn start() -> Option<Memcached> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Memcached::start_on(port)
    }

    /// Like [`Memcached::start`], on `port`.
    pub fn start_on(port: u16) -> Option<Memcached> {
        let port = port.to_string();
        // `-u` only matters when running as root, which memcached refuses without it.
        let spawned = Command::new("memcached")
            .args([
                "-u",
                "nobody",
                "-l",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "0",
                "-m",
                "64",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "memcached is not installed, and CI=true requires the memcached tests"
                );
                eprintln!("skipping: memcached is not installed");
                return None;
            }
            Err(e) => panic!("starting memcached: {e}"),
        };
        let server = Memcached {
            child,
            address: format!("127.0.0.1:{port}"),
        };
        let start = Instant::now();
        while StdTcpStream::connect(&server.address).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "memcached did not listen on {}",
                server.address
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(server)
    }
}

impl Memcached {
    /// Kills the process now and waits for it (dropping does the same).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
