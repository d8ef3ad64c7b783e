//! Sending a workload by remote write 1.0: concurrent senders, one keep-alive connection
//! each, every sender sending its own series' rounds in order (see [`super::bodies`]),
//! either as fast as the server takes them (backfill) or one round per interval (real
//! time). Bodies are either built beforehand ([`pregenerate`]) or while sending. Counts
//! answers by HTTP status and stops every sender at the first non-2xx when asked to.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::bodies::{Body, BodyBuilder};
use super::http::{Conn, Endpoint};
use super::workload::Workload;

/// The bodies of every sender: `[sender][round]` → that round's requests.
pub type Pregenerated = Vec<Vec<Vec<Body>>>;

/// How a workload is sent.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// Concurrent senders.
    pub senders: usize,
    /// Most series per request.
    pub batch: usize,
    /// Timestamp (ms) of round 0.
    pub base_ms: i64,
    /// One round per interval, each sent once its interval has passed, instead of as fast
    /// as possible.
    pub realtime: bool,
    /// Stop at the first non-2xx answer or connection error.
    pub fail_fast: bool,
    /// Sent as `X-Scope-OrgID` when set.
    pub tenant: Option<String>,
}

/// What a send achieved.
#[derive(Debug, Clone, Default)]
pub struct SendReport {
    /// Samples in requests answered with a 2xx.
    pub samples_ok: u64,
    /// Requests sent.
    pub requests: u64,
    /// Compressed bytes sent.
    pub bytes: u64,
    /// Wall time from the first request to the last answer.
    pub elapsed: Duration,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection errors).
    pub io_errors: u64,
    /// The first failure, for the error message.
    pub first_error: Option<String>,
}

impl SendReport {
    /// Samples per second of wall time.
    pub fn samples_per_second(&self) -> f64 {
        self.samples_ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// True when every request got a 2xx.
    pub fn all_ok(&self) -> bool {
        self.io_errors == 0 && self.statuses.keys().all(|s| (200..300).contains(s))
    }

    fn merge(&mut self, other: SendReport) {
        self.samples_ok += other.samples_ok;
        self.requests += other.requests;
        self.bytes += other.bytes;
        self.io_errors += other.io_errors;
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// Builds every body of `workload` before sending, one thread per sender.
pub fn pregenerate(workload: &Workload, opts: &SendOptions) -> Pregenerated {
    let senders = opts.senders.max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..senders)
            .map(|s| {
                scope.spawn(move || {
                    let mut b = BodyBuilder::new(workload, s, senders, opts.batch, opts.base_ms);
                    (0..workload.spec().rounds)
                        .map(|r| {
                            let mut out = Vec::new();
                            b.round(r, |body| out.push(body));
                            out
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Sends `workload` to `push_path` of `endpoint`: the `pregenerated` bodies when given
/// (they must come from the same workload and options), else bodies built on the way.
pub fn send(
    workload: &Workload,
    pregenerated: Option<&Pregenerated>,
    endpoint: &Endpoint,
    push_path: &str,
    opts: &SendOptions,
) -> SendReport {
    let senders = opts.senders.max(1);
    let stop = AtomicBool::new(false);
    let total = Mutex::new(SendReport::default());
    let start = Instant::now();
    std::thread::scope(|scope| {
        for s in 0..senders {
            let (stop, total) = (&stop, &total);
            scope.spawn(move || {
                let mut sender = Sender {
                    conn: Conn::new(endpoint.clone()),
                    push_path,
                    opts,
                    stop,
                    report: SendReport::default(),
                };
                let mut builder = BodyBuilder::new(workload, s, senders, opts.batch, opts.base_ms);
                let interval = workload.spec().interval_ms;
                for r in 0..workload.spec().rounds {
                    if opts.realtime {
                        wait_until(opts.base_ms + (r as i64 + 1) * interval, stop);
                    }
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match pregenerated.and_then(|p| p.get(s)).and_then(|p| p.get(r)) {
                        Some(bodies) => bodies.iter().for_each(|b| sender.post(b)),
                        None if pregenerated.is_none() => builder.round(r, |b| sender.post(&b)),
                        None => {}
                    }
                }
                if let Ok(mut t) = total.lock() {
                    t.merge(sender.report);
                }
            });
        }
    });
    let mut report = total.into_inner().unwrap_or_default();
    report.elapsed = start.elapsed();
    report
}

/// One sender's connection and tally.
struct Sender<'a> {
    conn: Conn,
    push_path: &'a str,
    opts: &'a SendOptions,
    stop: &'a AtomicBool,
    report: SendReport,
}

impl Sender<'_> {
    fn post(&mut self, body: &Body) {
        if self.stop.load(Ordering::Relaxed) {
            return;
        }
        let mut headers = vec![
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "0.1.0"),
            ("User-Agent", "cortex-bench"),
        ];
        if let Some(t) = &self.opts.tenant {
            headers.push(("X-Scope-OrgID", t));
        }
        self.report.requests += 1;
        self.report.bytes += body.bytes.len() as u64;
        let failure = match self
            .conn
            .request("POST", self.push_path, &headers, &body.bytes)
        {
            Ok(r) => {
                *self.report.statuses.entry(r.status).or_default() += 1;
                if (200..300).contains(&r.status) {
                    self.report.samples_ok += body.samples;
                    None
                } else {
                    let text: String = String::from_utf8_lossy(&r.body).chars().take(300).collect();
                    Some(format!("HTTP {}: {}", r.status, text.trim()))
                }
            }
            Err(e) => {
                self.report.io_errors += 1;
                Some(format!("connection error: {e}"))
            }
        };
        if let Some(f) = failure {
            if self.report.first_error.is_none() {
                self.report.first_error = Some(f);
            }
            if self.opts.fail_fast {
                self.stop.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// Milliseconds since the epoch now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Sleeps until the wall clock reaches `at_ms`, or `stop` is set.
fn wait_until(at_ms: i64, stop: &AtomicBool) {
    loop {
        let left = at_ms - now_ms();
        if left <= 0 || stop.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(Duration::from_millis(left.min(200) as u64));
    }
}
