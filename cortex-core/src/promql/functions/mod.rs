//! Implementations of PromQL's functions, looked up by name.
//!
//! Every function sees the evaluated arguments of one step: a vector per instant or
//! scalar argument (`vals`), and for range-vector functions the window of one series
//! (`range`). It appends its result to `enh.out` and its annotations to
//! `enh.annos`. Functions working on whole series (`label_replace`, `label_join`)
//! are evaluated by the engine.

pub mod histogram;
pub mod labels;
mod math;
mod over_time;
pub mod rate;
mod sort;
pub mod time;

use cortex_tsdb::histogram::FloatHistogram;
use cortex_tsdb::labels::Labels;

use super::engine::{EvalError, NodeHelper};
use super::parser::{Expr, PosRange};
use super::value::{FPoint, HPoint, Vector};

/// The range-vector argument of a function at one step: one series' window.
pub(crate) struct RangeArg<'a> {
    /// The series' labels.
    pub metric: &'a Labels,
    /// Float points in the window.
    pub floats: &'a [FPoint],
    /// Histogram points in the window.
    pub histograms: &'a [HPoint],
    /// Start timestamps of the float points, when tracked.
    pub float_sts: Option<&'a [i64]>,
    /// Start timestamps of the histogram points, when tracked.
    pub histogram_sts: Option<&'a [i64]>,
    /// The selector's range (ms).
    pub range_ms: i64,
    /// The selector's offset (ms).
    pub offset_ms: i64,
    /// The `anchored` modifier.
    pub anchored: bool,
    /// The `smoothed` modifier.
    pub smoothed: bool,
    /// Position of the range argument in the query.
    pub pos: PosRange,
}

/// The arguments of one function evaluation.
pub(crate) struct FnArgs<'a> {
    /// Evaluated instant-vector and scalar arguments (for range functions: the
    /// arguments other than the range, in order).
    pub vals: &'a [Vector],
    /// The range-vector argument, for range functions.
    pub range: Option<&'a RangeArg<'a>>,
    /// The argument expressions (for string arguments and positions).
    pub args: &'a [Expr],
    /// Step state and output.
    pub enh: &'a mut NodeHelper,
}

impl FnArgs<'_> {
    /// Emits a range function's float result for the current series and step.
    pub(crate) fn emit_float(&mut self, f: f64) {
        self.enh.range_out = Some(crate::querier::SampleValue::Float(f));
    }

    /// Emits a range function's histogram result for the current series and step.
    pub(crate) fn emit_histogram(&mut self, h: std::sync::Arc<FloatHistogram>) {
        self.enh.range_out = Some(crate::querier::SampleValue::Histogram(h));
    }

    /// The scalar value of `vals[i]` (NaN when absent).
    pub(crate) fn scalar(&self, i: usize) -> f64 {
        self.vals
            .get(i)
            .and_then(|v| v.first())
            .map_or(f64::NAN, |s| s.f)
    }
}

/// A function implementation.
pub(crate) type FunctionImpl = fn(&mut FnArgs<'_>) -> Result<(), EvalError>;

/// The implementation of the function `name`.
pub(crate) fn function_impl(name: &str) -> Option<FunctionImpl> {
    use histogram as h;
    Some(match name {
        "abs" => math::abs,
        "absent" => math::absent,
        "acos" => math::acos,
        "acosh" => math::acosh,
        "asin" => math::asin,
        "asinh" => math::asinh,
        "atan" => math::atan,
        "atanh" => math::atanh,
        "ceil" => math::ceil,
        "clamp" => math::clamp,
        "clamp_max" => math::clamp_max,
        "clamp_min" => math::clamp_min,
        "cos" => math::cos,
        "cosh" => math::cosh,
        "deg" => math::deg,
        "exp" => math::exp,
        "floor" => math::floor,
        "ln" => math::ln,
        "log10" => math::log10,
        "log2" => math::log2,
        "max_of" => math::max_of,
        "min_of" => math::min_of,
        "pi" => math::pi,
        "rad" => math::rad,
        "round" => math::round,
        "scalar" => math::scalar,
        "sgn" => math::sgn,
        "sin" => math::sin,
        "sinh" => math::sinh,
        "sqrt" => math::sqrt,
        "tan" => math::tan,
        "tanh" => math::tanh,
        "time" => math::time,
        "timestamp" => math::timestamp,
        "start_timestamp" => math::start_timestamp,
        "vector" => math::vector,
        "days_in_month" => time::days_in_month,
        "day_of_month" => time::day_of_month,
        "day_of_week" => time::day_of_week,
        "day_of_year" => time::day_of_year,
        "hour" => time::hour,
        "minute" => time::minute,
        "month" => time::month,
        "year" => time::year,
        "sort" => sort::sort,
        "sort_desc" => sort::sort_desc,
        "sort_by_label" => sort::sort_by_label,
        "sort_by_label_desc" => sort::sort_by_label_desc,
        "rate" => rate::rate,
        "increase" => rate::increase,
        "delta" => rate::delta,
        "irate" => rate::irate,
        "idelta" => rate::idelta,
        "avg_over_time" => over_time::avg_over_time,
        "count_over_time" => over_time::count_over_time,
        "sum_over_time" => over_time::sum_over_time,
        "min_over_time" => over_time::min_over_time,
        "max_over_time" => over_time::max_over_time,
        "last_over_time" => over_time::last_over_time,
        "first_over_time" => over_time::first_over_time,
        "present_over_time" => over_time::present_over_time,
        "absent_over_time" => over_time::absent_over_time,
        "quantile_over_time" => over_time::quantile_over_time,
        "stddev_over_time" => over_time::stddev_over_time,
        "stdvar_over_time" => over_time::stdvar_over_time,
        "mad_over_time" => over_time::mad_over_time,
        "ts_of_first_over_time" => over_time::ts_of_first_over_time,
        "ts_of_last_over_time" => over_time::ts_of_last_over_time,
        "ts_of_max_over_time" => over_time::ts_of_max_over_time,
        "ts_of_min_over_time" => over_time::ts_of_min_over_time,
        "changes" => over_time::changes,
        "resets" => over_time::resets,
        "deriv" => over_time::deriv,
        "predict_linear" => over_time::predict_linear,
        "double_exponential_smoothing" => over_time::double_exponential_smoothing,
        "histogram_avg" => h::histogram_avg,
        "histogram_count" => h::histogram_count,
        "histogram_sum" => h::histogram_sum,
        "histogram_stddev" => h::histogram_stddev,
        "histogram_stdvar" => h::histogram_stdvar,
        "histogram_fraction" => h::histogram_fraction,
        "histogram_quantile" => h::histogram_quantile,
        "histogram_quantiles" => h::histogram_quantiles,
        _ => return None,
    })
}
