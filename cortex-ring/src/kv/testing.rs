//! The conformance suite every [`Kv`] backend runs from its tests: reads and CAS
//! writes, callback outcomes, no lost updates under concurrent CAS, watches that see
//! changes in order and end on stop, deletion and listing by prefix.
//!
//! Call [`kv_conformance`] with a fresh, empty store. It panics (fails the test) on the
//! first violated property. Keys live under `conformance/`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{CasError, Kv, KvError, StopSignal};

const WAIT: Duration = Duration::from_secs(10);

/// Runs every check against `kv`.
pub fn kv_conformance(kv: &dyn Kv) {
    get_and_cas_put(kv);
    cas_callback_outcomes(kv);
    concurrent_cas_loses_no_update(kv);
    watch_sees_changes_in_order(kv);
    watch_ends_on_stop(kv);
    delete_and_list(kv);
}

fn put(kv: &dyn Kv, key: &str, value: &str) {
    let v = Bytes::copy_from_slice(value.as_bytes());
    kv.cas(key, &mut |_| Ok(Some(v.clone())))
        .expect("unconditional CAS write");
}

fn text(v: Option<Bytes>) -> Option<String> {
    v.map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn get_and_cas_put(kv: &dyn Kv) {
    let key = "conformance/get";
    assert_eq!(kv.get(key).unwrap(), None, "absent key reads as None");
    let mut seen = Vec::new();
    kv.cas(key, &mut |cur| {
        seen.push(text(cur));
        Ok(Some(Bytes::from_static(b"one")))
    })
    .unwrap();
    assert_eq!(seen, vec![None], "CAS on an absent key sees None once");
    assert_eq!(text(kv.get(key).unwrap()).as_deref(), Some("one"));
    put(kv, key, "two");
    assert_eq!(text(kv.get(key).unwrap()).as_deref(), Some("two"));
}

fn cas_callback_outcomes(kv: &dyn Kv) {
    let key = "conformance/outcomes";
    put(kv, key, "keep");
    // None leaves the value alone.
    kv.cas(key, &mut |_| Ok(None)).unwrap();
    assert_eq!(text(kv.get(key).unwrap()).as_deref(), Some("keep"));
    // A non-retryable error is returned and nothing is written.
    let mut calls = 0;
    let err = kv
        .cas(key, &mut |_| {
            calls += 1;
            Err(CasError::abort("no thanks"))
        })
        .unwrap_err();
    assert_eq!(err, KvError::Aborted("no thanks".into()));
    assert_eq!(calls, 1, "an aborting callback is not called again");
    assert_eq!(text(kv.get(key).unwrap()).as_deref(), Some("keep"));
    // A retryable error gets another call.
    let mut calls = 0;
    kv.cas(key, &mut |_| {
        calls += 1;
        if calls == 1 {
            Err(CasError {
                retry: true,
                reason: "again".into(),
            })
        } else {
            Ok(Some(Bytes::from_static(b"retried")))
        }
    })
    .unwrap();
    assert_eq!(calls, 2);
    assert_eq!(text(kv.get(key).unwrap()).as_deref(), Some("retried"));
}

fn concurrent_cas_loses_no_update(kv: &dyn Kv) {
    let key = "conformance/counter";
    put(kv, key, "0");
    let ok = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    let r = kv.cas(key, &mut |cur| {
                        let n: u64 = text(cur)
                            .and_then(|t| t.parse().ok())
                            .ok_or_else(|| CasError::abort("counter missing"))?;
                        Ok(Some(Bytes::from((n + 1).to_string())))
                    });
                    match r {
                        Ok(()) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(KvError::CasFailed { .. }) => {}
                        Err(e) => panic!("unexpected CAS error: {e}"),
                    }
                }
            });
        }
    });
    let ok = ok.load(Ordering::Relaxed);
    assert!(ok > 0, "some CAS must succeed");
    let final_value: usize = text(kv.get(key).unwrap()).unwrap().parse().unwrap();
    assert_eq!(
        final_value, ok,
        "every successful CAS is counted exactly once"
    );
}

fn watch_sees_changes_in_order(kv: &dyn Kv) {
    let key = "conformance/watched";
    put(kv, key, "0");
    let stop = StopSignal::new();
    let last = 30u32;
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut seen: Vec<u32> = Vec::new();
            kv.watch_key(key, &stop, &mut |v| {
                let n = text(v)
                    .and_then(|t| t.parse().ok())
                    .expect("watched value is a number");
                seen.push(n);
                n != last
            });
            seen
        });
        for i in 1..=last {
            put(kv, key, &i.to_string());
        }
        let deadline = Instant::now() + WAIT;
        while !watcher.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.stop();
        let seen = watcher.join().expect("watcher thread");
        assert_eq!(
            seen.last(),
            Some(&last),
            "the latest value is delivered: {seen:?}"
        );
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "values arrive in commit order: {seen:?}"
        );
    });
}

fn watch_ends_on_stop(kv: &dyn Kv) {
    let key = "conformance/quiet";
    let stop = StopSignal::new();
    let calls = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            kv.watch_key(key, &stop, &mut |v| {
                assert_eq!(v, None, "nothing was written");
                calls.fetch_add(1, Ordering::Relaxed);
                true
            })
        });
        let deadline = Instant::now() + WAIT;
        while calls.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        stop.stop();
        let deadline = Instant::now() + WAIT;
        while !watcher.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(watcher.is_finished(), "watch_key returns after stop");
    });
    assert_eq!(
        calls.load(Ordering::Relaxed),
        1,
        "the initial (absent) value is delivered once"
    );
}

fn delete_and_list(kv: &dyn Kv) {
    for k in [
        "conformance/list/a",
        "conformance/list/b",
        "conformance/listx",
        "conformance/other",
    ] {
        put(kv, k, "v");
    }
    let mut keys = kv.list("conformance/list/").unwrap();
    keys.sort();
    assert_eq!(keys, vec!["conformance/list/a", "conformance/list/b"]);
    kv.delete("conformance/list/a").unwrap();
    assert_eq!(kv.get("conformance/list/a").unwrap(), None);
    assert_eq!(
        kv.list("conformance/list/").unwrap(),
        vec!["conformance/list/b"]
    );
    kv.delete("conformance/list/a")
        .expect("deleting an absent key is fine");
    assert!(kv.list("conformance/nothing/").unwrap().is_empty());
    // A deleted key can be written again.
    put(kv, "conformance/list/a", "again");
    assert_eq!(
        text(kv.get("conformance/list/a").unwrap()).as_deref(),
        Some("again")
    );
}
