//! Tests of [`MemcachedCache`] against real memcached servers the tests start on free
//! loopback ports (skipped with a message when memcached is not installed, failed when
//! `CI=true`), and against tiny fake servers that answer garbage or nothing.

use std::io::{Read, Write};
use std::net::TcpStream as StdTcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::{FLAG_KEY_PREFIXED, MemcachedCache};
use crate::cache::config::MemcachedConfig;
use crate::cache::hash::memcached_key;
use crate::cache::testing::{Memcached, run_conformance};
use crate::cache::{Cache, CacheStats};
use crate::ingester::duration::GoDuration;

/// Raw protocol access to a test memcached.
trait Raw {
    /// Sends `request` and reads until the reply ends with `terminator`.
    fn raw(&self, request: &[u8], terminator: &[u8]) -> Vec<u8>;
}

impl Raw for Memcached {
    fn raw(&self, request: &[u8], terminator: &[u8]) -> Vec<u8> {
        let mut conn = StdTcpStream::connect(&self.address).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        conn.write_all(request).unwrap();
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        while !reply.ends_with(terminator) {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "memcached closed the connection");
            reply.extend_from_slice(&buf[..n]);
        }
        reply
    }
}

fn config(addresses: &str) -> MemcachedConfig {
    MemcachedConfig {
        addresses: addresses.into(),
        timeout: GoDuration(Duration::from_secs(1)),
        ..MemcachedConfig::default()
    }
}

fn items(prefix: &str, n: usize) -> Vec<(String, Bytes)> {
    (0..n)
        .map(|i| (format!("{prefix}{i}"), Bytes::from(format!("value-{i}"))))
        .collect()
}

