//! Damaged index files: every flipped byte, every truncation, wrong magic, bad checksums.
//! The reader must report the damage as `Error::Corrupted` naming the file and the section
//! that holds the bad byte — never panic, never quietly return fewer series.

mod index_common;

use std::path::{Path, PathBuf};

use cortex_tsdb::Error;
use cortex_tsdb::index::{IndexReader, Toc};
use cortex_tsdb::labels::{MatchType, Matcher};
use index_common::{Series, all_indexes, read_series, refs};

/// Everything a reader can be asked, as plain data to compare.
#[derive(Debug, PartialEq)]
struct Snapshot {
    symbols: Vec<String>,
    names: Vec<String>,
    values: Vec<Vec<String>>,
    series: Vec<Series>,
    selected: Vec<Vec<u64>>,
}

fn snapshot(bytes: Vec<u8>, name: &Path) -> cortex_tsdb::Result<Snapshot> {
    let r = IndexReader::from_bytes(bytes, name)?;
    let symbols: Vec<String> = r.symbols().map(String::from).collect();
    let names: Vec<String> = r.label_names().into_iter().map(String::from).collect();
    let mut values = Vec::new();
    for n in &names {
        let vs = r.label_values(n)?;
        let vs_refs: Vec<&str> = vs.clone();
        refs(r.postings(n, &vs_refs)?);
        values.push(vs.into_iter().map(String::from).collect());
    }
    let series = read_series(&r)?;
    let mut selected = Vec::new();
    for ms in [
        vec![Matcher::new(MatchType::Regexp, "__name__", ".+").unwrap()],
        vec![Matcher::new(MatchType::NotEqual, "job", "api").unwrap()],
    ] {
        selected.push(refs(r.postings_for_matchers(&ms)?));
    }
    let stats = r.verify()?;
    assert_eq!(stats.series, series.len() as u64);
    Ok(Snapshot {
        symbols,
        names,
        values,
        series,
        selected,
    })
}

/// The section of the format that holds byte `at`, by the undamaged file's TOC.
fn section_of(toc: &Toc, len: usize, at: usize) -> &'static str {
    let at = at as u64;
    let toc_start = (len - Toc::LEN) as u64;
    if at < 5 {
        "header"
    } else if at < toc.series {
        "symbols"
    } else if at < toc.label_indices {
        "series"
    } else if at < toc.postings {
        "label indices"
    } else if at < toc.label_indices_table {
        "postings"
    } else if at < toc.postings_table {
        "label offset table"
    } else if at < toc_start {
        "postings offset table"
    } else {
        "TOC"
    }
}

fn corrupted_section(err: &Error, name: &Path) -> String {
    match err {
        Error::Corrupted { file, section, .. } => {
            assert_eq!(file, name, "error names the wrong file: {err}");
            section.clone()
        }
        other => panic!("expected Corrupted, got {other}"),
    }
}

#[test]
fn every_flipped_byte_is_reported_in_its_section() {
    for path in all_indexes() {
        let original = std::fs::read(&path).unwrap();
        let name = PathBuf::from("damaged/index");
        let good = snapshot(original.clone(), &name).unwrap();
        let toc = *IndexReader::from_bytes(original.clone(), &name)
            .unwrap()
            .toc();
        for mask in [0xffu8, 0x01] {
            for at in 0..original.len() {
                let mut bytes = original.clone();
                bytes[at] ^= mask;
                match snapshot(bytes, &name) {
                    Ok(s) => {
                        // Undetected damage must at least not change any answer.
                        assert_eq!(s, good, "{path:?}: flip {mask:#x} at {at} changed answers");
                        panic!("{path:?}: flip {mask:#x} at {at} went unnoticed");
                    }
                    Err(e) => {
                        let section = corrupted_section(&e, &name);
                        let want = section_of(&toc, original.len(), at);
                        assert_eq!(section, want, "{path:?}: flip {mask:#x} at {at}: {e}");
                    }
                }
            }
        }
    }
}

#[test]
fn every_truncation_is_an_error() {
    for path in all_indexes() {
        let original = std::fs::read(&path).unwrap();
        for len in 0..original.len() {
            let err = IndexReader::from_bytes(original[..len].to_vec(), &path)
                .and_then(|r| read_series(&r).map(drop))
                .unwrap_err();
            let section = corrupted_section(&err, &path);
            assert!(
                ["header", "TOC"].contains(&section.as_str()),
                "cut at {len}: {err}"
            );
        }
        // Bytes appended after the TOC move it: also an error.
        let mut longer = original.clone();
        longer.extend_from_slice(&[0; 7]);
        assert!(IndexReader::from_bytes(longer, &path).is_err());
    }
}

#[test]
fn wrong_magic_and_version_are_header_errors() {
    let path = &all_indexes()[0];
    let original = std::fs::read(path).unwrap();
    let mut bytes = original.clone();
    bytes[0] = 0xbb;
    let err = IndexReader::from_bytes(bytes, path).unwrap_err();
    assert_eq!(corrupted_section(&err, path), "header");
    assert!(err.to_string().contains("magic"), "{err}");
    let mut bytes = original.clone();
    bytes[4] = 1;
    let err = IndexReader::from_bytes(bytes, path).unwrap_err();
    assert!(err.to_string().contains("version 1"), "{err}");
    let mut bytes = original;
    bytes[4] = 3;
    assert!(IndexReader::from_bytes(bytes, path).is_err());
}

#[test]
fn series_checksum_mismatch_names_the_file_and_offset() {
    let path = &all_indexes()[0];
    let original = std::fs::read(path).unwrap();
    let r = IndexReader::open(path).unwrap();
    let series = read_series(&r).unwrap();
    let victim = &series[3];
    let at = (victim.id * 16) as usize + 3; // inside the body of the fourth series
    let mut bytes = original;
    bytes[at] ^= 0x04;
    let dir = tempfile::tempdir().unwrap();
    let damaged = dir.path().join("index");
    std::fs::write(&damaged, &bytes).unwrap();

    // Opening succeeds (series are checked when read); the other series still read.
    let r = IndexReader::open(&damaged).unwrap();
    let mut chunks = Vec::new();
    assert!(r.series(series[2].id, &mut chunks).is_ok());
    let err = r.series(victim.id, &mut chunks).unwrap_err();
    match &err {
        Error::Corrupted {
            file,
            section,
            offset,
            detail,
        } => {
            assert_eq!(file, &damaged);
            assert_eq!(section, "series");
            assert!(detail.contains("checksum"), "{detail}");
            assert!(
                *offset > victim.id * 16 && *offset < series[4].id * 16,
                "{err}"
            );
        }
        other => panic!("{other}"),
    }
    // Walking all series stops with the error instead of skipping the series.
    assert!(read_series(&r).is_err());
    assert!(r.verify().is_err());
}

#[test]
fn series_references_outside_the_series_section_are_errors() {
    let r = IndexReader::open(&all_indexes()[0]).unwrap();
    let mut chunks = Vec::new();
    for id in [0, 1, r.toc().label_indices / 16 + 1, u64::MAX / 8, u64::MAX] {
        let err = r.series(id, &mut chunks).unwrap_err();
        assert!(
            matches!(&err, Error::Corrupted { section, .. } if section == "series"),
            "{err}"
        );
    }
}
