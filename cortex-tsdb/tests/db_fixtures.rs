//! A TSDB directory left by a SIGKILLed Prometheus 2.42 — two blocks, an empty head chunk
//! file and a WAL with float, histogram and float-histogram records — opens and yields
//! exactly the samples Prometheus' own API returned for every series.

mod chunk_common;

use chunk_common::{api_buckets, api_ms, close, fixtures, num};
use cortex_tsdb::chunkenc::ValueType;
use cortex_tsdb::db::{Db, DbOptions};
use cortex_tsdb::labels::Matcher;
use cortex_tsdb::querier::SampleIterator;
use cortex_tsdb::value::is_stale_nan;

fn open_read_only(set: &str) -> Option<std::sync::Arc<Db>> {
    let dir = fixtures().join(set);
    if !dir.exists() {
        assert!(std::env::var("CI").is_err(), "fixtures missing under CI");
        eprintln!("skipping: {} not present", dir.display());
        return None;
    }
    let opts = DbOptions {
        read_only: true,
        retention: None,
        ..Default::default()
    };
    Some(Db::open(&dir, opts).unwrap())
}

#[test]
fn native_histogram_data_dir_yields_prometheus_api_answers() {
    let Some(db) = open_read_only("native-histograms") else {
        return;
    };
    let stats = db.replay_stats();
    assert!(stats.torn_tail.is_none(), "{stats:?}");
    assert_eq!(stats.unknown_series_refs, 0);
    // The WAL holds every pushed sample, including those already in the blocks: those
    // before the head (the last block's maxTime) are skipped, the rest replayed.
    assert!(
        stats.samples_before_head > 0 && stats.samples > 0,
        "{stats:?}"
    );

    let path = fixtures().join("native-histograms/expected.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let q = db.querier(i64::MIN, i64::MAX);
    let (mut floats, mut histograms) = (0, 0);
    for query in v["queries"].as_array().unwrap() {
        let result = &query["response"]["data"]["result"][0];
        let name = result["metric"]["__name__"].as_str().unwrap();
        let series = q.select(&[Matcher::equal("__name__", name)]).unwrap();
        assert_eq!(series.len(), 1, "{name}");
        let mut it = series[0].iter();
        if let Some(values) = result["values"].as_array() {
            let mut ours = Vec::new();
            while let Some(vt) = it.next().unwrap() {
                assert_eq!(vt, ValueType::Float, "{name}");
                let (t, v) = it.at();
                // The API leaves stale markers out.
                if !is_stale_nan(v) {
                    ours.push((t, v.to_bits()));
                }
            }
            let want: Vec<(i64, u64)> = values
                .iter()
                .map(|p| (api_ms(&p[0]), num(&p[1]).to_bits()))
                .collect();
            assert_eq!(ours, want, "{name}");
            floats += ours.len();
            continue;
        }
        let want = result["histograms"].as_array().unwrap();
        let mut n = 0;
        while let Some(vt) = it.next().unwrap() {
            assert_ne!(vt, ValueType::Float, "{name}");
            let (t, h) = it.at_float_histogram();
            if is_stale_nan(h.sum) {
                continue;
            }
            let p = &want[n];
            n += 1;
            assert_eq!(api_ms(&p[0]), t, "{name}");
            assert_eq!(
                num(&p[1]["count"]).to_bits(),
                h.count.to_bits(),
                "{name} at {t}"
            );
            assert_eq!(
                num(&p[1]["sum"]).to_bits(),
                h.sum.to_bits(),
                "{name} at {t}"
            );
            let api: Vec<(u64, f64, f64, f64)> = p[1]["buckets"]
                .as_array()
                .map(|b| {
                    b.iter()
                        .map(|b| (b[0].as_u64().unwrap(), num(&b[1]), num(&b[2]), num(&b[3])))
                        .collect()
                })
                .unwrap_or_default();
            let got = api_buckets(&h);
            assert_eq!(got.len(), api.len(), "{name} at {t}");
            for (g, w) in got.iter().zip(&api) {
                assert!(
                    g.0 == w.0 && close(g.1, w.1) && close(g.2, w.2) && g.3 == w.3,
                    "{name} at {t}: {g:?} vs {w:?}"
                );
            }
        }
        assert_eq!(
            n,
            want.len(),
            "{name}: {n} histograms, the API returned {}",
            want.len()
        );
        histograms += n;
    }
    // 1061 + 1081 floats; 6 histogram series of ~1081 samples (one stale marker left out).
    assert_eq!(floats, 2142);
    assert!(histograms > 6000, "{histograms}");
}

#[test]
fn scrape_wal_replays_every_sample() {
    let Some(db) = open_read_only("scrape-wal") else {
        return;
    };
    let stats = db.replay_stats();
    assert_eq!(stats.unknown_series_refs, 0);
    assert!(stats.torn_tail.is_none());
    let dump = std::fs::read_to_string(fixtures().join("scrape-wal/promtool-dump.txt")).unwrap();
    assert_eq!(stats.samples, dump.lines().count() as u64);
}
