//! Blocks created from the OpenMetrics fixture are the blocks promtool 2.42 created from it:
//! same time ranges and statistics, byte-identical index and chunk files.

use std::path::{Path, PathBuf};

use cortex_tsdb::block::{BackfillOptions, BlockMeta, create_blocks_from_openmetrics};
use cortex_tsdb::chunkenc::ByteCompat;

fn fixture_dir() -> Option<PathBuf> {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/prometheus-2.42/openmetrics-blocks"
    ));
    if dir.exists() {
        return Some(dir.to_path_buf());
    }
    assert!(
        std::env::var("CI").is_err(),
        "{} is missing under CI",
        dir.display()
    );
    eprintln!("skipping: {} not present", dir.display());
    None
}

#[test]
fn backfilled_fixture_blocks_are_byte_identical_to_promtools() {
    let Some(fixture) = fixture_dir() else { return };
    let input = std::fs::read(fixture.join("source.om")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let opts = BackfillOptions {
        byte_compat: ByteCompat::V2,
        ..Default::default()
    };
    let ours = create_blocks_from_openmetrics(&input, out.path(), opts).unwrap();

    let mut theirs: Vec<BlockMeta> = cortex_tsdb::block::block_dirs(&fixture)
        .unwrap()
        .iter()
        .map(|d| BlockMeta::read(d).unwrap())
        .collect();
    theirs.sort_by_key(|m| m.min_time);
    assert_eq!(ours.len(), theirs.len());
    for (o, t) in ours.iter().zip(&theirs) {
        assert_eq!((o.min_time, o.max_time), (t.min_time, t.max_time));
        assert_eq!(o.stats.num_samples, t.stats.num_samples);
        assert_eq!(o.stats.num_series, t.stats.num_series);
        assert_eq!(o.stats.num_chunks, t.stats.num_chunks);
        assert_eq!(o.compaction.level, 1);
        assert_eq!(o.compaction.sources, vec![o.ulid]);
        let od = out.path().join(o.ulid.to_string());
        let td = fixture.join(t.ulid.to_string());
        for f in ["index", "chunks/000001", "tombstones"] {
            let a = std::fs::read(od.join(f)).unwrap();
            let b = std::fs::read(td.join(f)).unwrap();
            assert!(
                a == b,
                "{f} of block {} differs from promtool's {}",
                o.ulid,
                t.ulid
            );
        }
    }
}
