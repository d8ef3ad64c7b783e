//! Aggregations that select series rather than combine them: `topk`, `bottomk`,
//! `limitk`, `limit_ratio`; and `count_values`, which groups by value.

use std::collections::HashMap;
use std::sync::Arc;

use cortex_tsdb::float_format::go_f;
use cortex_tsdb::histogram::FloatHistogram;
use cortex_tsdb::labels::Labels;

use super::{Params, grouping_labels, next_value};
use crate::promql::annotations::kinds;
use crate::promql::engine::{EvalError, Evaluator, err};
use crate::promql::histogram::HistogramExt;
use crate::promql::parser::{AggregateExpr, AggregateOp};
use crate::promql::value::{FPoint, HPoint, Matrix, Sample, Series};

/// A selected sample: labels, value, and whether the name is to be dropped.
#[derive(Clone)]
struct Pick {
    metric: Labels,
    f: f64,
    h: Option<Arc<FloatHistogram>>,
    drop_name: bool,
}

/// `a < b` for topk's min-heap (NaN sorts lowest).
fn less_topk(a: &Pick, b: &Pick) -> bool {
    a.f.is_nan() || a.f < b.f
}

/// `a < b` for bottomk's max-heap (NaN sorts highest).
fn less_bottomk(a: &Pick, b: &Pick) -> bool {
    a.f.is_nan() || a.f > b.f
}