fn keys_of(items: &[(String, Bytes)]) -> Vec<String> {
    items.iter().map(|(k, _)| k.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    let Some(server) = Memcached::start() else {
        return;
    };
    let cache = MemcachedCache::new("conformance", &config(&server.address)).unwrap();
    run_conformance(&cache).await;
    assert_eq!(cache.stats().failures, 0);
}

#[tokio::test]
async fn multi_get_is_cut_into_batches() {
    let Some(server) = Memcached::start() else {
        return;
    };
    let mut cfg = config(&server.address);
    cfg.max_get_multi_batch_size = 7;
    cfg.max_get_multi_concurrency = 2;
    cfg.max_idle_connections = 1;
    let cache = MemcachedCache::new("batches", &cfg).unwrap();
    let stored = items("batch-", 100);
    cache.store(stored.clone(), Duration::ZERO);
    cache.flush().await;
    let mut keys = keys_of(&stored);
    keys.push("batch-missing".into());
    let got = cache.fetch(&keys).await;
    assert_eq!(got.hits.len(), 100);
    assert_eq!(got.hits["batch-42"].as_ref(), b"value-42");
    assert_eq!(got.misses, vec!["batch-missing".to_string()]);
    let stats = cache.stats();
    assert_eq!((stats.requests, stats.hits, stats.misses), (101, 100, 1));
    assert_eq!(stats.failures, 0);
    let reply = String::from_utf8(server.raw(b"stats\r\n", b"END\r\n")).unwrap();
    assert!(reply.contains("STAT get_hits 100\r\n"), "{reply}");
}

#[tokio::test]
async fn get_requests_hold_at_most_the_batch_size() {
    // A server that answers every `get` with no values and records its key counts.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let recorded = recorded.clone();
            tokio::spawn(async move {
                let (read, mut write) = conn.into_split();
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let keys = line.split(' ').skip(1).count();
                    recorded.lock().unwrap().push(keys);
                    if write.write_all(b"END\r\n").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let mut cfg = config(&address);
    cfg.max_get_multi_batch_size = 7;
    let cache = MemcachedCache::new("batches", &cfg).unwrap();
    let keys: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
    assert_eq!(cache.fetch(&keys).await.misses.len(), 101);
    let mut sizes = seen.lock().unwrap().clone();
    sizes.sort();
    assert_eq!(sizes.len(), 15, "{sizes:?}"); // ceil(101 / 7)
    assert_eq!(sizes[0], 3);
    assert!(sizes[1..].iter().all(|&n| n == 7), "{sizes:?}");
    assert_eq!(cache.stats().failures, 0);
}

#[tokio::test]
async fn keys_are_spread_over_two_servers() {
    let (Some(a), Some(b)) = (Memcached::start(), Memcached::start()) else {
        return;
    };
    let both =
        MemcachedCache::new("both", &config(&format!("{},{}", b.address, a.address))).unwrap();
    let mut addresses = [a.address.as_str(), b.address.as_str()];
    addresses.sort();
    assert_eq!(both.addresses(), addresses);
    let stored = items("spread-", 200);
    both.store(stored.clone(), Duration::ZERO);
    both.flush().await;
    let keys = keys_of(&stored);
    assert_eq!(both.fetch(&keys).await.hits.len(), 200);
    // Each server holds its share, and no key is on both.
    let only_a = MemcachedCache::new("a", &config(&a.address)).unwrap();
    let only_b = MemcachedCache::new("b", &config(&b.address)).unwrap();
    let on_a = only_a.fetch(&keys).await.hits;
    let on_b = only_b.fetch(&keys).await.hits;
    assert!(
        on_a.len() > 50 && on_b.len() > 50,
        "{} / {}",
        on_a.len(),
        on_b.len()
    );
    assert_eq!(on_a.len() + on_b.len(), 200);
    assert!(on_a.keys().all(|k| !on_b.contains_key(k)));
}

#[tokio::test]
async fn long_keys_are_hashed_and_checked() {
    let Some(server) = Memcached::start() else {
        return;
    };
    let cache = MemcachedCache::new("long", &config(&server.address)).unwrap();
    let long = format!("long-{}", "k".repeat(300));
    cache.store(
        vec![(long.clone(), Bytes::from_static(b"v"))],
        Duration::ZERO,
    );
    cache.flush().await;
    let mkey = memcached_key(&long).into_owned();
    assert_eq!(mkey.len(), 32);
    // Stored under the hash, with the original key in front of the value.
    let reply = server.raw(format!("get {mkey}\r\n").as_bytes(), b"END\r\n");
    let want = format!(
        "VALUE {mkey} {FLAG_KEY_PREFIXED} {}\r\n{long}v\r\nEND\r\n",
        long.len() + 1
    );
    assert_eq!(String::from_utf8(reply).unwrap(), want);
    let keys = vec![long.clone()];
    assert_eq!(cache.fetch(&keys).await.hits[&long].as_ref(), b"v");
    // Another value under the same memcached key (as a colliding key would write) is a
    // miss, not a wrong value.
    server.raw(format!("set {mkey} 0 0 1\r\nx\r\n").as_bytes(), b"\r\n");
    assert_eq!(cache.fetch(&keys).await.misses, keys);
    server.raw(format!("set {mkey} 1 0 2\r\nxx\r\n").as_bytes(), b"\r\n");
    assert_eq!(cache.fetch(&keys).await.misses, keys);
}

#[tokio::test]
async fn items_over_max_item_size_are_skipped() {
    let Some(server) = Memcached::start() else {
        return;
    };
    let mut cfg = config(&server.address);
    cfg.max_item_size = 100;
    let cache = MemcachedCache::new("size", &cfg).unwrap();
    let long = "l".repeat(260); // hashed: the key counts towards the size
    cache.store(
        vec![
            ("small".into(), Bytes::from(vec![1u8; 100])),
            ("big".into(), Bytes::from(vec![1u8; 101])),
            (long.clone(), Bytes::from_static(b"v")),
        ],
        Duration::ZERO,
    );
    cache.flush().await;
    let got = cache
        .fetch(&["small".into(), "big".into(), long.clone()])
        .await;
    assert_eq!(got.misses, vec!["big".to_string(), long]);
    let stats = cache.stats();
    assert_eq!(
        (stats.stored, stats.skipped_too_large, stats.failures),
        (1, 2, 0)
    );
}

#[tokio::test]
async fn a_killed_server_gives_misses() {
    let Some(mut server) = Memcached::start() else {
        return;
    };
    let mut cfg = config(&server.address);
    cfg.timeout = GoDuration(Duration::from_millis(500));
    let cache = MemcachedCache::new("killed", &cfg).unwrap();
    let stored = items("killed-", 10);
    let keys = keys_of(&stored);
    cache.store(stored, Duration::ZERO);
    cache.flush().await;
    assert_eq!(cache.fetch(&keys).await.hits.len(), 10);
    server.kill();
    let before = cache.stats();
    let started = Instant::now();
    let got = cache.fetch(&keys).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(got.hits.is_empty());
    assert_eq!(got.misses, keys);
    // Stores to a dead server fail quietly too.
    cache.store(items("killed-again-", 3), Duration::ZERO);
    cache.flush().await;
    let after = cache.stats();
    assert!(after.failures >= before.failures + 4, "{after:?}");
    assert_eq!(after.misses - before.misses, 10);
}

#[tokio::test]
async fn idle_connections_to_a_restarted_server_are_replaced() {
    let Some(mut server) = Memcached::start() else {
        return;
    };
    let cache = MemcachedCache::new("restart", &config(&server.address)).unwrap();
    let keys = vec!["restart".to_string()];
    assert_eq!(cache.fetch(&keys).await.misses, keys); // leaves an idle connection
    let port: u16 = server.address.rsplit_once(':').unwrap().1.parse().unwrap();
    server.kill();
    let Some(_restarted) = Memcached::start_on(port) else {
        return;
    };
    cache.store(
        vec![(keys[0].clone(), Bytes::from_static(b"v"))],
        Duration::ZERO,
    );
    cache.flush().await;
    assert_eq!(cache.fetch(&keys).await.hits[&keys[0]].as_ref(), b"v");
    assert_eq!(cache.stats().failures, 0);
}

/// A fake server on loopback that answers every read with `reply` (or nothing, for an
/// empty `reply`), and its address.
async fn fake_server(reply: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = conn.read(&mut buf).await {
                    if n == 0 || (!reply.is_empty() && conn.write_all(reply).await.is_err()) {
                        return;
                    }
                }
            });
        }
    });
    address
}

