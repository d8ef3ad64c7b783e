//! The replicated write path end to end: a ring in an in-memory KV (zones a/b/c, RF 3,
//! zone-aware), read through a `RingClient`, and local ingesters in temporary
//! directories behind the `IngesterApi` adapter — with wrappers that make an ingester
//! unreachable, hang, or refuse a series where a failure must be injected, and counting
//! ingesters where only placement matters.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use cortex_core::distributor::token::shard_by_all_labels;
use cortex_core::distributor::{ClientFactory, ReplicateError, Replicator};
use cortex_core::ingester::api::{ApiFuture, IngesterApi, IngesterApiError, SeriesStream};
use cortex_core::ingester::{
    Bucket, Ingester, IngesterConfig, MetadataEntry, MetadataQuery, PushSource, PushStats,
    StaticLimits, TsdbConfig, UserStats,
};
use cortex_core::remote_write::{
    Label, MetricMetadata, MetricType, Sample, TimeSeries, WriteRequest,
};
use cortex_ring::kv::cas_desc;
use cortex_ring::{
    Desc, GetBuffers, INGESTER_RING_KEY, InMemoryKv, InstanceState, Kv, Operation, RingClient,
    RingConfig, TokenGenerator, ring_source, sharded_ring_source,
};
use cortex_tsdb::exemplar::ExemplarSeries;
use cortex_tsdb::labels::{Labels, Matcher};
use prometheus_client::registry::Registry;

const TENANT: &str = "team-a";

/// A ring of `per_zone` ACTIVE instances in each of `zones` (128 seeded tokens each),
/// RF 3, zone-aware; returns the client and the instances' addresses in zone order.
fn ring(zones: &[&str], per_zone: usize) -> (Arc<RingClient>, Vec<String>) {
    let kv: Arc<dyn Kv> = Arc::new(InMemoryKv::new());
    let mut desc = Desc::new();
    let mut tokens = TokenGenerator::with_seed(42);
    let mut taken = Vec::new();
    let mut addrs = Vec::new();
    for zone in zones {
        for i in 0..per_zone {
            let id = format!("ingester-{zone}-{i}");
            let addr = format!("{id}:9095");
            let t = tokens.generate(128, &taken);
            taken.extend_from_slice(&t);
            desc.add_ingester(&id, &addr, zone, t, InstanceState::ACTIVE, 0);
            addrs.push(addr);
        }
    }
    cas_desc(&*kv, INGESTER_RING_KEY, |_| Ok(Some(desc.clone()))).unwrap();
    let cfg = RingConfig {
        replication_factor: 3,
        zone_awareness_enabled: true,
        ..RingConfig::default()
    };
    let client = RingClient::start(kv, INGESTER_RING_KEY, cfg).unwrap();
    (Arc::new(client), addrs)
}

fn replicator(ring: Arc<RingClient>, apis: HashMap<String, Arc<dyn IngesterApi>>) -> Replicator {
    replicator_with_timeout(ring, apis, Duration::from_secs(5))
}

fn replicator_with_timeout(
    ring: Arc<RingClient>,
    apis: HashMap<String, Arc<dyn IngesterApi>>,
    timeout: Duration,
) -> Replicator {
    let factory: ClientFactory = Arc::new(move |addr: &str| {
        apis.get(addr).cloned().unwrap_or_else(|| {
            Arc::new(Faulty::down(addr, Arc::new(Counting::default()))) as Arc<dyn IngesterApi>
        })
    });
    Replicator::new(ring_source(ring), factory, timeout)
}

/// A series with `labels` (sorted pairs) and float samples.
fn series<'a>(labels: &[(&'a str, &'a str)], samples: &[(i64, f64)]) -> TimeSeries<'a> {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label { name: n, value: v })
            .collect(),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| Sample { timestamp, value })
            .collect(),
        ..Default::default()
    }
}

