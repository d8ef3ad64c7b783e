//! The query workload: range queries a Grafana dashboard over the [`super::workload`]
//! metrics would send, their ranges fitted to the span of the data, and running them
//! against any Prometheus-compatible `query_range` API with latency quantiles.

use std::time::{Duration, Instant};

use super::http::{Conn, url_encode};

/// One dashboard panel's query. `$w` is replaced by the rate window.
#[derive(Debug, Clone, Copy)]
pub struct PanelQuery {
    /// Short name for the table.
    pub name: &'static str,
    /// PromQL with `$w` for the rate window.
    pub expr: &'static str,
    /// The dashboard's time range in seconds, before fitting to the data.
    pub range_s: i64,
}

/// The dashboard.
pub const PANELS: [PanelQuery; 8] = [
    PanelQuery {
        name: "rate by job",
        expr: "sum by (job) (rate(http_requests_total[$w]))",
        range_s: 3600,
    },
    PanelQuery {
        name: "5xx by ns,code",
        expr: r#"sum by (namespace, code) (rate(http_requests_total{code=~"5.."}[$w]))"#,
        range_s: 6 * 3600,
    },
    PanelQuery {
        name: "p99 latency",
        expr: "histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket[$w])))",
        range_s: 6 * 3600,
    },
    PanelQuery {
        name: "avg latency",
        expr: "sum by (cluster) (rate(http_request_duration_seconds_sum[$w])) / sum by (cluster) (rate(http_request_duration_seconds_count[$w]))",
        range_s: 24 * 3600,
    },
    PanelQuery {
        name: "topk pods",
        expr: "topk(10, sum by (pod) (rate(http_requests_total[$w])))",
        range_s: 3 * 3600,
    },
    PanelQuery {
        name: "one job",
        expr: r#"rate(http_requests_total{job="svc-0",method="GET"}[$w])"#,
        range_s: 3600,
    },
    PanelQuery {
        name: "avg_over_time",
        expr: "avg_over_time(process_resident_memory_bytes[$w])",
        range_s: 12 * 3600,
    },
    PanelQuery {
        name: "count by ns",
        expr: "count by (namespace) (process_resident_memory_bytes)",
        range_s: 24 * 3600,
    },
];

/// A panel query made concrete for some data.
#[derive(Debug, Clone)]
pub struct RangeQuery {
    /// The panel's name.
    pub name: &'static str,
    /// The PromQL sent.
    pub expr: String,
    /// Range in seconds.
    pub range_s: i64,
    /// Step in seconds.
    pub step_s: i64,
    /// The URL query string (`query=...&start=...&end=...&step=...`).
    pub query_string: String,
}

/// The panels as range queries ending at `end_ms` over data that spans `span_s` seconds
/// scraped every `interval_s`: each range is cut to the span, the step gives about 240
/// points (a multiple of the interval), and the rate window is Grafana's
/// `$__rate_interval`: the larger of four intervals and step plus interval.
pub fn fit(end_ms: i64, span_s: i64, interval_s: i64) -> Vec<RangeQuery> {
    let interval_s = interval_s.max(1);
    PANELS
        .iter()
        .map(|p| {
            let range_s = p.range_s.min(span_s).max(interval_s);
            let step_s = ((range_s / 240 + interval_s - 1) / interval_s).max(1) * interval_s;
            let window_s = (4 * interval_s).max(step_s + interval_s);
            let expr = p.expr.replace("$w", &format!("{window_s}s"));
            let end = end_ms as f64 / 1000.0;
            let query_string = format!(
                "query={}&start={:.3}&end={end:.3}&step={step_s}",
                url_encode(&expr),
                end - range_s as f64,
            );
            RangeQuery {
                name: p.name,
                expr,
                range_s,
                step_s,
                query_string,
            }
        })
        .collect()
}

/// The latencies of one query.
#[derive(Debug, Clone)]
pub struct QueryTimes {
    /// The query.
    pub query: RangeQuery,
    /// Series in the (last) answer.
    pub series: usize,
    /// Wall times, sorted.
    pub times: Vec<Duration>,
}

impl QueryTimes {
    /// The `q`-quantile (nearest rank) in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        quantile_ms(&self.times, q)
    }
}

/// Runs each query once to warm up, then `reps` times, one request at a time, on `conn`
/// at `api_root` (such as `/api/v1` or `/prometheus/api/v1`). Fails on any answer that is
/// not a success.
pub fn run(
    conn: &mut Conn,
    api_root: &str,
    tenant: Option<&str>,
    queries: &[RangeQuery],
    reps: usize,
) -> Result<Vec<QueryTimes>, String> {
    let mut out = Vec::with_capacity(queries.len());
    for q in queries {
        let mut times = Vec::with_capacity(reps);
        let mut series = 0;
        for i in 0..=reps {
            let (took, n) = query_once(conn, api_root, tenant, q)?;
            series = n;
            if i > 0 {
                times.push(took);
            }
        }
        times.sort();
        out.push(QueryTimes {
            query: q.clone(),
            series,
            times,
        });
    }
    Ok(out)
}

/// One range query; its wall time and the number of series answered.
fn query_once(
    conn: &mut Conn,
    api_root: &str,
    tenant: Option<&str>,
    q: &RangeQuery,
) -> Result<(Duration, usize), String> {
    let path = format!("{api_root}/query_range?{}", q.query_string);
    let mut headers = Vec::new();
    if let Some(t) = tenant {
        headers.push(("X-Scope-OrgID", t));
    }
    let t = Instant::now();
    let r = conn
        .request("GET", &path, &headers, b"")
        .map_err(|e| format!("{}: {e}", q.name))?;
    let took = t.elapsed();
    let text = String::from_utf8_lossy(&r.body);
    let compact: String = text
        .chars()
        .take(64)
        .filter(|c| !c.is_whitespace())
        .collect();
    if r.status != 200 || !compact.starts_with(r#"{"status":"success""#) {
        let head: String = text.chars().take(300).collect();
        return Err(format!(
            "{} ({}): HTTP {}: {head}",
            q.name, q.expr, r.status
        ));
    }
    Ok((took, text.matches(r#""metric":"#).count()))
}

/// The `q`-quantile (nearest rank) of sorted durations, in milliseconds.
pub fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted
        .get(rank - 1)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_cut_to_the_data_span() {
        let qs = fit(10_000_000, 1200, 15);
        assert!(qs.iter().all(|q| q.range_s == 1200));
        assert!(qs.iter().all(|q| q.step_s % 15 == 0));
        assert!(qs.iter().all(|q| !q.expr.contains('$')));
    }

    #[test]
    fn long_ranges_get_coarser_steps() {
        let qs = fit(100_000_000, 48 * 3600, 15);
        let day = qs.iter().find(|q| q.range_s == 86400).unwrap();
        assert_eq!(day.step_s, 360);
        assert!(day.expr.contains("[375s]"));
    }

    #[test]
    fn nearest_rank_quantile() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile_ms(&d, 0.99), 99.0);
        assert_eq!(quantile_ms(&d, 0.5), 50.0);
    }
}
