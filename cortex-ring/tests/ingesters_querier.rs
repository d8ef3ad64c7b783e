//! The querier's view of replicated ingesters through the ring: three local ingesters in
//! zones a/b/c (RF 3) holding copies of the same data, reached through a client factory,
//! read with cortex-core's `IngestersQuerier` over a [`QuerierRing`]. Checks the merge of
//! replicas, the read quorum with ingesters down (zone-aware and not), shuffle sharding,
//! the series limit, and the Querier conformance suite.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cortex_core::ingester::api::{ApiFuture, IngesterApi, IngesterApiError, SeriesStream};
use cortex_core::ingester::{
    Bucket, Ingester, IngesterConfig, MetadataEntry, MetadataQuery, PushSource, PushStats,
    StaticLimits, TsdbConfig, UserStats,
};
use cortex_core::querier::ingesters::IngestersQuerier;
use cortex_core::querier::replicas::{IngesterClients, ReplicaInstance};
use cortex_core::querier::testing::{Capabilities, run_conformance_with};
use cortex_core::querier::{Querier, QuerierError, QueryLimits, SampleValue, SelectHints};
use cortex_core::remote_write::{
    HistogramSample, HistogramValue, Label, Sample, TimeSeries, WriteRequest,
};
use cortex_ring::desc::unix_seconds;
use cortex_ring::kv::cas_desc;
use cortex_ring::{
    Desc, INGESTER_RING_KEY, InMemoryKv, InstanceState, Kv, QuerierRing, RingClient, RingConfig,
};
use cortex_tsdb::exemplar::ExemplarSeries;
use cortex_tsdb::labels::{Labels, MatchType, Matcher};
use prometheus_client::registry::Registry;
use tokio::runtime::Runtime;

const TENANT: &str = "team-a";
const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];

/// An ingester's client that can be switched off: then every call fails as an
/// unreachable ingester does.
struct Switchable {
    inner: Arc<Ingester>,
    addr: String,
    down: AtomicBool,
}

impl Switchable {
    fn check(&self) -> Result<(), IngesterApiError> {
        if self.down.load(Ordering::Relaxed) {
            Err(IngesterApiError::Unavailable {
                addr: self.addr.clone(),
                reason: "connection refused".into(),
            })
        } else {
            Ok(())
        }
    }
}

impl IngesterApi for Switchable {
    fn push<'a, 'r>(
        &'a self,
        tenant: &'a str,
        req: &'a WriteRequest<'r>,
        source: PushSource,
    ) -> ApiFuture<'a, PushStats> {
        Box::pin(async move {
            self.check()?;
            IngesterApi::push(&*self.inner, tenant, req, source).await
        })
    }

    fn query<'a>(
        &'a self,
        tenant: &'a str,
        start: i64,
        end: i64,
        matchers: &'a [Matcher],
    ) -> ApiFuture<'a, SeriesStream> {
        Box::pin(async move {
            self.check()?;
            IngesterApi::query(&*self.inner, tenant, start, end, matchers).await
        })
    }

    fn exemplars<'a>(
        &'a self,
        tenant: &'a str,
        start: i64,
        end: i64,
        matcher_sets: &'a [Vec<Matcher>],
    ) -> ApiFuture<'a, Vec<ExemplarSeries>> {
        Box::pin(async move {
            self.check()?;
            IngesterApi::exemplars(&*self.inner, tenant, start, end, matcher_sets).await
        })
    }

    fn label_names<'a>(
        &'a self,
        tenant: &'a str,
        start: i64,
        end: i64,
        matchers: &'a [Matcher],
    ) -> ApiFuture<'a, Vec<String>> {
        Box::pin(async move {
            self.check()?;
            IngesterApi::label_names(&*self.inner, tenant, start, end, matchers).await
        })
    }

    fn label_values<'a>(
        &'a self,
        tenant: &'a str,
        name: &'a str,
        start: i64,
        end: i64,
        matchers: &'a [Matcher],
    ) -> ApiFuture<'a, Vec<String>> {
        Box::pin(async move {
            self.check()?;
            IngesterApi::label_values(&*self.inner, tenant, name, start, end, matchers).await
        })
    }

    fn series<'a>(
        &'a self,
        tenant: &'a str,
        start: i64,
        end: i64,
        matcher_sets: &'a [Vec<Matcher>],
    ) -> ApiFuture<'a, Vec<Labels>> {
        Box::pin(async move {
            self.check()?;
            IngesterApi::series(&*self.inner, tenant, start, end, matcher_sets).await
        })
    }

    fn metadata<'a>(
        &'a self,
        tenant: &'a str,
        query: &'a MetadataQuery,
    ) -> ApiFuture<'a, Vec<MetadataEntry>> {
        Box::pin(async move {
            self.check()?;
            IngesterApi::metadata(&*self.inner, tenant, query).await
        })
    }

    fn user_stats<'a>(&'a self, tenant: &'a str) -> ApiFuture<'a, UserStats> {
        Box::pin(async move {
            self.check()?;
            IngesterApi::user_stats(&*self.inner, tenant).await
        })
    }
}