fn request(ts: Vec<TimeSeries<'_>>) -> WriteRequest<'_> {
    WriteRequest {
        timeseries: ts,
        ..Default::default()
    }
}

/// Local ingesters on temporary directories, one per address.
struct Locals {
    _dirs: Vec<tempfile::TempDir>,
    ingesters: Vec<Arc<Ingester>>,
}

fn locals(n: usize) -> Locals {
    let mut dirs = Vec::new();
    let mut ingesters = Vec::new();
    for _ in 0..n {
        let dir = tempfile::tempdir().unwrap();
        let tsdb = TsdbConfig {
            dir: dir.path().join("tsdb"),
            ..TsdbConfig::default()
        };
        let ingester = Ingester::open(
            IngesterConfig::default(),
            tsdb,
            Arc::new(StaticLimits::default()),
            Bucket::local(&dir.path().join("bucket")).unwrap(),
            "",
            &mut Registry::default(),
        )
        .unwrap();
        ingesters.push(ingester);
        dirs.push(dir);
    }
    Locals {
        _dirs: dirs,
        ingesters,
    }
}

/// `n` series `up{instance="i<k>"}` with one sample each, labels sorted.
fn values(n: usize) -> Vec<String> {
    (0..n).map(|k| format!("i{k}")).collect()
}

fn requests<'a>(names: &'a [&'a str], instances: &'a [String]) -> WriteRequest<'a> {
    let mut ts = Vec::new();
    for name in names {
        for v in instances {
            ts.push(series(
                &[("__name__", name), ("instance", v)],
                &[(1000, 1.0)],
            ));
        }
    }
    request(ts)
}

async fn num_series(api: &dyn IngesterApi) -> u64 {
    api.user_stats(TENANT).await.unwrap().num_series
}

/// An ingester wrapper that injects a failure: unreachable, or refusing (400) every
/// series named `reject` while storing the rest. It may wait for another wrapper's
/// answer before answering, to fix the order the distributor sees answers in.
struct Faulty {
    addr: String,
    inner: Arc<dyn IngesterApi>,
    down: bool,
    reject: Option<&'static str>,
    wait_for: Option<Arc<Notify>>,
    signal: Option<Arc<Notify>>,
}

impl Faulty {
    fn down(addr: &str, inner: Arc<dyn IngesterApi>) -> Faulty {
        Faulty {
            addr: addr.to_string(),
            inner,
            down: true,
            reject: None,
            wait_for: None,
            signal: None,
        }
    }

    fn rejecting(addr: &str, inner: Arc<dyn IngesterApi>, name: &'static str) -> Faulty {
        Faulty {
            down: false,
            reject: Some(name),
            ..Faulty::down(addr, inner)
        }
    }

    fn ordered(mut self, wait_for: Option<Arc<Notify>>, signal: Option<Arc<Notify>>) -> Faulty {
        self.wait_for = wait_for;
        self.signal = signal;
        self
    }

    async fn answer(
        &self,
        tenant: &str,
        req: &WriteRequest<'_>,
        source: PushSource,
    ) -> Result<PushStats, IngesterApiError> {
        if self.down {
            return Err(IngesterApiError::Unavailable {
                addr: self.addr.clone(),
                reason: "connection refused".to_string(),
            });
        }
        let Some(reject) = self.reject else {
            return self.inner.push(tenant, req, source).await;
        };
        let named = |ts: &TimeSeries<'_>| {
            ts.labels
                .iter()
                .any(|l| l.name == "__name__" && l.value == reject)
        };
        let kept = WriteRequest {
            timeseries: req
                .timeseries
                .iter()
                .filter(|t| !named(t))
                .cloned()
                .collect(),
            metadata: req.metadata.clone(),
            protocol: req.protocol,
        };
        let stats = self.inner.push(tenant, &kept, source).await?;
        if kept.timeseries.len() == req.timeseries.len() {
            return Ok(stats);
        }
        Err(IngesterApiError::Rejected {
            status: 400,
            message: format!("series {reject} refused by {}", self.addr),
        })
    }
}

