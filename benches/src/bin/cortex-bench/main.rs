//! `cortex-bench`: end-to-end load for any Prometheus-compatible store.
//!
//! - `write`: remote-writes a realistic workload (counters, gauges, classic histograms over
//!   ~10 labels, optional churn) to a URL, backfilled or in real time;
//! - `query`: runs a dashboard's range queries against a Prometheus API and prints
//!   latency quantiles;
//! - `compare`: starts cortex, Prometheus and VictoriaMetrics in turn on this machine, runs
//!   the same workload against each and prints one markdown table.
//!
//! This file holds the command line; each subcommand lives in its own module.

mod compare;
mod query;
mod write;

use clap::{Args, Parser, Subcommand};
use cortex_benches::e2e::workload::Spec;

/// End-to-end load: remote write, dashboard queries, and a comparison of servers.
#[derive(Parser)]
#[command(name = "cortex-bench")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Remote-write a generated workload to a URL.
    Write(write::WriteArgs),
    /// Run the dashboard queries against a Prometheus query API.
    Query(query::QueryArgs),
    /// Start cortex, Prometheus and VictoriaMetrics in turn and compare them.
    Compare(compare::CompareArgs),
}

/// The workload's shape, shared by `write` and `compare`.
#[derive(Args, Debug, Clone)]
pub struct WorkloadArgs {
    /// Active series.
    #[arg(long, default_value_t = 100_000)]
    pub series: usize,
    /// Metric families (each a counter, gauge or classic histogram).
    #[arg(long, default_value_t = 50)]
    pub metrics: usize,
    /// Rounds (scrapes) of every series.
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
    /// Scrape interval, such as 15s or 1m.
    #[arg(long, default_value = "15s", value_parser = parse_duration_ms)]
    pub interval: i64,
    /// Share of the targets replaced by new pods at each churn (0 for none).
    #[arg(long, default_value_t = 0.0)]
    pub churn: f64,
    /// Rounds between churns.
    #[arg(long, default_value_t = 10)]
    pub churn_every: usize,
    /// Concurrent senders.
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Most series per request.
    #[arg(long, default_value_t = 2000)]
    pub batch: usize,
}

impl WorkloadArgs {
    /// The workload spec.
    pub fn spec(&self) -> Spec {
        Spec {
            series: self.series,
            metrics: self.metrics,
            rounds: self.rounds,
            interval_ms: self.interval,
            churn_fraction: self.churn,
            churn_every: if self.churn > 0.0 {
                self.churn_every
            } else {
                0
            },
        }
    }
}

/// Parses `500ms`, `15s`, `1m`, `2h` or plain seconds into milliseconds.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let ms = match unit {
        "ms" => 1.0,
        "" | "s" => 1e3,
        "m" => 60e3,
        "h" => 3600e3,
        "d" => 86400e3,
        _ => return Err(format!("bad duration unit in {s:?} (ms, s, m, h, d)")),
    };
    let v = (n * ms).round();
    if !(1.0..=1e15).contains(&v) {
        return Err(format!("duration {s:?} out of range"));
    }
    Ok(v as i64)
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Write(a) => write::run(&a),
        Cmd::Query(a) => query::run(&a),
        Cmd::Compare(a) => compare::run(&a),
    };
    if let Err(e) = result {
        eprintln!("cortex-bench: {e}");
        std::process::exit(1);
    }
}
