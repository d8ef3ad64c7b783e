//! The blocks-store querier's cases: merging, retries, the consistency check and its
//! exemptions, duplicate answers, damaged blocks, limits and the bucket index.

use super::*;
use crate::querier::{Querier, QuerierError, SampleValue, SelectHints};

const B1: Ulid = Ulid(1);
const B2: Ulid = Ulid(2);
const B3: Ulid = Ulid(3);

fn range(start: i64, end: i64) -> SelectHints {
    SelectHints {
        start,
        end,
        ..Default::default()
    }
}

/// Every selected series as its `job` and float samples.
fn select(q: &dyn Querier, hints: &SelectHints) -> Result<Vec<Samples>, QuerierError> {
    let mut out = Vec::new();
    for s in q.select(hints, &[Matcher::equal("__name__", "up")])? {
        let mut it = s.samples();
        let mut v = Vec::new();
        while let Some(x) = it.next()? {
            if let SampleValue::Float(f) = x.value {
                v.push((x.t, f));
            }
        }
        out.push((s.labels().get("job").unwrap_or("").to_string(), v));
    }
    Ok(out)
}

type Samples = (String, Vec<(i64, f64)>);

fn want(rows: &[(&str, &[(i64, f64)])]) -> Vec<Samples> {
    rows.iter()
        .map(|(j, s)| (j.to_string(), s.to_vec()))
        .collect()
}

fn served(q: &BlocksStoreQuerier) -> Vec<(Ulid, String)> {
    q.last_queried_blocks()
}

fn by(pairs: &[(Ulid, &str)]) -> Vec<(Ulid, String)> {
    pairs.iter().map(|(b, a)| (*b, a.to_string())).collect()
}

/// Two old blocks, `a` in both, `b` only in the second.
fn two_blocks() -> (Env, Vec<(Ulid, Vec<Stored>)>) {
    let env = Env::new(
        vec![entry(B1, 0, 100, OLD), entry(B2, 100, 200, OLD)],
        vec![],
    );
    let data = vec![
        (B1, vec![("a", vec![(10, 1.0), (20, 2.0)])]),
        (B2, vec![("a", vec![(110, 3.0)]), ("b", vec![(150, 4.0)])]),
    ];
    (env, data)
}

#[test]
fn every_block_queried_merges_series_across_blocks() {
    let (env, data) = two_blocks();
    let g1 = FakeGateway::new("g1", Mode::Serve, &data[..1]);
    let g2 = FakeGateway::new("g2", Mode::Serve, &data[1..]);
    let q = env.querier(
        Replicas::new(&[&g1, &g2], &[(B1, &["g1", "g2"]), (B2, &["g2", "g1"])]),
        QueryLimits::default(),
    );
    let got = select(&q, &range(0, 300)).unwrap();
    assert_eq!(
        got,
        want(&[
            ("a", &[(10, 1.0), (20, 2.0), (110, 3.0)]),
            ("b", &[(150, 4.0)])
        ])
    );
    assert_eq!(served(&q), by(&[(B1, "g1"), (B2, "g2")]));
    assert_eq!(
        g1.calls(),
        [vec![B1]],
        "each gateway asked for its blocks only"
    );
    assert_eq!(g2.calls(), [vec![B2]]);

    assert_eq!(q.label_names(0, 300, &[]).unwrap(), ["__name__", "job"]);
    assert_eq!(q.label_values("job", 0, 300, &[]).unwrap(), ["a", "b"]);
    assert_eq!(q.label_values("job", 0, 50, &[]).unwrap(), ["a"], "B1 only");
    assert_eq!(served(&q), by(&[(B1, "g1")]));
}

#[test]
fn a_missing_block_is_retried_on_its_next_replica() {
    let (env, data) = two_blocks();
    // g1 holds both but has not loaded B2 yet; g3 is down.
    let g1 = FakeGateway::new("g1", Mode::Hide(vec![B2]), &data);
    let g2 = FakeGateway::new("g2", Mode::Serve, &data);
    let g3 = FakeGateway::new("g3", Mode::Down, &data);
    let q = env.querier(
        Replicas::new(
            &[&g1, &g2, &g3],
            &[(B1, &["g3", "g1"]), (B2, &["g1", "g2"])],
        ),
        QueryLimits::default(),
    );
    let got = select(&q, &range(0, 300)).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(served(&q), by(&[(B1, "g1"), (B2, "g2")]));
    assert_eq!(g3.calls(), [vec![B1]]);
    assert_eq!(
        g1.calls(),
        [vec![B2], vec![B1]],
        "B1 moved to g1 after g3 failed"
    );
    assert_eq!(g2.calls(), [vec![B2]]);
    assert_eq!(q.label_values("job", 0, 300, &[]).unwrap(), ["a", "b"]);
}

