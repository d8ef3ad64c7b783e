//! Store-gateway measurements that need a whole process, printed as a table:
//!
//! * `cache`: blocks in a local bucket served by a store-gateway whose index and chunks
//!   caches use one backend (`inmemory`, `memcached` or `none`); a set of dashboard-like
//!   selects runs cold (empty cache) and then warm, several times, and the table shows
//!   the median latency of each pass, their ratio, the cache hit ratio and the bucket
//!   requests of each pass.
//! * `memory`: many small blocks, every one queried once so its index-header is loaded;
//!   resident memory and index-header bytes per block.
//!
//! Example: `cargo run --release -p cortex-benches --bin store-gateway-bench -- cache
//! --backend memcached --memcached 127.0.0.1:11211`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use cortex_core::cache::{Cache, CacheBackend, CacheConfig, MemcachedConfig, open_cache};
use cortex_core::storage::bucketindex::updater::update_and_write_index;
use cortex_core::storage::{BlockStore, ObjectBlockStore};
use cortex_core::storegateway::caching_range::{CachingRange, CachingRangeConfig};
use cortex_core::storegateway::gateway::{StoreGateway, StoreGatewayConfig};
use cortex_core::storegateway::{BlockSetConfig, OwnsAll, SeriesRequest, StoreGatewayApi};
use cortex_tsdb::block::BlockMeta;
use cortex_tsdb::db::{Db, DbOptions};
use cortex_tsdb::labels::{Labels, MatchType, Matcher};
use cortex_tsdb::ulid::Ulid;

const TENANT: &str = "bench";
const BLOCK_MS: i64 = 2 * 3_600_000;

