//! Streaming aggregation: when the input of `sum`, `avg`, `count`, `min`, `max`,
//! `group`, `stddev`, `stdvar` or `quantile` is an instant selector or a range
//! function over a range selector, its series are folded into per-group, per-step
//! accumulators as they are produced, so the input matrix never exists in memory.
//!
//! The groups are known before evaluation (from the selected series' labels), so
//! the path is taken only when all accumulators fit a fixed budget; otherwise the
//! input is materialised and folded in blocks of steps (`mod.rs`). Each (group,
//! step) accumulator sees its points in input order either way.

use std::collections::HashMap;
use std::sync::Arc;

use cortex_tsdb::labels::Labels;

use super::fold::{Group, finish, fold};
use super::{Params, grouping_labels};
use crate::promql::engine::{EvalError, Evaluator, err};
use crate::promql::parser::{AggregateExpr, AggregateOp, Call, Expr, VectorSelector};
use crate::promql::value::{FPoint, HPoint, Matrix, Series};

/// Most memory the per-group, per-step accumulators of a streamed aggregation use.
const STREAM_BUDGET: usize = 32 << 20;

/// Where a streamable input's series come from.
enum Source<'e> {
    /// An instant vector selector.
    Selector(&'e VectorSelector),
    /// A range function (the call and the index of its range-selector argument).
    RangeCall(&'e Call, usize, &'e VectorSelector),
}

fn source(e: &Expr) -> Option<Source<'_>> {
    match e {
        Expr::Paren(p) => source(&p.expr),
        Expr::VectorSelector(vs) if !vs.smoothed => Some(Source::Selector(vs)),
        Expr::Call(c) => {
            if matches!(
                c.func.name,
                "absent_over_time" | "timestamp" | "start_timestamp"
            ) {
                return None;
            }
            // The same argument the evaluator treats as the range argument.
            let idx = c
                .args
                .iter()
                .position(|a| matches!(a, Expr::MatrixSelector(_) | Expr::Subquery(_)))?;
            match &c.args[idx] {
                Expr::MatrixSelector(ms) => Some(Source::RangeCall(c, idx, &ms.vs)),
                _ => None,
            }
        }
        _ => None,
    }
}

impl Evaluator<'_> {
    /// Aggregates `a` by streaming its input, or `None` when the input or the
    /// operator does not allow it or the accumulators would not fit the budget.
    pub(super) fn stream_aggregate(
        &mut self,
        a: &AggregateExpr,
        grouping: &[String],
        params: &mut Params,
    ) -> Result<Option<Matrix>, EvalError> {
        use AggregateOp as A;
        if !matches!(
            a.op,
            A::Sum
                | A::Avg
                | A::Count
                | A::Min
                | A::Max
                | A::Group
                | A::Stddev
                | A::Stdvar
                | A::Quantile
        ) || self.end < self.start
        {
            return Ok(None);
        }
        let Some(src) = source(&a.expr) else {
            return Ok(None);
        };
        let vs = match src {
            Source::Selector(vs) | Source::RangeCall(_, _, vs) => vs,
        };
        self.ctx.check_done()?;
        let series = self.ctx.series_for(vs)?;
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut keys: Vec<Labels> = Vec::new();
        for s in series.iter() {
            let key = grouping_labels(s.labels(), grouping, a.without);
            if !index.contains_key(&key) {
                index.insert(key.clone(), keys.len());
                keys.push(key);
            }
        }
        let steps = self.num_steps();
        let cells = keys.len().saturating_mul(steps);
        if cells.saturating_mul(std::mem::size_of::<Group>()) > STREAM_BUDGET {
            return Ok(None);
        }
        let ctx = self.ctx;
        let (start, interval) = (self.start, self.interval);
        let (op, without) = (a.op, a.without);
        let epos = a.expr.pos();
        let mut groups = vec![Group::default(); cells];
        let mut order: Vec<usize> = Vec::new();
        let mut used = vec![false; keys.len()];
        let mut sink = |s: Series| -> Result<(), EvalError> {
            let key = grouping_labels(&s.metric, grouping, without);
            let Some(&gi) = index.get(&key) else {
                return err("aggregated series outside the selection");
            };
            if !used[gi] {
                used[gi] = true;
                order.push(gi);
            }
            let row = &mut groups[gi * steps..(gi + 1) * steps];
            let step_of = |t: i64| usize::try_from((t - start) / interval).ok();
            for p in &s.floats {
                let Some(g) = step_of(p.t).and_then(|k| row.get_mut(k)) else {
                    return err("point outside the query range");
                };
                fold(ctx, op, g, p.f, None, &s, epos)?;
            }
            for p in &s.histograms {
                let Some(g) = step_of(p.t).and_then(|k| row.get_mut(k)) else {
                    return err("point outside the query range");
                };
                fold(ctx, op, g, 0.0, Some(&p.h), &s, epos)?;
            }
            Ok(())
        };
        match src {
            Source::Selector(vs) => {
                self.series_each(&series, vs.offset_ms, vs.timestamp, false, false, &mut sink)?
            }
            Source::RangeCall(c, idx, _) => self.range_call_each(c, idx, false, &mut sink)?,
        }
        self.annotate_quantile_params(a, params);
        let mut out: Vec<Series> = order
            .iter()
            .map(|&gi| Series::new(keys[gi].clone()))
            .collect();
        let temp = self.current_samples;
        for k in 0..steps {
            let ts = start + k as i64 * interval;
            let q = params.next();
            self.current_samples = temp;
            for (series, &gi) in out.iter_mut().zip(&order) {
                let g = &mut groups[gi * steps + k];
                if !g.seen {
                    continue;
                }
                let Some((f, h)) = finish(ctx, op, g, q, epos) else {
                    continue;
                };
                match h {
                    Some(h) => series.histograms.push(HPoint {
                        t: ts,
                        h: Arc::new(h),
                    }),
                    None => {
                        if series.floats.is_empty() {
                            series.floats.reserve(steps - k);
                        }
                        series.floats.push(FPoint { t: ts, f });
                    }
                }
                series.drop_name = g.drop_name;
                self.current_samples += 1;
            }
            self.check_samples()?;
        }
        out.retain(|s| !s.is_empty());
        Ok(Some(out))
    }
}
