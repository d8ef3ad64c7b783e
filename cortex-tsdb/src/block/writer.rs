//! Writing a complete block directory from series and their encoded chunks.
//!
//! Everything is written under `<parent>/<ulid>.tmp-for-creation` — chunk segments, index,
//! `meta.json` with the statistics, an empty `tombstones` — fsynced, and then renamed to
//! `<parent>/<ulid>` in one step, as Prometheus' compactor does. A crash leaves either no
//! block or a complete one (plus a temporary directory that openers ignore).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{BlockMeta, CHUNKS_DIRNAME, INDEX_FILENAME};
use crate::chunkenc::Encoding;
use crate::chunks::{ChunkMeta, ChunkWriter, RawChunk};
use crate::index::IndexWriter;
use crate::labels::Labels;
use crate::tombstones::Tombstones;
use crate::{Error, Result, fileutil};

/// Suffix of the directory a block is built in before it is renamed into place.
pub const TMP_SUFFIX: &str = ".tmp-for-creation";

/// One encoded chunk of a series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedChunk {
    /// How `data` is encoded.
    pub encoding: Encoding,
    /// The chunk bytes (without the encoding byte).
    pub data: Vec<u8>,
    /// Timestamp of the first sample.
    pub min_time: i64,
    /// Timestamp of the last sample.
    pub max_time: i64,
    /// Number of samples.
    pub num_samples: u32,
}

/// A series to write: its labels and chunks in time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesChunks {
    /// The series' labels.
    pub labels: Labels,
    /// The chunks, in time order and not overlapping.
    pub chunks: Vec<EncodedChunk>,
}

/// Writes a block with `meta`'s identity, time range and compaction fields into
/// `parent/<ulid>`; `series` must be sorted by labels. Statistics are computed and stored
/// in the meta; the written meta is returned.
pub fn write_block(
    parent: &Path,
    mut meta: BlockMeta,
    series: &[SeriesChunks],
) -> Result<BlockMeta> {
    let final_dir = parent.join(meta.ulid.to_string());
    let tmp = PathBuf::from(format!("{}{TMP_SUFFIX}", final_dir.display()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io("remove", &tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io("create dir", &tmp, e))?;
    let res = write_contents(&tmp, &mut meta, series).and_then(|()| {
        fileutil::sync_dir(&tmp)?;
        if final_dir.exists() {
            return Err(Error::InvalidArgument(format!(
                "block directory {} already exists",
                final_dir.display()
            )));
        }
        fileutil::rename_durable(&tmp, &final_dir)
    });
    if res.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    res.map(|()| meta)
}

fn write_contents(dir: &Path, meta: &mut BlockMeta, series: &[SeriesChunks]) -> Result<()> {
    for pair in series.windows(2) {
        if pair[0].labels >= pair[1].labels {
            return Err(Error::InvalidArgument(format!(
                "series must be sorted and unique: {} comes before {}",
                pair[0].labels, pair[1].labels
            )));
        }
    }
    // Prometheus' head lists the empty string among its symbols (from the key of the
    // all-series postings list), so every block it writes has it; so do ours.
    let mut symbols = BTreeSet::from([""]);
    for s in series {
        for l in s.labels.iter() {
            symbols.insert(l.name);
            symbols.insert(l.value);
        }
    }
    let mut chunkw = ChunkWriter::create(&dir.join(CHUNKS_DIRNAME))?;
    let mut indexw = IndexWriter::create(dir.join(INDEX_FILENAME))?;
    for s in &symbols {
        indexw.add_symbol(s)?;
    }
    meta.stats = Default::default();
    let mut raw = Vec::new();
    let mut metas = Vec::new();
    for s in series {
        if s.chunks.is_empty() {
            continue;
        }
        raw.clear();
        raw.extend(s.chunks.iter().map(|c| RawChunk {
            encoding: c.encoding,
            data: &c.data,
        }));
        let refs = chunkw.write_series_chunks(&raw)?;
        metas.clear();
        metas.extend(s.chunks.iter().zip(refs).map(|(c, r)| ChunkMeta {
            min_time: c.min_time,
            max_time: c.max_time,
            chunk_ref: r,
        }));
        indexw.add_series(&s.labels, &metas)?;
        let st = &mut meta.stats;
        st.num_series += 1;
        st.num_chunks += s.chunks.len() as u64;
        for c in &s.chunks {
            st.num_samples += u64::from(c.num_samples);
            match c.encoding {
                Encoding::Xor => st.num_float_samples += u64::from(c.num_samples),
                _ => st.num_histogram_samples += u64::from(c.num_samples),
            }
        }
    }
    chunkw.finish()?;
    indexw.finish()?;
    Tombstones::new().write(dir)?;
    meta.write(dir)?;
    Ok(())
}
