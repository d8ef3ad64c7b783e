//! Remote read: a real Prometheus (the Debian package) configured with `remote_read`
//! pointing at the server answers queries with the server's data — the same values the
//! server's own query API gives.
//!
//! The server runs with `-auth.enabled=false`, like the remote-write test, so the
//! result does not depend on whether this Prometheus build sends configured headers.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::Value;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn query(addr: std::net::SocketAddr, path: &str) -> Value {
    let r = http(addr, "GET", path, &[], b"").unwrap();
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    serde_json::from_slice(&r.body).unwrap()
}

/// `(metric labels, values)` of a matrix result, sorted by labels.
fn matrix(v: &Value) -> Vec<(String, Vec<(f64, String)>)> {
    let mut out: Vec<_> = v["data"]["result"]
        .as_array()
        .unwrap_or_else(|| panic!("no result: {v}"))
        .iter()
        .map(|s| {
            let values = s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_f64().unwrap(), p[1].as_str().unwrap().to_string()))
                .collect();
            (s["metric"].to_string(), values)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn prometheus_remote_read_returns_the_servers_data() {
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
    let cortex = ServerProcess::start(dir.path(), &["-auth.enabled=false"]);
    // Ten series over the last 20 minutes, 15 s apart, off the query grid.
    let t0 = (now_ms() - 20 * 60_000) / 60_000 * 60_000 + 7_000;
    let series: Vec<OwnedSeries> = (0..10)
        .map(|i| OwnedSeries {
            labels: vec![
                ("__name__".into(), "rr_metric".into()),
                ("job".into(), "remote".into()),
                ("i".into(), i.to_string()),
            ],
            samples: (0..80)
                .map(|k| (t0 + k * 15_000, (i * 1000 + k) as f64 * 0.5))
                .collect(),
        })
        .collect();
    let r = push(cortex.addr, "fake", &v1_body(&series)).unwrap();
    assert_eq!(r.status, 204, "{}", r.text());

    let prom_port = free_port();
    let config = format!(
        r#"global:
  scrape_interval: 15s
remote_read:
  - url: http://{cortex}/api/v1/read
    read_recent: true
"#,
        cortex = cortex.addr
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let _prom = Killed(
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
    let deadline = Instant::now() + Duration::from_secs(60);
    while http(prom_addr, "GET", "/-/ready", &[], b"").map_or(true, |r| r.status != 200) {
        assert!(Instant::now() < deadline, "Prometheus did not get ready");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Evaluation times never coincide with a sample, so the 2.x and 3.x range
    // boundaries select the same samples.
    let start = (t0 + 63_000) / 1000;
    let end = (t0 + 19 * 60_000 + 3_000) / 1000;
    for q in ["rr_metric", "sum(rr_metric)", "rate(rr_metric[2m])"] {
        let path = format!(
            "/api/v1/query_range?query={}&start={start}&end={end}&step=30",
            q.replace('[', "%5B").replace(']', "%5D")
        );
        let theirs = matrix(&query(prom_addr, &path));
        let ours = matrix(&query(cortex.addr, &path));
        assert!(!ours.is_empty(), "{q}: the server has no data");
        assert_eq!(theirs, ours, "{q}: Prometheus via remote read differs");
    }
    let theirs = matrix(&query(
        prom_addr,
        &format!("/api/v1/query_range?query=rr_metric&start={start}&end={end}&step=30"),
    ));
    assert_eq!(theirs.len(), 10);
    assert!(theirs.iter().all(|(_, v)| v.len() > 30));
}
