//! Per-tenant ingestion rate limiting: a token bucket per tenant, refilled at the
//! tenant's `ingestion_rate` per second up to `ingestion_burst_size` tokens (or the
//! native histogram pair of limits), as Cortex's distributor does.
//!
//! A push costs one token per float sample, native histogram sample, exemplar and
//! metadata entry; a push that does not fit is refused whole with Cortex's 429 message
//! and takes no tokens. With the `global` strategy each distributor enforces its share:
//! the rate divided by the number of healthy distributors (the burst is not divided).
//! The limits are read on every call, so a reloaded override applies to the next push;
//! tokens already in the bucket are kept across a change. The caller passes the time, so
//! tests drive the clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use cortex_tsdb::float_format::write_go_g;

use super::{IngestionRateStrategy, Limits};

/// Which pair of limits a [`RateLimiter`] enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateKind {
    /// `ingestion_rate` / `ingestion_burst_size`, charged for samples, exemplars and
    /// metadata.
    Ingestion,
    /// `native_histogram_ingestion_rate` / `native_histogram_ingestion_burst_size`,
    /// charged for native histogram samples.
    NativeHistogram,
}

/// What one push adds, after validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IngestionCounts {
    /// Float and native histogram samples.
    pub samples: usize,
    /// Of `samples`, the native histogram ones.
    pub histograms: usize,
    /// Exemplars.
    pub exemplars: usize,
    /// Metadata entries.
    pub metadata: usize,
}

/// A push refused by the rate limiter (HTTP 429). The texts are Cortex's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RateLimitError {
    /// Over `ingestion_rate`.
    #[error(
        "ingestion rate limit ({}) exceeded while adding {samples} samples and {metadata} metadata",
        go_float(*limit)
    )]
    Ingestion {
        /// The per-second rate this distributor enforces for the tenant.
        limit: f64,
        /// Samples in the refused push.
        samples: usize,
        /// Metadata entries in the refused push.
        metadata: usize,
    },
    /// Over `native_histogram_ingestion_rate`.
    #[error(
        "native histogram ingestion rate limit ({}) exceeded while adding {samples} native histogram samples",
        go_float(*limit)
    )]
    NativeHistogram {
        /// The per-second rate this distributor enforces for the tenant.
        limit: f64,
        /// Native histogram samples in the refused push.
        samples: usize,
    },
}

fn go_float(v: f64) -> String {
    let mut s = String::new();
    write_go_g(&mut s, v);
    s
}

/// Whether a rate means "unlimited" (Go's `rate.Inf` is the largest float).
fn is_unlimited(rate: f64) -> bool {
    rate >= f64::MAX
}

/// A token bucket with the semantics of Go's `golang.org/x/time/rate.Limiter`: it starts
/// full, refills continuously, and refuses (without charging) a request for more tokens
/// than it holds or than the burst.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    limit: f64,
    burst: usize,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket refilled at `limit` tokens per second up to `burst`.
    pub fn new(limit: f64, burst: usize) -> TokenBucket {
        TokenBucket {
            limit,
            burst,
            tokens: burst as f64,
            last: None,
        }
    }

    /// The refill rate, tokens per second.
    pub fn limit(&self) -> f64 {
        self.limit
    }

    /// The bucket's capacity.
    pub fn burst(&self) -> usize {
        self.burst
    }

    /// The tokens the bucket would hold at `now`.
    fn advance(&self, now: Instant) -> f64 {
        let elapsed = match self.last {
            Some(last) => now.saturating_duration_since(last).as_secs_f64(),
            None => 0.0,
        };
        let refill = if self.limit > 0.0 {
            elapsed * self.limit
        } else {
            0.0
        };
        (self.tokens + refill).min(self.burst as f64)
    }

    /// Changes the rate from `now` on; tokens gathered so far are kept.
    pub fn set_limit_at(&mut self, now: Instant, limit: f64) {
        self.tokens = self.advance(now);
        self.last = Some(now);
        self.limit = limit;
    }

    /// Changes the capacity from `now` on.
    pub fn set_burst_at(&mut self, now: Instant, burst: usize) {
        self.tokens = self.advance(now);
        self.last = Some(now);
        self.burst = burst;
    }

    /// Takes `n` tokens at `now` if the bucket has them; otherwise takes none.
    pub fn allow_n(&mut self, now: Instant, n: usize) -> bool {
        if is_unlimited(self.limit) {
            return true;
        }
        let tokens = self.advance(now) - n as f64;
        let ok = n <= self.burst && tokens_suffice(tokens, self.limit);
        if ok {
            self.last = Some(now);
            self.tokens = tokens;
        }
        ok
    }
}

/// Go's limiter accepts a deficit it would wait less than a nanosecond for.
fn tokens_suffice(tokens: f64, limit: f64) -> bool {
    if tokens >= 0.0 {
        return true;
    }
    if limit <= 0.0 {
        return false;
    }
    (-tokens / limit * 1e9).trunc() <= 0.0
}

