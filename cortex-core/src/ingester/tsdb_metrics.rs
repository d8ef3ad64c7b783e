//! The tenants' TSDB internals as metrics, read at scrape time: per tenant, the WAL
//! (records, pages, bytes saved by compression, segments, fsyncs, current segment) and
//! the head (samples appended, refused, series created and removed). Names follow
//! Cortex, which re-exports Prometheus' `prometheus_tsdb_*` metrics as
//! `cortex_ingester_tsdb_*` with a `user` label.

use std::sync::Weak;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::Ingester;

/// Reads every open tenant TSDB when scraped.
#[derive(Debug)]
pub(crate) struct TsdbCollector {
    pub(crate) ingester: Weak<Ingester>,
}

/// One metric: name (without `_total`), help, counter or gauge, value per tenant.
struct Family {
    name: &'static str,
    help: &'static str,
    counter: bool,
    values: Vec<(String, f64)>,
}

impl Collector for TsdbCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(ing) = self.ingester.upgrade() else {
            return Ok(());
        };
        let mut fams = [
            fam(
                "cortex_ingester_tsdb_wal_records_appended",
                "Records written to the WAL.",
                true,
            ),
            fam(
                "cortex_ingester_tsdb_wal_completed_pages",
                "Completed WAL pages.",
                true,
            ),
            fam(
                "cortex_ingester_tsdb_wal_record_bytes_saved",
                "Bytes saved by WAL record compression.",
                true,
            ),
            fam(
                "cortex_ingester_tsdb_wal_segments_created",
                "WAL segments created.",
                true,
            ),
            fam(
                "cortex_ingester_tsdb_wal_fsyncs",
                "fsync calls on WAL segments.",
                true,
            ),
            fam(
                "cortex_ingester_tsdb_wal_segment_current",
                "The WAL segment being written.",
                false,
            ),
            fam(
                "cortex_ingester_tsdb_head_samples_appended",
                "Samples appended to the head.",
                true,
            ),
            fam(
                "cortex_ingester_tsdb_head_out_of_order_samples",
                "Samples refused as out of order.",
                true,
            ),
            fam(
                "cortex_ingester_tsdb_head_out_of_bound_samples",
                "Samples refused as older than the head accepts.",
                true,
            ),
            fam(
                "cortex_ingester_tsdb_head_series_created",
                "Series created in the head.",
                true,
            ),
            fam(
                "cortex_ingester_tsdb_head_series_removed",
                "Series removed from the head.",
                true,
            ),
        ];
        for tenant in ing.tenants() {
            let Some(db) = ing.db(&tenant) else { continue };
            let head = db.head();
            if let Some((w, segment)) = head.wal_stats() {
                let wal = [
                    w.records as f64,
                    w.pages_completed as f64,
                    w.compression_saved_bytes as f64,
                    w.segments_created as f64,
                    w.fsyncs as f64,
                    segment as f64,
                ];
                for (f, v) in fams.iter_mut().zip(wal) {
                    f.values.push((tenant.clone(), v));
                }
            }
            let st = head.stats();
            let h = [
                st.samples_appended.load(Ordering::Relaxed),
                st.out_of_order.load(Ordering::Relaxed),
                st.out_of_bounds.load(Ordering::Relaxed),
                st.series_created.load(Ordering::Relaxed),
                st.series_removed.load(Ordering::Relaxed),
            ];
            for (f, v) in fams.iter_mut().skip(6).zip(h) {
                f.values.push((tenant.clone(), v as f64));
            }
        }
        for f in &fams {
            let kind = if f.counter {
                MetricType::Counter
            } else {
                MetricType::Gauge
            };
            let mut family = encoder.encode_descriptor(f.name, f.help, None, kind)?;
            for (tenant, v) in &f.values {
                let labels = [("user", tenant.as_str())];
                let m = family.encode_family(&labels)?;
                if f.counter {
                    ConstCounter::new(*v).encode(m)?;
                } else {
                    ConstGauge::new(*v).encode(m)?;
                }
            }
        }
        Ok(())
    }
}

fn fam(name: &'static str, help: &'static str, counter: bool) -> Family {
    Family {
        name,
        help,
        counter,
        values: Vec::new(),
    }
}
