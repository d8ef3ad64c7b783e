//! `cortex-bench compare`: on this machine, starts each chosen server in turn with a
//! scratch data directory, sends it the same pregenerated backfill, measures its CPU,
//! memory and disk from `/proc` and `du`, runs the dashboard queries, stops it and
//! removes its data; then prints one markdown table with cortex's ratios to the others.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use cortex_benches::e2e::dashboard::{self, QueryTimes, RangeQuery};
use cortex_benches::e2e::http::Conn;
use cortex_benches::e2e::send::{self, SendOptions, SendReport};
use cortex_benches::e2e::servers::{Kind, ProcUsage, Server, dir_bytes};
use cortex_benches::e2e::workload::Workload;

use crate::WorkloadArgs;
use crate::query::human_range;
use crate::write::{describe_churn, print_report};

/// Options of `compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    /// Servers to run, in order: cortex, prometheus, victoriametrics (or vm).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "cortex,prometheus,victoriametrics"
    )]
    servers: Vec<String>,
    /// The cortex binary (default: $CORTEX_BIN, else target/release/cortex).
    #[arg(long)]
    cortex: Option<PathBuf>,
    /// Repetitions of each dashboard query after one warm-up run.
    #[arg(long, default_value_t = 10)]
    reps: usize,
    /// Seconds to let each server settle after the write phase, before measuring disk.
    #[arg(long, default_value_t = 5)]
    settle: u64,
    /// Flush cortex's head into blocks before measuring disk (its WAL stays too).
    #[arg(long)]
    cortex_flush: bool,
    /// Tenant sent as X-Scope-OrgID to every server.
    #[arg(long, default_value = "bench")]
    tenant: String,
    /// An extra flag for cortex (repeatable), e.g.
    /// `--cortex-flag=-blocks-storage.tsdb.wal-compression-type=snappy`.
    #[arg(long = "cortex-flag", allow_hyphen_values = true)]
    cortex_flags: Vec<String>,
    /// Let the servers cache query results: cortex with its results cache on,
    /// VictoriaMetrics without `-search.disableCache`. The warm-up run of each query
    /// fills the caches; the timed repetitions read them.
    #[arg(long)]
    cached: bool,
}

/// What one server did.
struct Outcome {
    kind: Kind,
    write: SendReport,
    write_cpu_s: f64,
    peak_rss_write: u64,
    peak_rss_all: u64,
    disk: u64,
    disk_note: &'static str,
    /// Bytes on disk once the server has shut down cleanly: whatever it still held in
    /// write buffers (Prometheus keeps up to 4 MiB of head chunks in one) is written.
    disk_stopped: u64,
    queries: Vec<QueryTimes>,
}

