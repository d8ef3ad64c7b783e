//! Range-query latency of the `cortex` binary next to Prometheus 2.42 on the same data and
//! the same machine.
//!
//! Both servers start on free loopback ports with their data in a scratch directory.
//! The same series (counters, gauges and classic histogram buckets; 15 s apart, over the
//! last 2.5 h) are remote-written to both — request bodies are built before any timing,
//! and sent in time order. Then each query runs as a range query over the last 2 h at a
//! 60 s step: one warm-up run per server, then the repetitions, alternating between the
//! servers, one request at a time. The table shows the median and p90 wall time per query
//! and server, and cortex's median over Prometheus'. Each answer must be a success, and
//! both servers must return the same number of series.
//!
//! ```text
//! query-latency [--cortex PATH] [--series N] [--reps R] [--no-cortex]
//! ```
//!
//! `--cortex` defaults to `$CORTEX_BIN`, else `target/release/cortex`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cortex_benches::e2e::dashboard::quantile_ms;
use cortex_benches::e2e::http::{Conn, url_encode};
use cortex_benches::e2e::servers::{Kind, Server};
use cortex_core::remote_write::{Label, Sample, TimeSeries, WriteRequest, compress, encode_v1};

const INTERVAL_MS: i64 = 15_000;
const SPAN_MS: i64 = 150 * 60_000;
const WINDOW_MS: i64 = 5 * 60_000;
const TENANT: &str = "bench";

const QUERIES: [&str; 6] = [
    "sum by (job) (rate(bench_requests_total[5m]))",
    "rate(bench_requests_total[5m])",
    "histogram_quantile(0.99, sum by (le, job) (rate(bench_latency_seconds_bucket[5m])))",
    "topk(5, rate(bench_requests_total[5m]))",
    "avg_over_time(bench_memory_bytes[10m])",
    "sum(bench_memory_bytes) by (job) / 1e6",
];

struct Args {
    cortex: PathBuf,
    series: usize,
    reps: usize,
    with_cortex: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        cortex: std::env::var_os("CORTEX_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target/release/cortex")),
        series: 10_000,
        reps: 7,
        with_cortex: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--cortex" => a.cortex = PathBuf::from(value("--cortex")?),
            "--series" => {
                a.series = value("--series")?
                    .parse()
                    .map_err(|e| format!("--series: {e}"))?
            }
            "--reps" => {
                a.reps = value("--reps")?
                    .parse()
                    .map_err(|e| format!("--reps: {e}"))?
            }
            "--no-cortex" => a.with_cortex = false,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.reps == 0 {
        return Err("--reps must be at least 1".into());
    }
    // The servers run in a scratch directory, so a relative path must be resolved now.
    if a.with_cortex {
        a.cortex = std::fs::canonicalize(&a.cortex)
            .map_err(|e| format!("--cortex {}: {e}", a.cortex.display()))?;
    }
    Ok(a)
}

