//! Reading the indexes Prometheus 2.42 wrote, checked against independent evidence
//! (promtool's dump, the API answers, meta.json), and rewriting them byte for byte.

mod index_common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cortex_tsdb::index::{IndexReader, IndexWriter};
use cortex_tsdb::labels::{Labels, MatchType, Matcher};
use index_common::{Series, all_indexes, blocks, brute_force, fixtures, read_series, refs};

/// `(minTime, maxTime, numSeries, numChunks)` of a block's meta.json.
fn meta(block: &Path) -> (i64, i64, u64, u64) {
    let text = std::fs::read_to_string(block.join("meta.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    (
        v["minTime"].as_i64().unwrap(),
        v["maxTime"].as_i64().unwrap(),
        v["stats"]["numSeries"].as_u64().unwrap(),
        v["stats"]["numChunks"].as_u64().unwrap(),
    )
}

/// Sample timestamps per series from promtool's dump (`{labels} value timestamp`).
fn dump_timestamps(set: &str) -> BTreeMap<String, Vec<i64>> {
    let text = std::fs::read_to_string(fixtures().join(set).join("promtool-dump.txt")).unwrap();
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.rsplitn(3, ' ');
        let ts: i64 = parts.next().unwrap().parse().unwrap();
        let _value = parts.next().unwrap();
        out.entry(parts.next().unwrap().to_string())
            .or_default()
            .push(ts);
    }
    out
}

/// API timestamp (seconds with up to 3 decimals) to milliseconds.
fn api_ms(s: &str) -> i64 {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let frac = format!("{frac:0<3}");
    secs.parse::<i64>().unwrap() * 1000 + frac[..3].parse::<i64>().unwrap()
}

/// Sample timestamps per series from the native-histogram fixture's API answers.
fn api_timestamps() -> BTreeMap<String, Vec<i64>> {
    let path = fixtures().join("native-histograms/expected.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for q in v["queries"].as_array().unwrap() {
        for r in q["response"]["data"]["result"].as_array().unwrap() {
            let labels = Labels::from_pairs(
                r["metric"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())),
            )
            .unwrap();
            let ts = out.entry(labels.to_string()).or_default();
            for key in ["values", "histograms"] {
                for s in r[key].as_array().into_iter().flatten() {
                    let t = &s[0];
                    ts.push(api_ms(
                        &t.as_str().map_or_else(|| t.to_string(), String::from),
                    ));
                }
            }
            ts.sort_unstable();
        }
    }
    out
}

/// Every block's series agree with the samples the oracle lists: the same label sets, and
/// each series' chunks start at its first sample in the block and end at its last.
fn check_against_samples(set: &str, samples: &BTreeMap<String, Vec<i64>>) {
    let mut seen = BTreeSet::new();
    for block in blocks(set) {
        let (mint, maxt, num_series, num_chunks) = meta(&block);
        let r = IndexReader::open(block.join("index")).unwrap();
        let series = read_series(&r).unwrap();
        assert_eq!(series.len() as u64, num_series, "{block:?}");
        let chunks: usize = series.iter().map(|s| s.chunks.len()).sum();
        assert_eq!(chunks as u64, num_chunks, "{block:?}");
        for s in &series {
            let key = s.labels.to_string();
            let ts = samples
                .get(&key)
                .unwrap_or_else(|| panic!("{key} not in the oracle"));
            let in_block: Vec<i64> = ts
                .iter()
                .copied()
                .filter(|t| (mint..maxt).contains(t))
                .collect();
            assert!(!in_block.is_empty(), "{key} has no samples in {block:?}");
            assert_eq!(s.chunks[0].min_time, in_block[0], "{key} in {block:?}");
            assert_eq!(
                s.chunks.last().unwrap().max_time,
                *in_block.last().unwrap(),
                "{key}"
            );
            for w in s.chunks.windows(2) {
                assert!(w[0].max_time < w[1].min_time, "{key}: overlapping chunks");
                assert!(
                    w[0].chunk_ref < w[1].chunk_ref,
                    "{key}: chunk refs not increasing"
                );
            }
            seen.insert(key);
        }
    }
    let all: BTreeSet<String> = samples.keys().cloned().collect();
    assert_eq!(seen, all, "series in the blocks differ from the oracle's");
}

