//! Element-wise and scalar functions: arithmetic (`abs`, `ln`, `round`, `clamp`, ...),
//! trigonometry, `scalar`, `vector`, `time`, `timestamp` and `absent`.

use super::FnArgs;
use super::labels::absent_labels;
use crate::promql::aggregate::{go_max, go_min};
use crate::promql::engine::EvalError;
use crate::promql::value::{Sample, no_labels};

type R = Result<(), EvalError>;

/// Applies `f` to every float sample of the first argument, dropping the metric name.
fn simple(a: &mut FnArgs<'_>, f: impl Fn(f64) -> f64) -> R {
    for el in &a.vals[0] {
        if el.h.is_none() {
            a.enh.out.push(Sample {
                metric: el.metric.clone(),
                t: 0,
                f: f(el.f),
                h: None,
                drop_name: true,
            });
        }
    }
    Ok(())
}

macro_rules! simple_fns {
    ($($name:ident => $f:expr),* $(,)?) => {
        $(
            #[doc = concat!("`", stringify!($name), "(v)`")]
            pub(super) fn $name(a: &mut FnArgs<'_>) -> R {
                simple(a, $f)
            }
        )*
    };
}

simple_fns! {
    abs => f64::abs,
    ceil => f64::ceil,
    floor => f64::floor,
    exp => f64::exp,
    sqrt => f64::sqrt,
    ln => f64::ln,
    log2 => f64::log2,
    log10 => f64::log10,
    sin => f64::sin,
    cos => f64::cos,
    tan => f64::tan,
    asin => f64::asin,
    acos => f64::acos,
    atan => f64::atan,
    sinh => f64::sinh,
    cosh => f64::cosh,
    tanh => f64::tanh,
    asinh => f64::asinh,
    acosh => f64::acosh,
    atanh => f64::atanh,
    rad => |v| v * std::f64::consts::PI / 180.0,
    deg => |v| v * 180.0 / std::f64::consts::PI,
    sgn => |v| if v < 0.0 { -1.0 } else if v > 0.0 { 1.0 } else { v },
}

fn clamp_to(a: &mut FnArgs<'_>, min: f64, max: f64) -> R {
    if max < min {
        return Ok(());
    }
    simple(a, |v| go_max(min, go_min(max, v)))
}

/// `clamp(v, min, max)`
pub(super) fn clamp(a: &mut FnArgs<'_>) -> R {
    let (min, max) = (a.scalar(1), a.scalar(2));
    clamp_to(a, min, max)
}

/// `clamp_max(v, max)`
pub(super) fn clamp_max(a: &mut FnArgs<'_>) -> R {
    let max = a.scalar(1);
    clamp_to(a, f64::NEG_INFINITY, max)
}

/// `clamp_min(v, min)`
pub(super) fn clamp_min(a: &mut FnArgs<'_>) -> R {
    let min = a.scalar(1);
    clamp_to(a, min, f64::INFINITY)
}

/// `round(v, to_nearest=1)`: ties round up.
pub(super) fn round(a: &mut FnArgs<'_>) -> R {
    let to_nearest = if a.args.len() >= 2 { a.scalar(1) } else { 1.0 };
    let inv = 1.0 / to_nearest;
    simple(a, |f| (f * inv + 0.5).floor() / inv)
}

/// `scalar(v)`: the value of a single-float vector, else NaN.
pub(super) fn scalar(a: &mut FnArgs<'_>) -> R {
    let mut found = None;
    for s in &a.vals[0] {
        if s.h.is_none() {
            if found.is_some() {
                found = Some(f64::NAN);
                break;
            }
            found = Some(s.f);
        }
    }
    a.enh
        .out
        .push(Sample::float(no_labels(), found.unwrap_or(f64::NAN)));
    Ok(())
}

/// `vector(s)`
pub(super) fn vector(a: &mut FnArgs<'_>) -> R {
    let v = a.scalar(0);
    a.enh.out.push(Sample::float(no_labels(), v));
    Ok(())
}

/// `time()`
pub(super) fn time(a: &mut FnArgs<'_>) -> R {
    let t = a.enh.ts as f64 / 1000.0;
    a.enh.out.push(Sample::float(no_labels(), t));
    Ok(())
}

/// `pi()`
pub(super) fn pi(a: &mut FnArgs<'_>) -> R {
    a.enh
        .out
        .push(Sample::float(no_labels(), std::f64::consts::PI));
    Ok(())
}

/// `max_of(a, b)`
pub(super) fn max_of(a: &mut FnArgs<'_>) -> R {
    let v = go_max(a.scalar(0), a.scalar(1));
    a.enh.out.push(Sample::float(no_labels(), v));
    Ok(())
}

/// `min_of(a, b)`
pub(super) fn min_of(a: &mut FnArgs<'_>) -> R {
    let v = go_min(a.scalar(0), a.scalar(1));
    a.enh.out.push(Sample::float(no_labels(), v));
    Ok(())
}

/// `timestamp(v)` over a computed vector: the evaluation time of each sample.
pub(super) fn timestamp(a: &mut FnArgs<'_>) -> R {
    for el in &a.vals[0] {
        a.enh.out.push(Sample {
            metric: el.metric.clone(),
            t: 0,
            f: el.t as f64 / 1000.0,
            h: None,
            drop_name: true,
        });
    }
    Ok(())
}

/// `start_timestamp(v)` over a computed vector: start timestamps are unknown there.
pub(super) fn start_timestamp(_: &mut FnArgs<'_>) -> R {
    Ok(())
}

/// `absent(v)`: 1 with the selector's equality labels when `v` is empty.
pub(super) fn absent(a: &mut FnArgs<'_>) -> R {
    if a.vals[0].is_empty() {
        a.enh
            .out
            .push(Sample::float(absent_labels(&a.args[0]), 1.0));
    }
    Ok(())
}