impl IngesterApi for Faulty {
    fn push<'a, 'r>(
        &'a self,
        tenant: &'a str,
        req: &'a WriteRequest<'r>,
        source: PushSource,
    ) -> ApiFuture<'a, PushStats> {
        Box::pin(async move {
            if let Some(n) = &self.wait_for {
                n.notified().await;
            }
            let answer = self.answer(tenant, req, source).await;
            if let Some(n) = &self.signal {
                n.notify_one();
            }
            answer
        })
    }
    fn query<'a>(
        &'a self,
        tenant: &'a str,
        start: i64,
        end: i64,
        matchers: &'a [Matcher],
    ) -> ApiFuture<'a, SeriesStream> {
        self.inner.query(tenant, start, end, matchers)
    }
    fn exemplars<'a>(
        &'a self,
        tenant: &'a str,
        start: i64,
        end: i64,
        matcher_sets: &'a [Vec<Matcher>],
    ) -> ApiFuture<'a, Vec<ExemplarSeries>> {
        self.inner.exemplars(tenant, start, end, matcher_sets)
    }
    fn label_names<'a>(
        &'a self,
        tenant: &'a str,
        start: i64,
        end: i64,
        matchers: &'a [Matcher],
    ) -> ApiFuture<'a, Vec<String>> {
        self.inner.label_names(tenant, start, end, matchers)
    }
    fn label_values<'a>(
        &'a self,
        tenant: &'a str,
        name: &'a str,
        start: i64,
        end: i64,
        matchers: &'a [Matcher],
    ) -> ApiFuture<'a, Vec<String>> {
        self.inner.label_values(tenant, name, start, end, matchers)
    }
    fn series<'a>(
        &'a self,
        tenant: &'a str,
        start: i64,
        end: i64,
        matcher_sets: &'a [Vec<Matcher>],
    ) -> ApiFuture<'a, Vec<Labels>> {
        self.inner.series(tenant, start, end, matcher_sets)
    }
    fn metadata<'a>(
        &'a self,
        tenant: &'a str,
        query: &'a MetadataQuery,
    ) -> ApiFuture<'a, Vec<MetadataEntry>> {
        self.inner.metadata(tenant, query)
    }
    fn user_stats<'a>(&'a self, tenant: &'a str) -> ApiFuture<'a, UserStats> {
        self.inner.user_stats(tenant)
    }
}

/// An ingester that only counts the series and metadata entries pushed to it.
#[derive(Default)]
struct Counting {
    series: AtomicU64,
    metadata: AtomicU64,
}

impl IngesterApi for Counting {
    fn push<'a, 'r>(
        &'a self,
        _tenant: &'a str,
        req: &'a WriteRequest<'r>,
        _source: PushSource,
    ) -> ApiFuture<'a, PushStats> {
        self.series
            .fetch_add(req.timeseries.len() as u64, Ordering::Relaxed);
        self.metadata
            .fetch_add(req.metadata.len() as u64, Ordering::Relaxed);
        Box::pin(async { Ok(PushStats::default()) })
    }
    fn query<'a>(
        &'a self,
        _: &'a str,
        _: i64,
        _: i64,
        _: &'a [Matcher],
    ) -> ApiFuture<'a, SeriesStream> {
        Box::pin(async { Ok(SeriesStream::from_series(Vec::new(), 1)) })
    }
    fn exemplars<'a>(
        &'a self,
        _: &'a str,
        _: i64,
        _: i64,
        _: &'a [Vec<Matcher>],
    ) -> ApiFuture<'a, Vec<ExemplarSeries>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn label_names<'a>(
        &'a self,
        _: &'a str,
        _: i64,
        _: i64,
        _: &'a [Matcher],
    ) -> ApiFuture<'a, Vec<String>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn label_values<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: i64,
        _: i64,
        _: &'a [Matcher],
    ) -> ApiFuture<'a, Vec<String>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn series<'a>(
        &'a self,
        _: &'a str,
        _: i64,
        _: i64,
        _: &'a [Vec<Matcher>],
    ) -> ApiFuture<'a, Vec<Labels>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn metadata<'a>(
        &'a self,
        _: &'a str,
        _: &'a MetadataQuery,
    ) -> ApiFuture<'a, Vec<MetadataEntry>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn user_stats<'a>(&'a self, _: &'a str) -> ApiFuture<'a, UserStats> {
        Box::pin(async { Ok(UserStats::default()) })
    }
}