#[test]
fn openmetrics_blocks_hold_the_series_promtool_dumped() {
    let samples = dump_timestamps("openmetrics-blocks");
    assert_eq!(samples.len(), 23);
    check_against_samples("openmetrics-blocks", &samples);
}

#[test]
fn native_histogram_blocks_hold_the_series_the_api_returned() {
    let samples = api_timestamps();
    assert_eq!(samples.len(), 8);
    check_against_samples("native-histograms", &samples);
}

#[test]
fn series_are_sorted_and_refs_are_offsets_over_16() {
    for path in all_indexes() {
        let r = IndexReader::open(&path).unwrap();
        let series = read_series(&r).unwrap();
        for w in series.windows(2) {
            assert!(w[0].labels < w[1].labels, "{path:?}");
            assert!(w[0].id < w[1].id);
        }
        assert!(series[0].id * 16 >= r.toc().series);
        let stats = r.verify().unwrap();
        assert_eq!(stats.series, series.len() as u64);
        assert!(stats.label_indices > 0, "2.42 writes label indices");
    }
}

#[test]
fn label_names_and_values_agree_with_the_series() {
    for path in all_indexes() {
        let r = IndexReader::open(&path).unwrap();
        let series = read_series(&r).unwrap();
        let mut want: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for s in &series {
            for l in s.labels.iter() {
                want.entry(l.name).or_default().insert(l.value);
            }
        }
        assert_eq!(r.label_names(), want.keys().copied().collect::<Vec<_>>());
        for (name, values) in &want {
            let got = r.label_values(name).unwrap();
            assert_eq!(got, values.iter().copied().collect::<Vec<_>>(), "{name}");
            for v in values {
                let p = r.postings(name, &[v]).unwrap();
                let expect: Vec<u64> = series
                    .iter()
                    .filter(|s| s.labels.get(name) == Some(v))
                    .map(|s| s.id)
                    .collect();
                assert_eq!(refs(p), expect, "{name}={v}");
            }
        }
        assert!(r.label_values("no_such_label").unwrap().is_empty());
        assert_eq!(
            refs(r.postings("job", &["no_such_value"]).unwrap()),
            Vec::<u64>::new()
        );
    }
}

/// A pool of matchers over the fixtures' labels, covering every code path of
/// postings-for-matchers.
fn matcher_pool() -> Vec<Matcher> {
    use MatchType::*;
    let m = |k, n: &str, v: &str| Matcher::new(k, n, v).unwrap();
    vec![
        m(Equal, "__name__", "http_requests_total"),
        m(Equal, "__name__", "nhfix_float_gauge"),
        m(Equal, "job", ""),
        m(Equal, "absent", ""),
        m(Equal, "absent", "x"),
        m(NotEqual, "code", "200"),
        m(NotEqual, "le", ""),
        m(NotEqual, "absent", "x"),
        m(Regexp, "job", "api|web|nhfix"),
        m(Regexp, "__name__", "rpc_.*"),
        m(Regexp, "le", "0.1|1|"),
        m(Regexp, "instance", ".*"),
        m(Regexp, "instance", ".+"),
        m(Regexp, "room", "r[0-2]"),
        m(Regexp, "absent", ".*"),
        m(NotRegexp, "instance", "i[01]:9090"),
        m(NotRegexp, "le", ".+"),
        m(NotRegexp, "job", ".*"),
        m(NotRegexp, "code", "|200"),
        m(NotRegexp, "variant", "a|b|c"),
        m(NotRegexp, "absent", "x.*"),
    ]
}

