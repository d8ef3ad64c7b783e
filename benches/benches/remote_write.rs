//! Remote-write decoding as the push endpoint sees it: a request of 2000 series with
//! about ten labels and one sample each (what Prometheus sends per shard and batch),
//! decoded from the protobuf bytes alone and from the snappy body through
//! `decode_request` (decompression into a reused buffer included), for remote write
//! 1.0 and 2.0; and the encoders a load generator uses. Throughput is in uncompressed
//! message bytes; time per series is the iteration time divided by 2000. The message
//! and body sizes are printed once.

use std::hint::black_box;

use cortex_core::remote_write::{
    ContentHeaders, DEFAULT_MAX_RECV_MSG_SIZE, Label, Protocol, Sample, TimeSeries, WriteRequest,
    compress, decode_request, decode_v1, decode_v2, encode_v1, encode_v2,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Series per request.
const SERIES: usize = 2000;

/// The label sets of a node-exporter-like scrape seen through a Kubernetes relabelling:
/// ten labels per series, sorted, with realistic name and value lengths.
fn label_sets() -> Vec<Vec<(String, String)>> {
    let metrics = [
        "node_cpu_seconds_total",
        "node_network_receive_bytes_total",
        "node_filesystem_avail_bytes",
        "node_disk_io_time_seconds_total",
        "node_memory_MemAvailable_bytes",
    ];
    let modes = [
        "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
    ];
    (0..SERIES)
        .map(|i| {
            let host = i / 100;
            let mut ls = vec![
                (
                    "__name__".to_string(),
                    metrics[i % metrics.len()].to_string(),
                ),
                ("cluster".to_string(), "prod-eu-west-1".to_string()),
                ("cpu".to_string(), (i % 16).to_string()),
                ("env".to_string(), "production".to_string()),
                (
                    "instance".to_string(),
                    format!("10.0.{}.{}:9100", host / 250, host % 250),
                ),
                ("job".to_string(), "node-exporter".to_string()),
                ("mode".to_string(), modes[i % modes.len()].to_string()),
                ("namespace".to_string(), "monitoring".to_string()),
                (
                    "pod".to_string(),
                    format!("node-exporter-{:05x}", host * 7919),
                ),
                ("region".to_string(), "eu-west-1".to_string()),
            ];
            ls.sort();
            ls
        })
        .collect()
}

fn request(sets: &[Vec<(String, String)>], protocol: Protocol) -> WriteRequest<'_> {
    WriteRequest {
        timeseries: sets
            .iter()
            .enumerate()
            .map(|(i, ls)| TimeSeries {
                labels: ls
                    .iter()
                    .map(|(n, v)| Label { name: n, value: v })
                    .collect(),
                samples: vec![Sample {
                    timestamp: 1_700_000_000_000 + (i as i64 % 15) * 1000,
                    value: (i * 7919 % 100_000) as f64 * 1.25,
                }]
                .into(),
                ..TimeSeries::default()
            })
            .collect(),
        metadata: Vec::new(),
        protocol,
    }
}

fn bench_remote_write(c: &mut Criterion) {
    let sets = label_sets();
    let v1 = request(&sets, Protocol::V1);
    let v2 = request(&sets, Protocol::V2);
    let (mut raw1, mut raw2, mut body1, mut body2) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    encode_v1(&v1, &mut raw1);
    encode_v2(&v2, &mut raw2);
    compress(&raw1, &mut body1);
    compress(&raw2, &mut body2);
    println!(
        "{SERIES} series: 1.0 message {} bytes (snappy {}), 2.0 message {} bytes (snappy {})",
        raw1.len(),
        body1.len(),
        raw2.len(),
        body2.len()
    );
    let h1 = ContentHeaders {
        content_type: Some("application/x-protobuf"),
        content_encoding: Some("snappy"),
        remote_write_version: Some("0.1.0"),
    };
    let h2 = ContentHeaders {
        content_type: Some("application/x-protobuf;proto=io.prometheus.write.v2.Request"),
        content_encoding: Some("snappy"),
        remote_write_version: Some("2.0.0"),
    };

    let mut g = c.benchmark_group("remote_write_decode");
    g.throughput(Throughput::Bytes(raw1.len() as u64));
    g.bench_function("v1_protobuf", |b| {
        b.iter(|| black_box(decode_v1(&raw1).unwrap()).timeseries.len())
    });
    let mut scratch = Vec::new();
    g.bench_function("v1_snappy_body", |b| {
        b.iter(|| {
            let req = decode_request(&body1, &h1, DEFAULT_MAX_RECV_MSG_SIZE, &mut scratch).unwrap();
            black_box(req.timeseries.len())
        })
    });
    g.throughput(Throughput::Bytes(raw2.len() as u64));
    g.bench_function("v2_protobuf", |b| {
        b.iter(|| black_box(decode_v2(&raw2).unwrap()).timeseries.len())
    });
    g.bench_function("v2_snappy_body", |b| {
        b.iter(|| {
            let req = decode_request(&body2, &h2, DEFAULT_MAX_RECV_MSG_SIZE, &mut scratch).unwrap();
            black_box(req.timeseries.len())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("remote_write_encode");
    let (mut out, mut body) = (Vec::new(), Vec::new());
    g.throughput(Throughput::Bytes(raw1.len() as u64));
    g.bench_function("v1_snappy_body", |b| {
        b.iter(|| {
            encode_v1(&v1, &mut out);
            compress(&out, &mut body);
            black_box(body.len())
        })
    });
    g.throughput(Throughput::Bytes(raw2.len() as u64));
    g.bench_function("v2_snappy_body", |b| {
        b.iter(|| {
            encode_v2(&v2, &mut out);
            compress(&out, &mut body);
            black_box(body.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench_remote_write);
criterion_main!(benches);