#[derive(Parser)]
#[command(about = "Store-gateway cache and memory measurements")]
struct Args {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Cold versus warm selects with one cache backend.
    Cache {
        /// The cache backend of the index and chunks caches.
        #[arg(long, value_enum, default_value = "inmemory")]
        backend: Backend,
        /// memcached servers (`host:port`, comma-separated) for `--backend memcached`.
        #[arg(long, default_value = "127.0.0.1:11211")]
        memcached: String,
        /// Blocks (2 h each).
        #[arg(long, default_value_t = 12)]
        blocks: usize,
        /// Series per block.
        #[arg(long, default_value_t = 2_000)]
        series: usize,
        /// Warm passes after the cold one.
        #[arg(long, default_value_t = 5)]
        warm_passes: usize,
    },
    /// Memory of a store-gateway with many blocks loaded.
    Memory {
        /// Blocks.
        #[arg(long, default_value_t = 1_000)]
        blocks: usize,
        /// Series per block.
        #[arg(long, default_value_t = 100)]
        series: usize,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Backend {
    Inmemory,
    Memcached,
    None,
}

fn labels(i: usize) -> Labels {
    let name = format!("http_requests_{}", i % 10);
    let job = format!("job-{}", i % 20);
    let inst = format!("host-{i:05}:9100");
    let code = ["200", "404", "500"][i % 3];
    Labels::from_pairs([
        ("__name__", name.as_str()),
        ("job", job.as_str()),
        ("instance", inst.as_str()),
        ("code", code),
    ])
    .expect("valid labels")
}

/// Writes one 2 h block of `series` series (15 s samples) starting at `from` into
/// `scratch`; returns its directory.
fn write_block(scratch: &Path, series: usize, from: i64) -> PathBuf {
    let db: Arc<Db> = Db::open(
        scratch,
        DbOptions {
            retention: None,
            ..Default::default()
        },
    )
    .expect("open a scratch TSDB");
    let mut app = db.appender();
    for i in 0..series {
        let l = labels(i);
        let mut t = from;
        let mut v = i as f64;
        while t < from + BLOCK_MS - 1 {
            app.append(&l, t, v).expect("append");
            t += 15_000;
            v += (i % 7) as f64;
        }
    }
    app.commit().expect("commit");
    let metas = db.compact_head_all().expect("compact");
    scratch.join(metas[0].ulid.to_string())
}

fn files_of(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(root.join(rel))
        .expect("read block dir")
        .flatten()
    {
        let r = rel.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            files_of(root, &r, out);
        } else {
            out.push(r);
        }
    }
}

async fn upload(store: &dyn BlockStore, dir: &Path) -> Ulid {
    let ulid = BlockMeta::read(dir).expect("meta.json").ulid;
    let mut files = Vec::new();
    files_of(dir, Path::new(""), &mut files);
    for rel in files {
        let b = std::fs::read(dir.join(&rel)).expect("read block file");
        let key = format!("{TENANT}/{ulid}/{}", rel.display());
        store.put(&key, Bytes::from(b)).await.expect("upload");
    }
    ulid
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Builds `n` blocks in a local bucket under `root`; returns the store, the ULIDs and
/// the time range covered.
async fn build_bucket(
    root: &Path,
    n: usize,
    series: usize,
) -> (Arc<dyn BlockStore>, Vec<Ulid>, i64, i64) {
    let store: Arc<dyn BlockStore> =
        Arc::new(ObjectBlockStore::local(&root.join("bucket")).expect("local bucket"));
    let start = (now_secs() * 1000 - (n as i64 + 1) * BLOCK_MS) / BLOCK_MS * BLOCK_MS;
    let mut ulids = Vec::new();
    for b in 0..n {
        let scratch = root.join(format!("scratch-{b}"));
        let dir = write_block(&scratch, series, start + b as i64 * BLOCK_MS);
        ulids.push(upload(store.as_ref(), &dir).await);
        let _ = std::fs::remove_dir_all(&scratch);
    }
    update_and_write_index(store.as_ref(), TENANT, now_secs())
        .await
        .expect("bucket index");
    (store, ulids, start, start + n as i64 * BLOCK_MS)
}

fn m(kind: MatchType, name: &str, value: &str) -> Matcher {
    Matcher::new(kind, name, value).expect("valid matcher")
}

/// Dashboard-like selects: one metric, a job, status codes by regexp, a negative match.
fn selects() -> Vec<Vec<Matcher>> {
    vec![
        vec![m(MatchType::Equal, "__name__", "http_requests_1")],
        vec![
            m(MatchType::Equal, "__name__", "http_requests_2"),
            m(MatchType::Equal, "job", "job-2"),
        ],
        vec![
            m(MatchType::Regexp, "__name__", "http_requests_[34]"),
            m(MatchType::Regexp, "code", "5.."),
        ],
        vec![
            m(MatchType::Equal, "__name__", "http_requests_5"),
            m(MatchType::NotEqual, "code", "200"),
        ],
    ]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn run_pass(gw: &StoreGateway, ulids: &[Ulid], mint: i64, maxt: i64) -> (Duration, usize) {
    let mut series = 0;
    let t = Instant::now();
    for ms in selects() {
        let req = SeriesRequest {
            min_time: mint,
            max_time: maxt,
            matchers: ms,
            block_ids: ulids.to_vec(),
            skip_chunks: false,
        };
        let resp = gw.series(TENANT, &req).await.expect("series");
        assert_eq!(
            resp.queried_blocks.len(),
            ulids.len(),
            "every block queried"
        );
        series += resp.blocks.iter().map(|b| b.series.len()).sum::<usize>();
    }
    (t.elapsed(), series)
}

fn cache_of(backend: Backend, memcached: &str, name: &str) -> Option<Arc<dyn Cache>> {
    let cfg = match backend {
        Backend::None => return None,
        Backend::Inmemory => CacheConfig {
            backend: CacheBackend::InMemory,
            ..Default::default()
        },
        Backend::Memcached => CacheConfig {
            backend: CacheBackend::Memcached,
            memcached: MemcachedConfig {
                addresses: memcached.to_string(),
                max_item_size: 16 << 20,
                // A cold pass stores ~80k chunks at once; the default queue (10k) would
                // drop most of them.
                max_async_buffer_size: 200_000,
                ..Default::default()
            },
            ..Default::default()
        },
    };
    open_cache(&cfg, name).expect("open cache")
}

async fn cache_mode(backend: Backend, memcached: &str, blocks: usize, series: usize, warm: usize) {
    let root = tempfile_dir();
    let (store, ulids, mint, maxt) = build_bucket(&root, blocks, series).await;
    let index_cache = cache_of(backend, memcached, "index-cache");
    let chunks_cache = cache_of(backend, memcached, "chunks-cache");
    let cache = Arc::new(CachingRange::new(
        index_cache.clone(),
        chunks_cache.clone(),
        CachingRangeConfig::default(),
    ));
    let gw = StoreGateway::new(
        store,
        StoreGatewayConfig {
            block_set: BlockSetConfig {
                sync_dir: root.join("sync"),
                ..Default::default()
            },
            ..Default::default()
        },
        Arc::new(OwnsAll),
        cache.clone(),
    );
    gw.sync_all(now_secs()).await;
    // Open every block first, so the cold pass measures postings, series and chunks,
    // not index-header building.
    for &u in &ulids {
        let req = SeriesRequest {
            min_time: mint,
            max_time: maxt,
            matchers: vec![m(MatchType::Equal, "__name__", "no_such_metric")],
            block_ids: vec![u],
            skip_chunks: true,
        };
        gw.series(TENANT, &req).await.expect("open block");
    }
    let s0 = (cache.stats().total(), gw.stats().requests());
    let (cold, n) = run_pass(&gw, &ulids, mint, maxt).await;
    // Stores to memcached are asynchronous: let them land before the warm passes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s1 = (cache.stats().total(), gw.stats().requests());
    let mut warm_times = Vec::new();
    for _ in 0..warm {
        warm_times.push(run_pass(&gw, &ulids, mint, maxt).await.0);
    }
    let s2 = (cache.stats().total(), gw.stats().requests());
    let ratio = |h: u64, mi: u64| {
        if h + mi == 0 {
            0.0
        } else {
            h as f64 / (h + mi) as f64
        }
    };
    let warm_med = median(warm_times);
    let name = match backend {
        Backend::Inmemory => "inmemory",
        Backend::Memcached => "memcached",
        Backend::None => "none",
    };
    println!(
        "| backend | blocks | series/pass | cold | warm (median of {warm}) | cold/warm | cold hit ratio | warm hit ratio | bucket requests cold | bucket requests warm/pass |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {name} | {blocks} | {n} | {:.1} ms | {:.1} ms | {:.2}x | {:.3} | {:.3} | {} | {:.1} |",
        cold.as_secs_f64() * 1e3,
        warm_med.as_secs_f64() * 1e3,
        cold.as_secs_f64() / warm_med.as_secs_f64(),
        ratio(s1.0.hits - s0.0.hits, s1.0.misses - s0.0.misses),
        ratio(s2.0.hits - s1.0.hits, s2.0.misses - s1.0.misses),
        s1.1 - s0.1,
        (s2.1 - s1.1) as f64 / warm.max(1) as f64,
    );
    for c in [index_cache, chunks_cache].into_iter().flatten() {
        let st = c.stats();
        eprintln!(
            "{}: stored {} skipped_too_large {} dropped_queue_full {} failures {} evictions {}",
            c.name(),
            st.stored,
            st.skipped_too_large,
            st.dropped_queue_full,
            st.failures,
            st.evictions
        );
    }
    let st = cache.stats();
    eprintln!(
        "hit ratios over the run: postings {:.3} series {:.3} chunks {:.3}",
        st.postings.hit_ratio(),
        st.series.hit_ratio(),
        st.chunks.hit_ratio()
    );
    let _ = std::fs::remove_dir_all(&root);
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

async fn memory_mode(blocks: usize, series: usize) {
    let root = tempfile_dir();
    let (store, ulids, mint, maxt) = build_bucket(&root, blocks, series).await;
    let gw = StoreGateway::new(
        store,
        StoreGatewayConfig {
            block_set: BlockSetConfig {
                sync_dir: root.join("sync"),
                ..Default::default()
            },
            ..Default::default()
        },
        Arc::new(OwnsAll),
        Arc::new(CachingRange::new(None, None, CachingRangeConfig::default())),
    );
    let before = rss_bytes();
    gw.sync_all(now_secs()).await;
    for chunk in ulids.chunks(50) {
        let req = SeriesRequest {
            min_time: mint,
            max_time: maxt,
            matchers: vec![m(MatchType::Equal, "__name__", "http_requests_1")],
            block_ids: chunk.to_vec(),
            skip_chunks: true,
        };
        let resp = gw.series(TENANT, &req).await.expect("series");
        assert_eq!(resp.queried_blocks.len(), chunk.len());
    }
    let after = rss_bytes();
    let usage = gw.index_header_usage();
    let per = |b: u64| b as f64 / blocks as f64;
    println!(
        "| blocks | series/block | RSS growth/block | index-header heap/block | index-header file/block | index size/block |"
    );
    println!("|---|---|---|---|---|---|");
    let index_bytes: u64 = ulids
        .iter()
        .map(|u| {
            std::fs::metadata(
                root.join("bucket")
                    .join(TENANT)
                    .join(u.to_string())
                    .join("index"),
            )
            .map_or(0, |m| m.len())
        })
        .sum();
    println!(
        "| {blocks} ({} loaded) | {series} | {:.0} B | {:.0} B | {:.0} B | {:.0} B |",
        usage.blocks,
        per(after.saturating_sub(before)),
        per(usage.heap_bytes),
        per(usage.file_bytes),
        per(index_bytes),
    );
    let _ = std::fs::remove_dir_all(&root);
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("store-gateway-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

fn main() {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        match args.mode {
            Mode::Cache {
                backend,
                memcached,
                blocks,
                series,
                warm_passes,
            } => cache_mode(backend, &memcached, blocks, series, warm_passes).await,
            Mode::Memory { blocks, series } => memory_mode(blocks, series).await,
        }
    });
}
