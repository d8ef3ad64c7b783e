//! Tests of the store-gateway's bucket blocks: blocks written with cortex-tsdb, put into
//! an in-memory or local bucket, queried by range and compared with what cortex-tsdb's
//! own block reader returns from the same files; and of the store-gateway over many
//! tenants' blocks (sync, ownership, the querier API, caches).

mod caching;
mod gateway;
mod gateway_sync;
mod lifecycle;
mod series;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use cortex_tsdb::block::{Block, BlockMeta};
use cortex_tsdb::db::{Db, DbOptions};
use cortex_tsdb::labels::Labels;
use cortex_tsdb::querier::{SampleIterator as _, select_block};
use cortex_tsdb::ulid::Ulid;
use cortex_tsdb::{MatchType, Matcher};
use tokio::runtime::Runtime;

use super::block::BucketSeries;
use super::querier::ChunkSamples;
use crate::querier::SampleValue;
use crate::storage::bucketindex::updater::update_and_write_index;
use crate::storage::{BlockStore, ObjectBlockStore};

const TENANT: &str = "team-a";

/// A series' labels and its samples as `(t, value bits)` (bits, so NaNs compare).
type Dump = Vec<(String, Vec<(i64, u64)>)>;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn m(kind: MatchType, name: &str, value: &str) -> Matcher {
    Matcher::new(kind, name, value).unwrap()
}

/// A deterministic float series set: `n` series of `samples` samples 15s apart from
/// `from`, with metric names, jobs and instances of various cardinality and an `env`
/// label on some.
fn dataset(n: usize, samples: i64, from: i64) -> Vec<(Labels, Vec<(i64, f64)>)> {
    (0..n)
        .map(|i| {
            let name = format!("metric_{}", i % 5);
            let job = format!("job{}", i % 10);
            let inst = format!("inst{i}");
            let mut pairs = vec![
                ("__name__", name.as_str()),
                ("job", job.as_str()),
                ("instance", inst.as_str()),
            ];
            let env = if i % 3 == 0 { "prod" } else { "dev" };
            if i % 4 != 0 {
                pairs.push(("env", env));
            }
            let labels = Labels::from_pairs(pairs).unwrap();
            let s = (0..samples)
                .map(|k| (from + k * 15_000, ((i as i64 * 7 + k) % 97) as f64 * 0.5))
                .collect();
            (labels, s)
        })
        .collect()
}

/// Writes `data` as one block via a TSDB in `scratch`; returns the block directory.
fn write_block(scratch: &Path, data: &[(Labels, Vec<(i64, f64)>)]) -> PathBuf {
    let db: Arc<Db> = Db::open(
        scratch,
        DbOptions {
            retention: None,
            ..Default::default()
        },
    )
    .unwrap();
    let mut app = db.appender();
    for (l, samples) in data {
        for &(t, v) in samples {
            app.append(l, t, v).unwrap();
        }
    }
    app.commit().unwrap();
    let metas = db.compact_head_all().unwrap();
    assert_eq!(metas.len(), 1, "the samples fit one block");
    scratch.join(metas[0].ulid.to_string())
}

fn files_of(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(root.join(rel)).unwrap().flatten() {
        let r = rel.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            files_of(root, &r, out);
        } else {
            out.push(r);
        }
    }
}

/// Puts the block in `dir` into `store` at `<TENANT>/<ULID>/`; returns its ULID and
/// total size in bytes.
async fn upload(store: &dyn BlockStore, dir: &Path) -> (Ulid, u64) {
    upload_to(store, TENANT, dir).await
}

/// Puts the block in `dir` into `store` at `<tenant>/<ULID>/`; returns its ULID and
/// total size in bytes.
async fn upload_to(store: &dyn BlockStore, tenant: &str, dir: &Path) -> (Ulid, u64) {
    let ulid = BlockMeta::read(dir).unwrap().ulid;
    let mut files = Vec::new();
    files_of(dir, Path::new(""), &mut files);
    let mut size = 0;
    for rel in files {
        let b = std::fs::read(dir.join(&rel)).unwrap();
        size += b.len() as u64;
        let key = format!("{tenant}/{ulid}/{}", rel.display());
        store.put(&key, Bytes::from(b)).await.unwrap();
    }
    (ulid, size)
}

/// Writes the tenant's bucket index as of now.
async fn write_index(store: &dyn BlockStore) {
    write_index_of(store, TENANT).await;
}

/// Writes `tenant`'s bucket index as of now.
async fn write_index_of(store: &dyn BlockStore, tenant: &str) {
    update_and_write_index(store, tenant, now_secs())
        .await
        .unwrap();
}

/// Unix seconds now.
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The two bucket kinds every test runs against: in memory and a local directory.
fn stores(dir: &Path) -> Vec<Arc<dyn BlockStore>> {
    vec![
        Arc::new(ObjectBlockStore::in_memory()),
        Arc::new(ObjectBlockStore::local(&dir.join("bucket")).unwrap()),
    ]
}

fn bits(v: &SampleValue) -> u64 {
    match v {
        SampleValue::Float(f) => f.to_bits(),
        SampleValue::Histogram(h) => h.sum.to_bits() ^ h.count.to_bits().rotate_left(1),
    }
}

/// What cortex-tsdb's block reader returns for the query.
fn tsdb_dump(block: &Arc<Block>, matchers: &[Matcher], mint: i64, maxt: i64) -> Dump {
    select_block(block, matchers, mint, maxt)
        .unwrap()
        .iter()
        .map(|s| {
            let mut it = s.iter();
            let mut v = Vec::new();
            while it.next().unwrap().is_some() {
                let (t, f) = it.at();
                v.push((t, f.to_bits()));
            }
            (s.labels.to_string(), v)
        })
        .collect()
}

/// The samples of fetched series, decoded from their chunks.
fn gateway_dump(series: &[BucketSeries], mint: i64, maxt: i64) -> Dump {
    series
        .iter()
        .map(|s| {
            let mut it = ChunkSamples::new(&s.chunks, mint, maxt);
            let mut v = Vec::new();
            while let Some(x) = it.next_sample().unwrap() {
                v.push((x.t, bits(&x.value)));
            }
            (s.labels.to_string(), v)
        })
        .collect()
}
