//! `cortex tsdb` against `promtool tsdb`: dumps of Prometheus' blocks, listings, analyses,
//! and blocks we create read by promtool with every sample intact.
//!
//! Tests that need `promtool` skip with a message when it is not installed, and fail under
//! `CI=true`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use cortex_tsdb::float_format::go_g;
use cortex_tsdb::labels::Labels;

const CORTEX: &str = env!("CARGO_BIN_EXE_cortex");

fn fixtures() -> Option<PathBuf> {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/prometheus-2.42"
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

fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("promtool"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "promtool is required under CI (Debian package prometheus)"
        );
        eprintln!("skipping: promtool not installed (apt-get install prometheus)");
    }
    found
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn cortex(args: &[&str]) -> String {
    run(Command::new(CORTEX).args(args))
}

/// A copy of a fixture directory that promtool may open (it wants a `wal/`, and it writes
/// into the directories it opens).
fn writable_copy(src: &Path) -> tempfile::TempDir {
    let dst = tempfile::tempdir().unwrap();
    copy_dir(src, dst.path());
    std::fs::create_dir_all(dst.path().join("wal")).unwrap();
    dst
}

fn copy_dir(src: &Path, dst: &Path) {
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
            let mut perm = std::fs::metadata(&to).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&to, perm).unwrap();
        }
    }
}

#[test]
fn dump_of_prometheus_data_dirs_is_promtools_dump() {
    let Some(fx) = fixtures() else { return };
    // Blocks only; a WAL only; blocks, a WAL with histogram records and an empty head
    // chunk file, left by a killed Prometheus.
    for set in ["openmetrics-blocks", "scrape-wal", "native-histograms"] {
        let dir = fx.join(set);
        let ours = cortex(&["tsdb", "dump", dir.to_str().unwrap()]);
        let theirs = std::fs::read_to_string(dir.join("promtool-dump.txt")).unwrap();
        assert_eq!(ours.lines().count(), theirs.lines().count(), "{set}");
        assert!(
            ours == theirs,
            "dump of {set} differs from promtool-dump.txt"
        );
    }
}

#[test]
fn dump_honours_time_range_and_selector() {
    let Some(fx) = fixtures() else { return };
    let dir = fx.join("openmetrics-blocks");
    let all = std::fs::read_to_string(dir.join("promtool-dump.txt")).unwrap();
    let (mint, maxt) = (1_700_006_000_000i64, 1_700_007_000_000i64);
    let want: String = all
        .lines()
        .filter(|l| l.contains("__name__=\"temperature\"") && l.contains("room=\"r1\""))
        .filter(|l| {
            let t: i64 = l.rsplit(' ').next().unwrap().parse().unwrap();
            (mint..=maxt).contains(&t)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!want.is_empty());
    let ours = cortex(&[
        "tsdb",
        "dump",
        "--min-time=1700006000000",
        "--max-time=1700007000000",
        "--match",
        r#"temperature{room=~"r1|x"}"#,
        dir.to_str().unwrap(),
    ]);
    assert_eq!(ours, want);
}

#[test]
fn list_and_analyze_print_what_promtool_prints() {
    let Some(fx) = fixtures() else { return };
    let Some(promtool) = promtool() else { return };
    for name in ["openmetrics-blocks", "native-histograms"] {
        let copy = writable_copy(&fx.join(name));
        if name == "native-histograms" {
            // promtool replays this WAL; we only list blocks here.
            std::fs::remove_dir_all(copy.path().join("wal")).unwrap();
            std::fs::create_dir_all(copy.path().join("wal")).unwrap();
        }
        let dir = copy.path().to_str().unwrap();
        for flags in [&[][..], &["-r"][..]] {
            let mut args = vec!["tsdb", "list"];
            args.extend_from_slice(flags);
            args.push(dir);
            let theirs = run(Command::new(&promtool).args(&args));
            assert_eq!(cortex(&args), theirs, "list {flags:?} of {name}");
        }
        // promtool orders equal counts randomly; compare the lines as sets.
        let mut ours: Vec<String> =
            cortex(&["tsdb", "analyze", "--limit=100000", "--extended", dir])
                .lines()
                .map(String::from)
                .collect();
        let mut theirs: Vec<String> = run(Command::new(&promtool).args([
            "tsdb",
            "analyze",
            "--limit=100000",
            "--extended",
            dir,
        ]))
        .lines()
        .map(String::from)
        .collect();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "analyze of {name}");
    }
}

