//! `cortex-bench write`: generates the workload and remote-writes it to one URL, then
//! prints samples sent, wall time, samples per second and the answers by HTTP status.

use std::time::Instant;

use clap::Args;
use cortex_benches::e2e::http::Endpoint;
use cortex_benches::e2e::send::{self, SendOptions, SendReport};
use cortex_benches::e2e::workload::Workload;

use crate::WorkloadArgs;

/// Options of `write`.
#[derive(Args, Debug)]
pub struct WriteArgs {
    /// The remote write URL, such as http://127.0.0.1:9009/api/v1/push.
    #[arg(long)]
    url: String,
    /// Tenant sent as X-Scope-OrgID.
    #[arg(long)]
    tenant: Option<String>,
    #[command(flatten)]
    workload: WorkloadArgs,
    /// One round per interval starting now, instead of backfilling rounds that end now
    /// as fast as the server takes them.
    #[arg(long)]
    realtime: bool,
    /// Build every request body before sending, so building costs nothing while measuring.
    #[arg(long)]
    pregenerate: bool,
    /// End of a backfill in Unix seconds (default: now): two servers written with the same
    /// end hold the same samples, so their query answers can be compared.
    #[arg(long, conflicts_with = "realtime")]
    end: Option<f64>,
    /// Keep sending after a non-2xx answer (counted) instead of stopping with an error.
    #[arg(long)]
    keep_going: bool,
}

/// Runs `write`.
pub fn run(a: &WriteArgs) -> Result<(), String> {
    let endpoint = Endpoint::parse(&a.url)?;
    let workload = Workload::new(a.workload.spec())?;
    let spec = workload.spec();
    let now = send::now_ms();
    let base_ms = if a.realtime {
        now
    } else {
        let end = a.end.map_or(now, |s| (s * 1000.0) as i64);
        end - spec.rounds as i64 * spec.interval_ms
    };
    let opts = SendOptions {
        senders: a.workload.senders,
        batch: a.workload.batch,
        base_ms,
        realtime: a.realtime,
        fail_fast: !a.keep_going,
        tenant: a.tenant.clone(),
    };
    println!(
        "{} series ({} targets x {} series, {} metric families), {} rounds every {} s, churn {}",
        spec.series,
        workload.targets(),
        workload.series_per_target(),
        spec.metrics,
        spec.rounds,
        spec.interval_ms as f64 / 1000.0,
        describe_churn(&a.workload),
    );
    let pregenerated = if a.pregenerate {
        let t = Instant::now();
        let p = send::pregenerate(&workload, &opts);
        let (n, bytes) = p
            .iter()
            .flatten()
            .flatten()
            .fold((0, 0), |(n, b), body| (n + 1, b + body.bytes.len()));
        println!(
            "pregenerated {n} requests, {:.1} MB compressed, in {:.1?}",
            bytes as f64 / 1e6,
            t.elapsed()
        );
        Some(p)
    } else {
        None
    };
    let report = send::send(&workload, pregenerated.as_ref(), &endpoint, "", &opts);
    print_report(&report);
    if !report.all_ok() && !a.keep_going {
        return Err(format!(
            "write failed: {}",
            report.first_error.as_deref().unwrap_or("non-2xx answers")
        ));
    }
    Ok(())
}

/// The churn setting in words.
pub fn describe_churn(w: &WorkloadArgs) -> String {
    if w.churn > 0.0 {
        format!(
            "{:.0}% of targets every {} rounds",
            w.churn * 100.0,
            w.churn_every
        )
    } else {
        "none".into()
    }
}

/// Prints what a send achieved.
pub fn print_report(r: &SendReport) {
    let statuses: Vec<String> = r
        .statuses
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    println!(
        "sent {} samples in {} requests ({:.1} MB) in {:.2} s: {:.0} samples/s; answers {{{}}}, connection errors {}",
        r.samples_ok,
        r.requests,
        r.bytes as f64 / 1e6,
        r.elapsed.as_secs_f64(),
        r.samples_per_second(),
        statuses.join(", "),
        r.io_errors
    );
}
