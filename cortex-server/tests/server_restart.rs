//! No acknowledged sample is lost: pushes are acknowledged while the server is killed
//! with SIGKILL at random moments and stopped with SIGTERM; after every restart, and in
//! the tenant's TSDB at the end, every acknowledged sample is there.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

const SERIES: usize = 40;
const TENANT: &str = "tenant-a";

fn batch(base: i64, n: usize) -> Vec<OwnedSeries> {
    (0..SERIES)
        .map(|s| OwnedSeries {
            labels: vec![
                ("__name__".into(), "restart_test_total".into()),
                ("instance".into(), format!("host-{s}")),
                ("job".into(), "restart".into()),
            ],
            samples: vec![(base + n as i64 * 1000, (n * SERIES + s) as f64)],
        })
        .collect()
}

/// Pushes batches `from..` until one fails or `until` is reached; returns how many
/// batches were acknowledged in total (`from` + new ones).
fn push_until_failure(
    addr: std::net::SocketAddr,
    base: i64,
    from: usize,
    until: usize,
    acked: &AtomicUsize,
) {
    for n in from..until {
        match push(addr, TENANT, &v1_body(&batch(base, n))) {
            Ok(r) if r.status == 204 => acked.store(n + 1, Ordering::SeqCst),
            // Refused while shutting down: not acknowledged, the sender would retry.
            Ok(r) if r.status == 503 => return,
            Ok(r) => panic!("batch {n}: status {} {}", r.status, r.text()),
            Err(_) => return,
        }
    }
}

#[test]
fn acknowledged_samples_survive_sigkill_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let base = now - 3_600_000;
    let acked = Arc::new(AtomicUsize::new(0));
    let mut seed = now as u64 | 1;
    for round in 0..4 {
        let mut server = ServerProcess::start(dir.path(), &[]);
        let addr = server.addr;
        let from = acked.load(Ordering::SeqCst);
        let a = acked.clone();
        let pusher =
            std::thread::spawn(move || push_until_failure(addr, base, from, from + 400, &a));
        // Kill somewhere in the middle of the pushes (xorshift for a random moment).
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(100 + seed % 400));
        let signal = if round % 2 == 0 { "KILL" } else { "TERM" };
        let status = server.signal_and_wait(signal);
        pusher.join().unwrap();
        if signal == "TERM" {
            assert!(status.success(), "SIGTERM exit: {status}");
        }
        assert!(
            acked.load(Ordering::SeqCst) > from,
            "round {round}: nothing acknowledged"
        );
    }
    // One clean run that pushes nothing, to replay what the last kill left.
    let mut server = ServerProcess::start(dir.path(), &[]);
    assert!(server.signal_and_wait("TERM").success());

    let acked = acked.load(Ordering::SeqCst);
    let stored: BTreeMap<String, Vec<(i64, f64)>> =
        read_tenant(dir.path(), TENANT).into_iter().collect();
    assert_eq!(stored.len(), SERIES);
    for s in 0..SERIES {
        let key =
            format!("{{__name__=\"restart_test_total\", instance=\"host-{s}\", job=\"restart\"}}");
        let got = &stored[&key];
        // Every acknowledged batch is there; an unacknowledged last one may be too.
        assert!(
            got.len() >= acked,
            "{key}: {} of {acked} samples",
            got.len()
        );
        for (n, &(t, v)) in got.iter().enumerate() {
            assert_eq!(
                (t, v),
                (base + n as i64 * 1000, (n * SERIES + s) as f64),
                "{key}"
            );
        }
    }
    eprintln!(
        "{acked} acknowledged batches of {SERIES} series all present after 2 SIGKILLs and 2 SIGTERMs"
    );
}
