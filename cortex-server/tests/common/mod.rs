//! Shared by the server tests: a minimal HTTP/1.1 client over a TCP stream, remote-write
//! request builders, the `cortex` binary as a child process, and readers of a stopped
//! server's tenant TSDBs.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cortex_core::remote_write::{Label, Sample, TimeSeries, WriteRequest, compress, encode_v1};
use cortex_tsdb::chunkenc::ValueType;
use cortex_tsdb::db::{Db, DbOptions};
use cortex_tsdb::labels::Matcher;
use cortex_tsdb::querier::SampleIterator;

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request (`Connection: close`) and reads the whole response.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    // A server may answer (413) before reading a large body; a reset then is fine.
    let _ = s.write_all(body);
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let mut body = Vec::new();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        let _ = r.read_to_end(&mut body);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Owned series for building requests.
#[derive(Debug, Clone)]
pub struct OwnedSeries {
    /// Label pairs in the order to send.
    pub labels: Vec<(String, String)>,
    /// (timestamp ms, value).
    pub samples: Vec<(i64, f64)>,
}

/// A snappy-compressed remote write 1.0 body.
pub fn v1_body(series: &[OwnedSeries]) -> Vec<u8> {
    let req = WriteRequest {
        timeseries: series
            .iter()
            .map(|s| TimeSeries {
                labels: s
                    .labels
                    .iter()
                    .map(|(n, v)| Label { name: n, value: v })
                    .collect(),
                samples: s
                    .samples
                    .iter()
                    .map(|&(t, v)| Sample {
                        timestamp: t,
                        value: v,
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let mut raw = Vec::new();
    encode_v1(&req, &mut raw);
    let mut out = Vec::new();
    compress(&raw, &mut out);
    out
}

/// Pushes a remote write 1.0 body for `tenant`.
pub fn push(addr: SocketAddr, tenant: &str, body: &[u8]) -> std::io::Result<Response> {
    http(
        addr,
        "POST",
        "/api/v1/push",
        &[
            ("X-Scope-OrgID", tenant),
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "0.1.0"),
        ],
        body,
    )
}

/// A free loopback port (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The `cortex` binary running as a child process in `dir`.
pub struct ServerProcess {
    /// The child.
    pub child: Child,
    /// Its HTTP address.
    pub addr: SocketAddr,
    /// Its gRPC address.
    pub grpc_addr: SocketAddr,
    /// Its working directory (data under `./data`).
    pub dir: PathBuf,
}

impl ServerProcess {
    /// Starts `cortex` with `flags` in `dir` and waits until `/ready` answers 200. The
    /// ports are picked free but released before the child binds them, so another test
    /// may take one first: a child that exits during startup is started again on new
    /// ports (twice at most).
    pub fn start(dir: &Path, flags: &[&str]) -> ServerProcess {
        for attempt in 0..3 {
            match ServerProcess::try_start(dir, flags) {
                Ok(p) => return p,
                Err(status) if attempt < 2 => {
                    eprintln!("cortex exited during startup ({status}); retrying on new ports");
                }
                Err(status) => panic!("cortex exited early: {status}"),
            }
        }
        unreachable!()
    }

    fn try_start(dir: &Path, flags: &[&str]) -> Result<ServerProcess, std::process::ExitStatus> {
        let port = free_port();
        let grpc_port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_cortex"))
            .current_dir(dir)
            .arg(format!("-server.http-listen-port={port}"))
            .arg("-server.http-listen-address=127.0.0.1")
            .arg(format!("-server.grpc-listen-port={grpc_port}"))
            .arg("-server.grpc-listen-address=127.0.0.1")
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start cortex");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut p = ServerProcess {
            child,
            addr,
            grpc_addr: format!("127.0.0.1:{grpc_port}").parse().unwrap(),
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http(addr, "GET", "/ready", &[], b"")
                && r.status == 200
            {
                return Ok(p);
            }
            if let Ok(Some(st)) = p.child.try_wait() {
                return Err(st);
            }
            assert!(Instant::now() < deadline, "cortex did not become ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` (e.g. `"TERM"`, `"KILL"`) and waits for the process to exit.
    pub fn signal_and_wait(&mut self, signal: &str) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("kill");
        self.child.wait().expect("wait")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every float sample of `tenant`'s TSDB under `data/tsdb`, read with the server stopped,
/// by series (printed labels), time ordered.
pub fn read_tenant(dir: &Path, tenant: &str) -> Vec<(String, Vec<(i64, f64)>)> {
    let opts = DbOptions {
        read_only: true,
        ..Default::default()
    };
    let db = Db::open(&dir.join("data/tsdb").join(tenant), opts).expect("open tenant db");
    let q = db.querier(i64::MIN, i64::MAX);
    let all = q
        .select(&[Matcher::new(cortex_tsdb::labels::MatchType::Regexp, "__name__", ".+").unwrap()])
        .expect("select");
    let mut out = Vec::new();
    for s in all {
        let mut it = s.iter();
        let mut samples = Vec::new();
        while let Some(kind) = it.next().expect("read") {
            assert_eq!(kind, ValueType::Float, "only floats are pushed here");
            samples.push(it.at());
        }
        out.push((s.labels.to_string(), samples));
    }
    out
}