/// The three-zone ring with a local ingester behind each address, each optionally
/// wrapped by `wrap(index, addr, local)`.
fn three_zones(
    wrap: impl Fn(usize, &str, Arc<dyn IngesterApi>) -> Arc<dyn IngesterApi>,
) -> (Replicator, Locals) {
    let (client, addrs) = ring(&["a", "b", "c"], 1);
    let locals = locals(3);
    let apis = addrs
        .iter()
        .zip(&locals.ingesters)
        .enumerate()
        .map(|(k, (addr, ing))| {
            let local: Arc<dyn IngesterApi> = Arc::clone(ing) as Arc<dyn IngesterApi>;
            (addr.clone(), wrap(k, addr, local))
        })
        .collect();
    (replicator(client, apis), locals)
}

#[tokio::test]
async fn all_up_every_series_reaches_all_three_ingesters() {
    let (rep, locals) = three_zones(|_, _, local| local);
    let inst = values(20);
    let mut req = requests(&["up", "down"], &inst);
    req.metadata.push(MetricMetadata {
        metric_family_name: "up",
        metric_type: MetricType::Gauge,
        help: "whether the target is up",
        unit: "",
    });
    let stats = rep.push(TENANT, &req, PushSource::Api).await.unwrap();
    assert_eq!((stats.samples, stats.metadata), (40, 1));
    for ing in &locals.ingesters {
        assert_eq!(num_series(&**ing).await, 40);
        let md = IngesterApi::metadata(&**ing, TENANT, &MetadataQuery::default())
            .await
            .unwrap();
        assert_eq!(md.len(), 1, "metadata is replicated too");
    }
    // An empty request sends nothing and succeeds.
    let empty = rep
        .push(TENANT, &WriteRequest::default(), PushSource::Api)
        .await
        .unwrap();
    assert_eq!(empty, PushStats::default());
}

#[tokio::test]
async fn one_ingester_down_still_succeeds_on_the_other_two() {
    let (rep, locals) = three_zones(|k, addr, local| {
        if k == 1 {
            Arc::new(Faulty::down(addr, local))
        } else {
            local
        }
    });
    let inst = values(30);
    let req = requests(&["up"], &inst);
    let stats = rep.push(TENANT, &req, PushSource::Api).await.unwrap();
    assert_eq!(stats.samples, 30);
    assert_eq!(num_series(&*locals.ingesters[0]).await, 30);
    assert_eq!(num_series(&*locals.ingesters[1]).await, 0);
    assert_eq!(num_series(&*locals.ingesters[2]).await, 30);
}

#[tokio::test]
async fn two_ingesters_down_fail_with_a_5xx_naming_the_cause() {
    let (rep, _locals) = three_zones(|k, addr, local| {
        if k == 0 {
            local
        } else {
            Arc::new(Faulty::down(addr, local))
        }
    });
    let inst = values(5);
    let err = rep
        .push(TENANT, &requests(&["up"], &inst), PushSource::Api)
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), 503);
    assert!(!err.is_client_error());
    let msg = err.to_string();
    assert!(
        msg.starts_with("failed pushing to ingester: ingester ingester-")
            && msg.contains("unreachable"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_majority_refusing_a_series_is_a_4xx() {
    let (rep, locals) = three_zones(|k, addr, local| {
        if k == 0 {
            local
        } else {
            Arc::new(Faulty::rejecting(addr, local, "bad"))
        }
    });
    let inst = values(3);
    let err = rep
        .push(TENANT, &requests(&["up", "bad"], &inst), PushSource::Api)
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), 400);
    assert!(err.is_client_error());
    assert!(
        err.to_string()
            .starts_with("failed pushing to ingester: series bad refused by ingester-"),
        "{err}"
    );
    // The good series were stored by every replica.
    for ing in &locals.ingesters[1..] {
        assert_eq!(num_series(&**ing).await, 3);
    }
}