/// Pushes one body to `server`; fails on anything but a 2xx.
fn push(server: &Server, conn: &mut Conn, body: &[u8]) -> Result<(), String> {
    let name = server.kind.name();
    let r = conn
        .request(
            "POST",
            server.push_path,
            &[
                ("X-Scope-OrgID", TENANT),
                ("Content-Type", "application/x-protobuf"),
                ("Content-Encoding", "snappy"),
                ("X-Prometheus-Remote-Write-Version", "0.1.0"),
            ],
            body,
        )
        .map_err(|e| format!("push to {name}: {e}"))?;
    if !(200..300).contains(&r.status) {
        return Err(format!(
            "push to {name}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    Ok(())
}

/// Runs one range query; returns its wall time and the number of series returned.
fn query_range(
    server: &Server,
    conn: &mut Conn,
    query_string: &str,
) -> Result<(Duration, usize), String> {
    let name = server.kind.name();
    let path = format!("{}/query_range?{query_string}", server.api_root);
    let t = Instant::now();
    let r = conn
        .request("GET", &path, &[("X-Scope-OrgID", TENANT)], b"")
        .map_err(|e| format!("query {name}: {e}"))?;
    let took = t.elapsed();
    let text = String::from_utf8_lossy(&r.body);
    if r.status != 200 || !text.starts_with(r#"{"status":"success""#) {
        let head: String = text.chars().take(300).collect();
        return Err(format!("{name} answered {}: {head}", r.status));
    }
    Ok((took, text.matches(r#""metric":"#).count()))
}

/// The label sets: a third each of counters, gauges and histogram buckets, roughly.
fn label_sets(n: usize) -> Vec<Vec<(String, String)>> {
    const LES: [&str; 10] = [
        "0.01", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
    ];
    let mut out = Vec::with_capacity(n);
    let counters = n / 2;
    let buckets = (n * 2 / 5) / LES.len() * LES.len();
    for i in 0..counters {
        out.push(vec![
            ("__name__".into(), "bench_requests_total".into()),
            ("handler".into(), format!("/api/h{}", i % 10)),
            ("instance".into(), format!("host-{:04}:9100", i / 10)),
            ("job".into(), format!("job-{}", i / 10 % 10)),
        ]);
    }
    for i in 0..buckets {
        let le = LES[i % LES.len()];
        let h = i / LES.len();
        out.push(vec![
            ("__name__".into(), "bench_latency_seconds_bucket".into()),
            ("instance".into(), format!("host-{h:04}:9100")),
            ("job".into(), format!("job-{}", h % 10)),
            ("le".into(), le.into()),
        ]);
    }
    for i in 0..n.saturating_sub(counters + buckets) {
        out.push(vec![
            ("__name__".into(), "bench_memory_bytes".into()),
            ("instance".into(), format!("host-{i:04}:9100")),
            ("job".into(), format!("job-{}", i % 10)),
        ]);
    }
    out
}

/// The value of series `s` (with `le_rank` its bucket's rank, if a bucket) at scrape `k`.
fn value(s: usize, le_rank: Option<usize>, name: &str, k: i64) -> f64 {
    let k = k as f64;
    let seed = (s % 97) as f64;
    match (name, le_rank) {
        ("bench_memory_bytes", _) => 1e9 + seed * 1e6 + (k * 0.1 + seed).sin() * 1e7,
        (_, Some(rank)) => k * (1.0 + rank as f64) * (1.0 + seed / 100.0),
        _ => k * (3.0 + seed) + (k * 0.37).sin().abs() * 2.0,
    }
}

/// Remote write bodies, one per 5-minute window, in time order.
fn bodies(sets: &[Vec<(String, String)>], start_ms: i64, end_ms: i64) -> Vec<Vec<u8>> {
    let ranks: Vec<Option<usize>> = sets
        .iter()
        .map(|l| {
            l.iter().find(|(n, _)| n == "le").map(|(_, v)| {
                [
                    "0.01", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
                ]
                .iter()
                .position(|x| x == v)
                .unwrap_or(0)
            })
        })
        .collect();
    let mut out = Vec::new();
    let mut from = start_ms;
    while from < end_ms {
        let to = (from + WINDOW_MS).min(end_ms);
        let mut timeseries = Vec::with_capacity(sets.len());
        for (s, labels) in sets.iter().enumerate() {
            let name = labels.first().map(|(_, v)| v.as_str()).unwrap_or("");
            // Each series has its own offset within the interval, off whole seconds.
            let offset = (s as i64 * 7919) % INTERVAL_MS / 1000 * 1000 + 250;
            let samples = (0..)
                .map(|k| (k, start_ms + k * INTERVAL_MS + offset))
                .skip_while(|&(_, t)| t < from)
                .take_while(|&(_, t)| t < to)
                .map(|(k, t)| Sample {
                    timestamp: t,
                    value: value(s, ranks.get(s).copied().flatten(), name, k),
                })
                .collect();
            timeseries.push(TimeSeries {
                labels: labels
                    .iter()
                    .map(|(n, v)| Label { name: n, value: v })
                    .collect(),
                samples,
                ..Default::default()
            });
        }
        let req = WriteRequest {
            timeseries,
            ..Default::default()
        };
        let mut raw = Vec::new();
        encode_v1(&req, &mut raw);
        let mut body = Vec::new();
        compress(&raw, &mut body);
        out.push(body);
        from = to;
    }
    out
}

fn run(args: &Args) -> Result<(), String> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis() as i64;
    let end_ms = (now_ms - 60_000) / 60_000 * 60_000;
    let start_ms = end_ms - SPAN_MS;
    let sets = label_sets(args.series);
    let t = Instant::now();
    let bodies = bodies(&sets, start_ms, end_ms);
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    println!(
        "{} series x {} h at {} s: {} requests, {:.1} MB compressed, built in {:.1?}",
        sets.len(),
        SPAN_MS as f64 / 3.6e6,
        INTERVAL_MS / 1000,
        bodies.len(),
        bytes as f64 / 1e6,
        t.elapsed()
    );

    let scratch = std::env::temp_dir().join(format!("query-latency-{}", std::process::id()));
    let result = measure(args, &bodies, end_ms, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// Starts the servers under `scratch`, pushes `bodies` to each and prints the table.
fn measure(args: &Args, bodies: &[Vec<u8>], end_ms: i64, scratch: &Path) -> Result<(), String> {
    let mut servers = vec![Server::start(
        Kind::Prometheus,
        &scratch.join("prometheus"),
        &args.cortex,
        &[],
        false,
    )?];
    if args.with_cortex {
        servers.push(Server::start(
            Kind::Cortex,
            &scratch.join("cortex"),
            &args.cortex,
            &[],
            false,
        )?);
    }
    let mut conns: Vec<Conn> = servers
        .iter()
        .map(|s| Conn::new(s.endpoint.clone()))
        .collect();
    for (s, conn) in servers.iter().zip(conns.iter_mut()) {
        let t = Instant::now();
        for b in bodies {
            push(s, conn, b)?;
        }
        println!("pushed to {:<10} in {:.1?}", s.kind.name(), t.elapsed());
    }

    let q_end = end_ms as f64 / 1000.0;
    let q_start = q_end - 7200.0;
    println!(
        "\nrange queries over 2 h at a 60 s step, {} repetitions after a warm-up",
        args.reps
    );
    let mut header = format!("{:<84} {:>7}", "query", "series");
    for s in &servers {
        header.push_str(&format!(
            " {:>11} {:>11}",
            format!("{} p50", s.kind.name()),
            "p90"
        ));
    }
    if servers.len() == 2 {
        header.push_str(&format!(" {:>8}", "ratio"));
    }
    println!("{header}");
    for q in QUERIES {
        let qs = format!(
            "query={}&start={q_start:.3}&end={q_end:.3}&step=60",
            url_encode(q)
        );
        let mut counts = Vec::new();
        for (s, conn) in servers.iter().zip(conns.iter_mut()) {
            counts.push(query_range(s, conn, &qs)?.1);
        }
        if counts.windows(2).any(|w| w.first() != w.get(1)) {
            return Err(format!("{q}: the servers returned {counts:?} series"));
        }
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); servers.len()];
        for _ in 0..args.reps {
            for ((s, conn), t) in servers.iter().zip(conns.iter_mut()).zip(times.iter_mut()) {
                t.push(query_range(s, conn, &qs)?.0);
            }
        }
        let mut row = format!("{q:<84} {:>7}", counts.first().copied().unwrap_or(0));
        let mut medians = Vec::new();
        for t in &mut times {
            t.sort();
            let (p50, p90) = (quantile_ms(t, 0.5), quantile_ms(t, 0.9));
            medians.push(p50);
            row.push_str(&format!(" {p50:>9.1}ms {p90:>9.1}ms"));
        }
        if let [p, c] = medians[..] {
            row.push_str(&format!(" {:>7.2}x", c / p));
        }
        println!("{row}");
    }
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "{e}\nusage: query-latency [--cortex PATH] [--series N] [--reps R] [--no-cortex]"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("query-latency: {e}");
        std::process::exit(1);
    }
}