/// Runs `compare`.
pub fn run(a: &CompareArgs) -> Result<(), String> {
    let kinds = a
        .servers
        .iter()
        .map(|s| Kind::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    if kinds.is_empty() || a.reps == 0 {
        return Err("need at least one server and one repetition".into());
    }
    let cortex = cortex_bin(a.cortex.as_deref(), kinds.contains(&Kind::Cortex))?;
    let workload = Workload::new(a.workload.spec())?;
    let spec = workload.spec().clone();
    let span_ms = spec.rounds as i64 * spec.interval_ms;
    let base_ms = send::now_ms() - span_ms;
    let opts = SendOptions {
        senders: a.workload.senders,
        batch: a.workload.batch,
        base_ms,
        realtime: false,
        fail_fast: true,
        tenant: Some(a.tenant.clone()),
    };
    println!(
        "{} series ({} targets x {}), {} rounds every {} s, churn {}, {} senders, {} series per request",
        spec.series,
        workload.targets(),
        workload.series_per_target(),
        spec.rounds,
        spec.interval_ms as f64 / 1000.0,
        describe_churn(&a.workload),
        opts.senders,
        opts.batch
    );
    println!(
        "query results caches: {}",
        if a.cached {
            "on (cortex's results cache, VictoriaMetrics' rollup cache)"
        } else {
            "off (cortex without results cache, VictoriaMetrics with -search.disableCache)"
        }
    );
    let t = Instant::now();
    let bodies = send::pregenerate(&workload, &opts);
    let bytes: usize = bodies
        .iter()
        .flatten()
        .flatten()
        .map(|b| b.bytes.len())
        .sum();
    println!(
        "pregenerated {:.1} MB of request bodies in {:.1?}",
        bytes as f64 / 1e6,
        t.elapsed()
    );
    // The data ends one interval after the last round's base time.
    let queries = dashboard::fit(base_ms + span_ms, span_ms / 1000, spec.interval_ms / 1000);

    let scratch = std::env::temp_dir().join(format!("cortex-bench-{}", std::process::id()));
    let mut outcomes = Vec::new();
    let mut result = Ok(());
    for kind in kinds {
        let dir = scratch.join(kind.name());
        let r = measure(kind, &dir, &cortex, &workload, &bodies, &opts, &queries, a);
        let _ = std::fs::remove_dir_all(&dir);
        match r {
            Ok(o) => outcomes.push(o),
            Err(e) => {
                result = Err(format!("{}: {e}", kind.name()));
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    result?;
    print_table(&outcomes, spec.series);
    Ok(())
}

/// Runs the whole workload against one server.
#[allow(clippy::too_many_arguments)]
fn measure(
    kind: Kind,
    dir: &Path,
    cortex: &Path,
    workload: &Workload,
    bodies: &send::Pregenerated,
    opts: &SendOptions,
    queries: &[RangeQuery],
    a: &CompareArgs,
) -> Result<Outcome, String> {
    println!("\n## {}", kind.name());
    let mut server = Server::start(kind, dir, cortex, &a.cortex_flags, a.cached)?;
    let before = ProcUsage::of(server.pid())?;
    let write = send::send(
        workload,
        Some(bodies),
        &server.endpoint,
        server.push_path,
        opts,
    );
    let after = ProcUsage::of(server.pid())?;
    print_report(&write);
    if !write.all_ok() {
        return Err(format!(
            "write failed: {}",
            write.first_error.as_deref().unwrap_or("non-2xx answers")
        ));
    }
    let disk_note = server.flush(a.cortex_flush)?;
    std::thread::sleep(Duration::from_secs(a.settle));
    let disk = dir_bytes(&server.data_dir);
    println!("disk: {:.1} MB ({disk_note})", disk as f64 / 1e6);
    let mut conn = Conn::new(server.endpoint.clone());
    let times = dashboard::run(&mut conn, server.api_root, Some(&a.tenant), queries, a.reps)?;
    crate::query::print_table(&times);
    let end = ProcUsage::of(server.pid())?;
    server.stop();
    let disk_stopped = dir_bytes(&server.data_dir);
    println!(
        "disk after a clean shutdown: {:.1} MB",
        disk_stopped as f64 / 1e6
    );
    Ok(Outcome {
        kind,
        write_cpu_s: after.cpu_s - before.cpu_s,
        peak_rss_write: after.peak_rss,
        peak_rss_all: end.peak_rss,
        write,
        disk,
        disk_note,
        disk_stopped,
        queries: times,
    })
}

/// The cortex binary to run: `--cortex`, `$CORTEX_BIN`, or `target/release/cortex`,
/// resolved now because the servers run in their scratch directories.
fn cortex_bin(given: Option<&Path>, needed: bool) -> Result<PathBuf, String> {
    let path = given
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("CORTEX_BIN").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("target/release/cortex"));
    if !needed {
        return Ok(path);
    }
    std::fs::canonicalize(&path).map_err(|e| format!("cortex binary {}: {e}", path.display()))
}

/// Prints the comparison: one column per server, then cortex's ratio to each other one.
fn print_table(outcomes: &[Outcome], series: usize) {
    let cortex = outcomes.iter().position(|o| o.kind == Kind::Cortex);
    let others: Vec<usize> = (0..outcomes.len()).filter(|&i| Some(i) != cortex).collect();
    let mut header = String::from("| | ");
    for o in outcomes {
        header.push_str(&format!("{} | ", o.kind.name()));
    }
    if cortex.is_some() {
        for &i in &others {
            header.push_str(&format!("cortex/{} | ", outcomes[i].kind.name()));
        }
    }
    println!("\n{}", header.trim_end());
    println!(
        "|---|{}",
        "---:|".repeat(outcomes.len() + if cortex.is_some() { others.len() } else { 0 })
    );
    let row = |label: String, value: &dyn Fn(&Outcome) -> f64, digits: usize| {
        let mut line = format!("| {label} | ");
        for o in outcomes {
            line.push_str(&format!("{:.digits$} | ", value(o)));
        }
        if let Some(c) = cortex {
            let cv = value(&outcomes[c]);
            for &i in &others {
                line.push_str(&format!("{:.2} | ", cv / value(&outcomes[i])));
            }
        }
        println!("{}", line.trim_end());
    };
    let samples = |o: &Outcome| o.write.samples_ok as f64;
    row(
        "ingest samples/s".into(),
        &|o| o.write.samples_per_second(),
        0,
    );
    row(
        "write CPU s per 1M samples".into(),
        &|o| o.write_cpu_s / samples(o).max(1.0) * 1e6,
        2,
    );
    row(
        "peak RSS after write, MB".into(),
        &|o| o.peak_rss_write as f64 / 1e6,
        1,
    );
    row(
        "peak RSS incl. queries, MB".into(),
        &|o| o.peak_rss_all as f64 / 1e6,
        1,
    );
    row(
        "peak RSS after write per active series, bytes".into(),
        &|o| o.peak_rss_write as f64 / series.max(1) as f64,
        0,
    );
    row(
        "disk bytes per sample".into(),
        &|o| o.disk as f64 / samples(o).max(1.0),
        2,
    );
    row(
        "disk bytes per sample after shutdown".into(),
        &|o| o.disk_stopped as f64 / samples(o).max(1.0),
        2,
    );
    let names: Vec<(&'static str, String, i64)> = outcomes
        .first()
        .map(|o| {
            o.queries
                .iter()
                .map(|q| (q.query.name, q.query.expr.clone(), q.query.range_s))
                .collect()
        })
        .unwrap_or_default();
    for (i, (name, _, range)) in names.iter().enumerate() {
        for (label, q) in [("p50", 0.5), ("p99", 0.99)] {
            row(
                format!("{name} ({}) {label} ms", human_range(*range)),
                &|o| {
                    o.queries
                        .get(i)
                        .map(|t| t.quantile_ms(q))
                        .unwrap_or(f64::NAN)
                },
                1,
            );
        }
    }
    println!("\nDisk state when measured:");
    for o in outcomes {
        println!("- {}: {}", o.kind.name(), o.disk_note);
    }
    println!("\nQueries:");
    for (name, expr, _) in &names {
        let counts: Vec<String> = outcomes
            .iter()
            .map(|o| {
                let n = o
                    .queries
                    .iter()
                    .find(|q| q.query.name == *name)
                    .map(|q| q.series)
                    .unwrap_or(0);
                format!("{} {n}", o.kind.name())
            })
            .collect();
        println!(
            "- {name}: `{expr}` — series returned: {}",
            counts.join(", ")
        );
    }
}
