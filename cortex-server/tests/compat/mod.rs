//! Side-by-side testing of the server's Prometheus HTTP API against a real Prometheus
//! (the Debian package, 2.42): start both on free ports, push the same remote-write
//! bodies to both, send the same query to both, compare what comes back.
//!
//! - [`dataset`]: the deterministic series both servers receive.
//! - [`queries`]: the PromQL expressions compared, and which 2.x/3.x differences they avoid.
//! - [`compare`]: semantic comparison of two query API answers.
//!
//! A test using this declares `mod common; mod compat;` and calls [`Pair::start`].

#![allow(dead_code)]

pub mod compare;
pub mod dataset;
pub mod queries;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{OwnedSeries, Response, ServerProcess, free_port, http, push, v1_body};

/// The tenant every compat test writes and queries as.
pub const TENANT: &str = "compat";

/// True when the `prometheus` binary can run. Without it this prints why the caller
/// skips, unless `CI=true`, where it panics: CI must run the comparison.
pub fn prometheus_available() -> bool {
    if Command::new("prometheus").arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var("CI").is_err(),
        "prometheus is required under CI (apt-get install prometheus)"
    );
    eprintln!("skipping: prometheus not found (apt-get install prometheus)");
    false
}

/// A Prometheus server running as a child process, killed on drop.
pub struct Prometheus {
    child: Child,
    /// Its HTTP address.
    pub addr: SocketAddr,
}