#[test]
fn blocks_no_replica_serves_fail_the_query_naming_them() {
    let (env, data) = two_blocks();
    let hide = || Mode::Hide(vec![B2]);
    let gs: Vec<_> = ["g1", "g2", "g3", "g4"]
        .iter()
        .map(|a| FakeGateway::new(a, hide(), &data))
        .collect();
    let down = FakeGateway::new("down", Mode::Down, &[]);
    let refs: Vec<&Arc<FakeGateway>> = gs.iter().chain([&down]).collect();
    let q = env.querier(
        Replicas::new(
            &refs,
            &[(B1, &["down", "g1"]), (B2, &["g1", "g2", "g3", "g4"])],
        ),
        QueryLimits::default(),
    );
    let err = select(&q, &range(0, 300)).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "consistency check failed because some blocks were not queried: {B2}"
        )),
        "{msg}"
    );
    assert!(!msg.contains(&B1.to_string()), "B1 was served by g1: {msg}");
    assert!(
        msg.contains("store-gateway down: connection refused"),
        "{msg}"
    );
    assert_eq!(
        gs[3].calls(),
        Vec::<Vec<Ulid>>::new(),
        "three attempts only"
    );
    assert!(served(&q).is_empty());
    let err = q.label_names(0, 300, &[]).unwrap_err();
    assert!(
        err.to_string().contains("consistency check failed"),
        "{err}"
    );
}

#[test]
fn a_block_without_replicas_fails_with_the_ring_error() {
    let (env, data) = two_blocks();
    let g1 = FakeGateway::new("g1", Mode::Serve, &data);
    let q = env.querier(
        Replicas::new(&[&g1], &[(B1, &["g1"])]),
        QueryLimits::default(),
    );
    let msg = select(&q, &range(0, 300)).unwrap_err().to_string();
    assert!(msg.contains(&format!("not queried: {B2}")), "{msg}");
    assert!(msg.contains("no healthy store-gateway"), "{msg}");
}

#[test]
fn recently_uploaded_blocks_are_exempt_from_the_check() {
    let env = Env::new(
        vec![
            entry(B1, 0, 100, OLD),
            entry(B2, 0, 100, NOW - 44 * 60),
            entry(B3, 0, 100, NOW - 46 * 60),
        ],
        vec![],
    );
    let data = [(B1, vec![("a", vec![(1, 1.0)])])];
    let g1 = FakeGateway::new("g1", Mode::Serve, &data);
    let replicas = || Replicas::new(&[&g1], &[(B1, &["g1"]), (B2, &["g1"]), (B3, &["g1"])]);
    let q = env.querier(replicas(), QueryLimits::default());
    let msg = select(&q, &range(0, 100)).unwrap_err().to_string();
    assert!(
        msg.contains(&format!("not queried: {B3}")),
        "B3 is past grace: {msg}"
    );
    assert!(!msg.contains(&B2.to_string()), "{msg}");

    let env = Env::new(
        vec![entry(B1, 0, 100, OLD), entry(B2, 0, 100, NOW - 44 * 60)],
        vec![],
    );
    let q = env.querier(replicas(), QueryLimits::default());
    assert_eq!(
        select(&q, &range(0, 100)).unwrap(),
        want(&[("a", &[(1, 1.0)])])
    );
    assert_eq!(served(&q), by(&[(B1, "g1")]));
}

#[test]
fn a_recent_block_no_store_gateway_answered_for_fails_the_query() {
    let env = Env::new(
        vec![entry(B1, 0, 100, OLD), entry(B2, 0, 100, NOW - 60)],
        vec![],
    );
    let data = [(B1, vec![("a", vec![(1, 1.0)])])];
    let g1 = FakeGateway::new("g1", Mode::Serve, &data);
    let down = FakeGateway::new("g2", Mode::Down, &[]);
    // B2's only replica fails: the recent upload is no excuse for an error.
    let q = env.querier(
        Replicas::new(&[&g1, &down], &[(B1, &["g1"]), (B2, &["g2"])]),
        QueryLimits::default(),
    );
    let msg = select(&q, &range(0, 100)).unwrap_err().to_string();
    assert!(msg.contains(&format!("not queried: {B2}")), "{msg}");
    assert!(msg.contains("connection refused"), "{msg}");
    // B2's first replica fails and the next answers without it (not loaded yet): fine.
    let q = env.querier(
        Replicas::new(&[&g1, &down], &[(B1, &["g1"]), (B2, &["g2", "g1"])]),
        QueryLimits::default(),
    );
    assert_eq!(
        select(&q, &range(0, 100)).unwrap(),
        want(&[("a", &[(1, 1.0)])])
    );
    assert_eq!(down.calls(), vec![vec![B2], vec![B2]]);
}

