//! Tests of the queriers over a tenant's data (ingester TSDB and bucket blocks) and of
//! tenant federation, with helpers that write blocks and put them in buckets.

mod blocks_store;
mod federated;
mod tenant;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cortex_tsdb::block::BlockMeta;
use cortex_tsdb::db::{Db, DbOptions};
use cortex_tsdb::labels::Labels;
use cortex_tsdb::ulid::Ulid;
use object_store::path::Path as ObjectPath;
use tokio::runtime::Runtime;

use super::{Querier, Sample, SampleValue, SelectHints};
use crate::ingester::Bucket;

pub(super) const TENANT: &str = "team-a";

pub(super) fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

pub(super) fn float(t: i64, v: f64) -> Sample {
    Sample {
        t,
        st: 0,
        value: SampleValue::Float(v),
    }
}

/// A runtime for the remote-store calls; tests call the queriers from their own thread.
pub(super) fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

pub(super) fn open_db(dir: &Path) -> Arc<Db> {
    Db::open(
        dir,
        DbOptions {
            retention: None,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Appends the samples of `data` with timestamps in `[from, to)`.
pub(super) fn append(db: &Db, data: &[(Labels, Vec<Sample>)], from: i64, to: i64) {
    let mut app = db.appender();
    for (l, samples) in data {
        for s in samples.iter().filter(|s| (from..to).contains(&s.t)) {
            match &s.value {
                SampleValue::Float(v) => {
                    app.append(l, s.t, *v).unwrap();
                }
                SampleValue::Histogram(h) => {
                    app.append_float_histogram(l, s.t, h).unwrap();
                }
            }
        }
    }
    app.commit().unwrap();
}

/// Writes the samples of `data` in `[from, to)` as one block (via a TSDB in
/// `scratch`) and returns the block's directory.
pub(super) fn write_block(
    scratch: &Path,
    data: &[(Labels, Vec<Sample>)],
    from: i64,
    to: i64,
) -> PathBuf {
    let db = open_db(scratch);
    append(&db, data, from, to);
    let metas = db.compact_head_all().unwrap();
    assert_eq!(metas.len(), 1, "the samples fit one block");
    scratch.join(metas[0].ulid.to_string())
}

pub(super) fn ulid_of(block_dir: &Path) -> Ulid {
    BlockMeta::read(block_dir).unwrap().ulid
}

pub(super) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Puts the block in `block_dir` into `bucket` at `<TENANT>/<ULID>/`.
pub(super) fn put_block(rt: &Runtime, bucket: &Bucket, block_dir: &Path) {
    let ulid = ulid_of(block_dir);
    rt.block_on(async {
        for rel in files_of(block_dir, Path::new("")) {
            let dest = ObjectPath::from(format!("{TENANT}/{ulid}/{}", rel.display()));
            bucket
                .upload_file(&block_dir.join(&rel), &dest)
                .await
                .unwrap();
        }
    });
}

fn files_of(root: &Path, rel: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root.join(rel)).unwrap().flatten() {
        let r = rel.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            out.extend(files_of(root, &r));
        } else {
            out.push(r);
        }
    }
    out
}

pub(super) fn all() -> SelectHints {
    SelectHints {
        start: i64::MIN,
        end: i64::MAX,
        ..Default::default()
    }
}

/// Every selected series as `labels => [(t, v)]`, floats only.
pub(super) fn dump(q: &dyn Querier, hints: &SelectHints) -> Vec<(String, Vec<(i64, f64)>)> {
    q.select(hints, &[])
        .unwrap()
        .iter()
        .map(|s| {
            let mut it = s.samples();
            let mut v = Vec::new();
            while let Some(x) = it.next().unwrap() {
                if let SampleValue::Float(f) = x.value {
                    v.push((x.t, f));
                }
            }
            (s.labels().to_string(), v)
        })
        .collect()
}