/// One ingester refuses series `bad` (400), another is down, the third stores all:
/// each `bad` series has one success, one 4xx and one 5xx — no family exceeds the one
/// failure RF 3 tolerates, but no quorum is left, so the push fails with the series'
/// last error, as Cortex's `DoBatch` does. Which one is last is fixed by gating.
async fn mixed_failure(refusal_last: bool) -> ReplicateError {
    let gate = Arc::new(Notify::new());
    let (rep, _locals) = three_zones(move |k, addr, local| match k {
        1 => {
            let f = Faulty::rejecting(addr, local, "bad");
            Arc::new(if refusal_last {
                f.ordered(Some(Arc::clone(&gate)), None)
            } else {
                f.ordered(None, Some(Arc::clone(&gate)))
            })
        }
        2 => {
            let f = Faulty::down(addr, local);
            Arc::new(if refusal_last {
                f.ordered(None, Some(Arc::clone(&gate)))
            } else {
                f.ordered(Some(Arc::clone(&gate)), None)
            })
        }
        _ => local,
    });
    let inst = values(1);
    rep.push(TENANT, &requests(&["up", "bad"], &inst), PushSource::Api)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_refusal_and_an_outage_report_the_last_error() {
    let err = mixed_failure(true).await;
    assert_eq!(err.http_status(), 400, "{err}");
    assert!(err.to_string().contains("series bad refused"), "{err}");
    let err = mixed_failure(false).await;
    assert_eq!(err.http_status(), 503, "{err}");
    assert!(err.to_string().contains("unreachable"), "{err}");
}

#[tokio::test]
async fn series_spread_over_the_ring() {
    let inst = values(1000);
    let req = requests(&["up"], &inst);
    for per_zone in [1, 2] {
        let (client, addrs) = ring(&["a", "b", "c"], per_zone);
        let counters: Vec<Arc<Counting>> = addrs.iter().map(|_| Arc::default()).collect();
        let apis = addrs
            .iter()
            .zip(&counters)
            .map(|(a, c)| (a.clone(), Arc::clone(c) as Arc<dyn IngesterApi>))
            .collect();
        let rep = replicator(client, apis);
        rep.push(TENANT, &req, PushSource::Api).await.unwrap();
        let got: Vec<u64> = counters
            .iter()
            .map(|c| c.series.load(Ordering::Relaxed))
            .collect();
        // Zone-aware RF 3 over three zones: every series once per zone.
        for zone in got.chunks(per_zone) {
            assert_eq!(zone.iter().sum::<u64>(), 1000, "{got:?}");
        }
        if per_zone == 1 {
            assert_eq!(got, [1000, 1000, 1000]);
        } else {
            // Two instances per zone share it: each roughly half.
            println!("1000 series, six instances: {got:?}");
            for n in &got {
                assert!((300..=700).contains(n), "{got:?}");
            }
        }
    }
}

#[tokio::test]
async fn a_sharded_tenant_writes_only_to_its_shuffle_shard() {
    let inst = values(600);
    let req = requests(&["up"], &inst);
    let (client, addrs) = ring(&["a", "b", "c"], 3);
    let snapshot = client.ring();
    let shard: Vec<String> = snapshot
        .shuffle_shard_instance_ids(TENANT, 3)
        .iter()
        .map(|id| format!("{id}:9095"))
        .collect();
    assert_eq!(shard.len(), 3);
    let counters: Vec<Arc<Counting>> = addrs.iter().map(|_| Arc::default()).collect();
    let apis: HashMap<String, Arc<dyn IngesterApi>> = addrs
        .iter()
        .zip(&counters)
        .map(|(a, c)| (a.clone(), Arc::clone(c) as Arc<dyn IngesterApi>))
        .collect();
    let factory: ClientFactory = Arc::new(move |addr: &str| {
        apis.get(addr).cloned().unwrap_or_else(|| {
            Arc::new(Faulty::down(addr, Arc::new(Counting::default()))) as Arc<dyn IngesterApi>
        })
    });
    let source = sharded_ring_source(
        client,
        Arc::new(|tenant: &str| if tenant == TENANT { 3 } else { 0 }),
    );
    let rep = Replicator::new(source, factory, Duration::from_secs(5));
    rep.push(TENANT, &req, PushSource::Api).await.unwrap();
    // Three instances, one per zone, RF 3: each shard member holds every series.
    for (addr, c) in addrs.iter().zip(&counters) {
        let want = if shard.contains(addr) { 600 } else { 0 };
        assert_eq!(c.series.load(Ordering::Relaxed), want, "{addr}");
    }
    // An unsharded tenant spreads over all nine.
    rep.push("team-b", &req, PushSource::Api).await.unwrap();
    for (addr, c) in addrs.iter().zip(&counters) {
        let extra = c.series.load(Ordering::Relaxed) - if shard.contains(addr) { 600 } else { 0 };
        assert!(
            extra > 0,
            "{addr} got none of the unsharded tenant's series"
        );
    }
}

#[tokio::test]
async fn an_unplaceable_request_fails_before_sending() {
    // One instance cannot make a quorum of RF 3: the ring refuses every token.
    let (client, addrs) = ring(&["a"], 1);
    let counting = Arc::new(Counting::default());
    let apis = HashMap::from([(
        addrs[0].clone(),
        Arc::clone(&counting) as Arc<dyn IngesterApi>,
    )]);
    let rep = replicator(client, apis);
    let inst = values(2);
    let err = rep
        .push(TENANT, &requests(&["up"], &inst), PushSource::Api)
        .await
        .unwrap_err();
    assert!(matches!(err, ReplicateError::Ring(_)), "{err}");
    assert_eq!(err.http_status(), 500);
    assert!(err.to_string().contains("live replicas required"), "{err}");
    assert_eq!(counting.series.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_series_goes_to_the_replicas_the_ring_names_for_its_token() {
    let (client, addrs) = ring(&["a", "b", "c"], 2);
    let counters: Vec<Arc<Counting>> = addrs.iter().map(|_| Arc::default()).collect();
    let apis = addrs
        .iter()
        .zip(&counters)
        .map(|(a, c)| (a.clone(), Arc::clone(c) as Arc<dyn IngesterApi>))
        .collect();
    let rep = replicator(Arc::clone(&client), apis);
    let labels = [
        Label {
            name: "__name__",
            value: "solo",
        },
        Label {
            name: "job",
            value: "x",
        },
    ];
    let one = request(vec![TimeSeries {
        labels: labels.to_vec().into(),
        ..series(&[], &[(1, 1.0)])
    }]);
    rep.push(TENANT, &one, PushSource::Api).await.unwrap();
    let token = shard_by_all_labels(TENANT, &labels);
    let set = client
        .get(token, Operation::WRITE, &mut GetBuffers::default())
        .unwrap();
    let mut expected: Vec<&str> = set.addresses();
    expected.sort_unstable();
    let mut got: Vec<&str> = addrs
        .iter()
        .zip(&counters)
        .filter(|(_, c)| c.series.load(Ordering::Relaxed) == 1)
        .map(|(a, _)| a.as_str())
        .collect();
    got.sort_unstable();
    assert_eq!(got.len(), 3);
    assert_eq!(got, expected);
}

#[tokio::test]
async fn hung_ingesters_time_out() {
    let timeout = Duration::from_millis(50);
    let hung = |addr: &str, local| -> Arc<dyn IngesterApi> {
        // Waits for a signal nobody sends.
        Arc::new(
            Faulty {
                down: false,
                ..Faulty::down(addr, local)
            }
            .ordered(Some(Arc::new(Notify::new())), None),
        )
    };
    for hung_count in [1, 2] {
        let (client, addrs) = ring(&["a", "b", "c"], 1);
        let locals = locals(3);
        let apis = addrs
            .iter()
            .zip(&locals.ingesters)
            .enumerate()
            .map(|(k, (addr, ing))| {
                let local = Arc::clone(ing) as Arc<dyn IngesterApi>;
                let api = if k < hung_count {
                    hung(addr, local)
                } else {
                    local
                };
                (addr.clone(), api)
            })
            .collect();
        let rep = replicator_with_timeout(client, apis, timeout);
        let inst = values(4);
        let started = std::time::Instant::now();
        let res = rep
            .push(TENANT, &requests(&["up"], &inst), PushSource::Api)
            .await;
        if hung_count == 1 {
            res.unwrap();
            // A quorum answered at once, but the push waited for the slow replica.
            assert!(started.elapsed() >= timeout);
            assert_eq!(num_series(&*locals.ingesters[2]).await, 4);
        } else {
            let err = res.unwrap_err();
            assert_eq!(err.http_status(), 504, "{err}");
            assert!(
                err.to_string().contains("did not answer within 50ms"),
                "{err}"
            );
        }
    }
}
