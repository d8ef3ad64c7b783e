//! Runs Prometheus' PromQL conformance files (`../shared/promqltest`) through the
//! engine and enforces a ratchet: every case listed in `promql_conformance.passing`
//! must keep passing.
//!
//! `PROMQL_RATCHET_UPDATE=1` rewrites the list from the current run;
//! `PROMQL_VERBOSE=1` prints why each failing case failed; `PROMQL_FILE=name` runs
//! one file only; `PROMQL_DIR` reads the files from another directory. Outside CI
//! the test is skipped when the files are absent; under `CI=true` that is a failure.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use cortex_core::promql::promqltest::run_script;
use cortex_core::promql::{Engine, EngineOpts};

const TESTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/promqltest/prometheus-3.14"
);
const RATCHET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/promql_conformance.passing"
);

#[test]
fn promql_conformance() {
    let dir_override = std::env::var("PROMQL_DIR").ok();
    let dir = Path::new(dir_override.as_deref().unwrap_or(TESTS));
    if !dir.is_dir() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("conformance files not found at {}", dir.display());
        }
        println!("skipping: conformance files not found at {}", dir.display());
        return;
    }
    let only = std::env::var("PROMQL_FILE").ok();
    let verbose = std::env::var("PROMQL_VERBOSE").is_ok_and(|v| v == "1");
    let mut files: Vec<_> = fs::read_dir(dir)
        .expect("read conformance dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    let engine = Engine::new(EngineOpts {
        max_samples: 10_000,
        timeout: std::time::Duration::from_secs(100),
        ..Default::default()
    });
    let (mut passed, mut failed) = (0, 0);
    let mut passing: BTreeSet<String> = BTreeSet::new();
    let mut failing: BTreeSet<String> = BTreeSet::new();
    for f in &files {
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if only.as_ref().is_some_and(|o| !name.starts_with(o.as_str())) {
            continue;
        }
        let text = fs::read_to_string(f).expect("read test file");
        let results = match run_script(&text, &engine) {
            Ok(r) => r,
            Err(e) => {
                println!("{name}: cannot run: {e}");
                continue;
            }
        };
        let (mut p, mut q) = (0, 0);
        for r in &results {
            let id = format!("{name}:{}", r.line);
            match &r.error {
                None => {
                    p += 1;
                    passing.insert(id);
                }
                Some(e) => {
                    q += 1;
                    if verbose {
                        println!("  FAIL {id}: {}\n      {e}", r.expr);
                    }
                    failing.insert(id);
                }
            }
        }
        println!("{name}: {p} passed, {q} failed");
        passed += p;
        failed += q;
    }
    println!("{passed} passed, {failed} failed");
    if only.is_some() {
        return;
    }
    if std::env::var("PROMQL_RATCHET_UPDATE").is_ok_and(|v| v == "1") {
        let body: String = passing.iter().map(|l| format!("{l}\n")).collect();
        fs::write(RATCHET, body).expect("write ratchet list");
        println!("wrote {} passing cases to {RATCHET}", passing.len());
        return;
    }
    let expected: Vec<String> = fs::read_to_string(RATCHET)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let regressed: Vec<&String> = expected.iter().filter(|id| failing.contains(*id)).collect();
    assert!(
        regressed.is_empty(),
        "{} cases in the ratchet list now fail: {regressed:?}\n(run with PROMQL_VERBOSE=1 to see why; \
         PROMQL_RATCHET_UPDATE=1 rewrites the list when a change is intended)",
        regressed.len()
    );
}