async fn misses_from(reply: &'static [u8]) -> CacheStats {
    let mut cfg = config(&fake_server(reply).await);
    cfg.timeout = GoDuration(Duration::from_millis(200));
    let cache = MemcachedCache::new("fake", &cfg).unwrap();
    let keys = vec!["a".to_string(), "b".to_string()];
    let got = cache.fetch(&keys).await;
    assert!(
        got.hits.is_empty(),
        "{:?}: {got:?}",
        String::from_utf8_lossy(reply)
    );
    assert_eq!(got.misses, keys);
    cache.stats()
}

#[tokio::test]
async fn garbage_replies_give_misses() {
    for reply in [
        &b"HELLO WORLD\r\n"[..],
        b"VALUE a 0 -5\r\nEND\r\n",
        b"VALUE a 0 99999999999\r\n",
        b"VALUE zzz 0 1\r\nx\r\nEND\r\n",
        b"VALUE a 0 1\r\nxyz\r\nEND\r\n",
        b"SERVER_ERROR out of memory\r\n",
    ] {
        let stats = misses_from(reply).await;
        assert_eq!(stats.failures, 1, "{:?}", String::from_utf8_lossy(reply));
    }
}

#[tokio::test]
async fn a_silent_server_times_out_into_misses() {
    let started = Instant::now();
    let stats = misses_from(b"").await;
    assert_eq!(stats.failures, 1);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_full_store_queue_drops_and_counts() {
    let mut cfg = config(&fake_server(b"").await);
    cfg.timeout = GoDuration(Duration::from_millis(200));
    cfg.max_async_buffer_size = 1;
    cfg.max_async_concurrency = 1;
    let cache = MemcachedCache::new("full", &cfg).unwrap();
    let started = Instant::now();
    cache.store(items("full-", 10), Duration::ZERO);
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "store waited"
    );
    let stats = cache.stats();
    assert!(stats.dropped_queue_full >= 8, "{stats:?}");
    assert_eq!(stats.stored + stats.dropped_queue_full, 10);
    cache.flush().await;
    assert_eq!(cache.stats().failures, stats.stored);
}
