//! Operational endpoints: `/ready`, `/metrics` (with process metrics), `/config`
//! (current, `?mode=defaults`, `?mode=diff`), `/runtime_config`, `/services`,
//! `/ingester/flush` and an index page.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use serde_yaml::Value;

use super::AppState;
use crate::config::Config;

/// 200 `ready` once every component is running and the ingester (in a process that
/// runs one) is ACTIVE in the ring; 503 while starting or stopping.
pub(crate) async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let active = state.ingester.is_none()
        || state
            .lifecycler
            .lock()
            .map(|l| {
                l.as_ref()
                    .is_some_and(|l| l.state() == cortex_ring::InstanceState::ACTIVE)
            })
            .unwrap_or(false);
    if state.ready.load(Ordering::Acquire) && active {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Some services are not Running\n",
        )
            .into_response()
    }
}

/// The metrics in the OpenMetrics text format.
pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    if let Some(ingester) = &state.ingester {
        ingester.update_gauges();
    }
    let mut out = String::new();
    match prometheus_client::encoding::text::encode(&mut out, &state.registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            out,
        )
            .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "encoding metrics failed\n",
        )
            .into_response(),
    }
}

/// Options whose values `/config` never shows (as Cortex, it prints `********` for a
/// set secret).
const SECRETS: &[&[&str]] = &[
    &["blocks_storage", "s3", "secret_access_key"],
    &["blocks_storage", "gcs", "service_account"],
    &["blocks_storage", "azure", "account_key"],
];

/// `config` as a YAML value with every set secret replaced by `********`.
fn masked(config: &Config) -> Value {
    let mut v = serde_yaml::to_value(config).unwrap_or(Value::Null);
    for path in SECRETS {
        let mut node = Some(&mut v);
        for key in *path {
            node = node.and_then(|n| n.get_mut(*key));
        }
        if let Some(n) = node
            && n.as_str().is_some_and(|s| !s.is_empty())
        {
            *n = Value::String("********".into());
        }
    }
    v
}

/// The configuration as YAML: as running, `mode=defaults`, or `mode=diff` (only what
/// differs from the defaults). Secrets are masked.
pub(crate) async fn config(
    State(state): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let text = match q.get("mode").map(String::as_str) {
        None | Some("") => serde_yaml::to_string(&masked(&state.config)).unwrap_or_default(),
        Some("defaults") => Config::default().to_yaml(),
        Some("diff") => {
            let cur = masked(&state.config);
            let def = serde_yaml::to_value(Config::default()).unwrap_or(Value::Null);
            match diff(&cur, &def) {
                Some(v) => serde_yaml::to_string(&v).unwrap_or_default(),
                None => "{}\n".into(),
            }
        }
        Some(other) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("unknown mode {other:?}: use defaults or diff\n"),
            )
                .into_response();
        }
    };
    yaml(text)
}

/// The per-tenant overrides in force.
pub(crate) async fn runtime_config(State(state): State<Arc<AppState>>) -> Response {
    let mut tenants = serde_yaml::Mapping::new();
    for t in state.overrides.overridden_tenants() {
        let limits = state.overrides.tenant(&t);
        tenants.insert(
            Value::String(t),
            serde_yaml::to_value(limits.as_ref()).unwrap_or(Value::Null),
        );
    }
    let mut root = serde_yaml::Mapping::new();
    root.insert("overrides".into(), Value::Mapping(tenants));
    yaml(serde_yaml::to_string(&Value::Mapping(root)).unwrap_or_default())
}

/// The components and their states.
pub(crate) async fn services(State(state): State<Arc<AppState>>) -> Response {
    let s = if state.stopping.load(Ordering::Acquire) {
        "Stopping"
    } else if state.ready.load(Ordering::Acquire) {
        "Running"
    } else {
        "Starting"
    };
    let mut out = String::new();
    let mut names = vec!["server", "runtime-config", "ring"];
    if state.gossip.is_some() {
        names.push("memberlist-kv");
    }
    for component in ["ingester", "distributor", "querier"] {
        if state.config.runs(component) {
            names.push(component);
        }
    }
    for name in names {
        out.push_str(&format!("{name}: {s}\n"));
    }
    (StatusCode::OK, out).into_response()
}

