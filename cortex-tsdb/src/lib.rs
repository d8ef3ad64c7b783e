//! Prometheus' time-series database format, in Rust.
//!
//! `cortex-tsdb` reads and writes Prometheus TSDB blocks byte-compatibly: label sets and
//! matchers ([`labels`]), chunk encodings ([`chunkenc`]), chunk segment files
//! ([`chunks`]), the index ([`index`]) and the index-header a store-gateway keeps of it
//! ([`index_header`]), tombstones and `meta.json` ([`block`]), and the
//! write-ahead log ([`wal`]) with its records ([`record`]). It depends on no other crate
//! of the workspace.

pub mod block;
pub mod chunkenc;
pub mod chunks;
pub mod db;
pub mod encoding;
pub mod error;
pub mod exemplar;
pub mod fileutil;
pub mod float_format;
pub mod head;
pub mod histogram;
pub mod index;
pub mod index_header;
pub mod labels;
pub mod querier;
pub mod record;
pub mod textparse;
pub mod tombstones;
pub mod ulid;
pub mod value;
pub mod wal;

pub use error::{Error, Result};
pub use exemplar::{Exemplar, ExemplarSeries};
pub use labels::{Label, Labels, MatchType, Matcher};
