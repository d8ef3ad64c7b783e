//! Prometheus' PromQL conformance files run with their data stored in the local TSDB
//! (head chunks, head chunk files, the WAL) instead of the in-memory test store, read
//! through the TSDB querier. This exercises storage and engine together the way a
//! deployment runs them; cases that depend on Prometheus' in-memory test loader rather
//! than on storage are listed separately (`promql_conformance_tsdb.passing` ratchets
//! the ones that pass).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::sync::Arc;

use cortex_core::promql::promqltest::{ScriptStorage, run_script_with};
use cortex_core::promql::{Engine, EngineOpts};
use cortex_core::querier::tsdb::TsdbQuerier;
use cortex_core::querier::{Querier, Sample, SampleValue};
use cortex_tsdb::db::{Db, DbOptions};
use cortex_tsdb::labels::Labels;

const TESTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/promqltest/prometheus-3.14"
);
const RATCHET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/promql_conformance_tsdb.passing"
);

/// Keeps the loaded series and writes them into a fresh TSDB when queried after a change.
struct TsdbStorage {
    series: BTreeMap<Labels, Vec<Sample>>,
    dirty: bool,
    current: Option<(tempfile::TempDir, TsdbQuerier)>,
}

impl TsdbStorage {
    fn build(&self) -> Result<(tempfile::TempDir, TsdbQuerier), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let opts = DbOptions {
            retention: None,
            ..Default::default()
        };
        let db: Arc<Db> = Db::open(dir.path(), opts).map_err(|e| e.to_string())?;
        let mut app = db.appender();
        for (l, samples) in &self.series {
            for s in samples {
                let r = match &s.value {
                    SampleValue::Float(v) => app.append(l, s.t, *v).map(|_| ()),
                    SampleValue::Histogram(h) => app.append_float_histogram(l, s.t, h).map(|_| ()),
                };
                r.map_err(|e| format!("{l}: {e}"))?;
            }
        }
        app.commit().map_err(|e| e.to_string())?;
        Ok((dir, TsdbQuerier::new(db)))
    }
}

impl ScriptStorage for TsdbStorage {
    fn clear(&mut self) {
        self.series.clear();
        self.dirty = true;
    }

    fn set_series(&mut self, labels: &Labels, samples: Vec<Sample>) {
        self.series.insert(labels.clone(), samples);
        self.dirty = true;
    }

    fn querier(&mut self) -> Result<&dyn Querier, String> {
        if self.dirty || self.current.is_none() {
            self.current = None;
            self.current = Some(self.build()?);
            self.dirty = false;
        }
        match &self.current {
            Some((_, q)) => Ok(q),
            None => Err("no storage".into()),
        }
    }
}

#[test]
fn promql_conformance_over_the_tsdb() {
    let dir = Path::new(TESTS);
    if !dir.is_dir() {
        assert!(
            std::env::var("CI").is_err(),
            "conformance files not found at {}",
            dir.display()
        );
        println!("skipping: conformance files not found at {}", dir.display());
        return;
    }
    let verbose = std::env::var("PROMQL_VERBOSE").is_ok_and(|v| v == "1");
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
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
    let mut passing = BTreeSet::new();
    let mut failing = BTreeSet::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let input = fs::read_to_string(f).unwrap();
        let mut storage = TsdbStorage {
            series: BTreeMap::new(),
            dirty: true,
            current: None,
        };
        let results = run_script_with(&input, &engine, &mut storage).unwrap();
        let (mut p, mut fl) = (0, 0);
        for r in results {
            let id = format!("{name}:{}", r.line);
            match r.error {
                None => {
                    p += 1;
                    passing.insert(id);
                }
                Some(e) => {
                    fl += 1;
                    if verbose {
                        println!("  FAIL {id} {}: {e}", r.expr);
                    }
                    failing.insert(id);
                }
            }
        }
        println!("{name}: {p} passed, {fl} failed");
        passed += p;
        failed += fl;
    }
    println!("{passed} passed, {failed} failed");
    if std::env::var("PROMQL_RATCHET_UPDATE").is_ok_and(|v| v == "1") {
        let text: String = passing.iter().map(|id| format!("{id}\n")).collect();
        fs::write(RATCHET, text).unwrap();
        return;
    }
    let want: BTreeSet<String> = fs::read_to_string(RATCHET)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let regressed: Vec<_> = want.intersection(&failing).collect();
    assert!(
        regressed.is_empty(),
        "{} cases that passed before fail now (PROMQL_VERBOSE=1 says why): {regressed:?}",
        regressed.len()
    );
}