/// Cuts every tenant's head into blocks and ships them; `wait=true` answers when done.
pub(crate) async fn flush(
    State(state): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(ingester) = state.ingester.clone() else {
        return super::not_running("ingester");
    };
    let log = state.log;
    let run = async move {
        match ingester.flush().await {
            Ok(stats) => log.info("flush done", &[("stats", &format!("{stats:?}"))]),
            Err(e) => log.error("flush failed", &[("err", &e)]),
        }
    };
    if q.get("wait").is_some_and(|v| v == "true" || v == "1") {
        run.await;
    } else {
        tokio::spawn(run);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// A list of this process' endpoints.
pub(crate) async fn index(State(state): State<Arc<AppState>>) -> Response {
    let mut out = String::from("cortex\n\n");
    let mut add = |path: &str| {
        out.push_str(path);
        out.push('\n');
    };
    if state.distributor.is_some() {
        add("/api/v1/push");
        add("/distributor/ring");
    }
    if state.query.is_some() {
        add("/prometheus/api/v1/query");
        add("/prometheus/api/v1/query_range");
    }
    for path in [
        "/ready",
        "/metrics",
        "/config",
        "/runtime_config",
        "/services",
        "/ingester/ring",
    ] {
        add(path);
    }
    if state.ingester.is_some() {
        add("/ingester/flush");
    }
    if state.gossip.is_some() {
        add("/memberlist");
    }
    (StatusCode::OK, out).into_response()
}

fn yaml(text: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

/// The parts of `cur` that differ from `def`.
fn diff(cur: &Value, def: &Value) -> Option<Value> {
    match (cur, def) {
        (Value::Mapping(c), Value::Mapping(d)) => {
            let mut out = serde_yaml::Mapping::new();
            for (k, v) in c {
                let sub = match d.get(k) {
                    Some(dv) => diff(v, dv),
                    None => Some(v.clone()),
                };
                if let Some(s) = sub {
                    out.insert(k.clone(), s);
                }
            }
            (!out.is_empty()).then_some(Value::Mapping(out))
        }
        (c, d) if c == d => None,
        (c, _) => Some(c.clone()),
    }
}

/// `process_*` metrics from `/proc/self`.
#[derive(Debug)]
struct ProcessCollector {
    start_time: f64,
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (cpu, rss, vsz) = proc_stat().unwrap_or_default();
        let cpu = ConstCounter::new(cpu);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            cpu.metric_type(),
        )?)?;
        for (name, help, v) in [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                rss,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                vsz,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                self.start_time,
            ),
        ] {
            let g = ConstGauge::new(v);
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        Ok(())
    }
}

/// CPU seconds, resident and virtual bytes of this process.
fn proc_stat() -> Option<(f64, f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = 100.0; // USER_HZ on Linux
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    let vsize: f64 = f.get(20)?.parse().ok()?;
    let rss_pages: f64 = f.get(21)?.parse().ok()?;
    Some(((utime + stime) / ticks, rss_pages * 4096.0, vsize))
}

/// Registers the `process_*` metrics.
pub(crate) fn register_process_metrics(registry: &mut Registry) {
    let start_time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    registry.register_collector(Box::new(ProcessCollector { start_time }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_secrets_are_masked_empty_ones_left_alone() {
        let mut c = Config::default();
        c.blocks_storage.s3.secret_access_key = "s3-secret".into();
        c.blocks_storage.azure.account_key = "azure-key".into();
        let text = serde_yaml::to_string(&masked(&c)).unwrap();
        assert!(
            !text.contains("s3-secret") && !text.contains("azure-key"),
            "{text}"
        );
        let v = masked(&c);
        let b = &v["blocks_storage"];
        assert_eq!(b["s3"]["secret_access_key"], "********");
        assert_eq!(b["azure"]["account_key"], "********");
        assert_eq!(b["gcs"]["service_account"], "");
        assert_eq!(b["s3"]["access_key_id"], "");
    }

    #[test]
    fn diff_keeps_only_changed_leaves() {
        let mut c = Config::default();
        c.server.http_listen_port = 1;
        c.limits.ingestion_rate = 5.0;
        let cur = serde_yaml::to_value(&c).unwrap();
        let def = serde_yaml::to_value(Config::default()).unwrap();
        let d = serde_yaml::to_string(&diff(&cur, &def).unwrap()).unwrap();
        assert_eq!(
            d,
            "server:\n  http_listen_port: 1\nlimits:\n  ingestion_rate: 5.0\n"
        );
        assert!(diff(&def, &def).is_none());
    }

    #[test]
    fn process_stats_are_read() {
        let (cpu, rss, vsz) = proc_stat().unwrap();
        assert!(cpu >= 0.0 && rss > 0.0 && vsz >= rss);
    }
}