/// A deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct GenSeries {
    text: String,
    labels: Labels,
    samples: Vec<(i64, f64)>,
}

/// Thousands of series over several block windows: counters, gauges, huge, tiny,
/// negative and special values, escaped label values, series that start late and stop
/// early.
fn generate_openmetrics() -> (String, Vec<GenSeries>) {
    let mut rng = Rng(42);
    let start_ms: i64 = 1_700_000_000_000;
    let extremes = [
        0.0,
        -0.0,
        1.0,
        -1.5,
        5e-324,
        1e-300,
        2.2250738585072014e-308,
        f64::MAX,
        -f64::MAX,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        123456789.0,
        0.1,
        1e21,
        1e-5,
        -42.125,
        9007199254740993.0,
    ];
    let mut series = Vec::new();
    for i in 0..2400u64 {
        let (name, kind, labels): (&str, u64, Vec<(String, String)>) = match i % 3 {
            0 => (
                "gen_requests_total",
                0,
                vec![
                    ("job".into(), format!("job{}", i % 7)),
                    ("instance".into(), format!("host-{i}:9100")),
                    (
                        "code".into(),
                        ["200", "404", "500"][(i % 3) as usize].into(),
                    ),
                ],
            ),
            1 => (
                "gen_temperature_celsius",
                1,
                vec![
                    ("room".into(), format!("r{i}")),
                    ("site".into(), "a\"quoted\\ \nsite".into()),
                ],
            ),
            _ => (
                "gen_extreme_values",
                2,
                vec![("idx".into(), format!("{i}")), ("kind".into(), "x".into())],
            ),
        };
        let mut text = String::from(name);
        text.push('{');
        for (k, (n, v)) in labels.iter().enumerate() {
            if k > 0 {
                text.push(',');
            }
            let escaped = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            let _ = write!(text, "{n}=\"{escaped}\"");
        }
        text.push('}');
        let mut pairs: Vec<(String, String)> = labels.clone();
        pairs.push(("__name__".into(), name.into()));
        let labels = Labels::from_pairs(pairs).unwrap();
        // 6h of data at ~4 minute steps; some series start late or stop early.
        let first = rng.below(20) as i64;
        let last = 90 - rng.below(20) as i64;
        let mut counter = rng.below(1000) as f64;
        let mut samples = Vec::new();
        for step in first..last {
            let t = start_ms + step * 240_000 + 250 * rng.below(4) as i64;
            let v = match kind {
                0 => {
                    counter += rng.below(100) as f64;
                    counter
                }
                1 => (rng.unit() - 0.5) * 80.0,
                _ => {
                    extremes[rng.below(extremes.len() as u64) as usize]
                        * if rng.below(2) == 0 { 1.0 } else { rng.unit() }
                }
            };
            samples.push((t, v));
        }
        series.push(GenSeries {
            text,
            labels,
            samples,
        });
    }
    let mut om = String::from(
        "# TYPE gen_requests counter\n# HELP gen_requests Requests.\n# TYPE gen_temperature_celsius gauge\n# UNIT gen_temperature_celsius celsius\n# TYPE gen_extreme_values gauge\n",
    );
    for s in &series {
        for (t, v) in &s.samples {
            let value = if v.is_nan() {
                "NaN".to_string()
            } else {
                go_g(*v)
            };
            let _ = writeln!(om, "{} {} {}.{:03}", s.text, value, t / 1000, t % 1000);
        }
    }
    om.push_str("# EOF\n");
    (om, series)
}

fn expected_dump(series: &mut [GenSeries]) -> String {
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut out = String::new();
    for s in series.iter() {
        for (t, v) in &s.samples {
            let _ = writeln!(out, "{} {} {t}", s.labels, go_g(*v));
        }
    }
    out
}