impl Prometheus {
    /// Starts Prometheus with the remote-write receiver on, no scrape targets, its TSDB
    /// under `dir`, and `extra` flags; waits until `/-/ready` answers 200.
    pub fn start(dir: &Path, extra: &[&str]) -> Prometheus {
        let port = free_port();
        std::fs::create_dir_all(dir).expect("prometheus dir");
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1m\n").expect("write config");
        let child = Command::new("prometheus")
            .current_dir(dir)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let mut p = Prometheus { child, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http(addr, "GET", "/-/ready", &[], b"")
                && r.status == 200
            {
                return p;
            }
            if let Ok(Some(st)) = p.child.try_wait() {
                panic!("prometheus exited early: {st}");
            }
            assert!(Instant::now() < deadline, "prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One query API request, sent the same way to both servers.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// `GET`, or `POST` for a form-encoded body.
    pub method: &'static str,
    /// The path under the API root, e.g. `query_range`.
    pub endpoint: String,
    /// Parameters, not yet encoded.
    pub params: Vec<(String, String)>,
}

impl ApiRequest {
    /// A GET of `endpoint` with `params`.
    pub fn get(endpoint: &str, params: &[(&str, &str)]) -> ApiRequest {
        ApiRequest {
            method: "GET",
            endpoint: endpoint.to_string(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The same request as a form POST.
    pub fn into_post(mut self) -> ApiRequest {
        self.method = "POST";
        self
    }

    /// The encoded parameters.
    pub fn query_string(&self) -> String {
        self.params
            .iter()
            .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Sends the request to `addr` with the API under `root` (`/api/v1` or
    /// `/prometheus/api/v1`) as tenant [`TENANT`].
    pub fn send(&self, addr: SocketAddr, root: &str) -> Response {
        let qs = self.query_string();
        let r = if self.method == "POST" {
            http(
                addr,
                "POST",
                &format!("{root}/{}", self.endpoint),
                &[
                    ("X-Scope-OrgID", TENANT),
                    ("Content-Type", "application/x-www-form-urlencoded"),
                ],
                qs.as_bytes(),
            )
        } else {
            let path = if qs.is_empty() {
                format!("{root}/{}", self.endpoint)
            } else {
                format!("{root}/{}?{qs}", self.endpoint)
            };
            http(addr, "GET", &path, &[("X-Scope-OrgID", TENANT)], b"")
        };
        r.unwrap_or_else(|e| panic!("{} {}: {e}", self.method, self.endpoint))
    }

    /// A one-line description for failure output.
    pub fn describe(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{} {} {}", self.method, self.endpoint, params.join(" "))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The server a [`Pair`] compares with the reference.
pub enum UnderTest {
    /// The `cortex` binary (auth on, tenant [`TENANT`]).
    Cortex(ServerProcess),
    /// A second Prometheus: proves the harness itself finds no differences.
    Prometheus(Prometheus),
}

impl UnderTest {
    /// Its HTTP address.
    pub fn addr(&self) -> SocketAddr {
        match self {
            UnderTest::Cortex(c) => c.addr,
            UnderTest::Prometheus(p) => p.addr,
        }
    }

    /// Where its query API lives.
    pub fn api_root(&self) -> &'static str {
        match self {
            UnderTest::Cortex(_) => "/prometheus/api/v1",
            UnderTest::Prometheus(_) => "/api/v1",
        }
    }

    /// A short name for output.
    pub fn name(&self) -> &'static str {
        match self {
            UnderTest::Cortex(_) => "cortex",
            UnderTest::Prometheus(_) => "prometheus#2",
        }
    }
}

/// Pushes a remote write 1.0 body to Prometheus' receiver.
pub fn push_prometheus(addr: SocketAddr, body: &[u8]) -> std::io::Result<Response> {
    http(
        addr,
        "POST",
        "/api/v1/write",
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "0.1.0"),
        ],
        body,
    )
}

/// A reference Prometheus and the server under test, both holding the same data.
pub struct Pair {
    /// The reference.
    pub prometheus: Prometheus,
    /// The server under test.
    pub under_test: UnderTest,
}

impl Pair {
    /// Starts the reference and the `cortex` binary with their data under `dir`.
    /// `cortex_flags` are added to the server's own (ingestion limits raised so a test's
    /// push is never throttled).
    pub fn start(dir: &Path, cortex_flags: &[&str]) -> Pair {
        let prometheus = Prometheus::start(&dir.join("prometheus"), &[]);
        let cdir = dir.join("cortex");
        std::fs::create_dir_all(&cdir).expect("cortex dir");
        let mut flags = vec![
            "-distributor.ingestion-rate-limit=100000000",
            "-distributor.ingestion-burst-size=100000000",
        ];
        flags.extend_from_slice(cortex_flags);
        let cortex = ServerProcess::start(&cdir, &flags);
        Pair {
            prometheus,
            under_test: UnderTest::Cortex(cortex),
        }
    }

    /// Starts two Prometheus servers: the harness run against itself.
    pub fn start_prometheus_twice(dir: &Path) -> Pair {
        Pair {
            prometheus: Prometheus::start(&dir.join("prometheus"), &[]),
            under_test: UnderTest::Prometheus(Prometheus::start(&dir.join("prometheus2"), &[])),
        }
    }

    /// Starts the pair `COMPAT_AGAINST` asks for: `prometheus` for two Prometheus
    /// servers, anything else (or unset) for Prometheus and the `cortex` binary.
    pub fn start_from_env(dir: &Path) -> Pair {
        match std::env::var("COMPAT_AGAINST").as_deref() {
            Ok("prometheus") => Pair::start_prometheus_twice(dir),
            _ => Pair::start(dir, &[]),
        }
    }

    /// Pushes each batch, in order, to both servers as remote write 1.0; panics on a
    /// non-2xx answer from either.
    pub fn push_both(&self, batches: &[Vec<OwnedSeries>]) {
        for (i, batch) in batches.iter().enumerate() {
            let body = v1_body(batch);
            let answers = [
                ("prometheus", push_prometheus(self.prometheus.addr, &body)),
                (
                    self.under_test.name(),
                    match &self.under_test {
                        UnderTest::Cortex(c) => push(c.addr, TENANT, &body),
                        UnderTest::Prometheus(p) => push_prometheus(p.addr, &body),
                    },
                ),
            ];
            for (name, r) in answers {
                let r = r.unwrap_or_else(|e| panic!("push batch {i} to {name}: {e}"));
                assert!(
                    (200..300).contains(&r.status),
                    "push batch {i} to {name}: {} {}",
                    r.status,
                    r.text()
                );
            }
        }
    }

    /// Sends `req` to both servers: (Prometheus' answer, the other server's answer).
    pub fn query_both(&self, req: &ApiRequest) -> (Response, Response) {
        (
            req.send(self.prometheus.addr, "/api/v1"),
            req.send(self.under_test.addr(), self.under_test.api_root()),
        )
    }
}