#[test]
fn postings_for_matchers_agree_with_testing_every_series() {
    let pool = matcher_pool();
    for path in all_indexes() {
        let r = IndexReader::open(&path).unwrap();
        let series = read_series(&r).unwrap();
        let mut nonempty = 0;
        for a in &pool {
            for b in &pool {
                for ms in [vec![a.clone()], vec![a.clone(), b.clone()]] {
                    let got = refs(r.postings_for_matchers(&ms).unwrap());
                    assert_eq!(got, brute_force(&series, &ms), "{path:?} {ms:?}");
                    nonempty += usize::from(!got.is_empty());
                }
            }
        }
        assert!(
            nonempty > 100,
            "the pool should select something often: {nonempty}"
        );
        assert!(refs(r.postings_for_matchers(&[]).unwrap()).is_empty());
        let all = refs(r.postings_for_matchers(&[Matcher::equal("", "")]).unwrap());
        assert_eq!(all.len(), series.len());
    }
}

#[test]
fn label_values_and_names_with_matchers_agree_with_testing_every_series() {
    let pool = matcher_pool();
    for path in all_indexes() {
        let r = IndexReader::open(&path).unwrap();
        let series = read_series(&r).unwrap();
        for a in &pool {
            for ms in [vec![], vec![a.clone()]] {
                let ids: BTreeSet<u64> = brute_force(&series, &ms).into_iter().collect();
                let picked: Vec<&Series> = if ms.is_empty() {
                    series.iter().collect()
                } else {
                    series.iter().filter(|s| ids.contains(&s.id)).collect()
                };
                let names: BTreeSet<&str> = picked
                    .iter()
                    .flat_map(|s| s.labels.iter().map(|l| l.name))
                    .collect();
                assert_eq!(
                    r.label_names_matching(&ms).unwrap(),
                    names.iter().copied().collect::<Vec<_>>(),
                    "{ms:?}"
                );
                for name in ["job", "le", "__name__"] {
                    let values: BTreeSet<&str> =
                        picked.iter().filter_map(|s| s.labels.get(name)).collect();
                    assert_eq!(
                        r.label_values_matching(name, &ms).unwrap(),
                        values.iter().copied().collect::<Vec<_>>(),
                        "{name} {ms:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn rewriting_each_fixture_index_reproduces_prometheus_bytes() {
    let dir = tempfile::tempdir().unwrap();
    for path in all_indexes() {
        let original = std::fs::read(&path).unwrap();
        let r = IndexReader::from_bytes(original.clone(), &path).unwrap();
        let out = dir.path().join("index");
        let mut w = IndexWriter::create(&out).unwrap();
        for s in r.symbols() {
            w.add_symbol(s).unwrap();
        }
        for s in read_series(&r).unwrap() {
            let id = w.add_series(&s.labels, &s.chunks).unwrap();
            assert_eq!(id, s.id, "series refs follow the same layout");
        }
        w.finish().unwrap();
        let rewritten = std::fs::read(&out).unwrap();
        assert_eq!(rewritten.len(), original.len(), "{path:?}");
        let first_diff = rewritten.iter().zip(&original).position(|(a, b)| a != b);
        assert_eq!(first_diff, None, "{path:?} differs at byte {first_diff:?}");
    }
}

#[test]
fn file_and_buffer_readers_agree() {
    for path in all_indexes() {
        let mapped = IndexReader::open(&path).unwrap();
        let owned = IndexReader::from_bytes(std::fs::read(&path).unwrap(), &path).unwrap();
        assert_eq!(read_series(&mapped).unwrap(), read_series(&owned).unwrap());
        assert_eq!(mapped.toc(), owned.toc());
        assert_eq!(
            mapped.symbols().collect::<Vec<_>>(),
            owned.symbols().collect::<Vec<_>>()
        );
        for (i, s) in mapped.symbols().enumerate() {
            assert_eq!(mapped.symbol(i as u32).unwrap(), s);
        }
        assert!(mapped.symbol(mapped.num_symbols()).is_err());
    }
}