#[test]
fn created_blocks_are_read_by_promtool_with_every_sample() {
    let Some(promtool) = promtool() else { return };
    let (om, mut series) = generate_openmetrics();
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("input.om");
    std::fs::write(&input, &om).unwrap();
    let out_dir = work.path().join("data");
    let printed = cortex(&[
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        input.to_str().unwrap(),
        out_dir.to_str().unwrap(),
    ]);
    let want = expected_dump(&mut series);
    let total: usize = series.iter().map(|s| s.samples.len()).sum();
    assert!(
        series.len() >= 2000 && total > 100_000,
        "{} series, {total} samples",
        series.len()
    );

    let blocks = cortex_tsdb::block::block_dirs(&out_dir).unwrap();
    assert!(blocks.len() >= 3, "{} blocks", blocks.len());
    // The table lists every block, like promtool's.
    assert!(printed.starts_with("BLOCK ULID"));
    assert_eq!(printed.lines().count(), blocks.len() + 1);

    for b in &blocks {
        let ulid = b.file_name().unwrap().to_str().unwrap();
        run(Command::new(&promtool).args([
            "tsdb",
            "analyze",
            "--extended",
            out_dir.to_str().unwrap(),
            ulid,
        ]));
    }
    std::fs::create_dir_all(out_dir.join("wal")).unwrap();
    let theirs = run(Command::new(&promtool).args(["tsdb", "dump", out_dir.to_str().unwrap()]));
    assert_eq!(theirs.lines().count(), total);
    assert!(
        theirs == want,
        "promtool's dump of our blocks differs from the input's samples"
    );
    let ours = cortex(&["tsdb", "dump", out_dir.to_str().unwrap()]);
    assert!(
        ours == want,
        "our dump of our blocks differs from the input's samples"
    );
}

#[test]
fn create_blocks_rejects_bad_input_without_writing_blocks() {
    let work = tempfile::tempdir().unwrap();
    for (name, body) in [
        ("no_eof.om", "a 1 1\n"),
        ("no_ts.om", "a 1\n# EOF\n"),
        ("ooo.om", "a 1 2\na 1 1\n# EOF\n"),
        ("bad.om", "a{b=c} 1 1\n# EOF\n"),
    ] {
        let input = work.path().join(name);
        std::fs::write(&input, body).unwrap();
        let out_dir = work.path().join(format!("{name}.out"));
        let out = Command::new(CORTEX)
            .args([
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                input.to_str().unwrap(),
                out_dir.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name} was accepted");
        assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
        let blocks = if out_dir.exists() {
            cortex_tsdb::block::block_dirs(&out_dir).unwrap().len()
        } else {
            0
        };
        assert_eq!(blocks, 0, "{name} left blocks behind");
    }
}

#[test]
fn promtool_reads_a_data_dir_we_wrote_blocks_wal_and_head_chunks() {
    use cortex_tsdb::db::{Db, DbOptions};
    let Some(promtool) = promtool() else { return };
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    {
        let db = Db::open(
            &data,
            DbOptions {
                retention: None,
                ..Default::default()
            },
        )
        .unwrap();
        let mut rng = Rng(7);
        // 7 hours at 30 s for 300 series: blocks get cut, full chunks go to chunks_head,
        // the rest stays in the WAL.
        for step in 0..(7 * 120) {
            let t = 1_700_000_000_000 + step * 30_000;
            let mut app = db.appender();
            for s in 0..300 {
                let l = Labels::from_pairs([
                    ("__name__", "gen_metric"),
                    ("job", "j"),
                    ("series", &s.to_string()),
                ])
                .unwrap();
                let v = if s % 3 == 0 {
                    (step * s) as f64
                } else {
                    rng.unit() * 1000.0 - 500.0
                };
                app.append(&l, t, v).unwrap();
            }
            app.commit().unwrap();
            if step % 200 == 199 {
                db.compact().unwrap();
            }
        }
        assert!(db.blocks().len() >= 2);
        db.close().unwrap();
    }
    for b in cortex_tsdb::block::block_dirs(&data).unwrap() {
        let ulid = b.file_name().unwrap().to_str().unwrap();
        run(Command::new(&promtool).args([
            "tsdb",
            "analyze",
            "--extended",
            data.to_str().unwrap(),
            ulid,
        ]));
    }
    let ours = cortex(&["tsdb", "dump", data.to_str().unwrap()]);
    assert_eq!(ours.lines().count(), 7 * 120 * 300);
    // promtool writes into the directory it opens: give it a copy.
    let copy = writable_copy(&data);
    let theirs = run(Command::new(&promtool).args(["tsdb", "dump", copy.path().to_str().unwrap()]));
    assert!(
        ours == theirs,
        "promtool's dump of our data directory differs from ours"
    );
}