/// Ingesters in a ring, spread round-robin over three zones, and the clients to reach
/// them.
struct Cluster {
    _dir: tempfile::TempDir,
    rt: Runtime,
    _kv: Arc<dyn Kv>,
    ring: Arc<RingClient>,
    ingesters: Vec<Arc<Switchable>>,
}

impl Cluster {
    /// Three ingesters, one per zone.
    fn new(zone_aware: bool) -> Cluster {
        Cluster::with_ingesters(zone_aware, 3)
    }

    fn with_ingesters(zone_aware: bool, n: usize) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let mut desc = Desc::new();
        let mut ingesters = Vec::new();
        let now = unix_seconds(SystemTime::now());
        for i in 0..n {
            let zone = ZONES[i % ZONES.len()];
            let id = format!("ingester-{i}");
            let addr = format!("{id}:9095");
            let tokens = (0..16u32).map(|k| k * n as u32 + i as u32 + 1).collect();
            desc.add_ingester(&id, &addr, zone, tokens, InstanceState::ACTIVE, now - 3600);
            let tsdb = TsdbConfig {
                dir: dir.path().join(&id).join("tsdb"),
                ..TsdbConfig::default()
            };
            let bucket = Bucket::local(&dir.path().join("bucket")).expect("bucket");
            let ingester = Ingester::open(
                IngesterConfig::default(),
                tsdb,
                Arc::new(StaticLimits::default()),
                bucket,
                "",
                &mut Registry::default(),
            )
            .expect("ingester opens");
            ingesters.push(Arc::new(Switchable {
                inner: ingester,
                addr,
                down: AtomicBool::new(false),
            }));
        }
        let kv: Arc<dyn Kv> = Arc::new(InMemoryKv::new());
        cas_desc(&*kv, INGESTER_RING_KEY, |_| Ok(Some(desc.clone()))).expect("ring stored");
        let cfg = RingConfig {
            replication_factor: 3,
            zone_awareness_enabled: zone_aware,
            ..RingConfig::default()
        };
        let ring = Arc::new(
            RingClient::start(Arc::clone(&kv), INGESTER_RING_KEY, cfg).expect("ring client"),
        );
        Cluster {
            _dir: dir,
            rt,
            _kv: kv,
            ring,
            ingesters,
        }
    }

    fn clients(&self) -> Arc<dyn IngesterClients> {
        let by_addr: HashMap<String, Arc<Switchable>> = self
            .ingesters
            .iter()
            .map(|i| (i.addr.clone(), Arc::clone(i)))
            .collect();
        Arc::new(
            move |inst: &ReplicaInstance| -> Result<Arc<dyn IngesterApi>, IngesterApiError> {
                by_addr
                    .get(&inst.addr)
                    .map(|i| Arc::clone(i) as Arc<dyn IngesterApi>)
                    .ok_or_else(|| IngesterApiError::Unavailable {
                        addr: inst.addr.clone(),
                        reason: "no client".into(),
                    })
            },
        )
    }

    fn querier(&self, limits: QueryLimits) -> IngestersQuerier {
        IngestersQuerier::new(
            TENANT,
            Arc::new(QuerierRing::new(Arc::clone(&self.ring), Duration::ZERO)),
            self.clients(),
            self.rt.handle().clone(),
            limits,
        )
    }

    /// Pushes `req` to the ingesters at `which`.
    fn push(&self, which: &[usize], req: &WriteRequest<'_>) {
        for &i in which {
            let ing = &self.ingesters[i];
            self.rt
                .block_on(ing.push(TENANT, req, PushSource::Api))
                .expect("push succeeds");
        }
    }

    fn set_down(&self, i: usize, down: bool) {
        self.ingesters[i].down.store(down, Ordering::Relaxed);
    }
}

