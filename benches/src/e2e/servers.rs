//! Starting the servers under test on free loopback ports with their data in a scratch
//! directory — the `cortex` single binary, Prometheus (2.42 from Debian) and
//! VictoriaMetrics (single node, from Debian) — and reading what they cost from `/proc`:
//! CPU time, peak and current RSS, and the bytes under their data directory.
//! A [`Server`] is stopped (SIGTERM, then SIGKILL after a grace period) when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::http::{Conn, Endpoint};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The `cortex` binary of this workspace, every component in one process.
    Cortex,
    /// Prometheus with the remote write receiver.
    Prometheus,
    /// VictoriaMetrics single node.
    VictoriaMetrics,
}

impl Kind {
    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Cortex => "cortex",
            Kind::Prometheus => "prometheus",
            Kind::VictoriaMetrics => "victoriametrics",
        }
    }

    /// Parses a name as [`Kind::name`] prints it (`vm` also names VictoriaMetrics).
    pub fn parse(s: &str) -> Result<Kind, String> {
        match s {
            "cortex" => Ok(Kind::Cortex),
            "prometheus" | "prom" => Ok(Kind::Prometheus),
            "victoriametrics" | "vm" => Ok(Kind::VictoriaMetrics),
            other => Err(format!(
                "unknown server {other:?} (cortex, prometheus, victoriametrics)"
            )),
        }
    }
}

