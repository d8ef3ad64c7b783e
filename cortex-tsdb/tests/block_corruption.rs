//! Damage to any file of a real Prometheus block — a flipped bit anywhere, a truncation —
//! is either reported as an error naming the damaged file, or changes nothing that is
//! read. Never a panic, never silently fewer or different samples.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cortex_tsdb::block::open_blocks;
use cortex_tsdb::chunkenc::ValueType;
use cortex_tsdb::labels::{MatchType, Matcher};
use cortex_tsdb::querier::{SampleIterator, merge_series, select_block};

fn fixture_blocks() -> Vec<PathBuf> {
    let root = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/prometheus-2.42"
    ));
    if !root.exists() {
        assert!(std::env::var("CI").is_err(), "fixtures missing under CI");
        eprintln!("skipping: fixtures not present");
        return Vec::new();
    }
    // One block with XOR chunks only, one with every chunk encoding.
    let mut out = Vec::new();
    for set in ["openmetrics-blocks", "native-histograms"] {
        out.push(
            cortex_tsdb::block::block_dirs(&root.join(set))
                .unwrap()
                .remove(0),
        );
    }
    out
}

/// Every sample of every block in `data_dir`, as text.
fn read_all(data_dir: &Path) -> cortex_tsdb::Result<String> {
    let blocks = open_blocks(data_dir)?;
    let all = [Matcher::new(MatchType::Regexp, "__name__", ".+").unwrap()];
    let sets = blocks
        .iter()
        .map(|b| select_block(b, &all, i64::MIN, i64::MAX))
        .collect::<cortex_tsdb::Result<Vec<_>>>()?;
    let mut out = String::new();
    for s in merge_series(sets) {
        let _ = writeln!(out, "{}", s.labels);
        let mut it = s.iter();
        while let Some(vt) = it.next()? {
            match vt {
                ValueType::Float => {
                    let (t, v) = it.at();
                    let _ = writeln!(out, "{t} {:x}", v.to_bits());
                }
                _ => {
                    let (t, h) = it.at_float_histogram();
                    let _ = writeln!(out, "{t} {h:?}");
                }
            }
        }
    }
    Ok(out)
}

fn copy_block(src: &Path, data_dir: &Path) -> PathBuf {
    let dst = data_dir.join(src.file_name().unwrap());
    std::fs::create_dir_all(dst.join("chunks")).unwrap();
    for f in ["meta.json", "index", "tombstones", "chunks/000001"] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
        let mut p = std::fs::metadata(dst.join(f)).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        p.set_readonly(false);
        std::fs::set_permissions(dst.join(f), p).unwrap();
    }
    dst
}

/// Byte positions to damage: all of a small file, a dense sample of a large one.
fn positions(len: usize) -> Vec<usize> {
    if len <= 4096 {
        return (0..len).collect();
    }
    let mut p: Vec<usize> = (0..64).chain(len - 64..len).collect();
    p.extend((64..len - 64).step_by(29));
    p
}

#[test]
fn every_flip_and_truncation_is_detected_or_harmless() {
    let blocks = fixture_blocks();
    let mut checked = 0;
    for src in &blocks {
        let tmp = tempfile::tempdir().unwrap();
        let blk = copy_block(src, tmp.path());
        let baseline = read_all(tmp.path()).unwrap();
        assert!(baseline.lines().count() > 100);
        for (file, shown) in [
            ("meta.json", "meta.json"),
            ("index", "index"),
            ("tombstones", "tombstones"),
            ("chunks/000001", "000001"),
        ] {
            let path = blk.join(file);
            let good = std::fs::read(&path).unwrap();
            let mut detected = 0;
            for pos in positions(good.len()) {
                let mut bad = good.clone();
                bad[pos] ^= 1 << (pos % 8);
                std::fs::write(&path, &bad).unwrap();
                match read_all(tmp.path()) {
                    Ok(got) => assert!(
                        got == baseline,
                        "{file} byte {pos} flipped: samples changed without an error"
                    ),
                    Err(e) => {
                        assert!(
                            e.to_string().contains(shown),
                            "{file} byte {pos}: error does not name the file: {e}"
                        );
                        detected += 1;
                    }
                }
                checked += 1;
            }
            assert!(detected > 0, "no damage to {file} was ever detected");
            for len in [0, 1, 4, 8, good.len() / 2, good.len() - 5, good.len() - 1] {
                std::fs::write(&path, &good[..len]).unwrap();
                let err = read_all(tmp.path())
                    .expect_err(&format!("{file} truncated to {len} bytes went unnoticed"));
                assert!(
                    err.to_string().contains(shown),
                    "{file} truncated to {len}: {err}"
                );
                checked += 1;
            }
            std::fs::write(&path, &good).unwrap();
        }
        assert_eq!(read_all(tmp.path()).unwrap(), baseline);
    }
    if !blocks.is_empty() {
        assert!(checked > 5_000, "only {checked} damaged variants checked");
    }
}

#[test]
fn wrong_magic_is_reported_per_file() {
    let blocks = fixture_blocks();
    let Some(src) = blocks.first() else { return };
    for (file, section) in [
        ("index", "index"),
        ("chunks/000001", "segment header"),
        ("tombstones", "tombstones"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let blk = copy_block(src, tmp.path());
        let path = blk.join(file);
        let mut b = std::fs::read(&path).unwrap();
        b[..4].copy_from_slice(b"WXYZ");
        std::fs::write(&path, &b).unwrap();
        let err = read_all(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains(file.rsplit('/').next().unwrap()) && err.contains(section)
                || err.contains("magic"),
            "{file}: {err}"
        );
    }
}
