//! Blocks storage in S3: the server ships its blocks to an S3-compatible server (s3s
//! over a temporary directory, started by the test on loopback) and, after losing its
//! local TSDB, answers queries for the shipped data from the S3 bucket.

mod common;

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use common::*;

const ACCESS_KEY: &str = "cortex-test";
const SECRET_KEY: &str = "cortex-test-secret";
const BUCKET: &str = "blocks";

/// An S3 server on loopback serving buckets from `root`'s subdirectories.
fn start_s3_server(rt: &tokio::runtime::Runtime, root: &std::path::Path) -> SocketAddr {
    std::fs::create_dir_all(root.join(BUCKET)).unwrap();
    let fs = s3s_fs::FileSystem::new(root).unwrap();
    let mut b = s3s::service::S3ServiceBuilder::new(fs);
    b.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = b.build();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let service = service.clone();
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(conn);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    addr
}

#[test]
fn blocks_shipped_to_s3_answer_queries_after_the_local_tsdb_is_gone() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let s3_root = tempfile::tempdir().unwrap();
    let addr = start_s3_server(&rt, s3_root.path());
    let flags = [
        "-blocks-storage.backend=s3".to_string(),
        format!("-blocks-storage.s3.endpoint={addr}"),
        format!("-blocks-storage.s3.bucket-name={BUCKET}"),
        format!("-blocks-storage.s3.access-key-id={ACCESS_KEY}"),
        format!("-blocks-storage.s3.secret-access-key={SECRET_KEY}"),
        "-blocks-storage.s3.insecure=true".to_string(),
        "-blocks-storage.s3.bucket-lookup-type=path".to_string(),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &flags);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Four hours of 60 s samples for 10 series: at least two 2h blocks when flushed.
    let start = (now - 4 * 3_600_000) / 60_000 * 60_000;
    let series: Vec<OwnedSeries> = (0..10)
        .map(|s| OwnedSeries {
            labels: vec![
                ("__name__".into(), "s3_shipped".into()),
                ("series".into(), format!("s{s}")),
            ],
            samples: (0..)
                .map(|k| start + k * 60_000)
                .take_while(|&t| t < now - 60_000)
                .map(|t| (t, ((t - start) / 60_000 + s) as f64))
                .collect(),
        })
        .collect();
    let samples: usize = series.iter().map(|s| s.samples.len()).sum();
    let r = push(server.addr, "team-s3", &v1_body(&series)).unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    let r = http(server.addr, "POST", "/ingester/flush?wait=true", &[], b"").unwrap();
    assert_eq!(r.status, 204);
    assert!(server.signal_and_wait("TERM").success());

    // The blocks are in the S3 server's bucket, in Cortex's layout.
    let tenant_dir = s3_root.path().join(BUCKET).join("team-s3");
    let blocks: Vec<_> = std::fs::read_dir(&tenant_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("meta.json").is_file())
        .collect();
    assert!(blocks.len() >= 2, "{} blocks in S3", blocks.len());
    for b in &blocks {
        assert!(b.path().join("index").is_file());
        assert!(b.path().join("chunks/000001").is_file());
    }

    // Without its local TSDB the server still answers from the bucket.
    std::fs::remove_dir_all(dir.path().join("data/tsdb")).unwrap();
    let server = ServerProcess::start(dir.path(), &flags);
    let query = |q: &str| {
        let path = format!(
            "/prometheus/api/v1/query?query={q}&time={}",
            (now - 60_000) as f64 / 1000.0
        );
        let r = http(
            server.addr,
            "GET",
            &path,
            &[("X-Scope-OrgID", "team-s3")],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        v["data"]["result"][0]["value"][1]
            .as_str()
            .unwrap_or_else(|| panic!("{q}: {v}"))
            .to_string()
    };
    assert_eq!(
        query("sum(count_over_time(s3_shipped%5B5h%5D))"),
        samples.to_string()
    );
    let expected: i64 = series
        .iter()
        .flat_map(|s| s.samples.iter().map(|&(_, v)| v as i64))
        .sum();
    assert_eq!(
        query("sum(sum_over_time(s3_shipped%5B5h%5D))"),
        expected.to_string()
    );
    drop(server);
    drop(rt);
}