/// A running server, stopped on drop.
pub struct Server {
    /// Which server.
    pub kind: Kind,
    child: Child,
    /// Where it listens.
    pub endpoint: Endpoint,
    /// The Prometheus API root (`/api/v1` or `/prometheus/api/v1`).
    pub api_root: &'static str,
    /// The remote write path.
    pub push_path: &'static str,
    /// Its data directory.
    pub data_dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Server {
    /// Starts `kind` with its data under `dir` (created) and waits until it is ready.
    /// `cortex_bin` is the `cortex` binary and `cortex_flags` extra flags for it, used
    /// for [`Kind::Cortex`] only. With `cached`, the servers that cache query results
    /// do: cortex's results cache is on and VictoriaMetrics' rollup cache is not
    /// disabled; otherwise both answer every query from their data.
    pub fn start(
        kind: Kind,
        dir: &Path,
        cortex_bin: &Path,
        cortex_flags: &[String],
        cached: bool,
    ) -> Result<Server, String> {
        let port = free_port()?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let quiet = |c: &mut Command| {
            c.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
        };
        let (child, api_root, push_path, data_dir, ready) = match kind {
            Kind::Cortex => {
                let grpc = free_port()?;
                let mut c = Command::new(cortex_bin);
                c.current_dir(dir)
                    .arg(format!("-server.http-listen-port={port}"))
                    .arg("-server.http-listen-address=127.0.0.1")
                    .arg(format!("-server.grpc-listen-port={grpc}"))
                    .arg("-server.grpc-listen-address=127.0.0.1")
                    .arg("-distributor.ingestion-rate-limit=1000000000")
                    .arg("-distributor.ingestion-burst-size=1000000000")
                    // The other servers have no such limits.
                    .arg("-ingester.max-series-per-user=0")
                    .arg("-ingester.max-series-per-metric=0")
                    .arg("-querier.max-fetched-chunks-per-query=0")
                    .arg(format!("-querier.cache-results={cached}"))
                    .args(cortex_flags);
                quiet(&mut c);
                let child = c
                    .spawn()
                    .map_err(|e| format!("start {}: {e}", cortex_bin.display()))?;
                (
                    child,
                    "/prometheus/api/v1",
                    "/api/v1/push",
                    dir.join("data"),
                    "/ready",
                )
            }
            Kind::Prometheus => {
                let config = dir.join("prometheus.yml");
                std::fs::write(&config, "global:\n  scrape_interval: 1m\n")
                    .map_err(|e| e.to_string())?;
                let tsdb = dir.join("tsdb");
                let mut c = Command::new("prometheus");
                c.current_dir(dir)
                    .arg(format!("--config.file={}", config.display()))
                    .arg(format!("--storage.tsdb.path={}", tsdb.display()))
                    .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                    .arg("--web.enable-remote-write-receiver");
                quiet(&mut c);
                let child = c.spawn().map_err(|e| format!("start prometheus: {e}"))?;
                (child, "/api/v1", "/api/v1/write", tsdb, "/-/ready")
            }
            Kind::VictoriaMetrics => {
                let data = dir.join("vmdata");
                let mut c = Command::new("victoria-metrics");
                c.current_dir(dir)
                    .arg(format!("-storageDataPath={}", data.display()))
                    .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
                    // Answer with everything written, as the other two do.
                    .arg("-search.latencyOffset=0s");
                if !cached {
                    c.arg("-search.disableCache");
                }
                quiet(&mut c);
                let child = c
                    .spawn()
                    .map_err(|e| format!("start victoria-metrics: {e}"))?;
                (child, "/api/v1", "/api/v1/write", data, "/health")
            }
        };
        let mut s = Server {
            kind,
            child,
            endpoint: Endpoint::loopback(port),
            api_root,
            push_path,
            data_dir,
        };
        s.wait_ready(ready)?;
        Ok(s)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_ready(&mut self, path: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut conn = Conn::new(self.endpoint.clone());
        loop {
            if let Ok(r) = conn.request("GET", path, &[], b"")
                && r.status == 200
            {
                return Ok(());
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                return Err(format!("{} exited early: {st}", self.kind.name()));
            }
            if Instant::now() > deadline {
                return Err(format!("{} did not become ready", self.kind.name()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Asks the server to write what it holds in memory to disk, where it has a way to:
    /// VictoriaMetrics' `/internal/force_flush`; cortex's `/ingester/flush` (cuts the head
    /// into blocks and ships them) when `cortex_blocks` is set. Prometheus has none short
    /// of a snapshot: its head stays in the WAL and the memory-mapped head chunks.
    /// Returns what was done, for the report.
    pub fn flush(&self, cortex_blocks: bool) -> Result<&'static str, String> {
        let path = match self.kind {
            Kind::VictoriaMetrics => "/internal/force_flush",
            Kind::Cortex if cortex_blocks => "/ingester/flush?wait=true",
            Kind::Cortex => return Ok("head: WAL + head chunks (no flush)"),
            Kind::Prometheus => return Ok("head: WAL + head chunks (no flush)"),
        };
        let r = Conn::new(self.endpoint.clone())
            .request("GET", path, &[], b"")
            .map_err(|e| format!("flush {}: {e}", self.kind.name()))?;
        if !(200..300).contains(&r.status) {
            return Err(format!("flush {}: HTTP {}", self.kind.name(), r.status));
        }
        Ok(match self.kind {
            Kind::VictoriaMetrics => "force_flush: all parts on disk",
            _ => "flushed: head cut into blocks, shipped to the bucket",
        })
    }

    /// Stops the server: SIGTERM, then SIGKILL after 30 s.
    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a process has used so far, from `/proc/<pid>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcUsage {
    /// User plus system CPU seconds.
    pub cpu_s: f64,
    /// Peak resident set size (`VmHWM`), bytes.
    pub peak_rss: u64,
    /// Current resident set size (`VmRSS`), bytes.
    pub rss: u64,
}

impl ProcUsage {
    /// Reads the usage of process `pid`.
    pub fn of(pid: u32) -> Result<ProcUsage, String> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
        // Fields after the command name, which is in parentheses and may hold spaces:
        // state is field 3, utime 14 and stime 15.
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
        let (Some(utime), Some(stime)) = (ticks(11), ticks(12)) else {
            return Err(format!("/proc/{pid}/stat: no utime/stime"));
        };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
        let kb = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        Ok(ProcUsage {
            cpu_s: (utime + stime) as f64 / clock_ticks() as f64,
            peak_rss: kb("VmHWM:"),
            rss: kb("VmRSS:"),
        })
    }
}

/// `sysconf(_SC_CLK_TCK)` via `getconf`, 100 when that fails (the Linux value).
fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// Bytes allocated on disk to the files under `dir`, as `du` counts them (a sparse or
/// preallocated file counts what it occupies, not its length).
pub fn dir_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.blocks() * 512).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// A free loopback port (free when asked; the server binds it right after).
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}
