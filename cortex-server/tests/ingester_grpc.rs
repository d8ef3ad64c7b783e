//! The gRPC ingester client against a real tonic server on a loopback port, serving a
//! local ingester: it passes the same conformance suite as the local ingester (exemplar
//! queries included), and calls without a tenant, with bad matchers, to nobody, or past
//! their timeout fail with the right class.

use std::sync::Arc;
use std::time::Duration;

use cortex_core::ingester::api::{IngesterApi, IngesterApiError};
use cortex_core::ingester::{Bucket, Ingester, IngesterConfig, StaticLimits, TsdbConfig, testing};
use cortex_server::ingester_rpc::proto::ingester_client::IngesterClient as RawClient;
use cortex_server::ingester_rpc::{IngesterClient, IngesterClientConfig, IngesterService, proto};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;

fn open_ingester(dir: &std::path::Path) -> Arc<Ingester> {
    let tsdb = TsdbConfig {
        dir: dir.join("tsdb"),
        max_exemplars: testing::CONFORMANCE_MAX_EXEMPLARS,
        ..TsdbConfig::default()
    };
    Ingester::open(
        IngesterConfig::default(),
        tsdb,
        Arc::new(StaticLimits::default()),
        Bucket::local(&dir.join("bucket")).expect("bucket"),
        "",
        &mut Registry::default(),
    )
    .expect("ingester opens")
}

/// Serves `ing` on a loopback port; returns the address and the server task.
async fn serve(ing: Arc<Ingester>) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let task = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(IngesterService::new(ing).into_server())
            .serve_with_incoming(TcpIncoming::from(listener))
            .await
            .expect("serve");
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_client_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, server) = serve(open_ingester(dir.path())).await;
    let cfg = IngesterClientConfig {
        timeout: Duration::from_secs(20),
        ..IngesterClientConfig::default()
    };
    let client = IngesterClient::new(&addr, &cfg).expect("client");
    testing::run_conformance(&client).await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_a_tenant_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, server) = serve(open_ingester(dir.path())).await;
    let mut raw = RawClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    let err = raw
        .user_stats(proto::UserStatsRequest {})
        .await
        .expect_err("no tenant");
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert_eq!(err.message(), "no org id");
    // A garbled push body is bad data (400), not an ingester failure.
    let mut req = tonic::Request::new(proto::PushRequest {
        write_request: vec![0x0a, 0xff],
        source: 0,
    });
    req.metadata_mut()
        .insert("x-scope-orgid", "t".parse().expect("metadata"));
    let err = raw.push(req).await.expect_err("garbled body");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exemplar_query_with_a_bad_matcher_is_bad_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, server) = serve(open_ingester(dir.path())).await;
    let mut raw = RawClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    let query = |r#type: proto::MatchType, value: &str| proto::ExemplarQueryRequest {
        start_timestamp_ms: 0,
        end_timestamp_ms: 1000,
        matchers: vec![proto::LabelMatchers {
            matchers: vec![proto::LabelMatcher {
                r#type: r#type as i32,
                name: "__name__".into(),
                value: value.into(),
            }],
        }],
    };
    let err = raw
        .query_exemplars(query(proto::MatchType::Equal, "m"))
        .await
        .expect_err("no tenant");
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let mut req = tonic::Request::new(query(proto::MatchType::RegexMatch, "("));
    req.metadata_mut()
        .insert("x-scope-orgid", "t".parse().expect("metadata"));
    let err = raw.query_exemplars(req).await.expect_err("bad regexp");
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    // A tenant without a TSDB has no exemplars.
    let mut req = tonic::Request::new(query(proto::MatchType::Equal, "m"));
    req.metadata_mut()
        .insert("x-scope-orgid", "t".parse().expect("metadata"));
    let resp = raw.query_exemplars(req).await.expect("empty answer");
    assert!(resp.get_ref().timeseries.is_empty());
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_ingester_is_a_server_error() {
    // A port that was free a moment ago: nothing listens there.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").to_string()
    };
    let client = IngesterClient::new(&addr, &IngesterClientConfig::default()).expect("client");
    let err = client.user_stats("t").await.expect_err("nobody listens");
    assert!(!err.is_client_error(), "{err:?}");
    assert!(
        matches!(
            err,
            IngesterApiError::Unavailable { .. } | IngesterApiError::Timeout { .. }
        ),
        "{err:?}"
    );
    assert!(matches!(
        IngesterClient::new("not a uri\n", &IngesterClientConfig::default()),
        Err(cortex_server::ingester_rpc::IngesterClientError::InvalidAddress { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_its_timeout_is_a_timeout() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let hold = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = listener.accept().await {
            conns.push(c);
        }
    });
    let cfg = IngesterClientConfig {
        timeout: Duration::from_millis(200),
        connect_timeout: Duration::from_secs(5),
    };
    let client = IngesterClient::new(&addr, &cfg).expect("client");
    let err = client.user_stats("t").await.expect_err("no answer");
    assert_eq!(err.status(), 504, "{err:?}");
    hold.abort();
}