/// Token buckets for every tenant seen, for one [`RateKind`].
#[derive(Debug)]
pub struct RateLimiter {
    kind: RateKind,
    tenants: Mutex<HashMap<String, TokenBucket>>,
}

impl RateLimiter {
    /// An empty limiter for `kind`.
    pub fn new(kind: RateKind) -> RateLimiter {
        RateLimiter {
            kind,
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// The per-second rate this distributor enforces for a tenant with `limits` when
    /// `healthy_distributors` distributors share the work (used by the `global`
    /// strategy; 0 counts as 1).
    pub fn limit(&self, limits: &Limits, healthy_distributors: usize) -> f64 {
        let rate = match self.kind {
            RateKind::Ingestion => limits.ingestion_rate,
            RateKind::NativeHistogram => limits.native_histogram_ingestion_rate,
        };
        match limits.ingestion_rate_strategy {
            IngestionRateStrategy::Global if healthy_distributors > 0 && !is_unlimited(rate) => {
                rate / healthy_distributors as f64
            }
            _ => rate,
        }
    }

    fn burst(&self, limits: &Limits) -> usize {
        match self.kind {
            RateKind::Ingestion => limits.ingestion_burst_size,
            RateKind::NativeHistogram => limits.native_histogram_ingestion_burst_size,
        }
    }

    /// Takes `n` tokens from `tenant`'s bucket at `now`, after bringing the bucket in
    /// line with `limits`; false (and nothing taken) when they do not fit.
    pub fn allow_n(
        &self,
        tenant: &str,
        limits: &Limits,
        healthy_distributors: usize,
        now: Instant,
        n: usize,
    ) -> bool {
        let limit = self.limit(limits, healthy_distributors);
        let burst = self.burst(limits);
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = match tenants.get_mut(tenant) {
            Some(b) => b,
            None => tenants
                .entry(tenant.to_string())
                .or_insert_with(|| TokenBucket::new(limit, burst)),
        };
        if bucket.limit != limit {
            bucket.set_limit_at(now, limit);
        }
        if bucket.burst != burst {
            bucket.set_burst_at(now, burst);
        }
        bucket.allow_n(now, n)
    }

    /// Charges one push: for [`RateKind::Ingestion`] its samples, exemplars and
    /// metadata, for [`RateKind::NativeHistogram`] its native histogram samples. Refused
    /// pushes return the 429 error to send.
    pub fn check(
        &self,
        tenant: &str,
        limits: &Limits,
        healthy_distributors: usize,
        now: Instant,
        counts: IngestionCounts,
    ) -> Result<(), RateLimitError> {
        let n = match self.kind {
            RateKind::Ingestion => counts.samples + counts.exemplars + counts.metadata,
            RateKind::NativeHistogram => counts.histograms,
        };
        if self.allow_n(tenant, limits, healthy_distributors, now, n) {
            return Ok(());
        }
        let limit = self.limit(limits, healthy_distributors);
        Err(match self.kind {
            RateKind::Ingestion => RateLimitError::Ingestion {
                limit,
                samples: counts.samples,
                metadata: counts.metadata,
            },
            RateKind::NativeHistogram => RateLimitError::NativeHistogram {
                limit,
                samples: counts.histograms,
            },
        })
    }

    /// Forgets a tenant's bucket (for tenants that stopped writing).
    pub fn remove_tenant(&self, tenant: &str) {
        self.tenants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tenant);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits(rate: f64, burst: usize) -> Limits {
        Limits {
            ingestion_rate: rate,
            ingestion_burst_size: burst,
            ..Limits::default()
        }
    }

    #[test]
    fn bucket_starts_full_and_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 20);
        assert!(b.allow_n(t0, 20));
        assert!(!b.allow_n(t0, 1));
        // 10 tokens per second: after 0.5 s, 5 tokens.
        let t1 = t0 + Duration::from_millis(500);
        assert!(!b.allow_n(t1, 6));
        assert!(b.allow_n(t1, 5));
        assert!(!b.allow_n(t1, 1));
        // Refill stops at the burst.
        let t2 = t1 + Duration::from_secs(100);
        assert!(!b.allow_n(t2, 21));
        assert!(b.allow_n(t2, 20));
    }

