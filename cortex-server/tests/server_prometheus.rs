//! A real Prometheus (the Debian package) remote-writes into the server while scraping
//! itself and the server: it delivers without a single failed sample, its samples and
//! metadata arrive, and the server took no 4xx or 5xx.
//!
//! Debian's Prometheus 2.42 build (`2.42.0+ds`) sends no `remote_write.headers` at all
//! (checked by capturing its requests), so it cannot name a tenant with
//! `X-Scope-OrgID`; the server runs with `-auth.enabled=false` and the samples land in
//! tenant `fake`.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The value of an unlabelled (or first matching) metric line in text exposition.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Sum over every series of `name` in text exposition.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

#[test]
fn prometheus_remote_write_delivers_without_failures() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("CI").is_err(),
            "prometheus is required under CI (apt-get install prometheus)"
        );
        eprintln!("skipping: prometheus not found (apt-get install prometheus)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cortex = ServerProcess::start(dir.path(), &["-auth.enabled=false"]);
    let prom_port = free_port();
    let config = format!(
        r#"global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:{prom_port}']
  - job_name: cortex
    static_configs:
      - targets: ['{cortex}']
remote_write:
  - url: http://{cortex}/api/v1/push
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 50ms
    metadata_config:
      send_interval: 2s
"#,
        cortex = cortex.addr
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let prom = Killed(
        Command::new("prometheus")
            .current_dir(dir.path())
            .arg("--config.file=prometheus.yml")
            .arg("--storage.tsdb.path=prom-data")
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let prom_addr = format!("127.0.0.1:{prom_port}").parse().unwrap();
    // Wait until Prometheus has sent a good number of samples.
    let deadline = Instant::now() + Duration::from_secs(90);
    let prom_metrics = loop {
        std::thread::sleep(Duration::from_secs(1));
        if let Ok(r) = http(prom_addr, "GET", "/metrics", &[], b"") {
            let text = r.text();
            let sent = metric(&text, "prometheus_remote_storage_samples_total").unwrap_or(0.0);
            if sent > 3000.0 {
                break text;
            }
        }
        assert!(Instant::now() < deadline, "Prometheus sent too few samples");
    };
    let failed = metric(
        &prom_metrics,
        "prometheus_remote_storage_samples_failed_total",
    );
    assert_eq!(failed, Some(0.0), "Prometheus reports failed samples");
    let dropped = metric(
        &prom_metrics,
        "prometheus_remote_storage_samples_dropped_total",
    );
    assert_eq!(dropped.unwrap_or(0.0), 0.0, "Prometheus dropped samples");
    let sent = metric(&prom_metrics, "prometheus_remote_storage_samples_total").unwrap();
    let md_failed = metric(
        &prom_metrics,
        "prometheus_remote_storage_metadata_failed_total",
    );
    assert_eq!(
        md_failed.unwrap_or(0.0),
        0.0,
        "Prometheus reports failed metadata"
    );

    let ours = http(cortex.addr, "GET", "/metrics", &[], b"")
        .unwrap()
        .text();
    let received = metric_sum(&ours, "cortex_distributor_received_samples_total");
    assert!(received >= sent, "cortex received {received} < {sent} sent");
    assert_eq!(
        metric_sum(&ours, "cortex_discarded_samples_total"),
        0.0,
        "{ours}"
    );
    for code in ["400", "401", "413", "415", "429", "500", "503"] {
        assert!(
            !ours.contains(&format!("route=\"api_v1_push\",status_code=\"{code}\"")),
            "cortex answered {code} to a push"
        );
    }
    assert!(metric_sum(&ours, "cortex_distributor_received_metadata_total") > 0.0);
    drop(prom);
    assert!(cortex.signal_and_wait("TERM").success());

    let stored = read_tenant(dir.path(), "fake");
    let up: Vec<_> = stored
        .iter()
        .filter(|(l, _)| l.starts_with("{__name__=\"up\""))
        .collect();
    assert_eq!(up.len(), 2, "up of both jobs: {up:?}");
    for (l, samples) in up {
        assert!(samples.len() >= 3, "{l}: {} samples", samples.len());
        assert!(samples.iter().all(|&(_, v)| v == 1.0), "{l}: {samples:?}");
    }
    let total: usize = stored.iter().map(|(_, s)| s.len()).sum();
    assert!(total as f64 >= sent, "stored {total} < {sent} sent");
    eprintln!(
        "Prometheus sent {sent} samples, 0 failed; cortex stored {total} samples in {} series",
        stored.len()
    );
}