/// A minute-aligned time ten minutes ago, inside every head's range.
fn t0() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    (now - 600_000) / 60_000 * 60_000
}

fn series<'a>(labels: &[(&'a str, &'a str)], samples: &[(i64, f64)]) -> TimeSeries<'a> {
    TimeSeries {
        labels: labels
            .iter()
            .map(|&(name, value)| Label { name, value })
            .collect(),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| Sample { timestamp, value })
            .collect(),
        ..TimeSeries::default()
    }
}

fn request(ts: Vec<TimeSeries<'_>>) -> WriteRequest<'_> {
    WriteRequest {
        timeseries: ts,
        ..WriteRequest::default()
    }
}

fn all() -> SelectHints {
    SelectHints {
        start: i64::MIN,
        end: i64::MAX,
        ..SelectHints::default()
    }
}

fn name_is(v: &str) -> Matcher {
    Matcher::new(MatchType::Equal, "__name__", v).expect("valid matcher")
}

/// Selected series as (labels text, float samples).
type Floats = Vec<(String, Vec<(i64, f64)>)>;

/// Every selected series with its float samples.
fn select(q: &dyn Querier, ms: &[Matcher]) -> Result<Floats, QuerierError> {
    let got = q.select(&all(), ms)?;
    Ok(got
        .iter()
        .map(|s| {
            let mut it = s.samples();
            let mut v = Vec::new();
            while let Some(x) = it.next().expect("iteration succeeds") {
                if let SampleValue::Float(f) = x.value {
                    v.push((x.t, f));
                }
            }
            (s.labels().to_string(), v)
        })
        .collect())
}

/// Two `up` series and one `other`, the same on every replica.
fn replicated(c: &Cluster, t0: i64) {
    let req = request(vec![
        series(
            &[("__name__", "up"), ("instance", "a")],
            &[(t0, 1.0), (t0 + 15_000, 2.0), (t0 + 30_000, 3.0)],
        ),
        series(&[("__name__", "up"), ("instance", "b")], &[(t0, 0.0)]),
        series(&[("__name__", "other")], &[(t0, 7.0)]),
    ]);
    c.push(&[0, 1, 2], &req);
}

fn expected_up(t0: i64) -> Floats {
    vec![
        (
            r#"{__name__="up", instance="a"}"#.to_string(),
            vec![(t0, 1.0), (t0 + 15_000, 2.0), (t0 + 30_000, 3.0)],
        ),
        (
            r#"{__name__="up", instance="b"}"#.to_string(),
            vec![(t0, 0.0)],
        ),
    ]
}

#[test]
fn replicated_series_are_returned_once_with_exactly_the_pushed_samples() {
    let c = Cluster::new(false);
    let t0 = t0();
    replicated(&c, t0);
    let q = c.querier(QueryLimits::default());
    assert_eq!(select(&q, &[name_is("up")]).unwrap(), expected_up(t0));
    assert_eq!(
        q.label_values("__name__", i64::MIN, i64::MAX, &[]).unwrap(),
        ["other", "up"]
    );
    assert_eq!(
        q.label_names(i64::MIN, i64::MAX, &[name_is("up")]).unwrap(),
        ["__name__", "instance"]
    );
}

#[test]
fn one_ingester_down_still_answers_completely() {
    for zone_aware in [false, true] {
        let c = Cluster::new(zone_aware);
        let t0 = t0();
        replicated(&c, t0);
        c.set_down(1, true);
        let q = c.querier(QueryLimits::default());
        assert_eq!(
            select(&q, &[name_is("up")]).unwrap(),
            expected_up(t0),
            "zone_aware={zone_aware}"
        );
        assert_eq!(
            q.label_values("__name__", i64::MIN, i64::MAX, &[]).unwrap(),
            ["other", "up"]
        );
    }
}

#[test]
fn two_ingesters_down_fail_the_read_naming_them() {
    for zone_aware in [false, true] {
        let c = Cluster::new(zone_aware);
        let t0 = t0();
        replicated(&c, t0);
        c.set_down(0, true);
        c.set_down(2, true);
        let q = c.querier(QueryLimits::default());
        let err = select(&q, &[name_is("up")]).unwrap_err();
        match &err {
            QuerierError::Ingesters { queried, failed } => {
                assert_eq!(*queried, 3);
                let addrs: Vec<&str> = failed.iter().map(|f| f.addr.as_str()).collect();
                assert_eq!(addrs, ["ingester-0:9095", "ingester-2:9095"]);
                assert!(failed.iter().all(|f| f.error.status() == 503));
            }
            other => panic!("zone_aware={zone_aware}: unexpected error {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("ingester-0:9095") && msg.contains("ingester-2:9095"),
            "{msg}"
        );
        assert!(q.label_names(i64::MIN, i64::MAX, &[]).is_err());
        assert!(q.label_values("job", i64::MIN, i64::MAX, &[]).is_err());
    }
}

#[test]
fn replicas_missing_different_samples_merge_to_the_union() {
    let c = Cluster::new(false);
    let t0 = t0();
    let l = [("__name__", "up"), ("instance", "a")];
    // Each replica misses one of the four samples (and one misses the second series).
    let samples: Vec<(i64, f64)> = (0..4).map(|i| (t0 + i * 15_000, i as f64)).collect();
    for (replica, skip) in [(0usize, 0usize), (1, 1), (2, 3)] {
        let mine: Vec<(i64, f64)> = samples
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != skip)
            .map(|(_, s)| *s)
            .collect();
        let mut ts = vec![series(&l, &mine)];
        if replica != 2 {
            ts.push(series(
                &[("__name__", "up"), ("instance", "b")],
                &[(t0, 5.0)],
            ));
        }
        c.push(&[replica], &request(ts));
    }
    let q = c.querier(QueryLimits::default());
    let got = select(&q, &[name_is("up")]).unwrap();
    assert_eq!(
        got,
        [
            (r#"{__name__="up", instance="a"}"#.to_string(), samples),
            (
                r#"{__name__="up", instance="b"}"#.to_string(),
                vec![(t0, 5.0)]
            ),
        ]
    );
}

#[test]
fn replicas_disagreeing_at_a_timestamp_resolve_to_the_first_in_ring_order() {
    let c = Cluster::new(false);
    let t0 = t0();
    let l = [("__name__", "up"), ("instance", "a")];
    for replica in [2usize, 1, 0] {
        c.push(
            &[replica],
            &request(vec![series(&l, &[(t0, replica as f64)])]),
        );
    }
    for _ in 0..3 {
        let q = c.querier(QueryLimits::default());
        assert_eq!(select(&q, &[name_is("up")]).unwrap()[0].1, [(t0, 0.0)]);
    }
    // With ingester-0 down the next in ring order wins.
    c.set_down(0, true);
    let q = c.querier(QueryLimits::default());
    assert_eq!(select(&q, &[name_is("up")]).unwrap()[0].1, [(t0, 1.0)]);
}

#[test]
fn series_limit_counts_merged_series_not_replicas() {
    let c = Cluster::new(false);
    let t0 = t0();
    replicated(&c, t0);
    let limits = QueryLimits {
        max_fetched_series_per_query: 2,
        ..QueryLimits::default()
    };
    let q = c.querier(limits);
    assert_eq!(select(&q, &[name_is("up")]).unwrap().len(), 2);
    let err = select(&q, &[name_is("other")]).unwrap_err();
    assert!(err.is_limit(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the query hit the max number of series limit (limit: 2 series)"
    );
}

#[test]
fn a_shuffle_shard_reads_only_its_members() {
    let c = Cluster::with_ingesters(false, 6);
    let t0 = t0();
    let members: Vec<usize> = c
        .ring
        .ring()
        .shuffle_shard_instance_ids(TENANT, 3)
        .into_iter()
        .map(|id| {
            id.trim_start_matches("ingester-")
                .parse()
                .expect("ingester index")
        })
        .collect();
    assert_eq!(members.len(), 3);
    // The tenant's data lives on its shard only, as the distributor writes it.
    let req = request(vec![
        series(
            &[("__name__", "up"), ("instance", "a")],
            &[(t0, 1.0), (t0 + 15_000, 2.0), (t0 + 30_000, 3.0)],
        ),
        series(&[("__name__", "up"), ("instance", "b")], &[(t0, 0.0)]),
    ]);
    c.push(&members, &req);
    let q = c.querier(QueryLimits::default()).with_shard_size(3);
    // The other ingesters are not asked: taking them all down changes nothing.
    for i in (0..6).filter(|i| !members.contains(i)) {
        c.set_down(i, true);
    }
    assert_eq!(select(&q, &[name_is("up")]).unwrap(), expected_up(t0));
    c.set_down(members[0], true);
    assert_eq!(select(&q, &[name_is("up")]).unwrap(), expected_up(t0));
    c.set_down(members[1], true);
    assert!(matches!(
        select(&q, &[name_is("up")]),
        Err(QuerierError::Ingesters { queried: 3, .. })
    ));
}

#[test]
fn an_empty_ring_is_a_ring_error() {
    let kv: Arc<dyn Kv> = Arc::new(InMemoryKv::new());
    let ring = Arc::new(
        RingClient::start(Arc::clone(&kv), INGESTER_RING_KEY, RingConfig::default())
            .expect("ring client"),
    );
    let rt = Runtime::new().expect("runtime");
    let clients: Arc<dyn IngesterClients> = Arc::new(
        |inst: &ReplicaInstance| -> Result<Arc<dyn IngesterApi>, IngesterApiError> {
            Err(IngesterApiError::Unavailable {
                addr: inst.addr.clone(),
                reason: "no client".into(),
            })
        },
    );
    let q = IngestersQuerier::new(
        TENANT,
        Arc::new(QuerierRing::new(ring, Duration::ZERO)),
        clients,
        rt.handle().clone(),
        QueryLimits::default(),
    );
    assert_eq!(
        q.select(&all(), &[]).err(),
        Some(QuerierError::Ring("empty ring".into()))
    );
}

/// The ingester path keeps floats, staleness markers and float native histograms
/// exactly, but (as any TSDB) neither start timestamps nor counter-reset hints.
const INGESTER_CAPS: Capabilities = Capabilities {
    start_timestamps: false,
    counter_reset_hints: false,
};

#[test]
fn ingesters_querier_passes_the_querier_conformance_suite() {
    let c = Cluster::new(true);
    run_conformance_with(INGESTER_CAPS, |data| {
        let pairs: Vec<Vec<(String, String)>> = data
            .iter()
            .map(|(l, _)| {
                l.iter()
                    .map(|l| (l.name.to_string(), l.value.to_string()))
                    .collect()
            })
            .collect();
        let timeseries = data
            .iter()
            .zip(&pairs)
            .map(|((_, samples), pairs)| {
                let mut ts = TimeSeries {
                    labels: pairs
                        .iter()
                        .map(|(name, value)| Label { name, value })
                        .collect(),
                    ..TimeSeries::default()
                };
                for s in samples {
                    match &s.value {
                        SampleValue::Float(v) => ts.samples.push(Sample {
                            timestamp: s.t,
                            value: *v,
                        }),
                        SampleValue::Histogram(h) => ts.histograms.push(HistogramSample {
                            timestamp: s.t,
                            value: HistogramValue::Float(Box::new((**h).clone())),
                        }),
                    }
                }
                ts
            })
            .collect();
        c.push(&[0, 1, 2], &request(timeseries));
        c.querier(QueryLimits::default())
    });
}