#[test]
fn deletion_marks_drop_old_blocks_and_exempt_half_delay_old_ones() {
    let b4 = Ulid(4);
    let blocks = vec![
        entry(B1, 0, 100, OLD),
        entry(B2, 0, 100, OLD),
        entry(B3, 0, 100, OLD),
        entry(b4, 0, 100, OLD),
    ];
    let marks = vec![
        mark(B1, NOW - 7 * 3600), // past the 6h delay: not queried
        mark(B2, NOW - 4 * 3600), // past 3h: queried if served, not required
        mark(B3, NOW - 3600),     // recent: required
    ];
    let env = Env::new(blocks, marks);
    let data = [
        (B1, vec![("one", vec![(1, 1.0)])]),
        (B3, vec![("three", vec![(3, 3.0)])]),
        (b4, vec![("four", vec![(4, 4.0)])]),
    ];
    let g1 = FakeGateway::new("g1", Mode::Serve, &data);
    let all: &[&str] = &["g1"];
    let q = env.querier(
        Replicas::new(&[&g1], &[(B1, all), (B2, all), (B3, all), (b4, all)]),
        QueryLimits::default(),
    );
    let got = select(&q, &range(0, 100)).unwrap();
    assert_eq!(got, want(&[("four", &[(4, 4.0)]), ("three", &[(3, 3.0)])]));
    assert_eq!(
        g1.calls(),
        [vec![B2, B3, b4]],
        "B1 is not asked for; B2 once"
    );

    // Without B3 on any store-gateway the recent mark does not excuse it.
    let g2 = FakeGateway::new("g2", Mode::Serve, &data[2..]);
    let q = env.querier(
        Replicas::new(&[&g2], &[(B2, &["g2"]), (B3, &["g2"]), (b4, &["g2"])]),
        QueryLimits::default(),
    );
    let msg = select(&q, &range(0, 100)).unwrap_err().to_string();
    assert!(msg.ends_with(&format!("not queried: {B3}")), "{msg}");
}

#[test]
fn a_block_answered_twice_is_kept_once() {
    let env = Env::new(vec![entry(B1, 0, 100, OLD), entry(B2, 0, 100, OLD)], vec![]);
    // The stale copies differ from the real ones, so a duplicate would show.
    let stale = [
        (B1, vec![("a", vec![(1, 1.0), (5, 9.0)])]),
        (B2, vec![("b", vec![(2, 2.0), (6, 9.0)])]),
    ];
    let good = [
        (B1, vec![("a", vec![(1, 1.0)])]),
        (B2, vec![("b", vec![(2, 2.0)])]),
    ];
    // g1 sends its copy of B1 without reporting it as queried; B1 is then asked of
    // g2, whose copy alone counts. g3, the second replica of B2, is never asked.
    let g1 = FakeGateway::new("g1", Mode::Unreported(vec![B1]), &stale[..1]);
    let g3 = FakeGateway::new("g3", Mode::Unasked, &stale);
    let g2 = FakeGateway::new("g2", Mode::Serve, &good);
    let q = env.querier(
        Replicas::new(
            &[&g1, &g2, &g3],
            &[(B1, &["g1", "g2"]), (B2, &["g2", "g3"])],
        ),
        QueryLimits {
            max_fetched_chunks_per_query: 2,
            ..Default::default()
        },
    );
    let got = select(&q, &range(0, 100)).unwrap();
    assert_eq!(got, want(&[("a", &[(1, 1.0)]), ("b", &[(2, 2.0)])]));
    assert_eq!(served(&q), by(&[(B1, "g2"), (B2, "g2")]));

    // g3 asked for B1 only also reports B2: the answer for B2 is ignored.
    let q = env.querier(
        Replicas::new(&[&g2, &g3], &[(B1, &["g3"]), (B2, &["g2"])]),
        QueryLimits::default(),
    );
    let got = select(&q, &range(0, 100)).unwrap();
    assert_eq!(
        got,
        want(&[("a", &[(1, 1.0), (5, 9.0)]), ("b", &[(2, 2.0)])])
    );
    assert_eq!(served(&q), by(&[(B1, "g3"), (B2, "g2")]));
}

