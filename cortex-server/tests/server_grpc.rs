//! The gRPC listener answers the standard health check: SERVING while the server runs.

mod common;

use common::*;
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
    // A client still connected must not hold up shutdown beyond the grace period.
    let started = std::time::Instant::now();
    assert!(server.signal_and_wait("TERM").success());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    drop(rt);
}