/// A binary heap with Go's `container/heap` algorithm, so ties resolve the same way.
fn heap_up(h: &mut [Pick], mut j: usize, less: fn(&Pick, &Pick) -> bool) {
    while j > 0 {
        let i = (j - 1) / 2;
        if !less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

fn heap_down(h: &mut [Pick], i0: usize, less: fn(&Pick, &Pick) -> bool) -> bool {
    let n = h.len();
    let mut i = i0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        if j1 + 1 < n && less(&h[j1 + 1], &h[j1]) {
            j = j1 + 1;
        }
        if !less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
    i > i0
}

fn heap_push(h: &mut Vec<Pick>, p: Pick, less: fn(&Pick, &Pick) -> bool) {
    h.push(p);
    let n = h.len() - 1;
    heap_up(h, n, less);
}

fn heap_fix0(h: &mut [Pick], less: fn(&Pick, &Pick) -> bool) {
    if !heap_down(h, 0, less) {
        heap_up(h, 0, less);
    }
}

/// Whether `limit_ratio(r, ...)` keeps a series, from the hash of its labels.
fn ratio_keeps(r: f64, metric: &Labels) -> bool {
    let offset = metric.stable_hash() as f64 / u64::MAX as f64;
    (r >= 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r)
}

impl Evaluator<'_> {
    /// `topk`, `bottomk`, `limitk`, `limit_ratio`.
    pub(crate) fn aggregate_k(
        &mut self,
        a: &AggregateExpr,
        grouping: &[String],
        input: Matrix,
        mut params: Params,
    ) -> Result<Matrix, EvalError> {
        use AggregateOp as A;
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut series_group = Vec::with_capacity(input.len());
        for s in &input {
            let key = grouping_labels(&s.metric, grouping, a.without);
            let n = index.len();
            series_group.push(*index.entry(key).or_insert(n));
        }
        let ngroups = index.len();
        match a.op {
            A::LimitRatio => {
                if params.max == 0.0 && params.min == 0.0 {
                    return Ok(Vec::new());
                }
                if params.any_nan {
                    return err("Ratio value is NaN");
                }
                let pos = a.param.as_ref().map(|p| p.pos()).unwrap_or_default();
                if params.max > 1.0 {
                    self.ctx
                        .annotate(kinds::invalid_ratio(params.max, 1.0, pos));
                }
                if params.min < -1.0 {
                    self.ctx
                        .annotate(kinds::invalid_ratio(params.min, -1.0, pos));
                }
            }
            _ => {
                if params.max < 1.0 {
                    return Ok(Vec::new());
                }
                if params.any_nan {
                    return err("Parameter value is NaN");
                }
                if params.min <= i64::MIN as f64 {
                    return err(format!(
                        "Scalar value {} underflows int64",
                        go_g_like(params.min)
                    ));
                }
                if params.max >= i64::MAX as f64 {
                    return err(format!(
                        "Scalar value {} overflows int64",
                        go_g_like(params.max)
                    ));
                }
            }
        }
        let instant = self.start == self.end;
        let mut pos = vec![(0usize, 0usize); input.len()];
        let mut out: Matrix = Vec::new();
        let mut out_index: HashMap<Labels, usize> = HashMap::new();
        let mut heaps: Vec<Option<Vec<Pick>>> = vec![None; ngroups];
        let mut ts = self.start;
        while ts <= self.end {
            let param = params.next();
            self.ctx.check_done()?;
            for h in heaps.iter_mut() {
                *h = None;
            }
            let (k, r) = match a.op {
                A::LimitRatio => (0i64, param.clamp(-1.0, 1.0)),
                _ => ((param as i64).min(input.len() as i64), 0.0),
            };
            let skip_step = match a.op {
                A::LimitRatio => param == 0.0,
                _ => k < 1,
            };
            for (si, s) in input.iter().enumerate() {
                let Some((f, h)) = next_value(s, &mut pos[si], ts) else {
                    continue;
                };
                if skip_step {
                    continue;
                }
                let p = Pick {
                    metric: s.metric.clone(),
                    f,
                    h: h.cloned(),
                    drop_name: s.drop_name,
                };
                let gi = series_group[si];
                let heap = &mut heaps[gi];
                match a.op {
                    A::LimitRatio => {
                        let hp = heap.get_or_insert_with(Vec::new);
                        if ratio_keeps(r, &p.metric) {
                            heap_push(hp, p, less_topk);
                        }
                    }
                    A::Limitk => {
                        let hp = heap.get_or_insert_with(Vec::new);
                        if (hp.len() as i64) < k {
                            heap_push(hp, p, less_topk);
                        }
                    }
                    A::Topk | A::Bottomk => {
                        let less = if a.op == A::Topk {
                            less_topk
                        } else {
                            less_bottomk
                        };
                        let first = heap.is_none();
                        let hp = heap.get_or_insert_with(Vec::new);
                        if p.h.is_some() {
                            self.ctx.annotate(kinds::histogram_ignored_in_aggregation(
                                a.op.as_str(),
                                a.pos,
                            ));
                            if first {
                                *heap = None;
                            }
                            continue;
                        }
                        if (hp.len() as i64) < k {
                            heap_push(hp, p, less);
                        } else {
                            let nan_fix = hp[0].f.is_nan() && !p.f.is_nan();
                            let better = if a.op == A::Topk {
                                hp[0].f < p.f
                            } else {
                                hp[0].f > p.f
                            };
                            if better || nan_fix {
                                hp[0] = p;
                                if k > 1 {
                                    heap_fix0(hp, less);
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            for heap in heaps.iter_mut() {
                let Some(hp) = heap.take() else { continue };
                let mut picks = hp;
                match a.op {
                    A::Topk => picks.sort_by(|x, y| desc_nan_last(x.f, y.f)),
                    A::Bottomk => picks.sort_by(|x, y| asc_nan_last(x.f, y.f)),
                    _ => {}
                }
                for p in picks {
                    let i = match out_index.get(&p.metric) {
                        Some(&i) if !instant => i,
                        _ => {
                            out_index.insert(p.metric.clone(), out.len());
                            let mut s = Series::new(p.metric.clone());
                            s.drop_name = p.drop_name;
                            out.push(s);
                            out.len() - 1
                        }
                    };
                    match p.h {
                        Some(h) => {
                            self.current_samples += (h.size() + 8) / 16;
                            out[i].histograms.push(HPoint { t: ts, h });
                        }
                        None => {
                            self.current_samples += 1;
                            out[i].floats.push(FPoint { t: ts, f: p.f });
                        }
                    }
                }
            }
            self.check_samples()?;
            ts += self.interval;
        }
        Ok(out)
    }

    /// `count_values("label", v)`: per group, how many series have each value.
    pub(crate) fn count_values(
        &mut self,
        a: &AggregateExpr,
        grouping: &[String],
        label: &str,
    ) -> Result<Matrix, EvalError> {
        let without = a.without;
        self.range_eval(None, &[&*a.expr], &mut |v, _, enh| {
            let mut groups: Vec<(Labels, usize)> = Vec::new();
            let mut index: HashMap<Labels, usize> = HashMap::new();
            for s in &v[0] {
                let value = match &s.h {
                    None => go_f(s.f),
                    Some(h) => h.to_prom_string(),
                };
                let mut b = s.metric.to_builder();
                b.set(label, &value);
                let metric = b.build().map_err(|e| EvalError::Msg(e.to_string()))?;
                let key = grouping_labels(&metric, grouping, without);
                match index.get(&key) {
                    Some(&i) => groups[i].1 += 1,
                    None => {
                        index.insert(key.clone(), groups.len());
                        groups.push((key, 1));
                    }
                }
            }
            for (l, c) in groups {
                enh.out.push(Sample::float(l, c as f64));
            }
            Ok(())
        })
    }
}

fn desc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal),
    }
}

fn asc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// Go's `%v` of a float in error messages.
fn go_g_like(v: f64) -> String {
    cortex_tsdb::float_format::go_g(v)
}
