//! Shipping a tenant's blocks to the bucket, as Thanos' shipper does for Cortex
//! ingesters: every local block not recorded as uploaded (and not empty) whose
//! `meta.json` is not in the bucket yet is uploaded to `<tenant>/<ULID>/` — chunk files,
//! then the index, then `meta.json` with the Thanos section, last, so a block without
//! `meta.json` in the bucket is an unfinished upload and is uploaded again whole. A
//! block whose `meta.json` is already there counts as uploaded. The record of uploaded
//! blocks that still exist locally is then written to `thanos.shipper.json`. A failed
//! block does not stop the others; it is retried on the next ship. The tenant's bucket
//! index is updated after the uploads when due (see `bucket_index.rs`).

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use cortex_tsdb::block::{BlockMeta, CHUNKS_DIRNAME, INDEX_FILENAME, META_FILENAME as FILENAME};
use object_store::path::Path as ObjectPath;

use super::bucket::Bucket;
use super::bucket_index::{IndexUpdate, maybe_update};
use super::error::IngesterError;
use super::metrics::IngesterMetrics;
use super::shipper_meta::ShipperMeta;
use super::tenant::TenantDb;
use super::thanos_meta::{BlockFile, upload_meta_json};
use super::time_format::rfc3339_now;

/// What one ship of one tenant did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ShipStats {
    /// Blocks uploaded.
    pub uploaded: usize,
    /// Blocks that failed to upload (retried next time).
    pub failed: usize,
    /// The first failure, if any.
    pub first_error: Option<String>,
    /// Tenant bucket indexes written.
    pub index_updates: usize,
    /// Tenant bucket index updates that failed (tried again on the next ship; they
    /// never fail the ship).
    pub index_update_failures: usize,
    /// The first index update failure, if any.
    pub index_error: Option<String>,
}

impl ShipStats {
    /// Adds another tenant's numbers.
    pub fn merge(&mut self, o: ShipStats) {
        self.uploaded += o.uploaded;
        self.failed += o.failed;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        self.index_updates += o.index_updates;
        self.index_update_failures += o.index_update_failures;
        if self.index_error.is_none() {
            self.index_error = o.index_error;
        }
    }
}

/// Uploads the tenant's new blocks (see the module documentation).
pub(crate) async fn ship_tenant(
    t: &TenantDb,
    bucket: &Bucket,
    labels: &BTreeMap<String, String>,
    upload_compacted: bool,
    metrics: &IngesterMetrics,
) -> Result<ShipStats, IngesterError> {
    let _ship = t.ship_lock.lock().await;
    let shipped = t.shipped();
    let mut record = Vec::new();
    let mut stats = ShipStats::default();
    for b in t.db().blocks() {
        let meta = b.meta();
        if shipped.contains(&meta.ulid) {
            record.push(meta.ulid);
            continue;
        }
        if meta.stats.num_samples == 0 || (meta.compaction.level > 1 && !upload_compacted) {
            continue;
        }
        let prefix = format!("{}/{}", t.tenant(), meta.ulid);
        let res = match bucket
            .exists(&ObjectPath::from(format!("{prefix}/{FILENAME}")))
            .await
        {
            Ok(true) => Ok(false),
            Ok(false) => upload_block(bucket, b.dir(), meta, &prefix, labels)
                .await
                .map(|()| true),
            Err(e) => Err(e),
        };
        match res {
            Ok(uploaded) => {
                record.push(meta.ulid);
                if uploaded {
                    stats.uploaded += 1;
                    metrics.shipper_uploads.inc();
                }
            }
            Err(e) => {
                stats.failed += 1;
                metrics.shipper_upload_failures.inc();
                stats.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    match maybe_update(
        t,
        &**bucket.block_store(),
        stats.uploaded,
        !record.is_empty(),
    )
    .await
    {
        IndexUpdate::Skipped => {}
        IndexUpdate::Updated => {
            stats.index_updates += 1;
            metrics.bucket_index_updates.inc();
        }
        IndexUpdate::Failed(e) => {
            stats.index_update_failures += 1;
            metrics.bucket_index_update_failures.inc();
            stats.index_error.get_or_insert(e);
        }
    }
    let dir = t.dir_buf();
    let meta = ShipperMeta {
        uploaded: record.clone(),
    };
    let written = tokio::task::spawn_blocking(move || meta.write(&dir))
        .await
        .map_err(|e| IngesterError::Task(e.to_string()))
        .and_then(|r| r);
    // The in-memory record follows what was uploaded even if the file could not be
    // written: the next ship finds the blocks in the bucket and writes it again.
    t.set_shipped(record);
    match written {
        Ok(()) => metrics.shipper_dir_syncs.inc(),
        Err(e) => {
            metrics.shipper_dir_sync_failures.inc();
            return Err(e);
        }
    };
    Ok(stats)
}

/// Uploads one block: chunk files, index, then the bucket's meta.json.
async fn upload_block(
    bucket: &Bucket,
    dir: &Path,
    meta: &BlockMeta,
    prefix: &str,
    labels: &BTreeMap<String, String>,
) -> Result<(), IngesterError> {
    let chunks_dir = dir.join(CHUNKS_DIRNAME);
    let mut names = Vec::new();
    let mut rd = tokio::fs::read_dir(&chunks_dir)
        .await
        .map_err(|e| IngesterError::io("read dir", &chunks_dir, e))?;
    while let Some(e) = rd
        .next_entry()
        .await
        .map_err(|e| IngesterError::io("read dir", &chunks_dir, e))?
    {
        if let Some(n) = e.file_name().to_str() {
            names.push(n.to_string());
        }
    }
    names.sort();
    let mut files = Vec::with_capacity(names.len() + 2);
    for n in &names {
        let dest = ObjectPath::from(format!("{prefix}/{CHUNKS_DIRNAME}/{n}"));
        let size = bucket.upload_file(&chunks_dir.join(n), &dest).await?;
        files.push(BlockFile {
            rel_path: format!("{CHUNKS_DIRNAME}/{n}"),
            size_bytes: Some(size),
        });
    }
    let index_dest = ObjectPath::from(format!("{prefix}/{INDEX_FILENAME}"));
    let size = bucket
        .upload_file(&dir.join(INDEX_FILENAME), &index_dest)
        .await?;
    files.push(BlockFile {
        rel_path: INDEX_FILENAME.to_string(),
        size_bytes: Some(size),
    });
    files.push(BlockFile {
        rel_path: FILENAME.to_string(),
        size_bytes: None,
    });
    let json = upload_meta_json(meta, labels, &files, &rfc3339_now());
    bucket
        .put(
            &ObjectPath::from(format!("{prefix}/{FILENAME}")),
            Bytes::from(json),
        )
        .await
}
