//! `cortex-bench query`: runs the dashboard's range queries against a Prometheus-compatible
//! query API and prints p50/p90/p99 latency per query as a markdown table.

use clap::Args;
use cortex_benches::e2e::dashboard::{self, QueryTimes};
use cortex_benches::e2e::http::{Conn, Endpoint};
use cortex_benches::e2e::send::now_ms;

use crate::parse_duration_ms;

/// Options of `query`.
#[derive(Args, Debug)]
pub struct QueryArgs {
    /// The server's base URL, such as http://127.0.0.1:9009.
    #[arg(long)]
    url: String,
    /// Path prefix of the Prometheus API, such as /prometheus for cortex.
    #[arg(long, default_value = "")]
    prefix: String,
    /// Tenant sent as X-Scope-OrgID.
    #[arg(long)]
    tenant: Option<String>,
    /// Repetitions of each query after one warm-up run.
    #[arg(long, default_value_t = 10)]
    reps: usize,
    /// The data's scrape interval.
    #[arg(long, default_value = "15s", value_parser = parse_duration_ms)]
    interval: i64,
    /// How far back the data goes from --end; longer dashboard ranges are cut to it.
    #[arg(long, default_value = "24h", value_parser = parse_duration_ms)]
    span: i64,
    /// End of the queries, in Unix seconds (default: now).
    #[arg(long)]
    end: Option<f64>,
}

/// Runs `query`.
pub fn run(a: &QueryArgs) -> Result<(), String> {
    if a.reps == 0 {
        return Err("--reps must be at least 1".into());
    }
    let endpoint = Endpoint::parse(&a.url)?;
    let end_ms = a.end.map(|s| (s * 1000.0) as i64).unwrap_or_else(now_ms);
    let queries = dashboard::fit(end_ms, a.span / 1000, a.interval / 1000);
    let mut conn = Conn::new(endpoint);
    let api_root = format!("{}/api/v1", a.prefix.trim_end_matches('/'));
    let times = dashboard::run(&mut conn, &api_root, a.tenant.as_deref(), &queries, a.reps)?;
    println!(
        "{} repetitions after a warm-up, one query at a time\n",
        a.reps
    );
    print_table(&times);
    Ok(())
}

/// Prints one row per query: range, step, series, p50, p90, p99.
pub fn print_table(times: &[QueryTimes]) {
    println!("| query | range | step | series | p50 ms | p90 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for t in times {
        println!(
            "| `{}` | {} | {}s | {} | {:.1} | {:.1} | {:.1} |",
            t.query.expr,
            human_range(t.query.range_s),
            t.query.step_s,
            t.series,
            t.quantile_ms(0.5),
            t.quantile_ms(0.9),
            t.quantile_ms(0.99)
        );
    }
}

/// `3600` → `1h`, `1200` → `20m`, `90` → `90s`.
pub fn human_range(s: i64) -> String {
    if s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}
