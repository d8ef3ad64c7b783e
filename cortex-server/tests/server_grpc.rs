//! The gRPC listener answers the standard health check (SERVING while the server
//! runs) and the ingester service (a push through the gRPC client is queried back over
//! HTTP), and the ingester is ACTIVE in the in-memory ring under its gRPC address.

mod common;

use common::*;
use cortex_core::ingester::PushSource;
use cortex_core::ingester::api::IngesterApi;
use cortex_core::remote_write::{Label, Sample, TimeSeries, WriteRequest};
use cortex_server::ingester_rpc::{IngesterClient, IngesterClientConfig};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[test]
fn grpc_health_check_reports_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &["-server.graceful-shutdown-timeout=2s"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        let channel =
            tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc_addr))
                .expect("endpoint")
                .connect()
                .await
                .expect("connect to the gRPC port");
        let mut client = HealthClient::new(channel);
        client
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("health check")
            .into_inner()
            .status
    });
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let stats = rt.block_on(async {
        let client = IngesterClient::new(
            &server.grpc_addr.to_string(),
            &IngesterClientConfig::default(),
        )
        .expect("client");
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: "__name__",
                    value: "via_grpc",
                }]
                .into(),
                samples: vec![Sample {
                    timestamp: now,
                    value: 7.0,
                }]
                .into(),
                ..TimeSeries::default()
            }],
            ..WriteRequest::default()
        };
        client
            .push("grpc-tenant", &req, PushSource::Api)
            .await
            .expect("push over gRPC")
    });
    assert_eq!(stats.samples, 1);
    let q = http(
        server.addr,
        "GET",
        &format!(
            "/prometheus/api/v1/query?query=via_grpc&time={}",
            now / 1000 + 1
        ),
        &[("X-Scope-OrgID", "grpc-tenant")],
        b"",
    )
    .unwrap();
    assert_eq!(q.status, 200, "{}", q.text());
    assert!(q.text().contains(r#""7""#), "{}", q.text());
    let ring = http(server.addr, "GET", "/ingester/ring?format=json", &[], b"").unwrap();
    assert_eq!(ring.status, 200);
    let desc: serde_json::Value = serde_json::from_slice(&ring.body).unwrap();
    let ingesters = desc["ingesters"].as_object().unwrap();
    assert_eq!(ingesters.len(), 1, "{desc}");
    let (_, me) = ingesters.iter().next().unwrap();
    assert_eq!(me["state"], "ACTIVE");
    assert_eq!(me["addr"], server.grpc_addr.to_string());
    assert_eq!(me["tokens"].as_array().unwrap().len(), 128);
    let page = http(server.addr, "GET", "/ingester/ring", &[], b"")
        .unwrap()
        .text();
    assert!(page.contains("<td>ACTIVE</td>"), "{page}");
    assert!(page.contains(">Forget</button>"), "{page}");
    // The page's Forget button posts the instance ID; a GET never changes the ring.
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let r = http(
        server.addr,
        "POST",
        "/ingester/ring",
        &form,
        b"forget=nobody",
    )
    .unwrap()
    .text();
    assert!(r.contains("Instance nobody is not in the ring."), "{r}");
    let (my_id, _) = ingesters.iter().next().unwrap();
    let r = http(
        server.addr,
        "GET",
        &format!("/ingester/ring?forget={my_id}"),
        &[],
        b"",
    )
    .unwrap()
    .text();
    assert!(!r.contains("forgotten"), "{r}");
    let body = format!("forget={my_id}");
    let r = http(
        server.addr,
        "POST",
        "/ingester/ring",
        &form,
        body.as_bytes(),
    )
    .unwrap()
    .text();
    assert!(r.contains(&format!("Instance {my_id} forgotten.")), "{r}");
    // A client still connected must not hold up shutdown beyond the grace period.
    let started = std::time::Instant::now();
    assert!(server.signal_and_wait("TERM").success());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    drop(rt);
}