    #[test]
    fn refused_request_takes_nothing() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1.0, 10);
        assert!(b.allow_n(t0, 8));
        assert!(!b.allow_n(t0, 3));
        assert!(b.allow_n(t0, 2));
    }

    #[test]
    fn zero_rate_allows_only_the_initial_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(0.0, 5);
        assert!(b.allow_n(t0, 5));
        assert!(!b.allow_n(t0 + Duration::from_secs(3600), 1));
    }

    #[test]
    fn unlimited_rate_ignores_burst() {
        let mut b = TokenBucket::new(f64::MAX, 0);
        assert!(b.allow_n(Instant::now(), 1_000_000));
    }

    #[test]
    fn push_counts_samples_exemplars_and_metadata() {
        let rl = RateLimiter::new(RateKind::Ingestion);
        let l = limits(100.0, 10);
        let t0 = Instant::now();
        let push = IngestionCounts {
            samples: 4,
            histograms: 0,
            exemplars: 3,
            metadata: 3,
        };
        assert_eq!(rl.check("t", &l, 1, t0, push), Ok(()));
        let err = rl.check("t", &l, 1, t0, push).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ingestion rate limit (100) exceeded while adding 4 samples and 3 metadata"
        );
        // 0.1 s later the bucket holds 10 tokens again.
        assert_eq!(
            rl.check("t", &l, 1, t0 + Duration::from_millis(100), push),
            Ok(())
        );
    }

    #[test]
    fn tenants_have_separate_buckets() {
        let rl = RateLimiter::new(RateKind::Ingestion);
        let l = limits(1.0, 5);
        let t0 = Instant::now();
        assert!(rl.allow_n("a", &l, 1, t0, 5));
        assert!(!rl.allow_n("a", &l, 1, t0, 1));
        assert!(rl.allow_n("b", &l, 1, t0, 5));
    }

    #[test]
    fn global_strategy_divides_the_rate_not_the_burst() {
        let rl = RateLimiter::new(RateKind::Ingestion);
        let l = Limits {
            ingestion_rate_strategy: IngestionRateStrategy::Global,
            ..limits(30.0, 10)
        };
        assert_eq!(rl.limit(&l, 3), 10.0);
        assert_eq!(rl.limit(&l, 0), 30.0);
        let local = limits(30.0, 10);
        assert_eq!(rl.limit(&local, 3), 30.0);

        let t0 = Instant::now();
        assert!(rl.allow_n("t", &l, 3, t0, 10));
        // Refill at 10/s, not 30/s.
        assert!(!rl.allow_n("t", &l, 3, t0 + Duration::from_millis(500), 6));
        assert!(rl.allow_n("t", &l, 3, t0 + Duration::from_millis(500), 5));

        let err = rl
            .check(
                "t",
                &l,
                3,
                t0 + Duration::from_millis(500),
                IngestionCounts {
                    samples: 1,
                    ..IngestionCounts::default()
                },
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ingestion rate limit (10) exceeded while adding 1 samples and 0 metadata"
        );
        let thirds = Limits {
            ingestion_rate: 25000.0,
            ..l.clone()
        };
        let err = RateLimitError::Ingestion {
            limit: rl.limit(&thirds, 3),
            samples: 1,
            metadata: 2,
        };
        assert_eq!(
            err.to_string(),
            "ingestion rate limit (8333.333333333334) exceeded while adding 1 samples and 2 metadata"
        );
    }

    #[test]
    fn changed_limits_apply_to_the_next_push() {
        let rl = RateLimiter::new(RateKind::Ingestion);
        let t0 = Instant::now();
        assert!(rl.allow_n("t", &limits(1.0, 10), 1, t0, 10));
        // A reload raises the rate: the refill after 1 s follows the new rate.
        let raised = limits(100.0, 10);
        assert!(rl.allow_n("t", &raised, 1, t0, 0));
        assert!(rl.allow_n("t", &raised, 1, t0 + Duration::from_secs(1), 10));
        // A larger burst lets a larger push through once refilled.
        let bigger = limits(100.0, 1000);
        assert!(!rl.allow_n("t", &raised, 1, t0 + Duration::from_secs(100), 1000));
        assert!(rl.allow_n("t", &bigger, 1, t0 + Duration::from_secs(100), 0));
        assert!(rl.allow_n("t", &bigger, 1, t0 + Duration::from_secs(110), 1000));
        // Lowering the burst caps the tokens held.
        let small = limits(100.0, 3);
        assert!(!rl.allow_n("t", &small, 1, t0 + Duration::from_secs(200), 4));
        assert!(rl.allow_n("t", &small, 1, t0 + Duration::from_secs(200), 3));
    }

    #[test]
    fn native_histogram_limiter_counts_histograms_only() {
        let rl = RateLimiter::new(RateKind::NativeHistogram);
        let t0 = Instant::now();
        let push = IngestionCounts {
            samples: 100,
            histograms: 3,
            exemplars: 50,
            metadata: 0,
        };
        // Unlimited by default.
        assert_eq!(rl.check("t", &Limits::default(), 1, t0, push), Ok(()));
        let l = Limits {
            native_histogram_ingestion_rate: 1.0,
            native_histogram_ingestion_burst_size: 4,
            ..Limits::default()
        };
        assert_eq!(rl.check("u", &l, 1, t0, push), Ok(()));
        let err = rl.check("u", &l, 1, t0, push).unwrap_err();
        assert_eq!(
            err.to_string(),
            "native histogram ingestion rate limit (1) exceeded while adding 3 native histogram samples"
        );
    }

    #[test]
    fn large_limits_print_like_go() {
        let err = RateLimitError::Ingestion {
            limit: 1_000_000.0,
            samples: 5,
            metadata: 0,
        };
        assert!(
            err.to_string()
                .starts_with("ingestion rate limit (1e+06) exceeded")
        );
    }
}
