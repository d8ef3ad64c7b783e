//! Float native histogram arithmetic for PromQL, as an extension of
//! [`FloatHistogram`]: adding and subtracting with schema and zero-bucket
//! reconciliation, Kahan-compensated sums, scaling, compaction, equality, counter
//! reset detection, bucket iteration with bounds, trimming and text forms.
//!
//! The histogram type itself lives in `cortex_tsdb::histogram`; the arithmetic lives
//! here, with its only user.

mod arith;
mod bounds;
pub mod buckets;
mod compare;
mod format;
mod kahan;
mod trim;

pub use arith::{Combined, IncompatibleSchemas};
pub use bounds::{get_bound, get_bound_exponential};
pub use buckets::{
    Bucket, all_buckets, all_buckets_reverse, negative_buckets, positive_buckets, zero_bucket,
};

use cortex_tsdb::histogram::FloatHistogram;

/// Neumaier's variant of Kahan summation: adds `inc` to `sum` with compensation `c`,
/// returning the new sum and compensation. An infinite sum resets the compensation.
#[inline]
pub fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// PromQL operations on float native histograms.
pub trait HistogramExt {
    /// `self += other`.
    fn add(&mut self, other: &FloatHistogram) -> Result<Combined, IncompatibleSchemas>;
    /// `self -= other` (the counter reset hint is kept; callers mark gauges).
    fn sub(&mut self, other: &FloatHistogram) -> Result<Combined, IncompatibleSchemas>;
    /// `self += other` with Kahan compensation in `comp`; returns the new compensation.
    fn kahan_add(
        &mut self,
        other: &FloatHistogram,
        comp: Option<FloatHistogram>,
    ) -> Result<(FloatHistogram, Combined), IncompatibleSchemas>;
    /// Scales all counts and the sum.
    fn mul(&mut self, factor: f64) -> &mut Self;
    /// Divides all counts and the sum.
    fn div(&mut self, d: f64) -> &mut Self;
    /// Drops empty buckets.
    fn compact(&mut self) -> &mut Self;
    /// A copy at the coarser `schema`.
    fn copy_to_schema(&self, schema: i32) -> FloatHistogram;
    /// Exact equality (ignoring the counter reset hint).
    fn equals(&self, other: &FloatHistogram) -> bool;
    /// True when `self` cannot follow `previous` without a counter reset.
    fn detect_reset(&self, previous: &FloatHistogram) -> bool;
    /// Size in bytes for sample accounting.
    fn size(&self) -> usize;
    /// True when any count, the sum or a bound is infinite.
    fn has_overflow(&self) -> bool;
    /// `self </ rhs` (`upper`) or `self >/ rhs`.
    fn trim_buckets(&mut self, rhs: f64, upper: bool) -> &mut Self;
    /// Prometheus' `String()` form.
    fn to_prom_string(&self) -> String;
    /// The `{{...}}` test-language form.
    fn test_expression(&self) -> String;
}

impl HistogramExt for FloatHistogram {
    fn add(&mut self, other: &FloatHistogram) -> Result<Combined, IncompatibleSchemas> {
        arith::combine(self, other, false)
    }

    fn sub(&mut self, other: &FloatHistogram) -> Result<Combined, IncompatibleSchemas> {
        arith::combine(self, other, true)
    }

    fn kahan_add(
        &mut self,
        other: &FloatHistogram,
        comp: Option<FloatHistogram>,
    ) -> Result<(FloatHistogram, Combined), IncompatibleSchemas> {
        kahan::kahan_add(self, other, comp)
    }

    fn mul(&mut self, factor: f64) -> &mut Self {
        arith::mul(self, factor);
        self
    }

    fn div(&mut self, d: f64) -> &mut Self {
        arith::div(self, d);
        self
    }

    fn compact(&mut self) -> &mut Self {
        arith::compact(self);
        self
    }

    fn copy_to_schema(&self, schema: i32) -> FloatHistogram {
        arith::copy_to_schema(self, schema)
    }

    fn equals(&self, other: &FloatHistogram) -> bool {
        compare::equals(self, other)
    }

    fn detect_reset(&self, previous: &FloatHistogram) -> bool {
        compare::detect_reset(self, previous)
    }

    fn size(&self) -> usize {
        compare::size(self)
    }

    fn has_overflow(&self) -> bool {
        compare::has_overflow(self)
    }

    fn trim_buckets(&mut self, rhs: f64, upper: bool) -> &mut Self {
        trim::trim_buckets(self, rhs, upper);
        self
    }

    fn to_prom_string(&self) -> String {
        format::histogram_string(self)
    }

    fn test_expression(&self) -> String {
        format::test_expression(self)
    }
}

#[cfg(test)]
mod tests;
