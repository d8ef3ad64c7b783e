//! Helpers shared by the ingester tests: requests, an ingester in a temporary
//! directory, reading samples back, and an object store that fails a set number of
//! writes.

#![allow(dead_code, missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use futures_core::stream::BoxStream;
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use prometheus_client::registry::Registry;

use cortex_core::ingester::{
    Bucket, Ingester, IngesterConfig, StaticLimits, TenantLimits, TsdbConfig,
};
use cortex_core::remote_write::{Label, Sample, TimeSeries, WriteRequest};
use cortex_tsdb::chunkenc::ValueType;
use cortex_tsdb::querier::{SampleIterator, Series};

pub const HOUR: i64 = 3_600_000;

/// A series with `labels` (sorted pairs) and float samples.
pub fn series<'a>(labels: &[(&'a str, &'a str)], samples: &[(i64, f64)]) -> TimeSeries<'a> {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label { name: n, value: v })
            .collect(),
        samples: samples
            .iter()
            .map(|(t, v)| Sample {
                timestamp: *t,
                value: *v,
            })
            .collect(),
        ..Default::default()
    }
}

pub fn request(ts: Vec<TimeSeries<'_>>) -> WriteRequest<'_> {
    WriteRequest {
        timeseries: ts,
        ..Default::default()
    }
}

pub fn tsdb_config(dir: &Path) -> TsdbConfig {
    TsdbConfig {
        dir: dir.join("tsdb"),
        ..TsdbConfig::default()
    }
}

/// An ingester with default limits, its TSDBs and a local bucket under `dir`.
pub fn open_default(dir: &Path) -> Arc<Ingester> {
    open(
        tsdb_config(dir),
        Bucket::local(&dir.join("bucket")).unwrap(),
        StaticLimits::default(),
    )
}

pub fn open(tsdb: TsdbConfig, bucket: Bucket, limits: StaticLimits) -> Arc<Ingester> {
    open_with(tsdb, bucket, Arc::new(limits))
}

pub fn open_with(tsdb: TsdbConfig, bucket: Bucket, limits: Arc<dyn TenantLimits>) -> Arc<Ingester> {
    let mut reg = Registry::default();
    Ingester::open(
        IngesterConfig::default(),
        tsdb,
        limits,
        bucket,
        "",
        &mut reg,
    )
    .unwrap()
}

/// Every float sample of `series`, as (labels text, samples).
pub fn floats(series: &[Series]) -> Vec<(String, Vec<(i64, f64)>)> {
    series
        .iter()
        .map(|s| {
            let mut it = s.iter();
            let mut v = Vec::new();
            while let Some(vt) = it.next().unwrap() {
                if vt == ValueType::Float {
                    v.push(it.at());
                }
            }
            (s.labels.to_string(), v)
        })
        .collect()
}

/// An object store that fails the first `fail_puts` writes, then behaves like `inner`.
#[derive(Debug)]
pub struct FlakyStore {
    pub inner: Arc<dyn ObjectStore>,
    pub fail_puts: AtomicUsize,
}

impl std::fmt::Display for FlakyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FlakyStore({})", self.inner)
    }
}

impl FlakyStore {
    fn should_fail(&self) -> bool {
        self.fail_puts
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }
}

#[async_trait]
impl ObjectStore for FlakyStore {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        if self.should_fail() {
            return Err(object_store::Error::Generic {
                store: "flaky",
                source: "injected failure".into(),
            });
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