#[test]
fn a_damaged_block_fails_the_query_without_retrying() {
    let (env, data) = two_blocks();
    let g1 = FakeGateway::new("g1", Mode::Corrupt(B2), &data);
    let g2 = FakeGateway::new("g2", Mode::Serve, &data);
    let q = env.querier(
        Replicas::new(&[&g1, &g2], &[(B1, &["g1"]), (B2, &["g1", "g2"])]),
        QueryLimits::default(),
    );
    match select(&q, &range(0, 300)).unwrap_err() {
        QuerierError::Block {
            tenant,
            block,
            reason,
        } => {
            assert_eq!((tenant.as_str(), block), (TENANT, B2.to_string()));
            assert!(reason.contains("store-gateway g1"), "{reason}");
            assert!(reason.contains("checksum mismatch"), "{reason}");
        }
        e => panic!("want a block error, got {e:?}"),
    }
    assert!(g2.calls().is_empty(), "no retry of damaged bytes");
}

#[test]
fn series_and_chunk_limits_count_each_series_once() {
    let (env, data) = two_blocks();
    let g1 = FakeGateway::new("g1", Mode::Serve, &data);
    let replicas = || Replicas::new(&[&g1], &[(B1, &["g1"]), (B2, &["g1"])]);
    let limits = |series, chunks| QueryLimits {
        max_fetched_series_per_query: series,
        max_fetched_chunks_per_query: chunks,
    };
    // Series a (in both blocks) and b: 2 series, 3 chunks.
    let ok = env.querier(replicas(), limits(2, 3));
    assert_eq!(select(&ok, &range(0, 300)).unwrap().len(), 2);
    let err = select(&env.querier(replicas(), limits(1, 0)), &range(0, 300)).unwrap_err();
    assert_eq!(
        err,
        QuerierError::Limit(
            "the query hit the max number of series limit (limit: 1 series)".into()
        )
    );
    let err = select(&env.querier(replicas(), limits(0, 2)), &range(0, 300)).unwrap_err();
    assert_eq!(
        err,
        QuerierError::Limit(
            "the query hit the max number of chunks limit (limit: 2 chunks)".into()
        )
    );
    // The limits span every select of the query.
    let q = env.querier(replicas(), limits(0, 4));
    select(&q, &range(0, 300)).unwrap();
    assert!(select(&q, &range(0, 300)).unwrap_err().is_limit());
}

#[test]
fn the_bucket_index_decides_the_blocks() {
    let g1 = FakeGateway::new("g1", Mode::Serve, &[(B1, vec![("a", vec![(1, 1.0)])])]);
    let replicas = || Replicas::new(&[&g1], &[(B1, &["g1"])]);

    // No index: a tenant without blocks.
    let env = Env::new(vec![], vec![]);
    env.rt
        .block_on(crate::storage::bucketindex::delete_index(
            &*env.store,
            TENANT,
        ))
        .unwrap();
    let q = env.querier(replicas(), QueryLimits::default());
    assert_eq!(select(&q, &range(0, 100)).unwrap(), Vec::<Samples>::new());
    assert!(q.label_names(0, 100, &[]).unwrap().is_empty());
    assert!(g1.calls().is_empty());

    // Too old: updated 2h ago, the max stale period is 1h.
    let mut idx = BucketIndex::empty(NOW - 7200);
    idx.blocks = vec![entry(B1, 0, 100, OLD)];
    env.write(&idx);
    let msg = select(
        &env.querier(replicas(), QueryLimits::default()),
        &range(0, 100),
    )
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains("failed to load the bucket index of tenant"),
        "{msg}"
    );
    assert!(msg.contains("too old"), "{msg}");

    // Unreadable.
    let path = crate::storage::bucketindex::index_path(TENANT);
    env.put_raw(&path, b"not gzip").unwrap();
    let msg = select(
        &env.querier(replicas(), QueryLimits::default()),
        &range(0, 100),
    )
    .unwrap_err()
    .to_string();
    assert!(msg.contains("corrupted object"), "{msg}");
    assert!(g1.calls().is_empty());
}
