//! Helpers shared by the index behaviour tests: fixture paths, reading a whole index, and
//! a brute-force matcher evaluation to check the postings machinery against.

#![allow(dead_code)]

use std::path::PathBuf;

use cortex_tsdb::Result;
use cortex_tsdb::chunks::ChunkMeta;
use cortex_tsdb::index::{IndexReader, Postings, SeriesRef};
use cortex_tsdb::labels::{Labels, Matcher};

/// The Prometheus 2.42 fixtures directory.
pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/prometheus-2.42"
    ))
}

/// Block directories of one fixture set, sorted.
pub fn blocks(set: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(fixtures().join(set))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("index").is_file())
        .collect();
    out.sort();
    out
}

/// Every index written by Prometheus 2.42 in the fixtures.
pub fn all_indexes() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = blocks("openmetrics-blocks")
        .into_iter()
        .chain(blocks("native-histograms"))
        .map(|b| b.join("index"))
        .collect();
    out.sort();
    assert_eq!(out.len(), 5, "fixture indexes missing: {out:?}");
    out
}

/// One series as read from an index.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub id: SeriesRef,
    pub labels: Labels,
    pub chunks: Vec<ChunkMeta>,
}

/// Every series of the index, in reference order, found through the all-postings list.
pub fn read_series(r: &IndexReader) -> Result<Vec<Series>> {
    let mut p = r.all_postings()?;
    let mut out = Vec::new();
    while let Some(id) = p.next() {
        let mut chunks = Vec::new();
        let labels = r.series(id, &mut chunks)?;
        out.push(Series { id, labels, chunks });
    }
    Ok(out)
}

/// The references of the series that all `matchers` select, by testing each series.
pub fn brute_force(series: &[Series], matchers: &[Matcher]) -> Vec<SeriesRef> {
    if matchers.is_empty() {
        return Vec::new();
    }
    series
        .iter()
        .filter(|s| {
            matchers
                .iter()
                .all(|m| m.matches(s.labels.get(m.name()).unwrap_or("")))
        })
        .map(|s| s.id)
        .collect()
}

/// Drains a postings cursor.
pub fn refs(mut p: impl Postings) -> Vec<SeriesRef> {
    let mut out = Vec::new();
    while let Some(v) = p.next() {
        out.push(v);
    }
    out
}
